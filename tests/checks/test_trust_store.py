"""The trust store check: per-OS enumeration on recorded outputs and the Mozilla comparison."""

from __future__ import annotations

import base64
import hashlib
import plistlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from checks import trust_store
from checks.core import policy
from checks.core.facts.trust_store import (
    PendingAnchor,
    TrustStoreFacts,
    TrustStoreUnreadable,
    WindowsTrustStoreFacts,
)
from checks.core.models import Status
from checks.lib import bundles, certinfo, products, roots, trust
from checks.lib.roots import Enumeration
from checks.lib.system import CommandResult, parse_reg_query
from tests.lab import pki

NOW = datetime.now(UTC)
MOZILLA = trust.TrustStore.from_file(Path(certifi.where()), name="mozilla")
KNOWN_BAD = trust.load_known_bad()
CATALOGUE = products.load()
MUST_HAVE_KEYS = {spki for _, spki in policy.MUST_HAVE_ROOTS}


def _public(*, without: Sequence[str] = ()) -> list[x509.Certificate]:
    """Mozilla's roots, minus the must-have roots named in `without`."""
    dropped = {spki for name, spki in policy.MUST_HAVE_ROOTS if name in without}
    return [c for c in MOZILLA.certificates if certinfo.spki_sha256(c) not in dropped]


NO_RECORD = bundles.BundleCheck("certifi/cacert.pem", None)


def _analyse(found: Enumeration, known_bad: trust.KnownBadList = KNOWN_BAD):
    return trust_store.analyse(
        found,
        MOZILLA,
        known_bad=known_bad,
        catalogue=CATALOGUE,
        now=NOW,
        overrides=(),
        bundle=NO_RECORD,
    )


def _compared(analysis: trust_store.Analysis) -> TrustStoreFacts:
    assert isinstance(analysis.facts, TrustStoreFacts)
    return analysis.facts


def _ids(findings) -> list[str]:
    return [f.id for f in findings]


# --- The comparison ---------------------------------------------------------------------------


def test_a_store_equal_to_mozillas_is_ok() -> None:
    analysis = _analyse(Enumeration("linux", tuple(_public()), sources=("/etc/ssl/cert.pem",)))
    assert _ids(analysis.findings) == ["truststore.ok"]
    ok = analysis.findings[0]
    assert ok.status is Status.PASS
    assert ok.params["count"] == len(MOZILLA)
    assert _compared(analysis).differing_roots == ()


def test_a_root_added_locally_is_listed_with_subject_fingerprint_and_why() -> None:
    corporate = pki.root("Example Corp Internal Root CA").cert
    analysis = _analyse(Enumeration("linux", (*_public(), corporate)))
    local = next(f for f in analysis.findings if f.id == "truststore.local_root")
    assert local.status is Status.WARN
    assert "variant" not in local.params
    assert local.params["count"] == 1
    fingerprint = certinfo.fingerprint(corporate)
    assert local.params["roots"] == [
        {"subject": "Example Corp Internal Root CA", "sha256": fingerprint, "product": None}
    ]
    assert "Example Corp Internal Root CA" in str(local.params["roots_text"])
    assert fingerprint in local.evidence[0]
    differing = _compared(analysis).differing_roots
    assert differing[0].why == "not_public"
    assert differing[0].sha256 == fingerprint
    assert "truststore.ok" not in _ids(analysis.findings)


def test_a_local_root_of_a_catalogue_product_is_named() -> None:
    avast = pki.root("Avast Web/Mail Shield Root").cert
    kaspersky = pki.root(
        "Kaspersky Anti-Virus Personal Root Certificate", org="AO Kaspersky Lab"
    ).cert
    analysis = _analyse(Enumeration("windows", (*_public(), avast, kaspersky)))
    local = next(f for f in analysis.findings if f.id == "truststore.local_root")
    assert local.params["variant"] == "product"
    assert local.params["products"] == "Avast, Kaspersky"
    products_named = {r["product"] for r in local.params["roots"]}  # type: ignore[attr-defined]
    assert products_named == {"Avast", "Kaspersky"}


def test_roots_the_os_vendor_ships_are_not_local_even_when_mozilla_dropped_them() -> None:
    # Debian's ca-certificates lags Mozilla: a root it still ships is not "added locally".
    dropped = pki.root("Old Public Root That Mozilla Removed").cert
    found = Enumeration(
        "linux", (*_public(), dropped), program=frozenset({certinfo.fingerprint(dropped)})
    )
    analysis = _analyse(found)
    assert "truststore.local_root" not in _ids(analysis.findings)
    assert _compared(analysis).program_roots_not_in_public_set == 1


def test_a_known_bad_root_is_a_failure_matched_by_public_key_hash() -> None:
    leaked = pki.root("Superfish, Inc.")
    spki = certinfo.spki_sha256(leaked.cert)
    bad_list = trust.parse_known_bad(
        f'version = 9\n[[roots]]\nname = "Superfish, Inc."\nspki_sha256 = "{spki}"\n'
        'reason = "private key extracted"\n'
    )
    analysis = _analyse(Enumeration("windows", (*_public(), leaked.cert)), known_bad=bad_list)
    bad = next(f for f in analysis.findings if f.id == "truststore.known_bad_root")
    assert bad.status is Status.FAIL
    assert bad.params["names"] == ["Superfish, Inc."]
    # Reported as known-bad, not a second time as merely "local".
    assert "truststore.local_root" not in _ids(analysis.findings)
    assert "truststore.ok" not in _ids(analysis.findings)


def test_the_known_bad_list_is_read_by_the_certificate_checks_loader_only() -> None:
    assert "known_bad_roots.toml" not in Path(trust_store.__file__).read_text(encoding="utf-8")
    assert len(KNOWN_BAD.entries) >= 10


