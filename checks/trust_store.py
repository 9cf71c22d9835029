"""Lists the root certificates this computer trusts and compares them with Mozilla's public set."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.models import Finding, Outcome, Status
from checks.core.platform import OSName, current_os
from checks.core.redact import redact
from checks.lib import certinfo, products, trust
from checks.lib.system import CommandResult, Runner, reg_query, run_command

# ---------------------------------------------------------------------------------------------
# What a trust store enumeration finds, per OS.


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


def _read_certs(path: Path) -> list[x509.Certificate]:
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

# --- Linux -----------------------------------------------------------------------------------

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
            for cert in _read_certs(file):
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
    trusted = _read_certs(_under(root, path))
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
        for cert in _read_certs(file)
    }
    bundle = trust.TrustStore(trusted, name="bundle")
    pending = [
        {"subject": certinfo.display_name(cert.subject), "file": file}
        for cert, file in anchor_certs
        if bundle.find(cert) is None
    ]
    facts.update(local_anchor_files=anchors, anchors_not_in_bundle=pending)
    return Enumeration("linux", tuple(trusted), frozenset(shipped), (), (path,), facts=facts)


# --- macOS -----------------------------------------------------------------------------------

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


# --- Windows ---------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Environment overrides and the integrity of certifi's bundle.


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
            certs = [c for f in existing for p in _dir_files(f) for c in _read_certs(p)]
            exists = bool(existing)
        else:
            path = Path(value).expanduser()
            exists = path.is_file()
            certs = _read_certs(path) if exists else []
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


# ---------------------------------------------------------------------------------------------
# The comparison.


def _root_fact(
    cert: x509.Certificate, why: str, product: products.Product | None
) -> dict[str, object]:
    return {
        "subject": certinfo.display_name(cert.subject),
        "subject_dn": cert.subject.rfc4514_string(),
        "sha256": certinfo.fingerprint(cert),
        "spki_sha256": certinfo.spki_sha256(cert),
        "not_after": certinfo.iso(cert.not_valid_after_utc),
        "product": product.name if product else None,
        "why": why,
    }


# English sentences for evidence lines; the translated explanation says the same at length.
WHY = {
    "interception_product": "belongs to software that reads and re-signs encrypted traffic",
    "not_public": "not part of Mozilla's public root program; it can vouch for any website",
    "known_bad": "its private key is public or it was used to intercept traffic",
    "missing_public": "many websites depend on it and this computer does not trust it",
    "distrusted": "explicitly marked as not trusted on this computer",
    "expired": "expired; it no longer vouches for anything",
}


def _evidence(root: Mapping[str, object]) -> str:
    product = f" [{root['product']}]" if root.get("product") else ""
    # A must-have root absent from the reference set is known only by its public key.
    digest = f"SHA-256 {root['sha256']}" if root.get("sha256") else f"key {root['spki_sha256']}"
    return f"{root['subject']}{product} — {digest} — {WHY[str(root['why'])]}"


def _listed(roots: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    return list(roots[: policy.MAX_LISTED_ROOTS])


def _text(roots: Sequence[Mapping[str, object]]) -> str:
    shown = []
    for root in roots[: policy.MAX_LISTED_ROOTS]:
        product = f", {root['product']}" if root.get("product") else ""
        shown.append(f"{root['subject']} (SHA-256 {str(root['sha256'])[:16]}…{product})")
    if len(roots) > len(shown):
        shown.append(f"+{len(roots) - len(shown)}")
    return "; ".join(shown)


def _brief(roots: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    return [
        {"subject": r["subject"], "sha256": r["sha256"], "product": r["product"]} for r in roots
    ]


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    facts: Mapping[str, object]


def analyse(
    found: Enumeration,
    mozilla: trust.TrustStore,
    *,
    known_bad: trust.KnownBadList,
    catalogue: products.Catalogue,
    now: datetime,
) -> Analysis:
    """Compare the OS's roots with the public set: local, known-bad, missing and expired roots."""
    findings: list[Finding] = []
    facts: dict[str, object] = {
        "os": found.os_name,
        "sources": [redact(s) for s in found.sources],
        "trusted": len(found.trusted),
        "distrusted": len(found.distrusted),
        "public_set": mozilla.fact(),
        **found.facts,
    }
    if found.error:
        facts["error"] = redact(found.error)
        fail = found.error_kind in ("no_bundle", "empty")
        params: dict[str, object] = {
            "variant": found.error_kind or "command_failed",
            "detail": redact(found.error),
            "source": ", ".join(found.sources) or "—",
        }
        findings.append(
            Finding("truststore.unavailable", Status.FAIL if fail else Status.WARN, params)
        )
        return Analysis(tuple(findings), facts)

    local: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    expired: list[dict[str, object]] = []
    outdated = 0
    for cert in found.trusted:
        product = catalogue.match_certificate(cert)
        entry = known_bad.entries.get(certinfo.spki_sha256(cert))
        if entry is not None:
            root = _root_fact(cert, "known_bad", product)
            root.update(name=entry.name, reason=entry.reason)
            bad.append(root)
            continue
        if cert.not_valid_after_utc < now:
            expired.append(_root_fact(cert, "expired", product))
        if mozilla.find(cert) is not None:
            continue
        if certinfo.fingerprint(cert) in found.program and product is None:
            outdated += 1
            continue
        local.append(_root_fact(cert, "interception_product" if product else "not_public", product))

    # Keyed by public key, so that a re-issued or cross-signed copy of a root still counts.
    trusted_keys = {certinfo.spki_sha256(c) for c in found.trusted}
    denied_keys = {certinfo.spki_sha256(c) for c in found.distrusted}
    public_keys = {certinfo.spki_sha256(c): c for c in mozilla.certificates}
    missing: list[dict[str, object]] = []
    distrusted_needed: list[dict[str, object]] = []
    for name, spki in policy.MUST_HAVE_ROOTS:
        if spki in trusted_keys:
            continue
        reference = public_keys.get(spki)
        denied = spki in denied_keys
        needed: dict[str, object] = (
            _root_fact(reference, "missing_public", None)
            if reference is not None
            else {"subject": name, "sha256": "", "spki_sha256": spki, "product": None}
        )
        needed["why"] = "distrusted" if denied else "missing_public"
        (distrusted_needed if denied else missing).append(needed)

    differing = bad + local + distrusted_needed + missing
    facts.update(
        differing_roots=differing,
        expired_roots=[{"subject": r["subject"], "sha256": r["sha256"]} for r in expired],
        program_roots_not_in_public_set=outdated,
        auto_update_disabled=found.auto_update_disabled,
    )

    if bad:
        params = {
            "count": len(bad),
            "names": [str(r["name"]) for r in bad],
            "roots": _brief(_listed(bad)),
            "roots_text": _text(bad),
        }
        findings.append(
            Finding("truststore.known_bad_root", Status.FAIL, params, tuple(map(_evidence, bad)))
        )
    if local:
        named = sorted({str(r["product"]) for r in local if r["product"]})
        params = {
            "count": len(local),
            "roots": _brief(_listed(local)),
            "roots_text": _text(local),
            "products": ", ".join(named),
        }
        if named:
            params["variant"] = "product"
        evidence = tuple(_evidence(r) for r in _listed(local))
        findings.append(Finding("truststore.local_root", Status.WARN, params, evidence))
    if missing or distrusted_needed:
        everything = distrusted_needed + missing
        params = {
            "count": len(everything),
            "names": [str(r["subject"]) for r in everything],
            "roots_text": ", ".join(str(r["subject"]) for r in everything),
        }
        status = Status.FAIL
        if distrusted_needed:
            params["variant"] = "distrusted"
        elif found.os_name == "windows" and not found.auto_update_disabled:
            # Windows downloads a root the first time a site needs it: absent is normal.
            params["variant"] = "on_demand"
            status = Status.PASS
        elif found.os_name == "windows":
            params["variant"] = "auto_update_disabled"
        evidence = tuple(_evidence(r) for r in everything)
        findings.append(Finding("truststore.missing_root", status, params, evidence))
    if expired:
        params = {"count": len(expired), "names": [str(r["subject"]) for r in _listed(expired)]}
        findings.append(Finding("truststore.expired_root", Status.PASS, params))
    if not bad and not local and not any(f.status is Status.FAIL for f in findings):
        params = {
            "count": len(found.trusted),
            "public_count": len(mozilla),
            "source": ", ".join(redact(s) for s in found.sources),
        }
        findings.insert(0, Finding("truststore.ok", Status.PASS, params))
    return Analysis(tuple(findings), facts)


