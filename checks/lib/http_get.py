"""One bounded plain-HTTP GET, direct or through the computer's HTTP proxy (AIA, OCSP, CRL)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace

from checks.core.target import to_ascii
from checks.lib import net

# Redirects followed, http:// only: some CRL and AIA servers move files and say so with a 301,
# and certificate fetchers in browsers follow them the same way; more than a few is a loop.
MAX_REDIRECTS = 3
# Room for the status line and headers on top of the body's cap.
_HEAD_BYTES = 16 * 1024


@dataclass(frozen=True)
class HttpResult:
    """The outcome of one GET.

    Attributes:
        url: the address asked for (before any redirect).
        status: the HTTP status code of the last answer; None when no HTTP answer came.
        body: the whole body of a 200 answer, only when it arrived complete and within the cap.
        content_type: the Content-Type header of the last answer, without parameters.
        error: how the GET failed, in plain words (None when `body` is set).
        via_proxy: whether the request went through the HTTP proxy this computer names.
    """

    url: str
    status: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    error: str | None = None
    via_proxy: bool = False


def proxy_for(host: str) -> urllib.parse.SplitResult | None:
    """The HTTP proxy a program that follows this computer's settings would use for `host`."""
    try:
        url = urllib.request.getproxies().get("http")
        if not url or urllib.request.proxy_bypass(host):
            return None
    except Exception:  # a broken OS proxy setting means no proxy, as in urllib itself
        return None
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    try:
        parts.port  # noqa: B018 - a malformed port raises here, not later
    except ValueError:
        return None
    return parts if parts.scheme == "http" and parts.hostname else None


def _size(limit: int) -> str:
    return f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"


@dataclass(frozen=True)
class _Head:
    status: int | None
    reason: str
    headers: dict[str, str]


