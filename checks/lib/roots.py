"""Reads the root certificates this operating system trusts: bundles, stores, keychains."""

from __future__ import annotations

import contextlib
import hashlib
import os
import plistlib
import re
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from checks.core import policy
from checks.core.facts.trust_store import AnchorFile, PendingAnchor, StoreDetails
from checks.core.platform import OSName, current_os
from checks.core.redact import redact
from checks.lib import certinfo, trust
from checks.lib.system import CommandResult, Runner, reg_query, run_command


@dataclass(frozen=True)
class Enumeration:
    """The roots this computer trusts for HTTPS, as read from its operating system.

    Attributes:
        os_name: the OS they were read from.
        trusted: the roots trusted to vouch for websites.
        program: SHA-256 fingerprints of trusted roots the OS vendor ships itself (Windows'
            AuthRoot and built-in roots, macOS' system roots, a Linux distribution's package);
            such a root is not "added locally" even when Mozilla no longer lists it.
        distrusted: roots explicitly marked as not trusted (Windows' Disallowed store, a macOS
            "Never Trust" setting).
        sources: where the roots were read from.
        auto_update_disabled: Windows only: the policy that stops on-demand root downloads.
        error: why the store could not be read, if it could not.
        error_kind: `no_bundle`, `empty` or `command_failed`.
        facts: what only this operating system's store tells, for the report.
    """

    os_name: OSName
    trusted: tuple[x509.Certificate, ...]
    program: frozenset[str] = frozenset()
    distrusted: tuple[x509.Certificate, ...] = ()
    sources: tuple[str, ...] = ()
    auto_update_disabled: bool | None = None
    error: str | None = None
    error_kind: str | None = None
    facts: StoreDetails = field(default_factory=StoreDetails)

    def store(self) -> trust.TrustStore:
        return trust.TrustStore(
            self.trusted, name="system", source=", ".join(self.sources), error=self.error
        )


def _certs(data: bytes) -> list[x509.Certificate]:
    return list(trust.TrustStore.from_bytes(data, name="read").certificates)


def read_certs(path: Path) -> list[x509.Certificate]:
    try:
        return _certs(path.read_bytes())
    except OSError:
        return []


def _cert_files(folder: Path) -> list[Path]:
    """Certificate-like files below `folder` (recursively), sorted; none when it is missing."""
    try:
        found = [p for p in folder.rglob("*") if p.suffix.lower() in _CERT_SUFFIXES]
    except OSError:
        return []
    return sorted(p for p in found if p.is_file())


_CERT_SUFFIXES = {".crt", ".pem", ".cer", ".p11-kit"}


