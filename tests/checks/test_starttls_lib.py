"""The plain-text dialogs of checks.lib.starttls against scripted loopback peers: every outcome,
and every bound (line length, line count, time) on a peer that misbehaves."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from checks.core.check import Cancelled
from checks.lib import starttls

Script = Callable[[socket.socket], None]


@contextmanager
def peer(script: Script) -> Iterator[int]:
    """A loopback server that runs `script` on its one connection; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            with suppress(OSError):
                script(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(6)


def lines(conn: socket.socket, count: int) -> list[bytes]:
    """Read `count` request lines."""
    data = b""
    while data.count(b"\n") < count:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.splitlines()


def dialog(*steps: bytes | int) -> Script:
    """Send each bytes step; an int step reads that many request lines first."""

    def script(conn: socket.socket) -> None:
        for step in steps:
            if isinstance(step, int):
                lines(conn, step)
            else:
                conn.sendall(step)
        time.sleep(0.3)

    return script


def run(script: Script, protocol: str, timeout: float = 2.0) -> starttls.Upgrade:
    with peer(script) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        return starttls.upgrade(
            sock, protocol, host="mail.lab.test", timeout=timeout, cancel=threading.Event()
        )


EHLO = b"250-mail.lab.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n"


@pytest.mark.parametrize(
    ("script", "outcome", "advertised"),
    [
        (dialog(b"220 mail ESMTP\r\n", 1, EHLO, 1, b"220 2.0.0 Ready\r\n"), "ok", True),
        (
            dialog(b"220 mail\r\n", 1, b"250-mail\r\n250 AUTH PLAIN\r\n", 1, b"502 5.5.1 no\r\n"),
            "not_offered",
            False,
        ),
        (dialog(b"220 m\r\n", 1, EHLO, 1, b"454 4.7.0 TLS not available\r\n"), "refused", True),
        (
            dialog(b"220 m\r\n", 1, b"250 m\r\n", 1, b"530 5.7.0 Must issue an AUTH first\r\n"),
            "after_auth",
            False,
        ),
    ],
)
def test_smtp(script: Script, outcome: str, advertised: bool) -> None:
    up = run(script, "smtp")
    assert up.outcome == outcome
    assert up.advertised is advertised
    assert up.greeting.startswith("220")


def test_smtp_lists_the_capabilities_it_saw() -> None:
    up = run(dialog(b"220 mail ESMTP\r\n", 1, EHLO, 1, b"220 Go ahead\r\n"), "smtp")
    assert up.offered == ("PIPELINING", "STARTTLS", "8BITMIME")
    assert up.reply == "220 Go ahead"


def test_silence_is_silent_within_the_timeout() -> None:
    started = time.monotonic()
    up = run(dialog(), "smtp", timeout=0.5)
    assert up.outcome in ("silent", "closed")
    assert time.monotonic() - started < 2.5


def test_a_silent_peer_that_stays_connected_is_silent() -> None:
    def hold(conn: socket.socket) -> None:
        time.sleep(1.5)

    with peer(hold) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        up = starttls.upgrade(sock, "imap", host="x", timeout=0.5, cancel=threading.Event())
        waited = time.monotonic() - started
    assert up.outcome == "silent"
    # The bound, not a speed: the wait ends at the timeout though the peer holds on.
    assert waited < 1.4


def test_an_endless_greeting_stops_at_the_line_limit() -> None:
    def endless(conn: socket.socket) -> None:
        for _ in range(starttls.MAX_LINES + 50):
            conn.sendall(b"220-still greeting\r\n")

    up = run(endless, "smtp", timeout=5)
    assert up.outcome == "stalled"
    assert "220-still greeting" in up.reply


def test_a_line_without_end_stops_at_the_length_limit() -> None:
    up = run(dialog(b"220 " + b"x" * (starttls.MAX_LINE + 10)), "smtp")
    assert up.outcome == "stalled"


def test_a_greeting_cut_short_is_stalled_at_the_timeout() -> None:
    def partial(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.lab")
        time.sleep(1.5)

    up = run(partial, "smtp", timeout=0.5)
    assert up.outcome == "stalled"
    assert up.reply == "220 mail.lab"


def test_tls_bytes_first_mean_implicit_tls() -> None:
    alert = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])
    assert run(dialog(alert), "ldap").outcome == "tls"


