"""Python stand-ins for STARTTLS servers whose real daemons cannot run privately in the lab.

Each speaks just enough of its protocol for real clients (openssl s_client -starttls, curl,
the mysql client) to reach TLS and finish cleanly, and can misbehave on purpose (`mode`).
Reads are bounded: lines by MAX_LINE bytes, every receive by IO_TIMEOUT, a whole session by
SESSION_LIMIT; stop() ends every connection within a second or two.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import struct
import time
from pathlib import Path

from tests.lab.servers import HANDSHAKE_TIMEOUT, POLL, LoopbackServer, _drain_raw

MAX_LINE = 4096
SESSION_LIMIT = 30.0
ENDLESS_INTERVAL = 0.05


class _Session:
    """One client connection: bounded line and byte reads, and the switch to TLS."""

    def __init__(self, server: StartTLSStandIn, conn: socket.socket) -> None:
        self.server = server
        self.sock: socket.socket = conn
        self.buffer = b""
        self.deadline = time.monotonic() + SESSION_LIMIT
        self.secure = False

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self, most: int = 4096) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError("session time limit reached")
        chunk = self.sock.recv(most)
        if not chunk:
            raise ConnectionAbortedError("the client closed the connection")
        self.buffer += chunk

    def readline(self) -> str:
        """One line without its CRLF; ValueError beyond MAX_LINE bytes."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise ValueError("line too long")
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def read_exact(self, size: int) -> bytes:
        """Exactly `size` bytes, never reading beyond them (a TLS handshake may follow)."""
        while len(self.buffer) < size:
            self._fill(size - len(self.buffer))
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
        """Read until `pattern` matches (within MAX_LINE bytes); consume through the match."""
        while True:
            match = pattern.search(self.buffer)
            if match:
                self.buffer = self.buffer[match.end() :]
                return match
            if len(self.buffer) > MAX_LINE:
                raise ValueError("no complete element")
            self._fill()

    def upgrade(self) -> None:
        """Switch to TLS; plain text sent ahead of the handshake is dropped (as Postfix does)."""
        self.buffer = b""
        self.sock = self.server.wrap(self.sock)
        self.secure = True

    def close(self) -> None:
        self.sock.close()
        with self.server._lock:
            self.server._connections.discard(self.sock)


class StartTLSStandIn(LoopbackServer):
    """A loopback server that talks plain text, then TLS with the given chain and key."""

    modes: tuple[str, ...] = ("starttls",)

    def __init__(
        self,
        chain_pem_path: Path,
        key_path: Path,
        *,
        mode: str = "starttls",
        host: str | None = None,
        port: int = 0,
    ) -> None:
        if mode not in self.modes:
            raise ValueError(
                f"{type(self).__name__} mode must be one of {self.modes}, not {mode!r}"
            )
        self.mode = mode
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(chain_pem_path, key_path)
        # One entry per TLS handshake: the version, or "error: ..." when it failed.
        self.handshakes: list[str] = []
        self.implicit_port: int | None = None
        super().__init__(host=host, port=port)

    def wrap(self, conn: socket.socket) -> ssl.SSLSocket:
        with self._lock:
            # Under the lock so that stop() sees either the plain socket or the TLS one.
            if self.stopping:
                raise ConnectionAbortedError("stopping")
            tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            self._connections.discard(conn)
            self._connections.add(tls)
        tls.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls.do_handshake()
        except (OSError, ValueError) as exc:
            self._note(f"error: {exc}")
            _drain_raw(tls)
            tls.close()
            with self._lock:
                self._connections.discard(tls)
            raise
        self._note(str(tls.version()))
        return tls

    def _note(self, entry: str) -> None:
        with self._lock:
            self.handshakes.append(entry)

    @property
    def tls_versions(self) -> list[str]:
        """The versions of the handshakes that succeeded."""
        with self._lock:
            return [entry for entry in self.handshakes if not entry.startswith("error")]

    def hold(self, session: _Session) -> None:
        """Keep the connection open, saying nothing, until the client leaves or stop()."""
        session.sock.settimeout(POLL)
        while not self.stopping and time.monotonic() < session.deadline:
            try:
                if not session.sock.recv(4096):
                    return
            except TimeoutError:
                continue

    def handle(self, conn: socket.socket) -> None:
        session = _Session(self, conn)
        try:
            self.converse(session)
        finally:
            session.close()

    def converse(self, session: _Session) -> None:
        raise NotImplementedError


