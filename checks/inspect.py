"""Reads a certificate file (PEM, DER, chain or PKCS#7) and lets checks.certificate judge it."""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from checks import certificate
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


class CertFileError(Exception):
    """A file that cannot be analysed; `key` and `params` pick the one sentence to show."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class CertFile:
    """A certificate file and what the certificate check concluded about it.

    Attributes:
        path: the file, as given.
        display: the file's path for people, with the home directory as ~.
        pems: each certificate as PEM, in file order (None where a block could not be read).
        host: the name the server certificate was checked against.
        result: findings and facts, as the `cert` check would report them.
    """

    path: Path
    display: str
    pems: tuple[str | None, ...]
    host: str
    result: CheckResult


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


def split(data: bytes) -> list[str]:
    """Every certificate in `data` as PEM text, in file order; raises `CertFileError` if none."""
    blocks = [_normalised_pem(m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if blocks:
        return blocks
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
    return [_as_pem(c) for c in bundles]


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


def analyse(path: Path, *, host: str | None = None, is_ip: bool = False) -> CertFile:
    """Read `path` and judge its certificates like a server's chain, offline.

    With no `host`, the names are checked against the first certificate's own first name, so
    only the other problems (dates, strength, the path to a trusted root) are reported.
    """
    data = _read(path)
    pems = split(data)
    chain = certinfo.load_chain(pems)
    if all(isinstance(entry, certinfo.Unparsable) for entry in chain):
        raise CertFileError("not_certificate")
    if host is None:
        host, is_ip = _leaf_name(pems)
    mozilla = trust.TrustStore.from_file(Path(certifi.where()), name="mozilla")
    try:
        known_bad = trust.load_known_bad()
    except (OSError, ValueError, KeyError):
        known_bad = None
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
    return CertFile(path, redact(str(path)), shown, host, result)
