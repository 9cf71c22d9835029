"""Compares each program's trusted roots with the operating system's: what it lacks and adds."""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from checks.core.check import Cancelled
from checks.lib import certinfo, trust
from checks.lib.programs import parse, probes
from checks.lib.programs.models import Program, TrustGap
from checks.lib.programs.runner import english, run
from checks.lib.roots import read_certs

# Java's default trust store password: public and the same on every JDK.
JAVA_PASSWORD = "changeit"
_JKS_MAGIC, _JCEKS_MAGIC = 0xFEEDFEED, 0xCECECECE
# More entries than any real trust store holds: a damaged count must not make us loop forever.
_MAX_ENTRIES = 10_000
Key = tuple[bytes, bytes]


def _key(cert: x509.Certificate) -> Key:
    # Subject and key, not the whole certificate: a root re-issued with new dates is the same
    # trust anchor to every verifier.
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert.subject.public_bytes(), spki


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def read_jks(data: bytes) -> list[x509.Certificate]:
    """The certificates of a JKS or JCEKS key store (trusted entries and key chains); the
    integrity hash is not checked, as no password is needed to read certificates."""
    magic, version, count = struct.unpack_from(">III", data, 0)
    if magic not in (_JKS_MAGIC, _JCEKS_MAGIC) or version not in (1, 2):
        raise ValueError("not a JKS key store")
    offset = 12
    certs: list[x509.Certificate] = []

    def utf() -> None:
        nonlocal offset
        (size,) = struct.unpack_from(">H", data, offset)
        offset += 2 + size

    def blob() -> bytes:
        nonlocal offset
        (size,) = struct.unpack_from(">I", data, offset)
        offset += 4 + size
        if offset > len(data):
            raise ValueError("truncated key store")
        return data[offset - size : offset]

    def cert() -> None:
        if version == 2:
            utf()  # the certificate type, "X.509"
        der = blob()
        with contextlib.suppress(ValueError):
            certs.append(certinfo.load_der(der))

    for _ in range(min(count, _MAX_ENTRIES)):
        (tag,) = struct.unpack_from(">I", data, offset)
        offset += 4
        utf()  # the alias
        offset += 8  # the creation date
        if tag == 1:  # a private key (still encrypted) and its chain
            blob()
            (chain,) = struct.unpack_from(">I", data, offset)
            offset += 4
            for _ in range(min(chain, _MAX_ENTRIES)):
                cert()
        elif tag == 2:
            cert()
        else:  # a JCEKS secret key: a serialized Java object, which cannot be skipped safely
            break
    return certs


def read_keystore(path: Path, password: str = JAVA_PASSWORD) -> list[x509.Certificate]:
    """A Java trust store's certificates: PKCS#12 (Java 9+), JKS/JCEKS, or PEM/DER."""
    data = path.read_bytes()
    if data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
        return read_jks(data)
    if b"-----BEGIN" in data:
        return read_certs(path)
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode())
    except ValueError:
        return [certinfo.load_der(data)]
    found = [loaded.cert.certificate] if loaded.cert is not None else []
    return found + [extra.certificate for extra in loaded.additional_certs]


def _read_file(path: str) -> list[x509.Certificate]:
    folder = Path(path)
    if folder.is_dir():
        certs: list[x509.Certificate] = []
        for item in sorted(folder.iterdir()):
            if item.is_file():
                certs += read_certs(item)
        return certs
    if not folder.is_file():
        raise FileNotFoundError(path)
    return read_certs(folder)


def mozilla_roots() -> list[x509.Certificate]:
    """Mozilla's public roots, as certifi (this application's copy) ships them."""
    return read_certs(Path(certifi.where()))


