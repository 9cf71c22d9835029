"""The revocation lab serves what it claims, proven with real tools on loopback: `openssl ocsp`,
`openssl crl`, `openssl s_client -status`, `openssl x509` and curl."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from tests.lab import pki
from tests.lab.nginx import require_nginx
from tests.lab.revocation_lab import (
    SCENARIOS,
    OcspResponder,
    RevocationLab,
    delegated_signer,
    index_line,
    require_tools,
    revocation_scenarios,
    s_client_status,
    serial_hex,
)

pytestmark = pytest.mark.lab

TIMEOUT = 10.0


def _run(*args: str | Path, input: bytes = b"") -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [str(arg) for arg in args], input=input, capture_output=True, timeout=TIMEOUT, check=False
    )
    return subprocess.CompletedProcess(
        run.args, run.returncode, run.stdout.decode("utf-8", "replace"), run.stderr.decode()
    )


@pytest.fixture(scope="module")
def rev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RevocationLab]:
    require_tools("openssl", "curl")
    require_nginx()
    with revocation_scenarios(tmp_path_factory.mktemp("revocation"), with_nginx=True) as lab:
        yield lab


def _ocsp(rev: RevocationLab, name: str) -> subprocess.CompletedProcess[str]:
    """`openssl ocsp` asks the responder named in the leaf's AIA about the leaf."""
    scenario = rev[name]
    assert scenario.ocsp_url is not None
    return _run(
        *("openssl", "ocsp", "-issuer", rev.issuer_pem(name), "-cert", scenario.chain_pem),
        *("-url", scenario.ocsp_url, "-CAfile", rev.root_pem, "-timeout", "2"),
    )


