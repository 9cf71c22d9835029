"""Asks this operating system's own certificate verifier (truststore) about a chain."""

from __future__ import annotations

import socket
import ssl
import threading

import truststore

from checks.core.check import Cancelled
from checks.core.facts.certificate import Judgement
from checks.lib import net, starttls

# The OS handshake runs on a helper thread whose socket already times out; this extra wait only
# covers the thread's own start and teardown.
_OS_GRACE_S = 1.0


def _os_handshake(sock: socket.socket, server_hostname: str | None, timeout: float) -> Judgement:
    sock.settimeout(timeout)
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Only the chain is asked about: the certificate check judges the names itself.
    context.check_hostname = False
    try:
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        return Judgement(trusted=False, detail=f"not trusted by the operating system: {reason}")
    return Judgement(trusted=True, detail=f"trusted by the operating system ({version})")


def ask_os(
    address: str,
    port: int,
    *,
    server_hostname: str | None,
    timeout: float,
    cancel: threading.Event,
    opening: starttls.Opening | None = None,
) -> Judgement:
    """Open a second connection and let the operating system's verifier judge the chain.

    Never raises (except `Cancelled`) and returns within about `timeout` seconds; when
    the operating system cannot be asked, the judgement's `trusted` is None.
    """
    try:
        sock = starttls.connect(address, port, opening, timeout=timeout, cancel=cancel)
    except (net.ConnectError, starttls.UpgradeFailed) as exc:
        return Judgement(trusted=None, detail=f"could not ask the operating system: {exc}")
    try:
        return net.in_thread(
            lambda: _os_handshake(sock, server_hostname, timeout),
            timeout=timeout + _OS_GRACE_S,
            cancel=cancel,
            name="cert-os-verify",
        )
    except Cancelled:
        raise
    except Exception as exc:  # any failure here is a fact about this machine, not a crash
        detail = f"could not ask the operating system: {type(exc).__name__}: {exc}"
        return Judgement(trusted=None, detail=detail)
    finally:
        sock.close()
