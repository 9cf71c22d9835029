"""Each misbehaving peer yields a clear finding within the timeout, bounded memory, no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile import peers
from tests.lab import pki
from tests.lab.servers import TLSServer

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 2.0
RAW_TUPLE = re.compile(r"^\(-?\d+, ['\"]")
MAX_RSS_MB = 200

CASES = {
    "never_speaks": (peers.never_speaks, {"tls.timeout"}),
    "three_bytes_then_silence": (peers.three_bytes_then_silence, {"tls.timeout"}),
    "answers_after_20s": (peers.answers_after_20s, {"tls.timeout"}),
    "closes_after_server_hello": (peers.closes_after_server_hello, {"tls.closed"}),
    "random_bytes": (peers.random_bytes, {"tls.not_tls"}),
    "http_response": (peers.http_response, {"tls.not_tls"}),
    "announces_16_mb": (peers.announces_16_mb, {"tls.malformed"}),
    "oversized_record": (peers.oversized_record, {"tls.malformed"}),
    "endless_tiny_records": (peers.endless_tiny_records, {"tls.malformed", "tls.timeout"}),
    "alert_flood": (peers.alert_flood, {"tls.handshake_failed"}),
    "malformed_der": (peers.malformed_der, {"tls.malformed"}),
    "impossible_version": (peers.impossible_version, {"tls.malformed"}),
    "suite_not_offered": (peers.suite_not_offered, {"tls.malformed"}),
    "sslv2_reply": (peers.sslv2_reply, {"tls.malformed"}),
    "drips": (peers.drips, {"tls.timeout"}),
}


def _command(port: int) -> list[str]:
    """The CLI run every hostile case gets: the target only, a short timeout, JSON."""
    target = f"127.0.0.1:{port}"
    return [sys.executable, "-m", "checks", "check", target, "--only", "target",
            "--connect-timeout", str(TIMEOUT_S), "--json"]  # fmt: skip


def _check(port: int) -> tuple[int, dict[str, object], str, float]:
    started = time.monotonic()
    done = subprocess.run(
        _command(port),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
    )
    return done.returncode, json.loads(done.stdout), done.stderr, time.monotonic() - started


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_peer_gets_a_clear_finding_in_time(case: str) -> None:
    handler, expected = CASES[case]
    with peers.serve(handler) as port:
        code, report, stderr, elapsed = _check(port)
    assert "Traceback" not in stderr
    assert code == 2, stderr
    tls = next(c for c in report["checks"] if c["id"] == "tls")  # type: ignore[index]
    ids = {f["id"] for f in tls["findings"]}
    assert ids & expected, ids
    assert tls["duration_s"] < TIMEOUT_S + 1.5
    assert elapsed < 15  # interpreter start-up included
    assert report["verdict"]["finding"] in expected  # type: ignore[index]
    for finding in tls["findings"]:
        assert finding["title"], finding
        assert finding["fix"], finding
        # Evidence is for people: a library's raw tuple such as (-1, 'Unexpected EOF') is not.
        for line in finding["evidence"]:
            assert not RAW_TUPLE.match(line), line


# A peer that answered part of the greeting and then went quiet did send something back.
SILENT = {"never_speaks": True, "answers_after_20s": True, "three_bytes_then_silence": False,
          "drips": False}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SILENT))
def test_a_timeout_says_whether_the_server_said_anything(case: str) -> None:
    with peers.serve(CASES[case][0]) as port:
        _, report, _, _ = _check(port)
    tls = next(c for c in report["checks"] if c["id"] == "tls")  # type: ignore[index]
    timeout = next(f for f in tls["findings"] if f["id"] == "tls.timeout")
    if SILENT[case]:
        assert "variant" not in timeout["params"]
        assert "sent nothing back" in timeout["explanation"]
    else:
        assert timeout["params"]["variant"] == "stalled"
        assert timeout["params"]["bytes"] >= 1
        assert "sent nothing back" not in timeout["explanation"]
        assert f"{timeout['params']['bytes']} bytes" in timeout["title"]


# Runs commands one after another and prints the peak resident memory of any of them (kB):
# a fresh parent, so that no other test's child processes count.
_PEAK_RSS = (
    "import json, resource, subprocess, sys\n"
    "for command in json.loads(sys.argv[1]):\n"
    "    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,"
    " timeout=60, check=False)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@pytest.mark.linux_only(
    "reads resource.getrusage()'s ru_maxrss as kB, which it is on Linux only (bytes on macOS; "
    "Windows has no resource module)"
)
def test_memory_of_the_whole_hostile_run_stays_bounded() -> None:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(peers.serve(handler)) for handler, _ in CASES.values()]
        commands = [_command(port) for port in ports]
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, json.dumps(commands)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    peak_mb = int(done.stdout.strip()) / 1024
    assert peak_mb < MAX_RSS_MB, f"peak RSS {peak_mb:.0f} MB"


@pytest.mark.parametrize("shape", ["chain_of_200", "ten_thousand_sans"])
def test_huge_certificates_are_handled_in_time(tmp_path: Path, shape: str) -> None:
    root = pki.root()
    if shape == "chain_of_200":
        issuers = [root]
        for level in range(199):
            issuers.append(pki.issue(f"Hostile CA {level}", issuer=issuers[-1], ca=True))
        chain = [pki.leaf("127.0.0.1", issuers[-1]), *reversed(issuers[1:])]
    else:
        names = ["127.0.0.1", *(f"host{n}.hostile.test" for n in range(10_000))]
        chain = [pki.leaf("127.0.0.1", root, sans=names)]
    cert, key = pki.write_chain(tmp_path, "hostile", chain)
    root_pem = pki.write_certs(tmp_path / "root.pem", [root])
    started = time.monotonic()
    with TLSServer(cert, key) as server:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "checks",
                "check",
                f"127.0.0.1:{server.port}",
                "--only",
                "target",
                "--connect-timeout",
                str(TIMEOUT_S),
                "--cacert",
                str(root_pem),
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert "Traceback" not in done.stderr
    assert done.returncode in (1, 2), done.stderr
    report = json.loads(done.stdout)
    problems = {
        f["id"] for c in report["checks"] for f in c["findings"] if f["status"] in ("warn", "fail")
    }
    # Either the handshake refuses the oversized flight, or the chain is judged: never a hang.
    assert problems & {"tls.malformed", "cert.chain_order", "cert.untrusted_root", "tls.closed"}, (
        problems
    )
    assert time.monotonic() - started < 30