def _override_finding(override: EnvOverride) -> Finding:
    shown = list(override.lacking[: policy.MAX_LISTED_ROOTS])
    if len(override.lacking) > len(shown):
        shown.append(f"+{len(override.lacking) - len(shown)}")
    params = {
        "variable": override.variable,
        "path": override.path,
        "count": override.count,
        "lacking": len(override.lacking),
        "lacking_names": ", ".join(shown) or "—",
        "variant": override.state,
    }
    if override.state in ("missing_file", "empty_file"):
        status = Status.FAIL
    elif override.state in ("adds", "system_bundle"):
        status = Status.PASS
    else:
        status = Status.WARN
    return Finding("truststore.env_override", status, params)


def _bundle_finding(check: BundleCheck) -> Finding | None:
    if check.verified is not False:
        return None
    params = {"path": check.path, "expected": check.expected, "actual": check.actual}
    return Finding("truststore.bundle_modified", Status.WARN, params)


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    found = enumerate_os(timeout=ctx.timeout(), cancel=ctx.cancel)
    ctx.raise_if_cancelled()
    overrides = env_overrides(os.environ, found.trusted)
    mozilla_path = settings.known_roots or Path(certifi.where())
    mozilla = trust.TrustStore.from_file(mozilla_path, name="mozilla")
    known_bad = trust.load_known_bad()
    analysis = analyse(
        found, mozilla, known_bad=known_bad, catalogue=products.load(), now=datetime.now(UTC)
    )
    bundle = check_certifi()
    findings = list(analysis.findings)
    findings.extend(_override_finding(o) for o in overrides)
    modified = _bundle_finding(bundle)
    if modified is not None:
        findings.append(modified)
    facts = {
        **analysis.facts,
        "env_overrides": [
            {
                "variable": o.variable,
                "path": o.path,
                "state": o.state,
                "certificates": o.count,
                "lacking": list(o.lacking),
            }
            for o in overrides
        ],
        "certifi": {
            "path": bundle.path,
            "verified": bundle.verified,
            "expected": bundle.expected,
            "actual": bundle.actual,
        },
        "known_bad_list_version": known_bad.version,
        "catalogue_version": products.load().version,
    }
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="trust_store",
    scope="local",
    run=run,
    findings={
        "truststore.ok": (),
        "truststore.unavailable": ("no_bundle", "empty", "command_failed"),
        "truststore.local_root": ("product",),
        "truststore.known_bad_root": (),
        "truststore.missing_root": ("on_demand", "auto_update_disabled", "distrusted"),
        "truststore.expired_root": (),
        "truststore.env_override": ("missing_file", "empty_file", "set", "adds", "system_bundle"),
        "truststore.bundle_modified": (),
    },
)
