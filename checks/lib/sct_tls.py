"""Asks a server for the certificate-transparency timestamps it sends in the TLS extension
(RFC 6962 3.3.1) with one TLS 1.2 ClientHello, and reads them from its ServerHello."""

from __future__ import annotations

import socket
import threading
import time

from checks.core.check import Cancelled
from checks.lib import net, sct, starttls, tlswire

EXT_SCT = 18
# The suites every TLS 1.2 server of the last decade accepts one of (ECDHE and RSA, AES-GCM,
# ChaCha20, then CBC); the answer's suite does not matter, only its extensions.
_SUITES = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D,
           0x002F, 0x0035)  # fmt: skip
# A ServerHello is some hundred bytes; the certificate follows it in the same flight.
_MAX_BYTES = 64 * 1024
_HANDSHAKE, _SERVER_HELLO = 0x16, 2


def _with_sct_request(record: bytes) -> bytes:
    """`record` (one ClientHello record from tlswire) with an empty SCT extension added."""
    body = bytearray(record[9:])
    at = 2 + 32
    at += 1 + body[at]  # session id
    at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
    at += 1 + body[at]  # compression methods
    extensions = int.from_bytes(body[at : at + 2], "big") if at < len(body) else 0
    if at >= len(body):
        body += b"\x00\x00"
    body[at : at + 2] = (extensions + 4).to_bytes(2, "big")
    body += EXT_SCT.to_bytes(2, "big") + b"\x00\x00"
    handshake = bytes([1]) + len(body).to_bytes(3, "big") + bytes(body)
    return record[:3] + len(handshake).to_bytes(2, "big") + handshake


def _server_hello(sock: socket.socket, *, deadline: float, cancel: threading.Event) -> bytes:
    """The body of the server's ServerHello, or b"" when another answer came."""
    data, messages = b"", b""
    while len(data) < _MAX_BYTES:
        while len(data) >= 5:
            size = int.from_bytes(data[3:5], "big")
            if len(data) < 5 + size:
                break
            if data[0] != _HANDSHAKE:
                return b""
            messages += data[5 : 5 + size]
            data = data[5 + size :]
        if len(messages) >= 4:
            if messages[0] != _SERVER_HELLO:
                return b""
            size = int.from_bytes(messages[1:4], "big")
            if len(messages) >= 4 + size:
                return messages[4 : 4 + size]
        chunk = net.recv(sock, 16384, timeout=max(0.0, deadline - time.monotonic()), cancel=cancel)
        if not chunk:
            return b""
        data += chunk
    return b""


def _extension(body: bytes, kind: int) -> bytes | None:
    """The data of extension `kind` in a ServerHello body, if the server sent it."""
    at = 2 + 32
    at += 1 + body[at]
    at += 2 + 1  # the suite chosen and the compression method
    if at + 2 > len(body):
        return None
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    at += 2
    while at + 4 <= min(end, len(body)):
        found = int.from_bytes(body[at : at + 2], "big")
        size = int.from_bytes(body[at + 2 : at + 4], "big")
        if found == kind:
            return body[at + 4 : at + 4 + size]
        at += 4 + size
    return None


def fetch(
    address: str,
    port: int,
    *,
    sni: str | None,
    opening: starttls.Opening | None,
    timeout: float,
    cancel: threading.Event,
) -> tuple[sct.Sct, ...]:
    """The SCTs the server sends in its TLS 1.2 ServerHello; () when it sends none or the
    question could not be asked (it never raises, except `Cancelled`)."""
    hello = _with_sct_request(tlswire.client_hello("TLSv1.2", _SUITES, sni=sni))
    try:
        sock = starttls.connect(address, port, opening, timeout=timeout, cancel=cancel)
    except (OSError, starttls.UpgradeFailed):
        return ()
    with sock:
        try:
            sock.sendall(hello)
            body = _server_hello(sock, deadline=time.monotonic() + timeout, cancel=cancel)
            data = _extension(body, EXT_SCT) if body else None
        except Cancelled:
            raise
        except (OSError, IndexError, ValueError):
            return ()
    return sct.parse_list(data, source="tls") if data else ()
