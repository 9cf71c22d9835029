"""What the TCP check measured: one connection attempt per address of the target."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One connection to one address: `result` is `connected` or how it failed."""

    address: str
    family: str
    result: str
    detail: str | None = absent_when_none()
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class TcpFacts(Facts):
    """Every attempt, and the addresses that accepted the connection (the TLS check uses them)."""

    check_id = "tcp"

    port: int
    attempts: tuple[Attempt, ...]
    connected: tuple[str, ...]