def test_a_missing_common_root_fails_on_linux_and_macos() -> None:
    for os_name in ("linux", "macos"):
        analysis = _analyse(Enumeration(os_name, tuple(_public(without=["ISRG Root X1"]))))  # type: ignore[arg-type]
        missing = next(f for f in analysis.findings if f.id == "truststore.missing_root")
        assert missing.status is Status.FAIL
        assert missing.params["names"] == ["ISRG Root X1"]
        assert "variant" not in missing.params
        assert "truststore.ok" not in _ids(analysis.findings)


def test_windows_fetches_missing_roots_on_demand_so_absence_is_no_alarm() -> None:
    found = Enumeration(
        "windows", tuple(_public(without=["ISRG Root X1"])), auto_update_disabled=False
    )
    analysis = _analyse(found)
    missing = next(f for f in analysis.findings if f.id == "truststore.missing_root")
    assert missing.status is Status.PASS
    assert missing.params["variant"] == "on_demand"
    assert "truststore.ok" in _ids(analysis.findings)


def test_windows_with_root_auto_update_disabled_fails_for_a_missing_root() -> None:
    found = Enumeration(
        "windows", tuple(_public(without=["GTS Root R1"])), auto_update_disabled=True
    )
    missing = next(f for f in _analyse(found).findings if f.id == "truststore.missing_root")
    assert missing.status is Status.FAIL
    assert missing.params["variant"] == "auto_update_disabled"


def test_a_distrusted_common_root_fails_even_on_windows() -> None:
    isrg = next(
        c for c in MOZILLA.certificates if certinfo.display_name(c.subject) == "ISRG Root X1"
    )
    found = Enumeration("windows", tuple(_public(without=["ISRG Root X1"])), distrusted=(isrg,))
    missing = next(f for f in _analyse(found).findings if f.id == "truststore.missing_root")
    assert missing.status is Status.FAIL
    assert missing.params["variant"] == "distrusted"


def test_expired_roots_are_information() -> None:
    old = pki.root("Old Timestamping Root", not_after=pki.NOW - 5 * pki.DAY).cert
    found = Enumeration(
        "windows", (*_public(), old), program=frozenset({certinfo.fingerprint(old)})
    )
    analysis = _analyse(found)
    expired = next(f for f in analysis.findings if f.id == "truststore.expired_root")
    assert expired.status is Status.PASS
    assert expired.params["names"] == ["Old Timestamping Root"]


def test_an_unreadable_store_is_a_finding_not_a_crash() -> None:
    found = Enumeration("linux", (), error="no CA bundle found", error_kind="no_bundle")
    analysis = _analyse(found)
    assert _ids(analysis.findings) == ["truststore.unavailable"]
    assert analysis.findings[0].status is Status.FAIL
    assert analysis.findings[0].params["variant"] == "no_bundle"


# --- Linux -------------------------------------------------------------------------------------


def _write(path: Path, certs: Sequence[x509.Certificate]) -> None:
    from cryptography.hazmat.primitives import serialization

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def test_linux_reads_the_bundle_and_tells_shipped_from_locally_added(tmp_path: Path) -> None:
    shipped = pki.root("Distribution Shipped Root").cert
    corporate = pki.root("Corp Root").cert
    pending = pki.root("Added But Not Activated Root").cert
    _write(tmp_path / "etc/ssl/certs/ca-certificates.crt", [shipped, corporate])
    _write(tmp_path / "usr/share/ca-certificates/mozilla/Distribution_Shipped_Root.crt", [shipped])
    _write(tmp_path / "usr/local/share/ca-certificates/corp.crt", [corporate])
    _write(tmp_path / "usr/local/share/ca-certificates/new.crt", [pending])
    found = roots.enumerate_linux(tmp_path)
    assert found.error is None
    assert found.sources == ("/etc/ssl/certs/ca-certificates.crt",)
    assert {certinfo.display_name(c.subject) for c in found.trusted} == {
        "Distribution Shipped Root",
        "Corp Root",
    }
    assert found.program == frozenset({certinfo.fingerprint(shipped)})
    assert found.facts.family == "Debian/Ubuntu/Alpine"
    assert found.facts.anchors_not_in_bundle == (
        PendingAnchor(
            subject="Added But Not Activated Root",
            file="/usr/local/share/ca-certificates/new.crt",
        ),
    )


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "RHEL/Fedora"),
        ("var/lib/ca-certificates/ca-bundle.pem", "SUSE"),
        ("etc/ca-certificates/extracted/tls-ca-bundle.pem", "Arch"),
        ("etc/ssl/cert.pem", "Alpine/OpenSSL default"),
    ],
)
def test_linux_finds_each_distributions_bundle(tmp_path: Path, path: str, family: str) -> None:
    _write(tmp_path / path, [pki.root("Some Root").cert])
    found = roots.enumerate_linux(tmp_path)
    assert found.facts.family == family
    assert len(found.trusted) == 1


def test_linux_without_a_bundle_or_with_an_empty_one(tmp_path: Path) -> None:
    assert roots.enumerate_linux(tmp_path).error_kind == "no_bundle"
    (tmp_path / "etc/ssl/certs").mkdir(parents=True)
    (tmp_path / "etc/ssl/certs/ca-certificates.crt").write_text("")
    assert roots.enumerate_linux(tmp_path).error_kind == "empty"


# --- macOS -------------------------------------------------------------------------------------

# kSecTrustSettingsPolicy values: the DER content of Apple's policy OIDs.
SSL_POLICY = bytes.fromhex("2a864886f763640103")  # 1.2.840.113635.100.1.3, "sslServer"
BASIC_POLICY = bytes.fromhex("2a864886f763640102")  # 1.2.840.113635.100.1.2, "basicX509"
SMIME_POLICY = bytes.fromhex("2a864886f763640108")  # 1.2.840.113635.100.1.8, "SMIME"
CERT_EXPIRED = -2147409654  # CSSMERR_TP_CERT_EXPIRED, the usual kSecTrustSettingsAllowedError
# `security trust-settings-export -d FILE` when nothing was set in the admin domain (exit 1).
MAC_NO_ADMIN_TRUST = "SecTrustSettingsCreateExternalRepresentation: No Trust Settings were found.\n"


