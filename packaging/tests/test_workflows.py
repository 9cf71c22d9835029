"""The GitHub workflows: valid for GitHub, and their packaging steps run here as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_release_workflow_builds_on_every_os_and_runs_only_scripts_that_exist(
    workflows: Any,
) -> None:
    workflow = workflows.load("release.yml")
    build = workflow["jobs"]["build"]
    systems = {entry["os"].split("-")[0] for entry in build["strategy"]["matrix"]["include"]}
    assert systems == {"ubuntu", "windows", "macos"}
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    for script in set(re.findall(r"packaging/[\w./-]+\.(?:sh|py|nsi)", text)):
        assert (ROOT / script).exists(), f"the workflow runs {script}, which does not exist"


def lay_out_windows_build(dist: Path) -> None:
    onedir = dist / "handshake-doctor"
    (onedir / "_internal" / "PySide6").mkdir(parents=True)
    (onedir / "handshake-doctor.exe").write_bytes(b"placeholder")
    (onedir / "_internal" / "python311.dll").write_bytes(b"placeholder")
    (onedir / "_internal" / "PySide6" / "Qt6Core.dll").write_bytes(b"placeholder")
    (dist / "handshake-doctor-portable.exe").write_bytes(b"MZ portable")
    (dist / "VERSION").write_text("1.2.3\n")


@pytest.mark.skipif(shutil.which("makensis") is None, reason="needs makensis (Debian: nsis)")
def test_the_installer_and_checksum_steps_run_as_written(workflows: Any, checkout: Path) -> None:
    """The NSIS and checksum steps exactly as the workflow writes them (bash, as the workflow's
    default shell), from a checkout's root, with the Windows build's dist/ laid out: the
    installer is built, and every published file is listed once."""
    dist = checkout / "dist"
    lay_out_windows_build(dist)
    for name in ("NSIS installer", "Checksums"):
        done = workflows.run(
            "release.yml", "build", name, checkout, expressions={"matrix.name": "windows"}
        )
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    setup = dist / "handshake-doctor-1.2.3-windows-x64-setup.exe"
    assert setup.read_bytes()[:2] == b"MZ"
    sums = (dist / "SHA256SUMS-windows.txt").read_text().split("\n")
    listed = sorted(line.split()[-1] for line in sums if line.strip())
    assert listed == [
        "handshake-doctor-1.2.3-windows-x64-portable.exe",
        "handshake-doctor-1.2.3-windows-x64-setup.exe",
    ]