class SmtpServer(StartTLSStandIn):
    """An ESMTP server with STARTTLS (RFC 3207) and every way of getting it wrong.

    A stand-in because a real MTA (Postfix, Exim) needs root-owned spool and queue folders,
    its own system users and a master daemon that only runs from its system configuration.
    Modes on the wire: "starttls" lists STARTTLS and answers `220 2.0.0 Ready to start TLS`;
    "no_starttls" leaves it out of EHLO and answers `502 5.5.1 command not implemented`;
    "refuse" lists it, answers `454 4.7.0 TLS not available due to local problem`; "after_auth"
    lists AUTH only and answers `530 5.7.0 Must issue an AUTH command first`; "implicit"
    expects a ClientHello at once (SMTPS on a STARTTLS port) and greets inside TLS;
    "stalled_greeting" sends `220-<name> ESMTP` and half a line `220-please wa`, then nothing;
    "endless_greeting" sends `220-<name> greeting line N` every 50 ms, never a final `220 `;
    "silent" accepts and never sends a byte; "ignore_upgrade" answers `220 2.0.0 Ready to start
    TLS` and then goes on in plain text (the ClientHello gets `500 5.5.2 Error: bad syntax`);
    "unanswered" lists STARTTLS and never answers the command.
    """

    modes = (
        "starttls",
        "ignore_upgrade",
        "unanswered",
        "no_starttls",
        "refuse",
        "after_auth",
        "implicit",
        "stalled_greeting",
        "endless_greeting",
        "silent",
    )

    def __init__(
        self,
        chain_pem_path: Path,
        key_path: Path,
        *,
        mode: str = "starttls",
        hostname: str = "mail.lab.test",
        host: str | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(chain_pem_path, key_path, mode=mode, host=host, port=port)
        self.hostname = hostname

    def converse(self, session: _Session) -> None:
        mode = self.mode
        if mode == "silent":
            return self.hold(session)
        if mode == "stalled_greeting":
            session.send(f"220-{self.hostname} ESMTP\r\n220-please wa")
            return self.hold(session)
        if mode == "endless_greeting":
            count = 0
            while not self.stopping and time.monotonic() < session.deadline:
                count += 1
                session.send(f"220-{self.hostname} greeting line {count}\r\n")
                time.sleep(ENDLESS_INTERVAL)
            return None
        if mode == "implicit":
            session.upgrade()
        session.send(f"220 {self.hostname} ESMTP Handshake Doctor lab\r\n")
        while True:
            line = session.readline()
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                session.send("221 2.0.0 Bye\r\n")
                return None
            if verb == "STARTTLS" and self._starttls(session):
                continue
            session.send(self._reply(verb, argument, session.secure))

    def _starttls(self, session: _Session) -> bool:
        """Answer STARTTLS; True when the reply has been sent."""
        if session.secure:
            session.send("554 5.5.1 Error: TLS already active\r\n")
        elif self.mode == "no_starttls":
            session.send("502 5.5.1 command not implemented\r\n")
        elif self.mode == "refuse":
            session.send("454 4.7.0 TLS not available due to local problem\r\n")
        elif self.mode == "after_auth":
            session.send("530 5.7.0 Must issue an AUTH command first\r\n")
        elif self.mode == "unanswered":
            self.hold(session)
        elif self.mode == "ignore_upgrade":
            session.send("220 2.0.0 Ready to start TLS\r\n")
            session.sock.recv(4096)  # the ClientHello, read as a bad command
            session.send("500 5.5.2 Error: bad syntax\r\n")
        else:
            session.send("220 2.0.0 Ready to start TLS\r\n")
            session.upgrade()
        return True

    def _reply(self, verb: str, argument: str, secure: bool) -> str:
        if verb == "EHLO":
            offers = ["PIPELINING", "SIZE 10240000"]
            if not secure and self.mode in ("starttls", "refuse", "ignore_upgrade", "unanswered"):
                offers.append("STARTTLS")
            if secure or self.mode == "after_auth":
                offers.append("AUTH PLAIN LOGIN")
            offers += ["ENHANCEDSTATUSCODES", "8BITMIME"]
            lines = [f"{self.hostname} Hello {argument or 'there'}", *offers]
            return "".join(f"250-{text}\r\n" for text in lines[:-1]) + f"250 {lines[-1]}\r\n"
        replies = {
            "HELO": f"250 {self.hostname}\r\n",
            "NOOP": "250 2.0.0 OK\r\n",
            "RSET": "250 2.0.0 OK\r\n",
            "MAIL": "250 2.1.0 OK\r\n",
            "RCPT": "250 2.1.5 OK\r\n",
            "DATA": "554 5.5.1 Error: the lab accepts no mail\r\n",
            "VRFY": "252 2.0.0 Cannot VRFY user\r\n",
            "HELP": "214 2.0.0 https://www.rfc-editor.org/rfc/rfc5321\r\n",
            "AUTH": "535 5.7.8 Error: authentication failed\r\n",
        }
        return replies.get(verb, "500 5.5.2 Error: command not recognized\r\n")


class FtpServer(StartTLSStandIn):
    """An FTP control connection with AUTH TLS (RFC 4217); anonymous logins, no data transfers.

    A stand-in because vsftpd or proftpd need their system configuration, a chroot owned by
    root and data ports; the lab needs the control channel only. "starttls" answers
    `AUTH TLS` with `234 AUTH TLS OK.`; "no_starttls" with `500 Unknown command.` (and FEAT
    lists no AUTH TLS); "refuse" with `534 Request denied for policy reasons.`. Inside TLS it
    answers USER/PASS (any login), PBSZ, PROT, FEAT, SYST, PWD, TYPE, SIZE, MDTM, REST, QUIT:
    enough for `curl -I ftp://...` to finish with no data connection.
    """

    modes = ("starttls", "no_starttls", "refuse")

    def converse(self, session: _Session) -> None:
        session.send("220 Handshake Doctor lab FTP ready.\r\n")
        while True:
            verb, _, argument = session.readline().partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                session.send("221 Goodbye.\r\n")
                return
            if verb == "AUTH" and argument.upper() in ("TLS", "SSL", "TLS-C"):
                if self.mode == "no_starttls":
                    session.send("500 Unknown command.\r\n")
                elif self.mode == "refuse":
                    session.send("534 Request denied for policy reasons.\r\n")
                elif session.secure:
                    session.send("503 Already using TLS.\r\n")
                else:
                    session.send("234 AUTH TLS OK.\r\n")
                    session.upgrade()
                continue
            session.send(self._reply(verb, argument.upper()))

    def _reply(self, verb: str, argument: str) -> str:
        if verb == "FEAT":
            features = ["MDTM", "SIZE", "REST STREAM", "UTF8"]
            if self.mode != "no_starttls":
                features = ["AUTH TLS", "PBSZ", "PROT", *features]
            return "211-Features:\r\n" + "".join(f" {f}\r\n" for f in features) + "211 End\r\n"
        if verb == "PROT":
            return "200 PROT now Private.\r\n" if argument == "P" else "536 PROT P only.\r\n"
        replies = {
            "USER": "331 Please specify the password.\r\n",
            "PASS": "230 Login successful.\r\n",
            "PBSZ": "200 PBSZ set to 0.\r\n",
            "SYST": "215 UNIX Type: L8\r\n",
            "PWD": '257 "/" is the current directory\r\n',
            "TYPE": "200 Switching to Binary mode.\r\n",
            "SIZE": "213 3\r\n",
            "MDTM": "213 20260101000000\r\n",
            "REST": "350 Restart position accepted (0).\r\n",
            "NOOP": "200 NOOP ok.\r\n",
        }
        return replies.get(verb, "500 Unknown command.\r\n")


TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
STREAMS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
_STREAM_HEADER = re.compile(rb"<(?:stream:)?stream\b[^>]*>")
_TO = re.compile(rb"""\bto\s*=\s*['"]([^'"]*)['"]""")
# A whole top-level element: self-closed, or opened and closed, or the stream's end.
_ELEMENT = re.compile(
    rb"</stream:stream>|<(?P<tag>[\w:]+)\b[^>]*?/>|<(?P<open>[\w:]+)\b[^>]*>.*?</(?P=open)>",
    re.DOTALL,
)


class XmppServer(StartTLSStandIn):
    """An XMPP client-to-server stream with STARTTLS (RFC 6120 section 5), up to SASL.

    A stand-in because Prosody and ejabberd need their system configuration, data folders
    and users (and ejabberd an Erlang node). "starttls" offers `<starttls><required/>` and
    answers `<proceed/>`; "no_starttls" offers SASL mechanisms only and answers a starttls
    with the stream error `unsupported-stanza-type`; "refuse" offers STARTTLS and answers
    `<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>`, then closes. A
    stream to a domain other than `domain` gets the stream error `host-unknown`. Inside TLS
    a fresh stream offers PLAIN, and every `<auth>` fails `not-authorized`.
    """

    modes = ("starttls", "no_starttls", "refuse")

    def __init__(
        self,
        chain_pem_path: Path,
        key_path: Path,
        *,
        mode: str = "starttls",
        domain: str = "chat.lab.test",
    ) -> None:
        super().__init__(chain_pem_path, key_path, mode=mode)
        self.domain = domain
        # The `to` of every stream header received, TLS or not.
        self.requested_domains: list[str] = []

    def _open_stream(self, session: _Session) -> bool:
        header = session.read_match(_STREAM_HEADER).group(0)
        found = _TO.search(header)
        requested = found.group(1).decode("utf-8", "replace") if found else ""
        with self._lock:
            self.requested_domains.append(requested)
        session.send(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' "
            f"id='{os.urandom(8).hex()}' from='{self.domain}' version='1.0' xml:lang='en'>"
        )
        if requested.lower() != self.domain.lower():
            self._stream_error(session, "host-unknown")
            return False
        return True

    def _stream_error(self, session: _Session, condition: str) -> None:
        session.send(
            f"<stream:error><{condition} xmlns='{STREAMS_NS}'/></stream:error></stream:stream>"
        )

    def converse(self, session: _Session) -> None:
        if not self._open_stream(session):
            return
        if self.mode == "no_starttls":
            session.send(self._mechanisms())
        else:
            session.send(
                f"<stream:features><starttls xmlns='{TLS_NS}'><required/></starttls>"
                "</stream:features>"
            )
        element = session.read_match(_ELEMENT)
        name = element.group("tag") or element.group("open")
        if name != b"starttls":
            if name is not None:
                self._stream_error(session, "policy-violation")
            else:
                session.send("</stream:stream>")
            return
        if self.mode == "no_starttls":
            self._stream_error(session, "unsupported-stanza-type")
            return
        if self.mode == "refuse":
            session.send(f"<failure xmlns='{TLS_NS}'/></stream:stream>")
            return
        session.send(f"<proceed xmlns='{TLS_NS}'/>")
        session.upgrade()
        if not self._open_stream(session):
            return
        session.send(self._mechanisms())
        while True:
            element = session.read_match(_ELEMENT)
            name = element.group("tag") or element.group("open")
            if name is None:
                session.send("</stream:stream>")
                return
            if name == b"auth":
                session.send(f"<failure xmlns='{SASL_NS}'><not-authorized/></failure>")
            else:
                self._stream_error(session, "not-authorized")
                return

    def _mechanisms(self) -> str:
        return (
            f"<stream:features><mechanisms xmlns='{SASL_NS}'><mechanism>PLAIN</mechanism>"
            "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
        )


# Capability flags of the MySQL client/server protocol.
CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
SERVER_STATUS_AUTOCOMMIT = 0x2
UTF8MB4_GENERAL_CI = 45
ER_ACCESS_DENIED_ERROR = 1045
MAX_PACKET = 65536


class MysqlServer(StartTLSStandIn):
    """A MySQL 8.0-like server that greets, switches to TLS on SSLRequest and denies access.

    A stand-in because mysqld is not installed (only the client) and a real one needs a data
    folder initialised for minutes and its own system user. It sends a protocol-10 initial
    handshake (version "8.0.36-lab", mysql_native_password); "starttls" sets CLIENT_SSL and
    upgrades when the client's 32-byte SSLRequest (sequence id 1) arrives; "no_starttls"
    leaves CLIENT_SSL out. Whatever HandshakeResponse follows (in TLS or not) is answered
    with ERR 1045 (28000) "Access denied for user '<user>'@'localhost' (using password: ..)".
    """

    modes = ("starttls", "no_starttls")
    version = "8.0.36-lab"

    def __init__(self, chain_pem_path: Path, key_path: Path, *, mode: str = "starttls") -> None:
        super().__init__(chain_pem_path, key_path, mode=mode)
        self._next_id = 0

    @property
    def capabilities(self) -> int:
        flags = (
            CLIENT_LONG_PASSWORD
            | CLIENT_FOUND_ROWS
            | CLIENT_LONG_FLAG
            | CLIENT_CONNECT_WITH_DB
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_MULTI_RESULTS
            | CLIENT_PLUGIN_AUTH
        )
        return flags | (CLIENT_SSL if self.mode == "starttls" else 0)

    def greeting(self) -> bytes:
        """The initial handshake packet's payload (protocol version 10)."""
        with self._lock:
            self._next_id += 1
            connection_id = self._next_id
        # Printable scramble bytes, as a real server makes them.
        scramble = bytes(33 + b % 94 for b in os.urandom(20))
        caps = self.capabilities
        return (
            b"\x0a"
            + self.version.encode()
            + b"\0"
            + struct.pack("<I", connection_id)
            + scramble[:8]
            + b"\0"
            + struct.pack(
                "<HBHH", caps & 0xFFFF, UTF8MB4_GENERAL_CI, SERVER_STATUS_AUTOCOMMIT, caps >> 16
            )
            + bytes([len(scramble) + 1])
            + b"\0" * 10
            + scramble[8:]
            + b"\0"
            + b"mysql_native_password\0"
        )

    @staticmethod
    def _send(session: _Session, sequence: int, payload: bytes) -> None:
        session.send(struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF]) + payload)

    @staticmethod
    def _receive(session: _Session) -> tuple[int, bytes]:
        header = session.read_exact(4)
        size = int.from_bytes(header[:3], "little")
        if size > MAX_PACKET:
            raise ValueError("packet too large")
        return header[3], session.read_exact(size)

    def converse(self, session: _Session) -> None:
        self._send(session, 0, self.greeting())
        sequence, payload = self._receive(session)
        client_caps = struct.unpack("<I", payload[:4])[0] if len(payload) >= 4 else 0
        if len(payload) == 32 and client_caps & CLIENT_SSL and self.mode == "starttls":
            # The client starts its handshake right after the SSLRequest, without waiting.
            session.upgrade()
            sequence, payload = self._receive(session)
        user = payload[32:].split(b"\0", 1)[0].decode("utf-8", "replace")
        rest = payload[32 + len(user.encode()) + 1 :]
        password = "YES" if rest[:1] not in (b"", b"\0") else "NO"
        message = f"Access denied for user '{user}'@'localhost' (using password: {password})"
        error = b"\xff" + struct.pack("<H", ER_ACCESS_DENIED_ERROR) + b"#28000" + message.encode()
        self._send(session, sequence + 1, error)
