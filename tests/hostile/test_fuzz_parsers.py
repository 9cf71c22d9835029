"""Every parser of outside input raises nothing but its documented error, whatever it is fed."""

from __future__ import annotations

import contextlib
import plistlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import captive_portal
from checks.core import config
from checks.lib import certinfo, clients, ntp, proxies, roots, system, timesync

FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])

# Text shaped like the tools' output: lines of words, colons, equals signs and numbers, so that
# the parsers get past their first checks as well as plain garbage.
_WORDS = st.sampled_from(
    [
        "Reference",
        "ID",
        ":",
        "=",
        "yes",
        "no",
        "HKEY_LOCAL_MACHINE\\x",
        "REG_DWORD",
        "0x1",
        "ProxyEnable",
        "HTTPProxy",
        "Enabled",
        "127.0.0.1",
        "+0.01",
        "+/-",
        "System",
        "clock",
        "synchronized",
        "ppm",
        "seconds",
        "'mode'",
        "manual",
        "[Proxy Settings]",
        "-1",
        "\t",
        "  ",
    ]
)
TOOL_OUTPUT = st.one_of(
    st.text(),
    st.lists(st.lists(_WORDS, max_size=8).map(" ".join), max_size=30).map("\n".join),
)

TEXT_PARSERS: dict[str, tuple[Callable[[str], object], tuple[type[BaseException], ...]]] = {
    "timedatectl show": (timesync.parse_key_values, ()),
    "chronyc tracking": (timesync.parse_chrony_tracking, ()),
    "w32tm /query /source": (timesync.parse_w32tm_source, ()),
    "ntp.conf": (timesync.parse_ntp_conf, ()),
    "sntp": (timesync.parse_sntp, ()),
    "build time": (timesync.parse_build_time, ()),
    "NTP server setting": (ntp.parse_server, (ValueError,)),
    "reg query": (system.parse_reg_query, ()),
    "scutil --proxy": (proxies.parse_scutil, ()),
    "gsettings list-recursively": (proxies.parse_gsettings, ()),
    "kioslaverc": (proxies.parse_kioslaverc, ()),
    "proxy URL": (proxies.parse_proxy, (ValueError,)),
    "canary setting": (config.parse_canary, (ValueError,)),
    "java.security": (clients.parse_java_security, ()),
    "PEM file": (certinfo.load_pem, (ValueError,)),
}

BYTE_PARSERS: dict[str, tuple[Callable[[bytes], object], tuple[type[BaseException], ...]]] = {
    "NTP packet": (ntp.decode, (ValueError,)),
    "DER certificate": (certinfo.load_der, (ValueError,)),
    "PEM bytes": (certinfo.load_pem, (ValueError,)),
    "portal probe reply": (captive_portal.parse_reply, (ValueError,)),
    "proxy CONNECT reply": (proxies.parse_connect_reply, (proxies.TunnelError,)),
    "security trust-settings-export plist": (roots.parse_trust_settings, (ValueError,)),
}

# Plist values shaped like a trust-settings export (certificate keys, policy OIDs, results),
# mixed with anything a plist can hold, so the parser gets past plistlib as well.
_PLIST_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
PLIST_VALUES = st.recursive(
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.booleans(),
        _PLIST_TEXT,
        st.binary(max_size=16),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_PLIST_TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)
