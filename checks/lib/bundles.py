"""Reads the trust bundles programs are pointed at: variables, Java's trust store, certifi."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from checks.core import policy
from checks.core.facts.trust_store import (
    BundleKnownBad,
    CertifiRecord,
    EnvOverrideRecord,
    MatchedBy,
)
from checks.core.redact import redact
from checks.lib import certinfo, trust
from checks.lib.roots import read_certs


@dataclass(frozen=True)
class EnvOverride:
    """A variable that changes which roots some programs trust, and what it points at.

    Attributes:
        state: `missing_file`, `empty_file`, `unreadable` (a Java keystore that cannot be
            read), `adds` (NODE_EXTRA_CA_CERTS: added to Node's own set), `system_bundle`
            (exactly the roots this computer trusts), `extra_roots` (all of them and more)
            or `set` (a list of its own, lacking some of this computer's roots).
        count: certificates in the file (or directory).
        lacking: names of roots the compared set holds that the file lacks.
        added: names of the file's certificates the compared set lacks.
        known_bad: the file's certificates on the known-bad list.
        compared_with: `system_roots` or `public_set` (see `EnvOverrideRecord`).
        setting: the option naming the file inside the variable (JAVA_TOOL_OPTIONS).
        error: why the file could not be read; never holds a password.
    """

    variable: str
    path: str
    state: str
    count: int
    lacking: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    known_bad: tuple[BundleKnownBad, ...] = ()
    compared_with: str = "system_roots"
    setting: str | None = None
    error: str | None = None

    @property
    def shown_path(self) -> str:
        """The path as the user wrote it: inside its option for JAVA_TOOL_OPTIONS."""
        return f"-D{self.setting}={self.path}" if self.setting else self.path

    def fact(self) -> EnvOverrideRecord:
        return EnvOverrideRecord(
            variable=self.variable,
            setting=self.setting,
            path=self.path,
            state=self.state,
            certificates=self.count,
            lacking=self.lacking,
            compared_with=self.compared_with,
            added_count=len(self.added),
            added=self.added[: policy.MAX_LISTED_ROOTS],
            known_bad=self.known_bad,
            error=self.error,
        )


# Adds to the program's own roots rather than replacing them.
_ADDING_VARIABLES = {"NODE_EXTRA_CA_CERTS"}


# Set by packaging/hooks/rthook_truststore.py next to the SSL_CERT_* values it chose.
RUNTIME_HOOK_MARKER = "HANDSHAKE_DOCTOR_CA_FROM_RUNTIME_HOOK"

# The JVM reads its options from this variable; the trust store is one of them.
JAVA_OPTIONS_VARIABLE = "JAVA_TOOL_OPTIONS"
JAVA_TRUSTSTORE = "javax.net.ssl.trustStore"
# Store types that make Java use the operating system's roots: no file to read.
_JAVA_OS_STORE_TYPES = {"windows-root", "windows-my", "keychainstore"}
# keytool's default password, and none, as Java itself would try them.
_JAVA_DEFAULT_PASSWORDS = ("changeit", "")


@dataclass(frozen=True)
class _Read:
    """What a bundle held: its certificates, whether it exists, why it could not be read."""

    certs: tuple[x509.Certificate, ...]
    exists: bool
    error: str | None = None


def env_overrides(
    environ: Mapping[str, str],
    trusted: Sequence[x509.Certificate] = (),
    *,
    known_bad: trust.KnownBadList | None = None,
    compared_with: str = "system_roots",
) -> list[EnvOverride]:
    """Every trust-changing variable that is set, with the state of the file it names: which
    of the compared roots (`trusted`) it lacks, which it adds, and which are known-bad."""
    found: list[EnvOverride] = []
    known = known_bad or trust.KnownBadList(0, {})
    reference = trust.TrustStore(trusted, name=compared_with)
    # The frozen app's runtime hook points OpenSSL at the system bundle when the build
    # machine's default paths do not exist here; what it set is ours, not the user's override.
    ours = {"SSL_CERT_FILE", "SSL_CERT_DIR"} if environ.get(RUNTIME_HOOK_MARKER) == "1" else set()
    named: list[tuple[str, str, str | None, _Read]] = []
    for variable in policy.TRUST_ENV_VARIABLES:
        value = environ.get(variable, "").strip()
        if not value or variable in ours:
            continue
        if variable == "SSL_CERT_DIR":
            folders = [Path(p) for p in value.split(os.pathsep) if p]
            existing = [f for f in folders if f.is_dir()]
            in_dirs = [c for f in existing for p in _dir_files(f) for c in read_certs(p)]
            read = _Read(tuple(in_dirs), bool(existing))
        else:
            path = Path(value).expanduser()
            exists = path.is_file()
            read = _Read(tuple(read_certs(path)) if exists else (), exists)
        named.append((variable, value, None, read))
    java = java_truststore(environ.get(JAVA_OPTIONS_VARIABLE, ""))
    if java is not None:
        store_path, password = java
        named.append(
            (
                JAVA_OPTIONS_VARIABLE,
                store_path,
                JAVA_TRUSTSTORE,
                _read_keystore(Path(store_path).expanduser(), password),
            )
        )
    for variable, value, setting, read in named:
        certs = read.certs
        store = trust.TrustStore(certs, name=variable)
        lacking = _names(c for c in trusted if store.find(c) is None)
        added = _names(c for c in certs if reference.find(c) is None)
        if not read.exists:
            state = "missing_file"
        elif read.error is not None:
            state = "unreadable"
        elif not certs:
            state = "empty_file"
        elif variable in _ADDING_VARIABLES:
            state = "adds"
        elif trusted and not lacking:
            state = "extra_roots" if added else "system_bundle"
        else:
            state = "set"
        found.append(
            EnvOverride(
                variable,
                redact(value),
                state,
                len(certs),
                lacking,
                added,
                _known_bad(certs, known),
                compared_with,
                setting,
                read.error,
            )
        )
    return found


def _names(certs: Iterable[x509.Certificate]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(certinfo.display_name(c.subject) for c in certs))


def _known_bad(
    certs: Sequence[x509.Certificate], known: trust.KnownBadList
) -> tuple[BundleKnownBad, ...]:
    """The certificates whose own key is on the list, or whose issuer is a listed root."""
    bad: list[BundleKnownBad] = []
    for cert in certs:
        entry = known.spki_match(cert)
        matched: MatchedBy = "key"
        if entry is None:
            entry, matched = known.issuer_match(cert), "issuer"
        if entry is not None:
            subject = certinfo.display_name(cert.subject)
            sha256 = certinfo.fingerprint(cert)
            bad.append(
                BundleKnownBad(subject=subject, sha256=sha256, name=entry.name, matched_by=matched)
            )
    return tuple(bad)


def java_truststore(options: str) -> tuple[str, str | None] | None:
    """The trust store file JAVA_TOOL_OPTIONS names, and the password it gives for it (None
    when it gives none); None when it names no file of its own."""
    try:
        words = shlex.split(options)
    except ValueError:
        # An unbalanced quote: the JVM splits on spaces too, so that is the best guess.
        words = options.split()
    values: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if word.startswith("-D") and equals:
            values[name[2:]] = value
    path = values.get(JAVA_TRUSTSTORE, "").strip()
    kind = values.get(JAVA_TRUSTSTORE + "Type", "").strip().lower()
    if not path or path.upper() == "NONE" or kind in _JAVA_OS_STORE_TYPES:
        return None
    return path, values.get(JAVA_TRUSTSTORE + "Password")


# JKS and JCEKS files start with these magic numbers; cryptography reads neither format.
_JKS_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")


def _read_keystore(path: Path, password: str | None) -> _Read:
    """The certificates of a Java trust store: PKCS#12 (Java's default since 9), or a PEM or
    DER file; a JKS file is reported as unreadable. The password never leaves this function."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _Read((), False)
    except OSError as exc:
        return _Read((), True, f"not readable ({type(exc).__name__})")
    if data.startswith(_JKS_MAGIC):
        return _Read((), True, "not readable (JKS)")
    if b"-----BEGIN" in data:
        return _Read(tuple(read_certs(path)), True)
    tries = (password,) if password is not None else _JAVA_DEFAULT_PASSWORDS
    for attempt in (*tries, None):
        try:
            loaded = pkcs12.load_pkcs12(data, None if attempt is None else attempt.encode())
        except (ValueError, TypeError):
            continue
        certs = [loaded.cert.certificate] if loaded.cert is not None else []
        certs += [extra.certificate for extra in loaded.additional_certs]
        return _Read(tuple(certs), True)
    try:
        return _Read((certinfo.load_der(data),), True)
    except ValueError:
        # Neither PKCS#12 with the passwords tried nor a certificate; the reason names no password.
        return _Read((), True, "not readable (PKCS#12: wrong password or damaged file)")


def _dir_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file())[: policy.MAX_CERT_DIR_FILES]
    except OSError:
        return []


@dataclass(frozen=True)
class BundleCheck:
    """certifi's bundle against the hash its installer recorded."""

    path: str
    verified: bool | None  # None: no RECORD to compare with (a frozen app, say)
    expected: str | None = None
    actual: str | None = None

    def fact(self) -> CertifiRecord:
        return CertifiRecord(
            path=self.path, verified=self.verified, expected=self.expected, actual=self.actual
        )


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_record(
    bundle: Path, record: str | None, name: str = "certifi/cacert.pem"
) -> BundleCheck:
    """Compare `bundle` with its line in a wheel RECORD (`path,sha256=...,size`)."""
    expected = None
    for line in (record or "").splitlines():
        path, _, rest = line.partition(",")
        if path.replace("\\", "/") == name:
            expected = rest.split(",", 1)[0] or None
            break
    shown = redact(str(bundle))
    if expected is None:
        return BundleCheck(shown, None)
    try:
        actual = _record_hash(bundle.read_bytes())
    except OSError as exc:
        return BundleCheck(shown, False, expected, f"unreadable: {type(exc).__name__}")
    return BundleCheck(shown, actual == expected, expected, actual)


def check_certifi() -> BundleCheck:
    """Whether the certifi bundle installed here is the one its package shipped."""
    bundle = Path(certifi.where())
    try:
        record = importlib.metadata.distribution("certifi").read_text("RECORD")
    except importlib.metadata.PackageNotFoundError:
        record = None
    return verify_record(bundle, record)
