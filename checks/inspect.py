"""Judges a certificate file (PEM, DER, PKCS#7, PKCS#12) offline, as the certificate check
judges a server's chain."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from checks import certificate
from checks.core.certfile import CertFile, CertFileError
from checks.core.models import CheckResult, Status
from checks.core.redact import redact
from checks.lib import certinfo, trust

MAX_BYTES = 10 * 1024 * 1024
_PEM_BLOCK = re.compile(
    rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----.*?"
    rb"-----END (?:X509 |TRUSTED )?CERTIFICATE-----",
    re.DOTALL,
)
_LABEL = re.compile(r"-----(BEGIN|END) (?:X509 |TRUSTED )?CERTIFICATE-----")
_PKCS7_PEM = re.compile(rb"-----BEGIN PKCS7-----.*?-----END PKCS7-----", re.DOTALL)


def _read(path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise CertFileError("not_found") from exc
    except PermissionError as exc:
        raise CertFileError("permission") from exc
    except OSError as exc:
        raise CertFileError("unreadable", reason=exc.strerror or type(exc).__name__) from exc
    if stat.S_ISDIR(info.st_mode):
        raise CertFileError("directory")
    if not stat.S_ISREG(info.st_mode):
        raise CertFileError("not_regular")
    if info.st_size > MAX_BYTES:
        raise CertFileError("too_big", size_mb=round(info.st_size / 1024 / 1024, 1), limit_mb=10)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except PermissionError as exc:
        raise CertFileError("permission") from exc
    except OSError as exc:
        raise CertFileError("unreadable", reason=exc.strerror or type(exc).__name__) from exc
    if len(data) > MAX_BYTES:  # the file grew between stat and read
        raise CertFileError("too_big", size_mb=round(len(data) / 1024 / 1024, 1), limit_mb=10)
    if not data.strip():
        raise CertFileError("empty")
    return data


def _normalised_pem(block: bytes) -> str:
    # OpenSSL's "TRUSTED CERTIFICATE" and old "X509 CERTIFICATE" labels read as plain ones.
    text = block.decode("ascii", "replace")
    return _LABEL.sub(r"-----\1 CERTIFICATE-----", text)


# A PKCS#12 (PFX) file: SEQUENCE { INTEGER 3, ... }, with a short or a long DER length.
_PKCS12_START = re.compile(rb"^\x30(?:[\x00-\x7f]|\x81.|\x82..|\x83...)\x02\x01\x03", re.DOTALL)


def kind_of(data: bytes) -> str:
    """`pem`, `pkcs12` or `der` (DER holds a certificate or a PKCS#7 bundle)."""
    if _PEM_BLOCK.search(data) or _PKCS7_PEM.search(data):
        return "pem"
    return "pkcs12" if _PKCS12_START.match(data) else "der"


def _pkcs12(data: bytes, password: bytes | None) -> list[str]:
    """The certificates of a PKCS#12 file, server certificate first; its key is never kept."""
    try:
        _, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        if password is None:
            # Nearly every .p12/.pfx has a password; an empty one is tried before asking.
            try:
                return _pkcs12(data, b"")
            except CertFileError:
                raise CertFileError("password_needed") from exc
        raise CertFileError("password_wrong") from exc
    certs = ([cert] if cert is not None else []) + list(extra)
    if not certs:
        raise CertFileError("not_certificate")
    return [_as_pem(c) for c in certs]


def split(data: bytes, *, password: bytes | None = None) -> list[str]:
    """Every certificate in `data` as PEM text, in file order; raises `CertFileError` if none
    (`password_needed` or `password_wrong` for a protected PKCS#12 file)."""
    blocks = [_normalised_pem(m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if blocks:
        return blocks
    if kind_of(data) == "pkcs12":
        return _pkcs12(data, password)
    bundles: list[x509.Certificate] = []
    try:
        if _PKCS7_PEM.search(data):
            bundles = pkcs7.load_pem_pkcs7_certificates(data)
        elif data[:1] == b"\x30":
            try:
                return [_as_pem(certinfo.load_der(data))]
            except ValueError:
                bundles = pkcs7.load_der_pkcs7_certificates(data)
    except ValueError as exc:
        raise CertFileError("not_certificate") from exc
    if not bundles:
        if b"PRIVATE KEY-----" in data:
            raise CertFileError("private_key")
        raise CertFileError("not_certificate")
    return [_as_pem(c) for c in leaf_first(bundles)]


def leaf_first(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """A PKCS#7 bundle is a set in no order: the server certificate (the one that issued no
    other), then its issuers, then whatever is left."""
    subjects = {c.issuer for c in certs if c.issuer != c.subject}
    leaves = [c for c in certs if c.subject not in subjects and not certinfo.is_ca(c)]
    if not leaves:
        return certs
    ordered = [leaves[0]]
    rest = [c for c in certs if c is not leaves[0]]
    while (issuer := next((c for c in rest if c.subject == ordered[-1].issuer), None)) is not None:
        ordered.append(issuer)
        rest.remove(issuer)
    return ordered + rest


def _as_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _leaf_name(pems: list[str]) -> tuple[str, bool]:
    """The name the file's first certificate is checked against: its own first SAN or CN."""
    try:
        leaf = certinfo.load_pem(pems[0])
    except ValueError:
        return "", False
    addresses = certinfo.ip_names(leaf)
    names = certinfo.dns_names(leaf)
    if names:
        return names[0], False
    if addresses:
        return addresses[0], True
    common = certinfo.display_name(leaf.subject)
    return common, False


def analyse(
    path: Path, *, host: str | None = None, is_ip: bool = False, password: bytes | None = None
) -> CertFile:
    """Read `path` and judge its certificates like a server's chain, offline.

    With no `host`, the names are checked against the first certificate's own first name, so
    only the other problems (dates, strength, the path to a trusted root) are reported. The
    password of a PKCS#12 file is used once and kept nowhere.
    """
    data = _read(path)
    pems = split(data, password=password)
    chain = certinfo.load_chain(pems)
    if all(isinstance(entry, certinfo.Unparsable) for entry in chain):
        raise CertFileError("not_certificate")
    if host is None:
        host, is_ip = _leaf_name(pems)
    mozilla = trust.TrustStore.from_file(Path(certifi.where()), name="mozilla")
    known_bad, _ = trust.shipped_known_bad()
    analysis = certificate.analyse(
        chain, host=host, is_ip=is_ip, mozilla=mozilla, known_bad=known_bad
    )
    result = CheckResult(
        "cert",
        Status.worst(f.status for f in analysis.findings),
        analysis.findings,
        analysis.facts,
    )
    shown = tuple(
        None if isinstance(entry, certinfo.Unparsable) else pem
        for entry, pem in zip(chain, pems, strict=True)
    )
    kind = kind_of(data)
    if kind == "der" and len(pems) > 1:
        kind = "pkcs7"
    return CertFile(path, redact(str(path)), shown, host, result, kind)
