"""Real interception, captive portals and broken proxies on loopback, diagnosed through the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import pki
from tests.lab.conftest import CliRunner
from tests.lab.nginx import free_port
from tests.lab.scenarios import ROOT, Lab
from tests.lab.servers import (
    LOGIN_PAGE,
    NO_CONTENT,
    PROXY_AUTH,
    REDIRECT,
    CannedServer,
    TLSServer,
    closed_port,
)

pytestmark = pytest.mark.lab

MITMDUMP = Path("/usr/bin/mitmdump")
MISSING_MESSAGE = "install mitmproxy: packaging/install-system-packages.sh test"
ALLOW_MISSING_ENV = "HD_ALLOW_MISSING_LAB"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
CLI_TIMEOUT = 60
SECRET = "s3cret-lab-password"


@dataclass(frozen=True)
class Mitmproxy:
    """A running mitmdump in regular proxy mode and the CA it signs with."""

    port: int
    ca_pem: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _require_mitmproxy() -> None:
    if MITMDUMP.is_file() and os.access(MITMDUMP, os.X_OK):
        return
    if os.environ.get(ALLOW_MISSING_ENV) == "1":
        pytest.skip(MISSING_MESSAGE)
    pytest.fail(MISSING_MESSAGE, pytrace=False)


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@pytest.fixture(scope="module")
def mitmproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmproxy]:
    """mitmdump on a loopback port, upstream verification off (lab servers are private)."""
    _require_mitmproxy()
    confdir = tmp_path_factory.mktemp("mitmproxy")
    port = free_port()
    log = (confdir / "mitmdump.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    process = subprocess.Popen(
        [
            str(MITMDUMP),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--set",
            f"confdir={confdir}",
            "--set",
            "ssl_insecure=true",
            "-q",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        ca = confdir / "mitmproxy-ca-cert.pem"
        deadline = time.monotonic() + START_TIMEOUT
        while not (ca.is_file() and _accepts(port)):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (confdir / "mitmdump.log").read_text(errors="replace")
                pytest.fail(f"mitmdump did not start: {output[-2000:]}", pytrace=False)
            time.sleep(0.1)
        yield Mitmproxy(port, ca)
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
        log.close()


@pytest.fixture(scope="module")
def no_content() -> Iterator[CannedServer]:
    """A portal probe answered as on an open network, so that runs never reach the internet."""
    with CannedServer(NO_CONTENT) as server:
        yield server


def _local_args(canary: str, probe: str, *extra: str) -> list[str]:
    return [
        "--only",
        "local",
        "--json",
        "--canary",
        canary,
        "--portal-probe",
        probe,
        "--ntp-server",
        f"127.0.0.1:{closed_port()}",
        "--connect-timeout",
        "3",
        *extra,
    ]


def _cli_with_env(args: Sequence[str], env_extra: Mapping[str, str]) -> tuple[int, dict, str, str]:
    """Like `run_cli`, but with proxy variables of the test's choosing (run_cli removes them)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(env_extra)
    done = subprocess.run(
        [sys.executable, "-m", "checks", "check", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stdout, done.stderr


def _check(report: object, check_id: str) -> dict:
    assert isinstance(report, dict)
    return next(c for c in report["checks"] if c["id"] == check_id)


def _finding(report: object, finding_id: str) -> dict:
    assert isinstance(report, dict)
    found = [f for c in report["checks"] for f in c["findings"] if f["id"] == finding_id]
    assert found, f"no {finding_id} in {[c['id'] + ':' + c['status'] for c in report['checks']]}"
    return found[0]


def _trusting(folder: Path, name: str, *pems: Path | pki.Issued) -> Path:
    """A --cacert file: what "this machine trusts" for the run."""
    data = b"".join(p.read_bytes() if isinstance(p, Path) else p.pem for p in pems)
    path = folder / name
    path.write_bytes(data)
    return path


def test_mitmproxy_on_the_path_is_detected_and_named(
    lab: Lab, mitmproxy: Mitmproxy, no_content: CannedServer, tmp_path: Path
) -> None:
    canary = lab["ip_san"].target
    cacert = _trusting(tmp_path, "trusted.pem", lab.root_pem, mitmproxy.ca_pem)
    proxy_url = f"http://lab:{SECRET}@127.0.0.1:{mitmproxy.port}"
    code, report, stdout, stderr = _cli_with_env(
        _local_args(
            canary,
            f"http://127.0.0.1:{no_content.port}/generate_204",
            "--cacert",
            str(cacert),
            "--known-roots",
            str(lab.root_pem),
        ),
        {"HTTPS_PROXY": proxy_url},
    )
    assert code == 2, stderr
    assert "Traceback" not in stderr
    detected = _finding(report, "interception.detected")
    assert detected["status"] == "fail"
    assert detected["params"]["product"] == "mitmproxy"
    assert detected["params"]["variant"] == "product"
    assert detected["params"]["canaries"] == [canary]
    assert detected["params"]["trusted"] is True
    assert "mitmproxy" in detected["title"]
    probe = _check(report, "interception")["facts"]["probes"][0]
    assert probe["via"] == f"http://127.0.0.1:{mitmproxy.port}"
    assert probe["anchor"]["subject"] == "mitmproxy"
    assert report["verdict"]["finding"] == "interception.detected"
    # Supporting evidence and the proxy setting that routes through it.
    assert "mitmproxy" in _finding(report, "security_software.present")["params"]["products"]
    configured = _finding(report, "proxy.configured")
    assert configured["params"]["variant"] == "env"
    assert _finding(report, "captive_portal.none")["status"] == "pass"
    # The proxy password never reaches the report.
    assert SECRET not in stdout
    assert SECRET not in stderr


def test_the_same_canary_without_the_proxy_is_clean(
    lab: Lab, no_content: CannedServer, run_cli: CliRunner
) -> None:
    canary = lab["ip_san"].target
    _, report, stderr = run_cli(
        _local_args(
            canary,
            f"http://127.0.0.1:{no_content.port}/generate_204",
            "--cacert",
            str(lab.root_pem),
            "--known-roots",
            str(lab.root_pem),
        )
    )
    assert report is not None, stderr
    none = _finding(report, "interception.none")
    assert none["params"]["canaries"] == [canary]
    assert _check(report, "interception")["status"] == "pass"


@pytest.fixture(scope="module")
def kaspersky_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pki.Issued, int]]:
    """A loopback site whose chain ends in a root named like Kaspersky's interception root."""
    folder = tmp_path_factory.mktemp("kaspersky")
    root = pki.root("Kaspersky Anti-Virus Personal Root Certificate", org="AO Kaspersky Lab")
    chain, key = pki.write_chain(folder, "site", [pki.leaf("127.0.0.1", root)])
    with TLSServer(chain, key) as server:
        yield root, server.port


