"""What the captive-portal check measured: each probe address and what answered it."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts


@dataclass(frozen=True)
class Probed:
    """One probe's result: `clear` (no portal), `portal` or `unknown` (no usable answer)."""

    url: str
    verdict: str
    status: int | None = None
    location_host: str | None = None
    detail: str = ""
    elapsed_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CaptivePortalFacts(Facts):
    """Every probe that was sent (none when offline or no probe address is set)."""

    check_id = "captive_portal"

    probes: tuple[Probed, ...]
