"""Judges the certificate chain the server sent: dates, names, path to a trusted root, strength."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import importlib.resources
import ipaddress
import math
import re
import socket
import ssl
import threading
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import certifi
import truststore
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from checks.core import policy
from checks.core.check import Cancelled, Check, Context
from checks.core.models import CheckResult, Finding, Outcome, Status
from checks.lib import net, products

Position = Literal["leaf", "intermediate", "root"]
PathEnd = Literal["anchored", "self_signed", "missing_issuer", "loop", "too_long"]
NameKey = tuple[tuple[tuple[str, str], ...], ...]

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_DAY = timedelta(days=1)
# The OS handshake runs on a helper thread whose socket already times out; this extra wait only
# covers the thread's own start and teardown.
_OS_GRACE_S = 1.0
# Findings that by themselves make every verifier reject a chain, whatever its root.
_REJECTED_ANYWAY = frozenset(
    {"cert.expired", "cert.not_yet_valid", "cert.weak_signature", "cert.weak_key"}
)
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
    match = _PEM_BLOCK.search(data)
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


def _identity(cert: x509.Certificate) -> tuple[NameKey, bytes]:
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


def _common_names(cert: x509.Certificate) -> list[str]:
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


def describe(cert: x509.Certificate, *, index: int | None, position: Position) -> dict[str, object]:
    """The facts of one certificate, as JSON types, for the report."""
    key_type, bits = key_strength(cert)
    return {
        "index": index,
        "position": position,
        "subject": display_name(cert.subject),
        "subject_dn": cert.subject.rfc4514_string(),
        "issuer_dn": cert.issuer.rfc4514_string(),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "sha256": fingerprint(cert),
        "spki_sha256": spki_sha256(cert),
        "key_type": key_type,
        "key_bits": bits,
        "signature_hash": signature_hash(cert),
        "dns_names": dns_names(cert),
        "ip_addresses": ip_names(cert),
        "is_ca": is_ca(cert),
        "self_signed": is_self_signed(cert),
        "aia_ca_issuers": aia_ca_issuers(cert),
    }


class TrustStore:
    """A set of trust anchors (root certificates), indexed by subject for path building."""

    def __init__(
        self,
        certificates: Iterable[x509.Certificate],
        *,
        name: str,
        source: str = "",
        skipped: int = 0,
        error: str | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.skipped = skipped
        self.error = error
        self.certificates = tuple(certificates)
        self._by_subject: dict[NameKey, list[x509.Certificate]] = {}
        self._by_identity: dict[tuple[NameKey, bytes], x509.Certificate] = {}
        for cert in self.certificates:
            self._by_subject.setdefault(name_key(cert.subject), []).append(cert)
            self._by_identity.setdefault(_identity(cert), cert)

    def __len__(self) -> int:
        return len(self.certificates)

    def named(self, name: x509.Name) -> Sequence[x509.Certificate]:
        """The anchors whose subject is `name`."""
        return self._by_subject.get(name_key(name), ())

    def find(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The store's copy of `cert` (same subject and key), if the store has it."""
        return self._by_identity.get(_identity(cert))

    def fact(self) -> dict[str, object]:
        return {
            "source": self.source,
            "roots": len(self),
            "skipped": self.skipped,
            "error": self.error,
        }

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str, source: str = "") -> TrustStore:
        """Every PEM certificate in `data` (a lone DER certificate also works)."""
        certificates: list[x509.Certificate] = []
        skipped = 0
        for block in _PEM_BLOCK.finditer(data):
            try:
                certificates.append(load_pem(block.group(0)))
            except ValueError:
                skipped += 1
        if not certificates and not skipped and data:
            try:
                certificates.append(load_der(data))
            except ValueError:
                skipped += 1
        return cls(certificates, name=name, source=source, skipped=skipped)

    @classmethod
    def from_file(cls, path: Path, *, name: str) -> TrustStore:
        """The anchors in a PEM bundle; a file that cannot be read gives an empty store."""
        try:
            stat = path.stat()
            return _cached_store(str(path), stat.st_mtime_ns, stat.st_size, name)
        except OSError as exc:
            return cls((), name=name, source=str(path), error=f"{type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=8)
def _cached_store(path: str, mtime_ns: int, size: int, name: str) -> TrustStore:
    # Keyed by modification time and size so that an edited bundle is read again.
    return TrustStore.from_bytes(Path(path).read_bytes(), name=name, source=path)


@dataclass(frozen=True)
class ChainPath:
    """The issuing path found from the server's certificate towards a trust anchor.

    Attributes:
        indices: positions in the sent chain of the certificates on the path, leaf first.
        anchor: the trust store's certificate the path ends in; None when none was reached.
        end: `anchored`; `self_signed` (ends in a root the store lacks); `missing_issuer` (no
            certificate for the last issuer, sent or stored); `loop` (cross-signatures lead
            back into the path); `too_long` (the depth or candidate limit was reached).
        missing_issuer: the issuer name no certificate was found for.
    """

    indices: tuple[int, ...]
    anchor: x509.Certificate | None
    end: PathEnd
    missing_issuer: x509.Name | None = None

    @property
    def trusted(self) -> bool:
        return self.anchor is not None


def build_path(sent: Mapping[int, x509.Certificate], store: TrustStore) -> ChainPath:
    """Find a path from `sent[0]` to an anchor of `store`, using the sent certificates as
    intermediates in any order; when there is none, the longest path found.

    Store certificates are tried before sent ones (a sent root is then left unused), and no
    subject-and-key appears twice on a path, so cross-signed cycles end. At most
    `policy.MAX_CHAIN_DEPTH` certificates per path and `policy.MAX_CHAIN_CANDIDATES` issuer
    candidates in all are tried.
    """
    budget = policy.MAX_CHAIN_CANDIDATES
    dead_ends: list[ChainPath] = []

    def walk(path: tuple[int, ...], seen: frozenset[tuple[NameKey, bytes]]) -> ChainPath | None:
        nonlocal budget
        cert = sent[path[-1]]
        own = store.find(cert)
        if own is not None:
            return ChainPath(path, own, "anchored")
        if is_self_signed(cert):
            dead_ends.append(ChainPath(path, None, "self_signed"))
            return None
        if len(path) >= policy.MAX_CHAIN_DEPTH:
            dead_ends.append(ChainPath(path, None, "too_long"))
            return None
        wanted = name_key(cert.issuer)
        candidates: list[tuple[x509.Certificate, int | None]] = [
            (anchor, None) for anchor in store.named(cert.issuer)
        ]
        candidates += [
            (other, index) for index, other in sent.items() if name_key(other.subject) == wanted
        ]
        linked = looped = exhausted = False
        for candidate, index in candidates:
            if budget <= 0:
                exhausted = True
                break
            budget -= 1
            identity = _identity(candidate)
            if identity in seen:
                looped = True
                continue
            if signed_by(cert, candidate) is False:
                continue
            linked = True
            if index is None:
                return ChainPath(path, candidate, "anchored")
            found = walk((*path, index), seen | {identity})
            if found is not None:
                return found
        if not linked:
            end: PathEnd = "too_long" if exhausted else "loop" if looped else "missing_issuer"
            missing = cert.issuer if end == "missing_issuer" else None
            dead_ends.append(ChainPath(path, None, end, missing))
        return None

    found = walk((0,), frozenset({_identity(sent[0])}))
    if found is not None:
        return found
    # The longest dead end tells the most; ties go to the first found (store-first order).
    return max(dead_ends, key=lambda p: len(p.indices))


@dataclass(frozen=True)
class KnownBad:
    """A public key that must never be trusted (see resources/known_bad_roots.toml)."""

    name: str
    spki_sha256: str
    reason: str
    source: str


@dataclass(frozen=True)
class KnownBadList:
    """The known-bad keys by SPKI SHA-256, and the version of the list they came from."""

    version: int
    entries: Mapping[str, KnownBad]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def parse_known_bad(text: str) -> KnownBadList:
    """Parse the known-bad list's TOML; raise `ValueError` when it is malformed."""
    data = tomllib.loads(text)
    version = data.get("version")
    if not isinstance(version, int):
        raise ValueError("known-bad list has no integer `version`")
    entries: dict[str, KnownBad] = {}
    for raw in data.get("roots", []):
        digest = str(raw.get("spki_sha256", "")).lower().replace(":", "")
        if not _HEX64.match(digest):
            raise ValueError(f"bad spki_sha256 {raw.get('spki_sha256')!r}")
        entries[digest] = KnownBad(
            name=str(raw["name"]),
            spki_sha256=digest,
            reason=str(raw.get("reason", "")),
            source=str(raw.get("source", "")),
        )
    return KnownBadList(version, entries)


def load_known_bad(path: Path | None = None) -> KnownBadList:
    """The known-bad list at `path`, or the one shipped in resources/; raises on a bad file."""
    if path is not None:
        return parse_known_bad(path.read_text(encoding="utf-8"))
    return _shipped_known_bad()


@functools.cache
def _shipped_known_bad() -> KnownBadList:
    resource = importlib.resources.files("resources").joinpath("known_bad_roots.toml")
    return parse_known_bad(resource.read_text(encoding="utf-8"))


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


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def host_matches(cert: x509.Certificate, host: str, *, is_ip: bool) -> bool:
    """Whether the certificate's SANs cover `host` (iPAddress SANs for IP literals)."""
    if is_ip:
        address = _ip(host)
        return address is not None and any(_ip(name) == address for name in ip_names(cert))
    return any(name_matches(name, host) for name in dns_names(cert))


def _listed(names: Sequence[str]) -> list[str]:
    shown = list(names[: policy.MAX_LISTED_NAMES])
    if len(names) > len(shown):
        # Language-neutral so the list reads the same in every translation.
        shown.append(f"… (+{len(names) - len(shown)})")
    return shown


def _www_alternative(host: str) -> str:
    return host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"


def check_hostname(cert: x509.Certificate, host: str, *, is_ip: bool) -> Finding | None:
    """`cert.hostname_mismatch` or `cert.no_san` when the certificate does not cover `host`."""
    if host_matches(cert, host, is_ip=is_ip):
        return None
    sans = dns_names(cert) + ip_names(cert)
    common_names = _common_names(cert)
    if not sans:
        address = _ip(host) if is_ip else None
        cn_match = any(
            (_ip(cn) == address) if address is not None else name_matches(cn, host)
            for cn in common_names
        )
        if cn_match:
            return Finding(
                "cert.no_san",
                Status.FAIL,
                {"host": host, "cn": ", ".join(common_names)},
            )
    names = sans or common_names
    params: dict[str, object] = {
        "host": host,
        "names": _listed(names),
        "names_total": len(names),
        "suggestion": None,
    }
    if not is_ip:
        alternative = _www_alternative(host)
        if host_matches(cert, alternative, is_ip=False):
            params.update(suggestion=alternative, variant="www")
    return Finding("cert.hostname_mismatch", Status.FAIL, params)


def check_validity(cert: x509.Certificate, *, position: Position, now: datetime) -> list[Finding]:
    """Expired, not yet valid, or expiring within `policy.EXPIRES_SOON_DAYS` days."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    params: dict[str, object] = {
        "which": position,
        "position": position,
        "subject": display_name(cert.subject),
        "not_before": iso(not_before),
        "not_after": iso(not_after),
    }
    if position == "intermediate":
        params["variant"] = "intermediate"
    if now < not_before:
        days = math.ceil((not_before - now) / _DAY)
        return [Finding("cert.not_yet_valid", Status.FAIL, {**params, "days": days})]
    if now > not_after:
        days = (now - not_after) // _DAY
        return [Finding("cert.expired", Status.FAIL, {**params, "days": days})]
    left = not_after - now
    if left < timedelta(days=policy.EXPIRES_SOON_DAYS):
        params.pop("variant", None)
        return [Finding("cert.expires_soon", Status.WARN, {**params, "days": left // _DAY})]
    return []


def check_signature(cert: x509.Certificate, *, position: Position) -> Finding | None:
    """`cert.weak_signature` for an MD5 or SHA-1 signature (not to be used on roots)."""
    algorithm = signature_hash(cert)
    if algorithm not in policy.WEAK_SIGNATURE_HASHES:
        return None
    params = {"subject": display_name(cert.subject), "position": position, "algorithm": algorithm}
    return Finding("cert.weak_signature", Status.FAIL, params)


def check_key(cert: x509.Certificate, *, position: Position) -> Finding | None:
    """`cert.weak_key` for RSA or EC keys under the policy minimum and for any DSA key."""
    key_type, bits = key_strength(cert)
    minimum = {"RSA": policy.MIN_RSA_BITS, "EC": policy.MIN_EC_BITS}.get(key_type)
    params: dict[str, object] = {
        "subject": display_name(cert.subject),
        "position": position,
        "key_type": key_type,
        "bits": bits,
        "minimum": minimum,
    }
    if key_type == "DSA" and not policy.DSA_ALLOWED:
        return Finding("cert.weak_key", Status.FAIL, {**params, "variant": "dsa"})
    if minimum is not None and bits is not None and bits < minimum:
        return Finding("cert.weak_key", Status.FAIL, params)
    return None


def check_known_bad(
    cert: x509.Certificate, *, position: Position, known_bad: KnownBadList
) -> Finding | None:
    """`cert.known_bad_root` when the certificate's key is on the known-bad list."""
    entry = known_bad.entries.get(spki_sha256(cert))
    if entry is None:
        return None
    params = {
        "name": entry.name,
        "subject": display_name(cert.subject),
        "position": position,
        "spki_sha256": entry.spki_sha256,
        "reason": entry.reason,
    }
    return Finding("cert.known_bad_root", Status.FAIL, params)


@dataclass(frozen=True)
class Judgement:
    """One verifier's verdict on the chain: trusted, not trusted, or None when it could not say."""

    trusted: bool | None
    detail: str

    def fact(self) -> dict[str, object]:
        return {"trusted": self.trusted, "detail": self.detail}


def judge(path: ChainPath, sent: Mapping[int, x509.Certificate], store: TrustStore) -> Judgement:
    """A trust store's verdict from the path built against it."""
    if store.error:
        prefix = f"the store could not be read ({store.error}); "
    elif not len(store):
        prefix = "the store holds no certificates; "
    else:
        prefix = ""
    top = sent[path.indices[-1]]
    if path.anchor is not None:
        return Judgement(True, f"{prefix}trusted: ends in {display_name(path.anchor.subject)}")
    if path.end == "self_signed":
        what = "is self-signed" if len(path.indices) == 1 else "ends in a root"
        return Judgement(
            False,
            f"{prefix}not trusted: the chain {what} ({display_name(top.subject)}) "
            "that is not in this store",
        )
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        issuer = display_name(path.missing_issuer)
        return Judgement(
            False, f"{prefix}not trusted: no certificate for the issuer {issuer} was sent or stored"
        )
    return Judgement(False, f"{prefix}not trusted: no path to a root ({path.end})")


def _top_root(
    path: ChainPath, sent: Mapping[int, x509.Certificate], reference: TrustStore | None
) -> tuple[str, str | None]:
    """Name and fingerprint of the root an untrusted path leads to, as far as it is known."""
    top = sent[path.indices[-1]]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        for root in reference.named(path.missing_issuer) if reference is not None else ():
            if signed_by(top, root) is not False:
                return display_name(root.subject), fingerprint(root)
        return display_name(path.missing_issuer), None
    return display_name(top.subject), fingerprint(top)


def path_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    *,
    store: TrustStore,
    reference: TrustStore | None = None,
) -> list[Finding]:
    """What the path's end means when `store` decides trust.

    A missing issuer that `reference` (another store) knows as a root is a root missing from
    `store`; any other missing issuer is an intermediate the server should have sent.
    """
    if path.trusted:
        return []
    top_index = path.indices[-1]
    top = sent[top_index]
    variant = {"variant": "cacert"} if store.name == "cacert" else {}
    if path.end == "self_signed" and top_index == 0:
        own = {"subject": display_name(top.subject), "fingerprint": fingerprint(top)}
        return [Finding("cert.self_signed", Status.FAIL, {**own, **variant})]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        known = reference is not None and any(
            signed_by(top, root) is not False for root in reference.named(path.missing_issuer)
        )
        # A public CA's certificate says where its issuer can be fetched (AIA); a leaf without
        # that, issued by a name nobody knows, comes straight from a private CA.
        if not known and not is_ca(top) and aia_ca_issuers(top) is not None:
            return [_incomplete(top, top_index, path.missing_issuer, Status.FAIL)]
        if not known:
            # Only the root is missing and no public root program knows it: a private CA, not
            # a server that forgot a certificate.
            private = {"root": display_name(path.missing_issuer), "fingerprint": None, **variant}
            return [Finding("cert.untrusted_root", Status.FAIL, private)]
    if path.end == "too_long":
        limits = {"depth": len(path.indices), "limit": policy.MAX_CHAIN_DEPTH}
        return [Finding("cert.chain_too_long", Status.FAIL, limits)]
    root, digest = _top_root(path, sent, reference)
    params: dict[str, object] = {"root": root, "fingerprint": digest, **variant}
    return [Finding("cert.untrusted_root", Status.FAIL, params)]


