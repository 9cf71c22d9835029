"""Runs other programs with a hard timeout, closed stdin, no window and a chosen environment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from checks.core.check import Cancelled
from checks.lib.system import CommandResult

_SLICE_S = 0.1
# After a kill, how long to wait for the pipes to close.
_REAP_S = 1.0
# Windows: console tools must not flash a console window (the GUI build has no console).
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
# The most output kept from one command: version banners and error lines are far shorter, and
# a misbehaving program must not fill our memory.
_MAX_OUTPUT = 256 * 1024


def which(name: str, environ: Mapping[str, str]) -> str | None:
    """`name` looked up on the PATH of `environ` (not necessarily ours)."""
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def english(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` in the C locale, so that the parsers read English messages."""
    env = {k: v for k, v in environ.items() if k not in ("LANGUAGE", "LC_MESSAGES")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _decode(data: bytes) -> str:
    data = data[:_MAX_OUTPUT]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # The whole process group: git leaves git-remote-https behind, java its compiler threads.
    with contextlib.suppress(OSError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        proc.communicate(timeout=_REAP_S)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cancel: threading.Event,
    environ: Mapping[str, str],
    cwd: Path | None = None,
) -> CommandResult:
    """Run `argv` (never through a shell) with `environ` exactly; give up after `timeout`.

    Never raises for an environment problem (a missing program is an `error`); raises
    `Cancelled` when `cancel` is set, after killing the process and its children.
    """
    if not argv:
        return CommandResult(None, "", "", "nothing to run")
    executable = argv[0] if os.path.isabs(argv[0]) else which(argv[0], environ)
    if executable is None or not os.path.exists(executable):
        return CommandResult(None, "", "", f"{argv[0]} not found")
    if cancel.is_set():
        raise Cancelled
    try:
        proc = subprocess.Popen(
            [executable, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ),
            cwd=cwd,
            creationflags=_NO_WINDOW,
            # Its own process group, so that a timeout ends its children too.
            start_new_session=sys.platform != "win32",
        )
    except (OSError, ValueError) as exc:
        return CommandResult(None, "", "", f"{argv[0]}: {type(exc).__name__}: {exc}")
    end = time.monotonic() + timeout
    while True:
        try:
            out, err = proc.communicate(timeout=max(0.01, min(_SLICE_S, end - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            if cancel.is_set() or time.monotonic() >= end:
                _kill(proc)
                if cancel.is_set():
                    raise Cancelled from None
                name = os.path.basename(argv[0])
                return CommandResult(None, "", "", f"{name}: no answer within {timeout:g} s")
        except OSError as exc:  # a faked clock can break the wait itself
            _kill(proc)
            return CommandResult(None, "", "", f"{argv[0]}: {exc}")
    return CommandResult(proc.returncode, _decode(out), _decode(err))
