"""Tests of the frozen app in dist/ (run by packaging/test-frozen.sh after packaging/build.sh)."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_reports import differences
from labserver import LabServer

PACKAGING = Path(__file__).resolve().parents[1]
ROOT = PACKAGING.parent
DIST = Path(os.environ.get("HANDSHAKE_DOCTOR_DIST", ROOT / "dist")).resolve()
EXE = ".exe" if sys.platform == "win32" else ""
ONEDIR = DIST / "handshake-doctor" / f"handshake-doctor{EXE}"
ONEFILE = DIST / f"handshake-doctor-portable{EXE}"
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HANDSHAKE_DOCTOR_CA_FROM_RUNTIME_HOOK")
# The distribution bundles the runtime hook looks for (packaging/hooks/rthook_truststore.py).
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----")

pytestmark = pytest.mark.skipif(not ONEDIR.exists(), reason=f"no frozen build at {ONEDIR}")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the trust variables a user could set, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in TRUST_ENV}
    env.pop("HANDSHAKE_DOCTOR_BENCH_STARTUP", None)
    env.update(extra)
    return env


def run_app(
    program: Sequence[str], args: Sequence[str], env: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """Run the app with `args` (which include --json); its exit code and report."""
    done = subprocess.run(
        [*program, *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else clean_env(),
        timeout=90,
        check=False,
        cwd=Path.home() if Path.home().is_dir() else "/",
    )
    assert done.returncode in (0, 1, 2), f"exit {done.returncode}: {done.stderr}"
    return done.returncode, json.loads(done.stdout)


def check_of(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any]:
    found = [c for c in report["checks"] if c["id"] == check_id]
    assert found, f"no {check_id} check in {[c['id'] for c in report['checks']]}"
    return found[0]


def finding_ids(report: Mapping[str, Any], check_id: str) -> list[str]:
    return [f["id"] for f in check_of(report, check_id)["findings"]]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with LabServer(tmp_path_factory.mktemp("lab")) as server:
        yield server


def test_version_is_the_packages() -> None:
    version = {}  # type: dict[str, str]
    exec((ROOT / "checks" / "core" / "version.py").read_text("utf-8"), version)
    done = subprocess.run(
        [str(ONEDIR), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == f"handshake-doctor {version['__version__']}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux trust store paths")
def test_trust_store_check_reports_this_machines_real_store() -> None:
    _, report = run_app([str(ONEDIR)], ["check", "--only", "local", "--offline", "--json"])
    trust = check_of(report, "trust_store")
    facts = trust["facts"]
    bundle = Path(facts["bundle"]).resolve()
    # The real system bundle, never something inside the frozen app or the build machine's path.
    assert bundle.is_file()
    assert DIST not in bundle.parents
    assert str(bundle) in {str(Path(p).resolve()) for p in SYSTEM_BUNDLES if Path(p).exists()}
    assert facts["trusted"] == len(PEM_CERT.findall(bundle.read_bytes()))
    assert "truststore.unavailable" not in finding_ids(report, "trust_store")
    # certifi's bundle is the one inside the app, and it is the one certifi shipped.
    assert Path(facts["certifi"]["path"]).resolve().is_relative_to(DIST)
    assert facts["certifi"]["verified"] is True


def test_headless_check_of_a_loopback_server_finds_the_same_as_source(lab: LabServer) -> None:
    args = ["check", lab.address, "--cacert", str(lab.ca), "--offline", "--json"]
    frozen_exit, frozen = run_app([str(ONEDIR)], args)
    source_env = clean_env(PYTHONPATH=str(ROOT))
    source_exit, source = run_app([sys.executable, "-m", "gui"], args, source_env)
    assert differences(frozen, source) == []
    assert frozen_exit == source_exit
    assert "tls.ok" in finding_ids(frozen, "tls")


@pytest.mark.skipif(not ONEFILE.exists(), reason="no onefile build")
def test_onefile_finds_the_same_as_onedir(lab: LabServer) -> None:
    args = ["check", lab.address, "--cacert", str(lab.ca), "--offline", "--json"]
    onefile_exit, onefile = run_app([str(ONEFILE)], args)
    onedir_exit, onedir = run_app([str(ONEDIR)], args)
    assert differences(onefile, onedir) == []
    assert onefile_exit == onedir_exit


# --- OpenSSL's build-machine defaults missing: the runtime hook ---------------------------------


def openssl_dir() -> Path:
    """OPENSSLDIR of the OpenSSL the frozen app bundles (the build machine's, as this Python's)."""
    return Path(ssl.get_default_verify_paths().openssl_cafile).parent


def can_hide_openssl_dir() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or not openssl_dir().is_dir():
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none '{openssl_dir()}'"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


def run_with_openssl_defaults_hidden(
    args: Sequence[str], extra_roots: Path, work: Path
) -> tuple[int, dict[str, Any]]:
    """Run the onedir app in a private mount namespace where OpenSSL's default CA paths are gone
    (as on a distribution other than the build machine's) and the distribution bundle also
    trusts `extra_roots`."""
    system = Path(SYSTEM_BUNDLES[0])
    combined = work / "bundle.pem"
    combined.write_bytes(system.read_bytes() + b"\n" + extra_roots.read_bytes())
    script = (
        f"mount -t tmpfs none '{openssl_dir()}' && "
        f"mount --bind '{combined}' '{system}' && "
        'exec "$@"'
    )
    return run_app(["unshare", "-m", "sh", "-c", script, "sh", str(ONEDIR)], args)


hidden_defaults = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not Path(SYSTEM_BUNDLES[0]).is_file()
    or not can_hide_openssl_dir(),
    reason="needs root, unshare and a Debian-style bundle to hide OpenSSL's default paths",
)


@hidden_defaults
def test_without_openssl_defaults_the_app_still_trusts_the_system_store(
    lab: LabServer, tmp_path: Path
) -> None:
    # No --cacert: the lab's root is trusted only through the system bundle, so the OS trusts the
    # certificate (Mozilla's program does not: "trusted locally only").
    _, report = run_with_openssl_defaults_hidden(
        ["check", lab.address, "--offline", "--json"], lab.ca, tmp_path
    )
    assert "tls.ok" in finding_ids(report, "tls")
    assert finding_ids(report, "cert") == ["cert.trusted_locally_only"]
    facts = check_of(report, "trust_store")["facts"]
    assert Path(facts["bundle"]).resolve() == Path(SYSTEM_BUNDLES[0]).resolve()
    # The control: without the lab's root in the system bundle the same certificate is untrusted.
    empty = tmp_path / "none.pem"
    empty.write_bytes(b"")
    _, control = run_with_openssl_defaults_hidden(
        ["check", lab.address, "--offline", "--json"], empty, tmp_path
    )
    assert finding_ids(control, "cert") != ["cert.trusted_locally_only"]


@hidden_defaults
def test_runtime_hook_points_ssl_cert_file_at_the_system_bundle(
    lab: LabServer, tmp_path: Path
) -> None:
    _, report = run_with_openssl_defaults_hidden(
        ["check", "--only", "local", "--offline", "--json"], lab.ca, tmp_path
    )
    overrides = check_of(report, "trust_store")["facts"].get("env_overrides", [])
    values = {o["variable"]: o["path"] for o in overrides}
    assert "SSL_CERT_FILE" not in values, "the hook's own value is reported as the user's"


# --- Portable mode ----------------------------------------------------------------------------

WRITE_CALL = re.compile(
    r"^(?P<pid>\d+)\s+(?P<call>openat|open|creat|mkdir|mkdirat|rename|renameat2?|unlink|"
    r"unlinkat|rmdir|symlink|symlinkat|link|linkat|truncate|chmod|fchmodat|utimensat)"
    r"\((?P<args>.*)\)\s+=\s+(?P<result>-?\d+)"
)
EXEC_CALL = re.compile(r'^(?P<pid>\d+)\s+execve\("(?P<program>[^"]*)"')
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")


def written_paths(trace: str) -> set[tuple[int, str]]:
    """(pid, absolute path) of what successful calls in an `strace -f` log created or changed."""
    paths: set[tuple[int, str]] = set()
    for line in trace.splitlines():
        match = WRITE_CALL.match(line)
        if not match or int(match["result"]) < 0:
            continue
        call, args = match["call"], match["args"]
        if call in ("openat", "open") and not any(flag in args for flag in WRITE_FLAGS):
            continue
        pid = int(match["pid"])
        paths.update((pid, p) for p in re.findall(r'"([^"]*)"', args) if p.startswith("/"))
    return paths


def programs(trace: str) -> dict[int, str]:
    """The program each process of an `strace -f` log last tried to execute (the one it runs)."""
    found: dict[int, str] = {}
    for line in trace.splitlines():
        match = EXEC_CALL.match(line)
        if match:
            found[int(match["pid"])] = match["program"]
    return found


@pytest.mark.skipif(not ONEFILE.exists(), reason="no onefile build")
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_portable_copy_writes_only_to_temp_and_config_folders(
    lab: LabServer, tmp_path: Path
) -> None:
    home, temp, config = tmp_path / "home", tmp_path / "tmp", tmp_path / "home" / ".config"
    for folder in (home, temp, config):
        folder.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        HOME=str(home),
        TMPDIR=str(temp),
        XDG_CONFIG_HOME=str(config),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    # Settings offline, so that the window contacts nothing but the lab server.
    (config / "Handshake Doctor").mkdir()
    (config / "Handshake Doctor" / "Handshake Doctor.conf").write_text("[settings]\noffline=true\n")
    strace = ["strace", "-f", "-qq", "-s", "1024", "-e", "trace=%file", "-o"]
    logs = [tmp_path / "strace-cli.log", tmp_path / "strace-window.log"]
    # The headless check.
    cli = [*strace, str(logs[0]), str(ONEFILE)]
    cli += ["check", lab.address, "--cacert", str(lab.ca), "--offline", "--json"]
    done = subprocess.run(cli, capture_output=True, env=env, timeout=90, check=False)
    assert done.returncode in (0, 1, 2), done.stderr.decode(errors="replace")
    # The window: a real one under Xvfb that diagnoses the lab server (its diagnosis runs in a
    # child process), else offscreen until it is first shown.
    if all(shutil.which(tool) for tool in ("xvfb-run", "xdotool", "import")):
        wrapper = tmp_path / "portable-under-strace.sh"
        wrapper.write_text(f'#!/bin/sh\nexec {" ".join(strace)} "{logs[1]}" "{ONEFILE}"\n')
        wrapper.chmod(0o755)
        screenshot = tmp_path / "portable.png"
        window = [
            "xvfb-run", "-a", "-s", "-screen 0 1280x900x24",
            str(PACKAGING / "linux" / "screenshot-gui.sh"), str(wrapper), str(screenshot),
            lab.address,
        ]  # fmt: skip
        done = subprocess.run(
            window, capture_output=True, env={**env, "WAIT": "8"}, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert screenshot.stat().st_size > 10_000
    else:
        offscreen = {**env, "QT_QPA_PLATFORM": "offscreen", "HANDSHAKE_DOCTOR_BENCH_STARTUP": "1"}
        done = subprocess.run(
            [*strace, str(logs[1]), str(ONEFILE)], env=offscreen, timeout=90, check=False
        )
        assert done.returncode == 0
    written: set[str] = set()
    by_other_programs: set[str] = set()
    for log in logs:
        trace = log.read_text(errors="replace")
        # System tools the checks run (gsettings, chronyc, timedatectl...) keep their own files;
        # what is judged here is what the app itself writes.
        others = {pid for pid, program in programs(trace).items() if program != str(ONEFILE)}
        for pid, path in written_paths(trace):
            (by_other_programs if pid in others else written).add(path)
    allowed = (str(temp) + "/", str(config) + "/", "/dev/", "/proc/")
    outside = sorted(p for p in written if not p.startswith(allowed) and p != str(temp))
    assert outside == [], f"the portable copy wrote outside its folders: {outside}"
    assert any(p.startswith(str(temp) + "/_MEI") for p in written), "it unpacked elsewhere"
    assert list(temp.iterdir()) == [], "the unpacked copy was left behind"
    print(f"written by the system tools the checks run: {sorted(by_other_programs)}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the soak drives X11 (Xvfb)")
# Fifty diagnoses, a mail server whose greeting never ends among them, each running the
# programs found here: more than the default two minutes, as tests/gui/test_soak.py says.
@pytest.mark.timeout(300)
def test_the_frozen_window_survives_a_working_day_of_diagnoses(tmp_path: Path) -> None:
    # The same driver and the same expectations as the soak of the app run from source.
    sys.path.insert(0, str(ROOT))
    from tests import soak

    missing = soak.missing_tools()
    assert not missing, f"install {missing} (packaging/install-system-packages.sh test)"
    samples, code = soak.soak([str(ONEDIR)], tmp_path / "soak", 50, tmp_path)
    print(soak.figures(samples))
    assert len(samples) == 50
    assert soak.problems(samples) == []
    assert code == 0


def test_the_frozen_app_carries_qts_chinese_words_and_no_other_qt_translation() -> None:
    shipped = sorted(p.name for p in ONEDIR.parent.rglob("*.qm"))
    assert shipped == ["qtbase_zh_CN.qm"]
