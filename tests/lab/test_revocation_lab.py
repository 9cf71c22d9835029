"""Revocation, must-staple, certificate transparency and expiry ahead, diagnosed whole with the
local checks on, against the revocation lab: an OCSP responder on loopback (openssl ocsp), CRLs
over plain HTTP, nginx stapling, and responders that are down, silent or answer garbage."""

from __future__ import annotations

import base64
import contextlib
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.lib import sct_tls
from tests.lab import pki
from tests.lab.conftest import CliRunner
from tests.lab.nginx import end_process, free_port
from tests.lab.revocation_lab import RevocationLab, revocation_scenarios
from tests.lab.scenarios import Lab

pytestmark = pytest.mark.lab
TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def rev(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RevocationLab]:
    # Issued under the lab root, which the clean machine trusts and counts as public.
    with revocation_scenarios(tmp_path_factory.mktemp("revocation"), root=lab.root) as running:
        yield running


def diagnose(clean_cli: CliRunner, rev: RevocationLab, name: str, loopback: list[str],
             *extra: str) -> tuple[dict[str, Any], float]:  # fmt: skip
    started = time.monotonic()
    _, report, stderr = clean_cli(
        [*rev[name].args, *loopback, "--connect-timeout", str(TIMEOUT_S), "--json", *extra]
    )
    assert isinstance(report, dict), stderr
    return report, time.monotonic() - started


def findings(report: dict[str, Any], check_id: str = "revocation") -> dict[str, dict[str, Any]]:
    check = next(c for c in report["checks"] if c["id"] == check_id)
    return {f["id"]: f for f in check["findings"]}


# scenario -> (the verdict's finding, or None for "connects, no cause"; a finding of the
# revocation or cert check that must be there, with its variant or None).
EXPECTED: dict[str, tuple[str | None, tuple[str, str, str | None]]] = {
    "good": (None, ("revocation", "cert.not_revoked", None)),
    "revoked": ("cert.revoked", ("revocation", "cert.revoked", None)),
    "revoked_intermediate": ("cert.revoked", ("revocation", "cert.revoked", "intermediate")),
    # The responder fails, the CRL answers: settled, as Windows and browsers settle it.
    "responder_down": (None, ("revocation", "cert.not_revoked", None)),
    "responder_silent": (None, ("revocation", "cert.not_revoked", None)),
    "responder_garbage": (None, ("revocation", "cert.not_revoked", None)),
    "must_staple_no_staple": (
        "cert.must_staple_missing",
        ("revocation", "cert.must_staple_missing", None),
    ),
    "nginx_stapled": (None, ("revocation", "cert.not_revoked", None)),
    "sct_3": (None, ("revocation", "cert.ct_ok", None)),
    "sct_none": ("cert.no_sct", ("revocation", "cert.no_sct", None)),
    "expires_3d": ("cert.expires_soon", ("cert", "cert.expires_soon", "urgent")),
    "expires_20d": (None, ("cert", "cert.expires_soon", None)),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_scenario_gives_its_finding_and_verdict(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str], name: str
) -> None:
    verdict_finding, (check_id, finding_id, variant) = EXPECTED[name]
    report, seconds = diagnose(clean_cli, rev, name, loopback)
    verdict = report["verdict"]
    assert verdict["finding"] == verdict_finding, verdict
    found = findings(report, check_id)
    assert finding_id in found, found
    assert found[finding_id]["params"].get("variant") == variant
    # A responder that never answers costs one timeout, never more (and the run stays short).
    assert seconds < 60


def test_a_revoked_certificate_names_when_and_why(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str]
) -> None:
    report, _ = diagnose(clean_cli, rev, "revoked", loopback)
    params = findings(report)["cert.revoked"]["params"]
    assert params["reason"] == "keyCompromise"
    assert params["source"] == "OCSP"
    assert params["revoked_at"].startswith(rev["revoked"].info["revoked_at"].date().isoformat())
    facts = next(c for c in report["checks"] if c["id"] == "revocation")["facts"]
    assert facts["checked"][0]["answers"][0]["outcome"] == "revoked"


def test_the_staple_spares_the_responder(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str]
) -> None:
    before = len(rev.responders["intermediate"].requests)
    report, _ = diagnose(clean_cli, rev, "nginx_stapled", loopback)
    tls = next(c for c in report["checks"] if c["id"] == "tls")["facts"]
    assert tls["ocsp_staple"]
    facts = next(c for c in report["checks"] if c["id"] == "revocation")["facts"]
    assert facts["stapled"] is True
    assert facts["must_staple"] is True
    leaf = facts["checked"][0]
    assert [a["source"] for a in leaf["answers"]] == ["stapled"]
    assert len(rev.responders["intermediate"].requests) == before


