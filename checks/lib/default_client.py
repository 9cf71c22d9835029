"""Reads this machine's default TLS client policy and shakes hands with a server under it."""

from __future__ import annotations

import ctypes
import functools
import ssl
import sys
import threading
import time
from dataclasses import dataclass

from checks.core.target import to_ascii
from checks.lib import cipher_suites, net, starttls

# OpenSSL's SSL_CTRL_GET_MIN_PROTO_VERSION and SSL_CTRL_GET_MAX_PROTO_VERSION.
_GET_MIN_PROTO, _GET_MAX_PROTO = 130, 131
_PROTO_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2"}
_PROTO_NAMES[0x0304] = "TLSv1.3"
_TLS_VERSIONS = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_MAX_HANDSHAKE_BYTES = 512 * 1024


@dataclass(frozen=True)
class SystemPolicy:
    """What a program that leaves OpenSSL's settings alone (curl, git, wget) gets here.

    Attributes:
        library: the OpenSSL build read (the one this process and those programs load).
        security_level: OpenSSL's security level: 2 refuses DH, RSA keys under 2048 bits and
            SHA-1 signatures.
        min_version / max_version: the configured bounds, None when OpenSSL's own.
        suites: the TLS 1.2-and-older suites offered, OpenSSL's names, in its order.
    """

    library: str
    security_level: int
    min_version: str | None
    max_version: str | None
    suites: tuple[str, ...]
    tls13_suites: tuple[str, ...]

    @property
    def iana_suites(self) -> tuple[str, ...]:
        """Every suite offered, by IANA name, as the cipher-suite registry spells them."""
        registry = cipher_suites.registry()
        names = []
        for name in (*self.tls13_suites, *self.suites):
            suite = registry.by_openssl.get(name) or registry.by_name.get(name)
            names.append(suite.name if suite is not None else name)
        return tuple(names)


def _libssl() -> ctypes.CDLL | None:
    """The libssl this process already loaded for Python's `ssl` module (Linux only: elsewhere
    Python carries a private OpenSSL that no other program on the machine uses)."""
    if not sys.platform.startswith("linux"):
        return None
    major = ssl.OPENSSL_VERSION_INFO[0]
    try:
        lib = ctypes.CDLL(f"libssl.so.{major}")
    except OSError:
        return None
    lib.TLS_client_method.restype = ctypes.c_void_p
    lib.SSL_CTX_new.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_new.restype = ctypes.c_void_p
    lib.SSL_CTX_free.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_get_security_level.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    lib.SSL_CTX_ctrl.restype = ctypes.c_long
    lib.SSL_CTX_get_ciphers.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_get_ciphers.restype = ctypes.c_void_p
    lib.OPENSSL_sk_num.argtypes = [ctypes.c_void_p]
    lib.OPENSSL_sk_value.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.OPENSSL_sk_value.restype = ctypes.c_void_p
    lib.SSL_CIPHER_get_name.argtypes = [ctypes.c_void_p]
    lib.SSL_CIPHER_get_name.restype = ctypes.c_char_p
    return lib


@functools.cache
def system_policy() -> SystemPolicy | None:
    """The policy a fresh OpenSSL client context gets from the build and `openssl.cnf`, read from
    the library itself rather than guessed from the file; None where it cannot be read."""
    lib = _libssl()
    if lib is None:
        return None
    ctx = lib.SSL_CTX_new(lib.TLS_client_method())
    if not ctx:
        return None
    try:
        level = int(lib.SSL_CTX_get_security_level(ctx))
        low = _PROTO_NAMES.get(int(lib.SSL_CTX_ctrl(ctx, _GET_MIN_PROTO, 0, None)))
        high = _PROTO_NAMES.get(int(lib.SSL_CTX_ctrl(ctx, _GET_MAX_PROTO, 0, None)))
        stack = lib.SSL_CTX_get_ciphers(ctx)
        names = [
            (lib.SSL_CIPHER_get_name(lib.OPENSSL_sk_value(stack, i)) or b"").decode("ascii")
            for i in range(lib.OPENSSL_sk_num(stack) if stack else 0)
        ]
    finally:
        lib.SSL_CTX_free(ctx)
    return SystemPolicy(
        library=ssl.OPENSSL_VERSION,
        security_level=level,
        min_version=low,
        max_version=high,
        suites=tuple(n for n in names if not n.startswith("TLS_")),
        tls13_suites=tuple(n for n in names if n.startswith("TLS_")),
    )


