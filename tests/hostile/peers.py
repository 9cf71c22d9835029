"""Loopback servers that misbehave on purpose, each answering a ClientHello in its own bad way."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket, threading.Event], None]


def _record(content_type: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    return bytes([content_type]) + version + struct.pack("!H", len(payload)) + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def server_hello(version: bytes = b"\x03\x03", suite: bytes = b"\xc0\x2f") -> bytes:
    """A minimal TLS 1.2 ServerHello record choosing `suite` (only renegotiation_info, which
    OpenSSL insists on)."""
    extensions = b"\xff\x01\x00\x01\x00"
    body = version + os.urandom(32) + b"\x00" + suite + b"\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    return _record(0x16, _handshake(2, body))


def certificate_message(certs: list[bytes]) -> bytes:
    """A Certificate handshake record carrying `certs` as they are (DER or garbage)."""
    entries = b"".join(len(c).to_bytes(3, "big") + c for c in certs)
    return _record(0x16, _handshake(11, len(entries).to_bytes(3, "big") + entries))


def _read_hello(conn: socket.socket) -> None:
    conn.settimeout(5)
    with contextlib.suppress(OSError):
        conn.recv(65536)


def _sleep(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


def never_speaks(conn: socket.socket, stop: threading.Event) -> None:
    _sleep(stop, 30)


def answers_after_20s(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    _sleep(stop, 20)
    if not stop.is_set():
        conn.sendall(server_hello())


def closes_after_server_hello(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(server_hello())


def random_bytes(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(b"\x9f" + os.urandom(4095))


def http_response(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")


def announces_16_mb(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    # A handshake message header claiming 16 MB, then a trickle of filler.
    conn.sendall(b"\x16\x03\x03\x40\x00" + b"\x02\xff\xff\xff" + b"\x00" * 16380)
    _sleep(stop, 10)


def oversized_record(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(b"\x16\x03\x03\xff\xff" + b"\x00" * 65535)


def endless_tiny_records(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    # The first fragment announces a ServerHello of 60 kB; then one-byte fragments never end.
    conn.sendall(_record(0x16, b"\x02\x00\xea\x60"))
    tiny = _record(0x16, b"\x00") * 256
    with contextlib.suppress(OSError):
        while not stop.is_set():
            conn.sendall(tiny)


def alert_flood(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    warning = _record(0x15, b"\x01\x5a")  # user_canceled, as a warning, over and over
    with contextlib.suppress(OSError):
        for _ in range(20000):
            if stop.is_set():
                return
            conn.sendall(warning * 64)


def malformed_der(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(server_hello() + certificate_message([b"\x30\x82\xff\xff" + b"\x01" * 40]))


def impossible_version(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(server_hello(version=b"\x03\x09"))


def suite_not_offered(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(server_hello(suite=b"\xfe\xfe"))


def sslv2_reply(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    # SSLv2 SERVER-HELLO: 2-byte header with the high bit set, message type 4.
    body = b"\x04\x00\x01\x00\x02" + b"\x00\x10" + b"\x00\x03" + b"\x00\x10"
    body += b"\x30" * 16 + b"\x01\x00\x80" + os.urandom(16)
    conn.sendall(bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body)


def three_bytes_then_silence(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    conn.sendall(server_hello()[:3])
    _sleep(stop, 30)


def drips(conn: socket.socket, stop: threading.Event) -> None:
    _read_hello(conn)
    with contextlib.suppress(OSError):
        for byte in server_hello():
            if stop.wait(1.0):
                return
            conn.sendall(bytes([byte]))


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[int]:
    """Run `handler` for every connection to a fresh port on 127.0.0.1; yield the port."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    workers: list[threading.Thread] = []
    connections: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(conn)

            def run(conn: socket.socket = conn) -> None:
                with contextlib.suppress(OSError):
                    handler(conn, stop)
                # Linger briefly so the client reads what was sent before the close.
                time.sleep(0.05)
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_WR)

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        acceptor.join(2)
        listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.close()
        for worker in workers:
            worker.join(2)
