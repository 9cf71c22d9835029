"""Small loopback servers for the lab: a real TLS server and peers that fail in network ways."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

LOOPBACK = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}
HANDSHAKE_TIMEOUT = 5.0
IO_TIMEOUT = 5.0
# The accept loop wakes this often to notice stop(); short enough that stopping feels instant.
POLL = 0.1
# Longer than any single socket timeout, so a join never gives up on a thread that would end.
JOIN_TIMEOUT = 10.0

HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
HTTP_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"
SMTP_BANNER = b"220 mail.lab.test ESMTP Postfix\r\n"
IMAP_BANNER = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"
ALERT_HANDSHAKE_FAILURE = 40

ClientCert = Literal[False, "optional", "required"]
PathLike = str | Path


def closed_port(host: str = "127.0.0.1") -> int:
    """A loopback port with nothing listening on it (bound once, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ipv6_loopback_available() -> bool:
    """Whether ::1 can be bound here (some containers have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _shutdown(sock: socket.socket) -> None:
    # The base-class method on purpose: SSLSocket.shutdown drops its SSL object, which would
    # race with the handler thread still using it; a plain shutdown just wakes its recv().
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def drain(sock: socket.socket, seconds: float = 1.0) -> None:
    """Read until the peer closes (or `seconds` pass) so that closing sends FIN, not RST."""
    sock.settimeout(seconds)
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


def _drain_raw(tls: ssl.SSLSocket) -> None:
    """After a failed handshake, let the alert reach the client before the socket closes.

    Closing with the client's unread bytes (in TLS 1.3 its Finished and first request arrive
    together) makes the kernel send RST, which can destroy the alert before it is read.
    """
    # Base-class calls on purpose: the TLS layer is dead, only the TCP socket remains.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(tls, socket.SHUT_WR)
        socket.socket.settimeout(tls, 1.0)
        while socket.socket.recv(tls, 4096):
            pass


class LoopbackServer:
    """Accepts on loopback in a daemon thread and hands each connection to `handle`."""

    def __init__(
        self, *, host: str | None = None, family: int = socket.AF_INET, port: int = 0
    ) -> None:
        if host is None:
            host = LOOPBACK[family]
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"lab servers listen on loopback only, not {host!r}")
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.address = host
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            if port:
                self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            self._listener.listen(32)
            self._listener.settimeout(POLL)
        except OSError:
            self._listener.close()
            raise
        self.port: int = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"{type(self).__name__}:{self.port}", daemon=True
        )
        self._started = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address}:{self.port})"

    def start(self) -> Self:
        if not self._started:
            self._started = True
            self._acceptor.start()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the listener and every open connection; raise if a thread will not end."""
        self._stopping.set()
        if self._started:
            # A connection of our own wakes accept() now rather than at its next poll.
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=1).close()
            self._acceptor.join(JOIN_TIMEOUT)
        else:
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for conn in connections:
            _shutdown(conn)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        alive = [t.name for t in [self._acceptor, *threads] if t.is_alive()]
        if alive:
            raise RuntimeError(f"{self!r} did not stop: {alive}")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _accept_loop(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stopping.is_set():
                        break
                    raise
                conn.settimeout(IO_TIMEOUT)
                thread = threading.Thread(
                    target=self._serve, args=(conn,), name=f"{self!r}-conn", daemon=True
                )
                with self._lock:
                    if self._stopping.is_set():
                        conn.close()
                        break
                    self._connections.add(conn)
                    self._threads.add(thread)
                thread.start()
        finally:
            self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ValueError):
            # Clients in the lab break connections on purpose; that is never the server's error.
            pass
        finally:
            conn.close()
            with self._lock:
                self._connections.discard(conn)
                self._threads.discard(threading.current_thread())

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SilentServer(LoopbackServer):
    """Accepts and never says a word; keeps each connection open until the client or stop()."""

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(POLL)
        while not self.stopping:
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue


class BannerServer(SilentServer):
    """Greets like a non-TLS service (SSH, SMTP, IMAP) and ignores whatever comes back."""

    def __init__(
        self, banner: bytes, *, host: str | None = None, family: int = socket.AF_INET
    ) -> None:
        super().__init__(host=host, family=family)
        self.banner = banner

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.banner)
        super().handle(conn)


class PlainHTTPServer(LoopbackServer):
    """A plain-HTTP server: whatever arrives (a TLS ClientHello too) gets 400 Bad Request."""

    def handle(self, conn: socket.socket) -> None:
        if not conn.recv(65536):
            return
        conn.sendall(HTTP_BAD_REQUEST)
        conn.shutdown(socket.SHUT_WR)
        drain(conn)


def _read_record(conn: socket.socket) -> bytes:
    """One TLS record (header and body), or whatever arrived before the peer stopped sending."""
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class AbortServer(LoopbackServer):
    """Reads the ClientHello and answers with one fatal TLS alert record, then closes."""

    def __init__(
        self,
        alert: int = ALERT_HANDSHAKE_FAILURE,
        *,
        host: str | None = None,
        family: int = socket.AF_INET,
    ) -> None:
        super().__init__(host=host, family=family)
        self.alert = alert

    @property
    def record(self) -> bytes:
        # content type 21 (alert), TLS 1.2 record version, length 2, level 2 (fatal), code.
        return bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, self.alert])

    def handle(self, conn: socket.socket) -> None:
        if not _read_record(conn):
            return
        conn.sendall(self.record)
        conn.shutdown(socket.SHUT_WR)
        drain(conn)


@dataclass(frozen=True)
class Handshake:
    """What the TLS server saw of one connection: the SNI name and the error, if any."""

    server_name: str | None
    version: str | None
    error: str | None