def _setting(policy_oid: bytes, name: str, result: int) -> dict[str, object]:
    return {
        "kSecTrustSettingsAllowedError": CERT_EXPIRED,
        "kSecTrustSettingsPolicy": policy_oid,
        "kSecTrustSettingsPolicyName": name,
        "kSecTrustSettingsResult": result,
    }


def _sha1(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def _trust_export(entries: Sequence[tuple[x509.Certificate, list[dict[str, object]]]]) -> bytes:
    """The XML plist `security trust-settings-export` writes: `trustList` keyed by SHA-1."""
    trust_list: dict[str, object] = {
        _sha1(cert): {
            "issuerName": cert.issuer.public_bytes(serialization.Encoding.DER),
            "modDate": datetime(2024, 3, 7, 9, 12, 44),
            "serialNumber": cert.serial_number.to_bytes(20, "big").lstrip(b"\0") or b"\0",
            "trustSettings": settings,
        }
        for cert, settings in entries
    }
    return plistlib.dumps({"trustList": trust_list, "trustVersion": 1}, fmt=plistlib.FMT_XML)


def _public_root(name: str) -> x509.Certificate:
    return next(c for c in MOZILLA.certificates if certinfo.display_name(c.subject) == name)


def _impersonator(real: x509.Certificate) -> x509.Certificate:
    """A self-signed CA with exactly the subject of `real`, as interception products make."""
    key = pki.new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]