_TRUST_SETTING = st.dictionaries(
    st.sampled_from(
        [
            "kSecTrustSettingsPolicy",
            "kSecTrustSettingsPolicyName",
            "kSecTrustSettingsResult",
            "kSecTrustSettingsAllowedError",
        ]
    ),
    st.one_of(
        st.sampled_from([bytes.fromhex("2a864886f763640103"), bytes.fromhex("2a864886f763640108")]),
        st.integers(min_value=0, max_value=5),
        PLIST_VALUES,
    ),
    max_size=4,
)
_TRUST_ENTRY = st.fixed_dictionaries(
    {
        "trustSettings": st.lists(
            st.one_of(_TRUST_SETTING, _TRUST_SETTING, PLIST_VALUES), max_size=4
        )
    },
    optional={"issuerName": st.binary(max_size=32), "serialNumber": st.binary(max_size=20)},
)
_TRUST_KEY = st.sampled_from(
    [
        "CABD2A79A1076A31F21D253635CB039D4329A5E8",
        "cabd2a79a1076a31f21d253635cb039d4329a5e8 ",
        "kSecTrustSettingsDefaultRootCertSetting",
        "CABD2A79",
    ]
)
_TRUST_LIST = st.dictionaries(_TRUST_KEY, st.one_of(_TRUST_ENTRY, _TRUST_ENTRY, PLIST_VALUES))
TRUST_PLISTS = st.one_of(
    st.fixed_dictionaries({"trustList": _TRUST_LIST}, optional={"trustVersion": PLIST_VALUES}),
    st.fixed_dictionaries({"trustList": PLIST_VALUES}),
    PLIST_VALUES,
)
# What the Windows registry and WinHTTP can hand over: any value type under any name.
REGISTRY_VALUES = st.dictionaries(
    st.one_of(
        st.sampled_from(["ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL"]),
        st.text(max_size=8),
    ),
    st.one_of(
        st.sampled_from([0, 1, "1"]),
        st.integers(),
        st.text(),
        st.binary(max_size=16),
        st.lists(st.text(), max_size=3),
        st.none(),
    ),
    max_size=8,
)
WINHTTP_ANSWERS = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.sampled_from([0, 1, 3, 4]), st.integers(min_value=0, max_value=2**32 - 1)),
        st.one_of(st.none(), st.text()),
        st.one_of(st.none(), st.text()),
    ),
)


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
def test_text_parsers_survive_anything(name: str) -> None:
    parse, allowed = TEXT_PARSERS[name]

    @FUZZ
    @given(TOOL_OUTPUT)
    def run(text: str) -> None:
        with contextlib.suppress(*allowed):
            parse(text)

    run()


@pytest.mark.parametrize("name", sorted(BYTE_PARSERS))
def test_byte_parsers_survive_anything(name: str) -> None:
    parse, allowed = BYTE_PARSERS[name]

    @FUZZ
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        with contextlib.suppress(*allowed):
            parse(data)

    run()


def test_the_trust_settings_parser_finds_nothing_in_arbitrary_bytes() -> None:
    @FUZZ
    @given(st.binary(max_size=4096))
    def run(data: bytes) -> None:
        with contextlib.suppress(ValueError):
            assert roots.parse_trust_settings(data) == []

    run()


def test_the_trust_settings_parser_survives_any_plist() -> None:
    @FUZZ
    @given(TRUST_PLISTS, st.sampled_from([plistlib.FMT_XML, plistlib.FMT_BINARY]))
    def run(value: object, fmt: plistlib.PlistFormat) -> None:
        try:
            data = plistlib.dumps(value, fmt=fmt, sort_keys=False)
        except (TypeError, ValueError, OverflowError):
            # Not every tree is a plist: XML has no control characters, binary no huge integers.
            return
        with contextlib.suppress(ValueError):
            for setting in roots.parse_trust_settings(data):
                assert setting.sha1 == "CABD2A79A1076A31F21D253635CB039D4329A5E8"
                assert setting.decision in ("trust", "deny", "unspecified")

    run()


def test_the_windows_proxy_readers_survive_any_registry_value_and_winhttp_answer() -> None:
    def no_commands(argv: Sequence[str]) -> system.CommandResult:
        raise AssertionError(f"no command should run: {list(argv)}")

    @FUZZ
    @given(REGISTRY_VALUES, WINHTTP_ANSWERS)
    def run(values: dict[str, object], answer: proxies.WinHttpProxyInfo | None) -> None:
        found = proxies.system_settings(
            "windows",
            no_commands,
            home=Path("/nonexistent"),
            user_registry=lambda path: values,
            winhttp=lambda: answer,
        )
        assert {s.source for s in found} <= {"wininet", "winhttp"}

    run()


def test_pac_and_proxy_strings_with_credentials_never_leak_them() -> None:
    @FUZZ
    @given(st.text(min_size=1, max_size=40).filter(lambda s: "@" not in s and ":" not in s))
    def run(secret: str) -> None:
        try:
            address = proxies.parse_proxy(f"http://user:{secret}pw@proxy.example:3128")
        except ValueError:
            return
        assert f"{secret}pw" not in repr(address)
        assert f"{secret}pw" not in address.shown

    run()
