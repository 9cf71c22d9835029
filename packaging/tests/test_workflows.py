"""The GitHub workflows: valid for GitHub, and their packaging steps run here as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
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


# --- Valid for GitHub --------------------------------------------------------------------------


def test_every_workflow_is_valid_for_github(workflows: Any) -> None:
    """check-jsonschema's copy of GitHub's workflow schema (SchemaStore's), read offline."""
    paths = sorted(str(path) for path in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert paths
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def bash_steps() -> list[tuple[str, str, str, str]]:
    """(workflow, job, step, script) of every step that runs in bash."""
    found = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = _load_yaml(path)
        for job_id, job in workflow["jobs"].items():
            default = job.get("defaults", {}).get("run", {}).get("shell")
            for index, step in enumerate(job.get("steps", [])):
                if "run" not in step:
                    continue
                shell = step.get("shell", default)
                # Without a shell, Linux and macOS runners use bash; Windows would use pwsh, so
                # such steps must say which shell they want (every job here sets a default).
                if shell in (None, "bash"):
                    name = step.get("name", f"step {index + 1}")
                    found.append((path.name, job_id, name, str(step["run"])))
    return found


def _load_yaml(path: Path) -> Any:
    import yaml

    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (Debian)")
@pytest.mark.parametrize(
    ("workflow", "job", "step", "script"),
    bash_steps(),
    ids=[f"{w}:{j}:{s}" for w, j, s, _ in bash_steps()],
)
def test_every_bash_step_passes_shellcheck(workflow: str, job: str, step: str, script: str) -> None:
    # GitHub fills ${{ ... }} in before bash runs; a plain word stands in for each.
    text = re.sub(r"\$\{\{[^}]*\}\}", "GITHUB_EXPRESSION", script)
    done = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", "-"],
        input="set -eo pipefail\n" + text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout


# --- Signing mode ------------------------------------------------------------------------------


def signing_mode(workflows: Any, cwd: Path, runner_os: str, ref: str, have: bool) -> Any:
    github_env = cwd / "github-env"
    github_env.write_text("")
    done = workflows.run(
        "release.yml",
        "build",
        "Signing mode",
        cwd,
        env={
            "RUNNER_OS": runner_os,
            "GITHUB_REF": ref,
            "GITHUB_REF_NAME": ref.rpartition("/")[2],
            "GITHUB_ENV": str(github_env),
            "HAVE_WINDOWS_SIGNING": "true" if have else "false",
            "HAVE_MACOS_SIGNING": "true" if have else "false",
        },
    )
    return done, github_env.read_text()


@pytest.mark.parametrize("runner_os", ["Windows", "macOS"])
def test_a_tag_without_signing_secrets_fails_loudly(
    workflows: Any, tmp_path: Path, runner_os: str
) -> None:
    done, github_env = signing_mode(workflows, tmp_path, runner_os, "refs/tags/v1.2.3", False)
    assert done.returncode != 0
    assert "::error title=Unsigned release::v1.2.3 would publish unsigned" in done.stdout
    assert "SECRET" not in done.stdout.upper().replace("SECRETS ", "")
    assert github_env == ""


@pytest.mark.parametrize("runner_os", ["Windows", "macOS"])
def test_other_runs_without_secrets_build_unsigned_artifacts_named_so(
    workflows: Any, tmp_path: Path, runner_os: str
) -> None:
    done, github_env = signing_mode(workflows, tmp_path, runner_os, "refs/heads/main", False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::warning title=Unsigned build::" in done.stdout
    assert github_env == "UNSIGNED_MARK=-unsigned\n"


@pytest.mark.parametrize("ref", ["refs/tags/v1.2.3", "refs/heads/main"])
@pytest.mark.parametrize("runner_os", ["Windows", "macOS"])
def test_with_secrets_every_run_signs(
    workflows: Any, tmp_path: Path, runner_os: str, ref: str
) -> None:
    done, github_env = signing_mode(workflows, tmp_path, runner_os, ref, True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert github_env == "SIGNED=1\n"


def test_linux_packages_are_neither_signed_nor_marked(workflows: Any, tmp_path: Path) -> None:
    done, github_env = signing_mode(workflows, tmp_path, "Linux", "refs/tags/v1.2.3", False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert github_env == ""


# --- The Windows artifacts, signed and unsigned --------------------------------------------------

needs_nsis_and_osslsigncode = pytest.mark.skipif(
    shutil.which("makensis") is None or shutil.which("osslsigncode") is None,
    reason="needs makensis and osslsigncode (Debian: nsis, osslsigncode)",
)
WINDOWS_STEPS = [
    "Signing certificate (Windows)",
    "Sign the programs (Windows)",
    "NSIS installer",
    "Portable .zip (Windows)",
    "Checksums",
]


def tiny_windows_program(folder: Path) -> bytes:
    """A real (if useless) PE program, made by makensis: osslsigncode signs only real ones."""
    script = folder / "tiny.nsi"
    script.write_text(f'Unicode true\nOutFile "{folder / "tiny.exe"}"\nSection\nSectionEnd\n')
    subprocess.run(["makensis", "-V1", str(script)], check=True, timeout=60)
    return (folder / "tiny.exe").read_bytes()


def lay_out_windows_programs(dist: Path, tmp_path: Path) -> None:
    lay_out_windows_build(dist)
    program = tiny_windows_program(tmp_path)
    (dist / "handshake-doctor" / "handshake-doctor.exe").write_bytes(program)
    (dist / "handshake-doctor-portable.exe").write_bytes(program)


def authenticode(path: Path, trust: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(trust), "-TSA-CAfile", str(trust),
         "-in", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def listed_in_sums(dist: Path) -> list[str]:
    lines = (dist / "SHA256SUMS-windows-x64.txt").read_text().splitlines()
    return sorted(line.split()[-1] for line in lines if line.strip())


@needs_nsis_and_osslsigncode
def test_a_signed_windows_build_signs_every_program_with_a_timestamp(
    workflows: Any, checkout: Path, signing: Any
) -> None:
    """The Windows steps as written, in order, with the secrets a release has (a lab certificate
    and a loopback timestamp server standing in): the program, the portable program, the
    uninstaller and the installer are each signed and timestamped, and the .zip holds the signed
    program."""
    import base64

    dist = checkout / "dist"
    lay_out_windows_programs(dist, checkout)
    built = workflows.run_steps(
        "release.yml",
        "build",
        WINDOWS_STEPS,
        checkout,
        expressions={"matrix.name": "windows-x64"},
        env={
            "RUNNER_OS": "Windows",
            "SIGNED": "1",
            "PYTHON": sys.executable,
            "WINDOWS_SIGN_PFX_BASE64": base64.b64encode(signing.pfx.read_bytes()).decode(),
            "WINDOWS_SIGN_PASSWORD": "lab signing password",
            "WINDOWS_TIMESTAMP_URL": signing.timestamp_url,
            "WINDOWS_SIGN_TRUST": str(signing.trust),
        },
    )
    assert built["WINDOWS_SIGN_PFX"] == str(checkout / ".runner-temp" / "signing.pfx")
    # makensis signed two files of its own: the uninstaller, then the installer.
    assert built["STDOUT NSIS installer"].count("signed, timestamped and verified: ") == 2
    name = "handshake-doctor-1.2.3-windows-x64"
    assert listed_in_sums(dist) == [
        f"{name}-portable.exe",
        f"{name}-portable.zip",
        f"{name}-setup.exe",
    ]
    program = dist / "handshake-doctor" / "handshake-doctor.exe"
    for signed in (dist / f"{name}-setup.exe", dist / f"{name}-portable.exe", program):
        verified = authenticode(signed, signing.trust)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Timestamp Server Signature verification: ok" in verified.stdout
    with zipfile.ZipFile(dist / f"{name}-portable.zip") as archive:
        assert archive.read("Handshake Doctor/handshake-doctor.exe") == program.read_bytes()


@needs_nsis_and_osslsigncode
def test_an_unsigned_windows_build_says_so_in_every_name(
    workflows: Any, checkout: Path, signing: Any
) -> None:
    dist = checkout / "dist"
    lay_out_windows_programs(dist, checkout)
    built = workflows.run_steps(
        "release.yml",
        "build",
        ["Signing mode", *WINDOWS_STEPS],
        checkout,
        expressions={"matrix.name": "windows-x64"},
        env={
            "RUNNER_OS": "Windows",
            "GITHUB_REF": "refs/heads/main",
            "HAVE_WINDOWS_SIGNING": "false",
            "PYTHON": sys.executable,
        },
    )
    assert built["UNSIGNED_MARK"] == "-unsigned"
    assert built["SKIPPED Sign the programs (Windows)"] == "yes"
    assert "signed" not in built["STDOUT NSIS installer"].replace("unsigned", "")
    name = "handshake-doctor-1.2.3-unsigned-windows-x64"
    assert listed_in_sums(dist) == [
        f"{name}-portable.exe",
        f"{name}-portable.zip",
        f"{name}-setup.exe",
    ]
    assert authenticode(dist / f"{name}-setup.exe", signing.trust).returncode != 0


def test_the_portable_zip_is_the_same_for_the_same_commit(tmp_path: Path) -> None:
    folder = tmp_path / "handshake-doctor"
    (folder / "_internal").mkdir(parents=True)
    (folder / "handshake-doctor.exe").write_bytes(b"MZ program")
    (folder / "_internal" / "python311.dll").write_bytes(b"MZ library")
    made = []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.zip"
        subprocess.run(
            [sys.executable, str(ROOT / "packaging" / "portable_zip.py"), str(folder), str(out),
             "--top", "Handshake Doctor",
             f"--add=README.txt={ROOT / 'packaging' / 'windows' / 'PORTABLE.txt'}"],
            env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
            check=True,
            capture_output=True,
        )  # fmt: skip
        made.append(out.read_bytes())
        (folder / "handshake-doctor.exe").touch()  # a later build's file times change nothing
    assert made[0] == made[1]
    with zipfile.ZipFile(tmp_path / "first.zip") as archive:
        assert archive.namelist() == [
            "Handshake Doctor/",
            "Handshake Doctor/README.txt",
            "Handshake Doctor/_internal/",
            "Handshake Doctor/_internal/python311.dll",
            "Handshake Doctor/handshake-doctor.exe",
        ]
        assert archive.getinfo("Handshake Doctor/handshake-doctor.exe").date_time[0] == 2023


@needs_nsis_and_osslsigncode
def test_signing_gives_up_on_a_silent_timestamp_server(tmp_path: Path, signing: Any) -> None:
    """Three bounded tries, then a clear failure, never a hang: the server here accepts the
    connection and never answers."""
    import socket
    import time

    program = tmp_path / "program.exe"
    program.write_bytes(tiny_windows_program(tmp_path))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(ROOT / "packaging" / "windows" / "sign.sh"), str(program)],
            env={
                **os.environ,
                "WINDOWS_SIGN_PFX": str(signing.pfx),
                "WINDOWS_SIGN_PASSWORD": "lab signing password",
                "WINDOWS_TIMESTAMP_URL": f"http://127.0.0.1:{silent.getsockname()[1]}/",
                "WINDOWS_SIGN_ATTEMPT_LIMIT_S": "1",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        took = time.monotonic() - started
    assert done.returncode != 0
    assert done.stderr.count("no answer within 1 s (the timestamp server?)") == 3, done.stderr
    assert "signing attempt 2 failed; retrying in 10 s" in done.stderr
    assert took < 40  # three 1-s tries and the 5 s and 10 s pauses between them
