"""Reads Certificate Transparency timestamps (SCTs) from a certificate, an OCSP response or TLS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.certificate_transparency import LogEntryType, SignedCertificateTimestamp

Source = Literal["embedded", "ocsp", "tls"]
EntryType = Literal["precert", "x509"]

# Chrome's CT policy (https://googlechrome.github.io/CertificateTransparency/ct_policy.html),
# "CT Compliant Certificates": SCTs embedded in the certificate must come from at least 2
# distinct logs when its lifetime is 180 days or less, and from at least 3 when longer; SCTs
# delivered in the TLS handshake or in a stapled OCSP response need 2 distinct logs whatever
# the lifetime. (Apple's policy asks the same counts for certificates up to 398 days.)
SHORT_LIFETIME = dt.timedelta(days=180)
EMBEDDED_SHORT, EMBEDDED_LONG, DELIVERED = 2, 3, 2


@dataclass(frozen=True)
class Sct:
    """One signed certificate timestamp: a CT log's promise to publish the certificate.

    Attributes:
        log_id: the log's id in hex (SHA-256 of the log's public key, 64 hex digits).
        timestamp: when the log saw the certificate (UTC).
        entry_type: "precert" for SCTs embedded in the certificate, "x509" for the others.
        source: where the SCT came from: the certificate, a stapled OCSP response, or TLS.
        version: the SCT version number (0 is v1, the only one defined).
    """

    log_id: str
    timestamp: dt.datetime
    entry_type: EntryType
    source: Source
    version: int = 0


def _from_crypto(item: SignedCertificateTimestamp, source: Source) -> Sct:
    entry: EntryType = "precert" if item.entry_type is LogEntryType.PRE_CERTIFICATE else "x509"
    stamp = item.timestamp
    stamp = stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
    return Sct(item.log_id.hex(), stamp, entry, source, item.version.value)


def embedded(cert: x509.Certificate) -> tuple[Sct, ...]:
    """The SCTs embedded in `cert` (its precertificate SCT list extension); () when it has none
    or when the extension cannot be read."""
    try:
        found = cert.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        )
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(_from_crypto(item, "embedded") for item in found.value)


def from_ocsp(response: bytes | ocsp.OCSPResponse) -> tuple[Sct, ...]:
    """The SCTs in an OCSP response's single-response extension (OID 1.3.6.1.4.1.11129.2.4.5),
    given as DER or parsed; () when there are none or the response cannot be read."""
    try:
        parsed = ocsp.load_der_ocsp_response(response) if isinstance(response, bytes) else response
        if parsed.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return ()
        found = parsed.single_extensions.get_extension_for_class(x509.SignedCertificateTimestamps)
    except (x509.ExtensionNotFound, ValueError):
        # ValueError also covers a response with several single responses: the extension then
        # has no one owner, and a stapled response is about one certificate.
        return ()
    return tuple(_from_crypto(item, "ocsp") for item in found.value)


def _vector(data: bytes, at: int, size_bytes: int) -> tuple[bytes, int] | None:
    """A TLS variable-length vector at `at`: its contents and where it ends; None if cut short."""
    if at + size_bytes > len(data):
        return None
    size = int.from_bytes(data[at : at + size_bytes], "big")
    end = at + size_bytes + size
    return (data[at + size_bytes : end], end) if end <= len(data) else None


_LOG_ID_BYTES = 32


def _one(item: bytes, source: Source) -> Sct | None:
    # RFC 6962 3.2: version(1) log_id(32) timestamp(8) extensions<0..2^16-1> signature...
    if len(item) < 1 + _LOG_ID_BYTES + 8 + 2:
        return None
    version = item[0]
    log_id = item[1 : 1 + _LOG_ID_BYTES]
    millis = int.from_bytes(item[1 + _LOG_ID_BYTES : 1 + _LOG_ID_BYTES + 8], "big")
    try:
        stamp = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    # SCTs that reach a client outside the certificate are over the final certificate.
    return Sct(log_id.hex(), stamp, "x509", source, version)


def parse_list(data: bytes, *, source: Source = "tls") -> tuple[Sct, ...]:
    """The SCTs in a TLS-encoded SignedCertificateTimestampList (RFC 6962 3.3), as the
    signed_certificate_timestamp TLS extension carries it; () when it is malformed."""
    outer = _vector(data, 0, 2)
    if outer is None:
        return ()
    body, _ = outer
    found: list[Sct] = []
    at = 0
    while at < len(body):
        item = _vector(body, at, 2)
        if item is None:
            return ()
        one = _one(item[0], source)
        if one is None:
            return ()
        found.append(one)
        at = item[1]
    return tuple(found)


def distinct_logs(scts: tuple[Sct, ...]) -> int:
    """How many different logs the SCTs come from: the number the CT policy counts."""
    return len({item.log_id for item in scts})


def required(cert: x509.Certificate, *, source: Source = "embedded") -> int:
    """How many SCTs from distinct logs Chrome's CT policy asks of `cert`: embedded ones by its
    lifetime (2 up to 180 days, else 3), and 2 for SCTs delivered by TLS or OCSP."""
    if source != "embedded":
        return DELIVERED
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return EMBEDDED_SHORT if lifetime <= SHORT_LIFETIME else EMBEDDED_LONG
