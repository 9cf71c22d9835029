"""Read-only access to this computer: local commands with hard timeouts, and registry values."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from checks.core.check import Cancelled

_SLICE_S = 0.1
# After a kill, how long to wait for the pipes to close (a grandchild may still hold them).
_REAP_S = 1.0
# Windows: run console tools without flashing a console window (the GUI build has no console).
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)


@dataclass(frozen=True)
class CommandResult:
    """What one external command did: exit code (None when it never ended) and its output."""

    returncode: int | None
    stdout: str
    stderr: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    @property
    def problem(self) -> str | None:
        """One line saying why the command did not succeed, or None when it did."""
        if self.ok:
            return None
        if self.error is not None:
            return self.error
        lines = (self.stderr or self.stdout).strip().splitlines()
        return lines[0] if lines else f"exit status {self.returncode}"


Runner = Callable[[Sequence[str]], CommandResult]


# The most output kept from one command: version banners and error lines are far shorter, and
# a misbehaving program must not fill our memory.
_MAX_OUTPUT = 256 * 1024


def _decode(data: bytes) -> str:
    data = data[:_MAX_OUTPUT]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows console tools write in the OEM code page ("oem" exists only there).
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode("oem")
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


def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    cancel: threading.Event,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> CommandResult:
    """Run `argv` (never through a shell) and give up after `timeout` seconds; stop on cancel.

    It runs with `environ` exactly when given, else with ours in the C locale so that parsers
    see English. Never raises for an environment problem (a missing tool is an `error`);
    raises `Cancelled` when `cancel` is set, after killing the process and its children.
    """
    env = dict(environ) if environ is not None else {**os.environ, "LC_ALL": "C", "LANG": "C"}
    name = argv[0] if argv else "?"
    executable = name if os.path.isabs(name) else shutil.which(name, path=env.get("PATH"))
    if not argv or executable is None or not os.path.exists(executable):
        return CommandResult(None, "", "", f"{name} not found")
    if cancel.is_set():
        raise Cancelled
    try:
        proc = subprocess.Popen(
            [executable, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            creationflags=_NO_WINDOW,
            # Its own process group, so that a timeout ends its children too.
            start_new_session=sys.platform != "win32",
        )
    except (OSError, ValueError) as exc:
        return CommandResult(None, "", "", f"{name}: {type(exc).__name__}: {exc}")
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
                base = os.path.basename(name)
                return CommandResult(None, "", "", f"{base}: no answer within {timeout:g} s")
        except OSError as exc:  # a faked clock can break the wait itself
            _kill(proc)
            return CommandResult(None, "", "", f"{name}: {exc}")
    return CommandResult(proc.returncode, _decode(out), _decode(err))


def registry_values(path: str, *, hive: Literal["HKLM", "HKCU"] = "HKLM") -> dict[str, object]:
    """The values of `<hive>\\<path>` (empty off Windows or when unreadable); DWORDs are ints
    and strings are str, whatever the language of Windows."""
    if sys.platform != "win32":
        return {}
    import winreg

    root = winreg.HKEY_CURRENT_USER if hive == "HKCU" else winreg.HKEY_LOCAL_MACHINE
    values: dict[str, object] = {}
    with contextlib.suppress(OSError), winreg.OpenKey(root, path) as key:
        index = 0
        while True:
            try:
                name, value, _ = winreg.EnumValue(key, index)
            except OSError:
                break
            values[name] = value
            index += 1
    return values


@dataclass(frozen=True)
class RegKey:
    """A registry key as `reg query` shows it: its values and the paths of its subkeys."""

    values: Mapping[str, int | str]
    subkeys: tuple[str, ...] = ()


_REG_VALUE = re.compile(r"^\s{2,}(?P<name>.*?)\s{2,}(?P<type>REG_[A-Z_]+)(?:\s{2,}(?P<data>.*))?$")


def parse_reg_query(text: str) -> RegKey:
    """Parse `reg query KEY` output: DWORDs become ints, strings stay, binaries stay hex."""
    values: dict[str, int | str] = {}
    subkeys: list[str] = []
    seen_key = False
    for line in text.splitlines():
        if line.startswith("HKEY_"):
            if seen_key:
                subkeys.append(line.strip())
            seen_key = True
            continue
        match = _REG_VALUE.match(line.rstrip())
        if match is None:
            continue
        name = match["name"].strip()
        name = "" if name == "(Default)" else name
        kind, data = match["type"], (match["data"] or "").strip()
        if kind in ("REG_DWORD", "REG_QWORD"):
            try:
                values[name] = int(data, 16) if data.lower().startswith("0x") else int(data)
            except ValueError:
                values[name] = data
        else:
            values[name] = data
    return RegKey(values, tuple(subkeys))


def reg_query(key: str, run: Runner) -> RegKey | None:
    """The key's values, or None when it does not exist or cannot be read."""
    done = run(["reg", "query", key])
    return parse_reg_query(done.stdout) if done.ok else None