def _aia_ocsp(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    (url,) = [d.access_location.value for d in aia if d.access_method.dotted_string.endswith(".1")]
    return str(url)


def _crl_url(cert: x509.Certificate) -> str:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return str(points[0].full_name[0].value)


def test_every_scenario_runs_and_points_at_the_lab(rev: RevocationLab) -> None:
    assert list(rev) == list(SCENARIOS)
    for name, scenario in rev.items():
        cert = scenario.leaf.cert
        assert scenario.host.endswith(".rev.test")
        assert _aia_ocsp(cert) == scenario.ocsp_url
        assert _crl_url(cert) == scenario.crl_url
        assert scenario.ocsp_url is not None
        assert scenario.ocsp_url.startswith("http://127.0.0.1:")
        assert scenario.crl_url is not None
        assert scenario.crl_url.startswith("http://127.0.0.1:")
        # Issued by a lab intermediate under the lab root; the served chain verifies.
        assert scenario.issuer.cert.issuer == rev.root.cert.subject
        assert tuple(scenario) == (scenario.chain_pem, scenario.key, scenario.host, scenario.info)
        assert scenario.key.is_file()
        context = ssl.create_default_context(cafile=str(rev.root_pem))
        with (
            socket.create_connection(("127.0.0.1", scenario.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=scenario.host) as tls,
        ):
            served = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
            assert served == cert, name
        # openssl x509 reads the same URLs back.
        uri = _run("openssl", "x509", "-noout", "-ocsp_uri", "-in", scenario.chain_pem)
        assert uri.stdout.strip() == scenario.ocsp_url, name


def test_openssl_ocsp_says_good(rev: RevocationLab) -> None:
    run = _ocsp(rev, "good")
    assert run.returncode == 0, run.stderr
    assert ": good" in run.stdout
    assert "Response verify OK" in run.stderr + run.stdout
    assert "Next Update:" in run.stdout


def test_openssl_ocsp_says_revoked_with_reason_and_time(rev: RevocationLab) -> None:
    run = _ocsp(rev, "revoked")
    assert run.returncode == 0, run.stderr
    assert ": revoked" in run.stdout
    assert "Reason: keyCompromise" in run.stdout
    revoked_at = rev["revoked"].info["revoked_at"]
    assert isinstance(revoked_at, dt.datetime)
    assert f"Revocation Time: {revoked_at:%b} {revoked_at.day:2d}" in run.stdout
    assert "Response verify OK" in run.stderr + run.stdout


def test_the_roots_responder_says_the_intermediate_is_revoked(rev: RevocationLab) -> None:
    scenario = rev["revoked_intermediate"]
    inter = scenario.issuer
    assert inter is rev.revoked_intermediate
    url = _aia_ocsp(inter.cert)
    assert url == rev.responders["root"].url()
    run = _run(
        *("openssl", "ocsp", "-issuer", rev.pem(rev.root), "-cert", rev.pem(inter)),
        *("-url", url, "-CAfile", rev.root_pem, "-timeout", "2"),
    )
    assert run.returncode == 0, run.stderr
    assert ": revoked" in run.stdout
    assert "Reason: cACompromise" in run.stdout  # the ASN.1 name; index.txt says CACompromise
    # The good intermediate is good at the same responder; the leaf is good at its own.
    good = _run(
        *("openssl", "ocsp", "-issuer", rev.pem(rev.root), "-cert", rev.pem(rev.intermediate)),
        *("-url", url, "-CAfile", rev.root_pem, "-timeout", "2"),
    )
    assert ": good" in good.stdout, good.stderr
    leaf = _ocsp(rev, "revoked_intermediate")
    assert ": good" in leaf.stdout, leaf.stderr


@pytest.mark.parametrize(
    ("name", "error"),
    [
        # OpenSSL 3.0 retries a refused connection until -timeout: it reports a connect timeout.
        ("responder_down", "connect timeout"),
        ("responder_silent", "transfer timeout"),
        ("responder_garbage", "missing asn1 encoding"),
    ],
)
def test_openssl_ocsp_fails_on_misbehaving_responders(
    rev: RevocationLab, name: str, error: str
) -> None:
    began = time.monotonic()
    run = _ocsp(rev, name)
    assert run.returncode != 0
    assert "Error querying OCSP responder" in run.stderr
    assert error in run.stderr
    assert time.monotonic() - began < 5


def test_the_down_responder_refuses_connections(rev: RevocationLab) -> None:
    port = urllib.parse.urlsplit(rev.down_url).port
    assert rev["responder_down"].ocsp_url == rev.down_url
    assert port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_responder_answers_get_requests_too(rev: RevocationLab, tmp_path: Path) -> None:
    # RFC 6960 A.1: GET {url}/{url-encoded base64 of the DER request}.
    request = tmp_path / "request.der"
    response = tmp_path / "response.der"
    made = _run(
        *("openssl", "ocsp", "-issuer", rev.issuer_pem("revoked"), "-cert"),
        *(rev["revoked"].chain_pem, "-reqout", request, "-no_nonce"),
    )
    assert made.returncode == 0, made.stderr
    encoded = urllib.parse.quote(base64.b64encode(request.read_bytes()).decode(), safe="")
    url = f"{rev['revoked'].ocsp_url}{encoded}"
    curl = _run("curl", "-sS", "--max-time", "5", "-o", response, "-w", "%{content_type}", url)
    assert curl.returncode == 0, curl.stderr
    assert curl.stdout == "application/ocsp-response"
    read = _run(
        *("openssl", "ocsp", "-respin", response, "-issuer", rev.issuer_pem("revoked")),
        *("-cert", rev["revoked"].chain_pem, "-CAfile", rev.root_pem),
    )
    assert ": revoked" in read.stdout, read.stderr


def test_crls_list_the_revoked_serials(rev: RevocationLab, tmp_path: Path) -> None:
    revoked = rev["revoked"]
    assert revoked.crl_url is not None
    crl = tmp_path / "intermediate.crl"
    fetched = _run("curl", "-sS", "--max-time", "5", "-o", crl, revoked.crl_url)
    assert fetched.returncode == 0, fetched.stderr
    text = _run("openssl", "crl", "-inform", "DER", "-in", crl, "-text", "-noout")
    assert text.returncode == 0, text.stderr
    assert f"Serial Number: {serial_hex(revoked.leaf.cert.serial_number)}" in text.stdout
    assert "Key Compromise" in text.stdout
    assert "Issuer: CN = Revocation Lab CA" in text.stdout
    assert text.stdout.count("Serial Number:") == 1
    # Signed by the intermediate: openssl verifies it against intermediate + root.
    cafile = tmp_path / "cas.pem"
    cafile.write_bytes(rev.intermediate.pem + rev.root.pem)
    verified = _run("openssl", "crl", "-inform", "DER", "-in", crl, "-CAfile", cafile, "-noout")
    assert "verify OK" in verified.stderr + verified.stdout
    # The good leaf is not listed in the CRL its certificate names.
    assert rev["good"].crl_url == revoked.crl_url
    assert serial_hex(rev["good"].leaf.cert.serial_number) not in text.stdout

    # The root's CRL (named by the revoked intermediate) lists the intermediate.
    root_crl = tmp_path / "root.crl"
    url = _crl_url(rev.revoked_intermediate.cert)
    assert _run("curl", "-sS", "--max-time", "5", "-o", root_crl, url).returncode == 0
    root_text = _run("openssl", "crl", "-inform", "DER", "-in", root_crl, "-text", "-noout")
    serial = serial_hex(rev.revoked_intermediate.cert.serial_number)
    assert f"Serial Number: {serial}" in root_text.stdout
    assert "CA Compromise" in root_text.stdout
    # And the revoked intermediate's own CRL lists nothing.
    empty = tmp_path / "empty.crl"
    empty_url = rev["revoked_intermediate"].crl_url
    assert empty_url is not None
    assert _run("curl", "-sS", "--max-time", "5", "-o", empty, empty_url).returncode == 0
    empty_text = _run("openssl", "crl", "-inform", "DER", "-in", empty, "-text", "-noout")
    assert "No Revoked Certificates." in empty_text.stdout
    # Unknown paths are 404.
    missing = _run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", rev.crl_server.url("/x"))
    assert missing.stdout == "404"


def test_nginx_staples_a_good_response(rev: RevocationLab) -> None:
    scenario = rev["nginx_stapled"]
    output = s_client_status(scenario.port, scenario.host)
    assert "OCSP Response Status: successful" in output
    assert "Cert Status: good" in output
    assert "Next Update:" in output
    # curl demands the staple and verifies it.
    curl = _run(
        *("curl", "-sS", "--cert-status", "--max-time", "5", "--cacert", rev.root_pem),
        *("--resolve", f"{scenario.host}:{scenario.port}:127.0.0.1"),
        f"https://{scenario.host}:{scenario.port}/",
    )
    assert curl.returncode == 0, curl.stderr
    assert curl.stdout == "ok\n"


def test_the_must_staple_server_sends_no_staple(rev: RevocationLab) -> None:
    scenario = rev["must_staple_no_staple"]
    feature = scenario.leaf.cert.extensions.get_extension_for_class(x509.TLSFeature)
    assert list(feature.value) == [x509.TLSFeatureType.status_request]
    assert not feature.critical
    text = _run("openssl", "x509", "-noout", "-text", "-in", scenario.chain_pem)
    assert "TLS Feature" in text.stdout
    assert "status_request" in text.stdout
    output = s_client_status(scenario.port, scenario.host)
    assert "OCSP response: no response sent" in output
    assert "Verify return code" in output
    curl = _run(
        *("curl", "-sS", "--cert-status", "--max-time", "5", "--cacert", rev.root_pem),
        *("--resolve", f"{scenario.host}:{scenario.port}:127.0.0.1"),
        f"https://{scenario.host}:{scenario.port}/",
    )
    assert curl.returncode == 91  # CURLE_SSL_INVALIDCERTSTATUS
    assert "No OCSP response received" in curl.stderr


def test_embedded_scts_parse_back(rev: RevocationLab) -> None:
    cert = rev["sct_3"].leaf.cert
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert not scts.critical
    assert len(scts.value) == 3
    assert [sct.log_id for sct in scts.value] == [pki.lab_log_id(i) for i in (1, 2, 3)]
    assert len({sct.log_id for sct in scts.value}) == 3
    for sct in scts.value:
        assert sct.version == x509.certificate_transparency.Version.v1
        assert abs(sct.timestamp.replace(tzinfo=dt.UTC) - (pki.NOW - pki.DAY)) < dt.timedelta(1)
    text = _run("openssl", "x509", "-noout", "-text", "-in", rev["sct_3"].chain_pem)
    assert text.stdout.count("Signed Certificate Timestamp:") == 3
    assert pki.lab_log_id(1).hex(":").upper()[:20] in text.stdout.replace("\n", "")
    for name in ("sct_none",):
        with pytest.raises(x509.ExtensionNotFound):
            rev[name].leaf.cert.extensions.get_extension_for_oid(
                ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
            )


def test_sct_list_encoding_matches_rfc_6962() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cert = pki.issue("sct.test", issuer=pki.root(), scts=2).cert
    extension = cert.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps
    )
    assert len(extension.value) == 2
    raw = pki.sct_list(2, timestamp=when)
    assert int.from_bytes(raw[:2], "big") == len(raw) - 2
    first_length = int.from_bytes(raw[2:4], "big")
    first = raw[4 : 4 + first_length]
    assert first[0] == 0
    assert first[1:33] == pki.lab_log_id(1)
    assert int.from_bytes(first[33:41], "big") == int(when.timestamp() * 1000)
    assert first[41:43] == b"\x00\x00"
    assert first[43:45] == bytes([4, 3])
    wrapped = pki.sct_list_extension(2, timestamp=when)
    assert wrapped.value[0] == 0x04  # the OCTET STRING around the TLS list
    parsed = pki.issue("sct.test", extensions=[(wrapped, False)]).cert.extensions
    timestamps = [
        sct.timestamp.replace(tzinfo=dt.UTC)
        for sct in parsed.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
    ]
    assert timestamps == [when, when + dt.timedelta(milliseconds=1)]


def test_expiry_is_3_and_20_days_out(rev: RevocationLab) -> None:
    now = dt.datetime.now(dt.UTC)
    for name, days in (("expires_3d", 3), ("expires_20d", 20)):
        scenario = rev[name]
        left = scenario.leaf.cert.not_valid_after_utc - now
        assert dt.timedelta(days=days) - dt.timedelta(hours=1) < left <= dt.timedelta(days=days)
        assert scenario.info["days_left"] == days
        # openssl agrees: still valid a day before, expired a day after.
        pem = scenario.chain_pem
        check = ("openssl", "x509", "-noout", "-in", pem, "-checkend")
        inside = _run(*check, str((days - 1) * 86400))
        after = _run(*check, str((days + 1) * 86400))
        assert inside.returncode == 0
        assert after.returncode == 1
        served = ssl.get_server_certificate(("127.0.0.1", scenario.port), timeout=5)
        assert x509.load_pem_x509_certificate(served.encode()) == scenario.leaf.cert


def test_index_lines_and_a_delegated_signer(tmp_path: Path) -> None:
    require_tools("openssl")
    ca = pki.root("Delegating CA")
    good, bad = pki.leaf("a.test", ca), pki.leaf("b.test", ca)
    line = index_line(bad, revoked_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    status, _, revocation, serial, filename, dn = line.rstrip("\n").split("\t")
    assert (status, revocation, filename, dn) == ("R", "260102000000Z", "unknown", "/CN=b.test")
    assert serial == serial_hex(bad.cert.serial_number)
    assert len(serial) % 2 == 0
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    (tmp_path / "good.pem").write_bytes(good.pem)
    (tmp_path / "bad.pem").write_bytes(bad.pem)
    signer = delegated_signer(ca)
    with OcspResponder(ca, certs=[good], signer=signer, folder=tmp_path / "ocsp") as responder:
        responder.revoke(bad, reason=x509.ReasonFlags.superseded)
        for name, expected in (("good", ": good"), ("bad", ": revoked")):
            run = _run(
                *("openssl", "ocsp", "-issuer", tmp_path / "ca.pem", "-cert"),
                *(
                    tmp_path / f"{name}.pem",
                    "-url",
                    responder.url(),
                    "-CAfile",
                    tmp_path / "ca.pem",
                ),
                *("-timeout", "2", "-resp_text"),
            )
            assert expected in run.stdout, run.stderr
            assert "Response verify OK" in run.stderr
            assert f"Responder Id: CN = {signer.subject_cn}" in run.stdout
        assert "Reason: superseded" in run.stdout
        assert len(responder.requests) == 2
