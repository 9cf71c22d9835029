"""Every parser of outside input raises nothing but its documented error, whatever it is fed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

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
    "netsh winhttp show proxy": (proxies.parse_winhttp, ()),
    "scutil --proxy": (proxies.parse_scutil, ()),
    "gsettings list-recursively": (proxies.parse_gsettings, ()),
    "kioslaverc": (proxies.parse_kioslaverc, ()),
    "proxy URL": (proxies.parse_proxy, (ValueError,)),
    "canary setting": (config.parse_canary, (ValueError,)),
    "security dump-trust-settings": (roots.parse_trust_settings, ()),
    "java.security": (clients.parse_java_security, ()),
    "PEM file": (certinfo.load_pem, (ValueError,)),
}

BYTE_PARSERS: dict[str, tuple[Callable[[bytes], object], tuple[type[BaseException], ...]]] = {
    "NTP packet": (ntp.decode, (ValueError,)),
    "DER certificate": (certinfo.load_der, (ValueError,)),
    "PEM bytes": (certinfo.load_pem, (ValueError,)),
    "portal probe reply": (captive_portal.parse_reply, (ValueError,)),
    "proxy CONNECT reply": (proxies.parse_connect_reply, (proxies.TunnelError,)),
}


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
