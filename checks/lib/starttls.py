"""Speaks the plain-text start of mail, directory, database and chat protocols up to the moment
TLS begins (STARTTLS and its kin), every read bounded in bytes, lines and time."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from checks.core.check import Cancelled
from checks.core.target import Target
from checks.lib import net

# What a well-behaved server sends before TLS is a few hundred bytes; these bound a hostile one.
MAX_LINE = 2048
MAX_LINES = 200
MAX_BYTES = 64 * 1024
# The name we greet SMTP servers with: `.invalid` can never belong to anybody (RFC 2606), and
# it tells nothing about this computer.
HELO_NAME = "handshake-doctor.invalid"

# How the plain-text phase ended:
#   ok           the server agreed; the next bytes on the socket are the TLS handshake
#   not_offered  the server does not offer the upgrade (missing from its capabilities, or the
#                request is unknown to it)
#   after_auth   the server wants a login before it will switch to TLS
#   refused      the server offers the upgrade but answered the request with an error
#   unanswered   the server greeted, then never answered the request for the upgrade
#   silent       nothing arrived in time (a server that waits for TLS sends nothing)
#   stalled      the greeting began but never ended (too long, too many lines, or cut short)
#   closed       the server hung up during the plain-text phase
#   tls          the server answered with TLS records: it speaks TLS from the first byte
#   other        the server speaks another protocol (`Upgrade.spoken` names it if known)
OUTCOMES = (
    "ok",
    "not_offered",
    "after_auth",
    "refused",
    "unanswered",
    "silent",
    "stalled",
    "closed",
    "tls",
    "other",
)


@dataclass(frozen=True)
class Upgrade:
    """What the plain-text phase of one connection showed.

    Attributes:
        protocol: the protocol spoken (`smtp`, `imap`, ...).
        outcome: one of `OUTCOMES`.
        greeting: the server's first line (or its version, for MySQL), printable and short.
        offered: the capabilities the server listed before the upgrade (EHLO, CAPABILITY,
            CAPA, stream features); empty for protocols that list none.
        advertised: the upgrade was among them (None where the protocol lists nothing).
        reply: the server's answer to the upgrade request, or the last line read.
        spoken: for `other`, the protocol the reply looks like (`http`, `smtp`, ...).
    """

    protocol: str
    outcome: str
    greeting: str = ""
    offered: tuple[str, ...] = ()
    advertised: bool | None = None
    reply: str = ""
    spoken: str = ""


class UpgradeFailed(OSError):
    """The server did not let this connection switch to TLS; `upgrade` says how."""

    def __init__(self, upgrade: Upgrade) -> None:
        super().__init__(f"{upgrade.protocol} upgrade: {upgrade.outcome} {upgrade.reply}".strip())
        self.upgrade = upgrade


class _Stop(Exception):
    """Ends a dialog early with its outcome."""

    def __init__(self, outcome: str, reply: bytes | str = b"", spoken: str = "") -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.reply = reply if isinstance(reply, str) else printable(reply)
        self.spoken = spoken


def printable(data: bytes, limit: int = 160) -> str:
    """Bytes as one short line of text for the report."""
    text = "".join(chr(b) if 32 <= b < 127 else " " for b in data[: limit * 2])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def looks_like_tls(data: bytes) -> bool:
    """Whether `data` starts like a TLS record (handshake or alert) or an SSLv2 server hello."""
    if len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03 and data[2] <= 0x04:
        return True
    return len(data) >= 3 and data[0] & 0x80 != 0 and data[2] == 0x04


class _Channel:
    """A socket read through a buffer, within one deadline and the byte and line limits."""

    def __init__(self, sock: socket.socket, *, deadline: float, cancel: threading.Event) -> None:
        self.sock = sock
        self.deadline = deadline
        self.cancel = cancel
        self.buffer = bytearray()
        self.total = 0
        self.lines = 0
        self.started = False
        # The request for the upgrade has been sent: silence now is no answer to it.
        self.asked = False

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _Stop("closed", str(exc)) from exc

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        try:
            data = net.recv(self.sock, 4096, timeout=max(0.0, left), cancel=self.cancel)
        except TimeoutError:
            waited = "unanswered" if self.asked else "stalled" if self.started else "silent"
            raise _Stop(waited, bytes(self.buffer)) from None
        except Cancelled:
            raise
        except OSError as exc:
            raise _Stop("closed", str(exc)) from exc
        if not data:
            raise _Stop("closed", bytes(self.buffer))
        if not self.started and looks_like_tls(data):
            raise _Stop("tls", data)
        self.started = True
        self.total += len(data)
        if self.total > MAX_BYTES:
            raise _Stop("stalled", bytes(self.buffer[-160:]))
        self.buffer += data

    def line(self) -> bytes:
        """One line without its ending."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_LINE:
                raise _Stop("stalled", bytes(self.buffer[:160]))
            self._fill()
        line, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1 :]
        self.lines += 1
        if len(line) > MAX_LINE or self.lines > MAX_LINES:
            raise _Stop("stalled", line[:160])
        return line.rstrip(b"\r")

    def exactly(self, size: int) -> bytes:
        if size > MAX_BYTES:
            raise _Stop("other", f"a message of {size} bytes")
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
        return data

    def until(self, pattern: re.Pattern[bytes]) -> bytes:
        """Everything up to the end of the first match of `pattern`."""
        while (match := pattern.search(self.buffer)) is None:
            self._fill()
        data, self.buffer = bytes(self.buffer[: match.end()]), self.buffer[match.end() :]
        return data


