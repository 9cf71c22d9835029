"""Downloads the issuer certificate a certificate's AIA address names, small and bounded in time."""

from __future__ import annotations

import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from checks.core.target import to_ascii
from checks.lib import net

MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """What the AIA address gave: the certificates found there, or why there were none."""

    url: str
    certificates: tuple[x509.Certificate, ...] = ()
    error: str | None = None
    via_proxy: bool = False


def _proxy(host: str) -> urllib.parse.SplitResult | None:
    """The HTTP proxy a program that follows this computer's settings would use for `host`."""
    try:
        url = urllib.request.getproxies().get("http")
        if not url or urllib.request.proxy_bypass(host):
            return None
    except Exception:  # a broken OS proxy setting means no proxy, as in urllib itself
        return None
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    return parts if parts.scheme == "http" and parts.hostname else None


def _certificates(body: bytes) -> tuple[x509.Certificate, ...]:
    """A certificate in DER or PEM, or a PKCS#7 bundle of them (`.p7c`)."""
    loaders: tuple[Callable[[bytes], Sequence[x509.Certificate]], ...] = (
        lambda data: [x509.load_der_x509_certificate(data)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            return tuple(load(body))
        except ValueError:
            continue
    return ()


def fetch(url: str, *, timeout: float, cancel: threading.Event) -> Fetched:
    """GET `url` (http only, as AIA addresses are) directly or through the HTTP proxy, at most
    `MAX_BYTES` and `timeout` seconds in all; raises `Cancelled` on cancel."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return Fetched(url, error="not an http:// address")
    proxy = _proxy(parts.hostname)
    host, port = (proxy.hostname, proxy.port or 80) if proxy else (parts.hostname, parts.port or 80)
    assert host is not None
    deadline = time.monotonic() + timeout
    target = url if proxy else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = to_ascii(parts.hostname) + (f":{parts.port}" if parts.port else "")
    request = f"GET {target} HTTP/1.0\r\nHost: {authority}\r\nAccept: */*\r\n\r\n"
    try:
        address = net.first_address(host, port, timeout=timeout, cancel=cancel)
        sock = net.connect(address, port, timeout=timeout, cancel=cancel)
    except OSError as exc:
        return Fetched(url, error=str(exc), via_proxy=proxy is not None)
    reply = bytearray()
    with sock:
        try:
            sock.sendall(request.encode("ascii"))
            while len(reply) <= MAX_BYTES + 4096:
                left = deadline - time.monotonic()
                data = net.recv(sock, 65536, timeout=max(0.0, left), cancel=cancel)
                if not data:
                    break
                reply += data
        except (TimeoutError, OSError) as exc:
            return Fetched(url, error=str(exc), via_proxy=proxy is not None)
    head, _, body = bytes(reply).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        shown = b" ".join(status[1:]).decode("latin-1") or "no HTTP answer"
        return Fetched(url, error=f"HTTP {shown}", via_proxy=proxy is not None)
    if len(body) > MAX_BYTES:
        return Fetched(url, error=f"over {MAX_BYTES // 1024} KB", via_proxy=proxy is not None)
    found = _certificates(body)
    error = None if found else "no certificate in the answer"
    return Fetched(url, found, error, via_proxy=proxy is not None)