def _pem(certs: Sequence[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def _mac_runner(
    keychains: dict[str, list[x509.Certificate]],
    exports: dict[str, bytes],
    calls: list[list[str]],
) -> roots.Runner:
    """`security` as macOS runs it: PEM for find-certificate, and trust-settings-export
    writing its plist to the file named last (a domain without settings fails)."""

    def run(argv: Sequence[str]) -> CommandResult:
        calls.append(list(argv))
        if argv[1] == "find-certificate":
            return CommandResult(0, _pem(keychains[argv[-1]]))
        assert argv[1] == "trust-settings-export"
        domain = "admin" if "-d" in argv else "user"
        if domain not in exports:
            return CommandResult(1, "", MAC_NO_ADMIN_TRUST)
        Path(argv[-1]).write_bytes(exports[domain])
        return CommandResult(0, "")

    return run


def test_mac_trust_settings_plist_is_read_by_sha1() -> None:
    charles = pki.root("Charles Proxy CA (7 Mar 2023, MacBook-Pro.local)").cert
    mitm = pki.root("mitmproxy", org="mitmproxy").cert
    mail_only = pki.root("Example Corp Mail CA").cert
    isrg = _public_root("ISRG Root X1")
    data = _trust_export(
        [
            (
                charles,
                [
                    _setting(BASIC_POLICY, "basicX509", 1),
                    _setting(SSL_POLICY, "sslServer", 1),
                    _setting(SMIME_POLICY, "SMIME", 1),
                ],
            ),
            (mitm, []),  # no constraints: trusted for everything
            (mail_only, [_setting(SMIME_POLICY, "SMIME", 3), _setting(SSL_POLICY, "sslServer", 4)]),
            (isrg, [_setting(SSL_POLICY, "sslServer", 3)]),
        ]
    )
    assert data.startswith(b"<?xml")
    settings = roots.parse_trust_settings(data)
    assert {s.sha1: s.decision for s in settings} == {
        _sha1(charles): "trust",
        _sha1(mitm): "trust",
        _sha1(mail_only): "unspecified",  # denied for mail only: HTTPS is not decided
        "CABD2A79A1076A31F21D253635CB039D4329A5E8": "deny",  # ISRG Root X1's SHA-1
    }
    assert len(settings) == 4


def test_mac_trust_settings_plist_edges() -> None:
    # The default setting for all system roots is keyed by name, not by a certificate.
    default = {"kSecTrustSettingsDefaultRootCertSetting": {"trustSettings": []}}
    assert roots.parse_trust_settings(plistlib.dumps({"trustList": default})) == []
    assert roots.parse_trust_settings(plistlib.dumps({"trustVersion": 1})) == []
    for garbage in (b"", b"Number of trusted certs = 3\nCert 0: mitmproxy\n", b"bplist00"):
        with pytest.raises(ValueError, match="not a trust settings plist"):
            roots.parse_trust_settings(garbage)
    with pytest.raises(ValueError, match="not a trust settings plist"):
        roots.parse_trust_settings(plistlib.dumps(["trustList"]))


def test_macos_trusts_keychain_roots_only_with_a_trust_setting(tmp_path: Path) -> None:
    system_roots = _public()
    charles = pki.root("Charles Proxy CA (7 Mar 2023, MacBook-Pro.local)").cert
    mitm = pki.root("mitmproxy", org="mitmproxy").cert
    imported = pki.root("Imported But Never Trusted").cert
    isrg = _public_root("ISRG Root X1")
    keychains = {
        roots.MAC_SYSTEM_ROOTS: system_roots,
        roots.MAC_SYSTEM_KEYCHAIN: [charles],
        str(tmp_path / "Library/Keychains/login.keychain-db"): [mitm, imported],
    }
    user = _trust_export(
        [
            (charles, [_setting(SSL_POLICY, "sslServer", 1)]),
            (mitm, []),
            (isrg, [_setting(SSL_POLICY, "sslServer", 3)]),
        ]
    )
    calls: list[list[str]] = []

    found = roots.enumerate_macos(_mac_runner(keychains, {"user": user}, calls), home=tmp_path)
    names = {certinfo.display_name(c.subject) for c in found.trusted}
    assert "mitmproxy" in names
    assert "Charles Proxy CA (7 Mar 2023, MacBook-Pro.local)" in names
    assert "Imported But Never Trusted" not in names  # being in a keychain is not being trusted
    assert "ISRG Root X1" not in names
    assert [certinfo.display_name(c.subject) for c in found.distrusted] == ["ISRG Root X1"]
    assert found.facts.in_keychain_but_not_trusted == ("Imported But Never Trusted",)
    assert found.facts.trust_settings == {"user": 3, "admin": 0}
    exports = [argv for argv in calls if argv[1] == "trust-settings-export"]
    assert [argv[2:-1] for argv in exports] == [[], ["-d"]]
    assert not any(Path(argv[-1]).exists() for argv in exports)  # the temporary files are gone
    analysis = _analyse(found)
    local = next(f for f in analysis.findings if f.id == "truststore.local_root")
    assert local.params["products"] == "Charles Proxy, mitmproxy"
    missing = next(f for f in analysis.findings if f.id == "truststore.missing_root")
    assert missing.params["variant"] == "distrusted"


def test_a_root_that_copies_a_public_roots_name_changes_nothing_of_its_decision(
    tmp_path: Path,
) -> None:
    digicert = _public_root("DigiCert Global Root G2")
    isrg = _public_root("ISRG Root X1")
    fake_digicert = _impersonator(digicert)
    fake_isrg = _impersonator(isrg)
    assert fake_digicert.subject == digicert.subject
    assert fake_isrg.subject == isrg.subject
    keychains = {
        roots.MAC_SYSTEM_ROOTS: _public(),
        roots.MAC_SYSTEM_KEYCHAIN: [fake_digicert],
        str(tmp_path / "Library/Keychains/login.keychain-db"): [fake_isrg],
    }
    exports = {
        # The user distrusts the real ISRG Root X1 and trusts an interception root named so.
        "user": _trust_export([(isrg, [_setting(SSL_POLICY, "sslServer", 3)]), (fake_isrg, [])]),
        # An administrator marked the copy of DigiCert's name "Never Trust".
        "admin": _trust_export([(fake_digicert, [_setting(SSL_POLICY, "sslServer", 3)])]),
    }

    found = roots.enumerate_macos(_mac_runner(keychains, exports, []), home=tmp_path)
    trusted = {certinfo.fingerprint(c) for c in found.trusted}
    distrusted = {certinfo.fingerprint(c) for c in found.distrusted}
    assert certinfo.fingerprint(digicert) in trusted  # the real root keeps its trust
    assert certinfo.fingerprint(fake_digicert) in distrusted
    assert certinfo.fingerprint(isrg) in distrusted
    assert certinfo.fingerprint(fake_isrg) in trusted  # its own setting decides, not the name's
    assert certinfo.fingerprint(digicert) not in distrusted
    assert certinfo.fingerprint(isrg) not in trusted


def test_an_unreadable_export_is_no_setting_and_is_told(tmp_path: Path) -> None:
    isrg = _public_root("ISRG Root X1")
    keychains = {
        roots.MAC_SYSTEM_ROOTS: _public(),
        roots.MAC_SYSTEM_KEYCHAIN: [],
        str(tmp_path / "Library/Keychains/login.keychain-db"): [],
    }
    exports = {
        "user": b"<?xml version='1.0'?><plist><dict><key>trustList",
        "admin": _trust_export([(isrg, [_setting(SSL_POLICY, "sslServer", 3)])]),
    }

    found = roots.enumerate_macos(_mac_runner(keychains, exports, []), home=tmp_path)
    assert found.facts.trust_settings_unreadable == ("user",)
    assert found.facts.trust_settings == {"user": 0, "admin": 1}
    assert [certinfo.display_name(c.subject) for c in found.distrusted] == ["ISRG Root X1"]


def test_macos_without_the_security_tool_is_a_finding() -> None:
    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(None, "", "", "FileNotFoundError: security")

    found = roots.enumerate_macos(run, home=Path("/nonexistent"))
    assert found.error_kind == "command_failed"
    assert _analyse(found).findings[0].status is Status.WARN


# --- Windows -----------------------------------------------------------------------------------

# Recorded `reg query` outputs (Windows 11 23H2).
REG_AUTHROOT_POLICY = """
HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\SystemCertificates\\AuthRoot
    DisableRootAutoUpdate    REG_DWORD    0x1

"""
REG_PROTECTED_ROOTS = """
HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\SystemCertificates\\Root\\ProtectedRoots
    Flags    REG_DWORD    0x1

"""
REG_MISSING = "ERROR: The system was unable to find the specified registry key or value.\n"


def _authroot_listing(certs: Sequence[x509.Certificate]) -> str:
    from cryptography.hazmat.primitives import serialization

    key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\AuthRoot\\Certificates"
    lines = ["", key]
    for cert in certs:
        der = cert.public_bytes(serialization.Encoding.DER)
        lines.append(f"{key}\\{hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()}")
    return "\n".join(lines) + "\n"


def test_reg_query_parser_on_recorded_output() -> None:
    key = parse_reg_query(REG_AUTHROOT_POLICY)
    assert key.values == {"DisableRootAutoUpdate": 1}
    listing = parse_reg_query(_authroot_listing(_public()[:2]))
    assert listing.values == {}
    assert len(listing.subkeys) == 2


def test_windows_reads_root_ca_disallowed_stores_and_the_policies() -> None:
    from cryptography.hazmat.primitives import serialization

    public = _public(without=["ISRG Root X1"])
    microsoft_only = pki.root("Microsoft Root Certificate Authority 2010").cert
    corporate = pki.root("Contoso Enterprise Root").cert
    email_only = pki.root("Email Only Root").cert
    revoked = pki.root("DigiNotar Root CA").cert

    def der(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    stores = {
        "ROOT": [(der(c), "x509_asn", True) for c in (*public, microsoft_only, corporate)]
        + [(der(email_only), "x509_asn", {"1.3.6.1.5.5.7.3.4"})]
        + [(b"\x30\x00", "pkcs_7_asn", True)],
        "CA": [],
        "Disallowed": [(der(revoked), "x509_asn", True)],
    }
    registry = {
        roots.WIN_AUTHROOT_POLICY: CommandResult(0, REG_AUTHROOT_POLICY),
        roots.WIN_PROTECTED_ROOTS: CommandResult(0, REG_PROTECTED_ROOTS),
        roots.WIN_AUTHROOT_CERTS: CommandResult(0, _authroot_listing(public)),
    }

    def run(argv: Sequence[str]) -> CommandResult:
        assert argv[:2] == ["reg", "query"]
        return registry.get(argv[2], CommandResult(1, "", REG_MISSING))

    found = roots.enumerate_windows(lambda name: stores[name], run)
    names = {certinfo.display_name(c.subject) for c in found.trusted}
    assert "Email Only Root" not in names  # trusted for e-mail only, not for websites
    assert found.auto_update_disabled is True
    assert found.facts.protected_roots_flags == 1
    assert found.facts.disallowed_store == 1
    analysis = _analyse(found)
    local = next(f for f in analysis.findings if f.id == "truststore.local_root")
    assert [r["subject"] for r in local.params["roots"]] == ["Contoso Enterprise Root"]  # type: ignore[attr-defined]
    missing = next(f for f in analysis.findings if f.id == "truststore.missing_root")
    assert missing.params["variant"] == "auto_update_disabled"


# --- Environment overrides ---------------------------------------------------------------------


def test_environment_overrides_missing_empty_lacking_and_system(tmp_path: Path) -> None:
    corporate = pki.root("Corp Root").cert
    system = [*_public()[:3], corporate]
    _write(tmp_path / "system.pem", system)
    _write(tmp_path / "certifi-copy.pem", system[:3])
    (tmp_path / "empty.pem").write_text("# nothing here\n")
    (tmp_path / "dir").mkdir()
    environ = {
        "SSL_CERT_FILE": str(tmp_path / "gone.pem"),
        "REQUESTS_CA_BUNDLE": str(tmp_path / "empty.pem"),
        "CURL_CA_BUNDLE": str(tmp_path / "certifi-copy.pem"),
        "AWS_CA_BUNDLE": str(tmp_path / "system.pem"),
        "NODE_EXTRA_CA_CERTS": str(tmp_path / "system.pem"),
        "SSL_CERT_DIR": str(tmp_path / "dir"),
        "UNRELATED": "x",
    }
    overrides = {o.variable: o for o in bundles.env_overrides(environ, system)}
    assert overrides["SSL_CERT_FILE"].state == "missing_file"
    assert overrides["REQUESTS_CA_BUNDLE"].state == "empty_file"
    assert overrides["SSL_CERT_DIR"].state == "empty_file"
    assert overrides["CURL_CA_BUNDLE"].state == "set"
    assert overrides["CURL_CA_BUNDLE"].lacking == ("Corp Root",)
    assert overrides["AWS_CA_BUNDLE"].state == "system_bundle"
    assert overrides["NODE_EXTRA_CA_CERTS"].state == "adds"
    statuses = {o.variable: trust_store._override_finding(o).status for o in overrides.values()}
    assert statuses["SSL_CERT_FILE"] is Status.FAIL
    assert statuses["CURL_CA_BUNDLE"] is Status.WARN
    assert statuses["AWS_CA_BUNDLE"] is Status.PASS


def test_override_paths_in_the_home_directory_are_shown_as_tilde(tmp_path: Path) -> None:
    home = Path.home()
    overrides = bundles.env_overrides({"SSL_CERT_FILE": str(home / "no-such-bundle.pem")})
    assert overrides[0].path.startswith("~")


# --- certifi's bundle against its RECORD -------------------------------------------------------


def _record_line(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"certifi/cacert.pem,sha256={digest},{len(data)}\n"


def test_an_intact_bundle_matches_its_record(tmp_path: Path) -> None:
    bundle = tmp_path / "cacert.pem"
    bundle.write_bytes(b"original")
    check = bundles.verify_record(
        bundle, "certifi/core.py,sha256=x,1\n" + _record_line(b"original")
    )
    assert check.verified is True


def test_a_patched_bundle_is_reported(tmp_path: Path) -> None:
    bundle = tmp_path / "cacert.pem"
    bundle.write_bytes(b"original + a corporate root")
    check = bundles.verify_record(bundle, _record_line(b"original"))
    assert check.verified is False
    finding = trust_store._bundle_finding(check)
    assert finding is not None
    assert finding.id == "truststore.bundle_modified"
    assert finding.status is Status.WARN


def test_without_a_record_the_bundle_is_unverifiable_not_modified(tmp_path: Path) -> None:
    check = bundles.verify_record(tmp_path / "cacert.pem", None)
    assert check.verified is None
    assert trust_store._bundle_finding(check) is None


def test_the_installed_certifi_is_intact() -> None:
    assert bundles.check_certifi().verified is True


def test_enumerating_this_machine_never_raises() -> None:
    found = roots.enumerate_os(timeout=10, cancel=threading.Event())
    assert found.os_name in ("linux", "macos", "windows")
    if found.error is None:
        assert found.trusted


def test_linux_prefers_the_file_openssl_reads(tmp_path: Path) -> None:
    _write(tmp_path / "etc/ssl/certs/ca-certificates.crt", [pki.root("Debian Root").cert])
    _write(tmp_path / "etc/pki/tls/certs/ca-bundle.crt", [pki.root("Leftover Root").cert])
    (tmp_path / "usr/lib/ssl").mkdir(parents=True)
    (tmp_path / "usr/lib/ssl/cert.pem").symlink_to(tmp_path / "etc/ssl/certs/ca-certificates.crt")
    found = roots.enumerate_linux(tmp_path, openssl_cafile="/usr/lib/ssl/cert.pem")
    assert found.sources == ("/etc/ssl/certs/ca-certificates.crt",)
    assert found.facts.family == "Debian/Ubuntu/Alpine"
    _write(tmp_path / "opt/custom/roots.pem", [pki.root("Custom Build Root").cert])
    custom = roots.enumerate_linux(tmp_path, openssl_cafile="/opt/custom/roots.pem")
    assert custom.facts.family == "OpenSSL default"
    assert [certinfo.display_name(c.subject) for c in custom.trusted] == ["Custom Build Root"]


def test_variables_set_by_the_frozen_apps_runtime_hook_are_not_the_users_overrides(
    tmp_path: Path,
) -> None:
    from checks.lib.bundles import RUNTIME_HOOK_MARKER, env_overrides

    bundle = tmp_path / "missing.pem"
    environ = {"SSL_CERT_FILE": str(bundle), "REQUESTS_CA_BUNDLE": str(bundle)}
    assert {o.variable for o in env_overrides(environ)} == {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}
    marked = {**environ, RUNTIME_HOOK_MARKER: "1"}
    assert {o.variable for o in env_overrides(marked)} == {"REQUESTS_CA_BUNDLE"}


# --- The report (schema 1 keys, in order) -------------------------------------------------------

HEAD = ["os", "sources", "trusted", "distrusted", "public_set"]
COMPARED = [
    "differing_roots",
    "expired_roots",
    "program_roots_not_in_public_set",
    "auto_update_disabled",
]
ENVIRONMENT = ["env_overrides", "certifi", "known_bad_list_version", "catalogue_version"]


def _report(found: Enumeration) -> dict[str, object]:
    from checks.core.redact import plain

    report = plain(_analyse(found).facts)
    assert isinstance(report, dict)
    return report


def test_the_report_of_a_linux_bundle_keeps_its_keys_and_their_order(tmp_path: Path) -> None:
    corporate = pki.root("Corp Root").cert
    _write(tmp_path / "etc/ssl/certs/ca-certificates.crt", [*_public(), corporate])
    _write(tmp_path / "usr/local/share/ca-certificates/corp.crt", [corporate])
    report = _report(roots.enumerate_linux(tmp_path))
    linux = ["bundles_found", "bundle", "family", "local_anchor_files", "anchors_not_in_bundle"]
    assert list(report) == [*HEAD, *linux, *COMPARED, *ENVIRONMENT]
    assert report["auto_update_disabled"] is None
    assert report["local_anchor_files"] == [
        {
            "file": str(tmp_path / "usr/local/share/ca-certificates/corp.crt"),
            "update_command": "update-ca-certificates",
        }
    ]
    assert report["anchors_not_in_bundle"] == []
    [root] = report["differing_roots"]  # type: ignore[misc]
    assert list(root) == [
        "subject",
        "subject_dn",
        "sha256",
        "spki_sha256",
        "not_after",
        "product",
        "why",
    ]
    assert report["certifi"] == {
        "path": "certifi/cacert.pem",
        "verified": None,
        "expected": None,
        "actual": None,
    }
    assert report["env_overrides"] == []
    assert report["public_set"] == {
        "source": MOZILLA.source,
        "roots": len(MOZILLA),
        "skipped": 0,
        "error": None,
    }


def test_an_unreadable_store_reports_what_was_found_and_why(tmp_path: Path) -> None:
    found = roots.enumerate_linux(tmp_path)
    assert isinstance(_analyse(found).facts, TrustStoreUnreadable)
    report = _report(found)
    assert list(report) == [*HEAD, "bundles_found", "error", *ENVIRONMENT]
    assert report["error"] == "no CA bundle found at any known path"
    (tmp_path / "etc/ssl/certs").mkdir(parents=True)
    (tmp_path / "etc/ssl/certs/ca-certificates.crt").write_text("")
    empty = _report(roots.enumerate_linux(tmp_path))
    assert list(empty) == [*HEAD, "bundles_found", "bundle", "family", "error", *ENVIRONMENT]

    def no_tool(argv: Sequence[str]) -> CommandResult:
        return CommandResult(None, "", "", "FileNotFoundError: security")

    mac = _report(roots.enumerate_macos(no_tool, home=Path("/nonexistent")))
    assert list(mac) == [*HEAD, "error", *ENVIRONMENT]


def test_the_report_of_macos_keychains_keeps_its_keys(tmp_path: Path) -> None:
    keychains = {
        roots.MAC_SYSTEM_ROOTS: _public(),
        roots.MAC_SYSTEM_KEYCHAIN: [],
        str(tmp_path / "Library/Keychains/login.keychain-db"): [],
    }
    found = roots.enumerate_macos(_mac_runner(keychains, {}, []), home=tmp_path)
    report = _report(found)
    mac = [
        "keychains",
        "trust_settings",
        "trust_settings_unreadable",
        "in_keychain_but_not_trusted",
    ]
    assert list(report) == [*HEAD, *mac, *COMPARED, *ENVIRONMENT]
    assert report["trust_settings_unreadable"] == []


def test_windows_policies_that_are_not_set_are_reported_as_null() -> None:
    from cryptography.hazmat.primitives import serialization

    roots_der = [(c.public_bytes(serialization.Encoding.DER), "x509_asn", True) for c in _public()]
    stores = {"ROOT": roots_der, "CA": [], "Disallowed": []}

    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(1, "", REG_MISSING)

    found = roots.enumerate_windows(lambda name: stores[name], run)
    assert isinstance(_analyse(found).facts, WindowsTrustStoreFacts)
    report = _report(found)
    windows = [
        "root_store",
        "intermediate_store",
        "disallowed_store",
        "authroot_entries",
        "disable_root_auto_update",
        "protected_roots_flags",
    ]
    assert list(report) == [*HEAD, *windows, *COMPARED, *ENVIRONMENT]
    assert report["disable_root_auto_update"] is None
    assert report["protected_roots_flags"] is None
    assert report["auto_update_disabled"] is False
    # An enumeration without the stores' details (a test's, say) reports none of them.
    assert list(_report(Enumeration("windows", tuple(_public())))) == [
        *HEAD,
        *COMPARED,
        *ENVIRONMENT,
    ]


def test_a_known_bad_root_is_reported_with_its_name_and_reason() -> None:
    leaked = pki.root("Superfish, Inc.")
    spki = certinfo.spki_sha256(leaked.cert)
    bad_list = trust.parse_known_bad(
        f'version = 9\n[[roots]]\nname = "Superfish, Inc."\nspki_sha256 = "{spki}"\n'
        'reason = "private key extracted"\n'
    )
    facts = _compared(_analyse(Enumeration("linux", (*_public(), leaked.cert)), bad_list))
    [bad] = facts.differing_roots
    assert (bad.why, bad.name, bad.reason) == (
        "known_bad",
        "Superfish, Inc.",
        "private key extracted",
    )
    assert facts.known_bad_list_version == 9


def test_a_must_have_root_the_public_set_lacks_is_known_by_its_key() -> None:
    isrg = next(spki for name, spki in policy.MUST_HAVE_ROOTS if name == "ISRG Root X1")
    without = trust.TrustStore(
        [c for c in MOZILLA.certificates if certinfo.spki_sha256(c) != isrg], name="mozilla"
    )
    found = Enumeration("linux", tuple(_public(without=["ISRG Root X1"])))
    analysis = trust_store.analyse(
        found,
        without,
        known_bad=KNOWN_BAD,
        catalogue=CATALOGUE,
        now=NOW,
        overrides=(),
        bundle=NO_RECORD,
    )
    from checks.core.redact import plain

    [missing] = [plain(r) for r in _compared(analysis).differing_roots]
    assert missing == {
        "subject": "ISRG Root X1",
        "sha256": "",
        "spki_sha256": isrg,
        "product": None,
        "why": "missing_public",
    }
    assert f"key {isrg}" in analysis.findings[-1].evidence[0]


# --- Bundles named by variables, audited like the system's store -------------------------------

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SUPERFISH = next(e for e in KNOWN_BAD.entries.values() if e.name == "Superfish, Inc.")
JAVA_PASSWORD = "Tru5tstore-Pa55"


def _fake_superfish() -> x509.Certificate:
    """A root with Superfish's subject DN and key identifier but a new key (its real key is
    not available): the known-bad list recognises it by issuer DN and key identifier."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string(SUPERFISH.subject or "")
    ski = bytes.fromhex(SUPERFISH.ski or "")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )


def _system_plus(tmp_path: Path, *extra: x509.Certificate, name: str = "bundle.pem") -> Path:
    bundle = tmp_path / name
    bundle.write_bytes(SYSTEM_BUNDLE.read_bytes() + _pem(extra).encode())
    return bundle


def _system_roots() -> tuple[x509.Certificate, ...]:
    return tuple(roots.read_certs(SYSTEM_BUNDLE))


def _analyse_env(
    known_bad: trust.KnownBadList = KNOWN_BAD,
) -> trust_store.Analysis:
    """The check's analysis of this machine's system bundle and the process's variables."""
    import os

    system = _system_roots()
    overrides = bundles.env_overrides(os.environ, system, known_bad=known_bad)
    return trust_store.analyse(
        Enumeration("linux", system, sources=(str(SYSTEM_BUNDLE),)),
        MOZILLA,
        known_bad=known_bad,
        catalogue=CATALOGUE,
        now=NOW,
        overrides=overrides,
        bundle=NO_RECORD,
    )


def _only_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for variable in (*policy.TRUST_ENV_VARIABLES, bundles.JAVA_OPTIONS_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)


needs_system_bundle = pytest.mark.skipif(
    not SYSTEM_BUNDLE.is_file(), reason="needs a Debian-style system bundle"
)


@needs_system_bundle
def test_a_bundle_with_a_root_issued_as_superfish_fails_by_issuer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _system_plus(tmp_path, _fake_superfish())
    _only_env(monkeypatch, SSL_CERT_FILE=str(bundle))
    analysis = _analyse_env()
    [bad] = [f for f in analysis.findings if f.id == "truststore.env_known_bad"]
    assert bad.status is Status.FAIL
    assert bad.params["variable"] == "SSL_CERT_FILE"
    assert bad.params["path"] == str(bundle)
    assert bad.params["names"] == ["Superfish, Inc."]
    assert "its issuer is on the known-bad list" in bad.evidence[0]
    # One finding for the variable: the bundle is not also called "the system's own list".
    assert not [f for f in analysis.findings if f.id == "truststore.env_override"]
    [record] = _compared(analysis).env_overrides
    assert record.known_bad[0].matched_by == "issuer"
    assert record.added == ("Superfish, Inc.",)
    assert record.added_count == 1
    assert record.lacking == ()
    assert record.compared_with == "system_roots"


@needs_system_bundle
def test_a_bundle_with_a_listed_key_fails_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaked = pki.root("Leaked Test Root").cert
    listed = tmp_path / "known_bad.toml"
    listed.write_text(
        f'version = 5\n[[roots]]\nname = "Leaked Test Root"\n'
        f'spki_sha256 = "{certinfo.spki_sha256(leaked)}"\n',
        encoding="utf-8",
    )
    bundle = _system_plus(tmp_path, leaked)
    _only_env(monkeypatch, REQUESTS_CA_BUNDLE=str(bundle), GIT_SSL_CAINFO=str(bundle))
    analysis = _analyse_env(trust.load_known_bad(listed))
    bad = [f for f in analysis.findings if f.id == "truststore.env_known_bad"]
    assert {f.params["variable"] for f in bad} == {"REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"}
    assert all(f.params["names"] == ["Leaked Test Root"] for f in bad)
    assert all(r.known_bad[0].matched_by == "key" for r in _compared(analysis).env_overrides)


@needs_system_bundle
def test_roots_a_bundle_adds_are_named_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corporate = [pki.root(f"Corp Root {n}").cert for n in range(7)]
    bundle = _system_plus(tmp_path, *corporate)
    extra = tmp_path / "extra.pem"
    _write(extra, corporate[:2])
    _only_env(monkeypatch, CURL_CA_BUNDLE=str(bundle), NODE_EXTRA_CA_CERTS=str(extra))
    analysis = _analyse_env()
    found = {
        f.params["variable"]: f for f in analysis.findings if f.id.startswith("truststore.env")
    }
    curl = found["CURL_CA_BUNDLE"]
    assert curl.params["variant"] == "extra_roots"
    assert curl.status is Status.WARN
    assert curl.params["added"] == 7
    assert (
        curl.params["added_names"]
        == "Corp Root 0, Corp Root 1, Corp Root 2, Corp Root 3, Corp Root 4, +2"
    )
    node = found["NODE_EXTRA_CA_CERTS"]
    assert node.params["variant"] == "adds"
    assert node.params["added_names"] == "Corp Root 0, Corp Root 1"
    # The system's own bundle, unchanged, still reads as the system's.
    _only_env(monkeypatch, SSL_CERT_FILE=str(SYSTEM_BUNDLE))
    [same] = [f for f in _analyse_env().findings if f.id == "truststore.env_override"]
    assert (same.params["variant"], same.status) == ("system_bundle", Status.PASS)


def _java_store(path: Path, certs: Sequence[x509.Certificate], password: str) -> Path:
    from cryptography.hazmat.primitives.serialization import pkcs12

    encryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"trust", None, None, list(certs), encryption)
    )
    return path


@needs_system_bundle
def test_a_java_pkcs12_trust_store_is_read_with_its_password_which_is_never_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks.core.redact import plain

    store = _java_store(tmp_path / "trust.p12", [*_public()[:3], _fake_superfish()], JAVA_PASSWORD)
    options = (
        f"-Xmx512m -Djavax.net.ssl.trustStore={store} "
        f"-Djavax.net.ssl.trustStorePassword={JAVA_PASSWORD}"
    )
    _only_env(monkeypatch, JAVA_TOOL_OPTIONS=options)
    analysis = _analyse_env()
    [bad] = [f for f in analysis.findings if f.id == "truststore.env_known_bad"]
    assert bad.params["variable"] == "JAVA_TOOL_OPTIONS"
    assert bad.params["path"] == f"-Djavax.net.ssl.trustStore={store}"
    [record] = _compared(analysis).env_overrides
    assert (record.setting, record.path, record.certificates) == (
        "javax.net.ssl.trustStore",
        str(store),
        4,
    )
    everything = repr(plain(analysis.facts)) + repr(
        [(f.params, f.evidence) for f in analysis.findings]
    )
    assert JAVA_PASSWORD not in everything


def test_java_defaults_to_changeit_and_a_jks_store_is_unreadable_not_a_crash(
    tmp_path: Path,
) -> None:
    corporate = pki.root("Corp Java Root").cert
    store = _java_store(tmp_path / "cacerts.p12", [corporate], "changeit")
    environ = {"JAVA_TOOL_OPTIONS": f'"-Djavax.net.ssl.trustStore={store}"'}
    [java] = bundles.env_overrides(environ, [corporate])
    assert (java.state, java.count) == ("system_bundle", 1)
    jks = tmp_path / "cacerts.jks"
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x00" * 40)
    [old] = bundles.env_overrides({"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={jks}"})
    assert (old.state, old.error) == ("unreadable", "not readable (JKS)")
    finding = trust_store._override_finding(old)
    assert (finding.status, finding.params["detail"]) == (Status.WARN, "not readable (JKS)")
    wrong = store.with_name("locked.p12")
    _java_store(wrong, [corporate], "another-secret")
    [locked] = bundles.env_overrides({"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={wrong}"})
    assert locked.state == "unreadable"
    assert "another-secret" not in repr(locked)
    gone = {"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={tmp_path / 'nope.p12'}"}
    assert bundles.env_overrides(gone)[0].state == "missing_file"
    # Java told to use the operating system's store names no file.
    windows = "-Djavax.net.ssl.trustStoreType=Windows-ROOT -Djavax.net.ssl.trustStore=NONE"
    assert bundles.env_overrides({"JAVA_TOOL_OPTIONS": windows}) == []


@needs_system_bundle
def test_the_cli_reports_a_known_bad_root_in_ssl_cert_file(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    bundle = _system_plus(tmp_path, _fake_superfish())
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for variable in (*policy.TRUST_ENV_VARIABLES, bundles.JAVA_OPTIONS_VARIABLE):
        env.pop(variable, None)
    env["SSL_CERT_FILE"] = str(bundle)
    done = subprocess.run(
        [sys.executable, "-m", "checks", "check", "--only", "local", "--offline", "--json"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    [check] = [c for c in report["checks"] if c["id"] == "trust_store"]
    [bad] = [f for f in check["findings"] if f["id"] == "truststore.env_known_bad"]
    assert bad["status"] == "fail"
    assert bad["params"]["variable"] == "SSL_CERT_FILE"
    assert bad["params"]["names"] == ["Superfish, Inc."]
    [record] = check["facts"]["env_overrides"]
    assert record["known_bad"][0]["name"] == "Superfish, Inc."
