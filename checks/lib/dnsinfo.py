"""Asks the system's DNS servers directly what they answer to a lookup: response code, EDE."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.core.target import to_ascii
from checks.lib import net

# dnspython takes 30-40 ms to import: it is imported by the functions that ask a server, which
# the dns check calls only after the system's lookup failed.
if TYPE_CHECKING:
    import dns.edns
    import dns.message

DNS_PORT = 53
# resolv.conf's MAXNS: more servers than this are never asked by the system either.
MAX_SERVERS = 3
# Large enough for an answer with Extended DNS Errors, small enough never to be fragmented.
EDNS_PAYLOAD = 1232
_RECV_SIZE = 65535
# The server's own words (EXTRA-TEXT) are kept only this long.
_MAX_TEXT = 200
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


@dataclass(frozen=True)
class DnsAnswer:
    """What a DNS server answered to one query, or why no answer came.

    Attributes:
        rtype: the record type asked for (`A`, `AAAA`).
        server: the address of the server that answered (the last one asked when none did),
            or None when the system names no server.
        rcode: the response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED` ...), or None.
        records: how many records of `rtype` the answer holds.
        ede_code: the first Extended DNS Error (RFC 8914) of the answer: its INFO-CODE ...
        ede_text: ... and its EXTRA-TEXT, or the code's registered name when the server gave
            none (6: "DNSSEC Bogus").
        error: why no answer came: `no_servers`, `timeout`, `refused`, `unreachable`,
            `malformed` or `error`; None when one came.
        elapsed_ms: time spent on this query, every server together.
    """

    rtype: str
    server: str | None
    rcode: str | None = None
    records: int = 0
    ede_code: int | None = None
    ede_text: str | None = None
    error: str | None = None
    elapsed_ms: float = 0.0


def system_servers() -> list[tuple[str, int]]:
    """The DNS servers the system is configured with (resolv.conf; the registry on Windows),
    as (address, port), at most `MAX_SERVERS`; empty when there is no configuration."""
    import dns.exception
    import dns.inet
    import dns.nameserver
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver(configure=True)
    except (dns.exception.DNSException, OSError, ValueError):
        return []
    servers: list[tuple[str, int]] = []
    for server in resolver.nameservers:
        if isinstance(server, dns.nameserver.Do53Nameserver):
            servers.append((server.address, server.port))
        elif isinstance(server, str) and dns.inet.is_address(server):
            servers.append((server, resolver.nameserver_ports.get(server, resolver.port)))
    return servers[:MAX_SERVERS]


def ask(
    host: str,
    rtype: str,
    *,
    timeout: float,
    cancel: threading.Event,
    servers: Sequence[tuple[str, int]] | None = None,
) -> DnsAnswer:
    """Ask for `rtype` records of `host` (an absolute ASCII name) over UDP, one query to each
    server in turn until one answers, whatever it answers, all within `timeout` seconds.

    Never retries a server and never falls back to TCP: only the response code and its
    Extended DNS Errors are wanted. `servers` defaults to the system's. Raises only `Cancelled`.
    """
    import dns.exception
    import dns.message
    import dns.name

    started = time.monotonic()
    deadline = started + timeout
    chosen = list(system_servers() if servers is None else servers)[:MAX_SERVERS]
    if not chosen:
        return DnsAnswer(rtype, None, error="no_servers")
    try:
        query = dns.message.make_query(
            dns.name.from_text(to_ascii(host)), rtype, use_edns=0, payload=EDNS_PAYLOAD
        )
    except (dns.exception.DNSException, ValueError):
        return DnsAnswer(rtype, chosen[0][0], error="error")
    error = "timeout"
    for index, (address, port) in enumerate(chosen):
        # The servers still to ask share what time is left: a silent first one cannot use up
        # the time of the second, and one that refuses at once leaves its share to the rest.
        share = (deadline - time.monotonic()) / (len(chosen) - index)
        try:
            response = _exchange(query, address, port, time.monotonic() + share, cancel)
        except _NoAnswer as exc:
            error = exc.reason
            continue
        return _answer(rtype, address, response, started)
    elapsed_ms = (time.monotonic() - started) * 1000
    return DnsAnswer(rtype, chosen[-1][0], error=error, elapsed_ms=elapsed_ms)


def _answer(rtype: str, address: str, response: dns.message.Message, started: float) -> DnsAnswer:
    import dns.rcode
    import dns.rdatatype

    wanted = dns.rdatatype.from_text(rtype)
    records = sum(len(rrset) for rrset in response.answer if rrset.rdtype == wanted)
    errors = response.extended_errors()
    code = int(errors[0].code) if errors else None
    text = _ede_text(errors[0]) if errors else None
    return DnsAnswer(
        rtype,
        address,
        rcode=dns.rcode.to_text(response.rcode()),
        records=records,
        ede_code=code,
        ede_text=text,
        elapsed_ms=(time.monotonic() - started) * 1000,
    )


def _ede_text(option: dns.edns.EDEOption) -> str | None:
    """The server's EXTRA-TEXT, printable and short, else the code's name ("DNSSEC Bogus")."""
    import dns.edns

    text = "".join(char for char in option.text or "" if char.isprintable()).strip()
    if text:
        return text[:_MAX_TEXT]
    # dnspython words the registered name: "EDE 6 (DNSSEC Bogus)"; unknown codes have none.
    _, _, name = dns.edns.EDEOption(option.code).to_text().partition(" (")
    return name.removesuffix(")") or None


class _NoAnswer(Exception):
    """No answer to our query came from a server; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _exchange(
    query: dns.message.Message,
    address: str,
    port: int,
    deadline: float,
    cancel: threading.Event,
) -> dns.message.Message:
    """Send `query` once and wait for the message that answers it; packets that do not parse
    or answer another question are waited past (a stale or forged one must not count)."""
    import dns.exception
    import dns.message

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise _NoAnswer("unreachable") from exc
    with sock:
        try:
            sock.setblocking(False)
            # Connected: only this server's packets arrive, and an ICMP "port unreachable"
            # becomes ECONNREFUSED at once instead of a wait for the deadline.
            sock.connect((address, port))
            sock.send(query.to_wire())
        except OSError as exc:
            raise _NoAnswer(_failure(exc)) from exc
        last = "timeout"
        try:
            for data in net.datagrams(sock, _RECV_SIZE, deadline=deadline, cancel=cancel):
                try:
                    response = dns.message.from_wire(data)
                except (dns.exception.DNSException, ValueError):
                    last = "malformed"
                    continue
                if query.is_response(response):
                    return response
                last = "malformed"
        except OSError as exc:
            raise _NoAnswer(_failure(exc)) from exc
        raise _NoAnswer(last)


def _failure(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return "unreachable" if exc.errno in _UNREACHABLE else "error"
