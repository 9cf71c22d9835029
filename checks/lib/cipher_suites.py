"""The TLS cipher suite registry from `resources/cipher_suites.toml`, with each suite's strength."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from checks.core import compiled

Strength = Literal["insecure", "weak", "secure", "recommended"]
STRENGTHS: tuple[Strength, ...] = ("insecure", "weak", "secure", "recommended")
VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# The grading rules of the data file's header, so that a test can keep the two in step.
_EXPORT_CIPHERS = ("RC4_40", "RC4_56", "RC2_CBC_40", "RC2_CBC_56", "RC2_56", "DES40_CBC")
_BROKEN_CIPHER_PREFIXES = ("RC4", "RC2", "DES_", "DES40")
_SMALL_BLOCK_PREFIXES = ("3DES", "IDEA", "28147", "MAGMA")
_FORWARD_SECRET_KX = ("ECDHE", "DHE", "any")


@dataclass(frozen=True)
class Suite:
    """One cipher suite of the registry.

    Attributes:
        code: the two bytes on the wire, as an integer (0xC02F).
        name: the IANA name, as in reports (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
        openssl: OpenSSL's name, when OpenSSL has one.
        kx: key exchange (`RSA`, `DHE`, `ECDHE`, `PSK`, ...; `any` for TLS 1.3 suites).
        auth: authentication (`RSA`, `ECDSA`, `anon` for none, ...).
        cipher: bulk cipher as IANA writes it (`AES_128_GCM`, `3DES_EDE_CBC`, `NULL`).
        mac: `AEAD` for authenticated encryption, else the MAC hash (`SHA1`, `SHA256`, `MD5`).
        since: the oldest protocol version the suite is defined for (one of `VERSIONS`).
        strength: the grade, one of `STRENGTHS`.
        registered: False for the few code points outside the IANA registry.
    """

    code: int
    name: str
    openssl: str | None
    kx: str
    auth: str
    cipher: str
    mac: str
    since: str
    strength: Strength
    registered: bool = True

    @property
    def tls13(self) -> bool:
        return self.since == "TLSv1.3"

    @property
    def aead(self) -> bool:
        return self.mac == "AEAD"

    @property
    def forward_secret(self) -> bool:
        return self.kx in _FORWARD_SECRET_KX

    @property
    def export(self) -> bool:
        return "EXPORT" in self.kx or self.cipher in _EXPORT_CIPHERS

    def usable_in(self, version: str) -> bool:
        """Whether the suite is defined for `version` (TLS 1.3 suites only for TLS 1.3)."""
        if version == "TLSv1.3" or self.tls13:
            return version == "TLSv1.3" and self.tls13
        return VERSIONS.index(version) >= VERSIONS.index(self.since)


def grade(kx: str, auth: str, cipher: str, mac: str) -> Strength:
    """The strength of a suite made of these parts (the rules of the data file's header)."""
    export = "EXPORT" in kx or cipher in _EXPORT_CIPHERS
    if (
        cipher == "NULL"
        or auth in ("anon", "NULL")
        or export
        or cipher.startswith(_BROKEN_CIPHER_PREFIXES)
        or mac == "MD5"
    ):
        return "insecure"
    if cipher.startswith(_SMALL_BLOCK_PREFIXES):
        return "weak"
    if mac == "AEAD" and kx in _FORWARD_SECRET_KX and not cipher.endswith("CCM_8"):
        return "recommended"
    return "secure"


@dataclass(frozen=True)
class Registry:
    """Every suite, looked up by code point, IANA name or OpenSSL name."""

    suites: tuple[Suite, ...]
    sslv2: Mapping[int, str]

    @functools.cached_property
    def by_code(self) -> Mapping[int, Suite]:
        return {s.code: s for s in self.suites}

    @functools.cached_property
    def by_name(self) -> Mapping[str, Suite]:
        return {s.name: s for s in self.suites}

    @functools.cached_property
    def by_openssl(self) -> Mapping[str, Suite]:
        return {s.openssl: s for s in self.suites if s.openssl}

    def for_version(self, version: str) -> tuple[Suite, ...]:
        """The suites defined for `version`, in registry order."""
        return tuple(s for s in self.suites if s.usable_in(version))

    def name(self, code: int) -> str:
        """The IANA name of a code point, or its hex form for one the registry lacks."""
        suite = self.by_code.get(code)
        return suite.name if suite else f"0x{code:04X}"

    def strength(self, name: str) -> Strength | None:
        suite = self.by_name.get(name)
        return suite.strength if suite else None


def _suite(entry: Mapping[str, object]) -> Suite:
    strength = str(entry["strength"])
    if strength not in STRENGTHS:
        raise ValueError(f"{entry['name']}: unknown strength {strength!r}")
    since = str(entry["since"])
    if since not in VERSIONS:
        raise ValueError(f"{entry['name']}: unknown version {since!r}")
    code = entry["code"]
    if not isinstance(code, int) or not 0 <= code <= 0xFFFF:
        raise ValueError(f"{entry['name']}: bad code point {code!r}")
    openssl = entry.get("openssl")
    return Suite(
        code=code,
        name=str(entry["name"]),
        openssl=str(openssl) if openssl else None,
        kx=str(entry["kx"]),
        auth=str(entry["auth"]),
        cipher=str(entry["cipher"]),
        mac=str(entry["mac"]),
        since=since,
        strength=strength,
        registered=bool(entry.get("registered", True)),
    )


def parse(text: str) -> Registry:
    """Read the data file's TOML text."""
    return from_data(tomllib.loads(text))


def from_data(data: Mapping[str, Any]) -> Registry:
    """The registry from the data file's parsed tables."""
    suites = tuple(_suite(entry) for entry in data["suites"])
    if len({s.code for s in suites}) != len(suites):
        raise ValueError("a code point is listed twice")
    sslv2 = {int(e["code"]): str(e["name"]) for e in data.get("sslv2", [])}
    return Registry(suites, sslv2)


@functools.cache
def registry() -> Registry:
    """The registry shipped in `resources/cipher_suites.toml`."""
    return from_data(compiled.load_toml("cipher_suites.toml"))


def summarise(names: Iterable[str]) -> dict[str, int]:
    """How many of `names` fall in each strength (unknown names count as `secure`)."""
    counts: dict[str, int] = dict.fromkeys(STRENGTHS, 0)
    reg = registry()
    for name in names:
        counts[reg.strength(name) or "secure"] += 1
    return counts


# RFC 8446 4.2.7 and RFC 8422 / 7919: named groups, in the order we offer them.
GROUP_NAMES: Mapping[int, str] = {
    0x001D: "x25519",
    0x0017: "secp256r1",
    0x0018: "secp384r1",
    0x0019: "secp521r1",
    0x001E: "x448",
    0x11EC: "X25519MLKEM768",
    0x001A: "brainpoolP256r1",
    0x001B: "brainpoolP384r1",
    0x001C: "brainpoolP512r1",
    0x001F: "brainpoolP256r1tls13",
    0x0020: "brainpoolP384r1tls13",
    0x0021: "brainpoolP512r1tls13",
    0x0016: "secp256k1",
    0x0015: "secp224r1",
    0x0014: "secp224k1",
    0x0013: "secp192r1",
    0x0012: "secp192k1",
    0x000E: "sect571r1",
    0x000D: "sect571k1",
    0x000C: "sect409r1",
    0x000B: "sect409k1",
    0x0009: "sect283k1",
    0x000A: "sect283r1",
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
}
