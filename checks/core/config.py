"""The settings of one diagnosis, shared by the CLI options and the GUI's settings dialog."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from checks.core import policy

Scope = Literal["local", "target"]

DEFAULT_NTP_SERVERS = (
    "time.cloudflare.com",
    "time.google.com",
    "time.apple.com",
    "time.windows.com",
)
DEFAULT_CANARIES = ("www.google.com", "www.cloudflare.com", "www.microsoft.com", "www.apple.com")
# Plain-HTTP URLs that answer 204 (or a fixed body) unless a captive portal intercepts them.
DEFAULT_PORTAL_PROBES = (
    "http://connectivitycheck.gstatic.com/generate_204",
    "http://captive.apple.com/hotspot-detect.html",
)


@dataclass(frozen=True)
class Resolve:
    """A curl-style `--resolve HOST:PORT:ADDR` pin: connect to `address`, keep `host` for SNI."""

    host: str
    port: int
    address: str


@dataclass(frozen=True)
class Settings:
    """Everything a run can be told; defaults are what a user gets with no options.

    Attributes:
        connect_timeout: seconds for each connect or read on the network.
        check_deadline: seconds after which the engine gives up on a check.
        cacert: trust only the roots in this file for the target, as curl's `--cacert`.
        known_roots: the public root set to compare against (default: certifi's Mozilla set).
        resolve: curl-style address pins.
        ntp_servers: `host` or `host:port` strings, queried in parallel.
        canaries: well-known HTTPS hosts used to spot interception (and as HTTP time sources).
        portal_probes: plain-HTTP URLs whose answer a captive portal would replace.
        offline: contact nothing but the target.
        only: run only the local-machine checks or only the target checks.
        lang: language of the output; None follows the OS.
        expires_soon_days: warn when a certificate of the target ends within this many days
            (0: never); within `policy.EXPIRES_URGENT_DAYS` the warning leads the verdict.
    """

    connect_timeout: float = 5.0
    check_deadline: float = 30.0
    cacert: Path | None = None
    known_roots: Path | None = None
    resolve: tuple[Resolve, ...] = ()
    ntp_servers: tuple[str, ...] = DEFAULT_NTP_SERVERS
    canaries: tuple[str, ...] = DEFAULT_CANARIES
    portal_probes: tuple[str, ...] = DEFAULT_PORTAL_PROBES
    offline: bool = False
    only: Scope | None = None
    lang: str | None = None
    expires_soon_days: int = policy.EXPIRES_SOON_DAYS

    def canary_sites(self) -> tuple[tuple[Canary, ...], tuple[str, ...]]:
        """The well-known sites that parse as host[:port], and the texts that do not."""
        good: list[Canary] = []
        bad: list[str] = []
        for text in self.canaries:
            try:
                good.append(parse_canary(text))
            except ValueError:
                bad.append(text)
        return tuple(good), tuple(bad)

    def pinned_address(self, host: str, port: int) -> str | None:
        """The address a `--resolve` pin gives for `host:port`, if any."""
        for pin in self.resolve:
            if pin.host == host and pin.port in (port, 0):
                return pin.address
        return None


@dataclass(frozen=True)
class Canary:
    """A well-known HTTPS site used as a reference point."""

    host: str
    port: int

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_canary(text: str) -> Canary:
    """`host`, `host:port` or `[v6]:port`; raise `ValueError` when it is none of these."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "443"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, "443"
    number = int(port)
    if not host or not 0 < number < 65536:
        raise ValueError(f"{text!r} is not host[:port]")
    return Canary(host.lower().rstrip("."), number)
