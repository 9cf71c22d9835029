"""The captive portal check: reading probe answers, and probing loopback servers for real."""

from __future__ import annotations

import threading
import time

import pytest

from checks import captive_portal
from checks.captive_portal import Reply
from checks.core.check import Context
from checks.core.config import Resolve, Settings
from checks.core.facts.captive_portal import Probed
from checks.core.models import Status
from tests.lab.servers import CannedServer, SilentServer, closed_port

GOOGLE = "http://connectivitycheck.gstatic.com/generate_204"
APPLE = "http://captive.apple.com/hotspot-detect.html"
APPLE_SUCCESS = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n"
LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Guest Wi-Fi</title></head><body>"
    b"<form action='/login' method='post'><input name='room'><button>Connect</button></form>"
    b"</body></html>"
)


@pytest.mark.parametrize(
    ("url", "reply", "verdict", "location_host"),
    [
        (GOOGLE, Reply(204), "clear", None),
        (APPLE, Reply(200, {}, APPLE_SUCCESS), "clear", None),
        (
            GOOGLE,
            Reply(302, {"location": "http://login.hotspot.example/?orig=x"}),
            "portal",
            "login.hotspot.example",
        ),
        (
            GOOGLE,
            Reply(307, {"location": "https://wifi.example.net:8443/portal"}),
            "portal",
            "wifi.example.net",
        ),
        (GOOGLE, Reply(302, {"location": "/generate_204?again"}), "unknown", None),
        (APPLE, Reply(200, {}, LOGIN_PAGE), "portal", None),
        (GOOGLE, Reply(511, {}, b"sign in"), "portal", None),
        (GOOGLE, Reply(200, {}, b""), "unknown", None),
        (GOOGLE, Reply(404, {}, b"not found"), "unknown", None),
    ],
)
def test_classify(url: str, reply: Reply, verdict: str, location_host: str | None) -> None:
    judged = captive_portal.classify(url, reply)
    assert (judged.verdict, judged.location_host) == (verdict, location_host)


def test_parse_reply_handles_chunked_bodies_and_rejects_non_http() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
        b"7\r\n<TITLE>\r\n10\r\nSuccess</TITLE> \r\n0\r\n\r\n"
    )
    reply = captive_portal.parse_reply(raw)
    assert reply.status == 200
    assert reply.body == b"<TITLE>Success</TITLE> "
    assert captive_portal.classify(APPLE, reply).verdict == "clear"
    with pytest.raises(ValueError, match="not an HTTP response"):
        captive_portal.parse_reply(b"SSH-2.0-OpenSSH\r\n")


def test_one_portal_answer_is_enough_and_unknown_is_not_a_portal() -> None:
    portal = Probed(GOOGLE, "portal", 302, "login.hotspot.example")
    finding = captive_portal.analyse([Probed(APPLE, "clear", 200), portal])
    assert finding.id == "captive_portal.detected"
    assert finding.status is Status.FAIL
    assert finding.params == {
        "probe": GOOGLE,
        "status": 302,
        "location_host": "login.hotspot.example",
        "variant": "redirect",
    }
    assert captive_portal.analyse([Probed(APPLE, "clear", 200), Probed(GOOGLE, "unknown")]).id == (
        "captive_portal.none"
    )
    unknown = captive_portal.analyse([Probed(GOOGLE, "unknown", detail="timeout")])
    assert (unknown.id, unknown.params["variant"], unknown.status) == (
        "captive_portal.not_checked",
        "unreachable",
        Status.WARN,
    )


def _probe(url: str, settings: Settings | None = None) -> Probed:
    return captive_portal.probe(url, settings or Settings(), timeout=3, cancel=threading.Event())


def test_probe_loopback_servers() -> None:
    no_content = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
    redirect = (
        b"HTTP/1.1 302 Found\r\nLocation: http://login.portal.test/login?from=probe\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    page = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(LOGIN_PAGE)).encode()
        + b"\r\n\r\n"
        + LOGIN_PAGE
    )
    with (
        CannedServer(no_content, keep_open=True) as clear,
        CannedServer(redirect) as moved,
        CannedServer(page, keep_open=True) as login,
    ):
        started = time.monotonic()
        assert _probe(f"http://127.0.0.1:{clear.port}/generate_204").verdict == "clear"
        assert time.monotonic() - started < 2  # did not wait for the server to close
        redirected = _probe(f"http://127.0.0.1:{moved.port}/generate_204")
        assert (redirected.verdict, redirected.status, redirected.location_host) == (
            "portal",
            302,
            "login.portal.test",
        )
        assert _probe(f"http://127.0.0.1:{login.port}/hotspot-detect.html").verdict == "portal"
        # A probe host name pinned with --resolve is still sent as the Host header.
        pinned = Settings(resolve=(Resolve("probe.test", clear.port, "127.0.0.1"),))
        assert _probe(f"http://probe.test:{clear.port}/generate_204", pinned).verdict == "clear"
    assert clear.requests[0].startswith(b"GET /generate_204 HTTP/1.1\r\n")
    assert b"\r\nHost: probe.test:" in clear.requests[1]


def test_probe_silence_and_refusal_are_unknown_within_the_budget() -> None:
    with SilentServer() as silent:
        started = time.monotonic()
        quiet = captive_portal.probe(
            f"http://127.0.0.1:{silent.port}/", Settings(), timeout=0.5, cancel=threading.Event()
        )
        assert time.monotonic() - started < 2
    assert quiet.verdict == "unknown"
    assert _probe(f"http://127.0.0.1:{closed_port()}/").verdict == "unknown"
    assert _probe("https://example.com/").verdict == "unknown"


def test_offline_contacts_nothing() -> None:
    ctx = Context(Settings(offline=True), None, threading.Event(), {}, deadline=1e12)
    outcome = captive_portal.run(ctx)
    assert [(f.id, f.params["variant"]) for f in outcome.findings] == [
        ("captive_portal.not_checked", "offline")
    ]


def test_the_check_runs_first_in_the_plan() -> None:
    from checks import registry

    assert registry.all_checks()[0] is captive_portal.CHECK
    local = registry.plan(Settings(), None)
    assert local[0].id == "captive_portal"
