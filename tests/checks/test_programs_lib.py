"""Unit tests of checks.lib.programs: the parsers of each program's output, policy and trust gaps.

Fixtures marked "real" were captured on Debian 12 (curl 7.88.1, wget 1.21.3, OpenSSL 3.0.19,
git 2.39.5, Java 17.0.15, Node 20); those marked "from memory" are written from the documented
shape of the output on Windows and macOS, not captured there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import plistlib
import struct
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks import programs as programs_check
from checks.core.check import Cancelled
from checks.lib.programs import (
    PROGRAM_IDS,
    Attempt,
    Observed,
    Program,
    Target,
    attempt,
    browsers,
    classify,
    common,
    databases,
    discover,
    judge_by_policy,
    parse,
    policy,
    runner,
    speaks,
    trust_gaps,
    trustgap,
    upgrade,
)
from checks.lib.system import CommandResult

# --- version banners -------------------------------------------------------------------------

CURL_LINUX = (  # real
    "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 brotli/1.0.9 "
    "zstd/1.5.4 libidn2/2.3.3 libpsl/0.21.2 (+libidn2/2.3.3) libssh2/1.10.0 nghttp2/1.52.0 "
    "librtmp/2.3 OpenLDAP/2.5.13\nRelease-Date: 2023-02-20, security patched: 7.88.1-10+deb12u14\n"
)
CURL_MACOS = (  # from memory: Apple's curl names a second back-end in parentheses
    "curl 8.4.0 (x86_64-apple-darwin23.0) libcurl/8.4.0 (SecureTransport) LibreSSL/3.3.6 "
    "zlib/1.2.12 nghttp2/1.55.1\nRelease-Date: 2023-10-11\n"
)
CURL_WINDOWS = (  # from memory: the curl.exe shipped in System32
    "curl 8.4.0 (Windows) libcurl/8.4.0 Schannel WinIDN\nRelease-Date: 2023-10-11\n"
)
WGET_GNUTLS = (  # real
    "GNU Wget 1.21.3 built on linux-gnu.\n\n-cares +digest -gpgme +https +ipv6 +iri "
    "+large-file -metalink +nls \n+ntlm +opie +psl +ssl/gnutls \n"
)
WGET_OPENSSL = "GNU Wget 1.21.4 built on darwin23.0.0.\n\n+https +ipv6 +ssl/openssl \n"  # memory
JAVA_SETTINGS = (  # real (stderr of `java -XshowSettings:properties -version`, shortened)
    "Property settings:\n    file.encoding = UTF-8\n"
    "    java.home = /usr/lib/jvm/java-17-openjdk-amd64\n"
    "    java.library.path = /usr/java/packages/lib\n        /usr/lib/x86_64-linux-gnu/jni\n"
    "    java.runtime.version = 17.0.15+6-Debian-1deb12u1\n    java.version = 17.0.15\n\n"
    'openjdk version "17.0.15" 2025-04-15\n'
)
JAVA_SECURITY = (  # real excerpt of Debian's java-17 conf/security/java.security
    "# comment\njdk.certpath.disabledAlgorithms=MD2, MD5, SHA1 jdkCA & usage TLSServer, \\\n"
    "    RSA keySize < 1024, DSA keySize < 1024, EC keySize < 224, \\\n"
    "    SHA1 usage SignedJAR & denyAfter 2019-01-01\n"
    "jdk.tls.disabledAlgorithms=SSLv3, TLSv1, TLSv1.1, DTLSv1.0, RC4, DES, \\\n"
    "    MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL, \\\n"
    "    ECDH\n"
)


def test_curl_version_names_the_default_tls_library() -> None:
    assert parse.curl_version(CURL_LINUX) == ("7.88.1", "OpenSSL 3.0.19")
    assert parse.curl_version(CURL_MACOS) == ("8.4.0", "LibreSSL 3.3.6")
    assert parse.curl_version(CURL_WINDOWS) == ("8.4.0", "Schannel")
    assert parse.curl_version("bash: curl: not found") == (None, None)


def test_wget_version_reads_its_ssl_flag() -> None:
    assert parse.wget_version(WGET_GNUTLS) == ("1.21.3", "GnuTLS")
    assert parse.wget_version(WGET_OPENSSL) == ("1.21.4", "OpenSSL")


def test_openssl_git_and_browser_versions() -> None:
    real = "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)\n"
    assert parse.openssl_version(real) == ("3.0.19", "OpenSSL 3.0.19")
    assert parse.openssl_version("LibreSSL 3.3.6\n") == ("3.3.6", "LibreSSL 3.3.6")  # macOS
    assert parse.git_version("git version 2.39.5\n") == "2.39.5"  # real
    assert parse.git_version("git version 2.44.0.windows.1") == "2.44.0.windows.1"  # memory
    assert parse.git_version("git version 2.39.3 (Apple Git-146)") == "2.39.3"  # memory
    assert parse.first_version("Google Chrome 124.0.6367.91 \n") == "124.0.6367.91"  # memory
    assert parse.first_version("Mozilla Firefox 115.10.0esr") == "115.10.0"  # memory


def test_git_backend_from_config_or_the_libcurl_it_links() -> None:
    assert parse.git_backend("schannel", None) == "Schannel"
    assert parse.git_backend("", b"\x00libcurl-gnutls.so.4\x00") == "GnuTLS"
    assert parse.git_backend(None, b"\x00libcurl.so.4\x00") is None


def test_java_properties_and_policy() -> None:
    properties = parse.java_properties(JAVA_SETTINGS)
    assert properties["java.home"] == "/usr/lib/jvm/java-17-openjdk-amd64"
    assert properties["java.version"] == "17.0.15"
    assert parse.java_policy(JAVA_SECURITY) == {
        "min_version": "TLSv1.2",
        "max_version": "TLSv1.3",
        "dhe": True,
        "dh_min_bits": 1024,
        "rsa_min_bits": 1024,
        # "SHA1 jdkCA": SHA-1 is refused only below Java's own roots.
        "sha1_signatures": True,
    }


def test_windows_and_macos_fixtures() -> None:
    chrome = (  # from memory: `reg query HKCU\Software\Google\Chrome\BLBeacon /v version`
        "\r\nHKEY_CURRENT_USER\\Software\\Google\\Chrome\\BLBeacon\r\n"
        "    version    REG_SZ    124.0.6367.91\r\n\r\n"
    )
    assert parse.registry_version(chrome, "version") == "124.0.6367.91"
    firefox = (  # from memory: `reg query "HKLM\SOFTWARE\Mozilla\Mozilla Firefox"`
        "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Mozilla\\Mozilla Firefox\r\n"
        "    CurrentVersion    REG_SZ    125.0.2 (x64 en-US)\r\n"
    )
    assert parse.registry_version(firefox, "CurrentVersion") == "125.0.2"
    runtimes = (  # from memory: `dotnet --list-runtimes`
        "Microsoft.AspNetCore.App 8.0.4 "
        "[C:\\Program Files\\dotnet\\shared\\Microsoft.AspNetCore.App]\n"
        "Microsoft.NETCore.App 6.0.29 [C:\\Program Files\\dotnet\\shared\\Microsoft.NETCore.App]\n"
        "Microsoft.NETCore.App 8.0.4 [C:\\Program Files\\dotnet\\shared\\Microsoft.NETCore.App]\n"
    )
    assert parse.dotnet_runtimes(runtimes) == "8.0.4"
    plist = plistlib.dumps(
        {"CFBundleIdentifier": "com.apple.Safari", "CFBundleShortVersionString": "17.4.1"}
    )
    assert parse.plist_version(plist) == "17.4.1"
    assert parse.plist_version(b"not a plist") is None


def test_firefox_profile_and_prefs(tmp_path: Path) -> None:
    ini = (  # from memory: Firefox 67+ profiles.ini
        "[Install4F96D1932A9F858E]\nDefault=Profiles/abcd1234.default-release\nLocked=1\n\n"
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=Profiles/abcd1234.default-release\n"
    )
    assert parse.firefox_default_profile(ini) == "Profiles/abcd1234.default-release"
    old = "[Profile0]\nName=default\nIsRelative=1\nPath=xyz.default\nDefault=1\n"
    assert parse.firefox_default_profile(old) == "xyz.default"
    prefs = 'user_pref("security.enterprise_roots.enabled", false);\nuser_pref("a.b", 3);\n'
    assert parse.firefox_prefs(prefs) == {"security.enterprise_roots.enabled": False, "a.b": 3}
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "prefs.js").write_text(prefs)
    assert browsers.firefox_enterprise_roots(profile, None, "windows")[0] is False
    assert browsers.firefox_enterprise_roots(None, None, "macos")[0] is True  # Firefox 120+
    assert browsers.firefox_enterprise_roots(None, None, "linux")[0] is False
    install = tmp_path / "install"
    (install / "distribution").mkdir(parents=True)
    (install / "distribution" / "policies.json").write_text(
        '{"policies": {"Certificates": {"ImportEnterpriseRoots": true}}}'
    )
    assert browsers.firefox_enterprise_roots(profile, install, "windows")[0] is True


def test_windows_browsers_are_found_from_paths_and_registry(tmp_path: Path) -> None:
    chrome = tmp_path / "Google" / "Chrome" / "Application" / "chrome.exe"
    chrome.parent.mkdir(parents=True)
    chrome.write_bytes(b"MZ")
    asked: list[tuple[str, ...]] = []

    def ask(*argv: str, cwd: Path | None = None) -> CommandResult:
        asked.append(argv)
        reg = "HKEY_CURRENT_USER\\Software\\Google\\Chrome\\BLBeacon\r\n"
        reg += "    version    REG_SZ    124.0.1\r\n"
        return CommandResult(0, reg if argv[0] == "reg" else "")

    env = {"ProgramFiles": str(tmp_path), "PATH": str(tmp_path / "none")}
    found = browsers.find(env, ask, "windows")
    assert [(p.id, p.version, p.trust_store, p.runnable) for p in found] == [
        ("chrome", "124.0.1", "chrome_root_store", False)
    ]
    assert asked == [("reg", "query", r"HKCU\Software\Google\Chrome\BLBeacon", "/v", "version")]


@pytest.mark.posix_only("its stand-in curl is a `#!/bin/sh` script, which Windows does not run")
def test_discover_reads_a_fake_curl_on_path(tmp_path: Path) -> None:
    fake = tmp_path / "curl"
    fake.write_text("#!/bin/sh\nprintf '%s\\n' 'curl 8.4.0 (Windows) libcurl/8.4.0 Schannel'\n")
    fake.chmod(0o755)
    env = {"PATH": str(tmp_path), "CURL_CA_BUNDLE": "/srv/corp.pem"}
    found = discover(timeout=5, cancel=threading.Event(), environ=env, os_name="linux")
    assert [(p.id, p.version, p.tls_library, p.trust_store, p.trust_store_path) for p in found] == [
        ("curl", "8.4.0", "Schannel", "file", "/srv/corp.pem")
    ]
    assert all(p.id in PROGRAM_IDS for p in found)


def test_node_options_and_env_lookup() -> None:
    assert parse.node_options_trust("--max-old-space-size=4096 --use-openssl-ca") == "os"
    assert parse.node_options_trust("--use-system-ca") == "os"
    assert parse.node_options_trust("") is None
    assert parse.env_lookup({"A": " ", "B": "x"}, "A", "B") == "x"
    assert parse.json_object('noise\n{"ok": true}\n') == {"ok": True}
    assert parse.tls_version("TLSv1_2") == "TLSv1.2"
    assert parse.tls_version("TLSv1") == "TLSv1.0"


# --- the programs' messages (real, captured from the lab servers) ----------------------------

WGET_EXPIRED = (
    "ERROR: The certificate of '127.0.0.1' is not trusted.\n"
    "ERROR: The certificate of '127.0.0.1' has expired."
)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("curl: (35) OpenSSL/3.0.19: error:0A00018A:SSL routines::dh key too small", "dh"),
        ("[SSL: DH_KEY_TOO_SMALL] dh key too small (_ssl.c:1006)", "dh"),
        ("error:0A00014D:SSL routines::legacy sigalg disallowed or unsupported", "protocol"),
        ("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version", "protocol"),
        ("Received fatal alert: protocol_version", "protocol"),
        ("curl: (60) SSL certificate problem: certificate has expired", "expired"),
        (WGET_EXPIRED, "expired"),
        ("PKIX path validation failed <- CertificateExpiredException: NotAfter", "expired"),
        ("CertificateNotYetValidException: NotBefore: Mon Jan 01", "not_yet_valid"),
        ("SSL: no alternative certificate subject name matches target host name 'a'", "name"),
        ("The certificate's owner does not match hostname '127.0.0.1'", "name"),
        ("ERR_TLS_CERT_ALTNAME_INVALID Hostname/IP does not match certificate's altnames", "name"),
        ("No subject alternative names matching IP address 127.0.0.1 found", "name"),
        ("IP address mismatch", "name"),
        ("UNABLE_TO_GET_ISSUER_CERT_LOCALLY unable to get local issuer certificate", "trust"),
        ("PKIX path building failed: unable to find valid certification path", "trust"),
        ("server certificate verification failed. CAfile: /tmp/root.pem CRLfile: none", "trust"),
        ("ERROR: The certificate of '127.0.0.1' doesn't have a known issuer.", "trust"),
        ("curl: (7) Failed to connect to 127.0.0.1 port 9: Connection refused", "network"),
        ("curl: (28) Operation timed out after 5001 milliseconds", "timeout"),
        ("[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure", "cipher"),
        ("tlsv13 alert certificate required", "client_certificate"),
        ("something else entirely", "other"),
    ],
)  # fmt: skip
def test_reason_of_real_messages(message: str, reason: str) -> None:
    assert classify.reason_of(message) == reason


def test_one_line_trims_and_redacts() -> None:
    line = classify.one_line(
        "fatal:\n unable to access 'https://user:secret@example.com/'" + "x" * 400
    )
    assert "\n" not in line
    assert "secret" not in line
    assert len(line) <= 240


# --- policy ------------------------------------------------------------------------------------


def _browser(program_id: str, **policy_extra: object) -> Program:
    return Program(
        program_id, program_id, None, None, None, browsers.TRUST[program_id], None,
        {**policy.BROWSER_POLICY[program_id], **policy_extra}, False,
    )  # fmt: skip


def _observed(**changes: object) -> Observed:
    values: dict[str, object] = {
        "versions": ("TLSv1.2", "TLSv1.3"),
        "suites": ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        "dh_bits": None,
        "leaf_key": ("RSA", 2048),
        "sha1_signed": False,
        "chain_trusted": {"os": True, "mozilla": True},
        "name_matches": True,
        "dates_valid": True,
    }
    values.update(changes)
    return Observed(**values)  # type: ignore[arg-type]


def _verdict(
    program: Program, observed: Observed, os_name: str = "windows"
) -> tuple[str, str | None]:
    judged = judge_by_policy(program, observed, os_name=os_name)  # type: ignore[arg-type]
    assert judged.how == "policy"
    assert judged.detail
    return judged.result, judged.reason


def test_browsers_by_policy() -> None:
    chrome, firefox, safari = _browser("chrome"), _browser("firefox"), _browser("safari")
    assert _verdict(chrome, _observed()) == ("connects", None)
    tls10 = _observed(versions=("TLSv1.0",), suites=("TLS_RSA_WITH_AES_128_CBC_SHA",))
    assert _verdict(firefox, tls10) == ("refuses", "protocol")
    dhe = _observed(
        versions=("TLSv1.2",), suites=("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",), dh_bits=1024
    )
    assert _verdict(chrome, dhe) == ("refuses", "cipher")
    assert _verdict(firefox, dhe) == ("refuses", "cipher")
    assert _verdict(safari, _observed(leaf_key=("RSA", 1024))) == ("refuses", "key")
    assert _verdict(chrome, _observed(leaf_key=("RSA", 1024))) == ("connects", None)
    assert _verdict(chrome, _observed(sha1_signed=True)) == ("refuses", "signature")
    assert _verdict(chrome, _observed(dates_valid=False)) == ("refuses", "expired")
    assert _verdict(chrome, _observed(name_matches=False)) == ("refuses", "name")


def test_browser_trust_rules() -> None:
    local_root = _observed(chain_trusted={"os": True, "mozilla": False})
    assert _verdict(_browser("chrome"), local_root, "windows") == ("connects", None)
    assert _verdict(_browser("chrome"), local_root, "linux") == ("unknown", "trust")
    assert _verdict(_browser("firefox", enterprise_roots=False), local_root) == ("refuses", "trust")
    assert _verdict(_browser("firefox", enterprise_roots=True), local_root) == ("connects", None)
    assert _verdict(_browser("firefox", enterprise_roots=True), local_root, "linux") == (
        "refuses",
        "trust",
    )
    cacert = _observed(chain_trusted={"os": False, "mozilla": False, "cacert": True})
    assert _verdict(_browser("safari"), cacert) == ("connects", None)


def test_openssl_security_levels() -> None:
    assert policy.openssl_policy(2, "TLSv1.2") == {
        "min_version": "TLSv1.2",
        "security_level": 2,
        "dh_min_bits": 2048,
        "rsa_min_bits": 2048,
        "sha1_signatures": False,
    }
    assert policy.openssl_policy(None) == {}


# --- trust stores ------------------------------------------------------------------------------


def _root(cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _jks(certs: list[x509.Certificate]) -> bytes:
    """A JKS file as keytool writes it (version 2, trusted-certificate entries)."""
    body = struct.pack(">III", 0xFEEDFEED, 2, len(certs))
    for index, cert in enumerate(certs):
        alias = f"root{index}".encode()
        der = cert.public_bytes(serialization.Encoding.DER)
        body += struct.pack(">IH", 2, len(alias)) + alias + struct.pack(">Q", 0)
        body += struct.pack(">H", 5) + b"X.509" + struct.pack(">I", len(der)) + der
    return body + b"\x00" * 20  # the integrity hash, not checked


def test_read_jks_and_pkcs12(tmp_path: Path) -> None:
    roots = [_root("A Root"), _root("B Root")]
    assert trustgap.read_jks(_jks(roots)) == roots
    store = tmp_path / "cacerts"
    store.write_bytes(_jks(roots))
    assert trustgap.read_keystore(store) == roots
    with pytest.raises(ValueError, match="not a JKS"):
        trustgap.read_jks(b"\x00" * 16)


def test_trust_gaps_of_a_bundle(tmp_path: Path) -> None:
    shared, local, own = _root("Shared Root"), _root("Local Corp Root"), _root("Bundle Only Root")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (shared, own)))
    program = Program("curl", "curl", None, None, None, "file", str(bundle), {}, True)
    gap = trust_gaps(program, [shared, local])
    assert gap.readable
    assert gap.store == "file"
    assert gap.missing == ("CN=Local Corp Root",)
    assert gap.locally_added_missing == gap.missing
    assert gap.extra == ("CN=Bundle Only Root",)
    gone = Program("curl", "curl", None, None, None, "file", str(tmp_path / "none.pem"), {}, True)
    unreadable = trust_gaps(gone, [shared])
    assert not unreadable.readable
    assert "FileNotFoundError" in unreadable.detail
    os_program = Program("openssl", "openssl", None, None, None, "os", None, {}, True)
    assert trust_gaps(os_program, [shared, local]).missing == ()


# --- running programs --------------------------------------------------------------------------


def test_attempt_never_runs_browsers_and_stops_on_cancel() -> None:
    target = Target("example.com", 443)
    browser = attempt(_browser("chrome"), target, timeout=1, cancel=threading.Event())
    assert (browser.result, browser.how) == ("unknown", "ran")
    cancelled = threading.Event()
    cancelled.set()
    curl = Program("curl", "curl", None, "/bin/sh", None, "os", None, {}, True)
    with pytest.raises(Cancelled):
        attempt(curl, target, timeout=1, cancel=cancelled)


@pytest.mark.posix_only("runs `sh -c 'sleep 5 & sleep 5'` from /usr/bin:/bin")
def test_runner_times_out_and_kills(tmp_path: Path) -> None:
    done = runner.run(
        ["sh", "-c", "sleep 5 & sleep 5"], timeout=0.3, cancel=threading.Event(),
        environ={"PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode is None
    assert "no answer within" in (done.error or "")
    missing = runner.run(["no-such-tool"], timeout=1, cancel=threading.Event(), environ={})
    assert missing.error == "no-such-tool not found"


# --- mail, directory, database and chat servers ----------------------------------------------

CURL_NEW = (  # from memory: curl 8.6's banner shape, with the OpenLDAP back-end
    "curl 8.6.0 (x86_64-pc-linux-gnu) libcurl/8.6.0 OpenSSL/3.2.1 OpenLDAP/2.6.7\n"
    "Protocols: dict file ftp ftps http https imap imaps ldap ldaps pop3 pop3s smtp smtps\n"
)


def _program(program_id: str, name: str = "", **fields: object) -> Program:
    return Program(
        program_id, name or program_id, None, f"/usr/bin/{program_id}", "OpenSSL 3.0.19", "os",
        None, {}, True, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _run(tmp_path: Path, protocol: str, starttls: str | None, **fields: object) -> common.Run:
    values: dict[str, object] = {
        "host": "mail.example", "port": 587, "address": None, "cacert": None, "timeout": 5.0,
        "cancel": threading.Event(), "environ": {}, "folder": tmp_path,
        "protocol": protocol, "starttls": starttls,
    }  # fmt: skip
    values.update(fields)
    return common.Run(**values)  # type: ignore[arg-type]


def test_curl_protocols_and_ldap_starttls_only_where_it_works() -> None:
    linux = parse.curl_protocols(CURL_LINUX + "Protocols: ftp imap imaps ldap ldaps smtp\n")
    # 7.88.1 sends StartTLS and then breaks the handshake (curl/curl#12610, fixed in 8.6.0).
    assert linux == ("ftp", "imap", "imaps", "ldap", "ldaps", "smtp")
    assert parse.curl_protocols(CURL_NEW)[-1] == "ldap-starttls"
    old = CURL_NEW.replace("8.6.0", "7.81.0")
    assert "ldap-starttls" in parse.curl_protocols(old)
    assert "ldap-starttls" not in parse.curl_protocols(CURL_NEW.replace(" OpenLDAP/2.6.7", ""))
    assert parse.psql_version("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n") == "15.18"
    assert databases.version_banner(
        "mysql  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64) using  EditLine"
    ) == ("MariaDB client", "10.11.19")  # real
    assert databases.version_banner("mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community)") == (
        "MySQL client", "8.0.36",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "starttls", "speaking"),
    [
        ("https", None, {"curl", "wget", "python", "node", "java", "git", "openssl", "chrome"}),
        ("smtp", "smtp", {"curl", "python", "openssl"}),
        ("smtp", None, {"curl", "python", "openssl"}),
        ("imap", "imap", {"curl", "python", "openssl"}),
        ("pop3", None, {"curl", "python", "openssl"}),
        ("ftp", "ftp", {"curl", "python", "openssl"}),
        ("ftp", None, {"curl", "openssl"}),
        ("ldap", "ldap", {"openssl"}),
        ("ldap", None, {"curl", "openssl"}),
        ("xmpp", "xmpp", {"openssl"}),
        ("postgres", "postgres", {"psql", "openssl"}),
        ("mysql", "mysql", {"mysql", "openssl"}),
        ("nntp", None, {"openssl"}),
    ],
)
def test_only_the_programs_that_speak_the_protocol_are_tried(
    protocol: str, starttls: str | None, speaking: set[str]
) -> None:
    curl_protocols = ("ftp", "ftps", "imap", "imaps", "ldap", "ldaps", "pop3", "pop3s", "smtp")
    programs = [
        _program("curl", protocols=(*curl_protocols, "smtps")),
        *(_program(p) for p in ("wget", "python", "node", "java", "git", "openssl", "psql")),
        _program("mysql", "MariaDB client"),
        _browser("chrome"),
    ]
    target = Target("mail.example", 1, protocol=protocol, starttls=starttls)
    assert {p.id for p in programs if speaks(p, target)} == speaking
    # A program that does not speak it is never run: its attempt says why.
    wget = attempt(programs[1], target, timeout=1, cancel=threading.Event())
    if "wget" not in speaking:
        assert (wget.result, wget.reason) == ("unknown", None)
        assert "does not speak" in wget.detail
    newer = _program("curl", protocols=(*curl_protocols, "ldap-starttls"))
    assert speaks(newer, Target("dir.example", 389, protocol="ldap", starttls="ldap"))
    libressl = dataclasses.replace(_program("openssl"), tls_library="LibreSSL 3.3.6")
    assert not speaks(
        libressl, Target("db.example", 5432, protocol="postgres", starttls="postgres")
    )


def test_curl_reaches_mail_servers_as_a_user_would(tmp_path: Path) -> None:
    curl = _program("curl")
    r = _run(tmp_path, "smtp", "smtp", address="192.0.2.7", cacert="/lab/root.pem")
    argv = upgrade.curl_argv(curl, r)
    assert argv[:3] == ["/usr/bin/curl", "-q", "-v"]
    assert argv[-4:] == ["--ssl-reqd", "-X", "NOOP", "smtp://mail.example:587/"]
    assert argv[argv.index("--resolve") :][:2] == ["--resolve", "mail.example:587:192.0.2.7"]
    assert argv[argv.index("--cacert") :][:2] == ["--cacert", "/lab/root.pem"]
    # No sender, recipient, upload or user: no mail is sent and nobody logs in.
    assert not {"--mail-from", "--mail-rcpt", "-T", "-u"} & set(argv)
    imaps = upgrade.curl_argv(curl, _run(tmp_path, "imap", None, port=993))
    assert imaps[-3:] == ["-X", "CAPABILITY", "imaps://mail.example:993/"]
    assert "--ssl-reqd" not in imaps
    pop3 = upgrade.curl_argv(curl, _run(tmp_path, "pop3", "pop3", port=110))
    assert pop3[-4:] == ["--ssl-reqd", "-X", "CAPA", "pop3://mail.example:110/"]
    ftp = upgrade.curl_argv(curl, _run(tmp_path, "ftp", "ftp", port=21))
    assert ftp[-3:] == ["--ssl-reqd", "-I", "ftp://mail.example:21/"]
    ldaps = upgrade.curl_argv(curl, _run(tmp_path, "ldap", None, host="::1", port=636))
    assert ldaps[-1] == "ldaps://[::1]:636/"


def test_curl_after_tls_is_connected_only_once_it_verified() -> None:
    verified = "* SSL certificate verify ok.\n< 530 Login incorrect.\ncurl: (67) Access denied\n"
    assert upgrade.read_curl("curl", 67, verified).result == "connects"
    assert upgrade.read_curl("curl", 0, "").result == "connects"
    # Before TLS a weird reply is no sign of TLS working.
    weird = upgrade.read_curl("curl", 8, "curl: (8) Got unexpected imap-server response\n")
    assert (weird.result, weird.reason) == ("refuses", "other")
    real = "curl: (60) SSL certificate problem: certificate has expired\n"  # real
    assert upgrade.read_curl("curl", 60, real).reason == "expired"
    no_tls = upgrade.read_curl("curl", 64, "* Trying\ncurl: (64) STARTTLS not supported.\n")
    assert (no_tls.reason, no_tls.detail) == ("other", "curl: (64) STARTTLS not supported.")
    slow = "curl: (28) Operation timed out after 5000 milliseconds with 0 bytes received\n"
    assert upgrade.read_curl("curl", 28, slow).reason == "timeout"


def test_openssl_upgrade_arguments_and_refusals(tmp_path: Path) -> None:
    assert upgrade.openssl_args(_run(tmp_path, "smtp", "smtp")) == ["-starttls", "smtp"]
    assert upgrade.openssl_args(_run(tmp_path, "xmpp", "xmpp", host="chat.example")) == [
        "-starttls", "xmpp", "-xmpphost", "chat.example",
    ]  # fmt: skip
    assert upgrade.openssl_args(_run(tmp_path, "postgres", "postgres")) == [
        "-starttls", "postgres",
    ]  # fmt: skip
    assert upgrade.openssl_args(_run(tmp_path, "imap", None)) == []
    lib_error = "80EB3D25EF7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number"
    missing = "Didn't find STARTTLS in server response, trying anyway...\n" + lib_error  # real
    assert "did not offer STARTTLS" in (upgrade.openssl_refusal("", missing) or "")
    assert "plain text" in (upgrade.openssl_refusal("", lib_error) or "")
    quiet = "CONNECTED(00000003)\n---\nno peer certificate available\n"  # real (PostgreSQL 'N')
    assert upgrade.openssl_refusal(quiet, "") == "the server did not start TLS"
    mysql = upgrade.openssl_refusal(quiet, "MySQL server does not support SSL.\n")  # real
    assert mysql == "the server did not start TLS: MySQL server does not support SSL."
    handshake = "C0:error:0A000102:SSL routines::unsupported protocol"
    assert upgrade.openssl_refusal(quiet, handshake) is None


def test_python_probe_argv(tmp_path: Path) -> None:
    r = _run(tmp_path, "imap", None, port=993, address="192.0.2.7", cacert="/lab/root.pem")
    argv = upgrade.python_argv("/usr/bin/python3", r)
    assert argv[:2] == ["/usr/bin/python3", "-c"]
    assert argv[3:] == ["imap", "", "mail.example", "993", "192.0.2.7", "/lab/root.pem", "5.0"]
    assert "create_default_context(cafile=cafile)" in argv[2]


def test_psql_connection_string_and_roots(tmp_path: Path) -> None:
    psql = dataclasses.replace(_program("psql"), trust_store_path=str(tmp_path / "root.crt"))
    r = _run(tmp_path, "postgres", "postgres", host="db.example", port=5432,
             address="192.0.2.7", cacert="/lab/it's.pem")  # fmt: skip
    argv = databases.psql_argv(psql, r)
    assert argv[:5] == ["/usr/bin/psql", "-X", "-w", "-q", "-d"]
    assert argv[-2:] == ["-c", ""]
    assert argv[5] == (
        "host='db.example' hostaddr='192.0.2.7' port='5432' sslmode='verify-full' "
        "sslrootcert='/lab/it\\'s.pem' user='handshake_doctor' dbname='postgres' "
        "connect_timeout='5' application_name='handshake-doctor'"
    )
    bare = _run(tmp_path, "postgres", "postgres")
    # No root.crt of the user's: libpq 16's "system" (the OS store); with root.crt, that file.
    assert databases.psql_rootcert(psql, bare) == "system"
    (tmp_path / "root.crt").write_text("")
    assert databases.psql_rootcert(psql, bare) == str(tmp_path / "root.crt")
    assert "PGPASSWORD" not in databases._psql_environ(
        _run(tmp_path, "postgres", "postgres", environ={"PGPASSWORD": "x", "PATH": "/bin"})
    )


PSQL_AT = 'psql: error: connection to server at "127.0.0.1", port 44181 failed: '  # real


@pytest.mark.parametrize(
    ("stderr", "result", "reason"),
    [
        ('FATAL:  role "handshake_doctor" does not exist', "connects", None),
        ('FATAL:  password authentication failed for user "handshake_doctor"', "connects", None),
        ("fe_sendauth: no password supplied", "connects", None),
        ("SSL error: certificate verify failed", "refuses", "trust"),
        (
            'server certificate for "wrong.example" (and 1 other name) does not match host name '
            '"127.0.0.1"',
            "refuses",
            "name",
        ),
        ("server does not support SSL, but SSL was required", "refuses", "other"),
        (
            "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
            "connections?",
            "refuses",
            "network",
        ),
        ("timeout expired", "refuses", "timeout"),
        (
            'root certificate file "system" does not exist\nEither provide the file or change '
            "sslmode to disable server certificate verification.",
            "unknown",
            None,
        ),
    ],
)
def test_psql_messages(stderr: str, result: str, reason: str | None) -> None:
    said = databases.read_psql(_program("psql"), 2, PSQL_AT + stderr + "\n")
    assert (said.result, said.reason) == (result, reason)
    assert "psql: error" not in said.detail
    if result == "unknown":
        assert "root.crt" in said.detail
        assert "sslmode=prefer" in said.detail


def test_mysql_clients_and_messages(tmp_path: Path) -> None:
    mariadb = _program("mysql", "MariaDB client")
    r = _run(tmp_path, "mysql", "mysql", host="127.0.0.1", port=3306, cacert="/lab/root.pem")
    assert databases.mysql_argv(mariadb, r) == [
        "/usr/bin/mysql", "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", "3306",
        "--connect-timeout=5", "-u", "handshake_doctor", "--ssl", "--ssl-verify-server-cert",
        "--ssl-ca=/lab/root.pem", "-e", "",
    ]  # fmt: skip
    oracle = databases.mysql_argv(_program("mysql", "MySQL client"), r)
    assert "--ssl-mode=VERIFY_IDENTITY" in oracle
    assert "--ssl" not in oracle
    bare = databases.mysql(_program("mysql", "MySQL client"), _run(tmp_path, "mysql", "mysql"))
    assert bare.result == "unknown"
    assert "--ssl-ca" in bare.detail
    cases = {  # real, from the MariaDB 10.11 client
        "ERROR 1045 (28000): Access denied for user 'handshake_doctor'@'localhost' (using "
        "password: NO)": ("connects", None),
        "ERROR 2026 (HY000): TLS/SSL error: certificate has expired": ("refuses", "expired"),
        "ERROR 2026 (HY000): TLS/SSL error: unable to get local issuer certificate": (
            "refuses", "trust",
        ),
        "ERROR 2026 (HY000): TLS/SSL error: Validation of SSL server certificate failed": (
            "refuses", "name",
        ),
        "ERROR 2026 (HY000): TLS/SSL error: SSL is required, but the server does not support "
        "it": ("refuses", "other"),
        "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)": ("refuses", "network"),
    }  # fmt: skip
    for stderr, expected in cases.items():
        said = databases.read_mysql("mysql", 1, stderr + "\n")
        assert (said.result, said.reason) == expected, stderr


@pytest.mark.posix_only("its stand-in clients are `#!/bin/sh` scripts, which Windows does not run")
def test_discover_finds_psql_and_the_mariadb_client(tmp_path: Path) -> None:
    for name, banner in (
        ("psql", "psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
        ("mariadb", "mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"),
    ):
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{banner}'\n")
        fake.chmod(0o755)
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path / "home")}
    found = discover(timeout=5, cancel=threading.Event(), environ=env, os_name="linux")
    by_id = {p.id: p for p in found}
    assert set(by_id) == {"psql", "mysql"}
    psql = by_id["psql"]
    assert (psql.version, psql.trust_store) == ("15.18", "file")
    assert psql.trust_store_path == str(tmp_path / "home" / ".postgresql" / "root.crt")
    assert any("does not exist" in note for note in psql.notes)
    mysql = by_id["mysql"]
    assert (mysql.name, mysql.version, mysql.trust_store) == ("MariaDB client", "10.11.19", "os")
    named = discover(
        timeout=5, cancel=threading.Event(), environ={**env, "PGSSLROOTCERT": "/corp/pg.pem"},
        os_name="linux",
    )  # fmt: skip
    assert next(p for p in named if p.id == "psql").trust_store_path == "/corp/pg.pem"


def test_the_check_counts_only_programs_that_speak_the_protocol() -> None:
    found = [
        _program("curl"), _program("wget"), _program("python", "Python 3.11 (urllib)"),
        _program("psql"), _browser("chrome"),
    ]  # fmt: skip
    target = Target("mail.example", 587, protocol="smtp", starttls="smtp")
    attempts = {
        "curl": Attempt("curl", "connects", None, "exit 0", "ran"),
        "python": Attempt("python", "refuses", "expired", "certificate has expired", "ran"),
    }
    (finding,) = programs_check._outcome_findings("mail.example", found, attempts, target)
    assert finding.id == "programs.some_refuse"
    assert finding.params["variant"] == "protocol"
    assert finding.params["protocol"] == "SMTP"
    assert finding.params["not_tried"] == ["wget", "psql", "chrome"]
    assert finding.params["refusing"] == ["Python 3.11 (urllib)"]
    assert programs_check._outcome_findings("mail.example", found, {}, target) == []
    record = programs_check._record(found[1], None, target)
    assert (record.result, record.detail) == (None, "not tried: it does not speak SMTP")
    assert programs_check._record(found[0], attempts["curl"], target).result == "connects"
    web = Target("example.com", 443)
    web_attempts = {"curl": attempts["curl"]}
    (web_finding,) = programs_check._outcome_findings("example.com", found, web_attempts, web)
    assert "variant" not in web_finding.params


def test_python_is_named_by_the_module_that_speaks_the_protocol() -> None:
    from checks.lib.programs.upgrade import named_for

    python = Program("python", "Python 3.11 (urllib)", "3.11.2", "/usr/bin/python3",
                     "OpenSSL 3.0", "system_bundle", None, None, True)  # fmt: skip
    smtp = Target("mail.example", 587, protocol="smtp", starttls="smtp")
    assert named_for(python, smtp).name == "Python 3.11 (smtplib)"
    assert named_for(python, Target("db.example", 5432, protocol="postgres")).name == python.name
    assert named_for(python, Target("example.com", 443)) is python
