"""Hand-built ClientHello messages and a strict, bounded parser of a server's first reply."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from checks.core.target import to_ascii
from checks.lib import net
from checks.lib.cipher_suites import GROUP_NAMES

VERSION_CODES: Mapping[str, int] = {
    "SSLv2": 0x0002,
    "SSLv3": 0x0300,
    "TLSv1.0": 0x0301,
    "TLSv1.1": 0x0302,
    "TLSv1.2": 0x0303,
    "TLSv1.3": 0x0304,
}
VERSION_NAMES: Mapping[int, str] = {code: name for name, code in VERSION_CODES.items()}

# RFC 8446 5.1: a record's payload is at most 2^14 bytes, plus 2048 of expansion when encrypted.
RECORD_LIMIT = 2**14 + 2048
_RECORD_HEADER = 5
# Everything we read of one reply: the ServerHello, and at most the certificate chain and key
# exchange behind it. A bigger flight is cut off here, never buffered further.
MAX_REPLY_BYTES = 128 * 1024
# At most this many suites in one ClientHello: some servers (and middleboxes) fail larger ones.
MAX_SUITES_PER_HELLO = 128

# RFC 8446 4.1.3: a HelloRetryRequest's `random` is this constant, SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

_CONTENT_CCS, _CONTENT_ALERT, _CONTENT_HANDSHAKE, _CONTENT_APPDATA = 20, 21, 22, 23
_HS_CLIENT_HELLO, _HS_SERVER_HELLO = 1, 2
_HS_CERTIFICATE, _HS_SERVER_KEY_EXCHANGE = 11, 12
_HS_CERTIFICATE_REQUEST, _HS_SERVER_HELLO_DONE = 13, 14
_HS_CERTIFICATE_STATUS = 22

EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_PADDING = 21
EXT_SUPPORTED_VERSIONS = 43
EXT_PSK_MODES = 45
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01
SCSV_RENEGOTIATION = 0x00FF

ALL_GROUPS: tuple[int, ...] = tuple(GROUP_NAMES)
# A broad list, so that no server refuses us for want of a signature scheme it accepts.
SIGNATURE_ALGORITHMS: tuple[int, ...] = (
    0x0403,  # ecdsa_secp256r1_sha256
    0x0503,  # ecdsa_secp384r1_sha384
    0x0603,  # ecdsa_secp521r1_sha512
    0x0807,  # ed25519
    0x0808,  # ed448
    0x0804,  # rsa_pss_rsae_sha256
    0x0805,  # rsa_pss_rsae_sha384
    0x0806,  # rsa_pss_rsae_sha512
    0x0809,  # rsa_pss_pss_sha256
    0x080A,  # rsa_pss_pss_sha384
    0x080B,  # rsa_pss_pss_sha512
    0x081A,  # ecdsa_brainpoolP256r1tls13_sha256
    0x081B,  # ecdsa_brainpoolP384r1tls13_sha384
    0x081C,  # ecdsa_brainpoolP512r1tls13_sha512
    0x0401,  # rsa_pkcs1_sha256
    0x0501,  # rsa_pkcs1_sha384
    0x0601,  # rsa_pkcs1_sha512
    0x0303,  # ecdsa sha224
    0x0301,  # rsa sha224
    0x0302,  # dsa sha224
    0x0402,  # dsa sha256
    0x0502,  # dsa sha384
    0x0602,  # dsa sha512
    0x0203,  # ecdsa_sha1
    0x0201,  # rsa_pkcs1_sha1
    0x0202,  # dsa sha1
)
# SSLv2 cipher kinds, three bytes each, offered when probing for SSLv2.
SSLV2_CIPHER_KINDS: tuple[int, ...] = (
    0x010080,
    0x020080,
    0x030080,
    0x040080,
    0x050080,
    0x060040,
    0x0700C0,
)

ReplyKind = Literal["server_hello", "hello_retry", "alert", "sslv2", "sslv2_error"]


class WireError(Exception):
    """The peer's bytes are not a well-formed TLS (or SSLv2) reply, or exceed our limits."""


# --- building ------------------------------------------------------------------------------


def _u8(value: int) -> bytes:
    return struct.pack("!B", value)