@dataclass(frozen=True)
class PolicyHandshake:
    """One handshake under the default policy, certificates not judged (that is the cert check's
    work): did the policy let it through, and if not, OpenSSL's reason.

    Attributes:
        outcome: `ok`, `refused` (this side or the server gave up), `timeout` or `error`.
        reason: OpenSSL's reason code in lower case (`dh_key_too_small`), when refused.
        detail: the reason in OpenSSL's words (`dh key too small`).
    """

    outcome: str
    reason: str | None = None
    detail: str = ""
    version: str | None = None
    cipher: str | None = None


def _context(policy: SystemPolicy) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Python sets a cipher string and minimum version of its own; put the system's back.
    context.set_ciphers(":".join((*policy.suites, f"@SECLEVEL={policy.security_level}")))
    context.minimum_version = _TLS_VERSIONS.get(
        policy.min_version or "", ssl.TLSVersion.MINIMUM_SUPPORTED
    )
    context.maximum_version = _TLS_VERSIONS.get(
        policy.max_version or "", ssl.TLSVersion.MAXIMUM_SUPPORTED
    )
    return context


def _reason(exc: ssl.SSLError) -> tuple[str | None, str]:
    reason = (exc.reason or "").lower() or None
    words = str(exc.args[1] if len(exc.args) > 1 else exc)
    # "[SSL: DH_KEY_TOO_SMALL] dh key too small (_ssl.c:992)" -> "dh key too small"
    words = words.split("] ", 1)[-1].rsplit(" (_ssl.c", 1)[0]
    return reason, words


def probe(
    address: str,
    port: int,
    *,
    sni: str | None,
    policy: SystemPolicy,
    timeout: float,
    cancel: threading.Event,
    opening: starttls.Opening | None = None,
) -> PolicyHandshake:
    """Shake hands with `address` as a program using the default policy would, over memory BIOs
    so that the timeout and cancel hold at every read; after the STARTTLS `opening`, if any."""
    try:
        sock = starttls.connect(address, port, opening, timeout=timeout, cancel=cancel)
    except net.ConnectError as exc:
        return PolicyHandshake("error", detail=f"connect: {exc}")
    except starttls.UpgradeFailed as exc:
        return PolicyHandshake("error", detail=str(exc))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_name = to_ascii(sni) if sni else None
    conn = _context(policy).wrap_bio(incoming, outgoing, server_hostname=server_name)
    deadline = time.monotonic() + timeout
    received = 0
    with sock:
        while True:
            try:
                conn.do_handshake()
                sock.sendall(outgoing.read())
                suite = conn.cipher()
                cipher = suite[0] if suite else None
                return PolicyHandshake("ok", version=conn.version(), cipher=cipher)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                reason, words = _reason(exc)
                return PolicyHandshake("refused", reason=reason, detail=words)
            try:
                sock.sendall(outgoing.read())
                left = max(0.0, deadline - time.monotonic())
                data = net.recv(sock, 65536, timeout=left, cancel=cancel)
            except TimeoutError:
                return PolicyHandshake("timeout", detail=f"no reply within {timeout:g} s")
            except OSError as exc:
                return PolicyHandshake("refused", reason="closed", detail=str(exc))
            if not data:
                incoming.write_eof()
                continue
            received += len(data)
            if received > _MAX_HANDSHAKE_BYTES:
                return PolicyHandshake("error", detail="reply over 512 KB")
            incoming.write(data)
