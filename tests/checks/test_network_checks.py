"""The dns and tcp checks against real sockets on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from checks import dns, tcp
from checks.core.check import Context
from checks.core.config import Resolve, Settings
from checks.core.models import CheckResult, Status
from checks.core.target import Target
from checks.engine import diagnose


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
    assert "127.0.0.1" in results["dns"].facts["addresses"]  # type: ignore[operator]
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
    dns_result = CheckResult("dns", Status.PASS, (), {"addresses": ["127.0.0.1", "::1"]})
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
