"""Sorts a program's own error message into one kind of reason, and trims it to one line."""

from __future__ import annotations

import re

from checks.core.redact import redact
from checks.lib.programs.models import Reason

# Ordered: the first pattern that matches wins, so the specific ones come before the generic
# ("dh key too small" before "key too small", "certificate has expired" before "certificate
# verify failed"). Messages are those of OpenSSL (curl, Python, Node, openssl), GnuTLS (wget,
# Debian's git), JSSE (Java) and Schannel, as they print them in the C locale.
_PATTERNS: tuple[tuple[Reason, tuple[str, ...]], ...] = (
    (
        "timeout",
        (r"timed? ?out", r"\bETIMEDOUT\b", r"SocketTimeoutException", r"no answer within"),
    ),
    (
        "network",
        (
            r"connection refused", r"ECONNREFUSED", r"could not resolve", r"ENOTFOUND",
            r"name or service not known", r"unknown ?host", r"no route to host",
            r"network is unreachable", r"ENETUNREACH", r"EHOSTUNREACH", r"failed to connect",
            r"couldn't connect", r"connect: ", r"UnknownHostException", r"ConnectException",
            r"temporary failure in name resolution",
        ),
    ),
    ("not_yet_valid", (r"not yet valid", r"NotYetValid", r"not yet activated", r"CERT_NOT_YET")),
    ("expired", (r"expired", r"CertificateExpired", r"expiration date")),
    (
        "name",
        (
            r"no alternative certificate subject name", r"ALTNAME", r"hostname mismatch",
            r"IP address mismatch", r"does not match (target )?host ?name", r"doesn't match",
            r"owner does not match", r"No subject alternative (DNS )?names? matching",
            r"No name matching", r"Hostname/IP does not match", r"does not match certificate",
            r"certificate is not valid for",
        ),
    ),
    (
        "dh",
        (
            r"dh key too small", r"DH_KEY_TOO_SMALL", r"DH ServerKeyExchange",
            r"insufficient DH", r"DH key", r"DH parameter", r"dh.{0,20}too small",
        ),
    ),
    (
        "protocol",
        (
            # OpenSSL 3 at security level 1 and up allows TLS 1.0 in name but refuses its
            # MD5+SHA-1 ServerKeyExchange signature: a TLS 1.0/1.1-only server fails this way.
            r"legacy sigalg", r"unsupported protocol", r"UNSUPPORTED_PROTOCOL",
            r"protocol version", r"wrong version number", r"no protocols available",
            r"No appropriate protocol", r"protocol is disabled", r"unsupported version",
            r"TLSV1_ALERT_PROTOCOL_VERSION", r"protocol_version",
        ),
    ),
    (
        "client_certificate",
        (
            r"certificate required", r"alert bad certificate", r"alert unknown ca",
            r"peer did not return a certificate", r"CERTIFICATE_REQUIRED", r"bad_certificate",
        ),
    ),
    (
        "signature",
        (
            r"ca md too weak", r"wrong signature type", r"insecure algorithm",
            r"algorithm constraints", r"signature algorithm", r"md too weak", r"CA_MD_TOO_WEAK",
        ),
    ),
    ("key", (r"key too small", r"KEY_TOO_SMALL", r"weak key", r"keySize")),
    (
        "cipher",
        (
            r"no shared cipher", r"no ciphers available", r"NO_CIPHERS_AVAILABLE",
            r"handshake.?failure", r"insufficient security", r"no cipher suites in common",
            r"cipher suites are inappropriate", r"INSUFFICIENT_SECURITY",
        ),
    ),
    (
        "trust",
        (
            r"unable to get local issuer", r"self.?signed", r"UNABLE_TO_VERIFY_LEAF",
            r"unable to verify the first certificate", r"unable to get issuer",
            r"certificate verify failed", r"CERTIFICATE_VERIFY_FAILED",
            r"PKIX path", r"unable to find valid certification path", r"known issuer",
            r"issuer is unknown", r"not trusted", r"verification failed",
            r"untrusted root", r"certificate chain", r"SEC_E_UNTRUSTED_ROOT",
        ),
    ),
)  # fmt: skip
_COMPILED = tuple(
    (reason, re.compile("|".join(patterns), re.IGNORECASE)) for reason, patterns in _PATTERNS
)
_MAX_DETAIL = 240


def reason_of(message: str) -> Reason:
    """The kind of reason `message` gives, "other" when none is recognised."""
    for reason, pattern in _COMPILED:
        if pattern.search(message):
            return reason
    return "other"


def one_line(message: str) -> str:
    """The message as one trimmed line: whitespace collapsed, secrets redacted, length bounded."""
    line = " ".join(message.split())
    line = redact(line)
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"


def first_meaningful(text: str, *markers: str) -> str:
    """The first line of `text` containing one of `markers` (case-insensitive), else the first
    non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in markers:
        for line in lines:
            if marker.lower() in line.lower():
                return line
    return lines[0] if lines else ""
