"""What the security-software check measured: how many processes it looked at."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class SecuritySoftwareFacts(Facts):
    """The process scan: its size and the product catalogue it used, or why it failed."""

    check_id = "security_software"

    processes_seen: int | None = absent_when_none()
    catalogue_version: int | None = absent_when_none()
    error: str | None = absent_when_none()