# The compiled bundle each family's TLS libraries read, in the order tried.
LINUX_BUNDLES: tuple[tuple[str, str], ...] = (
    ("Debian/Ubuntu/Alpine", "/etc/ssl/certs/ca-certificates.crt"),
    ("RHEL/Fedora", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
    ("RHEL/Fedora (legacy path)", "/etc/pki/tls/certs/ca-bundle.crt"),
    ("SUSE", "/var/lib/ca-certificates/ca-bundle.pem"),
    ("SUSE (legacy path)", "/etc/ssl/ca-bundle.pem"),
    ("Arch", "/etc/ca-certificates/extracted/tls-ca-bundle.pem"),
    ("Alpine/OpenSSL default", "/etc/ssl/cert.pem"),
)


# Where each distribution's ca-certificates package keeps the roots it ships.
LINUX_PACKAGE_SOURCES = (
    "/usr/share/ca-certificates",
    "/usr/share/pki/ca-trust-source",
    "/usr/share/pki/trust",
)


# Where an administrator drops roots to add to the bundle (then runs the update command).
LINUX_LOCAL_ANCHORS: tuple[tuple[str, str], ...] = (
    ("/usr/local/share/ca-certificates", "update-ca-certificates"),
    ("/etc/pki/ca-trust/source/anchors", "update-ca-trust"),
    ("/etc/pki/trust/anchors", "update-ca-certificates"),
    ("/etc/ca-certificates/trust-source/anchors", "trust extract-compat"),
)


def _under(root: Path, path: str) -> Path:
    return root.joinpath(*PurePosixPath(path).parts[1:])


def enumerate_linux(root: Path = Path("/"), *, openssl_cafile: str | None = None) -> Enumeration:
    """The distribution's bundle (OpenSSL's default file first), its shipped roots, and the
    locally added anchors; `root` lets tests build a file system of their own."""
    existing: list[tuple[str, str]] = []
    seen: set[str] = set()
    for family, path in [*LINUX_BUNDLES, ("OpenSSL default", openssl_cafile or "")]:
        real = os.path.realpath(_under(root, path)) if path else ""
        if real and os.path.isfile(real) and real not in seen:
            seen.add(real)
            existing.append((family, path))
    # OpenSSL's default file (usually a symlink to the distribution's bundle) is what
    # programs here read, so it goes first, under the name of the bundle it points at.
    default = os.path.realpath(_under(root, openssl_cafile)) if openssl_cafile else None
    existing.sort(key=lambda entry: os.path.realpath(_under(root, entry[1])) != default)
    bundles_found = tuple(path for _, path in existing)
    anchors: list[AnchorFile] = []
    anchor_certs: list[tuple[x509.Certificate, str]] = []
    for folder, command in LINUX_LOCAL_ANCHORS:
        for file in _cert_files(_under(root, folder)):
            for cert in read_certs(file):
                anchor_certs.append((cert, str(PurePosixPath(folder) / file.name)))
                anchors.append(AnchorFile(file=redact(str(file)), update_command=command))
    if not existing:
        return Enumeration(
            "linux",
            (),
            error="no CA bundle found at any known path",
            error_kind="no_bundle",
            facts=StoreDetails(bundles_found=bundles_found),
        )
    family, path = existing[0]
    trusted = read_certs(_under(root, path))
    if not trusted:
        return Enumeration(
            "linux",
            (),
            sources=(path,),
            error=f"{path} holds no certificates",
            error_kind="empty",
            facts=StoreDetails(bundles_found=bundles_found, bundle=path, family=family),
        )
    shipped = {
        certinfo.fingerprint(cert)
        for folder in LINUX_PACKAGE_SOURCES
        for file in _cert_files(_under(root, folder))
        for cert in read_certs(file)
    }
    bundle = trust.TrustStore(trusted, name="bundle")
    pending = tuple(
        PendingAnchor(subject=certinfo.display_name(cert.subject), file=file)
        for cert, file in anchor_certs
        if bundle.find(cert) is None
    )
    facts = StoreDetails(
        bundles_found=bundles_found,
        bundle=path,
        family=family,
        local_anchor_files=tuple(anchors),
        anchors_not_in_bundle=pending,
    )
    return Enumeration("linux", tuple(trusted), frozenset(shipped), (), (path,), facts=facts)


MAC_SYSTEM_ROOTS = "/System/Library/Keychains/SystemRootCertificates.keychain"


MAC_SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"


@dataclass(frozen=True)
class TrustSetting:
    """One certificate's entry in an exported trust-settings plist: the SHA-1 fingerprint Apple
    keys it by (hex, uppercase) and its decision for HTTPS."""

    sha1: str
    decision: str  # "trust", "deny" or "unspecified"


# Policies whose settings decide HTTPS trust (kSecTrustSettingsPolicy holds the OID's DER
# content): SSL 1.2.840.113635.100.1.3 and X.509 Basic 1.2.840.113635.100.1.2. A setting
# without a policy applies to all policies.
_TLS_POLICY_OIDS = {bytes.fromhex("2a864886f763640103"), bytes.fromhex("2a864886f763640102")}


# kSecTrustSettingsResult values; Apple documents a missing result as "trust root".
_RESULT = {1: "trust", 2: "trust", 3: "deny", 4: "unspecified"}


_SHA1_HEX = re.compile(r"[0-9A-F]{40}")


def _decision(items: list[object]) -> str | None:
    """A certificate with no settings is trusted for everything; otherwise the first
    TLS-relevant setting with a trust or deny result decides."""
    if not items:
        return "trust"
    for item in items:
        if not isinstance(item, dict):
            return None
        policy_oid = item.get("kSecTrustSettingsPolicy")
        if policy_oid is not None and not (
            isinstance(policy_oid, bytes) and policy_oid in _TLS_POLICY_OIDS
        ):
            continue
        result = item.get("kSecTrustSettingsResult", 1)
        decision = _RESULT.get(result) if type(result) is int else None
        if decision in ("trust", "deny"):
            return decision
    return "unspecified"


def parse_trust_settings(data: bytes) -> list[TrustSetting]:
    """Parse a `security trust-settings-export` plist: `trustList` maps each certificate's
    SHA-1 to its `trustSettings`. Raise `ValueError` when `data` is no such plist; entries
    that are not certificates (the default-root setting) or are malformed are skipped."""
    try:
        plist = plistlib.loads(data)
    except Exception as exc:  # plistlib raises many kinds of error on hostile input
        raise ValueError(f"not a trust settings plist: {type(exc).__name__}") from None
    if not isinstance(plist, dict):
        raise ValueError("not a trust settings plist: no dictionary at the top")
    trust_list = plist.get("trustList", {})
    if not isinstance(trust_list, dict):
        raise ValueError("not a trust settings plist: trustList is no dictionary")
    settings: list[TrustSetting] = []
    for key, entry in trust_list.items():
        sha1 = key.strip().upper() if isinstance(key, str) else ""
        items = entry.get("trustSettings") if isinstance(entry, dict) else None
        if not _SHA1_HEX.fullmatch(sha1) or not isinstance(items, list):
            continue
        decision = _decision(items)
        if decision is not None:
            settings.append(TrustSetting(sha1, decision))
    return settings


def _export_trust_settings(run: Runner, flags: Sequence[str]) -> bytes | None:
    """The exported plist of one trust-settings domain, or None when it has none."""
    with tempfile.TemporaryDirectory(prefix="handshake-doctor-") as folder:
        path = Path(folder) / "trust-settings.plist"
        done = run(["security", "trust-settings-export", *flags, str(path)])
        # "No Trust Settings were found" comes with a non-zero exit: an empty domain.
        if not done.ok:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None


def enumerate_macos(run: Runner, *, home: Path | None = None) -> Enumeration:
    """System roots are trusted unless denied; roots in the System and login keychains only
    when a user or admin trust setting says so (being in a keychain is not being trusted)."""
    home = home or Path.home()
    login = str(home / "Library" / "Keychains" / "login.keychain-db")
    keychains = {"system_roots": MAC_SYSTEM_ROOTS, "system": MAC_SYSTEM_KEYCHAIN, "login": login}
    found: dict[str, list[x509.Certificate]] = {}
    failures: list[str] = []
    for label, path in keychains.items():
        done = run(["security", "find-certificate", "-a", "-p", path])
        if not done.ok and label == "system_roots":
            failures.append(f"security find-certificate {path}: {done.error or done.stderr}")
        found[label] = _certs(done.stdout.encode("ascii", "replace")) if done.ok else []
    settings: dict[str, list[TrustSetting]] = {}
    unreadable: list[str] = []
    for domain, flags in (("user", ()), ("admin", ("-d",))):
        exported = _export_trust_settings(run, flags)
        try:
            settings[domain] = parse_trust_settings(exported) if exported is not None else []
        except ValueError:
            settings[domain] = []
            unreadable.append(domain)
    by_sha1: dict[str, list[str]] = {}
    for setting in settings["user"] + settings["admin"]:
        by_sha1.setdefault(setting.sha1, []).append(setting.decision)

    def decision(cert: x509.Certificate) -> str | None:
        # By fingerprint, never by name: a root that copies another's name gets nothing of it.
        decisions = by_sha1.get(_sha1(cert), [])
        if "deny" in decisions:
            return "deny"
        return "trust" if "trust" in decisions else None

    system_roots = found["system_roots"]
    if not system_roots:
        return Enumeration(
            "macos",
            (),
            error="; ".join(failures) or "no system roots could be read",
            error_kind="command_failed",
        )
    trusted: list[x509.Certificate] = []
    distrusted: list[x509.Certificate] = []
    for cert in system_roots:
        (distrusted if decision(cert) == "deny" else trusted).append(cert)
    not_trusted: list[str] = []
    for cert in found["system"] + found["login"]:
        if not certinfo.is_self_signed(cert):
            continue
        verdict = decision(cert)
        if verdict == "trust":
            trusted.append(cert)
        elif verdict == "deny":
            distrusted.append(cert)
        elif certinfo.is_ca(cert):
            not_trusted.append(certinfo.display_name(cert.subject))
    facts = StoreDetails(
        keychains={k: len(v) for k, v in found.items()},
        trust_settings={d: len(s) for d, s in settings.items()},
        trust_settings_unreadable=tuple(unreadable),
        in_keychain_but_not_trusted=tuple(sorted(set(not_trusted))),
    )
    program = frozenset(certinfo.fingerprint(c) for c in system_roots)
    return Enumeration(
        "macos",
        tuple(_unique(trusted)),
        program,
        tuple(_unique(distrusted)),
        tuple(keychains.values()),
        facts=facts,
    )


_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"


WIN_AUTHROOT_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\SystemCertificates\AuthRoot"


WIN_PROTECTED_ROOTS = r"HKLM\SOFTWARE\Policies\Microsoft\SystemCertificates\Root\ProtectedRoots"


WIN_AUTHROOT_CERTS = r"HKLM\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates"


def windows_certificates(
    entries: Iterable[tuple[bytes, str, object]], *, for_tls: bool
) -> list[x509.Certificate]:
    """The X.509 certificates of an `ssl.enum_certificates` list; with `for_tls`, only those
    trusted for server authentication (trust True means every purpose)."""
    certs: list[x509.Certificate] = []
    for der, encoding, usage in entries:
        if encoding != "x509_asn":
            continue
        if for_tls and not (usage is True or (isinstance(usage, set) and _SERVER_AUTH in usage)):
            continue
        with contextlib.suppress(ValueError):
            certs.append(certinfo.load_der(der))
    return certs


def windows_builtin(cert: x509.Certificate) -> bool:
    """Microsoft's own roots that ship in every ROOT store (timestamping and legacy ones)."""
    orgs = {str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)}
    if orgs & {"Microsoft Corporation", "Microsoft Corp.", "MSFT"}:
        return True
    return certinfo.display_name(cert.subject) in policy.WINDOWS_BUILTIN_ROOT_NAMES


