"""Reads the root certificates this operating system trusts: bundles, stores, keychains."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from checks.core import policy
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
        facts: extra OS-specific observations for the report.
    """

    os_name: OSName
    trusted: tuple[x509.Certificate, ...]
    program: frozenset[str] = frozenset()
    distrusted: tuple[x509.Certificate, ...] = ()
    sources: tuple[str, ...] = ()
    auto_update_disabled: bool | None = None
    error: str | None = None
    error_kind: str | None = None
    facts: Mapping[str, object] = field(default_factory=dict)

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
    facts: dict[str, object] = {"bundles_found": [path for _, path in existing]}
    anchors: list[dict[str, object]] = []
    anchor_certs: list[tuple[x509.Certificate, str]] = []
    for folder, command in LINUX_LOCAL_ANCHORS:
        for file in _cert_files(_under(root, folder)):
            for cert in read_certs(file):
                anchor_certs.append((cert, str(PurePosixPath(folder) / file.name)))
                anchors.append({"file": redact(str(file)), "update_command": command})
    if not existing:
        return Enumeration(
            "linux",
            (),
            error="no CA bundle found at any known path",
            error_kind="no_bundle",
            facts=facts,
        )
    family, path = existing[0]
    trusted = read_certs(_under(root, path))
    facts.update(bundle=path, family=family)
    if not trusted:
        return Enumeration(
            "linux",
            (),
            sources=(path,),
            error=f"{path} holds no certificates",
            error_kind="empty",
            facts=facts,
        )
    shipped = {
        certinfo.fingerprint(cert)
        for folder in LINUX_PACKAGE_SOURCES
        for file in _cert_files(_under(root, folder))
        for cert in read_certs(file)
    }
    bundle = trust.TrustStore(trusted, name="bundle")
    pending = [
        {"subject": certinfo.display_name(cert.subject), "file": file}
        for cert, file in anchor_certs
        if bundle.find(cert) is None
    ]
    facts.update(local_anchor_files=anchors, anchors_not_in_bundle=pending)
    return Enumeration("linux", tuple(trusted), frozenset(shipped), (), (path,), facts=facts)


MAC_SYSTEM_ROOTS = "/System/Library/Keychains/SystemRootCertificates.keychain"


MAC_SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"


@dataclass(frozen=True)
class TrustSetting:
    """One certificate's entry in `security dump-trust-settings`: its name and decision."""

    name: str
    decision: str  # "trust", "deny" or "unspecified"


# Policies whose settings decide HTTPS trust; a setting without a policy applies to all.
_TLS_POLICIES = {None, "SSL", "Apple X509 Basic"}


_RESULT = {
    "kSecTrustSettingsResultTrustRoot": "trust",
    "kSecTrustSettingsResultTrustAsRoot": "trust",
    "kSecTrustSettingsResultDeny": "deny",
    "kSecTrustSettingsResultUnspecified": "unspecified",
}


def parse_trust_settings(text: str) -> list[TrustSetting]:
    """Parse `security dump-trust-settings [-d]`: a certificate with no settings is trusted
    for everything; otherwise the first TLS-relevant setting with a result decides."""
    entries: list[tuple[str, list[dict[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        cert = re.match(r"^Cert \d+:\s*(.*)$", line)
        if cert:
            entries.append((cert.group(1).strip(), []))
            continue
        if not entries:
            continue
        if re.match(r"^Trust Setting \d+:", line):
            entries[-1][1].append({})
            continue
        key, sep, value = line.partition(":")
        if sep and entries[-1][1]:
            entries[-1][1][-1][key.strip()] = value.strip()
    settings: list[TrustSetting] = []
    for name, items in entries:
        decision = "trust" if not items else "unspecified"
        for item in items:
            if item.get("Policy OID") not in _TLS_POLICIES:
                continue
            # Apple documents a missing result type as "trust as root".
            result = _RESULT.get(item.get("Result Type", "kSecTrustSettingsResultTrustRoot"))
            if result in ("trust", "deny"):
                decision = result
                break
        settings.append(TrustSetting(name, decision))
    return settings


def _label_matches(cert: x509.Certificate, label: str) -> bool:
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    names.append(certinfo.display_name(cert.subject))
    return any(n.casefold() == label.casefold() for n in names)


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
    for domain, extra in (("user", []), ("admin", ["-d"])):
        done = run(["security", "dump-trust-settings", *extra])
        # "No Trust Settings were found" comes with a non-zero exit: an empty domain.
        settings[domain] = parse_trust_settings(done.stdout) if done.returncode == 0 else []
    all_settings = settings["user"] + settings["admin"]

    def decision(cert: x509.Certificate) -> str | None:
        decisions = [s.decision for s in all_settings if _label_matches(cert, s.name)]
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
    facts = {
        "keychains": {k: len(v) for k, v in found.items()},
        "trust_settings": {d: len(s) for d, s in settings.items()},
        "in_keychain_but_not_trusted": sorted(set(not_trusted)),
    }
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
    facts = {
        "root_store": len(roots),
        "intermediate_store": len(intermediates),
        "disallowed_store": len(distrusted),
        "authroot_entries": len(thumbprints),
        "disable_root_auto_update": policy_key.values.get("DisableRootAutoUpdate")
        if policy_key
        else None,
        "protected_roots_flags": protected.values.get("Flags") if protected else None,
    }
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


def enumerate_os(*, timeout: float, cancel: threading.Event) -> Enumeration:
    """The trusted roots of the OS this runs on (no admin rights needed anywhere)."""

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
