"""What the proxy check measured: the settings programs follow, the routes they give, a tunnel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class ProxySource:
    """One place that tells programs to use a proxy (`environment`, `wininet`, `macos` ...),
    with credentials removed from every address."""

    source: str
    servers: Mapping[str, str]
    pac_url: str | None
    bypass: tuple[str, ...]
    variables: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class RouteTaken:
    """How a program that follows the proxy settings reaches one well-known site.

    `via` is the proxy as shown (credentials masked) or `direct`; `by` names what chose it.
    """

    site: str
    via: str
    by: Literal["environment", "system", "pac", "none"]


@dataclass(frozen=True, kw_only=True)
class PacScript:
    """The proxy auto-configuration script: where it is, its answer per site, or its error."""

    url: str
    answers: Mapping[str, str]
    error: str | None


@dataclass(frozen=True, kw_only=True)
class TunnelTried:
    """The CONNECT tunnel opened to a well-known site through the proxy on its route.

    `result` is `open` or why it failed (`refused`, `auth_required`, `unsupported` ...).
    """

    proxy: str
    site: str
    result: str
    detail: str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class ProxyFacts(Facts):
    """The proxy settings of this computer and what they do.

    Attributes:
        environment: the `*_proxy` variables, or None when none is set.
        system: the operating system's settings, each source on its own.
        python_uses: what Python's `urllib.request.getproxies()` returns (or its error).
        pac: the PAC script, when only a PAC script decides; else None.
        routes: the route to each well-known site (the clock and interception checks follow
            the PAC routes).
        tunnel: the tunnel tried through the first proxy, or None when none applies.
    """

    check_id = "proxy"

    environment: ProxySource | None
    system: tuple[ProxySource, ...]
    python_uses: Mapping[str, str]
    pac: PacScript | None
    routes: tuple[RouteTaken, ...]
    tunnel: TunnelTried | None
