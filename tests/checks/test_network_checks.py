"""The dns and tcp checks against real sockets on loopback."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Literal, Self

# dnspython's modules under names of their own: `dns` here is the dns check.
import dns.edns as dns_edns
import dns.message as dns_message
import dns.rcode as dns_rcode
import dns.rrset as dns_rrset
import pytest

from checks import dns, tcp
from checks.core.check import Cancelled, Context
from checks.core.config import Resolve, Settings
from checks.core.facts.dns import DnsFacts
from checks.core.models import CheckResult, Status
from checks.core.target import Target
from checks.engine import diagnose
from checks.lib import dnsinfo
from tests.lab.ntp_server import free_udp_port


def _target(host: str, port: int) -> Target:
    is_ip = host[0].isdigit() or ":" in host
    return Target(input=host, host=host, port=port, sni=None if is_ip else host, is_ip=is_ip)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening socket that never accepts and whose queue is full: new SYNs go unanswered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


def _run(target: Target, **options: object):  # type: ignore[no-untyped-def]
    settings = Settings(**options)  # type: ignore[arg-type]
    report = diagnose((dns.CHECK, tcp.CHECK), settings=settings, target=target, version="t")
    return {r.check_id: r for r in report.results}, report


def test_localhost_resolves_and_connects(listener: int) -> None:
    results, _ = _run(_target("localhost", listener))
    assert results["dns"].status is Status.PASS
    dns_facts = results["dns"].facts
    assert isinstance(dns_facts, DnsFacts)
    assert "127.0.0.1" in dns_facts.addresses
    assert results["tcp"].finding("tcp.connected") is not None or results["tcp"].finding(
        "tcp.partial"
    )


def test_an_ip_target_needs_no_lookup(listener: int) -> None:
    results, report = _run(_target("127.0.0.1", listener))
    assert results["dns"].findings[0].id == "dns.not_needed"
    assert results["tcp"].findings[0].id == "tcp.connected"
    assert report.verdict.status is Status.PASS


def test_resolve_pins_the_address_and_keeps_the_name(listener: int) -> None:
    pin = Resolve("shop.example", listener, "127.0.0.1")
    results, _ = _run(_target("shop.example", listener), resolve=(pin,))
    assert results["dns"].findings[0].id == "dns.pinned"
    assert results["tcp"].findings[0].id == "tcp.connected"


def test_a_closed_port_is_refused_and_names_the_port() -> None:
    port = _closed_port()
    results, report = _run(_target("127.0.0.1", port))
    finding = results["tcp"].findings[0]
    assert finding.id == "tcp.refused"
    assert finding.params["port"] == port
    assert report.verdict.finding == finding


def test_a_silently_dropping_port_times_out_within_the_timeout(full_backlog: int) -> None:
    results, _ = _run(_target("127.0.0.1", full_backlog), connect_timeout=0.5)
    finding = results["tcp"].findings[0]
    assert finding.id == "tcp.timeout"
    assert results["tcp"].duration_s < 2


def test_ipv6_loopback_works_when_the_machine_has_it(listener: int) -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        port = server.getsockname()[1]
        results, _ = _run(_target("::1", port))
    assert results["tcp"].findings[0].id == "tcp.connected"


def test_mixed_families_report_which_one_fails(listener: int) -> None:
    # 127.0.0.1 listens; ::1 on the same port does not: a warning naming IPv6.
    dns_facts = DnsFacts(host="dual.example", addresses=("127.0.0.1", "::1"))
    dns_result = CheckResult("dns", Status.PASS, (), dns_facts)
    context = Context(
        Settings(),
        _target("dual.example", listener),
        threading.Event(),
        {"dns": dns_result},
        deadline=time.monotonic() + 10,
    )
    finding = tcp.run(context).findings[0]
    assert finding.id == "tcp.partial"
    assert finding.params["family"] == "IPv6"
    assert finding.params["working_family"] == "IPv4"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "no_such_name"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "resolver_unreachable"),
        (socket.gaierror(getattr(socket, "EAI_NODATA", -5), "No address"), "no_answer"),
    ],
)
def test_lookup_failures_are_told_apart(error: socket.gaierror, reason: str) -> None:
    assert dns._reason(error) == reason


def test_a_hung_resolver_is_a_timeout() -> None:
    from checks.lib import net

    with pytest.raises(net.LookupTimeout):
        net.in_thread(lambda: threading.Event().wait(5), timeout=0.2, cancel=threading.Event())


# --- what the DNS server itself answers, from a real DNS server on loopback --------------------

DnsReply = Literal["answer", "silent", "garbage", "wrong_id"]


class DnsServer:
    """A UDP DNS server on 127.0.0.1 whose answers follow the public attributes.

    Attributes:
        rcode: the response code of every answer (`NOERROR` answers A queries with 192.0.2.1).
        ede: Extended DNS Errors (code, text) added to every answer.
        reply: `answer`; `silent`; `garbage` (a datagram that is no DNS message); `wrong_id`
            (a valid answer to another query id).
        requests: how many queries arrived.
    """

    def __init__(self, rcode: str = "NOERROR", ede: tuple[tuple[int, str | None], ...] = ()):
        self.rcode = rcode
        self.ede = ede
        self.reply: DnsReply = "answer"
        self.requests = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="dns-server")

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
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._sock], [], [], 0.05)[0]:
                continue
            data, peer = self._sock.recvfrom(4096)
            self.requests += 1
            answer = self._answer(dns_message.from_wire(data))
            if answer is not None:
                self._sock.sendto(answer, peer)

    def _answer(self, query: dns_message.Message) -> bytes | None:
        if self.reply == "silent":
            return None
        if self.reply == "garbage":
            return b"\x00\x01 not a DNS message"
        response = dns_message.make_response(query)
        response.set_rcode(dns_rcode.from_text(self.rcode))
        question = query.question[0]
        if self.rcode == "NOERROR" and question.rdtype == 1:
            response.answer.append(dns_rrset.from_text(question.name, 60, "IN", "A", "192.0.2.1"))
        options = [dns_edns.EDEOption(code, text) for code, text in self.ede]
        response.use_edns(0, payload=1232, options=options)
        if self.reply == "wrong_id":
            response.id ^= 0x5A5A
        return response.to_wire()


def _ask(
    server: DnsServer,
    rtype: str = "A",
    timeout: float = 1.0,
    servers: list[tuple[str, int]] | None = None,
) -> dnsinfo.DnsAnswer:
    return dnsinfo.ask(
        "broken.example",
        rtype,
        timeout=timeout,
        cancel=threading.Event(),
        servers=servers or [("127.0.0.1", server.port)],
    )


def test_a_servfail_and_its_extended_dns_error_are_read_from_one_query() -> None:
    with DnsServer("SERVFAIL", ede=((6, None),)) as server:
        answer = _ask(server)
    assert (answer.rcode, answer.ede_code, answer.ede_text) == ("SERVFAIL", 6, "DNSSEC Bogus")
    assert (answer.server, answer.error, answer.records) == ("127.0.0.1", None, 0)
    assert server.requests == 1  # one query, no retries


def test_the_servers_own_extra_text_is_kept_printable() -> None:
    with DnsServer("SERVFAIL", ede=((22, "no reachable authority at\x07 ns1"),)) as server:
        answer = _ask(server, "AAAA")
    assert (answer.ede_code, answer.ede_text) == (22, "no reachable authority at ns1")


def test_an_answer_and_nxdomain_are_read_as_they_are() -> None:
    with DnsServer() as server:
        found = _ask(server)
        server.rcode = "NXDOMAIN"
        missing = _ask(server)
    assert (found.rcode, found.records, found.ede_code) == ("NOERROR", 1, None)
    assert (missing.rcode, missing.records) == ("NXDOMAIN", 0)


@pytest.mark.parametrize("reply", ["garbage", "wrong_id"])
def test_packets_that_answer_nothing_we_asked_are_waited_past(reply: DnsReply) -> None:
    with DnsServer("SERVFAIL") as server:
        server.reply = reply
        started = time.monotonic()
        answer = _ask(server, timeout=0.4)
    assert (answer.rcode, answer.error) == (None, "malformed")
    assert 0.35 < time.monotonic() - started < 1.5
    assert server.requests == 1


def test_a_silent_server_leaves_time_for_the_next_and_a_refusing_one_none() -> None:
    with DnsServer("SERVFAIL") as silent, DnsServer("SERVFAIL") as working:
        silent.reply = "silent"
        closed = ("127.0.0.1", free_udp_port())
        servers = [closed, ("127.0.0.1", silent.port), ("127.0.0.1", working.port)]
        started = time.monotonic()
        answer = _ask(working, timeout=1.0, servers=servers)
        elapsed = time.monotonic() - started
    assert (answer.server, answer.rcode) == ("127.0.0.1", "SERVFAIL")
    assert (silent.requests, working.requests) == (1, 1)
    # The refusing server gave its share at once; the silent one waited only its half.
    assert 0.4 < elapsed < 0.9


def test_nobody_answering_is_a_timeout_within_the_budget() -> None:
    with DnsServer() as server:
        server.reply = "silent"
        started = time.monotonic()
        answer = _ask(server, timeout=0.3)
    assert (answer.rcode, answer.error) == (None, "timeout")
    assert time.monotonic() - started < 0.8
    refused = dnsinfo.ask(
        "x.example",
        "A",
        timeout=5.0,
        cancel=threading.Event(),
        servers=[("127.0.0.1", free_udp_port())],
    )
    assert refused.error == "refused"
    assert refused.elapsed_ms < 1000
    assert dnsinfo.ask("x.example", "A", timeout=1, cancel=threading.Event(), servers=[]).error == (
        "no_servers"
    )


def test_cancel_stops_the_wait_for_a_dns_answer() -> None:
    with DnsServer() as server:
        server.reply = "silent"
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            dnsinfo.ask(
                "x.example", "A", timeout=10, cancel=cancel, servers=[("127.0.0.1", server.port)]
            )
    assert time.monotonic() - started < 0.6


def _failing_lookup(
    monkeypatch: pytest.MonkeyPatch, server: DnsServer, code: int, message: str
) -> None:
    """The system's lookup fails with `code`; the system's DNS server is `server`."""

    def fail(*_: object, **__: object) -> list[object]:
        raise socket.gaierror(code, message)

    monkeypatch.setattr(dns.socket, "getaddrinfo", fail)
    monkeypatch.setattr(dnsinfo, "system_servers", lambda: [("127.0.0.1", server.port)])


def _dns_finding(host: str = "broken.example") -> tuple[dict[str, object], DnsFacts]:
    context = Context(
        Settings(), _target(host, 443), threading.Event(), {}, deadline=time.monotonic() + 10
    )
    outcome = dns.run(context)
    (finding,) = outcome.findings
    assert (finding.id, finding.status) == ("dns.failed", Status.FAIL)
    assert isinstance(outcome.facts, DnsFacts)
    return dict(finding.params), outcome.facts


def test_a_servfail_is_not_called_an_unreachable_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with DnsServer("SERVFAIL", ede=((6, None),)) as server:
        _failing_lookup(monkeypatch, server, socket.EAI_AGAIN, "Temporary failure")
        params, facts = _dns_finding()
    assert params["variant"] == "servfail"
    assert (params["ede_code"], params["ede_text"]) == (6, "DNSSEC Bogus")
    assert facts.asked_directly is not None
    assert {rtype: answer.rcode for rtype, answer in facts.asked_directly.items()} == {
        "A": "SERVFAIL",
        "AAAA": "SERVFAIL",
    }
    assert server.requests == 2  # one A and one AAAA query, no retries
    # A single-label name was looked up under the search domains: asking for it as it is
    # would ask about another name.
    with DnsServer("SERVFAIL") as server:
        _failing_lookup(monkeypatch, server, socket.EAI_AGAIN, "Temporary failure")
        params, facts = _dns_finding("intranet")
    assert (params["variant"], server.requests) == ("resolver_unreachable", 0)
    assert facts.asked_directly is None


def test_a_servfail_without_extended_error_has_no_ede_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with DnsServer("SERVFAIL") as server:
        _failing_lookup(monkeypatch, server, socket.EAI_AGAIN, "Temporary failure")
        params, _ = _dns_finding()
    assert params["variant"] == "servfail"
    assert "ede_code" not in params


def test_nxdomain_stays_no_such_name_and_an_unreachable_server_stays_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with DnsServer("NXDOMAIN") as server:
        _failing_lookup(monkeypatch, server, socket.EAI_NONAME, "Name or service not known")
        params, facts = _dns_finding()
        assert params["variant"] == "no_such_name"
        assert facts.asked_directly is not None
        assert facts.asked_directly["A"].rcode == "NXDOMAIN"
        server.reply = "silent"
        _failing_lookup(monkeypatch, server, socket.EAI_AGAIN, "Temporary failure")
        started = time.monotonic()
        params, facts = _dns_finding()
    assert params["variant"] == "resolver_unreachable"
    assert facts.asked_directly is not None
    assert facts.asked_directly["A"].error == "timeout"
    assert time.monotonic() - started < dns.DIRECT_TIMEOUT_S + 0.5
