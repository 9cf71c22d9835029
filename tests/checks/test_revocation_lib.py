"""Revocation machinery: OCSP and CRL answers from loopback servers, judged; the bounded GET."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
import urllib.parse
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from checks.core.check import Cancelled
from checks.lib import aia, http_get, revocation
from tests.lab import pki
from tests.lab.servers import CannedServer, SilentServer, closed_port

NOW = pki.NOW
HOUR = dt.timedelta(hours=1)
DAY = pki.DAY
TIMEOUT = 5.0
CA = pki.root("Revocation Test Root")
ISSUER = pki.intermediate("Revocation Test CA", CA)
LEAF = pki.leaf("revoked.test", ISSUER)
OTHER = pki.leaf("other.test", ISSUER)
STRANGER = pki.root("Stranger Root")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own proxy settings must not route loopback requests elsewhere.
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def http(body: bytes, *, status: str = "200 OK", kind: str = "application/ocsp-response") -> bytes:
    head = f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


NOT_FOUND = b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def cancel() -> threading.Event:
    return threading.Event()


# --- OCSP responses -----------------------------------------------------------------------


def ocsp_response(
    *,
    cert: pki.Issued = LEAF,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: dt.datetime = NOW - HOUR,
    next_update: dt.datetime | None = NOW + DAY,
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    signer: pki.Issued = ISSUER,
    responder: pki.Issued | None = None,
    enclose: Sequence[pki.Issued] = (),
) -> bytes:
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert.cert,
            issuer=ISSUER.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, (responder or ISSUER).cert)
    )
    if enclose:
        builder = builder.certificates([item.cert for item in enclose])
    response = builder.sign(signer.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def delegate(*, purpose: bool = True, issuer: pki.Issued = ISSUER) -> pki.Issued:
    usages = [ExtendedKeyUsageOID.OCSP_SIGNING if purpose else ExtendedKeyUsageOID.CLIENT_AUTH]
    return pki.issue(
        "Revocation Test OCSP Responder",
        issuer=issuer,
        extended_key_usage=False,
        extensions=[(x509.ExtendedKeyUsage(usages), False)],
    )


def judge(der: bytes, cert: pki.Issued = LEAF) -> revocation.OcspResult:
    return revocation.judge_ocsp_response(der, cert.cert, ISSUER.cert, now=NOW)


def test_a_good_response_is_good_and_says_when() -> None:
    result = judge(ocsp_response())
    assert result.outcome == "good"
    assert result.this_update == NOW - HOUR
    assert result.next_update == NOW + DAY
    assert result.produced_at is not None
    assert result.responder is not None
    assert result.responder.startswith("key ")
    assert result.detail is None
    assert result.url is None
    assert result.scts == ()


def test_a_revoked_response_gives_the_time_and_the_reason() -> None:
    when = NOW - 3 * DAY
    der = ocsp_response(
        status=ocsp.OCSPCertStatus.REVOKED,
        revoked_at=when,
        reason=x509.ReasonFlags.key_compromise,
    )
    result = judge(der)
    assert (result.outcome, result.revoked_at, result.reason) == ("revoked", when, "keyCompromise")


def test_an_old_revoked_response_still_proves_revocation() -> None:
    der = ocsp_response(
        status=ocsp.OCSPCertStatus.REVOKED,
        revoked_at=NOW - 30 * DAY,
        this_update=NOW - 20 * DAY,
        next_update=NOW - 10 * DAY,
    )
    assert judge(der).outcome == "revoked"


def test_unknown_is_unknown() -> None:
    assert judge(ocsp_response(status=ocsp.OCSPCertStatus.UNKNOWN)).outcome == "unknown"


def test_a_response_about_another_certificate_is_invalid() -> None:
    result = judge(ocsp_response(cert=OTHER))
    assert result.outcome == "invalid"
    assert result.detail == "it is about another certificate"


def test_a_response_signed_by_a_stranger_is_invalid() -> None:
    result = judge(ocsp_response(signer=STRANGER, responder=STRANGER))
    assert result.outcome == "invalid"
    assert result.detail == "its signature does not verify with the issuer's key"


def test_a_tampered_signature_is_invalid() -> None:
    der = bytearray(ocsp_response())
    der[-1] ^= 0x01  # the signature's last byte: no certificates follow it
    assert judge(bytes(der)).outcome == "invalid"


def test_a_delegated_responder_with_the_ocsp_signing_purpose_is_trusted() -> None:
    responder = delegate()
    der = ocsp_response(signer=responder, responder=responder, enclose=[responder])
    assert judge(der).outcome == "good"


def test_a_delegated_responder_without_the_ocsp_signing_purpose_is_not() -> None:
    responder = delegate(purpose=False)
    result = judge(ocsp_response(signer=responder, responder=responder, enclose=[responder]))
    assert result.outcome == "invalid"
    assert result.detail is not None
    assert "OCSP Signing" in result.detail


def test_a_delegated_responder_the_issuer_did_not_sign_is_not_trusted() -> None:
    responder = delegate(issuer=STRANGER)
    result = judge(ocsp_response(signer=responder, responder=responder, enclose=[responder]))
    assert result.outcome == "invalid"
    assert result.detail is not None
    assert "did not sign" in result.detail


def test_a_delegated_signature_without_the_responder_certificate_is_invalid() -> None:
    responder = delegate()
    assert judge(ocsp_response(signer=responder, responder=responder)).outcome == "invalid"


def test_a_response_past_its_next_update_is_stale() -> None:
    result = judge(ocsp_response(this_update=NOW - 9 * DAY, next_update=NOW - 2 * DAY))
    assert result.outcome == "stale"
    assert result.next_update == NOW - 2 * DAY
    assert result.detail is not None
    assert "next update" in result.detail


def test_a_response_without_next_update_is_not_stale() -> None:
    assert judge(ocsp_response(next_update=None)).outcome == "good"


def test_a_response_from_the_future_is_invalid_but_a_little_skew_is_fine() -> None:
    assert judge(ocsp_response(this_update=NOW + 2 * DAY, next_update=NOW + 9 * DAY)).outcome == (
        "invalid"
    )
    assert judge(ocsp_response(this_update=NOW + dt.timedelta(minutes=2))).outcome == "good"


def test_an_error_status_is_reported_in_words() -> None:
    failed = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    result = judge(failed.public_bytes(serialization.Encoding.DER))
    assert result.outcome == "error_status"
    assert result.detail == "the responder does not answer for this certificate"


@pytest.mark.parametrize("garbage", [b"", b"<html>hello</html>", b"\x30\x03\x0a\x01\x00"])
def test_garbage_is_invalid_never_an_exception(garbage: bytes) -> None:
    result = judge(garbage)
    assert result.outcome == "invalid"


def test_must_staple_and_the_addresses_come_from_the_certificate() -> None:
    access = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("http://ocsp.test/"),
            ),
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("ldap://ocsp.test/"),
            ),
        ]
    )
    points = x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                [x509.UniformResourceIdentifier("http://crl.test/ca.crl")], None, None, None
            ),
            x509.DistributionPoint(
                [x509.UniformResourceIdentifier("ldap://crl.test/x")], None, None, None
            ),
        ]
    )
    feature = x509.TLSFeature([x509.TLSFeatureType.status_request])
    leaf = pki.leaf(
        "staple.test",
        ISSUER,
        extensions=[(access, False), (points, False), (feature, False)],
    ).cert
    assert revocation.ocsp_urls(leaf) == ("http://ocsp.test/",)
    assert revocation.crl_urls(leaf) == ("http://crl.test/ca.crl",)
    assert revocation.must_staple(leaf) is True
    assert revocation.must_staple(LEAF.cert) is False
    assert revocation.ocsp_urls(LEAF.cert) == ()
    assert revocation.crl_urls(LEAF.cert) == ()


# --- OCSP over HTTP -----------------------------------------------------------------------


def ask(url: str, cancel: threading.Event, timeout: float = TIMEOUT) -> revocation.OcspResult:
    return revocation.check_ocsp(
        LEAF.cert, ISSUER.cert, url, timeout=timeout, cancel=cancel, now=NOW
    )


def test_check_ocsp_sends_an_rfc_5019_get_and_judges_the_answer(cancel: threading.Event) -> None:
    with CannedServer(http(ocsp_response())) as server:
        url = f"http://127.0.0.1:{server.port}/ocsp"
        result = ask(url, cancel)
    assert (result.outcome, result.url, result.via_proxy) == ("good", url, False)
    line = server.requests[0].split(b"\r\n", 1)[0].decode("ascii")
    method, path, version = line.split(" ")
    assert (method, version) == ("GET", "HTTP/1.0")
    assert path.startswith("/ocsp/")
    request = ocsp.load_der_ocsp_request(base64.b64decode(urllib.parse.unquote(path[6:])))
    assert request.serial_number == LEAF.cert.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert b"Accept: application/ocsp-response" in server.requests[0]


def test_check_ocsp_revoked_over_http(cancel: threading.Event) -> None:
    der = ocsp_response(
        status=ocsp.OCSPCertStatus.REVOKED,
        revoked_at=NOW - DAY,
        reason=x509.ReasonFlags.superseded,
    )
    with CannedServer(http(der)) as server:
        result = ask(f"http://127.0.0.1:{server.port}/", cancel)
    assert (result.outcome, result.reason) == ("revoked", "superseded")


def test_http_404_is_unreachable_and_says_so(cancel: threading.Event) -> None:
    with CannedServer(NOT_FOUND) as server:
        result = ask(f"http://127.0.0.1:{server.port}/", cancel)
    assert (result.outcome, result.detail) == ("unreachable", "HTTP 404 Not Found")


def test_garbage_over_http_is_invalid(cancel: threading.Event) -> None:
    with CannedServer(http(b"<html>captive portal</html>", kind="text/html")) as server:
        result = ask(f"http://127.0.0.1:{server.port}/", cancel)
    assert (result.outcome, result.detail) == ("invalid", "not an OCSP response")


def test_an_oversized_answer_is_cut_off(cancel: threading.Event) -> None:
    with CannedServer(http(b"\0" * (revocation.OCSP_MAX_BYTES + 1))) as server:
        result = ask(f"http://127.0.0.1:{server.port}/", cancel)
    assert (result.outcome, result.detail) == ("unreachable", "over 64 KB")


def test_a_responder_that_never_answers_is_given_up_on_in_time(cancel: threading.Event) -> None:
    with SilentServer() as server:
        started = time.monotonic()
        result = ask(f"http://127.0.0.1:{server.port}/", cancel, timeout=1.0)
        elapsed = time.monotonic() - started
    assert result.outcome == "unreachable"
    assert result.detail == "no complete answer within 1 s"
    assert elapsed < 2.0


def test_a_refused_port_is_unreachable(cancel: threading.Event) -> None:
    result = ask(f"http://127.0.0.1:{closed_port()}/", cancel)
    assert (result.outcome, result.detail) == ("unreachable", "the server refused the connection")


def test_a_non_http_address_is_unreachable_without_a_request(cancel: threading.Event) -> None:
    result = ask("https://ocsp.test/", cancel)
    assert (result.outcome, result.detail) == ("unreachable", "not an http:// address")


def test_cancel_stops_a_waiting_request(cancel: threading.Event) -> None:
    with SilentServer() as server:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            ask(f"http://127.0.0.1:{server.port}/", cancel, timeout=10.0)
        assert time.monotonic() - started < 2.0


class _Proxy:
    """A forward proxy stand-in: records the request line, answers with the canned response."""

    def __init__(self, response: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = CannedServer(response)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{self.server.port}")

    def __enter__(self) -> CannedServer:
        return self.server.start()

    def __exit__(self, *_: object) -> None:
        self.server.stop()


def test_the_computers_http_proxy_carries_the_request(
    cancel: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _Proxy(http(ocsp_response()), monkeypatch) as proxy:
        result = ask("http://ocsp.revocation.test/", cancel)
    assert (result.outcome, result.via_proxy) == ("good", True)
    line = proxy.requests[0].split(b"\r\n", 1)[0].decode("ascii")
    assert line.startswith("GET http://ocsp.revocation.test/")
    assert b"Host: ocsp.revocation.test\r\n" in proxy.requests[0]


def test_a_proxy_that_refuses_is_named(
    cancel: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")
    result = ask("http://ocsp.revocation.test/", cancel)
    assert (result.outcome, result.via_proxy) == ("unreachable", True)
    assert result.detail == "the proxy refused the connection"


def test_no_proxy_sends_the_request_direct(
    cancel: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with CannedServer(http(ocsp_response())) as server:
        result = ask(f"http://127.0.0.1:{server.port}/", cancel)
    assert (result.outcome, result.via_proxy) == ("good", False)


# --- CRLs ---------------------------------------------------------------------------------


def crl(
    *,
    revoked: Sequence[tuple[int, x509.ReasonFlags | None]] = (),
    last_update: dt.datetime = NOW - DAY,
    next_update: dt.datetime = NOW + 6 * DAY,
    signer: pki.Issued = ISSUER,
    issuer_name: x509.Name | None = None,
    pem: bool = False,
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name or ISSUER.cert.subject)
        .last_update(last_update)
        .next_update(next_update)
    )
    for serial, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    signed = builder.sign(signer.key, hashes.SHA256())
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    return signed.public_bytes(encoding)


def check_crl(
    body: bytes, cancel: threading.Event, *, max_bytes: int = revocation.CRL_MAX_BYTES
) -> revocation.CrlResult:
    with CannedServer(http(body, kind="application/pkix-crl")) as server:
        url = f"http://127.0.0.1:{server.port}/ca.crl"
        result = revocation.check_crl(
            LEAF.cert,
            ISSUER.cert,
            url,
            timeout=TIMEOUT,
            cancel=cancel,
            now=NOW,
            max_bytes=max_bytes,
        )
    assert result.url == url
    return result


def test_a_crl_that_does_not_list_the_certificate_is_good(cancel: threading.Event) -> None:
    result = check_crl(crl(revoked=[(OTHER.cert.serial_number, None)]), cancel)
    assert (result.outcome, result.this_update, result.next_update) == (
        "good",
        NOW - DAY,
        NOW + 6 * DAY,
    )
    assert result.size is not None
    assert result.size > 0


def test_a_crl_that_lists_the_certificate_says_revoked_why_and_when(
    cancel: threading.Event,
) -> None:
    body = crl(revoked=[(LEAF.cert.serial_number, x509.ReasonFlags.key_compromise)], pem=True)
    result = check_crl(body, cancel)
    assert (result.outcome, result.reason, result.revoked_at) == (
        "revoked",
        "keyCompromise",
        NOW - DAY,
    )


def test_a_crl_entry_without_a_reason_is_still_revoked(cancel: threading.Event) -> None:
    result = check_crl(crl(revoked=[(LEAF.cert.serial_number, None)]), cancel)
    assert (result.outcome, result.reason) == ("revoked", None)


def test_a_crl_past_its_next_update_is_stale(cancel: threading.Event) -> None:
    result = check_crl(crl(last_update=NOW - 9 * DAY, next_update=NOW - DAY), cancel)
    assert result.outcome == "stale"


def test_a_crl_signed_by_another_key_is_invalid(cancel: threading.Event) -> None:
    result = check_crl(crl(signer=STRANGER), cancel)
    assert (result.outcome, result.detail) == (
        "invalid",
        "its signature does not verify with the issuer's key",
    )


def test_a_crl_from_another_issuer_is_invalid(cancel: threading.Event) -> None:
    result = check_crl(crl(signer=STRANGER, issuer_name=STRANGER.cert.subject), cancel)
    assert result.outcome == "invalid"
    assert result.detail is not None
    assert "Stranger Root" in result.detail


def test_a_garbage_crl_is_invalid(cancel: threading.Event) -> None:
    result = check_crl(b"this is not a CRL", cancel)
    assert (result.outcome, result.detail) == ("invalid", "not a CRL")


def test_a_crl_over_the_cap_is_not_read(cancel: threading.Event) -> None:
    result = check_crl(b"\0" * 4096, cancel, max_bytes=2048)
    assert (result.outcome, result.detail) == ("unreachable", "over 2 KB")


def test_an_unreachable_crl(cancel: threading.Event) -> None:
    result = revocation.check_crl(
        LEAF.cert,
        ISSUER.cert,
        f"http://127.0.0.1:{closed_port()}/ca.crl",
        timeout=TIMEOUT,
        cancel=cancel,
        now=NOW,
    )
    assert result.outcome == "unreachable"


# --- the bounded GET itself, and AIA on top of it -------------------------------------------


def get(server: CannedServer, path: str = "/x", **options: object) -> http_get.HttpResult:
    url = f"http://127.0.0.1:{server.port}{path}"
    return http_get.get(
        url,
        max_bytes=int(options.pop("max_bytes", 1024)),  # type: ignore[call-overload]
        timeout=float(options.pop("timeout", TIMEOUT)),  # type: ignore[arg-type]
        cancel=threading.Event(),
    )


def test_get_decodes_a_chunked_answer_even_to_http_1_0() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b; x=y\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    with CannedServer(answer) as server:
        result = get(server)
    assert (result.status, result.body, result.content_type) == (200, b"hello world", "a/b")


def test_get_stops_reading_once_the_announced_body_is_complete() -> None:
    # keep_open: the server ignores "Connection: close"; Content-Length says when it is done.
    with CannedServer(http(b"abc"), keep_open=True) as server:
        started = time.monotonic()
        result = get(server, timeout=3.0)
        assert time.monotonic() - started < 1.5
    assert result.body == b"abc"


def test_get_reports_an_answer_cut_short() -> None:
    with CannedServer(b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc") as server:
        result = get(server)
    assert (result.body, result.error) == (None, "the answer was cut short")


def test_get_reports_no_http_answer() -> None:
    with CannedServer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as server:
        result = get(server)
    assert (result.status, result.error) == (None, "no HTTP answer")


def test_get_follows_an_http_redirect_but_not_to_https() -> None:
    with CannedServer(http(b"moved here")) as target:
        moved = f"HTTP/1.0 301 Moved\r\nLocation: http://127.0.0.1:{target.port}/new\r\n\r\n"
        with CannedServer(moved.encode()) as first:
            result = get(first, "/old")
    assert result.body == b"moved here"
    assert result.url == f"http://127.0.0.1:{first.port}/old"
    assert target.requests[0].startswith(b"GET /new HTTP/1.0")
    with CannedServer(b"HTTP/1.0 302 Found\r\nLocation: https://a.test/x\r\n\r\n") as server:
        result = get(server)
    assert result.error == "redirected to https://a.test/x, which is not plain HTTP"


def test_get_names_the_proxys_sign_in_request(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    with _Proxy(answer, monkeypatch):
        result = http_get.get(
            "http://a.test/", max_bytes=10, timeout=TIMEOUT, cancel=threading.Event()
        )
    assert result.via_proxy is True
    assert result.status == 407
    assert result.error is not None
    assert "sign-in" in result.error


@pytest.fixture
def issuer_der() -> bytes:
    return ISSUER.cert.public_bytes(serialization.Encoding.DER)


def test_aia_fetch_still_gets_the_issuer_directly_and_through_the_proxy(
    issuer_der: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancel = threading.Event()
    with CannedServer(http(issuer_der, kind="application/pkix-cert")) as server:
        got = aia.fetch(f"http://127.0.0.1:{server.port}/ca.der", timeout=TIMEOUT, cancel=cancel)
    assert (got.certificates, got.error, got.via_proxy) == ((ISSUER.cert,), None, False)
    assert server.requests[0].startswith(b"GET /ca.der HTTP/1.0\r\n")
    with _Proxy(http(issuer_der), monkeypatch) as proxy:
        got = aia.fetch("http://aia.revocation.test/ca.der", timeout=TIMEOUT, cancel=cancel)
    assert (got.certificates, got.via_proxy) == ((ISSUER.cert,), True)
    assert proxy.requests[0].startswith(b"GET http://aia.revocation.test/ca.der HTTP/1.0")


def test_aia_fetch_failures_stay_data(issuer_der: bytes) -> None:
    cancel = threading.Event()
    too_big = http(issuer_der + b"\0" * aia.MAX_BYTES)
    with CannedServer(too_big) as server:
        got = aia.fetch(f"http://127.0.0.1:{server.port}/", timeout=TIMEOUT, cancel=cancel)
    assert (got.certificates, got.error) == ((), "over 64 KB")
    with CannedServer(http(b"not a certificate")) as server:
        got = aia.fetch(f"http://127.0.0.1:{server.port}/", timeout=TIMEOUT, cancel=cancel)
    assert got.error == "no certificate in the answer"
    got = aia.fetch("ldap://x.test/ca", timeout=TIMEOUT, cancel=cancel)
    assert got.error == "not an http:// address"
