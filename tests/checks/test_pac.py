"""PAC scripts: fetched directly, evaluated with pacparser within a timeout, read as a route."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from checks.lib import pac
from tests.lab.servers import CannedServer, closed_port

SCRIPT = """
function FindProxyForURL(url, host) {
  if (dnsDomainIs(host, ".corp.test") || isPlainHostName(host)) return "DIRECT";
  if (shExpMatch(host, "*.example.org")) return "HTTPS secure-proxy.corp.test:443";
  return "PROXY proxy.corp.test:3128; DIRECT";
}
"""


def _evaluate(script: str, url: str, timeout: float = 3.0) -> str:
    return pac.evaluate(script, [url], timeout=timeout, cancel=threading.Event())[url]


def test_the_script_chooses_per_site_as_a_browser_would() -> None:
    assert _evaluate(SCRIPT, "https://www.example.com/") == "PROXY proxy.corp.test:3128; DIRECT"
    assert _evaluate(SCRIPT, "https://intranet.corp.test/") == "DIRECT"
    assert pac.first_proxy(_evaluate(SCRIPT, "https://www.example.com/")) == (
        "http://proxy.corp.test:3128"
    )
    assert pac.first_proxy(_evaluate(SCRIPT, "https://a.example.org/")) == (
        "https://secure-proxy.corp.test:443"
    )
    assert pac.first_proxy("DIRECT") is None
    assert pac.first_proxy("SOCKS5 socks.corp.test:1080") == "socks5://socks.corp.test:1080"


def test_a_broken_script_is_a_script_error_not_a_crash() -> None:
    with pytest.raises(pac.PacError) as caught:
        _evaluate("function FindProxyForURL(url, host) { return ", "https://x.test/")
    assert caught.value.kind == "script"


def test_a_script_that_never_returns_is_stopped_at_the_timeout() -> None:
    endless = "function FindProxyForURL(url, host) { while (true) {} }"
    started = time.monotonic()
    with pytest.raises(pac.PacError) as caught:
        _evaluate(endless, "https://x.test/", timeout=0.5)
    assert caught.value.kind == "timeout"
    # The child's start-up is allowed on top of the script's timeout.
    assert time.monotonic() - started < 0.5 + pac._START_S + 0.5


def test_scripts_are_fetched_directly_from_http_and_files(tmp_path: Path) -> None:
    body = SCRIPT.encode()
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    cancel = threading.Event()
    with CannedServer(reply) as server:
        fetched = pac.fetch(f"http://127.0.0.1:{server.port}/proxy.pac", timeout=3, cancel=cancel)
    assert fetched == SCRIPT
    path = tmp_path / "proxy.pac"
    path.write_text(SCRIPT, encoding="utf-8")
    assert pac.fetch(path.as_uri(), timeout=3, cancel=cancel) == SCRIPT
    with pytest.raises(pac.PacError) as caught:
        pac.fetch(f"http://127.0.0.1:{closed_port()}/proxy.pac", timeout=2, cancel=cancel)
    assert caught.value.kind == "fetch"