def sniff_protocol(data: bytes) -> str:
    """Name the plain-text protocol a reply looks like: `http`, `ssh`, `smtp`, `ftp`, `imap`,
    `pop3` or `unknown` (for a port that is not TLS, or not the protocol expected)."""
    head = data[:16].upper()
    if head.startswith(b"HTTP/") or b"<HTML" in data[:64].upper():
        return "http"
    if head.startswith(b"SSH-"):
        return "ssh"
    if head.startswith((b"220 ", b"220-")):
        return "ftp" if b"FTP" in data.upper() else "smtp"
    if head.startswith(b"* OK"):
        return "imap"
    if head.startswith(b"+OK"):
        return "pop3"
    return "unknown"


def _other(line: bytes) -> _Stop:
    return _Stop("other", line, sniff_protocol(line))


_AUTH_WORDS = re.compile(rb"auth|login|log in", re.IGNORECASE)


# -- SMTP (RFC 3207) and FTP (RFC 4217): numbered replies, `NNN-` continues a reply ------------


def _numbered_reply(channel: _Channel) -> tuple[int, list[bytes]]:
    lines = [channel.line()]
    while len(lines[-1]) > 3 and lines[-1][3:4] == b"-":
        lines.append(channel.line())
    code = lines[-1][:3]
    if not code.isdigit():
        raise _other(lines[0])
    return int(code), lines


def _smtp(channel: _Channel, host: str) -> dict[str, object]:
    code, lines = _numbered_reply(channel)
    greeting = lines[0]
    if code != 220:
        raise _Stop("refused" if code in (421, 554) else "other", greeting)
    channel.send(f"EHLO {HELO_NAME}\r\n".encode("ascii"))
    code, lines = _numbered_reply(channel)
    offered = tuple(printable(line[4:]).split(" ")[0].upper() for line in lines[1:])
    advertised = "STARTTLS" in offered
    channel.asked = True
    channel.send(b"STARTTLS\r\n")
    code, reply = _numbered_reply(channel)
    return _judge_numbered(code, reply[-1], greeting, offered, advertised, ok=220)


def _ftp(channel: _Channel, host: str) -> dict[str, object]:
    code, lines = _numbered_reply(channel)
    greeting = lines[0]
    if code != 220:
        raise _Stop("refused" if code in (421, 530) else "other", greeting)
    channel.asked = True
    channel.send(b"AUTH TLS\r\n")
    code, reply = _numbered_reply(channel)
    return _judge_numbered(code, reply[-1], greeting, (), None, ok=234)


def _judge_numbered(
    code: int,
    reply: bytes,
    greeting: bytes,
    offered: tuple[str, ...],
    advertised: bool | None,
    *,
    ok: int,
) -> dict[str, object]:
    found: dict[str, object] = {
        "greeting": printable(greeting),
        "offered": offered,
        "advertised": advertised,
        "reply": printable(reply),
    }
    if code == ok:
        return {**found, "outcome": "ok"}
    if code == 530 or (code >= 500 and _AUTH_WORDS.search(reply) and code not in (500, 502)):
        outcome = "after_auth"
    elif code in (500, 502, 504) or advertised is False:
        outcome = "not_offered"
    else:
        outcome = "refused"
    return {**found, "outcome": outcome}


