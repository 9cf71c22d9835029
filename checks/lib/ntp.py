"""A small SNTP client that queries every address of a time server and validates each reply."""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import statistics
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import ntplib

from checks.core import policy
from checks.core.facts.clock import NtpQueried
from checks.lib import net

# Our own 48-byte query with `struct` rather than ntplib's, because ntplib (a) converts the echoed
# origin timestamp to a float, so "does the reply echo exactly what we sent" cannot be checked,
# (b) blocks in recvfrom without a way to notice the cancel event, (c) resolves the name itself
# and tries only the first address, and (d) maps timestamps to the 1900 era only. The packet
# layout is RFC 5905 section 7.3; the client rules are RFC 4330 (SNTPv4).

NTP_PORT = 123
PACKET_SIZE = 48
_FORMAT = "!BBbbII4sQQQQ"
MODE_CLIENT = 3
MODE_SERVER = 4
VERSION = 4
LEAP_UNSYNCHRONISED = 3
# Stratum 16 means "unsynchronised"; 0 marks a Kiss-o'-Death packet (RFC 5905 section 7.4).
MAX_STRATUM = 16
KISS_STRATUM = 0

QUERY_TIMEOUT_S = policy.CLOCK_NTP_TIMEOUT_S
LOOKUP_TIMEOUT_S = policy.CLOCK_NTP_LOOKUP_TIMEOUT_S
MAX_ADDRESSES_PER_FAMILY = policy.CLOCK_NTP_ADDRESSES_PER_FAMILY
_RECV_SIZE = 1024

# Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
_NTP_TO_UNIX = 2_208_988_800
_ERA_SECONDS = 2**32

# Reasons a reply or an address gives no usable time; the stable codes shown in facts.
REJECTION_REASONS = (
    "lookup_failed",
    "lookup_timeout",
    "invalid_server",
    "unreachable",
    "refused",
    "timeout",
    "error",
    "malformed",
    "origin_mismatch",
    "bad_mode",
    "kiss",
    "unsynchronised",
    "stratum",
    "zero_transmit",
)


@dataclass(frozen=True)
class Reply:
    """The fields of one decoded NTP packet; timestamps stay raw 64-bit fixed point values."""

    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay_s: float
    root_dispersion_s: float
    ref_id: bytes
    reference: int
    origin: int
    receive: int
    transmit: int


@dataclass(frozen=True)
class NtpSample:
    """What one address of one time server said, or why its answer was not used.

    Attributes:
        host: the server as configured (a name or an address literal).
        port: the UDP port asked.
        address: the address asked, or None when the name could not be resolved.
        offset_s: network time minus this machine's time (positive: this clock is behind).
        delay_s: round-trip delay of the exchange.
        uncertainty_s: delay/2 + the server's root dispersion.
        stratum: the server's distance from a reference clock (1 = has one).
        leap: the leap indicator of the reply (3 = unsynchronised).
        ref_id: the reference id as text (a clock name, an IPv4 address, or hex).
        rejected: None for a valid sample, otherwise one of `REJECTION_REASONS`.
        kiss: for a Kiss-o'-Death reply, its four-letter code (RATE, DENY, RSTR ...).
        detail: a short raw observation (an errno name, the mode received ...).
        elapsed_ms: wall time spent on this address.
    """

    host: str
    port: int
    address: str | None
    offset_s: float | None = None
    delay_s: float | None = None
    uncertainty_s: float | None = None
    stratum: int | None = None
    leap: int | None = None
    ref_id: str | None = None
    rejected: str | None = None
    kiss: str | None = None
    detail: str = ""
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rejected is None and self.offset_s is not None

    def fact(self) -> NtpQueried:
        """This sample as the check's facts record it (rounded)."""
        return NtpQueried(
            host=self.host,
            port=self.port,
            address=self.address,
            family=net.family_name(self.address) if self.address else None,
            ok=self.ok,
            offset_s=_round(self.offset_s, 4),
            delay_s=_round(self.delay_s, 4),
            uncertainty_s=_round(self.uncertainty_s, 4),
            stratum=self.stratum,
            leap=self.leap,
            ref_id=self.ref_id,
            rejected=self.rejected,
            kiss=self.kiss,
            detail=self.detail,
            elapsed_ms=round(self.elapsed_ms, 1),
        )