def _u16(value: int) -> bytes:
    return struct.pack("!H", value)


def _u24(value: int) -> bytes:
    return struct.pack("!I", value)[1:]


def _vec8(body: bytes) -> bytes:
    return _u8(len(body)) + body


def _vec16(body: bytes) -> bytes:
    return _u16(len(body)) + body


def _extension(kind: int, body: bytes) -> bytes:
    return _u16(kind) + _vec16(body)


def _sni(host: str) -> bytes:
    name = to_ascii(host).encode("ascii")
    return _extension(EXT_SERVER_NAME, _vec16(_u8(0) + _vec16(name)))


def key_shares() -> dict[int, bytes]:
    """Fresh public keys for x25519 and secp256r1, for the TLS 1.3 `key_share` extension.

    The handshake never gets as far as using them, so one set may serve a whole scan.
    """
    x = x25519.X25519PrivateKey.generate().public_key()
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {
        0x001D: x.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        0x0017: p256.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
    }


def client_hello(
    version: str,
    suites: Sequence[int],
    *,
    sni: str | None = None,
    groups: Sequence[int] = ALL_GROUPS,
    shares: Mapping[int, bytes] | None = None,
    random: bytes | None = None,
) -> bytes:
    """One TLS record holding a ClientHello that offers exactly `version` and `suites`.

    SSLv3 hellos carry no extensions (servers of that age may choke on them) but the
    renegotiation SCSV; TLS 1.0 to 1.2 add SNI, groups, point formats, renegotiation_info and,
    for 1.2, signature algorithms; TLS 1.3 offers only 1.3 in `supported_versions` with key
    shares from `shares` (an empty mapping asks the server for a HelloRetryRequest).
    """
    if version not in VERSION_CODES or version == "SSLv2":
        raise ValueError(f"no TLS ClientHello for {version!r}")
    if not 0 < len(suites) <= MAX_SUITES_PER_HELLO:
        raise ValueError(f"offer 1 to {MAX_SUITES_PER_HELLO} suites, not {len(suites)}")
    code = VERSION_CODES[version]
    tls13 = version == "TLSv1.3"
    legacy_version = 0x0303 if tls13 else code
    offered = list(suites)
    if version == "SSLv3":
        offered.append(SCSV_RENEGOTIATION)
    extensions = b""
    if version != "SSLv3":
        parts = []
        if sni:
            parts.append(_sni(sni))
        parts.append(_extension(EXT_SUPPORTED_GROUPS, _vec16(b"".join(_u16(g) for g in groups))))
        if not tls13:
            parts.append(_extension(EXT_EC_POINT_FORMATS, _vec8(b"\x00")))
            parts.append(_extension(EXT_RENEGOTIATION_INFO, _vec8(b"")))
        if version in ("TLSv1.2", "TLSv1.3"):
            algs = b"".join(_u16(a) for a in SIGNATURE_ALGORITHMS)
            parts.append(_extension(EXT_SIGNATURE_ALGORITHMS, _vec16(algs)))
        if tls13:
            parts.append(_extension(EXT_SUPPORTED_VERSIONS, _vec8(_u16(0x0304))))
            parts.append(_extension(EXT_PSK_MODES, _vec8(b"\x01")))
            entries = b"".join(_u16(g) + _vec16(k) for g, k in (shares or {}).items())
            parts.append(_extension(EXT_KEY_SHARE, _vec16(entries)))
        extensions = b"".join(parts)
    session_id = os.urandom(32) if tls13 else b""
    body_start = (
        _u16(legacy_version)
        + (random if random is not None else os.urandom(32))
        + _vec8(session_id)
        + _vec16(b"".join(_u16(s) for s in offered))
        + _vec8(b"\x00")
    )
    # RFC 7685: some servers hang on hellos of 256 to 511 bytes; padding steps over that range.
    size = 4 + len(body_start) + (2 + len(extensions) if extensions else 0)
    if extensions and 256 <= size < 512:
        pad = max(0, 512 - size - 4)
        extensions += _extension(EXT_PADDING, b"\x00" * pad)
    body = body_start + (_vec16(extensions) if extensions else b"")
    handshake = _u8(_HS_CLIENT_HELLO) + _u24(len(body)) + body
    record_version = min(code, 0x0301)
    return _u8(_CONTENT_HANDSHAKE) + _u16(record_version) + _vec16(handshake)