def enumerate_windows(
    enum_certificates: Callable[[str], list[tuple[bytes, str, object]]], run: Runner
) -> Enumeration:
    """ROOT (trusted for TLS), CA and Disallowed stores, the AuthRoot list Windows Update
    maintains, and the policies that switch root updates off."""
    try:
        roots = windows_certificates(enum_certificates("ROOT"), for_tls=True)
        intermediates = windows_certificates(enum_certificates("CA"), for_tls=False)
        distrusted = windows_certificates(enum_certificates("Disallowed"), for_tls=False)
    except (OSError, PermissionError) as exc:
        return Enumeration("windows", (), error=str(exc), error_kind="command_failed")
    policy_key = reg_query(WIN_AUTHROOT_POLICY, run)
    protected = reg_query(WIN_PROTECTED_ROOTS, run)
    authroot = reg_query(WIN_AUTHROOT_CERTS, run)
    disabled = bool(policy_key and policy_key.values.get("DisableRootAutoUpdate") == 1)
    thumbprints = {
        key.rsplit("\\", 1)[-1].upper() for key in (authroot.subkeys if authroot else ())
    }
    program = frozenset(
        certinfo.fingerprint(cert)
        for cert in roots
        if windows_builtin(cert) or _sha1(cert) in thumbprints
    )
    facts = StoreDetails(
        root_store=len(roots),
        intermediate_store=len(intermediates),
        disallowed_store=len(distrusted),
        authroot_entries=len(thumbprints),
        disable_root_auto_update=policy_key.values.get("DisableRootAutoUpdate")
        if policy_key
        else None,
        protected_roots_flags=protected.values.get("Flags") if protected else None,
    )
    return Enumeration(
        "windows",
        tuple(roots),
        program,
        tuple(distrusted),
        ("ROOT", "CA", "Disallowed"),
        auto_update_disabled=disabled,
        facts=facts,
    )


