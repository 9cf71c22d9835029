"""Reads certificates and what is in them: parsing, names, keys, fingerprints, host matching."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from checks.core.facts.certificate import CertificateRecord, Position

NameKey = tuple[tuple[tuple[str, str], ...], ...]


PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


# warnings.catch_warnings swaps a process-wide list; one loader at a time keeps it consistent.
_WARNINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Unparsable:
    """A certificate the server sent that could not be read.

    Attributes:
        index: its position in the chain as sent, 0 being the server's own certificate.
        error: why it could not be read.
    """

    index: int
    error: str


ChainEntry = x509.Certificate | Unparsable


def _der_header(data: bytes, at: int) -> tuple[int, int, int]:
    """Tag, start and end of the contents of the DER element at `at`."""
    tag, size = data[at], data[at + 1]
    at += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[at : at + count], "big")
        at += count
    return tag, at, at + size


def _serial_not_positive(der: bytes) -> bool:
    """Whether the serial number is zero or negative, which cryptography warns about on load.

    Several roots in Mozilla's store (Go Daddy and Starfield G2 among them) have serial 0.
    """
    try:
        _, tbs, _ = _der_header(der, 0)
        _, first, _ = _der_header(der, tbs)
        tag, start, end = _der_header(der, first)
        if tag == 0xA0:  # the optional explicit version comes before the serial
            tag, start, end = _der_header(der, end)
        serial = der[start:end]
        return tag != 0x02 or not serial or bool(serial[0] & 0x80) or not any(serial)
    except IndexError:
        return True


def load_der(der: bytes) -> x509.Certificate:
    """Parse one DER certificate; raise `ValueError` when it is not one."""
    if not _serial_not_positive(der):
        return x509.load_der_x509_certificate(der)
    with _WARNINGS_LOCK, warnings.catch_warnings():
        # Such certificates are real (trusted roots among them); the warning is about the future.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(der)


def load_pem(text: str | bytes) -> x509.Certificate:
    """Parse the first PEM certificate in `text`; raise `ValueError` when there is none."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    match = PEM_BLOCK.search(data)
    if match is None:
        raise ValueError("no PEM certificate block")
    try:
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
    return load_der(der)


def load_chain(pems: Sequence[str]) -> list[ChainEntry]:
    """The certificates as sent, each parsed or marked `Unparsable` (the rest are still read)."""
    entries: list[ChainEntry] = []
    for index, text in enumerate(pems):
        try:
            entries.append(load_pem(text))
        except ValueError as exc:
            entries.append(Unparsable(index, str(exc) or type(exc).__name__))
    return entries


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as every date in findings and facts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the whole certificate, lowercase hex (what browsers show as its fingerprint)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _spki_der(cert: x509.Certificate) -> bytes:
    try:
        return cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (UnsupportedAlgorithm, ValueError):
        # A key type cryptography cannot load still has a distinct identity: its whole cert.
        return cert.public_bytes(serialization.Encoding.DER)


def spki_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the SubjectPublicKeyInfo, lowercase hex (the hash key blocklists use)."""
    return hashlib.sha256(_spki_der(cert)).hexdigest()


def display_name(name: x509.Name) -> str:
    """The common name of a distinguished name, else its organisation, else the whole DN."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        values = [str(a.value) for a in name.get_attributes_for_oid(oid)]
        if values:
            return ", ".join(values)
    return name.rfc4514_string() or "(empty name)"


def _fold(value: str | bytes) -> str:
    text = value if isinstance(value, str) else value.hex()
    return " ".join(text.split()).casefold()


def name_key(name: x509.Name) -> NameKey:
    """A comparable form of a name: RFC 5280 7.1 folds case and internal spaces."""
    return tuple(
        tuple(sorted((a.oid.dotted_string, _fold(a.value)) for a in rdn)) for rdn in name.rdns
    )


def identity(cert: x509.Certificate) -> tuple[NameKey, bytes]:
    """Subject and key: a re-issued root with the same key is the same trust anchor."""
    return name_key(cert.subject), _spki_der(cert)


def key_strength(cert: x509.Certificate) -> tuple[str, int | None]:
    """The key's algorithm name and size in bits (None when unknown)."""
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, None