def _incomplete(cert: x509.Certificate, index: int, missing: x509.Name, status: Status) -> Finding:
    params: dict[str, object] = {
        "subject": display_name(cert.subject),
        "position": "leaf" if index == 0 else "intermediate",
        "missing_issuer": display_name(missing),
        "missing_issuer_dn": missing.rfc4514_string(),
        "aia_url": aia_ca_issuers(cert),
    }
    if status is Status.WARN:
        params["variant"] = "os_fetched"
    return Finding("cert.incomplete_chain", status, params)


def _order_findings(
    path: ChainPath, sent: Mapping[int, x509.Certificate], positions: Mapping[int, Position]
) -> list[Finding]:
    findings: list[Finding] = []
    params: dict[str, object]
    issuing = list(path.indices)
    if path.anchor is not None:
        # A sent copy of the anchor is unneeded, but where it is sent still shows disorder.
        anchor = _identity(path.anchor)
        issuing += [i for i in sorted(sent) if i not in issuing and _identity(sent[i]) == anchor]
    if issuing != sorted(issuing):
        params = {
            "variant": "order",
            "sent": _listed([display_name(sent[i].subject) for i in sorted(sent)]),
            "expected": _listed([display_name(sent[i].subject) for i in issuing]),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    unneeded = [i for i in sorted(sent) if i not in path.indices]
    if unneeded:
        params = {
            "variant": "unneeded",
            "unneeded": _listed([display_name(sent[i].subject) for i in unneeded]),
            "indices": unneeded,
            "root_sent": any(positions[i] == "root" for i in unneeded),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    return findings


@dataclass(frozen=True)
class Analysis:
    """Everything `analyse` concluded: the findings and the facts behind them."""

    findings: tuple[Finding, ...]
    facts: Mapping[str, object]


def _position(index: int, cert: x509.Certificate) -> Position:
    if index == 0:
        return "leaf"
    return "root" if is_self_signed(cert) else "intermediate"


def analyse(
    chain: Sequence[ChainEntry],
    *,
    host: str,
    is_ip: bool,
    now: datetime | None = None,
    mozilla: TrustStore,
    cacert: TrustStore | None = None,
    os_judgement: Judgement | None = None,
    known_bad: KnownBadList | None = None,
) -> Analysis:
    """Grade the chain as sent and report every problem found, not only the first.

    Trust is decided by `cacert` when given (its roots are the only anchors, as curl's
    `--cacert`); otherwise by the operating system (`os_judgement`), with Mozilla's roots as
    the comparison whose disagreements are findings themselves; when the operating system
    could not be asked, by Mozilla's roots. `now` is a parameter so that the analysis can be
    repeated at the network's time when this computer's clock is wrong.
    """
    now = now or datetime.now(UTC)
    known_bad = known_bad or KnownBadList(0, {})
    os_judgement = os_judgement or Judgement(None, "the operating system was not asked")
    findings: list[Finding] = []
    sent: dict[int, x509.Certificate] = {}
    for index, entry in enumerate(chain):
        if isinstance(entry, Unparsable):
            position = "leaf" if index == 0 else "intermediate"
            params = {"index": index, "position": position, "error": entry.error}
            findings.append(Finding("cert.unparsable", Status.FAIL, params))
        else:
            sent[index] = entry
    positions = {index: _position(index, cert) for index, cert in sent.items()}
    facts: dict[str, object] = {
        "host": host,
        "now": iso(now),
        "certificates": [describe(c, index=i, position=positions[i]) for i, c in sent.items()],
        "unparsable": [i for i, e in enumerate(chain) if isinstance(e, Unparsable)],
    }
    judgements: dict[str, object] = {"os": os_judgement.fact(), "mozilla": None, "cacert": None}
    facts["judgements"] = judgements
    if not chain:
        params = {"index": 0, "position": "leaf", "error": "no certificate", "variant": "missing"}
        return Analysis((Finding("cert.unparsable", Status.FAIL, params),), facts)
    if 0 not in sent:
        # Without the server's own certificate neither names nor a path can be judged; the
        # others are still graded one by one.
        for index, cert in sent.items():
            findings += _grade(cert, positions[index], now, dated=True)
        findings += _known_bad_findings([(c, positions[i]) for i, c in sent.items()], known_bad)
        return Analysis(tuple(findings), facts)

    decisive_store = cacert if cacert is not None else mozilla
    path = build_path(sent, decisive_store)
    mozilla_path = path if cacert is None else build_path(sent, mozilla)
    judgements["mozilla"] = judge(mozilla_path, sent, mozilla).fact()
    if cacert is not None:
        judgements["cacert"] = judge(path, sent, cacert).fact()
    facts["path"] = _path_fact(path, sent, decisive_store)

    for index in path.indices:
        # A root's expiry does not matter: the copy in the trust store is the anchor.
        dated = index == 0 or positions[index] != "root"
        findings += _grade(sent[index], positions[index], now, dated=dated)
    examined: list[tuple[x509.Certificate, Position]] = [
        (sent[i], positions[i]) for i in path.indices
    ]
    anchor = path.anchor
    if anchor is not None and _identity(anchor) != _identity(sent[path.indices[-1]]):
        weak_anchor = check_key(anchor, position="root")
        if weak_anchor is not None:
            findings.append(weak_anchor)
        examined.append((anchor, "root"))
    examined += [(sent[i], positions[i]) for i in sorted(set(sent) - set(path.indices))]
    findings += _known_bad_findings(examined, known_bad)

    mismatch = check_hostname(sent[0], host, is_ip=is_ip)
    if mismatch is not None:
        findings.append(mismatch)

    if cacert is not None:
        facts["decided_by"] = "cacert"
        findings += path_findings(path, sent, store=cacert, reference=mozilla)
    elif os_judgement.trusted is None:
        facts["decided_by"] = "mozilla"
        findings += path_findings(path, sent, store=mozilla)
    else:
        facts["decided_by"] = "os"
        findings += _os_findings(path, sent, mozilla, os_judgement, findings)
    findings += _order_findings(path, sent, positions)

    if not findings:
        leaf = sent[0]
        params = {
            "subject": display_name(leaf.subject),
            "issuer": display_name(leaf.issuer),
            "not_after": iso(leaf.not_valid_after_utc),
            "days_left": (leaf.not_valid_after_utc - now) // _DAY,
        }
        findings.append(Finding("cert.valid", Status.PASS, params))
    return Analysis(tuple(findings), facts)


def _grade(
    cert: x509.Certificate, position: Position, now: datetime, *, dated: bool
) -> list[Finding]:
    findings = check_validity(cert, position=position, now=now) if dated else []
    checks = [
        # A self-signature proves nothing, so its hash does not matter either.
        None if is_self_signed(cert) else check_signature(cert, position=position),
        check_key(cert, position=position),
    ]
    return findings + [f for f in checks if f is not None]


def _known_bad_findings(
    certs: Iterable[tuple[x509.Certificate, Position]], known_bad: KnownBadList
) -> list[Finding]:
    """One finding per known-bad key, however many certificates carry it."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for cert, position in certs:
        digest = spki_sha256(cert)
        if digest in seen:
            continue
        seen.add(digest)
        bad = check_known_bad(cert, position=position, known_bad=known_bad)
        if bad is not None:
            findings.append(bad)
    return findings


def _os_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    mozilla: TrustStore,
    os_judgement: Judgement,
    so_far: Sequence[Finding],
) -> list[Finding]:
    """Findings when the operating system decides trust and Mozilla's roots are the comparison."""
    if os_judgement.trusted:
        if path.trusted:
            return []
        top_index = path.indices[-1]
        top = sent[top_index]
        if path.end == "missing_issuer" and path.missing_issuer and aia_ca_issuers(top):
            # Windows and macOS download a missing intermediate from the AIA address; other
            # programs do not, so the server still has a problem, if a smaller one here.
            return [_incomplete(top, top_index, path.missing_issuer, Status.WARN)]
        root, digest = _top_root(path, sent, None)
        params = {"root": root, "fingerprint": digest}
        return [Finding("cert.trusted_locally_only", Status.WARN, params)]
    if not path.trusted:
        return path_findings(path, sent, store=mozilla)
    if any(f.status is Status.FAIL and f.id in _REJECTED_ANYWAY for f in so_far):
        return []  # the operating system's refusal is already explained
    anchor = path.anchor
    assert anchor is not None
    params = {
        "root": display_name(anchor.subject),
        "fingerprint": fingerprint(anchor),
        "detail": os_judgement.detail,
    }
    return [Finding("cert.os_store_missing_root", Status.FAIL, params)]


def _path_fact(
    path: ChainPath, sent: Mapping[int, x509.Certificate], store: TrustStore
) -> dict[str, object]:
    anchor = path.anchor
    return {
        "store": store.name,
        "indices": list(path.indices),
        "end": path.end,
        "anchor": None
        if anchor is None
        else {"subject": display_name(anchor.subject), "sha256": fingerprint(anchor)},
        "missing_issuer": None
        if path.missing_issuer is None
        else path.missing_issuer.rfc4514_string(),
    }


def _os_handshake(sock: socket.socket, server_hostname: str | None, timeout: float) -> Judgement:
    sock.settimeout(timeout)
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Only the chain is asked about: names are judged by `check_hostname` above.
    context.check_hostname = False
    try:
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        return Judgement(False, f"not trusted by the operating system: {reason}")
    return Judgement(True, f"trusted by the operating system ({version})")


def ask_os(
    address: str,
    port: int,
    *,
    server_hostname: str | None,
    timeout: float,
    cancel: threading.Event,
) -> Judgement:
    """Open a second connection and let the operating system's verifier judge the chain.

    Never raises (except `Cancelled`) and returns within about `timeout` seconds; when
    the operating system cannot be asked, the judgement's `trusted` is None.
    """
    try:
        sock = net.connect(address, port, timeout=timeout, cancel=cancel)
    except net.ConnectError as exc:
        return Judgement(None, f"could not ask the operating system: {exc}")
    try:
        return net.in_thread(
            lambda: _os_handshake(sock, server_hostname, timeout),
            timeout=timeout + _OS_GRACE_S,
            cancel=cancel,
            name="cert-os-verify",
        )
    except Cancelled:
        raise
    except Exception as exc:  # any failure here is a fact about this machine, not a crash
        return Judgement(None, f"could not ask the operating system: {type(exc).__name__}: {exc}")
    finally:
        sock.close()


def _known_bad_fact() -> tuple[KnownBadList, dict[str, object]]:
    try:
        known = load_known_bad()
    except (OSError, ValueError, KeyError) as exc:
        return KnownBadList(0, {}), {"error": f"{type(exc).__name__}: {exc}"}
    return known, {"version": known.version, "entries": len(known.entries)}


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    tls = ctx.results["tls"].facts
    raw_chain = tls.get("chain_pem")
    pems = [str(p) for p in raw_chain] if isinstance(raw_chain, list | tuple) else []
    address = str(tls.get("address") or target.host)
    port = int(str(tls.get("port") or target.port))
    sni = tls.get("sni", target.sni)
    settings = ctx.settings
    mozilla = TrustStore.from_file(settings.known_roots or Path(certifi.where()), name="mozilla")
    cacert = TrustStore.from_file(settings.cacert, name="cacert") if settings.cacert else None
    known_bad, known_bad_fact = _known_bad_fact()
    ctx.raise_if_cancelled()
    os_judgement = ask_os(
        address,
        port,
        server_hostname=str(sni) if sni else target.host,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
    )
    analysis = analyse(
        load_chain(pems),
        host=target.sni or target.host,
        is_ip=target.sni is None and target.is_ip,
        mozilla=mozilla,
        cacert=cacert,
        os_judgement=os_judgement,
        known_bad=known_bad,
    )
    findings, clock_fact = _at_network_time(
        _name_interceptor(analysis.findings, load_chain(pems), host=target.host),
        ctx.results.get("clock"),
        lambda now: analyse(
            load_chain(pems),
            host=target.sni or target.host,
            is_ip=target.sni is None and target.is_ip,
            now=now,
            mozilla=mozilla,
            cacert=cacert,
            os_judgement=os_judgement,
            known_bad=known_bad,
        ),
    )
    facts = {
        **analysis.facts,
        "stores": {"mozilla": mozilla.fact(), "cacert": cacert.fact() if cacert else None},
        "known_bad_list": known_bad_fact,
        "clock": clock_fact,
    }
    return Outcome(findings, facts)


# Trust problems that a product's own root explains: the chain was re-signed on the way.
_INTERCEPTABLE = frozenset(
    {
        "cert.untrusted_root",
        "cert.trusted_locally_only",
        "cert.self_signed",
        "cert.os_store_missing_root",
        "cert.incomplete_chain",
    }
)


def _name_interceptor(
    findings: tuple[Finding, ...], chain: Sequence[ChainEntry], *, host: str
) -> tuple[Finding, ...]:
    """Replace "untrusted root" and its kin by `cert.intercepted` when the chain was made by a
    known intercepting product: the cause is the product, not the site."""
    if not any(f.id in _INTERCEPTABLE for f in findings):
        return findings
    certs = [c for c in chain if isinstance(c, x509.Certificate)]
    product = products.load().match_chain(certs)
    if product is None:
        return findings
    kept = [f for f in findings if f.id not in _INTERCEPTABLE]
    status = Status.worst(f.status for f in findings if f.id in _INTERCEPTABLE)
    top = certs[-1] if certs else None
    issuer = display_name(top.issuer) if top is not None else product.name
    params = {"host": host, "product": product.name, "product_id": product.id, "issuer": issuer}
    return (Finding("cert.intercepted", status, params), *kept)


_DATED = frozenset({"cert.expired", "cert.not_yet_valid", "cert.expires_soon"})


def _at_network_time(
    findings: tuple[Finding, ...],
    clock: CheckResult | None,
    analyse_at: Callable[[datetime], Analysis],
) -> tuple[tuple[Finding, ...], dict[str, object] | None]:
    """Repeat the date checks at network time when the clock check measured it.

    A date problem that exists only by this computer's clock stays, marked
    `valid_at_network_time`: a certificate "from the future" on a computer whose clock is
    behind is the clock's fault, and the verdict needs to know it. A certificate whose dates
    are wrong at network time too is judged at network time, the true one: an expired
    certificate on a computer three years behind is expired, not "not yet valid".
    """
    offset = clock.facts.get("offset_s") if clock is not None else None
    if not isinstance(offset, int | float) or isinstance(offset, bool):
        return findings, None
    network_now = datetime.now(UTC) + timedelta(seconds=float(offset))
    at_network = analyse_at(network_now)
    truly = [f for f in at_network.findings if f.id in _DATED]
    wrong_then = {f.params.get("subject") for f in truly}
    marked = [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": True})
        if f.id in _DATED
        else f
        for f in findings
        if f.id not in _DATED or f.params.get("subject") not in wrong_then
    ]
    marked += [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": False}) for f in truly
    ]
    fact: dict[str, object] = {
        "offset_s": float(offset),
        "network_time": iso(network_now),
        "dates_valid_at_local_time": not any(f.id in _DATED for f in findings),
        "dates_valid_at_network_time": not wrong_then,
    }
    return tuple(marked), fact


CHECK = Check(
    id="cert",
    scope="target",
    run=run,
    requires=("tls",),
    after=("clock",),
    findings={
        "cert.valid": (),
        "cert.unparsable": ("missing",),
        "cert.expired": ("intermediate",),
        "cert.not_yet_valid": ("intermediate",),
        "cert.expires_soon": (),
        "cert.hostname_mismatch": ("www",),
        "cert.no_san": (),
        "cert.self_signed": ("cacert",),
        "cert.untrusted_root": ("cacert",),
        "cert.incomplete_chain": ("os_fetched",),
        "cert.chain_too_long": (),
        "cert.chain_order": ("order", "unneeded"),
        "cert.weak_signature": (),
        "cert.weak_key": ("dsa",),
        "cert.known_bad_root": (),
        "cert.trusted_locally_only": (),
        "cert.os_store_missing_root": (),
        "cert.intercepted": (),
    },
)