def test_a_root_named_like_a_product_is_named_as_that_product(
    lab: Lab,
    kaspersky_site: tuple[pki.Issued, int],
    no_content: CannedServer,
    run_cli: CliRunner,
    tmp_path: Path,
) -> None:
    root, port = kaspersky_site
    probe = f"http://127.0.0.1:{no_content.port}/generate_204"
    trusted = _trusting(tmp_path, "trusted.pem", lab.root_pem, root)
    known = ["--known-roots", str(lab.root_pem)]
    _, report, stderr = run_cli(
        _local_args(f"127.0.0.1:{port}", probe, "--cacert", str(trusted), *known)
    )
    assert report is not None, stderr
    detected = _finding(report, "interception.detected")
    assert (detected["params"]["product"], detected["params"]["variant"]) == (
        "Kaspersky",
        "product",
    )
    # The product's own way to stop intercepting is chosen when the text is shown.
    assert detected["params"]["product_id"] == "kaspersky"
    assert any("Encrypted connections scanning" in step for step in detected["fix"])
    assert any("Kaspersky" in step for step in detected["fix"])
    # Not trusted here: still interception by Kaspersky, never just "an untrusted root".
    _, report, stderr = run_cli(
        _local_args(f"127.0.0.1:{port}", probe, "--cacert", str(lab.root_pem), *known)
    )
    assert report is not None, stderr
    detected = _finding(report, "interception.detected")
    assert (detected["params"]["product"], detected["params"]["variant"]) == (
        "Kaspersky",
        "untrusted",
    )


@pytest.mark.parametrize(
    ("response", "variant", "location_host"),
    [(REDIRECT, "redirect", "login.portal.test"), (LOGIN_PAGE, None, None)],
    ids=["302", "200-login-page"],
)
def test_a_captive_portal_answering_the_probe_is_detected(
    lab: Lab,
    run_cli: CliRunner,
    response: bytes,
    variant: str | None,
    location_host: str | None,
) -> None:
    with CannedServer(response) as portal:
        probe = f"http://127.0.0.1:{portal.port}/generate_204"
        _, report, stderr = run_cli(
            _local_args(
                lab["ip_san"].target,
                probe,
                "--cacert",
                str(lab.root_pem),
                "--known-roots",
                str(lab.root_pem),
            )
        )
    assert report is not None, stderr
    detected = _finding(report, "captive_portal.detected")
    assert detected["status"] == "fail"
    assert detected["params"]["probe"] == probe
    assert detected["params"].get("variant") == variant
    assert detected["params"]["location_host"] == location_host
    assert report["checks"][0]["id"] == "captive_portal"
    assert report["verdict"]["finding"] == "captive_portal.detected"


def test_a_proxy_that_refuses_connections_is_a_clear_finding(
    lab: Lab, no_content: CannedServer
) -> None:
    code, report, _, stderr = _cli_with_env(
        _local_args(
            lab["ip_san"].target,
            f"http://127.0.0.1:{no_content.port}/generate_204",
            "--known-roots",
            str(lab.root_pem),
        ),
        {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}"},
    )
    assert "Traceback" not in stderr
    assert code == 2
    refused = _finding(report, "proxy.unreachable")
    assert refused["params"]["variant"] == "refused"
    assert "refuses" in refused["title"]
    # One card says it, and the other names it as what stopped it: never PASS beside FAIL.
    assert refused in _check(report, "proxy")["findings"]
    assert _check(report, "proxy")["status"] == "fail"
    interception = _check(report, "interception")
    assert interception["status"] == "skip"
    assert interception["blocked_by"] == "proxy.unreachable"
    assert report["verdict"]["finding"] == "proxy.unreachable"


def test_a_proxy_that_wants_a_sign_in_is_a_clear_finding(
    lab: Lab, no_content: CannedServer
) -> None:
    with CannedServer(PROXY_AUTH) as corporate:
        code, report, stdout, stderr = _cli_with_env(
            _local_args(
                lab["ip_san"].target,
                f"http://127.0.0.1:{no_content.port}/generate_204",
                "--known-roots",
                str(lab.root_pem),
            ),
            {"https_proxy": f"http://alice:{SECRET}@127.0.0.1:{corporate.port}"},
        )
    assert "Traceback" not in stderr
    assert code == 2
    auth = _finding(report, "proxy.auth_required")
    assert auth in _check(report, "proxy")["findings"]
    assert _check(report, "interception")["blocked_by"] == "proxy.auth_required"
    assert auth["params"]["schemes"] == "NTLM, Basic"
    assert auth["params"]["proxy"] == f"http://127.0.0.1:{corporate.port}"
    assert "407" in auth["title"]
    assert SECRET not in stdout