def signature_hash(cert: x509.Certificate) -> str | None:
    """The hash of the certificate's signature (`sha256`, `sha1`, ...); None for EdDSA."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return cert.signature_algorithm_oid.dotted_string
    return algorithm.name if algorithm is not None else None


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def dns_names(cert: x509.Certificate) -> list[str]:
    san = _san(cert)
    return [] if san is None else list(dict.fromkeys(san.get_values_for_type(x509.DNSName)))


def ip_names(cert: x509.Certificate) -> list[str]:
    san = _san(cert)
    if san is None:
        return []
    return list(dict.fromkeys(str(ip) for ip in san.get_values_for_type(x509.IPAddress)))


def common_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def aia_ca_issuers(cert: x509.Certificate) -> str | None:
    """The URL where the issuer's certificate can be downloaded (AIA caIssuers), if given."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for description in aia:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.CA_ISSUERS and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return str(location.value)
    return None


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


@functools.lru_cache(maxsize=4096)
def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool | None:
    """Whether `issuer`'s key verifies `cert`'s signature; None when it cannot be checked.

    Done by hand rather than with `verify_directly_issued_by`, which refuses MD5 and SHA-1:
    the weak signatures must still link the chain so that they can be reported.
    """
    try:
        key = issuer.public_key()
        algorithm = cert.signature_hash_algorithm
        parameters = cert.signature_algorithm_parameters
    except (UnsupportedAlgorithm, ValueError):
        return None
    signature, data = cert.signature, cert.tbs_certificate_bytes
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm is None:
                return False
            scheme = parameters if isinstance(parameters, padding.PSS) else padding.PKCS1v15()
            key.verify(signature, data, scheme, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if algorithm is None:
                return False
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            if algorithm is None:
                return False
            key.verify(signature, data, algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return None
    except InvalidSignature:
        return False
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return None
    return True


@functools.lru_cache(maxsize=1024)
def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    return name_key(cert.subject) == name_key(cert.issuer) and signed_by(cert, cert) is not False


def position_of(index: int, cert: x509.Certificate) -> Position:
    """A sent certificate's place: the server's own first, then roots (self-signed) and the rest."""
    if index == 0:
        return "leaf"
    return "root" if is_self_signed(cert) else "intermediate"


def describe(cert: x509.Certificate, *, index: int | None, position: Position) -> CertificateRecord:
    """The facts of one certificate, for the report."""
    key_type, bits = key_strength(cert)
    return CertificateRecord(
        index=index,
        position=position,
        subject=display_name(cert.subject),
        subject_dn=cert.subject.rfc4514_string(),
        issuer_dn=cert.issuer.rfc4514_string(),
        not_before=iso(cert.not_valid_before_utc),
        not_after=iso(cert.not_valid_after_utc),
        sha256=fingerprint(cert),
        spki_sha256=spki_sha256(cert),
        key_type=key_type,
        key_bits=bits,
        signature_hash=signature_hash(cert),
        dns_names=tuple(dns_names(cert)),
        ip_addresses=tuple(ip_names(cert)),
        is_ca=is_ca(cert),
        self_signed=is_self_signed(cert),
        aia_ca_issuers=aia_ca_issuers(cert),
    )


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching of one dNSName against a host name (both ASCII).

    Case-insensitive; a wildcard only as the whole left-most label, standing for exactly one
    non-empty label, and never directly under a top-level domain (`*.test`).
    """
    pattern = pattern.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if not pattern or not host:
        return False
    if "*" not in pattern:
        return pattern == host
    wanted, given = pattern.split("."), host.split(".")
    if wanted[0] != "*" or "*" in ".".join(wanted[1:]) or len(wanted) < 3:
        return False
    return len(given) == len(wanted) and bool(given[0]) and given[1:] == wanted[1:]


def ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def host_matches(cert: x509.Certificate, host: str, *, is_ip: bool) -> bool:
    """Whether the certificate's SANs cover `host` (iPAddress SANs for IP literals)."""
    if is_ip:
        address = ip_literal(host)
        return address is not None and any(ip_literal(name) == address for name in ip_names(cert))
    return any(name_matches(name, host) for name in dns_names(cert))


def common_name_matches(cert: x509.Certificate, host: str, *, is_ip: bool) -> bool:
    """Whether a subject common name names `host`: what clients accepted before SANs."""
    address = ip_literal(host) if is_ip else None
    return any(
        (ip_literal(cn) == address) if address is not None else name_matches(cn, host)
        for cn in common_names(cert)
    )


def www_alternative(host: str) -> str:
    """The same name with `www.` added or removed: the usual near miss of a certificate."""
    return host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"