def test_another_protocol_is_named() -> None:
    up = run(dialog(b"* OK [CAPABILITY IMAP4rev1] ready\r\n"), "smtp")
    assert (up.outcome, up.spoken) == ("other", "imap")
    http = run(dialog(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "pop3")
    assert (http.outcome, http.spoken) == ("other", "http")


def test_cancel_ends_the_wait() -> None:
    cancel = threading.Event()

    def hold(conn: socket.socket) -> None:
        time.sleep(2)

    with peer(hold) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            starttls.upgrade(sock, "smtp", host="x", timeout=10, cancel=cancel)
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("tagged", "caps", "outcome"),
    [
        (b"hd2 OK Begin TLS negotiation now\r\n", b"STARTTLS LOGINDISABLED", "ok"),
        (b"hd2 BAD TLS support isn't enabled.\r\n", b"AUTH=PLAIN", "not_offered"),
        (b"hd2 NO [UNAVAILABLE] try later\r\n", b"STARTTLS", "refused"),
    ],
)
def test_imap(tagged: bytes, caps: bytes, outcome: str) -> None:
    script = dialog(
        b"* OK Dovecot ready.\r\n",
        1,
        b"* CAPABILITY IMAP4rev1 " + caps + b"\r\nhd1 OK done\r\n",
        1,
        tagged,
    )
    up = run(script, "imap")
    assert up.outcome == outcome
    assert up.advertised is (b"STARTTLS" in caps)


def test_imap_preauth_and_bye() -> None:
    assert run(dialog(b"* PREAUTH logged in\r\n"), "imap").outcome == "after_auth"
    assert run(dialog(b"* BYE too many connections\r\n"), "imap").outcome == "refused"


@pytest.mark.parametrize(
    ("capa", "answer", "outcome"),
    [
        (b"+OK\r\nUSER\r\nSTLS\r\n.\r\n", b"+OK Begin TLS\r\n", "ok"),
        (b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n", b"-ERR Unknown command\r\n", "not_offered"),
        (b"-ERR no CAPA\r\n", b"-ERR Unknown command\r\n", "not_offered"),
        (b"+OK\r\nSTLS\r\n.\r\n", b"-ERR [SYS/TEMP] TLS unavailable\r\n", "refused"),
    ],
)
def test_pop3(capa: bytes, answer: bytes, outcome: str) -> None:
    assert run(dialog(b"+OK POP3 ready\r\n", 1, capa, 1, answer), "pop3").outcome == outcome


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (b"234 AUTH TLS OK.\r\n", "ok"),
        (b"500 Unknown command.\r\n", "not_offered"),
        (b"534 Request denied for policy reasons.\r\n", "refused"),
    ],
)
def test_ftp(answer: bytes, outcome: str) -> None:
    up = run(dialog(b"220-Welcome\r\n220 FTP server ready\r\n", 1, answer), "ftp")
    assert up.outcome == outcome
    assert up.greeting == "220-Welcome"


def xmpp(features: bytes, answer: bytes) -> Script:
    def script(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(
            b"<?xml version='1.0'?><stream:stream from='lab.test' id='1' version='1.0' "
            b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
            b"<stream:features>" + features + b"</stream:features>"
        )
        if answer:
            conn.recv(4096)
            conn.sendall(answer)
        time.sleep(0.3)

    return script


def test_xmpp() -> None:
    starttls_feature = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    proceed = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    assert run(xmpp(starttls_feature, proceed), "xmpp").outcome == "ok"
    failure = b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
    assert run(xmpp(starttls_feature, failure), "xmpp").outcome == "refused"
    mechanisms = b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN"
    mechanisms += b"</mechanism></mechanisms>"
    up = run(xmpp(mechanisms, b""), "xmpp")
    assert up.outcome == "not_offered"
    assert "mechanisms" in up.offered


def ldap_result(code: int, message: bytes = b"") -> bytes:
    result = b"\x0a\x01" + bytes([code]) + b"\x04\x00" + b"\x04" + bytes([len(message)]) + message
    response = b"\x78" + bytes([len(result)]) + result
    body = b"\x02\x01\x01" + response
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(0, "ok"), (2, "not_offered"), (52, "not_offered"), (13, "after_auth"), (1, "refused")],
)
def test_ldap(code: int, outcome: str) -> None:
    def script(conn: socket.socket) -> None:
        request = conn.recv(4096)
        assert b"1.3.6.1.4.1.1466.20037" in request
        conn.sendall(ldap_result(code, b"unsupported extended operation"))
        time.sleep(0.3)

    up = run(script, "ldap")
    assert up.outcome == outcome
    assert up.reply.startswith(str(code))


