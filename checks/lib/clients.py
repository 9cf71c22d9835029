"""Reads the TLS policy of this computer's client libraries: Python, OpenSSL, Java, Windows."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checks.core.facts.client_policy import StackPolicy
from checks.lib import cipher_suites, system

VERSIONS = cipher_suites.VERSIONS


MODERN = ("TLSv1.2", "TLSv1.3")


OPENSSL_CNF = Path("/etc/ssl/openssl.cnf")


CRYPTO_POLICY_CONFIG = Path("/etc/crypto-policies/config")


CRYPTO_POLICY_OPENSSL = Path("/etc/crypto-policies/back-ends/opensslcnf.config")


SCHANNEL_KEY = r"SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols"


DOTNET_KEYS = {
    "64-bit": r"SOFTWARE\Microsoft\.NETFramework\v4.0.30319",
    "32-bit": r"SOFTWARE\WOW6432Node\Microsoft\.NETFramework\v4.0.30319",
}


SCHANNEL_PROTOCOLS = {
    "SSL 2.0": "SSLv2",
    "SSL 3.0": "SSLv3",
    "TLS 1.0": "TLSv1.0",
    "TLS 1.1": "TLSv1.1",
    "TLS 1.2": "TLSv1.2",
    "TLS 1.3": "TLSv1.3",
}


# OpenSSL's and Java's spellings of protocol versions.
_VERSION_ALIASES = {
    "sslv2": "SSLv2",
    "sslv3": "SSLv3",
    "tlsv1": "TLSv1.0",
    "tlsv1.0": "TLSv1.0",
    "tlsv1.1": "TLSv1.1",
    "tlsv1.2": "TLSv1.2",
    "tlsv1.3": "TLSv1.3",
}


_SECLEVEL = re.compile(r"@SECLEVEL=(\d)", re.IGNORECASE)


def version_name(text: str) -> str | None:
    """Our name (`TLSv1.0`) for OpenSSL's or Java's spelling (`TLSv1`), or None."""
    return _VERSION_ALIASES.get(text.strip().lower())


def display(version: str) -> str:
    """`TLSv1.2` as people write it: `TLS 1.2`; `SSLv3` as `SSL 3.0`."""
    if version.startswith("TLSv"):
        return "TLS " + version.removeprefix("TLSv")
    return "SSL " + version.removeprefix("SSLv") + ".0"


@dataclass(frozen=True)
class Stack:
    """What one TLS client stack on this machine allows.

    Attributes:
        id: `python`, `openssl`, `crypto_policies`, `schannel`, `dotnet` or `java`.
        name: a label for people (product names, not translated).
        versions: the versions it will negotiate, oldest first; None when unknown.
        suites: the cipher suites it offers, by IANA name; None when unknown.
        settings: the raw values read (file keys, registry values).
        source: where they were read.
    """

    id: str
    name: str
    versions: tuple[str, ...] | None
    suites: tuple[str, ...] | None = None
    settings: Mapping[str, object] = field(default_factory=dict)
    source: str = ""

    def fact(self) -> StackPolicy:
        """This stack as the client_policy check records it (its id is the record's key)."""
        return StackPolicy(
            name=self.name,
            versions=self.versions,
            suites=self.suites,
            settings=dict(self.settings),
            source=self.source,
        )

    @classmethod
    def from_fact(cls, stack_id: str, fact: StackPolicy) -> Stack:
        """The stack a client_policy record describes."""
        return cls(stack_id, fact.name, fact.versions, fact.suites, fact.settings, fact.source)


def _strip_comment(line: str) -> str:
    quoted = False
    for at, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:at]
    return line


def parse_openssl_sections(
    text: str, read_include: Callable[[str], str | None] = lambda _path: None
) -> dict[str, dict[str, str]]:
    """The sections of an OpenSSL config file; keys before any header are in section `""`.

    `.include` lines are read with `read_include` (None skips them) into the current section.
    """
    sections: dict[str, dict[str, str]] = {"": {}}
    current = ""

    def feed(source: str, depth: int) -> None:
        nonlocal current
        for raw in source.splitlines():
            line = _strip_comment(raw).strip()
            if not line:
                continue
            header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
            if header:
                current = header.group(1)
                sections.setdefault(current, {})
                continue
            key, sep, value = line.partition("=")
            key, value = key.strip(), value.strip().strip('"')
            if not sep:
                key, _, value = line.partition(" ")
                key, value = key.strip(), value.strip()
            if key.lower() == ".include":
                included = read_include(value) if depth < 4 else None
                if included is not None:
                    feed(included, depth + 1)
                continue
            sections.setdefault(current, {})[key] = value

    feed(text, 0)
    return sections