class TLSServer(LoopbackServer):
    """A real TLS server (the stdlib ssl module) that answers one HTTP request and closes."""

    def __init__(
        self,
        chain_pem_path: PathLike,
        key_path: PathLike,
        *,
        host: str | None = None,
        family: int = socket.AF_INET,
        port: int = 0,
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
        request_client_cert: ClientCert = False,
        client_ca_path: PathLike | None = None,
        sni_contexts: Mapping[str, tuple[PathLike, PathLike]] | None = None,
        unknown_sni: Literal["default", "reject"] = "default",
        dh_params: PathLike | None = None,
    ) -> None:
        if request_client_cert == "required" and client_ca_path is None:
            raise ValueError("a server that requires client certificates needs client_ca_path")
        if unknown_sni not in ("default", "reject"):
            raise ValueError(f"unknown_sni must be 'default' or 'reject', not {unknown_sni!r}")
        self._options = {
            "minimum_version": minimum_version,
            "maximum_version": maximum_version,
            "ciphers": ciphers,
            "request_client_cert": request_client_cert,
            "client_ca_path": client_ca_path,
            "dh_params": dh_params,
        }
        self.context = self._context(chain_pem_path, key_path)
        self.sni_contexts = {
            name.lower(): self._context(chain, key)
            for name, (chain, key) in (sni_contexts or {}).items()
        }
        self.unknown_sni = unknown_sni
        self.context.sni_callback = self._choose_context
        # What every request gets; a callable is asked anew each time (a fresh Date header).
        self.response: bytes | Callable[[], bytes] = HTTP_OK
        self.handshakes: list[Handshake] = []
        super().__init__(host=host, family=family, port=port)

    def _context(self, chain: PathLike, key: PathLike) -> ssl.SSLContext:
        options = self._options
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if options["minimum_version"] is not None:
            ctx.minimum_version = options["minimum_version"]  # type: ignore[assignment]
        if options["maximum_version"] is not None:
            ctx.maximum_version = options["maximum_version"]  # type: ignore[assignment]
        if options["ciphers"]:
            # Before load_cert_chain: at the default security level OpenSSL refuses to load
            # SHA-1-signed or 1024-bit certificates, and "@SECLEVEL=0" here lifts that.
            ctx.set_ciphers(str(options["ciphers"]))
        ctx.load_cert_chain(chain, key)
        if options["dh_params"] is not None:
            # Without a group of its own OpenSSL 3 offers no DHE suite at all.
            ctx.load_dh_params(str(options["dh_params"]))
        mode = options["request_client_cert"]
        if mode:
            ctx.verify_mode = ssl.CERT_REQUIRED if mode == "required" else ssl.CERT_OPTIONAL
            if options["client_ca_path"] is not None:
                ctx.load_verify_locations(cafile=str(options["client_ca_path"]))
        return ctx

    def _choose_context(
        self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext
    ) -> int | None:
        # Server-side sockets do not expose the SNI name, so it is kept on the socket here.
        sslobj.lab_server_name = server_name  # type: ignore[attr-defined]
        chosen = self.sni_contexts.get((server_name or "").lower())
        if chosen is not None:
            sslobj.context = chosen
            return None
        if self.unknown_sni == "reject":
            sslobj.lab_rejected = True  # type: ignore[attr-defined]
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    def _record(self, server_name: str | None, version: str | None, error: str | None) -> None:
        with self._lock:
            self.handshakes.append(Handshake(server_name, version, error))

    def handle(self, conn: socket.socket) -> None:
        with self._lock:
            # Under the lock so that stop() either sees the plain socket or the TLS one:
            # wrap_socket detaches `conn`, and only the TLS socket can then be woken.
            if self.stopping:
                return
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            self._connections.discard(conn)
            self._connections.add(tls)
        try:
            tls.settimeout(HANDSHAKE_TIMEOUT)
            try:
                tls.do_handshake()
            except (OSError, ValueError) as exc:
                rejected = getattr(tls, "lab_rejected", False)
                error = "rejected: unrecognized_name" if rejected else f"{exc}"
                self._record(getattr(tls, "lab_server_name", None), None, error)
                _drain_raw(tls)
                return
            self._record(getattr(tls, "lab_server_name", None), tls.version(), None)
            tls.settimeout(IO_TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                request += chunk
            tls.sendall(self.response() if callable(self.response) else self.response)
        finally:
            tls.close()
            with self._lock:
                self._connections.discard(tls)


# Canned HTTP answers: an open network's probe reply, a captive portal's, a proxy's sign-in.
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REDIRECT = (
    b"HTTP/1.1 302 Found\r\nLocation: http://login.portal.test/login?from=probe\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)
LOGIN_HTML = (
    b"<!DOCTYPE html><html><head><title>Hotel Wi-Fi</title></head><body><form method=post "
    b"action=/login><input name=room><input name=surname><button>Connect</button></form>"
    b"</body></html>"
)
LOGIN_PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
    + str(len(LOGIN_HTML)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + LOGIN_HTML
)
PROXY_AUTH = (
    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\n"
    b'Proxy-Authenticate: Basic realm="Lab Proxy"\r\nContent-Length: 0\r\n\r\n'
)


class CannedServer(SilentServer):
    """Answers every request (an HTTP GET or a proxy's CONNECT) with one fixed response and
    records each request head; `keep_open` ignores "Connection: close" and holds the line."""

    def __init__(
        self, response: bytes, *, keep_open: bool = False, host: str | None = None, port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.response = response
        self.keep_open = keep_open
        self.requests: list[bytes] = []

    def handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        self.requests.append(head)
        conn.sendall(self.response)
        if self.keep_open:
            super().handle(conn)
        else:
            conn.shutdown(socket.SHUT_WR)
