"""Network primitives with hard timeouts that also give up as soon as the run is cancelled."""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

from checks.core.check import Cancelled

ConnectFailure = Literal["refused", "timeout", "unreachable", "error"]
_SLICE_S = 0.1
T = TypeVar("T")


class ConnectError(OSError):
    """A TCP connection could not be made; `kind` tells refused, timeout and unreachable apart."""

    def __init__(self, kind: ConnectFailure, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class LookupTimeout(OSError):
    """The resolver did not answer in time."""


def family_name(address: str) -> str:
    """`IPv4` or `IPv6` for an address literal."""
    return "IPv6" if ipaddress.ip_address(address.split("%", 1)[0]).version == 6 else "IPv4"


def in_thread(
    func: Callable[[], T], *, timeout: float, cancel: threading.Event, name: str = "net"
) -> T:
    """Run a blocking call that has no timeout of its own (getaddrinfo) and stop waiting for it
    after `timeout` seconds or on cancel; the daemon thread is abandoned, never joined."""
    box: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            box.append(func())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True, name=name)
    thread.start()
    end = time.monotonic() + timeout
    while thread.is_alive():
        if cancel.is_set():
            raise Cancelled
        left = end - time.monotonic()
        if left <= 0:
            raise LookupTimeout(f"no answer within {timeout:g} s")
        thread.join(min(_SLICE_S, left))
    if error:
        raise error[0]
    return box[0]


def first_address(host: str, port: int, *, timeout: float, cancel: threading.Event) -> str:
    """`host` itself when it is an address literal, else the first address the system resolver
    gives; raises `OSError` (`LookupTimeout` after `timeout`) or `Cancelled`."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass

    def lookup() -> str:
        return str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])

    return in_thread(lookup, timeout=timeout, cancel=cancel, name=f"lookup-{host}")


def _wait(sock: socket.socket, *, write: bool, timeout: float, cancel: threading.Event) -> bool:
    """Wait until `sock` is ready; False on timeout; raise `Cancelled` on cancel."""
    end = time.monotonic() + timeout
    while True:
        if cancel.is_set():
            raise Cancelled
        left = end - time.monotonic()
        if left <= 0:
            return False
        readable, writable = ([], [sock]) if write else ([sock], [])
        ready = select.select(readable, writable, [], min(_SLICE_S, left))
        if ready[1 if write else 0]:
            return True


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


def _classify(code: int) -> ConnectFailure:
    if code == errno.ECONNREFUSED:
        return "refused"
    if code in (errno.ETIMEDOUT,):
        return "timeout"
    if code in _UNREACHABLE:
        return "unreachable"
    return "error"


def connect(address: str, port: int, *, timeout: float, cancel: threading.Event) -> socket.socket:
    """Open a TCP connection to an address literal, or raise `ConnectError` / `Cancelled`."""
    family = socket.AF_INET6 if family_name(address) == "IPv6" else socket.AF_INET
    try:
        sockaddr = socket.getaddrinfo(address, port, family, socket.SOCK_STREAM)[0][4]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectError("unreachable", str(exc)) from exc
    try:
        sock.setblocking(False)
        code = sock.connect_ex(sockaddr)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            raise ConnectError(_classify(code), errno.errorcode.get(code, str(code)))
        if code != 0:
            if not _wait(sock, write=True, timeout=timeout, cancel=cancel):
                raise ConnectError("timeout", f"no answer within {timeout:g} s")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise ConnectError(_classify(code), errno.errorcode.get(code, str(code)))
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise


def recv(sock: socket.socket, size: int, *, timeout: float, cancel: threading.Event) -> bytes:
    """Read up to `size` bytes; b"" on orderly close; raise `TimeoutError` or `Cancelled`."""
    if not _wait(sock, write=False, timeout=timeout, cancel=cancel):
        raise TimeoutError(f"no data within {timeout:g} s")
    return sock.recv(size)


def datagrams(
    sock: socket.socket, size: int, *, deadline: float, cancel: threading.Event
) -> Iterator[bytes]:
    """Every datagram that reaches the non-blocking `sock` until the monotonic `deadline`;
    raises `Cancelled`, and the `OSError` of a failed read (an ICMP refusal on a connected
    socket). The caller decides which datagram is its answer and stops reading there."""
    while True:
        if cancel.is_set():
            raise Cancelled
        left = deadline - time.monotonic()
        if left <= 0:
            return
        readable, _, _ = select.select([sock], [], [], min(_SLICE_S, left))
        if not readable:
            continue
        try:
            yield sock.recv(size)
        except BlockingIOError:
            continue