def sslv2_client_hello(
    kinds: Sequence[int] = SSLV2_CIPHER_KINDS, *, challenge: bytes | None = None
) -> bytes:
    """An SSLv2 CLIENT-HELLO (two-byte record header) offering only SSL 2.0."""
    challenge = challenge if challenge is not None else os.urandom(16)
    specs = b"".join(struct.pack("!I", k)[1:] for k in kinds)
    message = (
        _u8(1)
        + _u16(0x0002)
        + _u16(len(specs))
        + _u16(0)
        + _u16(len(challenge))
        + specs
        + challenge
    )
    return _u16(0x8000 | len(message)) + message


# --- parsing -------------------------------------------------------------------------------


class _Reader:
    """A cursor over bytes whose every read is bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, size: int) -> bytes:
        if size < 0 or size > self.left:
            raise WireError(f"needs {size} bytes, {self.left} left")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def end(self, what: str) -> None:
        if self.left:
            raise WireError(f"{self.left} stray bytes after {what}")


@dataclass(frozen=True)
class Reply:
    """What the server answered to one hello.

    Attributes:
        kind: `server_hello`, `hello_retry` (TLS 1.3 HelloRetryRequest), `alert`, `sslv2`
            (an SSLv2 SERVER-HELLO) or `sslv2_error`.
        version: the negotiated version code (`supported_versions` when present).
        cipher: the chosen suite's code point.
        group: the key-share group of a ServerHello or HelloRetryRequest.
        extensions: extension types of the ServerHello, in order.
        alert: the alert description (RFC 8446 6), for `alert`.
        sslv2_kinds: cipher kinds an SSLv2 server listed.
        key_exchange: the body of the ServerKeyExchange, when asked for and sent.
        complete: False when the flight after the ServerHello was cut off.
    """

    kind: ReplyKind
    version: int | None = None
    cipher: int | None = None
    group: int | None = None
    extensions: tuple[int, ...] = ()
    alert: int | None = None
    sslv2_kinds: tuple[int, ...] = ()
    key_exchange: bytes | None = None
    complete: bool = True


def _parse_server_hello(body: bytes) -> Reply:
    reader = _Reader(body)
    legacy_version = reader.u16()
    random = reader.take(32)
    session_id = reader.vec8()
    if len(session_id) > 32:
        raise WireError("session id longer than 32 bytes")
    cipher = reader.u16()
    compression = reader.u8()
    if compression != 0:
        raise WireError(f"compression method {compression}")
    kinds: list[int] = []
    version, group = legacy_version, None
    if reader.left:
        extensions = _Reader(reader.vec16())
        reader.end("ServerHello extensions")
        while extensions.left:
            kind = extensions.u16()
            data = _Reader(extensions.vec16())
            if kind in kinds:
                raise WireError(f"extension {kind} repeated")
            kinds.append(kind)
            if kind == EXT_SUPPORTED_VERSIONS:
                version = data.u16()
                data.end("supported_versions")
            elif kind == EXT_KEY_SHARE:
                group = data.u16()
                if random != HRR_RANDOM:
                    data.vec16()
                data.end("key_share")
    hrr = random == HRR_RANDOM
    if version not in VERSION_NAMES or version == 0x0002:
        raise WireError(f"server chose unknown version 0x{version:04x}")
    if hrr and version != 0x0304:
        raise WireError("HelloRetryRequest outside TLS 1.3")
    return Reply(
        "hello_retry" if hrr else "server_hello",
        version=version,
        cipher=cipher,
        group=group,
        extensions=tuple(kinds),
    )


def _parse_sslv2(message: bytes) -> Reply:
    reader = _Reader(message)
    kind = reader.u8()
    if kind == 0:  # ERROR
        reader.u16()
        reader.end("SSLv2 ERROR")
        return Reply("sslv2_error", version=0x0002)
    if kind != 4:
        raise WireError(f"SSLv2 message type {kind}, expected SERVER-HELLO")
    reader.u8()  # session id hit
    reader.u8()  # certificate type
    version = reader.u16()
    cert_len, specs_len, conn_len = reader.u16(), reader.u16(), reader.u16()
    if specs_len % 3:
        raise WireError("SSLv2 cipher specs not a multiple of 3 bytes")
    reader.take(cert_len)
    specs = reader.take(specs_len)
    reader.take(conn_len)
    reader.end("SSLv2 SERVER-HELLO")
    kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_len, 3))
    return Reply("sslv2", version=version, sslv2_kinds=kinds)


@dataclass
class ReplyParser:
    """Feeds on the server's bytes until it has a whole reply; never buffers past its limits.

    With `key_exchange`, parsing goes on after a TLS 1.0 to 1.2 ServerHello until the
    ServerKeyExchange or ServerHelloDone, so that DH sizes and curves can be read.
    """

    key_exchange: bool = False
    total: int = 0
    _pending: bytearray = field(default_factory=bytearray)
    _handshake: bytearray = field(default_factory=bytearray)
    _hello: Reply | None = None
    _done: Reply | None = None

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a record or message."""
        return len(self._pending) + len(self._handshake)

    def partial(self) -> Reply | None:
        """The ServerHello read so far, marked incomplete, when the flight behind it is cut."""
        if self._done is not None:
            return self._done
        if self._hello is None:
            return None
        return replace(self._hello, complete=False)

    def wanted(self) -> int:
        """How many bytes to read next: never more than one record."""
        pending = self._pending
        if len(pending) < _RECORD_HEADER:
            return _RECORD_HEADER - len(pending)
        if pending[0] & 0x80:
            size = ((pending[0] & 0x7F) << 8) | pending[1]
            need = 2 + size - len(pending)
        else:
            need = _RECORD_HEADER + int.from_bytes(pending[3:5], "big") - len(pending)
        return max(1, min(need, _RECORD_HEADER + RECORD_LIMIT))

    def feed(self, data: bytes) -> Reply | None:
        """Take more bytes; the reply once complete, else None; `WireError` when malformed."""
        if self._done is not None:
            return self._done
        self.total += len(data)
        if self.total > MAX_REPLY_BYTES:
            if self._hello is not None:
                self._done = self.partial()
                return self._done
            raise WireError(f"over {MAX_REPLY_BYTES} bytes without a ServerHello")
        self._pending += data
        while self._done is None:
            record = self._next_record()
            if record is None:
                break
            self._record(*record)
        return self._done

    def _next_record(self) -> tuple[int, bytes] | None:
        pending = self._pending
        if not pending:
            return None
        if pending[0] & 0x80 and self._hello is None and not self._handshake:
            if len(pending) < 2:
                return None
            size = ((pending[0] & 0x7F) << 8) | pending[1]
            if not 0 < size <= RECORD_LIMIT:
                raise WireError(f"SSLv2 record of {size} bytes")
            if len(pending) < 2 + size:
                return None
            message = bytes(pending[2 : 2 + size])
            del pending[: 2 + size]
            return -2, message
        if pending[0] not in (_CONTENT_CCS, _CONTENT_ALERT, _CONTENT_HANDSHAKE, _CONTENT_APPDATA):
            raise WireError(f"record type {pending[0]}")
        if len(pending) < _RECORD_HEADER:
            return None
        content, major, minor = pending[0], pending[1], pending[2]
        size = int.from_bytes(pending[3:5], "big")
        if major != 3 or minor > 4:
            raise WireError(f"record version {major}.{minor}")
        if not 0 < size <= RECORD_LIMIT:
            raise WireError(f"record of {size} bytes")
        if len(pending) < _RECORD_HEADER + size:
            return None
        payload = bytes(pending[_RECORD_HEADER : _RECORD_HEADER + size])
        del pending[: _RECORD_HEADER + size]
        return content, payload

    def _record(self, content: int, payload: bytes) -> None:
        if content == -2:
            self._done = _parse_sslv2(payload)
        elif content == _CONTENT_ALERT:
            if self._handshake:
                raise WireError("alert inside a fragmented handshake message")
            if len(payload) < 2:
                raise WireError("alert record shorter than 2 bytes")
            if self._hello is not None:
                self._done = self.partial()
                return
            self._done = Reply("alert", alert=payload[1])
        elif content == _CONTENT_HANDSHAKE:
            self._handshake += payload
            self._messages()
        elif self._hello is None:
            raise WireError(f"record type {content} before the ServerHello")
        else:  # a TLS 1.3 ChangeCipherSpec or encrypted data: the part we read is over
            self._done = self.partial()

    def _messages(self) -> None:
        buffer = self._handshake
        while self._done is None and len(buffer) >= 4:
            kind = buffer[0]
            size = int.from_bytes(buffer[1:4], "big")
            if size > MAX_REPLY_BYTES:
                if self._hello is None:
                    raise WireError(f"handshake message of {size} bytes")
                self._done = self.partial()
                return
            if len(buffer) < 4 + size:
                return
            body = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            self._message(kind, body)

    def _message(self, kind: int, body: bytes) -> None:
        if self._hello is None:
            if kind != _HS_SERVER_HELLO:
                raise WireError(f"handshake message {kind} before the ServerHello")
            self._hello = _parse_server_hello(body)
            if (
                not self.key_exchange
                or self._hello.kind == "hello_retry"
                or self._hello.version == 0x0304
            ):
                self._done = self._hello
            return
        if kind == _HS_SERVER_KEY_EXCHANGE:
            self._done = replace(self._hello, key_exchange=body)
        elif kind in (_HS_SERVER_HELLO_DONE, _HS_CERTIFICATE_REQUEST):
            self._done = self._hello
        elif kind not in (_HS_CERTIFICATE, _HS_CERTIFICATE_STATUS):
            raise WireError(f"handshake message {kind} after the ServerHello")


