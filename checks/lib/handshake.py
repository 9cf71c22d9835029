"""Performs one TLS handshake through memory BIOs, bounded in time and size."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from OpenSSL import SSL

from checks.core.target import to_ascii
from checks.lib import net, starttls

# Bytes kept of what the server sends; enough to recognise a protocol, never the whole stream.
_SNIFF_BYTES = 64


# Limits on a hostile peer: total bytes read during one handshake.
_MAX_HANDSHAKE_BYTES = 512 * 1024
# A real OCSP response is 1-4 KB; more than this is not kept.
_MAX_STAPLE_BYTES = 64 * 1024


# After a TLS 1.3 handshake in which a client certificate was requested, the server's verdict
# (alert certificate_required) arrives after our Finished: wait this long for it.
_CLIENT_CERT_VERDICT_S = 1.0


# RFC 8446 section 6 and RFC 5246 section 7.2 alert descriptions.
ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


@dataclass(frozen=True)
class Handshake:
    """What one handshake attempt observed.

    Attributes:
        outcome: `ok`, `alert`, `closed`, `timeout`, `not_tls`, `malformed` or `error`.
        version: negotiated protocol (`TLSv1.3`), when the handshake got that far.
        cipher: negotiated cipher suite, OpenSSL's name.
        chain_pem: the certificates the server sent, in its order.
        alert: name of the alert the server sent (`handshake_failure`), if any.
        client_cert_requested: the server sent a CertificateRequest.
        client_ca_names: distinguished names of the CAs the server said it accepts.
        first_bytes: the start of what the server sent, for protocol sniffing.
        detail: the library's error text in words, for the report.
        received: bytes the server sent before the handshake ended or timed out.
        client_cert_refused: `HTTP_REFUSED` when the handshake completed without the
            requested client certificate but the web server then refused the request.
        ocsp_staple: the OCSP response the server stapled (DER), empty when none.
    """

    outcome: str
    version: str | None = None
    cipher: str | None = None
    chain_pem: tuple[str, ...] = ()
    alert: str | None = None
    client_cert_requested: bool = False
    client_ca_names: tuple[str, ...] = ()
    first_bytes: bytes = b""
    detail: str = ""
    leaf_sha256: str | None = field(default=None)
    received: int = 0
    client_cert_refused: str | None = None
    ocsp_staple: bytes = b""


def _client_context(*, tls12: bool = False) -> SSL.Context:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if tls12:
        # TLS 1.2 sends the certificates in the clear, where they can be read from the wire.
        context.set_max_proto_version(SSL.TLS1_2_VERSION)
    # We judge the chain ourselves afterwards; here every server must be let in so that we can
    # see its chain, however weak (security level 0 admits SHA-1 and 1024-bit keys).
    context.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    context.set_min_proto_version(SSL.TLS1_VERSION)
    return context


def _alert_from_records(data: bytes) -> str | None:
    """The alert in a plaintext TLS alert record at the start of `data`."""
    if len(data) >= 7 and data[0] == 0x15 and data[1] == 0x03 and data[3:5] == b"\x00\x02":
        return ALERTS.get(data[6], f"alert_{data[6]}")
    return None


_ALERT_TEXT = re.compile(r"(?:alert|tlsv1[0-9]*|sslv3) ((?:alert )?[a-z ]+)$")


def _alert_from_error(error: SSL.Error) -> str | None:
    """The alert named in OpenSSL's error text, such as `tlsv1 alert protocol version`."""
    for entry in error.args[0] if error.args and isinstance(error.args[0], list) else []:
        reason = str(entry[-1]).lower()
        if "alert" not in reason and "unrecognized name" not in reason:
            continue
        words = reason.split("alert", 1)[-1] if "alert" in reason else reason
        name = "_".join(re.sub(r"^(tlsv1[0-9]*|sslv3|tls) ", "", words.strip()).split())
        return name if name in ALERTS.values() else name or None
    return None


def error_text(exc: SSL.Error) -> str:
    """OpenSSL's reasons in words: `SysCallError(-1, 'Unexpected EOF')` is a hang-up."""
    if isinstance(exc, SSL.SysCallError):
        code, message = (*exc.args, None, None)[:2]
        if code == -1 or message == "Unexpected EOF":
            return "the connection was closed without a TLS alert (unexpected EOF)"
        if isinstance(code, int) and code > 0:
            return os.strerror(code)
        return str(message or "the connection failed")
    entries = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    reasons = [str(entry[-1]) for entry in entries if entry and entry[-1]]
    return "; ".join(dict.fromkeys(reasons)) or str(exc) or type(exc).__name__


def preview(data: bytes) -> str:
    """A printable, short rendering of raw bytes for the report."""
    text = "".join(chr(b) if 32 <= b < 127 else "·" for b in data[:48])
    return text.strip()


def _dn(name: object) -> str:
    components = name.get_components()  # type: ignore[attr-defined]
    return ", ".join(f"{k.decode()}={v.decode(errors='replace')}" for k, v in components)


