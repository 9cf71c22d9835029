"""Smoke test of a built program: its version is the package's and its local check runs and
writes a report that matches docs/report-schema.json.

Usage: python packaging/smoke_frozen.py PROGRAM [ARG ...]
PROGRAM (with any ARGs) is run as the `handshake-doctor` command, e.g.
dist/handshake-doctor/handshake-doctor (Windows adds .exe by itself), or `python -m gui` for the
app run from source. Prints what it checked; exits 0 when all of it held, 1 otherwise. Needs
jsonschema (the dev extra).
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "report-schema.json"
LOCAL_CHECK = ("check", "--only", "local", "--offline", "--json")
# `check`'s exit codes when it ran to the end (checks/cli.py): 0 all passed, 1 warnings only,
# 2 a problem found. A CI machine may well have a warning or a problem; the smoke asks only
# that the program ran. 3 (usage), 4 (the program failed) and 130 (cancelled) mean it did not.
RAN = {0: "everything passed", 1: "warnings only", 2: "a problem found"}
# The `os` a report names for each sys.platform.
REPORT_OS = {"win32": "windows", "darwin": "macos"}
# A user's program runs without these: with them, Python's output would be UTF-8 whatever the
# console or pipe uses, and the smoke would not see what a user gets.
PYTHON_OUTPUT_VARIABLES = ("PYTHONUTF8", "PYTHONIOENCODING")
VERSION_TIMEOUT_S = 120
# A first start of a fresh build can be slow (macOS scans an unsigned program first).
CHECK_TIMEOUT_S = 300


class SmokeFailure(Exception):
    """What did not hold, in one sentence."""


def package_version() -> str:
    """The version in checks/core/version.py, read without importing the package."""
    return str(runpy.run_path(str(ROOT / "checks" / "core" / "version.py"))["__version__"])


def resolve(command: Sequence[str]) -> list[str]:
    """The command with its program made absolute (it runs in a folder of its own)."""
    names = [command[0]]
    if sys.platform == "win32" and not command[0].lower().endswith(".exe"):
        # Python 3.11's shutil.which adds no extension to a name with a folder in it.
        names.append(command[0] + ".exe")
    for name in names:
        program = shutil.which(name)
        if program is not None:
            # Not resolved: a venv's python is a symlink that must keep its name.
            return [os.path.abspath(program), *command[1:]]
    raise SmokeFailure(f"{command[0]}: no such program")


def run(command: Sequence[str], args: Sequence[str], timeout: float) -> tuple[int, bytes, str]:
    """Runs the command with `args` in an empty folder -> (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in PYTHON_OUTPUT_VARIABLES}
    with tempfile.TemporaryDirectory(prefix="hd-smoke-") as folder:
        try:
            done = subprocess.run(
                [*command, *args],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as timed_out:
            raise SmokeFailure(f"{' '.join(args)}: no answer within {timeout:.0f} s") from timed_out
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-15:])


def check_version(command: Sequence[str], expected: str) -> str:
    code, out, err = run(command, ["--version"], VERSION_TIMEOUT_S)
    said = out.decode("utf-8", "replace").strip()
    if code != 0:
        raise SmokeFailure(f"--version exited {code}:\n{_tail(err)}")
    if said != f"handshake-doctor {expected}":
        raise SmokeFailure(f"--version said {said!r}, expected 'handshake-doctor {expected}'")
    return said


def check_local(command: Sequence[str], expected: str) -> str:
    import jsonschema

    code, out, err = run(command, LOCAL_CHECK, CHECK_TIMEOUT_S)
    what = " ".join(LOCAL_CHECK)
    if code not in RAN:
        raise SmokeFailure(f"{what} exited {code} (0-2 means it ran):\n{_tail(err)}")
    try:
        # JSON is UTF-8 (RFC 8259), whatever code page the console uses.
        report: Any = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SmokeFailure(f"{what} did not print a UTF-8 JSON report: {error}") from error
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if problems:
        shown = [f"  at /{'/'.join(map(str, p.absolute_path))}: {p.message}" for p in problems[:5]]
        raise SmokeFailure(
            f"the report does not match {SCHEMA.relative_to(ROOT).as_posix()} "
            f"({len(problems)} problems):\n" + "\n".join(shown)
        )
    # An error inside one check hides behind exit code 2 when another check found a problem.
    broken = [c["id"] for c in report["checks"] if c["status"] == "error"]
    if broken:
        raise SmokeFailure(f"checks that failed to run: {', '.join(broken)}")
    if report["tool"]["version"] != expected:
        raise SmokeFailure(f"the report names version {report['tool']['version']}")
    this_os = REPORT_OS.get(sys.platform, "linux")
    if report["os"] != this_os:
        raise SmokeFailure(f"the report says it ran on {report['os']}, not {this_os}")
    statuses = ", ".join(f"{c['id']} {c['status']}" for c in report["checks"])
    return (
        f"exit {code} ({RAN[code]}), verdict {report['verdict']['status']}, "
        f"os {report['os']}, {len(report['checks'])} checks ({statuses}); "
        f"the report matches {SCHEMA.relative_to(ROOT).as_posix()}"
    )


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(__doc__ or "")
        return 0 if argv else 1
    expected = package_version()
    try:
        command = resolve(argv)
        shown = " ".join(command)
        print(f"smoke test of {shown} (package version {expected})", flush=True)
        print(f"ok: --version: {check_version(command, expected)}", flush=True)
        print(f"ok: {' '.join(LOCAL_CHECK)}: {check_local(command, expected)}", flush=True)
    except SmokeFailure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
