"""What the DNS check measured: the addresses of the target, and the server's answer on failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class DirectAnswer:
    """What the system's DNS server answered when asked itself, after the system lookup failed.

    Attributes:
        address: the server that answered (the last one asked when none did), or None.
        rcode: `NOERROR`, `NXDOMAIN`, `SERVFAIL` ..., or None when no answer came.
        ede_code, ede_text: the first Extended DNS Error (RFC 8914) of the answer.
        error: why no answer came (`timeout`, `refused` ...), None when one came.
    """

    address: str | None
    rcode: str | None
    ede_code: int | None
    ede_text: str | None
    error: str | None
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class DnsFacts(Facts):
    """The addresses of the target (the TCP check connects to them).

    A pinned address or an IP target records `pinned` and no lookup; a lookup records the
    answers per family, the errors per record type and, when it failed, the direct answers.
    """

    check_id = "dns"

    host: str
    addresses: tuple[str, ...]
    pinned: bool | None = absent_when_none()
    ipv4: tuple[str, ...] | None = absent_when_none()
    ipv6: tuple[str, ...] | None = absent_when_none()
    elapsed_ms: float | None = absent_when_none()
    errors: Mapping[str, str] | None = absent_when_none()
    asked_directly: Mapping[str, DirectAnswer] | None = absent_when_none()