# -- IMAP (RFC 2595, 9051) -------------------------------------------------------------------


def _imap_tagged(channel: _Channel, tag: bytes) -> tuple[bytes, list[bytes]]:
    untagged: list[bytes] = []
    while True:
        line = channel.line()
        if line.startswith(tag + b" "):
            return line, untagged
        untagged.append(line)


def _imap(channel: _Channel, host: str) -> dict[str, object]:
    greeting = channel.line()
    upper = greeting.upper()
    if upper.startswith(b"* BYE"):
        raise _Stop("refused", greeting)
    if upper.startswith(b"* PREAUTH"):
        # Already logged in: RFC 2595 allows STARTTLS only before that.
        raise _Stop("after_auth", greeting)
    if not upper.startswith(b"* OK"):
        raise _other(greeting)
    channel.send(b"hd1 CAPABILITY\r\n")
    _, untagged = _imap_tagged(channel, b"hd1")
    words = b" ".join(line[13:] for line in untagged if line.upper().startswith(b"* CAPABILITY"))
    offered = tuple(printable(words, 2000).upper().split())
    advertised = "STARTTLS" in offered
    channel.asked = True
    channel.send(b"hd2 STARTTLS\r\n")
    reply, _ = _imap_tagged(channel, b"hd2")
    status = reply[4:].split(b" ", 1)[0].upper()
    found: dict[str, object] = {
        "greeting": printable(greeting),
        "offered": offered,
        "advertised": advertised,
        "reply": printable(reply),
    }
    if status == b"OK":
        return {**found, "outcome": "ok"}
    if not advertised:
        return {**found, "outcome": "not_offered"}
    return {**found, "outcome": "after_auth" if _AUTH_WORDS.search(reply) else "refused"}


# -- POP3 (RFC 2595, 2449) -------------------------------------------------------------------


def _pop3(channel: _Channel, host: str) -> dict[str, object]:
    greeting = channel.line()
    if greeting.startswith(b"-ERR"):
        raise _Stop("refused", greeting)
    if not greeting.startswith(b"+OK"):
        raise _other(greeting)
    channel.send(b"CAPA\r\n")
    answer = channel.line()
    offered: tuple[str, ...] = ()
    if answer.startswith(b"+OK"):
        listed = []
        while (line := channel.line()) != b".":
            listed.append(printable(line).split(" ")[0].upper())
        offered = tuple(listed)
    advertised = "STLS" in offered if offered else None
    channel.asked = True
    channel.send(b"STLS\r\n")
    reply = channel.line()
    found: dict[str, object] = {
        "greeting": printable(greeting),
        "offered": offered,
        "advertised": advertised,
        "reply": printable(reply),
    }
    if reply.startswith(b"+OK"):
        return {**found, "outcome": "ok"}
    if advertised is not True:
        return {**found, "outcome": "not_offered"}
    return {**found, "outcome": "after_auth" if _AUTH_WORDS.search(reply) else "refused"}


# -- XMPP (RFC 6120 section 5) ---------------------------------------------------------------

_FEATURES_END = re.compile(rb"</stream:features>|<stream:features\s*/>|</stream:stream>")
_TLS_ANSWER = re.compile(rb"<proceed[^>]*>|<failure[^>]*>|</stream:stream>")


def _xmpp(channel: _Channel, host: str) -> dict[str, object]:
    header = (
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' "
        f"to='{host}' version='1.0'>"
    )
    channel.send(header.encode("utf-8"))
    try:
        features = channel.until(_FEATURES_END)
    except _Stop as stop:
        if stop.outcome == "stalled" and not channel.buffer.lstrip().startswith(b"<"):
            raise _other(bytes(channel.buffer)) from None
        raise
    greeting = printable(features[features.find(b"<stream:stream") :] or features)
    if b"<stream:error" in features:
        raise _Stop("refused", features[features.find(b"<stream:error") :])
    advertised = b"<starttls" in features
    offered = tuple(
        name.decode("ascii", "replace")
        for name in re.findall(rb"<(?!stream)([a-z-]+)[\s>/]", features.split(b"features", 1)[-1])
    )
    found: dict[str, object] = {
        "greeting": greeting,
        "offered": offered,
        "advertised": advertised,
    }
    if not advertised:
        return {**found, "outcome": "not_offered", "reply": greeting}
    channel.asked = True
    channel.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    answer = channel.until(_TLS_ANSWER)
    outcome = "ok" if b"<proceed" in answer else "refused"
    return {**found, "outcome": outcome, "reply": printable(answer)}


