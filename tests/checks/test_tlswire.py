"""Our ClientHello round-trips, and the reply parser survives any bytes within its limits."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.lib import cipher_suites, tlswire
from checks.lib.tlswire import MAX_REPLY_BYTES, RECORD_LIMIT, ReplyParser, WireError

HEADER = 5


# --- a tiny independent ClientHello parser, for round trips ---------------------------------


def _take(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    assert at + size <= len(data), "ClientHello field runs past its end"
    return data[at : at + size], at + size


def parse_client_hello(record: bytes) -> dict[str, object]:
    assert record[0] == 22
    assert int.from_bytes(record[3:5], "big") == len(record) - HEADER
    hs = record[HEADER:]
    assert hs[0] == 1
    assert int.from_bytes(hs[1:4], "big") == len(hs) - 4
    body, at = hs[4:], 0
    version, at = _take(body, at, 2)
    _random, at = _take(body, at, 32)
    sid_len, at = _take(body, at, 1)
    _sid, at = _take(body, at, sid_len[0])
    suites_len, at = _take(body, at, 2)
    suites_raw, at = _take(body, at, int.from_bytes(suites_len, "big"))
    comp_len, at = _take(body, at, 1)
    compression, at = _take(body, at, comp_len[0])
    extensions: dict[int, bytes] = {}
    if at < len(body):
        ext_len, at = _take(body, at, 2)
        assert at + int.from_bytes(ext_len, "big") == len(body)
        while at < len(body):
            kind, at = _take(body, at, 2)
            size, at = _take(body, at, 2)
            data, at = _take(body, at, int.from_bytes(size, "big"))
            assert int.from_bytes(kind, "big") not in extensions
            extensions[int.from_bytes(kind, "big")] = data
    suites = [int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2)]
    return {
        "record_version": int.from_bytes(record[1:3], "big"),
        "version": int.from_bytes(version, "big"),
        "suites": suites,
        "compression": compression,
        "extensions": extensions,
    }


def _sni(data: bytes) -> str:
    assert int.from_bytes(data[:2], "big") == len(data) - 2
    assert data[2] == 0
    size = int.from_bytes(data[3:5], "big")
    return data[5 : 5 + size].decode("ascii")


suite_lists = st.lists(
    st.integers(min_value=0, max_value=0xFEFF), min_size=1, max_size=128, unique=True
)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    version=st.sampled_from(["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    suites=suite_lists,
    host=st.none() | hosts,
)
def test_client_hello_round_trips(version: str, suites: list[int], host: str | None) -> None:
    shares = {0x001D: b"\x01" * 32} if version == "TLSv1.3" else None
    hello = parse_client_hello(tlswire.client_hello(version, suites, sni=host, shares=shares))
    extensions = hello["extensions"]
    assert isinstance(extensions, dict)
    assert hello["compression"] == b"\x00"
    if version == "SSLv3":
        assert hello["version"] == 0x0300
        assert hello["record_version"] == 0x0300
        assert hello["suites"] == [*suites, tlswire.SCSV_RENEGOTIATION]
        assert extensions == {}
        return
    assert hello["suites"] == suites
    assert hello["record_version"] == 0x0301
    assert (_sni(extensions[0]) if 0 in extensions else None) == host
    if version == "TLSv1.3":
        assert hello["version"] == 0x0303
        assert extensions[tlswire.EXT_SUPPORTED_VERSIONS] == b"\x02\x03\x04"
        share = extensions[tlswire.EXT_KEY_SHARE]
        assert share[2:4] == b"\x00\x1d"
    else:
        assert hello["version"] == tlswire.VERSION_CODES[version]
        assert tlswire.EXT_SUPPORTED_VERSIONS not in extensions
    assert (tlswire.EXT_SIGNATURE_ALGORITHMS in extensions) == (version in ("TLSv1.2", "TLSv1.3"))


def test_client_hello_avoids_the_256_to_511_byte_range() -> None:
    for count in range(1, 129):
        size = len(tlswire.client_hello("TLSv1.2", list(range(1, count + 1)), sni="a.test")) - 5
        assert not 256 <= size < 512, count


def test_client_hello_refuses_too_many_suites() -> None:
    with pytest.raises(ValueError, match="128"):
        tlswire.client_hello("TLSv1.2", list(range(129)))


def test_sslv2_client_hello_shape() -> None:
    hello = tlswire.sslv2_client_hello(challenge=b"c" * 16)
    size = ((hello[0] & 0x7F) << 8) | hello[1]
    assert hello[0] & 0x80
    assert size == len(hello) - 2
    assert hello[2] == 1
    assert hello[3:5] == b"\x00\x02"
    assert int.from_bytes(hello[5:7], "big") == 3 * len(tlswire.SSLV2_CIPHER_KINDS)


# --- server replies built by hand -------------------------------------------------------------


def record(content: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", content, version, len(payload)) + payload


def handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def server_hello(
    version: int = 0x0303,
    cipher: int = 0xC02F,
    *,
    random: bytes = b"r" * 32,
    extensions: list[tuple[int, bytes]] | None = None,
) -> bytes:
    body = struct.pack("!H", version) + random + b"\x00" + struct.pack("!HB", cipher, 0)
    if extensions is not None:
        raw = b"".join(struct.pack("!HH", k, len(d)) + d for k, d in extensions)
        body += struct.pack("!H", len(raw)) + raw
    return handshake(2, body)


def sslv2_server_hello(kinds: list[int], cert: bytes = b"C" * 40) -> bytes:
    specs = b"".join(k.to_bytes(3, "big") for k in kinds)
    message = (
        b"\x04\x00\x01\x00\x02"
        + struct.pack("!HHH", len(cert), len(specs), 16)
        + cert
        + specs
        + b"i" * 16
    )
    return struct.pack("!H", 0x8000 | len(message)) + message


def test_tls12_server_hello_is_read() -> None:
    reply = tlswire.parse_reply(record(22, server_hello(0x0303, 0xC030)))
    assert (reply.kind, reply.version, reply.cipher) == ("server_hello", 0x0303, 0xC030)


def test_tls13_server_hello_uses_supported_versions() -> None:
    share = struct.pack("!HH", 0x001D, 32) + b"k" * 32
    sh = server_hello(0x0303, 0x1302, extensions=[(43, b"\x03\x04"), (51, share)])
    reply = tlswire.parse_reply(record(22, sh))
    assert (reply.kind, reply.version, reply.cipher, reply.group) == (
        "server_hello",
        0x0304,
        0x1302,
        0x001D,
    )


def test_hello_retry_request_is_recognised() -> None:
    hrr = server_hello(
        0x0303, 0x1301, random=tlswire.HRR_RANDOM, extensions=[(43, b"\x03\x04"), (51, b"\x00\x17")]
    )
    reply = tlswire.parse_reply(record(22, hrr))
    assert (reply.kind, reply.cipher, reply.group) == ("hello_retry", 0x1301, 0x0017)


def test_alert_is_read() -> None:
    reply = tlswire.parse_reply(record(21, b"\x02\x46"))
    assert (reply.kind, reply.alert) == ("alert", 70)


def test_sslv2_server_hello_lists_its_kinds() -> None:
    reply = tlswire.parse_reply(sslv2_server_hello([0x010080, 0x0700C0]))
    assert (reply.kind, reply.sslv2_kinds) == ("sslv2", (0x010080, 0x0700C0))
    assert cipher_suites.registry().sslv2[0x0700C0] == "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"


def test_key_exchange_is_read_across_records_and_sizes_measured() -> None:
    prime = b"\xff" * 128  # 1024 bits
    ske = struct.pack("!H", len(prime)) + prime + b"\x00\x01\x02" + b"\x00\x01\x05"
    flight = server_hello(0x0303, 0x009E) + handshake(11, b"\x00" * 3000) + handshake(12, ske)
    flight += handshake(14, b"")
    data = b"".join(record(22, flight[i : i + 1000]) for i in range(0, len(flight), 1000))
    reply = tlswire.parse_reply(data, key_exchange=True)
    assert reply.key_exchange == ske
    assert tlswire.dh_bits(reply.key_exchange) == 1024
    assert tlswire.ecdhe_group(b"\x03\x00\x17\x41") == 0x17


def test_dh_params_are_read_and_the_signature_behind_them_left_alone() -> None:
    prime = b"\x00" + b"\xff" * 256  # a leading zero byte does not count towards the size
    signature = b"\x04\x01" + struct.pack("!H", 3) + b"sig"
    ske = struct.pack("!H", len(prime)) + prime + b"\x00\x01\x02" + b"\x00\x02\x01\x00"
    params = tlswire.dh_params(ske + signature)
    assert params == tlswire.DhParams(p=2**2048 - 1, g=2, ys=256)
    assert tlswire.dh_bits(ske + signature) == 2048
    for broken in (b"", b"\x00\x00", b"\x00\x01\x00\x00\x01\x02\x00\x01\x05", ske[:-1]):
        with pytest.raises(WireError):
            tlswire.dh_params(broken)


@settings(max_examples=50, deadline=None)
@given(cut=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=40))
def test_any_fragmentation_gives_the_same_reply(cut: list[int]) -> None:
    share = struct.pack("!HH", 0x0017, 3) + b"abc"
    data = record(22, server_hello(0x0303, 0x1303, extensions=[(43, b"\x03\x04"), (51, share)]))
    parser, at, reply = ReplyParser(), 0, None
    for size in [*cut, len(data)]:
        if at >= len(data) or reply is not None:
            break
        reply = parser.feed(data[at : at + size])
        at += size
    assert reply is not None
    assert (reply.version, reply.cipher) == (0x0304, 0x1303)


# --- hostile bytes ----------------------------------------------------------------------------


def _feed_all(chunks: list[bytes], key_exchange: bool) -> None:
    parser = ReplyParser(key_exchange=key_exchange)
    for chunk in chunks:
        assert parser.wanted() <= HEADER + RECORD_LIMIT
        if parser.feed(chunk) is not None:
            return
        assert parser.buffered <= MAX_REPLY_BYTES
        assert parser.total <= MAX_REPLY_BYTES


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=4096), key_exchange=st.booleans())
def test_arbitrary_bytes_raise_only_wire_error(data: bytes, key_exchange: bool) -> None:
    with contextlib.suppress(WireError):
        tlswire.parse_reply(data, key_exchange=key_exchange)


prefixes = st.sampled_from(
    [
        b"",
        b"\x16\x03\x03",
        b"\x16\x03\x03\x00\x30\x02\x00\x00\x2c\x03\x03",
        b"\x15\x03\x01\x00\x02",
        b"\x80",
        record(22, server_hello())[:-1],
    ]
)


@settings(max_examples=500, deadline=None)
@given(prefix=prefixes, tail=st.lists(st.binary(max_size=600), max_size=8), kx=st.booleans())
def test_plausible_prefixes_with_garbage_raise_only_wire_error(
    prefix: bytes, tail: list[bytes], kx: bool
) -> None:
    with contextlib.suppress(WireError):
        _feed_all([prefix, *tail], kx)


@pytest.mark.parametrize(
    "header",
    [
        b"\x16\x03\x03\xff\xff",  # a 64 KB record
        b"\x16\x03\x03\x00\x04\x02\xff\xff\xff",  # a 16 MB handshake message
        b"\xff\xff",  # a 32 KB SSLv2 record
    ],
)
def test_huge_lengths_are_refused_before_any_body_is_read(header: bytes) -> None:
    parser = ReplyParser()
    with pytest.raises(WireError):
        parser.feed(header)
    assert parser.buffered <= len(header)


def test_a_flood_without_a_server_hello_stops_at_the_cap() -> None:
    parser = ReplyParser()
    message = handshake(11, b"\x00" * (MAX_REPLY_BYTES - 100))
    chunks = [record(22, message[i : i + 16000]) for i in range(0, len(message), 16000)]
    for chunk in chunks[:-1]:
        assert parser.feed(chunk) is None
        assert parser.buffered <= MAX_REPLY_BYTES
    with pytest.raises(WireError):
        parser.feed(chunks[-1])


def test_a_huge_flight_after_the_server_hello_is_cut_off_not_buffered() -> None:
    parser = ReplyParser(key_exchange=True)
    assert parser.feed(record(22, server_hello(0x0303, 0x009E))) is None
    message = handshake(11, b"\x00" * MAX_REPLY_BYTES)
    reply = None
    for at in range(0, len(message), 16000):
        reply = parser.feed(record(22, message[at : at + 16000]))
        if reply is not None:
            break
        assert parser.buffered <= MAX_REPLY_BYTES
    assert reply is not None
    assert reply.complete is False
    assert reply.cipher == 0x009E


def test_exchange_refuses_a_huge_record_and_returns_none_when_cut_short() -> None:
    server, client = socket.socketpair()
    with server, client:
        server.sendall(b"\x16\x03\x03\xff\xff" + b"\x00" * 1000)
        with pytest.raises(WireError):
            tlswire.exchange(client, b"hello", timeout=2, cancel=threading.Event())
    server, client = socket.socketpair()
    with server, client:
        server.sendall(b"\x16\x03\x03\x40\x00" + b"\x02" + b"\x00" * 100)
        server.shutdown(socket.SHUT_WR)
        assert tlswire.exchange(client, b"hello", timeout=2, cancel=threading.Event()) is None