def _sha1(cert: x509.Certificate) -> str:
    return (
        hashlib.sha1(cert.public_bytes(serialization.Encoding.DER), usedforsecurity=False)
        .hexdigest()
        .upper()
    )


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: dict[str, x509.Certificate] = {}
    for cert in certs:
        seen.setdefault(certinfo.fingerprint(cert), cert)
    return list(seen.values())


# One diagnosis asks for this machine's roots from two checks (trust_store, programs); on macOS
# and Windows reading them takes commands and seconds, and they do not change meanwhile.
_ENUMERATED: list[Enumeration] = []
_ENUMERATING = threading.Lock()


def enumerate_os(*, timeout: float, cancel: threading.Event) -> Enumeration:
    """The trusted roots of the OS this runs on (no admin rights needed anywhere), read once
    per process when the reading succeeds."""
    with _ENUMERATING:
        if not _ENUMERATED:
            found = _enumerate_os(timeout=timeout, cancel=cancel)
            if found.error is not None:
                return found
            _ENUMERATED.append(found)
        return _ENUMERATED[0]


def _enumerate_os(*, timeout: float, cancel: threading.Event) -> Enumeration:
    def run(argv: Sequence[str]) -> CommandResult:
        return run_command(argv, timeout=timeout, cancel=cancel)

    os_name = current_os()
    if os_name == "windows":
        enum = getattr(ssl, "enum_certificates", None)
        if enum is None:
            return Enumeration("windows", (), error="no ssl.enum_certificates", error_kind="empty")
        return enumerate_windows(enum, run)
    if os_name == "macos":
        return enumerate_macos(run)
    return enumerate_linux(openssl_cafile=ssl.get_default_verify_paths().openssl_cafile)
