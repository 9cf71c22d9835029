"""Asks whether a certificate is revoked: its OCSP responder, a stapled response, or its CRL."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    SignatureAlgorithmOID,
)

from checks.core.check import Cancelled
from checks.lib import http_get, sct

OcspOutcome = Literal[
    "good", "revoked", "unknown", "unreachable", "invalid", "stale", "error_status"
]
CrlOutcome = Literal["good", "revoked", "unreachable", "invalid", "stale"]

# An OCSP response about one certificate is 1-3 KB, a few KB more with a delegated responder's
# certificate; 64 KB is far beyond any honest one and keeps a broken responder from flooding us.
OCSP_MAX_BYTES = 64 * 1024
# Real CRLs are big: those of large public CAs list hundreds of thousands of serials and run to
# several MB (some near 5 MB). 8 MB holds them, while a runaway download still stops early.
CRL_MAX_BYTES = 8 * 1024 * 1024
# Clocks of responders, CAs and this computer differ a little; OpenSSL and browsers allow
# minutes of slack before they call a response "issued in the future".
CLOCK_SKEW = dt.timedelta(minutes=5)

_RESPONSE_STATUS_WORDS = {
    ocsp.OCSPResponseStatus.MALFORMED_REQUEST: "the responder calls the request malformed",
    ocsp.OCSPResponseStatus.INTERNAL_ERROR: "the responder had an internal error",
    ocsp.OCSPResponseStatus.TRY_LATER: "the responder asks to try later",
    ocsp.OCSPResponseStatus.SIG_REQUIRED: "the responder wants a signed request",
    ocsp.OCSPResponseStatus.UNAUTHORIZED: "the responder does not answer for this certificate",
}


@dataclass(frozen=True)
class OcspResult:
    """What an OCSP responder (or a stapled response) says about one certificate.

    Attributes:
        url: the responder's address; None for a stapled response.
        outcome: "good", "revoked", "unknown" (the responder does not know the certificate),
            "unreachable" (no usable HTTP answer), "invalid" (not a response, about another
            certificate, badly signed, or issued in the future), "stale" (its next update has
            passed) or "error_status" (the responder answered with an error status).
        revoked_at: when the certificate was revoked (UTC), for "revoked".
        reason: the CRL reason name ("keyCompromise", "superseded"...), when the responder gave one.
        this_update: when the responder vouched for the status (UTC).
        next_update: when newer information is due (UTC); None when the responder gave none.
        produced_at: when the response was signed (UTC).
        responder: the responder's name (RFC 4514) or "key <SHA-1 hex>" when named by key.
        detail: plain words: how the fetch failed, what was wrong, or the error status.
        via_proxy: whether the request went through the computer's HTTP proxy.
        scts: the CT timestamps the response carries for the certificate.
    """

    url: str | None
    outcome: OcspOutcome
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    produced_at: dt.datetime | None = None
    responder: str | None = None
    detail: str | None = None
    via_proxy: bool = False
    scts: tuple[sct.Sct, ...] = ()


@dataclass(frozen=True)
class CrlResult:
    """What a certificate's CRL says about it.

    Attributes:
        url: the CRL's address.
        outcome: "good" (not listed), "revoked" (listed), "unreachable" (no usable HTTP answer),
            "invalid" (not a CRL, from another issuer, or badly signed) or "stale" (its next
            update has passed).
        revoked_at: when the certificate was revoked (UTC), for "revoked".
        reason: the CRL reason name of the entry, when it has one.
        this_update: when the CRL was issued (UTC).
        next_update: when the next CRL is due (UTC).
        detail: plain words: how the fetch failed or what was wrong.
        via_proxy: whether the request went through the computer's HTTP proxy.
        size: the CRL's size in bytes, when it arrived.
    """

    url: str
    outcome: CrlOutcome
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    detail: str | None = None
    via_proxy: bool = False
    size: int | None = None


T = TypeVar("T")
# Key types that can sign a certificate or CRL (a DH or X25519 key cannot).
_SIGNING_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
)


def _quiet(func: Callable[[], T], default: T) -> T:
    """`func()`, or `default` when the certificate's encoding makes it fail."""
    try:
        return func()
    except Cancelled:
        raise
    except Exception:  # malformed extensions raise many kinds; an unreadable one is absent
        return default


def _http_only(urls: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in urls if u.lower().startswith("http://")))


def ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http:// OCSP responder addresses in `cert`'s AIA extension."""

    def read() -> tuple[str, ...]:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        return _http_only(
            [
                str(item.access_location.value)
                for item in aia
                if item.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(item.access_location, x509.UniformResourceIdentifier)
            ]
        )

    return _quiet(read, ())


def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http:// CRL addresses in `cert`'s CRL distribution points."""

    def read() -> tuple[str, ...]:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        return _http_only(
            [
                str(name.value)
                for point in points
                for name in point.full_name or ()
                if isinstance(name, x509.UniformResourceIdentifier)
            ]
        )

    return _quiet(read, ())