def parse_reply(data: bytes, *, key_exchange: bool = False) -> Reply:
    """Parse a whole reply held in memory; `WireError` when it is malformed or incomplete."""
    parser = ReplyParser(key_exchange=key_exchange)
    reply = parser.feed(data)
    if reply is None:
        reply = parser.partial()
    if reply is None:
        raise WireError("reply ends before a ServerHello or alert")
    return reply


@dataclass(frozen=True)
class DhParams:
    """The finite-field Diffie-Hellman values of a ServerKeyExchange (RFC 5246 7.4.3): the prime
    `p`, the generator `g` and the server's public value `ys` = g^x mod p."""

    p: int
    g: int
    ys: int


def dh_params(key_exchange: bytes) -> DhParams:
    """p, g and Ys of a (DHE) ServerKeyExchange; the signature behind them is not read."""
    reader = _Reader(key_exchange)
    p, g, ys = (int.from_bytes(reader.vec16(), "big") for _ in range(3))
    if not p:
        raise WireError("empty DH prime")
    return DhParams(p, g, ys)


def dh_bits(key_exchange: bytes) -> int:
    """The size of the DH prime in a (DHE) ServerKeyExchange, in bits."""
    return dh_params(key_exchange).p.bit_length()


def ecdhe_group(key_exchange: bytes) -> int:
    """The named group of an (ECDHE) ServerKeyExchange."""
    reader = _Reader(key_exchange)
    if reader.u8() != 3:
        raise WireError("ECDHE parameters without a named curve")
    return reader.u16()


# --- exchanging ----------------------------------------------------------------------------


def exchange(
    sock: socket.socket,
    hello: bytes,
    *,
    timeout: float,
    cancel: threading.Event,
    key_exchange: bool = False,
) -> Reply | None:
    """Send `hello` and read the reply; None when the server closes without one.

    Raises `WireError` for a malformed reply, `TimeoutError` when it does not come in time,
    `Cancelled` on cancel.
    """
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        sock.sendall(hello)
    except OSError:
        return None  # a server that hangs up on the hello has refused it
    parser = ReplyParser(key_exchange=key_exchange)
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError(f"no reply within {timeout:g} s")
            data = net.recv(sock, min(parser.wanted(), RECORD_LIMIT), timeout=left, cancel=cancel)
        except TimeoutError:
            partial = parser.partial()
            if partial is not None:
                return partial
            raise
        except (ConnectionError, OSError):
            data = b""
        if not data:
            return parser.partial()
        reply = parser.feed(data)
        if reply is not None:
            return reply
