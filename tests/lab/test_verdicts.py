"""Combinations of real lab faults give the right verdict and confidence, end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.lab import pki
from tests.lab.conftest import CliRunner, loopback_options
from tests.lab.scenarios import ROOT, Lab
from tests.lab.servers import REDIRECT, CannedServer, TLSServer, closed_port

pytestmark = pytest.mark.lab


def _loopback_only(lab: Lab, probe: str, ntp: str) -> list[str]:
    """A full (local + target) run kept on loopback, its report as JSON."""
    return [*loopback_options(lab, probe, ntp), "--connect-timeout", "2", "--json"]


def _target(lab: Lab, name: str) -> list[str]:
    scenario = lab[name]
    return [scenario.target, *(["--resolve", scenario.resolve] if scenario.needs_resolve else [])]


def _verdict(report: object) -> tuple[str, str, list[str]]:
    assert isinstance(report, dict)
    verdict = report["verdict"]
    return verdict["finding"], verdict["confidence"], verdict["evidence"]


def test_a_clock_three_years_behind_explains_a_valid_certificate_not_yet_valid(
    lab: Lab, probe: str, ntp: str
) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.fail("install faketime: packaging/install-system-packages.sh test", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    done = subprocess.run(
        [
            faketime,
            "-f",
            "-3y",
            sys.executable,
            "-m",
            "checks",
            "check",
            *_target(lab, "good"),
            "--cacert",
            str(lab.root_pem),
            "--known-roots",
            str(lab.root_pem),
            *_loopback_only(lab, probe, ntp),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    report = json.loads(done.stdout)
    finding, confidence, evidence = _verdict(report)
    assert finding == "clock.skew", done.stdout[:2000]
    assert confidence == "certain"
    assert "cert.not_yet_valid" in evidence


def test_a_chain_signed_by_an_interception_product_names_the_product(
    lab: Lab, run_cli: CliRunner, tmp_path: Path
) -> None:
    product_root = pki.root("Kaspersky Anti-Virus Personal Root Certificate")
    cert, key = pki.write_chain(tmp_path, "bank", [pki.leaf("127.0.0.1", product_root)])
    with TLSServer(cert, key) as server:
        _, report, stderr = run_cli(
            [
                f"127.0.0.1:{server.port}",
                "--cacert",
                str(lab.root_pem),
                "--only",
                "target",
                "--json",
            ]
        )
    assert report is not None, stderr
    finding, confidence, _ = _verdict(report)
    assert finding == "cert.intercepted"
    assert confidence == "certain"
    assert report["verdict"]["summary"].startswith("Kaspersky")  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "trust", "expected"),
    [
        # The server left out its intermediate: the server's fault.
        ("incomplete_chain", "cacert", "cert.incomplete_chain"),
        # Mozilla (here: the lab root) knows the root, this machine's store does not.
        ("good", "known_roots", "cert.os_store_missing_root"),
        # Nobody knows the root: a private CA.
        ("good", "nobody", "cert.untrusted_root"),
    ],
)
def test_unable_to_get_local_issuer_is_told_apart(  # noqa: PLR0917 - pytest parameters
    lab: Lab, run_cli: CliRunner, tmp_path: Path, name: str, trust: str, expected: str
) -> None:
    other = pki.write_certs(tmp_path / "other.pem", [pki.root("Somebody Else's Root")])
    options: Sequence[str] = {
        "cacert": ["--cacert", str(lab.root_pem)],
        "known_roots": ["--known-roots", str(lab.root_pem)],
        "nobody": ["--known-roots", str(other)],
    }[trust]
    _, report, stderr = run_cli([*_target(lab, name), *options, "--only", "target", "--json"])
    assert report is not None, stderr
    finding, confidence, _ = _verdict(report)
    assert finding == expected
    assert confidence == "certain"


def test_a_captive_portal_explains_a_name_mismatch(lab: Lab, run_cli: CliRunner, ntp: str) -> None:
    with CannedServer(REDIRECT) as portal:
        _, report, stderr = run_cli(
            [
                *_target(lab, "wrong_host"),
                "--cacert",
                str(lab.root_pem),
                "--known-roots",
                str(lab.root_pem),
                *_loopback_only(lab, f"http://127.0.0.1:{portal.port}/generate_204", ntp),
            ]
        )
    assert report is not None, stderr
    finding, confidence, evidence = _verdict(report)
    assert finding == "captive_portal.detected"
    assert confidence == "certain"
    assert "cert.hostname_mismatch" in evidence


def test_a_closed_port_is_certain(run_cli: CliRunner) -> None:
    _, report, _ = run_cli([f"127.0.0.1:{closed_port()}", "--only", "target", "--json"])
    assert _verdict(report)[:2] == ("tcp.refused", "certain")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
def test_a_tls_1_0_only_server_is_a_protocol_mismatch(
    lab: Lab, run_cli: CliRunner, tmp_path: Path
) -> None:
    import ssl

    cert, key = pki.write_chain(tmp_path, "old", [pki.leaf("127.0.0.1", lab.root)])
    with TLSServer(
        cert,
        key,
        minimum_version=ssl.TLSVersion.TLSv1,
        maximum_version=ssl.TLSVersion.TLSv1,
        ciphers="DEFAULT:@SECLEVEL=0",
    ) as server:
        _, report, stderr = run_cli(
            [
                f"127.0.0.1:{server.port}",
                "--cacert",
                str(lab.root_pem),
                "--only",
                "target",
                "--json",
            ]
        )
    assert report is not None, stderr
    finding, confidence, _ = _verdict(report)
    assert finding == "protocol.no_common_version"
    assert confidence == "certain"
