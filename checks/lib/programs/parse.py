"""Parses what programs say about themselves: version banners, Java properties, configs, plists."""

from __future__ import annotations

import configparser
import json
import plistlib
import re
from collections.abc import Mapping

from checks.lib.clients import java_versions, parse_java_security, version_name
from checks.lib.system import parse_reg_query

_VERSION = re.compile(r"\d+(?:\.\d+)+")
# TLS back-ends as curl -V names them ("OpenSSL/3.0.19", "(SecureTransport) LibreSSL/3.3.6");
# a back-end in parentheses is compiled in but not the default one, so it is skipped.
_CURL_BACKENDS = {
    "openssl": "OpenSSL", "libressl": "LibreSSL", "boringssl": "BoringSSL", "quictls": "OpenSSL",
    "gnutls": "GnuTLS", "nss": "NSS", "schannel": "Schannel", "securetransport": "SecureTransport",
    "wolfssl": "wolfSSL", "mbedtls": "mbedTLS", "rustls-ffi": "rustls", "bearssl": "BearSSL",
}  # fmt: skip


def first_version(text: str) -> str | None:
    """The first dotted version number in `text` ("Mozilla Firefox 125.0.2" -> "125.0.2")."""
    match = _VERSION.search(text)
    return match.group(0) if match else None


def curl_version(text: str) -> tuple[str | None, str | None]:
    """`curl -V` -> (curl's version, its default TLS library as "OpenSSL 3.0.19")."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("curl "):
        return None, None
    words = lines[0].split()
    version = first_version(words[1]) if len(words) > 1 else None
    for word in words[2:]:
        if word.startswith("("):
            continue
        name, _, number = word.partition("/")
        backend = _CURL_BACKENDS.get(name.lower())
        if backend is not None:
            # "OpenSSL/3.0.19" keeps its number; "Schannel" has none.
            return version, f"{backend} {number}".strip()
    return version, None


def curl_protocols(text: str) -> tuple[str, ...]:
    """`curl -V` -> the schemes of its `Protocols:` line, plus "ldap-starttls" when its LDAP
    does StartTLS for ldap:// with --ssl-reqd: the OpenLDAP back-end (named `OpenLDAP/x` on the
    first line; the other refuses), in curl 7.81 to 7.86 or 8.6 and later. curl 7.87 to 8.5
    send the StartTLS request, then break the handshake (their connection filters lost the
    TLS layer: curl/curl#12610, fixed in 8.6.0), so for them it is not tried at all."""
    match = re.search(r"^Protocols:(.*)$", text, re.MULTILINE)
    protocols = tuple(match.group(1).lower().split()) if match else ()
    version, _ = curl_version(text)
    first = text.strip().splitlines()[0] if text.strip() else ""
    numbers = tuple(int(part) for part in (version or "0").split(".")[:2] if part.isdigit())
    works = (7, 81) <= numbers < (7, 87) or numbers >= (8, 6)
    if "ldap" in protocols and "OpenLDAP/" in first and works:
        protocols += ("ldap-starttls",)
    return protocols


def psql_version(text: str) -> str | None:
    """`psql --version` -> "15.18" ("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")."""
    match = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)*)", text)
    return match.group(1) if match else first_version(text)


def wget_version(text: str) -> tuple[str | None, str | None]:
    """`wget --version` -> (version, "GnuTLS" or "OpenSSL"), read from "+ssl/gnutls"."""
    match = re.search(r"GNU Wget2? (\S+)", text)
    version = match.group(1) if match else None
    ssl_match = re.search(r"\+ssl/(\w+)", text)
    if ssl_match is None:
        return version, None
    library = {"gnutls": "GnuTLS", "openssl": "OpenSSL"}.get(ssl_match.group(1).lower())
    return version, library or ssl_match.group(1)


