"""Read-only access to this computer: local commands with hard timeouts, and registry values."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows console tools write in the OEM code page ("oem" exists only there).
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode("oem")
        return data.decode("latin-1")


def run_command(argv: Sequence[str], *, timeout: float, cancel: threading.Event) -> CommandResult:
    """Run `argv` (never through a shell, in the C locale so that parsers see English), give up
    after `timeout` seconds, and stop on cancel.

    Never raises for an environment problem (a missing tool is an `error`); raises
    `Cancelled` when `cancel` is set, after killing the process.
    """
    executable = shutil.which(argv[0]) if argv else None
    if executable is None:
        return CommandResult(None, "", "", f"{argv[0] if argv else '?'} not found")
    try:
        proc = subprocess.Popen(
            [executable, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            creationflags=_NO_WINDOW,
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
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.communicate(timeout=_REAP_S)
                if cancel.is_set():
                    raise Cancelled from None
                return CommandResult(None, "", "", f"{argv[0]}: no answer within {timeout:g} s")
        except OSError as exc:  # a faked clock can break the wait itself
            with contextlib.suppress(OSError):
                proc.kill()
            return CommandResult(None, "", "", f"{argv[0]}: {exc}")
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