def openssl_system_default(
    text: str, read_include: Callable[[str], str | None] = lambda _path: None
) -> dict[str, str]:
    """The `system_default` settings an OpenSSL config applies to every TLS context.

    Follows `openssl_conf` -> `ssl_conf` -> `system_default`; keys are kept as written but
    `TLS.MinProtocol` style prefixes are dropped (DTLS settings are ignored).
    """
    sections = parse_openssl_sections(text, read_include)

    def lookup(section: str, key: str) -> str | None:
        table = sections.get(section, {})
        return next((v for k, v in table.items() if k.lower() == key), None)

    init = lookup("", "openssl_conf")
    ssl_section = lookup(init, "ssl_conf") if init else None
    defaults = lookup(ssl_section, "system_default") if ssl_section else None
    if not defaults:
        return {}
    return _tls_settings(sections.get(defaults, {}))


def _tls_settings(table: Mapping[str, str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for key, value in table.items():
        if key.upper().startswith("DTLS."):
            continue
        settings[key.split(".", 1)[1] if key.upper().startswith("TLS.") else key] = value
    return settings


def crypto_policy_settings(backend_text: str) -> dict[str, str]:
    """The settings of RHEL/Fedora's `opensslcnf.config` back-end (plain `key = value` lines)."""
    return _tls_settings(parse_openssl_sections(backend_text)[""])


def crypto_policy_name(config_text: str) -> str | None:
    """The policy named in `/etc/crypto-policies/config` (`DEFAULT`, `LEGACY`, `FUTURE:SHA1`)."""
    for raw in config_text.splitlines():
        line = _strip_comment(raw).strip()
        if line:
            return line
    return None


def security_level(cipher_string: str | None) -> int | None:
    """The `@SECLEVEL=n` a cipher string sets, if any."""
    match = _SECLEVEL.search(cipher_string or "")
    return int(match.group(1)) if match else None


def openssl_versions(
    min_protocol: str | None,
    max_protocol: str | None,
    seclevel: int | None,
    *,
    openssl_major: int = 3,
    default_seclevel: int = 1,
) -> tuple[str, ...]:
    """The versions an OpenSSL client negotiates under these settings.

    OpenSSL 3 builds have no SSLv3, and allow TLS 1.0 and 1.1 only at security level 0
    (their MD5+SHA-1 handshake hash is below level 1).
    """
    names = [v for v in VERSIONS if v != "SSLv2"]
    low = version_name(min_protocol) if min_protocol else None
    high = version_name(max_protocol) if max_protocol else None
    allowed = [
        v
        for v in names
        if (low is None or names.index(v) >= names.index(low))
        and (high is None or names.index(v) <= names.index(high))
    ]
    level = default_seclevel if seclevel is None else seclevel
    if openssl_major >= 3:
        allowed = [v for v in allowed if v != "SSLv3" and (level == 0 or v in MODERN)]
    return tuple(allowed)


def schannel_states(values: Mapping[str, Mapping[str, int]]) -> dict[str, str]:
    """Per version, `enabled`, `disabled`, `off_by_default` or `default` (nothing set).

    `values` maps a SCHANNEL protocol key (`TLS 1.0`) to the DWORDs of its `Client` subkey.
    """
    states: dict[str, str] = {}
    for key, version in SCHANNEL_PROTOCOLS.items():
        client = values.get(key, {})
        enabled, off = client.get("Enabled"), client.get("DisabledByDefault")
        if enabled == 0:
            states[version] = "disabled"
        elif off not in (None, 0):
            states[version] = "off_by_default"
        elif enabled is not None:
            states[version] = "enabled"
        else:
            states[version] = "default"
    return states


def schannel_versions(states: Mapping[str, str], *, build: int) -> tuple[str, ...]:
    """The versions SCHANNEL clients negotiate by default on Windows `build`.

    Unset versions follow the OS: TLS 1.2 everywhere supported here, TLS 1.3 from Windows 11 /
    Server 2022 (build 20348); legacy versions count only when explicitly enabled.
    """
    allowed = []
    for version in VERSIONS:
        state = states.get(version, "default")
        if state == "enabled" or (
            state == "default"
            and (version == "TLSv1.2" or (version == "TLSv1.3" and build >= 20348))
        ):
            allowed.append(version)
    return tuple(allowed)


def dotnet_strong_crypto(values: Mapping[str, Mapping[str, int]]) -> dict[str, bool]:
    """Per registry view (`64-bit`, `32-bit`), whether .NET Framework 4 apps use the OS's TLS
    versions (`SchUseStrongCrypto` or `SystemDefaultTlsVersions` set to 1)."""
    return {
        view: values.get(view, {}).get("SchUseStrongCrypto") == 1
        or values.get(view, {}).get("SystemDefaultTlsVersions") == 1
        for view in DOTNET_KEYS
    }


def parse_java_security(text: str) -> dict[str, str]:
    """The properties of a `java.security` file (backslash continuations, # and ! comments)."""
    properties: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.strip() if not logical else raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        key, _, value = logical.partition("=")
        properties[key.strip()] = value.strip()
        logical = ""
    if logical:
        key, _, value = logical.partition("=")
        properties[key.strip()] = value.strip()
    return properties


def java_versions(disabled_algorithms: str) -> tuple[str, ...]:
    """The versions Java allows given `jdk.tls.disabledAlgorithms` (Java never speaks SSLv2)."""
    disabled = {version_name(item) for item in disabled_algorithms.split(",")}
    return tuple(v for v in VERSIONS if v != "SSLv2" and v not in disabled)


def legacy(versions: Sequence[str] | None) -> list[str]:
    return [v for v in versions or () if v not in MODERN]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_include(base: Path) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        path = Path(name) if os.path.isabs(name) else base.parent / name
        return _read(path) if path.is_file() else None

    return read


def python_stack() -> Stack:
    """The defaults of `ssl.create_default_context()`: what Python programs (and pip) use."""
    # create_default_context() is this context plus the system's CA store, which it loads at
    # a cost of 20 ms; the versions and suites it offers are the bare context's.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    registry = cipher_suites.registry()
    supported = [v for v in VERSIONS if v != "SSLv2"]
    names = {
        ssl.TLSVersion.SSLv3: "SSLv3",
        ssl.TLSVersion.TLSv1: "TLSv1.0",
        ssl.TLSVersion.TLSv1_1: "TLSv1.1",
        ssl.TLSVersion.TLSv1_2: "TLSv1.2",
        ssl.TLSVersion.TLSv1_3: "TLSv1.3",
    }
    low = names.get(context.minimum_version, supported[0])
    high = names.get(context.maximum_version, supported[-1])
    # CPython's default cipher string starts with @SECLEVEL=2 since 3.10.
    level = 2 if sys.version_info >= (3, 10) else None
    major = ssl.OPENSSL_VERSION_INFO[0]
    versions = openssl_versions(low, high, level, openssl_major=major)
    versions = tuple(v for v in versions if getattr(ssl, f"HAS_{_has_name(v)}", True))
    suites = tuple(registry.name(int(c["id"]) & 0xFFFF) for c in context.get_ciphers())
    settings: dict[str, object] = {
        "openssl": ssl.OPENSSL_VERSION,
        "minimum_version": low,
        "maximum_version": high,
        "security_level": level,
        "cipher_list": [c["name"] for c in context.get_ciphers()],
    }
    name = f"Python {sys.version_info[0]}.{sys.version_info[1]} ({ssl.OPENSSL_VERSION})"
    return Stack("python", name, versions, suites, settings, "ssl.create_default_context()")


def _has_name(version: str) -> str:
    return {"SSLv3": "SSLv3", "TLSv1.0": "TLSv1", "TLSv1.1": "TLSv1_1"}.get(
        version, version.replace(".", "_")
    )


def openssl_stack(path: Path = OPENSSL_CNF) -> Stack | None:
    """The system OpenSSL policy: read from the library where it can be (what a fresh client
    context really gets), else from `openssl.cnf`'s `system_default` section."""
    from checks.lib.default_client import system_policy

    # The library reads the same file (and OPENSSL_CONF) itself; a file passed in is read alone.
    live = system_policy() if path == OPENSSL_CNF else None
    env = os.environ.get("OPENSSL_CONF")
    path = Path(env) if env else path
    text = _read(path)
    if text is None and live is None:
        return None
    settings = openssl_system_default(text, _read_include(path)) if text is not None else {}
    level = security_level(settings.get("CipherString"))
    low, high = settings.get("MinProtocol"), settings.get("MaxProtocol")
    suites: tuple[str, ...] | None = None
    if live is not None:
        level, low, high, suites = (
            live.security_level,
            live.min_version,
            live.max_version,
            live.iana_suites,
        )
    versions = openssl_versions(low, high, level, openssl_major=ssl.OPENSSL_VERSION_INFO[0])
    facts: dict[str, object] = {**settings, "security_level": level}
    source = str(path) if live is None else f"{live.library}, {path}"
    return Stack("openssl", "OpenSSL (system policy)", versions, suites, facts, source)


def crypto_policies_stack() -> Stack | None:
    """RHEL/Fedora crypto-policies: the policy name and its OpenSSL back-end settings."""
    name_text = _read(CRYPTO_POLICY_CONFIG)
    backend = _read(CRYPTO_POLICY_OPENSSL)
    if name_text is None and backend is None:
        return None
    settings = crypto_policy_settings(backend or "")
    level = security_level(settings.get("CipherString"))
    versions = openssl_versions(settings.get("MinProtocol"), settings.get("MaxProtocol"), level)
    facts: dict[str, object] = {
        "policy": crypto_policy_name(name_text or ""),
        **settings,
        "security_level": level,
    }
    return Stack(
        "crypto_policies", "crypto-policies", versions, None, facts, str(CRYPTO_POLICY_CONFIG)
    )


def _java_home() -> Path | None:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home).is_dir():
        return Path(home)
    java = shutil.which("java")
    if java is None:
        return None
    return Path(java).resolve().parent.parent


def java_stack(home: Path | None = None) -> Stack | None:
    """Java's `jdk.tls.disabledAlgorithms`, when a JRE is found (JAVA_HOME or `java` on PATH)."""
    home = home or _java_home()
    if home is None:
        return None
    for relative in ("conf/security/java.security", "lib/security/java.security"):
        text = _read(home / relative)
        if text is not None:
            disabled = parse_java_security(text).get("jdk.tls.disabledAlgorithms", "")
            settings = {"jdk.tls.disabledAlgorithms": disabled}
            return Stack(
                "java", "Java", java_versions(disabled), None, settings, str(home / relative)
            )
    return None


def _windows_stacks() -> list[Stack]:
    """SCHANNEL and .NET Framework settings from the registry (read-only, no admin needed)."""
    stacks: list[Stack] = []
    if sys.platform == "win32":

        def dwords(path: str) -> dict[str, int]:
            values = system.registry_values(path).items()
            return {k: v for k, v in values if isinstance(v, int) and not isinstance(v, bool)}

        protocols = {key: dwords(rf"{SCHANNEL_KEY}\{key}\Client") for key in SCHANNEL_PROTOCOLS}
        states = schannel_states(protocols)
        build = sys.getwindowsversion().build
        stacks.append(
            Stack(
                "schannel",
                "Windows SCHANNEL",
                schannel_versions(states, build=build),
                None,
                {"states": states, "build": build},
                rf"HKLM\{SCHANNEL_KEY}",
            )
        )
        dotnet = {view: dwords(path) for view, path in DOTNET_KEYS.items()}
        strong = dotnet_strong_crypto(dotnet)
        stacks.append(
            Stack(
                "dotnet",
                ".NET Framework 4",
                None,
                None,
                {"values": dotnet, "strong_crypto": strong},
                rf"HKLM\{DOTNET_KEYS['64-bit']}",
            )
        )
    return stacks


def default_stack(stacks: Sequence[Stack]) -> Stack:
    """The policy most programs on this machine get: the system's OpenSSL or crypto policy on
    Linux, Schannel on Windows; Python's own where nothing else was read."""
    for wanted in ("openssl", "crypto_policies", "schannel"):
        found = next((s for s in stacks if s.id == wanted and s.versions is not None), None)
        if found is not None:
            return found
    return stacks[0]


def local_stacks() -> tuple[Stack, ...]:
    """Every TLS client stack found on this machine; Python's first (it is always there)."""
    stacks: list[Stack | None] = [python_stack(), openssl_stack(), crypto_policies_stack()]
    stacks += _windows_stacks()
    stacks.append(java_stack())
    return tuple(s for s in stacks if s is not None)