# -- LDAP StartTLS extended operation (RFC 4511 section 4.14) ---------------------------------

_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_LDAP_REQUEST = (
    b"\x30"
    + bytes([3 + 2 + 2 + len(_STARTTLS_OID)])
    + b"\x02\x01\x01"
    + b"\x77"
    + bytes([2 + len(_STARTTLS_OID)])
    + b"\x80"
    + bytes([len(_STARTTLS_OID)])
    + _STARTTLS_OID
)
# Result codes: 2 protocolError (an unknown extended operation, RFC 4511 4.12),
# 52 unavailable and 53 unwillingToPerform (the server has TLS switched off).
_LDAP_NOT_OFFERED = {2, 52, 53}
_LDAP_RESULT_NAMES = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    8: "strongerAuthRequired",
    13: "confidentialityRequired",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


def _ber_length(channel: _Channel) -> int:
    first = channel.exactly(1)[0]
    if first < 0x80:
        return first
    count = first & 0x7F
    if not 1 <= count <= 4:
        raise _Stop("other", f"a BER length of {count} bytes")
    return int.from_bytes(channel.exactly(count), "big")


def _ber_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) pairs of a run of BER elements; stops at anything malformed."""
    items, at = [], 0
    while at + 2 <= len(data):
        tag, length, at = data[at], data[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            length, at = int.from_bytes(data[at : at + count], "big"), at + count
        items.append((tag, data[at : at + length]))
        at += length
    return items


def _ldap(channel: _Channel, host: str) -> dict[str, object]:
    channel.send(_LDAP_REQUEST)
    tag = channel.exactly(1)
    if tag != b"\x30":
        raise _other(tag + bytes(channel.buffer))
    message = channel.exactly(_ber_length(channel))
    parts = _ber_items(message)
    response = next((value for tag, value in parts if tag in (0x78, 0x65, 0x61)), None)
    fields = _ber_items(response) if response is not None else []
    if len(fields) < 3 or fields[0][0] != 0x0A:
        raise _other(message)
    code = int.from_bytes(fields[0][1], "big")
    said = fields[2][1].decode("utf-8", "replace")
    reply = f"{code} {_LDAP_RESULT_NAMES.get(code, 'result')}" + (f": {said}" if said else "")
    if code == 0:
        outcome = "ok"
    elif code in _LDAP_NOT_OFFERED:
        outcome = "not_offered"
    elif code in (8, 13, 50):
        outcome = "after_auth"
    else:
        outcome = "refused"
    return {"outcome": outcome, "reply": printable(reply.encode())}


# -- PostgreSQL SSLRequest (protocol 3, section 55.2.10) -------------------------------------

_SSL_REQUEST = struct.pack("!II", 8, 80877103)


def _postgres(channel: _Channel, host: str) -> dict[str, object]:
    channel.send(_SSL_REQUEST)
    answer = channel.exactly(1)
    if answer == b"S":
        return {"outcome": "ok", "reply": "S"}
    if answer == b"N":
        return {"outcome": "not_offered", "reply": "N (this server has SSL switched off)"}
    if answer == b"E":
        # An error instead of a yes or no: a server too old for SSLRequest, or one refusing us.
        size = struct.unpack("!I", channel.exactly(4))[0]
        body = channel.exactly(max(0, min(size - 4, MAX_LINE)))
        message = next((p[1:] for p in body.split(b"\0") if p[:1] == b"M"), body)
        return {"outcome": "refused", "reply": printable(message)}
    raise _other(answer + bytes(channel.buffer))


# -- MySQL / MariaDB: the SSL capability flag in the server's greeting -------------------------

_CLIENT_LONG_PASSWORD = 0x1
_CLIENT_PROTOCOL_41 = 0x200
_CLIENT_SSL = 0x800
_CLIENT_SECURE_CONNECTION = 0x8000
_CLIENT_PLUGIN_AUTH = 0x80000
_UTF8MB4 = 45


def _mysql(channel: _Channel, host: str) -> dict[str, object]:
    header = channel.exactly(4)
    size = int.from_bytes(header[:3], "little")
    if size > MAX_LINE * 4 or header[3] != 0:
        raise _other(header + bytes(channel.buffer))
    payload = channel.exactly(size)
    if payload[:1] == b"\xff":
        # An error packet instead of a greeting: "Host '…' is not allowed to connect", "Too many
        # connections"; after the 2-byte code comes the message.
        raise _Stop("refused", payload[3:])
    if payload[:1] != b"\x0a" or b"\0" not in payload[1:64]:
        raise _other(payload)
    version, _, rest = payload[1:].partition(b"\0")
    # connection id (4), auth data (8), filler (1), then the capability flags' lower half.
    if len(rest) < 15:
        raise _other(payload)
    capabilities = int.from_bytes(rest[13:15], "little")
    if len(rest) >= 20:
        capabilities |= int.from_bytes(rest[18:20], "little") << 16
    found: dict[str, object] = {"greeting": printable(version), "advertised": False}
    if not capabilities & _CLIENT_SSL:
        return {**found, "outcome": "not_offered", "reply": "the SSL flag is off"}
    flags = (
        _CLIENT_LONG_PASSWORD
        | _CLIENT_PROTOCOL_41
        | _CLIENT_SSL
        | _CLIENT_SECURE_CONNECTION
        | _CLIENT_PLUGIN_AUTH
    )
    request = struct.pack("<IIB23x", flags, 16 * 1024 * 1024, _UTF8MB4)
    channel.send(len(request).to_bytes(3, "little") + b"\x01" + request)
    return {**found, "advertised": True, "outcome": "ok", "reply": "the SSL flag is on"}


_DIALOGS: dict[str, Callable[[_Channel, str], dict[str, object]]] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
    "xmpp": _xmpp,
    "ldap": _ldap,
    "postgres": _postgres,
    "mysql": _mysql,
}
# Protocols in which the server speaks first: silence from them means no greeting at all.
SERVER_FIRST = frozenset({"smtp", "imap", "pop3", "ftp", "mysql"})


def upgrade(
    sock: socket.socket, protocol: str, *, host: str, timeout: float, cancel: threading.Event
) -> Upgrade:
    """Speak `protocol` on the connected `sock` until TLS may begin, within `timeout` seconds
    in all; `host` is the name XMPP addresses. Raises only `Cancelled`."""
    channel = _Channel(sock, deadline=time.monotonic() + timeout, cancel=cancel)
    try:
        found = _DIALOGS[protocol](channel, host)
    except _Stop as stop:
        return Upgrade(protocol, stop.outcome, reply=stop.reply, spoken=stop.spoken)
    return Upgrade(
        protocol,
        str(found["outcome"]),
        greeting=str(found.get("greeting", "")),
        offered=tuple(found.get("offered", ())),  # type: ignore[arg-type]
        advertised=found.get("advertised"),  # type: ignore[arg-type]
        reply=str(found.get("reply", "")),
    )


@dataclass(frozen=True)
class Opening:
    """How every connection to a target begins before TLS: `protocol`'s upgrade, with `host`
    the name the protocol addresses (XMPP's `to`)."""

    protocol: str
    host: str


def opening(target: Target) -> Opening | None:
    """The opening of `target`'s connections: None when TLS starts at once."""
    if target.starttls is None:
        return None
    return Opening(target.starttls, target.sni or target.host)


def connect(
    address: str,
    port: int,
    opening: Opening | None,
    *,
    timeout: float,
    cancel: threading.Event,
) -> socket.socket:
    """A TCP connection on which the next bytes are the TLS handshake, upgraded first when
    there is an `opening`. Raises `net.ConnectError`, `UpgradeFailed` or `Cancelled`."""
    sock = net.connect(address, port, timeout=timeout, cancel=cancel)
    if opening is None:
        return sock
    try:
        done = upgrade(sock, opening.protocol, host=opening.host, timeout=timeout, cancel=cancel)
    except BaseException:
        sock.close()
        raise
    if done.outcome != "ok":
        sock.close()
        raise UpgradeFailed(done)
    return sock
