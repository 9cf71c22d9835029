"""The SNTP client against the loopback test server: offsets, every rejection, and the consensus."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from checks.core.check import Cancelled
from checks.core.redact import plain
from checks.lib import ntp
from tests.lab.ntp_server import NtpServer, free_udp_port
from tests.lab.servers import ipv6_loopback_available

FAST = 0.5
needs_ipv6 = pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")


@pytest.fixture
def cancel() -> threading.Event:
    return threading.Event()


@pytest.fixture
def server() -> Iterator[NtpServer]:
    with NtpServer() as running:
        yield running


def _query(server: NtpServer, cancel: threading.Event, timeout: float = FAST) -> ntp.NtpSample:
    return ntp.query(server.host, server.port, timeout=timeout, cancel=cancel)


# --- packets and timestamps ------------------------------------------------------------------


def test_encode_and_decode_round_trip() -> None:
    packet = ntp.encode(
        leap=3, mode=4, stratum=2, root_dispersion_s=0.5, ref_id=b"GPS", origin=7, transmit=9
    )
    reply = ntp.decode(packet)
    assert len(packet) == ntp.PACKET_SIZE
    assert (reply.leap, reply.version, reply.mode, reply.stratum) == (3, 4, 4, 2)
    assert reply.root_dispersion_s == 0.5
    assert (reply.ref_id, reply.origin, reply.transmit) == (b"GPS\0", 7, 9)


def test_a_short_packet_is_malformed() -> None:
    with pytest.raises(ValueError, match="48"):
        ntp.decode(b"\x24" * 47)


def test_timestamps_convert_both_ways_and_across_the_2036_era() -> None:
    now = 1_795_000_000.25  # 2026
    assert ntp.ntp_to_unix(ntp.unix_to_ntp(now)) == pytest.approx(now, abs=1e-6)
    after_wrap = 2_100_000_000.5  # 2036-07: NTP seconds have wrapped to era 1
    assert ntp.unix_to_ntp(after_wrap) >> 32 < 0x80000000
    assert ntp.ntp_to_unix(ntp.unix_to_ntp(after_wrap)) == pytest.approx(after_wrap, abs=1e-6)
    year_2000 = 946_684_800.0
    assert ntp.ntp_to_unix(ntp.unix_to_ntp(year_2000)) == pytest.approx(year_2000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time.google.com", ("time.google.com", 123)),
        ("Time.Google.com.", ("time.google.com", 123)),
        ("127.0.0.1:12345", ("127.0.0.1", 12345)),
        ("[::1]:4123", ("::1", 4123)),
        ("::1", ("::1", 123)),
        ("[::1]", ("::1", 123)),
    ],
)
def test_server_specs_are_parsed(text: str, expected: tuple[str, int]) -> None:
    assert ntp.parse_server(text) == expected


@pytest.mark.parametrize("text", ["", ":123", "host:0", "host:70000", "host:port", "[::1"])
def test_bad_server_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        ntp.parse_server(text)


def _reply(**fields: object) -> ntp.Reply:
    defaults: dict[str, object] = {
        "mode": 4,
        "stratum": 2,
        "origin": 42,
        "receive": 1 << 63,
        "transmit": 1 << 63,
    }
    return ntp.decode(ntp.encode(**{**defaults, **fields}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"origin": 43}, "origin_mismatch"),
        ({"mode": 3}, "bad_mode"),
        ({"mode": 5}, "bad_mode"),
        ({"stratum": 0, "leap": 3, "ref_id": b"RATE"}, "kiss"),
        ({"leap": 3}, "unsynchronised"),
        ({"stratum": 16}, "stratum"),
        ({"stratum": 200}, "stratum"),
        ({"transmit": 0}, "zero_transmit"),
    ],
)
def test_each_rejection_reason(fields: dict[str, object], reason: str) -> None:
    problem = ntp.rejection(_reply(**fields), 42)
    assert problem is not None
    assert problem[0] == reason


def test_a_valid_reply_is_accepted_and_a_forged_kiss_is_not_believed() -> None:
    assert ntp.rejection(_reply(), 42) is None
    forged = ntp.rejection(_reply(stratum=0, ref_id=b"DENY", origin=1), 42)
    assert forged is not None
    assert forged[0] == "origin_mismatch"


def test_kiss_codes_and_reference_ids_read_as_text() -> None:
    assert ntp.kiss_code(b"RATE") == "RATE"
    assert ntp.kiss_code(b"RST\0") == "RST"
    assert ntp.ref_id_text(1, b"GPS\0") == "Global Position System"
    assert ntp.ref_id_text(1, b"\x7f\x7f\x01\x01") == "7F7F0101"
    assert ntp.ref_id_text(3, bytes([162, 159, 200, 1])) == "162.159.200.1"


def test_an_ipv6_servers_reference_id_is_a_hash_not_an_ipv4_address() -> None:
    # Below stratum 1, over IPv6 the id is the first 4 bytes of the MD5 of the upstream's address.
    upstream = ipaddress.IPv6Address("2001:db8::123").packed
    ref_id = hashlib.md5(upstream, usedforsecurity=False).digest()[:4]
    assert ntp.ref_id_text(2, ref_id, ipv6=True) == ref_id.hex().upper()
    assert ntp.ref_id_text(2, bytes([162, 159, 200, 1]), ipv6=True) == "A29FC801"
    assert ntp.ref_id_text(2, bytes([162, 159, 200, 1]), ipv6=False) == "162.159.200.1"
    assert ntp.ref_id_text(1, b"GPS\0", ipv6=True) == "Global Position System"


# --- one address against the loopback server -------------------------------------------------


def test_a_server_ahead_of_us_gives_a_positive_offset(
    server: NtpServer, cancel: threading.Event
) -> None:
    # The sign convention everything else relies on: network minus local, so "we are behind".
    server.offset_s = 100.0
    sample = _query(server, cancel)
    assert sample.ok, sample
    assert sample.offset_s == pytest.approx(100.0, abs=0.05)
    assert sample.delay_s is not None
    assert 0 <= sample.delay_s < 0.1
    assert sample.stratum == 2
    assert sample.address == "127.0.0.1"


def test_a_server_behind_us_gives_a_negative_offset(
    server: NtpServer, cancel: threading.Event
) -> None:
    server.offset_s = -3 * 365 * 86400.0
    sample = _query(server, cancel)
    assert sample.ok, sample
    assert sample.offset_s == pytest.approx(-3 * 365 * 86400.0, abs=0.05)


def test_uncertainty_is_half_the_delay_plus_root_dispersion(
    server: NtpServer, cancel: threading.Event
) -> None:
    server.root_dispersion_s = 0.25
    server.hold_s = 0.2  # server-side processing time is not path delay
    sample = _query(server, cancel, timeout=1.0)
    assert sample.ok, sample
    assert sample.delay_s is not None
    assert sample.delay_s < 0.1
    assert sample.uncertainty_s == pytest.approx(sample.delay_s / 2 + 0.25, abs=1e-3)


@pytest.mark.parametrize("code", ["RATE", "DENY", "RSTR"])
def test_kiss_o_death_is_rejected_with_its_code(
    server: NtpServer, cancel: threading.Event, code: str
) -> None:
    server.kiss = code
    sample = _query(server, cancel)
    assert not sample.ok
    assert (sample.rejected, sample.kiss, sample.stratum) == ("kiss", code, 0)


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("stratum", 16, "stratum"),
        ("leap", 3, "unsynchronised"),
        ("mode", 3, "bad_mode"),
        ("reply", "zero_transmit", "zero_transmit"),
    ],
)
def test_invalid_replies_are_rejected(
    server: NtpServer, cancel: threading.Event, setting: str, value: object, reason: str
) -> None:
    setattr(server, setting, value)
    sample = _query(server, cancel)
    assert not sample.ok
    assert sample.rejected == reason
    assert sample.offset_s is None


@pytest.mark.parametrize(
    ("reply", "reason"),
    [("wrong_origin", "origin_mismatch"), ("garbage", "malformed"), ("silent", "timeout")],
)
def test_packets_that_are_not_our_answer_are_waited_past_then_reported(
    server: NtpServer, cancel: threading.Event, reply: str, reason: str
) -> None:
    server.reply = reply  # type: ignore[assignment]
    started = time.monotonic()
    sample = _query(server, cancel, timeout=0.4)
    assert sample.rejected == reason
    assert server.requests == 1
    assert 0.35 < time.monotonic() - started < 1.5


def test_a_closed_port_is_refused_at_once(cancel: threading.Event) -> None:
    started = time.monotonic()
    sample = ntp.query("127.0.0.1", free_udp_port(), timeout=5.0, cancel=cancel)
    assert sample.rejected == "refused"
    assert time.monotonic() - started < 1.0


def test_cancel_stops_the_wait_within_a_fraction_of_a_second(server: NtpServer) -> None:
    server.reply = "silent"
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        ntp.query(server.host, server.port, timeout=10.0, cancel=cancel)
    assert time.monotonic() - started < 0.6


@needs_ipv6
def test_ipv6_loopback_server(cancel: threading.Event) -> None:
    with NtpServer("::1", offset_s=5.0) as v6:
        sample = ntp.query("::1", v6.port, timeout=FAST, cancel=cancel)
    assert sample.ok, sample
    assert sample.offset_s == pytest.approx(5.0, abs=0.05)
    assert sample.fact().family == "IPv6"
    assert sample.ref_id == "7F000001"  # the test server's stratum-2 id, not "127.0.0.1"


# --- every address of a server, and several servers ------------------------------------------


def _pair_on_one_port() -> tuple[NtpServer, NtpServer]:
    for _ in range(20):
        v4 = NtpServer("127.0.0.1", offset_s=1.0)
        try:
            v6 = NtpServer("::1", v4.port, offset_s=2.0)
        except OSError:
            v4.__exit__(None, None, None)
            continue
        return v4, v6
    raise AssertionError("no port free on both loopbacks")


@needs_ipv6
def test_every_resolved_address_is_queried_ipv4_and_ipv6(cancel: threading.Event) -> None:
    v4, v6 = _pair_on_one_port()
    with v4, v6:

        def resolver(host: str, port: int, **_: object) -> list[str]:
            assert (host, port) == ("time.example", v4.port)
            return ["127.0.0.1", "::1"]

        samples = ntp.query_server(
            f"time.example:{v4.port}", cancel=cancel, timeout=FAST, resolver=resolver
        )
    assert [(s.host, s.address) for s in samples] == [
        ("time.example", "127.0.0.1"),
        ("time.example", "::1"),
    ]
    assert [round(s.offset_s or 0) for s in samples] == [1, 2]
    assert (v4.requests, v6.requests) == (1, 1)


def test_a_real_lookup_of_localhost_and_of_literals(cancel: threading.Event) -> None:
    assert "127.0.0.1" in ntp.resolve("localhost", 123, timeout=2.0, cancel=cancel)
    assert ntp.resolve("::1", 123, timeout=2.0, cancel=cancel) == ["::1"]


def test_at_most_two_addresses_per_family(
    monkeypatch: pytest.MonkeyPatch, cancel: threading.Event
) -> None:
    infos = [
        (socket.AF_INET, socket.SOCK_DGRAM, 17, "", (f"127.0.0.{i}", 123)) for i in range(1, 5)
    ] + [(socket.AF_INET6, socket.SOCK_DGRAM, 17, "", (f"::{i}", 123, 0, 0)) for i in (1, 2, 3)]
    monkeypatch.setattr(ntp.socket, "getaddrinfo", lambda *a, **k: infos)
    assert ntp.resolve("time.example", 123, timeout=1.0, cancel=cancel) == [
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "::2",
    ]


def test_a_hanging_resolver_gives_up_after_the_lookup_timeout(
    monkeypatch: pytest.MonkeyPatch, cancel: threading.Event
) -> None:
    release = threading.Event()

    def hang(*_: object, **__: object) -> list[object]:
        release.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "gave up")

    monkeypatch.setattr(ntp.socket, "getaddrinfo", hang)
    started = time.monotonic()
    try:
        samples = ntp.query_server("time.example", cancel=cancel, lookup_timeout=0.3)
    finally:
        release.set()
    assert [(s.address, s.rejected) for s in samples] == [(None, "lookup_timeout")]
    assert time.monotonic() - started < 1.0


def test_an_unknown_name_is_a_lookup_failure_not_an_exception(cancel: threading.Event) -> None:
    def resolver(*_: object, **__: object) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    samples = ntp.query_server("nope.invalid", cancel=cancel, resolver=resolver)
    assert [(s.host, s.rejected) for s in samples] == [("nope.invalid", "lookup_failed")]
    assert ntp.query_server("host:99999", cancel=cancel)[0].rejected == "invalid_server"


def test_servers_are_queried_in_parallel(cancel: threading.Event) -> None:
    with NtpServer(reply="silent") as a, NtpServer(reply="silent") as b, NtpServer() as c:
        started = time.monotonic()
        samples = ntp.query_all([a.spec, b.spec, c.spec, c.spec], cancel=cancel, timeout=0.5)
        elapsed = time.monotonic() - started
    assert [s.rejected for s in samples] == ["timeout", "timeout", None]
    assert elapsed < 1.0


# --- consensus -------------------------------------------------------------------------------


def _estimates(*pairs: tuple[float, float]) -> list[ntp.Estimate]:
    return [ntp.Estimate(f"s{i}", o, u) for i, (o, u) in enumerate(pairs)]


def test_consensus_is_the_median_with_agreement_and_uncertainty() -> None:
    result = ntp.consensus(
        _estimates((0.10, 0.01), (0.12, 0.02), (0.30, 0.05)), tolerance_s=1.0, queried=4
    )
    assert result is not None
    assert result.offset_s == pytest.approx(0.12)
    assert result.agreed == ("s0", "s1", "s2")
    assert result.queried == 4
    # The farthest witness: 0.30 is 0.18 from the median and itself uncertain by 0.05.
    assert result.uncertainty_s == pytest.approx(0.23)


def test_an_outlier_does_not_move_the_consensus() -> None:
    result = ntp.consensus(
        _estimates((5.0, 0.01), (5.2, 0.01), (3600.0, 0.01), (4.9, 0.02)), tolerance_s=1.0
    )
    assert result is not None
    assert result.offset_s == pytest.approx(5.0)
    assert set(result.agreed) == {"s0", "s1", "s3"}
    assert result.disagreed == ("s2",)
    assert result.queried == 4


def test_two_servers_far_apart_do_not_average_and_the_tighter_one_wins() -> None:
    result = ntp.consensus(_estimates((0.0, 0.5), (1000.0, 0.01)), tolerance_s=1.0)
    assert result is not None
    assert result.offset_s == 1000.0
    assert result.agreed == ("s1",)


def test_no_estimates_no_consensus() -> None:
    assert ntp.consensus([], tolerance_s=1.0) is None


def test_one_vote_per_server_whatever_its_number_of_addresses() -> None:
    samples = [
        ntp.NtpSample("a", 123, "10.0.0.1", offset_s=100.0, uncertainty_s=0.2),
        ntp.NtpSample("a", 123, "10.0.0.2", offset_s=100.1, uncertainty_s=0.1),
        ntp.NtpSample("a", 123, "10.0.0.3", offset_s=100.2, uncertainty_s=0.3),
        ntp.NtpSample("b", 123, "10.0.1.1", offset_s=0.0, uncertainty_s=0.1),
        ntp.NtpSample("c", 123, "10.0.2.1", offset_s=0.1, uncertainty_s=0.1),
        ntp.NtpSample("d", 123, "10.0.3.1", rejected="kiss", kiss="RATE"),
    ]
    best = ntp.best_per_server(samples)
    assert [(e.source, e.offset_s) for e in best] == [("a", 100.1), ("b", 0.0), ("c", 0.1)]
    result = ntp.consensus(best, tolerance_s=1.0)
    assert result is not None
    assert result.agreed == ("b", "c")
    assert result.offset_s == pytest.approx(0.05)


def test_sample_facts_are_json_types() -> None:
    sample = ntp.NtpSample("h", 123, "::1", rejected="kiss", kiss="DENY", stratum=0)
    fact = sample.fact()
    assert fact.ok is False
    assert fact.family == "IPv6"
    assert (fact.rejected, fact.kiss) == ("kiss", "DENY")
    # The report's keys, in the report's order, every one present even when null.
    assert plain(fact) == {
        "host": "h",
        "port": 123,
        "address": "::1",
        "family": "IPv6",
        "ok": False,
        "offset_s": None,
        "delay_s": None,
        "uncertainty_s": None,
        "stratum": 0,
        "leap": None,
        "ref_id": None,
        "rejected": "kiss",
        "kiss": "DENY",
        "detail": "",
        "elapsed_ms": 0.0,
    }


def test_sample_facts_are_rounded() -> None:
    sample = ntp.NtpSample(
        "h",
        123,
        "192.0.2.1",
        offset_s=0.123456,
        delay_s=0.0101,
        uncertainty_s=0.00506,
        elapsed_ms=12.345,
    )
    fact = sample.fact()
    assert (fact.offset_s, fact.delay_s, fact.uncertainty_s) == (0.1235, 0.0101, 0.0051)
    assert (fact.ok, fact.family, fact.elapsed_ms) == (True, "IPv4", 12.3)
