"""Reads the trust bundles programs are pointed at: environment variables and certifi's own file."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.facts.trust_store import CertifiRecord, EnvOverrideRecord
from checks.core.redact import redact
from checks.lib import certinfo, trust
from checks.lib.roots import read_certs


@dataclass(frozen=True)
class EnvOverride:
    """A variable that changes which roots some programs trust, and what it points at.

    Attributes:
        state: `missing_file`, `empty_file`, `adds` (NODE_EXTRA_CA_CERTS: added to Node's own
            set), `system_bundle` (holds every root this computer trusts) or `set` (a list
            of its own, lacking some of this computer's roots).
        count: certificates in the file (or directory).
        lacking: names of roots this computer trusts that the file lacks.
    """

    variable: str
    path: str
    state: str
    count: int
    lacking: tuple[str, ...] = ()

    def fact(self) -> EnvOverrideRecord:
        return EnvOverrideRecord(
            variable=self.variable,
            path=self.path,
            state=self.state,
            certificates=self.count,
            lacking=self.lacking,
        )


# Adds to the program's own roots rather than replacing them.
_ADDING_VARIABLES = {"NODE_EXTRA_CA_CERTS"}


# Set by packaging/hooks/rthook_truststore.py next to the SSL_CERT_* values it chose.
RUNTIME_HOOK_MARKER = "HANDSHAKE_DOCTOR_CA_FROM_RUNTIME_HOOK"


def env_overrides(
    environ: Mapping[str, str], trusted: Sequence[x509.Certificate] = ()
) -> list[EnvOverride]:
    """Every trust-changing variable that is set, with the state of the file it names, and
    which of this computer's trusted roots (`trusted`) the file lacks."""
    found: list[EnvOverride] = []
    # The frozen app's runtime hook points OpenSSL at the system bundle when the build
    # machine's default paths do not exist here; what it set is ours, not the user's override.
    ours = {"SSL_CERT_FILE", "SSL_CERT_DIR"} if environ.get(RUNTIME_HOOK_MARKER) == "1" else set()
    for variable in policy.TRUST_ENV_VARIABLES:
        value = environ.get(variable, "").strip()
        if not value or variable in ours:
            continue
        if variable == "SSL_CERT_DIR":
            folders = [Path(p) for p in value.split(os.pathsep) if p]
            existing = [f for f in folders if f.is_dir()]
            certs = [c for f in existing for p in _dir_files(f) for c in read_certs(p)]
            exists = bool(existing)
        else:
            path = Path(value).expanduser()
            exists = path.is_file()
            certs = read_certs(path) if exists else []
        store = trust.TrustStore(certs, name=variable)
        lacking = tuple(
            dict.fromkeys(
                certinfo.display_name(c.subject) for c in trusted if store.find(c) is None
            )
        )
        if not exists:
            state = "missing_file"
        elif not certs:
            state = "empty_file"
        elif variable in _ADDING_VARIABLES:
            state = "adds"
        elif trusted and not lacking:
            state = "system_bundle"
        else:
            state = "set"
        found.append(EnvOverride(variable, redact(value), state, len(certs), lacking))
    return found


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