@pytest.mark.parametrize(
    ("answer", "outcome"), [(b"S", "ok"), (b"N", "not_offered"), (b"HTTP/1.0 400", "other")]
)
def test_postgres(answer: bytes, outcome: str) -> None:
    def script(conn: socket.socket) -> None:
        assert conn.recv(8) == struct.pack("!II", 8, 80877103)
        conn.sendall(answer)
        time.sleep(0.3)

    assert run(script, "postgres").outcome == outcome


def test_postgres_error_is_quoted() -> None:
    message = b"SFATAL\0C08P01\0Munsupported frontend protocol 1234.5679\0\0"
    packet = b"E" + struct.pack("!I", 4 + len(message)) + message

    def script(conn: socket.socket) -> None:
        conn.recv(8)
        conn.sendall(packet)
        time.sleep(0.3)

    up = run(script, "postgres")
    assert up.outcome == "refused"
    assert "unsupported frontend protocol" in up.reply


def mysql_greeting(capabilities: int) -> bytes:
    payload = (
        b"\x0a8.0.36-lab\0"
        + struct.pack("<I", 7)
        + b"abcdefgh\0"
        + struct.pack("<H", capabilities & 0xFFFF)
        + b"\x2d"
        + struct.pack("<H", 2)
        + struct.pack("<H", capabilities >> 16)
        + b"\x15"
        + b"\0" * 10
        + b"ijklmnopqrst\0mysql_native_password\0"
    )
    return len(payload).to_bytes(3, "little") + b"\0" + payload


def test_mysql_ssl_flag() -> None:
    requests: list[bytes] = []

    def script(conn: socket.socket) -> None:
        conn.sendall(mysql_greeting(0x0800 | 0x0200 | 0x8000))
        requests.append(conn.recv(64))
        time.sleep(0.3)

    up = run(script, "mysql")
    assert (up.outcome, up.greeting) == ("ok", "8.0.36-lab")
    # The SSLRequest: 32 bytes, sequence 1, CLIENT_SSL set.
    assert requests[0][:4] == b"\x20\x00\x00\x01"
    assert struct.unpack("<I", requests[0][4:8])[0] & 0x0800
    assert run(dialog(mysql_greeting(0x0200 | 0x8000)), "mysql").outcome == "not_offered"


def test_mysql_error_greeting_is_a_refusal() -> None:
    message = b"Host '10.0.0.9' is not allowed to connect to this MySQL server"
    payload = b"\xff" + struct.pack("<H", 1130) + message
    packet = len(payload).to_bytes(3, "little") + b"\0" + payload
    up = run(dialog(packet), "mysql")
    assert up.outcome == "refused"
    assert "not allowed to connect" in up.reply


def test_connect_raises_with_the_upgrade() -> None:
    script = dialog(b"220 m\r\n", 1, b"250 m\r\n", 1, b"502 no\r\n")
    with peer(script) as port:
        opening = starttls.Opening("smtp", "mail.lab.test")
        with pytest.raises(starttls.UpgradeFailed) as failed:
            starttls.connect("127.0.0.1", port, opening, timeout=2, cancel=threading.Event())
    assert failed.value.upgrade.outcome == "not_offered"


def test_a_request_never_answered_is_unanswered_not_a_stalled_greeting() -> None:
    def ignore(conn: socket.socket) -> None:
        conn.sendall(b"220 mail ESMTP\r\n")
        lines(conn, 1)
        conn.sendall(EHLO)
        lines(conn, 1)
        time.sleep(1.5)

    up = run(ignore, "smtp", timeout=0.5)
    assert up.outcome == "unanswered"