@dataclass(frozen=True)
class Estimate:
    """One source's opinion of the offset, for the consensus: the best sample of a server."""

    source: str
    offset_s: float
    uncertainty_s: float


@dataclass(frozen=True)
class Consensus:
    """What the sources agree on.

    Attributes:
        offset_s: the median offset of the sources that agree (positive: this clock is behind).
        uncertainty_s: the largest distance from `offset_s` at which a source that agreed still
            places the true time (its own uncertainty plus its distance from the median).
        agreed: the sources that agree, best first.
        disagreed: the valid sources that were outliers.
        queried: how many sources were asked in total, answering or not.
    """

    offset_s: float
    uncertainty_s: float
    agreed: tuple[str, ...]
    disagreed: tuple[str, ...]
    queried: int


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def parse_server(text: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 literal -> (host, port); ValueError."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not [ADDRESS]:PORT")
    elif text.count(":") > 1:
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    port = int(port_text) if port_text else NTP_PORT
    if not host or not 0 < port < 65536:
        raise ValueError(f"{text!r} is not HOST[:PORT]")
    return host.rstrip(".").lower() if not _is_address(host) else host, port


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def ntp_to_unix(timestamp: int) -> float:
    """A 64-bit NTP timestamp as Unix seconds, independent of this machine's clock.

    RFC 4330 section 3: a set top bit means era 0 (1968-2036); a clear one means era 1
    (2036-2104). The local clock is never used to pick the era: it is the clock under test.
    """
    seconds, fraction = timestamp >> 32, timestamp & 0xFFFFFFFF
    era_base = 0 if seconds & 0x80000000 else _ERA_SECONDS
    return seconds + era_base - _NTP_TO_UNIX + fraction / _ERA_SECONDS