def must_staple(cert: x509.Certificate) -> bool:
    """Whether `cert` demands a stapled OCSP response (TLS Feature status_request)."""

    def read() -> bool:
        features = cert.extensions.get_extension_for_class(x509.TLSFeature).value
        return x509.TLSFeatureType.status_request in features

    return _quiet(read, False)


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now


def _verifies(
    key: object,
    signature: bytes,
    data: bytes,
    hash_alg: hashes.HashAlgorithm | None,
    algorithm: x509.ObjectIdentifier,
) -> bool:
    """Whether `signature` over `data` verifies with the public `key`."""
    try:
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hash_alg), padding.PSS.AUTO)
                if algorithm == SignatureAlgorithmOID.RSASSA_PSS
                else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents, which an OCSP cert id and key hash cover."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def element(at: int) -> tuple[int, int]:
        """Where the contents of the DER element at `at` start and end."""
        size, start = spki[at + 1], at + 2
        if size & 0x80:
            count = size & 0x7F
            size, start = int.from_bytes(spki[start : start + count], "big"), start + count
        return start, start + size

    body, _ = element(0)
    _, algorithm_end = element(body)
    bits, end = element(algorithm_end)
    return spki[bits + 1 : end]  # past the count of unused bits


def _digest(alg: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg)
    h.update(data)
    return h.finalize()


def _responder(response: ocsp.OCSPResponse) -> str | None:
    if response.responder_name is not None:
        return response.responder_name.rfc4514_string()
    if response.responder_key_hash is not None:
        return f"key {response.responder_key_hash.hex()}"
    return None


def _signature_problem(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime
) -> str | None:
    """None when the issuer or a responder it authorised signed the response, else why not."""
    hash_alg = _quiet(lambda: response.signature_hash_algorithm, None)

    def signed_by(signer: x509.Certificate) -> bool:
        key = _quiet(signer.public_key, None)
        return _verifies(
            key,
            response.signature,
            response.tbs_response_bytes,
            hash_alg,
            response.signature_algorithm_oid,
        )

    if signed_by(issuer):
        return None
    # RFC 6960 4.2.2.2: a delegated responder holds a certificate the issuer signed directly,
    # with the OCSP Signing purpose, and sends it in the response.
    signer = next((c for c in response.certificates if signed_by(c)), None)
    if signer is None:
        if not response.certificates:
            return "its signature does not verify with the issuer's key"
        return "its signature verifies with neither the issuer's key nor the enclosed certificate"
    try:
        signer.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return "it is signed by a responder certificate the issuer did not sign"

    def purposes() -> x509.ExtendedKeyUsage | None:
        return signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value

    usages = _quiet(purposes, None)
    if usages is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
        return "it is signed by a responder certificate without the OCSP Signing purpose"
    if not signer.not_valid_before_utc - CLOCK_SKEW <= now <= signer.not_valid_after_utc:
        return "it is signed by a responder certificate that is not valid now"
    return None


def _matches(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    """Whether a single response's cert id is `cert`'s: its serial and its issuer's hashes."""
    alg = single.hash_algorithm
    return (
        single.serial_number == cert.serial_number
        and single.issuer_name_hash == _digest(alg, issuer.subject.public_bytes())
        and single.issuer_key_hash == _digest(alg, _key_bits(issuer))
    )


def _judge(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
) -> OcspResult:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return OcspResult(None, "invalid", detail="not an OCSP response")
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        words = _RESPONSE_STATUS_WORDS.get(response.response_status, "error status")
        return OcspResult(None, "error_status", detail=words)
    responder = _responder(response)
    single = next((s for s in response.responses if _matches(s, cert, issuer)), None)
    if single is None:
        return OcspResult(
            None, "invalid", responder=responder, detail="it is about another certificate"
        )
    base = OcspResult(
        None,
        "invalid",
        this_update=single.this_update_utc,
        next_update=single.next_update_utc,
        produced_at=response.produced_at_utc,
        responder=responder,
    )
    problem = _signature_problem(response, issuer, now)
    if problem is not None:
        return replace(base, detail=problem)
    base = replace(base, scts=sct.from_ocsp(response))
    if single.this_update_utc > now + CLOCK_SKEW:
        shown = f"{single.this_update_utc:%Y-%m-%d %H:%M} UTC"
        return replace(base, detail=f"it says it was issued in the future ({shown})")
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        # Revocation is final: even an old signed "revoked" still proves it.
        reason = single.revocation_reason.value if single.revocation_reason else None
        return replace(
            base, outcome="revoked", revoked_at=single.revocation_time_utc, reason=reason
        )
    next_update = single.next_update_utc
    if next_update is not None and next_update < now:
        detail = f"its next update was due {next_update:%Y-%m-%d %H:%M} UTC"
        return replace(base, outcome="stale", detail=detail)
    return replace(base, outcome="good" if status is ocsp.OCSPCertStatus.GOOD else "unknown")


def judge_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: dt.datetime | None = None,
) -> OcspResult:
    """Judge an OCSP response (DER; a stapled one, say) about `cert`, issued by `issuer`:
    status, cert id, signature (the issuer's or its delegated responder's) and freshness."""
    try:
        return _judge(der, cert, issuer, _now(now))
    except Cancelled:
        raise
    except Exception as exc:  # a response that parses yet breaks a reader is still garbage
        return OcspResult(None, "invalid", detail=f"it cannot be read ({type(exc).__name__})")