def test_offline_revocation_is_not_checked_and_says_so(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str]
) -> None:
    report, _ = diagnose(clean_cli, rev, "revoked", loopback, "--offline")
    assert findings(report)["cert.revocation_not_checked"]["params"]["variant"] == "offline"
    assert report["verdict"]["finding"] != "cert.revoked"


def test_a_responder_that_never_answers_costs_one_timeout(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str]
) -> None:
    with crl_missing(rev):
        report, _ = diagnose(clean_cli, rev, "responder_silent", loopback)
    check = next(c for c in report["checks"] if c["id"] == "revocation")
    # The responder's timeout, then the CRL: bounded by twice the network timeout and a bit.
    assert check["duration_s"] < 3 * TIMEOUT_S + 1
    answers = check["facts"]["checked"][0]["answers"]
    assert answers[0]["outcome"] == "unreachable"
    assert answers[-1]["source"] == "crl"


@contextlib.contextmanager
def crl_missing(rev: RevocationLab) -> Iterator[None]:
    """The intermediate's CRL answers 404 meanwhile: only the responder is left to ask."""
    saved = rev.crl_server.crls.pop("/intermediate.crl")
    try:
        yield
    finally:
        rev.crl_server.crls["/intermediate.crl"] = saved


# scenario -> what is named when its responder fails and no CRL answers either.
UNANSWERED = {
    "responder_down": ("cert.revocation_unreachable", "unreachable"),
    "responder_silent": ("cert.revocation_unreachable", "unreachable"),
    "responder_garbage": ("cert.revocation_invalid", "invalid"),
}


@pytest.mark.parametrize("name", list(UNANSWERED))
def test_when_no_source_answers_the_failure_is_named(
    clean_cli: CliRunner, rev: RevocationLab, loopback: list[str], name: str
) -> None:
    finding_id, outcome = UNANSWERED[name]
    settled, _ = diagnose(clean_cli, rev, name, loopback)
    answers = next(c for c in settled["checks"] if c["id"] == "revocation")["facts"]["checked"]
    assert [a["outcome"] for a in answers[0]["answers"]] == [outcome, "good"]
    with crl_missing(rev):
        report, _ = diagnose(clean_cli, rev, name, loopback)
    params = findings(report)[finding_id]["params"]
    assert rev[name].ocsp_url in params["urls"]
    assert params["detail"]
    # Browsers and OpenSSL go on without an answer: here it is no cause, only noted.
    assert report["verdict"]["finding"] is None
    assert report["verdict"]["connects"] is True


@pytest.fixture
def s_server_with_tls_scts(
    lab: Lab, tmp_path: Path
) -> Iterator[tuple[str, int, tuple[bytes, ...]]]:
    """openssl s_server sending two SCTs in the TLS extension (`-serverinfo`) for a certificate
    that embeds none: the third way a server delivers them."""
    host = "tls-scts.rev.test"
    inter = pki.intermediate("TLS SCT Lab CA", lab.root)
    leaf, key = pki.write_chain(tmp_path, "tls-scts", [pki.leaf(host, inter, scts=0)])
    issuer = pki.write_certs(tmp_path / "issuer.pem", [inter])
    extension = (18).to_bytes(2, "big")
    data = pki.sct_list(2)
    block = base64.encodebytes(extension + len(data).to_bytes(2, "big") + data).decode()
    info = tmp_path / "serverinfo.pem"
    info.write_text(f"-----BEGIN SERVERINFO FOR CT-----\n{block}-----END SERVERINFO FOR CT-----\n")
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-quiet", "-www", "-accept", f"127.0.0.1:{port}",
         "-cert", str(leaf), "-cert_chain", str(issuer), "-key", str(key),
         "-serverinfo", str(info)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield host, port, tuple(pki.lab_log_id(i) for i in (1, 2))
    finally:
        end_process(server, signal.SIGTERM, 5.0)


def test_scts_sent_in_the_tls_extension_count(
    clean_cli: CliRunner,
    loopback: list[str],
    s_server_with_tls_scts: tuple[str, int, tuple[bytes, ...]],
) -> None:
    host, port, logs = s_server_with_tls_scts
    fetched = sct_tls.fetch("127.0.0.1", port, sni=host, opening=None, timeout=TIMEOUT_S,
                            cancel=threading.Event())  # fmt: skip
    assert [s.log_id for s in fetched] == [log.hex() for log in logs]
    assert {s.source for s in fetched} == {"tls"}
    _, report, stderr = clean_cli(
        [f"{host}:{port}", "--resolve", f"{host}:{port}:127.0.0.1", *loopback,
         "--connect-timeout", str(TIMEOUT_S), "--json"]
    )  # fmt: skip
    assert isinstance(report, dict), stderr
    ct = findings(report)["cert.ct_ok"]["params"]
    assert (ct["count"], ct["logs"], ct["required"]) == (2, 2, 2)
    assert "cert.no_sct" not in findings(report)
    assert report["verdict"]["finding"] != "cert.no_sct"