def _node_roots(
    program: Program, environ: Mapping[str, str], timeout: float, cancel: threading.Event
) -> tuple[list[x509.Certificate], str]:
    done = run(
        [program.path or "node", "-p", probes.NODE_ROOTS],
        timeout=timeout, cancel=cancel, environ=english(environ),
    )  # fmt: skip
    if not done.ok:
        raise OSError(done.problem or "node did not answer")
    certs = list(trust.TrustStore.from_bytes(done.stdout.encode(), name="node").certificates)
    detail = "Node's bundled roots (tls.rootCertificates)"
    extra = parse.env_lookup(environ, "NODE_EXTRA_CA_CERTS")
    if extra:
        certs += read_certs(Path(extra))
        detail += f" plus NODE_EXTRA_CA_CERTS ({extra})"
    return certs, detail


def _program_roots(
    program: Program,
    store: str,
    *,
    environ: Mapping[str, str],
    timeout: float,
    cancel: threading.Event,
    os_roots: Sequence[x509.Certificate],
) -> tuple[list[x509.Certificate], str]:
    if store == "node_bundled":
        return _node_roots(program, environ, timeout, cancel)
    if store == "certifi":
        path = program.certifi_path or program.trust_store_path or certifi.where()
        return _read_file(path), f"certifi's bundle ({path})"
    if store == "java_cacerts":
        if not program.trust_store_path:
            raise FileNotFoundError("Java's cacerts was not found")
        keystore = Path(program.trust_store_path)
        return read_keystore(keystore), f"Java's cacerts ({keystore})"
    if store == "file":
        if not program.trust_store_path:
            raise FileNotFoundError("no bundle named")
        return _read_file(program.trust_store_path), f"the bundle {program.trust_store_path}"
    if store == "nss":
        certs = mozilla_roots()
        if program.policy.get("enterprise_roots"):
            return certs + list(os_roots), "Mozilla's roots plus the OS roots"
        return certs, "Mozilla's roots (certifi's copy, as NSS ships the same set)"
    if store == "chrome_root_store":
        # About Mozilla's set of public CAs; locally added roots come from the OS on Windows and
        # macOS (on Linux from Chrome's own NSS database, which is not read here).
        certs = mozilla_roots()
        if program.notes and "nssdb" in " ".join(program.notes):
            return certs, "the Chrome Root Store (about Mozilla's roots); ~/.pki/nssdb not read"
        return certs + list(os_roots), "the Chrome Root Store plus roots added to the OS"
    return list(os_roots), "the operating system's roots"


def _subjects(certs: Iterable[x509.Certificate]) -> tuple[str, ...]:
    return tuple(sorted({_subject(c) for c in certs}))


def trust_gaps(
    program: Program,
    os_roots: Sequence[x509.Certificate],
    *,
    store: str | None = None,
    timeout: float = 10.0,
    cancel: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> TrustGap:
    """The roots the OS trusts that `program` does not (locally added ones first), and the
    ones it trusts that the OS does not. `store` overrides the program's (for Python,
    "certifi" asks about requests and pip). Never raises except `Cancelled`."""
    store = store or program.trust_store
    env = dict(os.environ if environ is None else environ)
    try:
        certs, detail = _program_roots(
            program,
            store,
            environ=env,
            timeout=timeout,
            cancel=cancel or threading.Event(),
            os_roots=os_roots,
        )
    except Cancelled:
        raise
    except (OSError, ValueError, struct.error) as exc:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return TrustGap(program.id, store, (), (), False, f"its roots could not be read: {why}")
    if not certs:
        return TrustGap(program.id, store, (), (), False, f"{detail}: no certificate found")
    theirs = {_key(c): c for c in certs}
    ours = {_key(c): c for c in os_roots}
    public = {_key(c) for c in mozilla_roots()}
    missing = [ours[k] for k in ours if k not in theirs]
    local = [c for c in missing if _key(c) not in public]
    others = [c for c in missing if _key(c) in public]
    extra = [theirs[k] for k in theirs if k not in ours]
    local_subjects = _subjects(local)
    return TrustGap(
        program.id, store, local_subjects + _subjects(others), _subjects(extra), True, detail,
        locally_added_missing=local_subjects,
    )  # fmt: skip
