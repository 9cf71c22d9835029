"""packaging/smoke_frozen.py, the CI's smoke test of a built program, passes the app run from
source and fails each way a broken build could answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks.core.version import __version__

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "packaging" / "smoke_frozen.py"

# A stand-in for a broken build: `python STAND_IN MODE ARGS...` answers like the app would,
# but wrong in the way MODE names.
STAND_IN = """
import json, subprocess, sys
from checks.core.version import __version__
mode, args = sys.argv[1], sys.argv[2:]
if args == ["--version"]:
    wrong = mode == "wrong_version"
    print("handshake-doctor 0.0.0-wrong" if wrong else f"handshake-doctor {__version__}")
    sys.exit(0)
if mode == "crashes":
    sys.stderr.write("handshake-doctor: internal error: ImportError: no module named _ssl\\n")
    sys.exit(4)
if mode == "not_the_schema":
    print(json.dumps({"schema": 1, "checks": []}))
    sys.exit(0)
if mode == "code_page":
    sys.stdout.buffer.write('{"summary": "\u2026 caf\u00e9"}'.encode("cp1252"))
    sys.exit(0)
real = subprocess.run([sys.executable, "-m", "gui", *args], capture_output=True, text=True)
report = json.loads(real.stdout)
report["checks"][0].update(status="error", error="RuntimeError: the stand-in broke it")
print(json.dumps(report))
sys.exit(real.returncode)
"""


def _smoke(*command: str) -> subprocess.CompletedProcess[str]:
    # The app from source runs in the smoke's own empty folder: it finds the package by path.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SMOKE), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_app_run_from_source_passes() -> None:
    done = _smoke(sys.executable, "-m", "gui")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: --version: handshake-doctor {__version__}" in done.stdout
    [line] = [x for x in done.stdout.splitlines() if x.startswith("ok: check --only local")]
    assert "the report matches docs/report-schema.json" in line
    assert done.stderr == ""


@pytest.mark.posix_only("the stand-in program is a `#!/bin/sh` script, which Windows does not run")
def test_a_single_program_file_passes(tmp_path: Path) -> None:
    """As the frozen program is given: one file, by a relative path."""
    program = tmp_path / "bin" / "handshake-doctor"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gui "$@"\n', encoding="utf-8")
    program.chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(SMOKE), "bin/handshake-doctor"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"smoke test of {program} " in done.stdout


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("wrong_version", "--version said 'handshake-doctor 0.0.0-wrong'"),
        ("crashes", "exited 4 (0-2 means it ran):\nhandshake-doctor: internal error"),
        ("not_the_schema", "the report does not match docs/report-schema.json"),
        ("code_page", "did not print a UTF-8 JSON report"),
        ("a_check_broke", "checks that failed to run: "),
    ],
)
def test_a_broken_build_fails_saying_what_is_wrong(tmp_path: Path, mode: str, said: str) -> None:
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text(STAND_IN, encoding="utf-8")
    done = _smoke(sys.executable, str(stand_in), mode)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("error: ")
    assert said in done.stderr


def test_without_a_program_it_shows_how_to_use_it() -> None:
    done = _smoke()
    assert done.returncode == 1
    assert "Usage: python packaging/smoke_frozen.py PROGRAM" in done.stderr
    missing = _smoke("no-such-program-hd")
    assert (missing.returncode, missing.stderr) == (
        1,
        "error: no-such-program-hd: no such program\n",
    )