_OVERSIZED = ("excessive message size", "packet length too long", "record overflow", "too long")


def malformed_kind(first: bytes, error: str) -> str:
    """Which way a reply that OpenSSL could not parse was broken: a `tls.malformed` variant."""
    if len(first) >= 3 and first[0] & 0x80 and first[2] == 0x04:
        return "sslv2"
    if any(words in error.lower() for words in _OVERSIZED):
        return "oversized"
    return "invalid"


def _chain(conn: SSL.Connection) -> tuple[str, ...]:
    certs = conn.get_peer_cert_chain(as_cryptography=True) or []
    return tuple(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


def _leaf_sha256(conn: SSL.Connection) -> str | None:
    leaf = conn.get_peer_certificate(as_cryptography=True)
    return leaf.fingerprint(hashes.SHA256()).hex() if leaf is not None else None


def handshake(
    address: str,
    port: int,
    *,
    sni: str | None,
    timeout: float,
    cancel: threading.Event,
    wire: bytearray | None = None,
    opening: starttls.Opening | None = None,
    http: bool = True,
) -> Handshake:
    """One TLS handshake over a fresh TCP connection to `address`, after the plain-text
    `opening` of a STARTTLS protocol when there is one."""
    try:
        sock = starttls.connect(address, port, opening, timeout=timeout, cancel=cancel)
    except net.ConnectError as exc:
        return Handshake("error", detail=f"connect: {exc}")
    except starttls.UpgradeFailed as exc:
        return Handshake("error", detail=str(exc))
    with sock:
        return handshake_over(sock, sni=sni, timeout=timeout, cancel=cancel, wire=wire, http=http)


def handshake_over(
    sock: socket.socket,
    *,
    sni: str | None,
    timeout: float,
    cancel: threading.Event,
    wire: bytearray | None = None,
    http: bool = True,
) -> Handshake:
    """One TLS handshake on a connected socket (direct, or a proxy tunnel), fed through memory
    BIOs so that every read honours `timeout` and `cancel` and a non-TLS reply is recognised.
    The caller keeps ownership of `sock`. With `wire`, the handshake is TLS 1.2 at most and
    every byte the server sends is kept there, for `sent_certificates`."""
    requested: list[bool] = []

    def on_state(conn: SSL.Connection, where: int, ret: int) -> None:
        if b"certificate request" in conn.get_state_string():
            requested.append(True)

    stapled: list[bytes] = []

    def on_staple(conn: SSL.Connection, response: bytes, data: object) -> bool:
        # Judged later with the chain; the handshake goes on whatever the staple says.
        stapled.append(response[:_MAX_STAPLE_BYTES])
        return True

    context = _client_context(tls12=wire is not None)
    context.set_info_callback(on_state)
    context.set_ocsp_client_callback(on_staple)
    conn = SSL.Connection(context, None)
    conn.set_connect_state()
    conn.request_ocsp()
    if sni:
        conn.set_tlsext_host_name(to_ascii(sni).encode("ascii"))
    first = bytearray()
    received = 0
    closed = False
    deadline = time.monotonic() + timeout

    def flush() -> None:
        with contextlib.suppress(SSL.WantReadError):
            sock.sendall(conn.bio_read(65536))

    def result(outcome: str, **values: object) -> Handshake:
        return Handshake(
            outcome,
            chain_pem=_chain(conn),
            client_cert_requested=bool(requested),
            client_ca_names=tuple(_dn(name) for name in conn.get_client_ca_list()),
            first_bytes=bytes(first),
            leaf_sha256=_leaf_sha256(conn),
            received=received,
            ocsp_staple=stapled[0] if stapled else b"",
            **values,  # type: ignore[arg-type]
        )

    while True:
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            pass
        except SSL.Error as exc:
            if wire is not None:
                _rest_of_certificates(sock, wire, deadline=deadline, cancel=cancel)
            alert = _alert_from_records(bytes(first)) or _alert_from_error(exc)
            if alert:
                return result("alert", alert=alert, detail=error_text(exc))
            if closed:
                return result("closed", detail=error_text(exc))
            return result("malformed", detail=error_text(exc))
        try:
            flush()
            data = net.recv(
                sock, 65536, timeout=max(0.0, deadline - time.monotonic()), cancel=cancel
            )
        except TimeoutError:
            if received:
                detail = f"{received} bytes of a TLS reply, then nothing within {timeout:g} s"
            else:
                detail = f"no TLS reply within {timeout:g} s"
            return result("timeout", detail=detail)
        except OSError as exc:  # reset by peer mid-handshake
            return result("closed", detail=str(exc))
        if not data:
            closed = True
            conn.bio_shutdown()
            continue
        if len(first) < _SNIFF_BYTES:
            first.extend(data[: _SNIFF_BYTES - len(first)])
            # A peer may drip its reply byte by byte: judge it once three bytes are in.
            if len(first) >= 3 and not starttls.looks_like_tls(bytes(first[:3])):
                return result("not_tls", detail=preview(bytes(first)))
        received += len(data)
        if wire is not None and received <= _MAX_HANDSHAKE_BYTES:
            wire.extend(data)
        if received > _MAX_HANDSHAKE_BYTES:
            return result("malformed", detail=f"record overflow: over {_MAX_HANDSHAKE_BYTES} bytes")
        conn.bio_write(data)
    flush()
    version, cipher = conn.get_protocol_version_name(), conn.get_cipher_name()
    if requested:
        verdict = _client_cert_verdict(conn, sock, host=sni, cancel=cancel, http=http)
        if verdict == HTTP_REFUSED:
            return result("ok", version=version, cipher=cipher, client_cert_refused=verdict)
        if verdict:
            return result("alert", alert=verdict, version=version, cipher=cipher)
    return result("ok", version=version, cipher=cipher)


# What a web server answers a request made without the certificate it requires (nginx:
# "400 No required SSL certificate was sent"; IIS: "403.7 Client certificate required").
HTTP_REFUSED = "http"
_HTTP_REFUSAL = re.compile(rb"^HTTP/1\.[01] (400|403)\b", re.IGNORECASE)
_CERTIFICATE_WORDS = re.compile(rb"certificate", re.IGNORECASE)
_HTTP_ANSWER_BYTES = 16 * 1024


def _client_cert_verdict(
    conn: SSL.Connection,
    sock: socket.socket,
    *,
    host: str | None,
    cancel: threading.Event,
    http: bool,
) -> str | None:
    """Whether the server goes on without the certificate it asked for.

    In TLS 1.3 a server that requires one says so with an alert after our Finished; web
    servers such as nginx finish the handshake in both versions and refuse at the HTTP layer,
    so one request is made and its answer read: an alert name, `HTTP_REFUSED`, or None when
    the server carried on. A server of another protocol (`http` false) gets no request: only
    its alert is waited for.
    """
    name = to_ascii(host) if host else "localhost"
    request = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode("ascii")
    answer = bytearray()
    deadline = time.monotonic() + _CLIENT_CERT_VERDICT_S
    try:
        if http:
            conn.send(request)
            sock.sendall(conn.bio_read(65536))
        while len(answer) < _HTTP_ANSWER_BYTES:
            try:
                answer.extend(conn.recv(_HTTP_ANSWER_BYTES))
                continue
            except SSL.WantReadError:
                pass
            left = deadline - time.monotonic()
            data = net.recv(sock, 65536, timeout=max(0.0, left), cancel=cancel)
            if not data:
                break
            conn.bio_write(data)
    except SSL.ZeroReturnError:
        pass
    except SSL.Error as exc:
        return _alert_from_error(exc)
    except (TimeoutError, OSError):
        pass
    if _HTTP_REFUSAL.match(answer) and _CERTIFICATE_WORDS.search(answer):
        return HTTP_REFUSED
    return None


def _certificate_message(wire: bytes) -> bytes | None:
    """The body of the first Certificate message in the plaintext handshake records of `wire`
    (TLS 1.2 and older), once all of it has arrived."""
    messages = bytearray()
    at = 0
    while at + 5 <= len(wire) and wire[at] in (0x15, 0x16):
        size = int.from_bytes(wire[at + 3 : at + 5], "big")
        if wire[at] == 0x16:
            messages += wire[at + 5 : at + 5 + size]
        at += 5 + size
    at = 0
    while at + 4 <= len(messages):
        kind, size = messages[at], int.from_bytes(messages[at + 1 : at + 4], "big")
        if at + 4 + size > len(messages):
            return None
        if kind == 11:
            return bytes(messages[at + 4 : at + 4 + size])
        at += 4 + size
    return None


def sent_certificates(wire: bytes) -> list[bytes]:
    """The DER certificates the server sent, read from `wire` as `handshake(wire=...)` kept it:
    what the server sent even when the handshake failed because the message was larger than
    OpenSSL accepts."""
    body = _certificate_message(wire) or b""
    certs, at = [], 3
    while at + 3 <= len(body):
        length = int.from_bytes(body[at : at + 3], "big")
        certs.append(body[at + 3 : at + 3 + length])
        at += 3 + length
    return certs


def _rest_of_certificates(
    sock: socket.socket, wire: bytearray, *, deadline: float, cancel: threading.Event
) -> None:
    """OpenSSL gives up as soon as a message announces more than it accepts: read on, within
    the time and size limits, until the Certificate message is whole."""
    while _certificate_message(bytes(wire)) is None and len(wire) < _MAX_HANDSHAKE_BYTES:
        try:
            left = max(0.0, deadline - time.monotonic())
            data = net.recv(sock, 65536, timeout=left, cancel=cancel)
        except (TimeoutError, OSError):
            return
        if not data:
            return
        wire.extend(data[: _MAX_HANDSHAKE_BYTES - len(wire)])
