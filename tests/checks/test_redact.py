"""Tests of credential and home-directory redaction."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import PurePosixPath, PureWindowsPath
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.core.models import Status
from checks.core.redact import plain, redact, redact_data


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/al")
    monkeypatch.delenv("USERPROFILE", raising=False)


# Credentials -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://alice:Sup3rSecret@proxy:3128", "http://***@proxy:3128"),
        ("https://bob@example.com/path", "https://***@example.com/path"),
        ("socks5h://u:p@[2001:db8::1]:1080", "socks5h://***@[2001:db8::1]:1080"),
        ("HTTPS_PROXY=user:pw@proxy:8080", "HTTPS_PROXY=***@proxy:8080"),
        ("https_proxy='user:pw@proxy:8080'", "https_proxy='***@proxy:8080'"),
        ("proxy user:pw@proxy:8080 failed", "proxy ***@proxy:8080 failed"),
        ("user:pw@proxy:8080", "***@proxy:8080"),
        # An unencoded "@" in the password must not leave its tail behind.
        ("http://me:p@ss@proxy:3128/x", "http://***@proxy:3128/x"),
        ("HTTP_PROXY=me:p@ss@proxy:3128", "HTTP_PROXY=***@proxy:3128"),
        ("ftp://anonymous:@files.example", "ftp://***@files.example"),
    ],
)
def test_credentials_removed(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_several_urls_in_one_string() -> None:
    text = "tried http://a:one@p1:3128, then https://b:two@p2:443/ and ws://c@p3"
    assert redact(text) == "tried http://***@p1:3128, then https://***@p2:443/ and ws://***@p3"


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/path",
        "https://example.com:8443/a@b",
        "https://example.com/?mail=a@b.example",
        "https://example.com/#frag@x",
        "contact alice@example.com",
        "http://proxy:3128",
        "no URL at all: 12:30 @ noon",
        "2001:db8::1 port 443",
        "",
    ],
)
def test_text_without_credentials_untouched(text: str) -> None:
    assert redact(text) == text


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789!$%^&()+,;=", min_size=4),
    st.sampled_from(["http://", "https://", "socks5://", "HTTPS_PROXY=", ""]),
)
def test_no_password_survives(user: str, password: str, lead: str) -> None:
    secret = f"S3CR{password}"
    text = f"{lead}{user}:{secret}@proxy.example:3128"
    out = redact(text)
    assert secret not in out
    assert out.endswith("***@proxy.example:3128")
    assert redact(out) == out


# Home directory ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/home/al/.config/x.toml", "~/.config/x.toml"),
        ("/home/al", "~"),
        ("/home/al/", "~/"),
        ("cacert=/home/al/ca.pem", "cacert=~/ca.pem"),
        ("'/home/al/a b'", "'~/a b'"),
        # Only whole path components are the home.
        ("/home/alice/ca.pem", "/home/alice/ca.pem"),
        ("/home/al.bak/ca.pem", "/home/al.bak/ca.pem"),
        ("/home/al-old", "/home/al-old"),
        ("/srv/home/al/x", "/srv/home/al/x"),
        ("/home/al/x and /home/alice/y", "~/x and /home/alice/y"),
        ("file:///home/al/x", "file://~/x"),
        ("\\home\\al\\x", "~\\x"),
    ],
)
def test_home_replaced_at_path_boundaries(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_longest_home_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # A home that is a prefix of another must not cut the longer one in half.
    monkeypatch.setenv("USERPROFILE", "/home/al/profile")
    assert redact("/home/al/profile/x /home/al/y") == "~/x ~/y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C:\\Users\\Alice Smith\\ca.pem", "~\\ca.pem"),
        ("c:\\users\\alice smith\\ca.pem", "~\\ca.pem"),
        ("C:/Users/Alice Smith/ca.pem", "~/ca.pem"),
        ("'C:\\\\Users\\\\Alice Smith\\\\ca.pem'", "'~\\\\ca.pem'"),
        ("C:\\Users\\Alice Smithers\\ca.pem", "C:\\Users\\Alice Smithers\\ca.pem"),
        ("D:\\Users\\Alice Smith\\ca.pem", "D:\\Users\\Alice Smith\\ca.pem"),
    ],
)
def test_windows_home(monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    monkeypatch.setenv("USERPROFILE", "C:\\Users\\Alice Smith\\")
    assert redact(text) == expected


@pytest.mark.parametrize("home", ["/", "", "C:\\", "\\"])
def test_root_home_is_ignored(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    monkeypatch.setenv("HOME", home)
    monkeypatch.setenv("USERPROFILE", home)
    assert "/etc/ssl/cert.pem" in redact("/etc/ssl/cert.pem")


def test_credentials_and_home_together() -> None:
    text = "HTTPS_PROXY=http://al:pw@proxy:3128 cafile=/home/al/ca.pem"
    assert redact(text) == "HTTPS_PROXY=http://***@proxy:3128 cafile=~/ca.pem"


# Data structures ---------------------------------------------------------------------------------


def test_redact_data_nested() -> None:
    data = MappingProxyType(
        {
            "proxy": "http://u:pw@p:1",
            "/home/al/key": ["/home/al/a", ("x", {"deep": "https://u@h"})],
            "inner": MappingProxyType({"t": ("/home/al",)}),
            "n": 1,
            "f": 1.5,
            "b": True,
            "none": None,
        }
    )
    out = redact_data(data)
    assert out == {
        "proxy": "http://***@p:1",
        "~/key": ["~/a", ["x", {"deep": "https://***@h"}]],
        "inner": {"t": ["~"]},
        "n": 1,
        "f": 1.5,
        "b": True,
        "none": None,
    }
    assert type(out) is dict
    assert json.loads(json.dumps(out)) == out


def test_plain_converts_to_json_types() -> None:
    out = plain(
        {
            1: datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            "date": date(2025, 1, 2),
            "path": PurePosixPath("/etc/ssl"),
            "win": PureWindowsPath("C:/x"),
            "bytes": b"\x00\xab",
            "set": {2, 1},
            "status": Status.FAIL,
            "nan": math.nan,
            "obj": object,
        }
    )
    assert out == {
        "1": "2025-01-02T03:04:05+00:00",
        "date": "2025-01-02",
        "path": "/etc/ssl",
        "win": "C:\\x",
        "bytes": "00ab",
        "set": [1, 2],
        "status": "fail",
        "nan": "nan",
        "obj": "<class 'object'>",
    }
    json.dumps(out, allow_nan=False)


def test_redact_data_of_a_plain_string_and_scalars() -> None:
    assert redact_data("http://u:p@h") == "http://***@h"
    assert redact_data(3) == 3
    assert redact_data(None) is None
    assert redact_data(PurePosixPath("/home/al/x")) == "~/x"