def _parse_head(head: bytes) -> _Head:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return _Head(None, "", {})
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            # Repeated headers keep the first: none this module reads may honestly repeat.
            headers.setdefault(name.strip().lower(), value.strip())
    return _Head(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


def _dechunk(data: bytes) -> bytes | None:
    """The body of a chunked answer; None when it was cut short or malformed."""
    body = bytearray()
    at = 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        try:
            size = int(data[at:end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size == 0:
            return bytes(body)
        start = end + 2
        if len(data) < start + size + 2:
            return None
        body += data[start : start + size]
        at = start + size + 2


def _read(
    sock: socket.socket, *, max_bytes: int, deadline: float, cancel: threading.Event
) -> tuple[bytes, bool]:
    """The answer as far as it came, and whether it ran past the cap (reading stopped there);
    raises `TimeoutError` at the deadline, `OSError` on a broken line, `Cancelled`."""
    reply = bytearray()
    limit = max_bytes + _HEAD_BYTES
    while len(reply) <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        data = net.recv(sock, 65536, timeout=left, cancel=cancel)
        if not data:
            return bytes(reply), False
        reply += data
        head_end = reply.find(b"\r\n\r\n")
        if head_end >= 0:
            length = _parse_head(bytes(reply[:head_end])).headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                return bytes(reply), True  # announced as too big: no need to wait for it
            if length.isdigit() and len(reply) - head_end - 4 >= int(length):
                return bytes(reply), False  # complete, even if the server keeps the line open
    return bytes(reply), True


def _exchange(
    url: str,
    *,
    max_bytes: int,
    deadline: float,
    timeout: float,
    cancel: threading.Event,
    accept: str,
) -> tuple[HttpResult, str | None]:
    """One request and its answer; the second item is a redirect's target, when there is one."""
    parts = urllib.parse.urlsplit(url)
    try:
        hostname, port = parts.hostname, parts.port or 80
        if parts.scheme != "http" or not hostname:
            return HttpResult(url, error="not an http:// address"), None
        name = to_ascii(hostname)
    except Exception:  # a bad port or a name with no ASCII form cannot be asked for at all
        return HttpResult(url, error="not a valid http:// address"), None
    proxy = proxy_for(hostname)
    via = proxy is not None
    host, host_port = (proxy.hostname or "", proxy.port or 80) if proxy else (name, port)
    target = url if proxy else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = f"[{name}]" if ":" in name else name
    authority = literal + (f":{parts.port}" if parts.port else "")
    # HTTP/1.0 on purpose: a compliant server then neither chunks nor keeps the line open.
    request = (
        f"GET {target} HTTP/1.0\r\nHost: {authority}\r\nAccept: {accept}\r\n"
        "User-Agent: Handshake-Doctor\r\nConnection: close\r\n\r\n"
    )

    def failed(error: str, status: int | None = None) -> tuple[HttpResult, None]:
        return HttpResult(url, status=status, error=error, via_proxy=via), None

    who = "the proxy" if via else "the server"
    try:
        left = max(0.0, deadline - time.monotonic())
        address = net.first_address(host, host_port, timeout=left, cancel=cancel)
    except net.LookupTimeout:
        return failed(f"looking up {host} timed out")
    except OSError:
        return failed(f"{host} not found")
    try:
        left = max(0.0, deadline - time.monotonic())
        sock = net.connect(address, host_port, timeout=left, cancel=cancel)
    except net.ConnectError as exc:
        words = {"refused": "refused the connection", "timeout": "did not answer in time"}
        return failed(f"{who} {words.get(exc.kind, 'could not be reached')}")
    with sock:
        try:
            sock.sendall(request.encode("ascii"))
            reply, over_cap = _read(sock, max_bytes=max_bytes, deadline=deadline, cancel=cancel)
        except TimeoutError:
            return failed(f"no complete answer within {timeout:g} s")
        except OSError:
            return failed(f"{who} broke off the connection")
    raw, sep, body = reply.partition(b"\r\n\r\n")
    head = _parse_head(raw)
    if head.status is None or not sep:
        return failed("no HTTP answer")
    kind = head.headers.get("content-type", "").split(";", 1)[0].strip().lower() or None
    answered = HttpResult(url, status=head.status, content_type=kind, via_proxy=via)
    if head.status in (301, 302, 303, 307, 308) and head.headers.get("location"):
        return answered, urllib.parse.urljoin(url, head.headers["location"])
    if head.status != 200:
        shown = f"HTTP {head.status} {head.reason}".strip()
        if via and head.status == 407:
            shown += " (the proxy asks for a sign-in)"
        return replace(answered, error=shown), None
    if over_cap:
        return replace(answered, error=f"over {_size(max_bytes)}"), None
    length = head.headers.get("content-length", "")
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        # Not for HTTP/1.0 clients, yet some servers chunk anyway.
        dechunked = _dechunk(body)
        if dechunked is None:
            return replace(answered, error="the answer was cut short"), None
        body = dechunked
    elif length.isdigit():
        if len(body) < int(length):
            return replace(answered, error="the answer was cut short"), None
        body = body[: int(length)]
    if len(body) > max_bytes:
        return replace(answered, error=f"over {_size(max_bytes)}"), None
    return replace(answered, body=body), None


def get(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    cancel: threading.Event,
    accept: str = "*/*",
) -> HttpResult:
    """GET `url` (http:// only) directly or through the HTTP proxy this computer's settings
    name, following a few http:// redirects, with `timeout` seconds for the whole exchange and
    at most `max_bytes` of body; never raises but `Cancelled`."""
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        result, location = _exchange(
            current,
            max_bytes=max_bytes,
            deadline=deadline,
            timeout=timeout,
            cancel=cancel,
            accept=accept,
        )
        result = replace(result, url=url)
        if location is None:
            return result
        if urllib.parse.urlsplit(location).scheme != "http":
            return replace(result, error=f"redirected to {location}, which is not plain HTTP")
        current = location
    return replace(result, error="too many redirects")
