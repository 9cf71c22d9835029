"""The clock check against a real chronyd on loopback, and the whole CLI under libfaketime."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import clock
from checks.core.check import Context
from checks.core.config import Settings
from checks.core.facts.clock import ClockFacts
from checks.lib import ntp
from tests.lab.ntp_server import NtpServer, free_udp_port

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
CHRONYD = Path("/usr/sbin/chronyd")
FAKETIME = Path("/usr/bin/faketime")
ALLOW_MISSING_ENV = "HD_ALLOW_MISSING_LAB"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
CLI_TIMEOUT = 90.0
YEAR = 365 * 86400.0


def _require(program: Path, package: str) -> None:
    """Fail when a lab program is missing; skip instead when HD_ALLOW_MISSING_LAB=1."""
    if program.is_file() and os.access(program, os.X_OK):
        return
    message = f"install {package}: packaging/install-system-packages.sh test"
    if os.environ.get(ALLOW_MISSING_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, then SIGKILL if it has not gone after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


@pytest.fixture
def chronyd(tmp_path: Path) -> Iterator[int]:
    """A chronyd serving its own clock as stratum 1 on 127.0.0.1:PORT; -x: it never sets it."""
    _require(CHRONYD, "chrony")
    port = free_udp_port()
    # chronyd drops root privileges to its own user, which must be able to reach these files.
    folder = tmp_path / "chrony"
    folder.mkdir()
    folder.chmod(0o777)
    config = folder / "chrony.conf"
    config.write_text(
        f"port {port}\n"
        "bindaddress 127.0.0.1\n"
        "allow 127.0.0.1\n"
        "local stratum 1\n"
        "cmdport 0\n"
        f"pidfile {folder / 'chronyd.pid'}\n"
        f"driftfile {folder / 'chrony.drift'}\n",
        encoding="utf-8",
    )
    command = [str(CHRONYD), "-x", "-d", "-f", str(config)]
    if os.geteuid() != 0:
        command.insert(1, "-U")
    log = (folder / "chronyd.log").open("wb")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        cancel = threading.Event()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            sample = ntp.query("127.0.0.1", port, timeout=0.5, cancel=cancel)
            if sample.ok:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (folder / "chronyd.log").read_text(errors="replace")
                pytest.fail(f"chronyd did not answer on port {port}: {sample}\n{output}")
            time.sleep(0.2)
        yield port
    finally:
        _stop(process)
        log.close()


def test_our_client_reads_a_real_chronyd(chronyd: int) -> None:
    cancel = threading.Event()
    sample = ntp.query("127.0.0.1", chronyd, timeout=2.0, cancel=cancel)
    assert sample.ok, sample
    assert sample.offset_s is not None
    assert abs(sample.offset_s) < 1.0
    assert sample.stratum == 1
    assert sample.leap == 0
    # Resolved by name like any configured server, then every address asked.
    by_name = ntp.query_server(f"localhost:{chronyd}", cancel=cancel, timeout=2.0)
    assert [s.address for s in by_name if s.ok] == ["127.0.0.1"]


def test_the_clock_check_passes_against_chronyd(chronyd: int) -> None:
    settings = Settings(ntp_servers=(f"127.0.0.1:{chronyd}",), canaries=("127.0.0.1:9",))
    context = Context(settings, None, threading.Event(), {}, time.monotonic() + 30)
    outcome = clock.run(context)
    ok = next(f for f in outcome.findings if f.id in ("clock.ok", "clock.skew"))
    assert ok.id == "clock.ok", outcome.findings
    assert (ok.params["agreed"], ok.params["queried"]) == (1, 1)
    facts = outcome.facts
    assert isinstance(facts, ClockFacts)
    assert [(s.ok, s.stratum, s.family) for s in facts.servers] == [(True, 1, "IPv4")]


# --- the whole CLI with a wrong clock --------------------------------------------------------


def _closed_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli_under_faketime(fake: list[str], ntp_server: str) -> tuple[int, dict[str, object]]:
    """`faketime FAKE python -m checks check --only local ... --json`, all on loopback."""
    closed = _closed_tcp_port()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    # Monotonic time stays real, so every timeout and wait in the engine still works.
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    command = [
        str(FAKETIME),
        *fake,
        sys.executable,
        "-m",
        "checks",
        "check",
        "--only",
        "local",
        "--ntp-server",
        ntp_server,
        # Every other source of time or reachability is loopback too: tests never go out.
        "--canary",
        f"127.0.0.1:{closed}",
        "--portal-probe",
        f"http://127.0.0.1:{closed}/",
        "--json",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert "clock" in checks, f"the clock check is not registered: {sorted(checks)}"
    return done.returncode, checks["clock"]


def _finding(check: dict[str, object], finding_id: str) -> dict[str, object]:
    findings = check["findings"]
    assert isinstance(findings, list)
    found = [f for f in findings if f["id"] == finding_id]
    assert len(found) == 1, findings
    return found[0]  # type: ignore[no-any-return]


def test_three_years_behind_is_measured_with_the_right_sign_and_size() -> None:
    _require(FAKETIME, "faketime")
    with NtpServer() as server:  # real time: this test process is not faked
        code, check = _cli_under_faketime(["-f", "-3y"], server.spec)
    assert server.requests >= 1
    assert code == 2
    assert check["status"] == "fail"
    skew = _finding(check, "clock.skew")
    params = skew["params"]
    assert isinstance(params, dict)
    assert skew["status"] == "fail"
    assert params["variant"] == "years"
    assert params["offset_s"] == pytest.approx(3 * YEAR, abs=2 * 86400)
    assert params["offset_s"] > 0  # network minus local: this clock is behind
    assert params["human_offset"] == "3 years"
    assert "3 years behind" in str(skew["title"])
    facts = check["facts"]
    assert isinstance(facts, dict)
    assert facts["source"] == "ntp"
    assert facts["offset_s"] == pytest.approx(3 * YEAR, abs=2 * 86400)


def test_an_hour_ahead_is_named_a_time_zone_problem() -> None:
    _require(FAKETIME, "faketime")
    with NtpServer() as server:
        _, check = _cli_under_faketime(["-f", "+1h"], server.spec)
    zone = _finding(check, "clock.timezone")
    params = zone["params"]
    assert isinstance(params, dict)
    assert params["offset_s"] == pytest.approx(-3600, abs=5)
    assert params["direction"] == "ahead"


def test_no_time_source_and_a_clock_before_the_build_fires_the_offline_bound() -> None:
    _require(FAKETIME, "faketime")
    code, check = _cli_under_faketime(["2020-01-01 00:00:00"], f"127.0.0.1:{free_udp_port()}")
    assert code == 2
    unverified = _finding(check, "clock.unverified")
    assert unverified["status"] == "warn"
    skew = _finding(check, "clock.skew")
    params = skew["params"]
    assert isinstance(params, dict)
    assert skew["status"] == "fail"
    assert params["variant"] == "offline_bound"
    assert str(params["local_time"]).startswith("2020-01-01")
    assert params["direction"] == "behind"
    facts = check["facts"]
    assert isinstance(facts, dict)
    assert facts["source"] == "none"
    assert facts["offset_s"] is None
