"""A loopback UDP NTP server for tests, whose answers (offset, kiss, garbage, silence) they set."""

from __future__ import annotations

import contextlib
import secrets
import select
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Literal, Self

# Packed here with `struct` rather than with checks.ntp, so that an encoding bug in the client
# cannot be cancelled out by the same bug in the server.
_FORMAT = "!BBbbII4sQQQQ"
_NTP_TO_UNIX = 2_208_988_800
POLL = 0.1
JOIN_TIMEOUT = 5.0

Reply = Literal["answer", "garbage", "silent", "wrong_origin", "zero_transmit"]


def to_ntp(unix_seconds: float) -> int:
    """Unix seconds as a 64-bit NTP timestamp (era 0 wraps in 2036, as on the wire)."""
    whole = int(unix_seconds // 1)
    fraction = int((unix_seconds - whole) * 2**32) & 0xFFFFFFFF
    return (((whole + _NTP_TO_UNIX) % 2**32) << 32) | fraction


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on `host` that was free a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class NtpServer:
    """An SNTP server on `host` whose answers follow the public attributes, changeable any time.

    Attributes:
        offset_s: how far this server's clock is ahead of the real one (negative: behind).
        stratum, leap, mode, version: copied into every reply.
        kiss: when set (`RATE`, `DENY` ...), every reply is a Kiss-o'-Death with this code.
        reply: `answer`; `garbage` (a short non-NTP datagram); `silent` (never answers);
            `wrong_origin` (a valid-looking reply that does not echo the client's timestamp);
            `zero_transmit` (a transmit timestamp of 0).
        root_dispersion_s: the server's claimed dispersion, which widens the client's uncertainty.
        hold_s: how long to wait before answering (a slow path).
        requests: how many requests arrived.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        offset_s: float = 0.0,
        stratum: int = 2,
        leap: int = 0,
        mode: int = 4,
        version: int = 4,
        kiss: str | None = None,
        reply: Reply = "answer",
        root_dispersion_s: float = 0.0,
        hold_s: float = 0.0,
    ) -> None:
        self.host = host
        self.offset_s = offset_s
        self.stratum = stratum
        self.leap = leap
        self.mode = mode
        self.version = version
        self.kiss = kiss
        self.reply = reply
        self.root_dispersion_s = root_dispersion_s
        self.hold_s = hold_s
        self.requests = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"ntp-{self.port}")

    @property
    def spec(self) -> str:
        """The `host:port` string the client's settings take."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._sock], [], [], POLL)
            if not readable:
                continue
            try:
                request, peer = self._sock.recvfrom(1024)
            except OSError:
                continue
            received = time.time()
            self.requests += 1
            if self.hold_s and self._stop.wait(self.hold_s):
                return
            answer = self._answer(request, received)
            if answer is None:
                continue
            with contextlib.suppress(OSError):
                self._sock.sendto(answer, peer)

    def _answer(self, request: bytes, received: float) -> bytes | None:
        if self.reply == "silent" or len(request) < 48:
            return None
        if self.reply == "garbage":
            return b"\x17garbage, not NTP"
        client_transmit = struct.unpack("!Q", request[40:48])[0]
        origin = client_transmit
        if self.reply == "wrong_origin":
            origin = client_transmit ^ (secrets.randbits(63) | 1)
        # A stratum-1 server names its clock; others give their upstream's IPv4 address.
        ref_id = b"LOCL" if self.stratum <= 1 else bytes([127, 0, 0, 1])
        stratum, leap = self.stratum, self.leap
        if self.kiss is not None:
            stratum, leap, ref_id = 0, 3, self.kiss.encode("ascii")[:4].ljust(4, b"\0")
        now = received + self.offset_s
        transmit = 0 if self.reply == "zero_transmit" else to_ntp(time.time() + self.offset_s)
        return struct.pack(
            _FORMAT,
            (leap & 3) << 6 | (self.version & 7) << 3 | (self.mode & 7),
            stratum,
            6,
            -20,
            0,
            int(self.root_dispersion_s * 65536),
            ref_id,
            to_ntp(now - 16),
            origin,
            to_ntp(now),
            transmit,
        )