def openssl_version(text: str) -> tuple[str | None, str | None]:
    """`openssl version` -> (the tool's version, the library it loads as "OpenSSL 3.0.19")."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    match = re.match(r"(OpenSSL|LibreSSL)\s+(\S+)", line)
    if match is None:
        return None, None
    library = re.search(r"\(Library: (OpenSSL|LibreSSL) (\S+)", line)
    name, number = (library.group(1), library.group(2)) if library else match.groups()
    return match.group(2), f"{name} {number}"


def git_version(text: str) -> str | None:
    """`git --version` -> "2.39.5" ("git version 2.44.0.windows.1" -> "2.44.0.windows.1")."""
    match = re.match(r"git version (\S+)", text.strip())
    return match.group(1) if match else None


def git_backend(ssl_backend: str | None, remote_https: bytes | None) -> str | None:
    """The TLS library git's HTTPS transport uses: `http.sslBackend` when set (Git for Windows
    chooses "schannel" or "openssl"), else the libcurl flavour git-remote-https links against
    (read from the file, never run: Debian links libcurl-gnutls)."""
    if ssl_backend:
        return {"schannel": "Schannel", "openssl": "OpenSSL", "gnutls": "GnuTLS"}.get(
            ssl_backend.strip().lower(), ssl_backend.strip()
        )
    if remote_https is None:
        return None
    for marker, name in (
        (b"libcurl-gnutls", "GnuTLS"),
        (b"libcurl-nss", "NSS"),
        (b"libcurl-openssl", "OpenSSL"),
    ):
        if marker in remote_https:
            return name
    return None


def java_properties(text: str) -> dict[str, str]:
    """`java -XshowSettings:properties -version` (stderr) -> its properties ("java.home", ...).

    Values that span lines (path lists) keep only their first line: none is needed here.
    """
    properties: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\s{4}(\S+) = (.*)$", line)
        if match:
            properties[match.group(1)] = match.group(2).strip()
    return properties


_KEY_SIZE = re.compile(r"\b(DH|RSA|EC) keySize\s*<\s*(\d+)", re.IGNORECASE)


def java_policy(security_text: str) -> dict[str, object]:
    """What `java.security` allows: versions, DHE, the smallest DH group and RSA key."""
    properties = parse_java_security(security_text)
    tls = properties.get("jdk.tls.disabledAlgorithms", "")
    certpath = properties.get("jdk.certpath.disabledAlgorithms", "")
    versions = [v for v in java_versions(tls) if v.startswith("TLS")]
    policy: dict[str, object] = {}
    if versions:
        policy["min_version"], policy["max_version"] = versions[0], versions[-1]
    # DHE suites stay on unless the property names them ("DHE" or "DH" alone).
    items = {item.strip().upper() for item in tls.split(",")}
    policy["dhe"] = not ({"DHE", "DH"} & items)
    for match in _KEY_SIZE.finditer(tls):
        if match.group(1).upper() == "DH":
            policy["dh_min_bits"] = int(match.group(2))
    for match in _KEY_SIZE.finditer(certpath):
        if match.group(1).upper() == "RSA":
            policy["rsa_min_bits"] = int(match.group(2))
    # "SHA1 jdkCA & usage TLSServer" refuses SHA-1 only below Java's own roots: a private CA may
    # still sign with SHA-1, so only an unconditional entry counts as "no SHA-1".
    for item in certpath.split(","):
        words = item.split()
        if not words or words[0].upper() != "SHA1":
            continue
        if "usage" in words and "TLSServer" not in words:
            continue  # about signed JARs or timestamps, not TLS
        allowed = "jdkCA" in words
        policy["sha1_signatures"] = allowed and policy.get("sha1_signatures", True) is True
    return policy


def java_tls_disabled(security_text: str) -> str:
    """The raw `jdk.tls.disabledAlgorithms` value, for notes."""
    return parse_java_security(security_text).get("jdk.tls.disabledAlgorithms", "")


def json_object(text: str) -> dict[str, object]:
    """The last line of `text` that is a JSON object, else {} (a script's one-line answer)."""
    for raw in reversed(text.strip().splitlines()):
        line = raw.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def dotnet_runtimes(text: str) -> str | None:
    """`dotnet --list-runtimes` -> the newest Microsoft.NETCore.App version."""
    found: list[str] = re.findall(r"^Microsoft\.NETCore\.App (\S+)", text, re.MULTILINE)
    if not found:
        return None
    return max(
        found, key=lambda v: tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.-]", v))
    )


def registry_version(reg_output: str, value: str) -> str | None:
    """A version from `reg query KEY` output: Chrome's and Edge's `BLBeacon` "version",
    Firefox's "CurrentVersion" ("125.0.2 (x64 en-US)" -> "125.0.2")."""
    data = parse_reg_query(reg_output).values.get(value)
    return first_version(data) if isinstance(data, str) else None


def plist_version(data: bytes) -> str | None:
    """An app bundle's `Contents/Info.plist` -> CFBundleShortVersionString."""
    try:
        info = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, OverflowError):
        return None
    version: object = info.get("CFBundleShortVersionString") if isinstance(info, dict) else None
    return version if isinstance(version, str) else None


def firefox_default_profile(profiles_ini: str) -> str | None:
    """profiles.ini -> the default profile's path (relative to the ini's folder unless
    IsRelative=0): the [Install...] section's Default first (Firefox 67+), then Default=1."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(profiles_ini)
    except configparser.Error:
        return None
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    for name, values in sections.items():
        if name.startswith("Install") and values.get("default"):
            return values["default"]
    profiles = [values for name, values in sections.items() if name.startswith("Profile")]
    for values in profiles:
        if values.get("default") == "1" and values.get("path"):
            return values["path"]
    return next((values["path"] for values in profiles if values.get("path")), None)


_PREF = re.compile(r'user_pref\("([^"]+)",\s*(true|false|-?\d+|"[^"]*")\);')


def firefox_prefs(prefs_js: str) -> dict[str, object]:
    """prefs.js / user.js -> {pref: value} (booleans, integers and strings)."""
    prefs: dict[str, object] = {}
    for name, raw in _PREF.findall(prefs_js):
        value: object = raw == "true" if raw in ("true", "false") else raw
        if raw.lstrip("-").isdigit():
            value = int(raw)
        elif raw.startswith('"'):
            value = raw[1:-1]
        prefs[name] = value
    return prefs


def firefox_policies_enterprise_roots(policies_json: str) -> bool | None:
    """distribution/policies.json -> Certificates.ImportEnterpriseRoots, when set."""
    try:
        data = json.loads(policies_json)
    except ValueError:
        return None
    policies = data.get("policies") if isinstance(data, dict) else None
    certificates = policies.get("Certificates") if isinstance(policies, dict) else None
    value = certificates.get("ImportEnterpriseRoots") if isinstance(certificates, dict) else None
    return value if isinstance(value, bool) else None


def tls_version(name: object) -> str | None:
    """ "TLSv1_2" (Python's enum), "TLSv1.2" (Node) or "TLSv1" -> "TLSv1.2" / "TLSv1.0"."""
    if not isinstance(name, str):
        return None
    return version_name(name.replace("_", "."))


def node_options_trust(options: str) -> str | None:
    """NODE_OPTIONS -> "os" when it makes Node use the OS store, else None."""
    words = options.split()
    if "--use-openssl-ca" in words or "--use-system-ca" in words:
        return "os"
    return None


def env_lookup(environ: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` set (non-empty) in `environ`."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None
