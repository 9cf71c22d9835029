"""Asks plain-HTTP probe pages whether a captive portal (a sign-in page) stands in the way."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.config import Settings
from checks.core.facts.captive_portal import CaptivePortalFacts, Probed
from checks.core.models import Finding, Outcome, Status
from checks.core.redact import redact
from checks.lib import net

# What the Apple-style probe page says when nothing is in the way.
_SUCCESS = re.compile(rb"<title>\s*success\s*</title>|^\s*success\s*$", re.IGNORECASE)
_REDIRECTS = {301, 302, 303, 307, 308}
# RFC 6585: "network authentication required", the status a well-behaved portal sends.
_NETWORK_AUTH_REQUIRED = 511


@dataclass(frozen=True)
class Reply:
    """A parsed HTTP response: status, lower-cased headers and the start of the body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def parse_reply(data: bytes) -> Reply:
    """Parse a raw HTTP/1.x response; raise `ValueError` when it is not one."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"^HTTP/\d(?:\.\d)?\s+(\d{3})", lines[0])
    if match is None:
        raise ValueError(f"not an HTTP response: {lines[0][:40]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    return Reply(int(match.group(1)), headers, body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def classify(url: str, reply: Reply) -> Probed:
    """204 or the expected "Success" page: no portal; a redirect to another host, a login page
    or 511: a portal; anything else proves nothing."""
    probe_host = (urllib.parse.urlsplit(url).hostname or "").lower()
    status = reply.status
    if status == 204:
        return Probed(url, "clear", status)
    if status in _REDIRECTS:
        location = reply.headers.get("location", "")
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location)).hostname or ""
        if location and target.lower() != probe_host:
            return Probed(url, "portal", status, redact(target.lower()))
        return Probed(url, "unknown", status, detail=f"redirect to {redact(location)!s}")
    if status == _NETWORK_AUTH_REQUIRED:
        return Probed(url, "portal", status)
    if status == 200:
        if _SUCCESS.search(reply.body.strip()):
            return Probed(url, "clear", status)
        if reply.body.strip():
            return Probed(url, "portal", status)
        return Probed(url, "unknown", status, detail="empty page")
    return Probed(url, "unknown", status, detail=f"HTTP {status}")


def _complete(data: bytes) -> bool:
    """Whether a whole response has arrived, so a server that keeps the connection open
    does not cost the whole timeout."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    match = re.search(rb"^content-length:\s*(\d+)\s*$", head, re.IGNORECASE | re.MULTILINE)
    if re.match(rb"HTTP/\d(?:\.\d)?\s+(204|304|1\d\d)", head):
        return True
    return match is not None and len(body) >= int(match.group(1))


def _address(
    host: str, port: int, settings: Settings, *, timeout: float, cancel: threading.Event
) -> str:
    pinned = settings.pinned_address(host, port)
    if pinned:
        return pinned
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass

    def lookup() -> str:
        return str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])

    return net.in_thread(lookup, timeout=timeout, cancel=cancel, name=f"portal-{host}")


def _request(parts: urllib.parse.SplitResult) -> bytes:
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    host = parts.hostname or ""
    authority = f"[{host}]" if ":" in host else host
    if parts.port:
        authority += f":{parts.port}"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: handshake-doctor\r\n"
        "Accept: */*\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")


def probe(url: str, settings: Settings, *, timeout: float, cancel: threading.Event) -> Probed:
    """GET one probe URL with a hand-written HTTP/1.1 request, within `timeout` seconds."""
    started = time.monotonic()
    end = started + timeout

    def unknown(detail: str) -> Probed:
        elapsed = round((time.monotonic() - started) * 1000, 1)
        return Probed(redact(url), "unknown", detail=detail, elapsed_ms=elapsed)

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return unknown("not a plain http:// address")
    try:
        port = parts.port or 80
        address = _address(parts.hostname, port, settings, timeout=timeout, cancel=cancel)
        sock = net.connect(address, port, timeout=max(0.05, end - time.monotonic()), cancel=cancel)
    except (OSError, UnicodeError, ValueError, IndexError) as exc:
        return unknown(f"{type(exc).__name__}: {exc}")
    data = b""
    with sock:
        try:
            sock.sendall(_request(parts))
            while len(data) < policy.MAX_PORTAL_REPLY_BYTES:
                chunk = net.recv(
                    sock, 65536, timeout=max(0.0, end - time.monotonic()), cancel=cancel
                )
                if not chunk:
                    break
                data += chunk
                if _complete(data):
                    break
        except TimeoutError:
            if b"\r\n\r\n" not in data:
                return unknown(f"no answer within {timeout:g} s")
        except OSError as exc:
            if b"\r\n\r\n" not in data:
                return unknown(f"{type(exc).__name__}: {exc}")
    try:
        reply = parse_reply(data)
    except ValueError as exc:
        return unknown(str(exc))
    judged = classify(url, reply)
    elapsed = round((time.monotonic() - started) * 1000, 1)
    return Probed(
        redact(url), judged.verdict, judged.status, judged.location_host, judged.detail, elapsed
    )


def analyse(probed: Sequence[Probed]) -> Finding:
    """One portal answer is enough; otherwise one clear answer; otherwise nothing is known."""
    portal = next((p for p in probed if p.verdict == "portal"), None)
    if portal is not None:
        params: dict[str, object] = {
            "probe": portal.url,
            "status": portal.status,
            "location_host": portal.location_host,
        }
        if portal.location_host:
            params["variant"] = "redirect"
        evidence = (f"{portal.url} → HTTP {portal.status}",)
        return Finding("captive_portal.detected", Status.FAIL, params, evidence)
    clear = [p.url for p in probed if p.verdict == "clear"]
    if clear:
        return Finding("captive_portal.none", Status.PASS, {"probes": clear})
    details = [f"{p.url}: {p.detail}" for p in probed]
    params = {
        "variant": "unreachable",
        "probes": [p.url for p in probed],
        "detail": "; ".join(details) or "—",
    }
    return Finding("captive_portal.not_checked", Status.WARN, params, tuple(details))


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    urls = list(settings.portal_probes)
    if settings.offline or not urls:
        params = {
            "variant": "offline" if settings.offline else "unreachable",
            "probes": [redact(u) for u in urls],
            "detail": "--offline" if settings.offline else "no probe address",
        }
        return Outcome((Finding("captive_portal.not_checked", Status.WARN, params),))
    timeout = min(policy.PORTAL_PROBE_TIMEOUT_S, ctx.timeout())
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        probed = list(
            pool.map(lambda u: probe(u, settings, timeout=timeout, cancel=ctx.cancel), urls)
        )
    ctx.raise_if_cancelled()
    return Outcome((analyse(probed),), CaptivePortalFacts(probes=tuple(probed)))


CHECK = Check(
    id="captive_portal",
    scope="local",
    run=run,
    findings={
        "captive_portal.none": (),
        "captive_portal.detected": ("redirect",),
        "captive_portal.not_checked": ("offline", "unreachable"),
    },
)