def unix_to_ntp(seconds: float) -> int:
    """Unix seconds as a 64-bit NTP timestamp (the era wraps in 2036)."""
    whole = int(seconds // 1)
    fraction = int((seconds - whole) * _ERA_SECONDS) & 0xFFFFFFFF
    return (((whole + _NTP_TO_UNIX) % _ERA_SECONDS) << 32) | fraction


def encode(
    *,
    leap: int = 0,
    version: int = VERSION,
    mode: int = MODE_CLIENT,
    stratum: int = 0,
    poll: int = 0,
    precision: int = 0,
    root_delay_s: float = 0.0,
    root_dispersion_s: float = 0.0,
    ref_id: bytes = b"\0\0\0\0",
    reference: int = 0,
    origin: int = 0,
    receive: int = 0,
    transmit: int = 0,
) -> bytes:
    """One 48-byte NTP packet (a client request by default; the test server builds replies)."""
    return struct.pack(
        _FORMAT,
        (leap & 3) << 6 | (version & 7) << 3 | (mode & 7),
        stratum & 0xFF,
        poll,
        precision,
        int(root_delay_s * 65536) & 0xFFFFFFFF,
        int(root_dispersion_s * 65536) & 0xFFFFFFFF,
        ref_id[:4].ljust(4, b"\0"),
        reference,
        origin,
        receive,
        transmit,
    )


def decode(data: bytes) -> Reply:
    """The fields of an NTP packet; ValueError when it is shorter than 48 bytes."""
    if len(data) < PACKET_SIZE:
        raise ValueError(f"{len(data)} bytes, an NTP packet has at least {PACKET_SIZE}")
    first, stratum, poll, precision, delay, dispersion, ref_id, ref, orig, recv, xmit = (
        struct.unpack(_FORMAT, data[:PACKET_SIZE])
    )
    return Reply(
        leap=first >> 6,
        version=(first >> 3) & 7,
        mode=first & 7,
        stratum=stratum,
        poll=poll,
        precision=precision,
        root_delay_s=delay / 65536,
        root_dispersion_s=dispersion / 65536,
        ref_id=ref_id,
        reference=ref,
        origin=orig,
        receive=recv,
        transmit=xmit,
    )


def kiss_code(ref_id: bytes) -> str:
    """The ASCII code of a Kiss-o'-Death reply (`RATE`, `DENY` ...), unprintable bytes dropped."""
    return "".join(chr(b) for b in ref_id if 32 < b < 127)


def ref_id_text(stratum: int, ref_id: bytes, *, ipv6: bool = False) -> str:
    """The reference id as people read it: ntplib's name of the clock at stratum 1 ("Global
    Position System"), the upstream server's IPv4 address below it, else hex. Over IPv6 it is
    the first 4 bytes of the MD5 of the upstream's IPv6 address (RFC 5905): hex, not an IPv4."""
    printable = all(32 < b < 127 for b in ref_id.rstrip(b"\0"))
    if not 1 <= stratum < 255 or (stratum == 1 and not printable) or (stratum > 1 and ipv6):
        return ref_id.hex().upper()
    return str(ntplib.ref_id_to_text(int.from_bytes(ref_id[:4], "big"), stratum))


def rejection(reply: Reply, sent_transmit: int) -> tuple[str, str] | None:
    """Why `reply` must not be trusted, as (reason, detail), or None when it is valid.

    The origin is checked first: a reply that does not echo our transmit timestamp may be
    forged or stale, and must not even be believed when it says "go away" (a spoofed
    Kiss-o'-Death is a known denial-of-service trick).
    """
    if reply.origin != sent_transmit:
        return "origin_mismatch", f"origin {reply.origin:016x} is not ours"
    if reply.mode != MODE_SERVER:
        return "bad_mode", f"mode {reply.mode}"
    if reply.stratum == KISS_STRATUM:
        return "kiss", kiss_code(reply.ref_id) or reply.ref_id.hex()
    if reply.leap == LEAP_UNSYNCHRONISED:
        return "unsynchronised", "leap indicator 3"
    if reply.stratum >= MAX_STRATUM:
        return "stratum", f"stratum {reply.stratum}"
    if reply.transmit == 0:
        return "zero_transmit", "transmit timestamp 0"
    return None


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if net.family_name(address) == "IPv6" else socket.AF_INET


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


def _failure(exc: OSError) -> tuple[str, str]:
    if isinstance(exc, ConnectionRefusedError):
        reason = "refused"
    else:
        reason = "unreachable" if exc.errno in _UNREACHABLE else "error"
    return reason, exc.strerror or str(exc)


class _NoAnswer(Exception):
    """No usable reply came from an address; `reason` is one of `REJECTION_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _receive(
    sock: socket.socket, transmit: int, *, deadline: float, cancel: threading.Event
) -> tuple[Reply, float]:
    """The first reply that echoes `transmit`, and the monotonic time it arrived.

    Packets that fail the format or origin check are dropped and the wait goes on: a stale or
    forged packet must not end the exchange. On timeout the last such reason is raised as
    `_NoAnswer`, or "timeout" when nothing came at all.
    """
    last = _NoAnswer("timeout", "no answer in time")
    try:
        for data in net.datagrams(sock, _RECV_SIZE, deadline=deadline, cancel=cancel):
            arrived = time.monotonic()
            try:
                reply = decode(data)
            except ValueError as exc:
                last = _NoAnswer("malformed", str(exc))
                continue
            if reply.origin != transmit:
                last = _NoAnswer("origin_mismatch", f"origin {reply.origin:016x} is not ours")
                continue
            return reply, arrived
    except OSError as exc:
        raise _NoAnswer(*_failure(exc)) from exc
    raise last


def query(
    address: str,
    port: int = NTP_PORT,
    *,
    timeout: float = QUERY_TIMEOUT_S,
    cancel: threading.Event,
    host: str | None = None,
) -> NtpSample:
    """Ask one address for the time; failures are returned as rejected samples, never raised.

    Raises only `Cancelled`.
    """
    host = host or address
    started = time.monotonic()

    def failed(reason: str, detail: str) -> NtpSample:
        elapsed_ms = (time.monotonic() - started) * 1000
        return NtpSample(host, port, address, rejected=reason, detail=detail, elapsed_ms=elapsed_ms)

    # Real seconds and a random fraction: the echo is unguessable for an off-path forger, and
    # the local send time is kept here, never read back from the packet.
    transmit = (unix_to_ntp(time.time()) & ~0xFFFFFFFF) | secrets.randbits(32)
    try:
        sock = socket.socket(_family(address), socket.SOCK_DGRAM)
    except OSError as exc:
        return failed("unreachable", exc.strerror or str(exc))
    with sock:
        try:
            sock.setblocking(False)
            # A connected UDP socket only accepts packets from this address, and turns an
            # ICMP "port unreachable" into ECONNREFUSED at once instead of a timeout.
            sock.connect((address, port))
            sent_wall, sent_mono = time.time(), time.monotonic()
            sock.send(encode(transmit=transmit))
            reply, arrived_mono = _receive(
                sock, transmit, deadline=sent_mono + timeout, cancel=cancel
            )
        except _NoAnswer as exc:
            return failed(exc.reason, exc.detail)
        except OSError as exc:
            return failed(*_failure(exc))
    elapsed_ms = (time.monotonic() - started) * 1000
    ref_id = ref_id_text(reply.stratum, reply.ref_id, ipv6=_family(address) == socket.AF_INET6)
    problem = rejection(reply, transmit)
    if problem is not None:
        reason, detail = problem
        return NtpSample(
            host,
            port,
            address,
            stratum=reply.stratum,
            leap=reply.leap,
            ref_id=ref_id,
            rejected=reason,
            kiss=detail if reason == "kiss" else None,
            detail=detail,
            elapsed_ms=elapsed_ms,
        )
    # RFC 5905 on-wire calculation. T4 is derived from the monotonic clock so that a clock
    # stepped during the exchange cannot distort it.
    t1 = sent_wall
    t4 = sent_wall + (arrived_mono - sent_mono)
    t2, t3 = ntp_to_unix(reply.receive), ntp_to_unix(reply.transmit)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = max(0.0, (t4 - t1) - (t3 - t2))
    return NtpSample(
        host,
        port,
        address,
        offset_s=offset,
        delay_s=delay,
        uncertainty_s=delay / 2 + reply.root_dispersion_s,
        stratum=reply.stratum,
        leap=reply.leap,
        ref_id=ref_id,
        elapsed_ms=elapsed_ms,
    )


def resolve(host: str, port: int, *, timeout: float, cancel: threading.Event) -> list[str]:
    """The IPv4 and IPv6 addresses of `host` (at most two of each), resolved in a thread that
    is abandoned after `timeout`; raises `OSError` (`net.LookupTimeout`) or `Cancelled`."""
    if _is_address(host):
        return [host]

    def call() -> list[str]:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_DGRAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    found = net.in_thread(call, timeout=timeout, cancel=cancel, name=f"ntp-dns-{host}")
    v4 = [a for a in found if net.family_name(a) == "IPv4"][:MAX_ADDRESSES_PER_FAMILY]
    v6 = [a for a in found if net.family_name(a) == "IPv6"][:MAX_ADDRESSES_PER_FAMILY]
    return v4 + v6


class Resolver(Protocol):
    """How `query_server` turns a name into addresses (tests stand in for DNS with one)."""

    def __call__(
        self, host: str, port: int, *, timeout: float, cancel: threading.Event
    ) -> list[str]: ...


def query_server(
    server: str,
    *,
    cancel: threading.Event,
    timeout: float = QUERY_TIMEOUT_S,
    lookup_timeout: float = LOOKUP_TIMEOUT_S,
    resolver: Resolver | None = None,
) -> list[NtpSample]:
    """Query every address of `server` (`host[:port]`) in parallel; one sample per address."""
    started = time.monotonic()
    try:
        host, port = parse_server(server)
    except ValueError as exc:
        return [NtpSample(server, NTP_PORT, None, rejected="invalid_server", detail=str(exc))]
    try:
        lookup = resolver or resolve  # looked up per call, so tests can stand in for DNS
        addresses = lookup(host, port, timeout=lookup_timeout, cancel=cancel)
    except net.LookupTimeout as exc:
        return [_unresolved(host, port, "lookup_timeout", str(exc), started)]
    except (OSError, UnicodeError) as exc:
        return [_unresolved(host, port, "lookup_failed", f"{type(exc).__name__}: {exc}", started)]
    if not addresses:
        return [_unresolved(host, port, "lookup_failed", "no address", started)]
    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        futures = [
            pool.submit(query, a, port, timeout=timeout, cancel=cancel, host=host)
            for a in addresses
        ]
        return [f.result() for f in futures]


def _unresolved(host: str, port: int, reason: str, detail: str, started: float) -> NtpSample:
    elapsed_ms = (time.monotonic() - started) * 1000
    return NtpSample(host, port, None, rejected=reason, detail=detail, elapsed_ms=elapsed_ms)


def query_all(
    servers: Iterable[str],
    *,
    cancel: threading.Event,
    timeout: float = QUERY_TIMEOUT_S,
    lookup_timeout: float = LOOKUP_TIMEOUT_S,
    resolver: Resolver | None = None,
) -> list[NtpSample]:
    """Query all `servers` at once; the samples come back in the order of `servers`."""
    servers = list(dict.fromkeys(servers))
    if not servers:
        return []
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = [
            pool.submit(
                query_server,
                s,
                cancel=cancel,
                timeout=timeout,
                lookup_timeout=lookup_timeout,
                resolver=resolver,
            )
            for s in servers
        ]
        results = [f.result() for f in futures]
    return [sample for samples in results for sample in samples]


def best_per_server(samples: Iterable[NtpSample]) -> list[Estimate]:
    """One estimate per server: its valid sample with the smallest uncertainty.

    A server with four addresses must not outvote a server with one: operators, not
    addresses, are the independent witnesses.
    """
    best: dict[str, NtpSample] = {}
    for sample in samples:
        if not sample.ok:
            continue
        key = f"{sample.host}:{sample.port}" if sample.port != NTP_PORT else sample.host
        current = best.get(key)
        if current is None or (sample.uncertainty_s or 0) < (current.uncertainty_s or 0):
            best[key] = sample
    return [
        Estimate(key, float(s.offset_s or 0.0), float(s.uncertainty_s or 0.0))
        for key, s in best.items()
    ]


def consensus(
    estimates: Sequence[Estimate], *, tolerance_s: float, queried: int | None = None
) -> Consensus | None:
    """The median of the largest group of estimates that agree, or None without estimates.

    Two estimates agree when they are within `tolerance_s` plus the estimate's own uncertainty
    of the group's centre. The largest group wins (ties: the tighter one), so that one broken
    server among several, or two servers far apart, never drag the answer half way.
    """
    if not estimates:
        return None

    def around(centre: float) -> list[Estimate]:
        return [e for e in estimates if abs(e.offset_s - centre) <= tolerance_s + e.uncertainty_s]

    centres = [e.offset_s for e in estimates] + [statistics.median(e.offset_s for e in estimates)]
    groups = [around(c) for c in centres]
    group = max(groups, key=lambda g: (len(g), -sum(e.uncertainty_s for e in g)))
    median = statistics.median(e.offset_s for e in group)
    agreed = around(median) or group
    median = statistics.median(e.offset_s for e in agreed)
    uncertainty = max(e.uncertainty_s + abs(e.offset_s - median) for e in agreed)
    ordered = sorted(agreed, key=lambda e: e.uncertainty_s)
    names = {e.source for e in agreed}
    return Consensus(
        offset_s=median,
        uncertainty_s=uncertainty,
        agreed=tuple(e.source for e in ordered),
        disagreed=tuple(e.source for e in estimates if e.source not in names),
        queried=len(estimates) if queried is None else queried,
    )