def request_url(cert: x509.Certificate, issuer: x509.Certificate, url: str) -> str:
    """The RFC 5019 GET address asking `url` about `cert`: the DER request, base64, URL-encoded,
    after the responder's path. The cert id uses SHA-1, which every responder understands."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode("ascii")
    return url.rstrip("/") + "/" + urllib.parse.quote(encoded, safe="")


def check_ocsp(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str,
    *,
    timeout: float,
    cancel: threading.Event,
    now: dt.datetime | None = None,
) -> OcspResult:
    """Ask the OCSP responder at `url` (http://) about `cert` with one GET of at most
    `OCSP_MAX_BYTES` within `timeout` seconds, and judge its answer; raises only `Cancelled`."""
    try:
        address = request_url(cert, issuer, url)
    except Cancelled:
        raise
    except Exception as exc:  # a certificate or issuer the request cannot describe
        return OcspResult(url, "invalid", detail=f"no request can be made ({exc})")
    got = http_get.get(
        address,
        max_bytes=OCSP_MAX_BYTES,
        timeout=timeout,
        cancel=cancel,
        accept="application/ocsp-response",
    )
    if got.body is None:
        return OcspResult(url, "unreachable", detail=got.error, via_proxy=got.via_proxy)
    judged = judge_ocsp_response(got.body, cert, issuer, now=now)
    return replace(judged, url=url, via_proxy=got.via_proxy)


def _load_crl(body: bytes) -> x509.CertificateRevocationList | None:
    for load in (x509.load_der_x509_crl, x509.load_pem_x509_crl):
        try:
            return load(body)
        except ValueError:
            continue
    return None


def _judge_crl(
    body: bytes, cert: x509.Certificate, issuer: x509.Certificate, url: str, now: dt.datetime
) -> CrlResult:
    crl = _load_crl(body)
    if crl is None:
        return CrlResult(url, "invalid", detail="not a CRL", size=len(body))
    base = CrlResult(
        url,
        "invalid",
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        size=len(body),
    )
    if crl.issuer != issuer.subject:
        detail = f"it is issued by {crl.issuer.rfc4514_string()}, not the certificate's issuer"
        return replace(base, detail=detail)
    key = _quiet(issuer.public_key, None)
    signing_key = key if isinstance(key, _SIGNING_KEYS) else None
    if signing_key is None or not _quiet(lambda: crl.is_signature_valid(signing_key), False):
        return replace(base, detail="its signature does not verify with the issuer's key")
    if crl.last_update_utc > now + CLOCK_SKEW:
        shown = f"{crl.last_update_utc:%Y-%m-%d %H:%M} UTC"
        return replace(base, detail=f"it says it was issued in the future ({shown})")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:

        def reason() -> str | None:
            return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value

        # Revocation is final: a CRL past its next update still proves it.
        revoked_at = entry.revocation_date_utc
        return replace(base, outcome="revoked", revoked_at=revoked_at, reason=_quiet(reason, None))
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        detail = f"its next update was due {crl.next_update_utc:%Y-%m-%d %H:%M} UTC"
        return replace(base, outcome="stale", detail=detail)
    return replace(base, outcome="good")


def check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str,
    *,
    timeout: float,
    cancel: threading.Event,
    now: dt.datetime | None = None,
    max_bytes: int = CRL_MAX_BYTES,
) -> CrlResult:
    """Download the CRL at `url` (http://, DER or PEM, at most `max_bytes` within `timeout`
    seconds), check it is the issuer's and signed by it, and look `cert` up in it; raises only
    `Cancelled`."""
    got = http_get.get(
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        cancel=cancel,
        accept="application/pkix-crl, */*",
    )
    if got.body is None:
        return CrlResult(url, "unreachable", detail=got.error, via_proxy=got.via_proxy)
    try:
        judged = _judge_crl(got.body, cert, issuer, url, _now(now))
    except Cancelled:
        raise
    except Exception as exc:  # a CRL that parses yet breaks a reader is still garbage
        judged = CrlResult(url, "invalid", detail=f"it cannot be read ({type(exc).__name__})")
    return replace(judged, via_proxy=got.via_proxy)
