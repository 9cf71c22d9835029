"""The list of every check, in the order reports show them, and the plan for one run."""

from __future__ import annotations

from checks import (
    captive_portal,
    certificate,
    client_policy,
    clock,
    dns,
    interception,
    protocols,
    proxy,
    security_software,
    tcp,
    tls,
    trust_store,
)
from checks.core.check import Check
from checks.core.config import Settings

CHECKS: tuple[Check, ...] = (
    captive_portal.CHECK,
    clock.CHECK,
    trust_store.CHECK,
    proxy.CHECK,
    interception.CHECK,
    security_software.CHECK,
    client_policy.CHECK,
    dns.CHECK,
    tcp.CHECK,
    tls.CHECK,
    certificate.CHECK,
    protocols.CHECK,
)


def plan(settings: Settings, *, has_target: bool) -> tuple[Check, ...]:
    """The checks to run: local ones unless `--only target`, target ones when there is a target."""
    wanted = {"local", "target"} if settings.only is None else {settings.only}
    if not has_target:
        wanted.discard("target")
    return tuple(check for check in CHECKS if check.scope in wanted)


def emitted_findings() -> dict[str, tuple[str, ...]]:
    """Every finding id any check can emit, with its variants (the catalogue must cover them)."""
    ids: dict[str, tuple[str, ...]] = dict(INPUT_FINDINGS)
    for check in CHECKS:
        ids.update(check.findings)
    return ids


# Notes `checks.target.parse` attaches to a target; the engine reports them as the `input` check.
INPUT_FINDINGS: dict[str, tuple[str, ...]] = {
    "input.credentials_removed": (),
    "input.port_assumed": (),
    "input.http_upgraded": (),
    "input.servername_differs": (),
}
