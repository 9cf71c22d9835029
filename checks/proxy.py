"""Finds the proxy settings programs on this computer follow, and opens HTTP CONNECT tunnels."""

from __future__ import annotations

import os
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.config import Settings
from checks.core.facts.proxy import PacScript, ProxyFacts, TunnelTried
from checks.core.models import Finding, Outcome, Status
from checks.core.platform import current_os
from checks.core.redact import redact
from checks.lib import pac
from checks.lib.proxies import (
    ProxySetting,
    Route,
    TunnelError,
    environment_proxies,
    open_tunnel,
    parse_proxy,
    proxy_for,
    system_settings,
)
from checks.lib.system import CommandResult, run_command

# --- Environment -----------------------------------------------------------------------------


# --- Windows ---------------------------------------------------------------------------------


# --- macOS -----------------------------------------------------------------------------------


# --- Linux desktops --------------------------------------------------------------------------


# --- Gathering -------------------------------------------------------------------------------


def analyse(environment: ProxySetting | None, system: Sequence[ProxySetting]) -> list[Finding]:
    """proxy.none, or one proxy.configured per source, and the environment-override warning."""
    findings: list[Finding] = []
    settings = ([environment] if environment else []) + list(system)
    for setting in settings:
        variant = (
            "env" if setting.source == "environment" else "pac" if setting.pac_url else "system"
        )
        params: dict[str, object] = {
            "variant": variant,
            "source": setting.label,
            "proxies": setting.describe(),
            "pac_url": setting.pac_url,
            "bypass": ", ".join(setting.bypass[: policy.MAX_LISTED_NAMES]) or "—",
            "variables": ", ".join(setting.variables) or "—",
        }
        # A PAC script is something Python, curl, git and most command-line tools never read.
        status = Status.WARN if variant == "pac" else Status.PASS
        findings.append(Finding("proxy.configured", status, params, (setting.describe(),)))
    if environment is not None and system:
        params = {
            "variables": ", ".join(environment.variables),
            "system": "; ".join(f"{s.label}: {s.describe()}" for s in system),
        }
        findings.append(Finding("proxy.env_overrides_system", Status.WARN, params))
    if not findings:
        findings.append(Finding("proxy.none", Status.PASS, {}))
    return findings


# How a failed tunnel is told: finding id and variant.
TUNNEL_FINDINGS: Mapping[str, tuple[str, ...]] = {
    "proxy.unreachable": ("refused", "timeout", "unreachable", "bad_reply"),
    "proxy.auth_required": (),
    "proxy.rejected": (),
}
_TUNNEL_FAILURES: Mapping[str, tuple[str, str | None]] = {
    "refused": ("proxy.unreachable", "refused"),
    "timeout": ("proxy.unreachable", "timeout"),
    "unreachable": ("proxy.unreachable", "unreachable"),
    "error": ("proxy.unreachable", "unreachable"),
    "bad_reply": ("proxy.unreachable", "bad_reply"),
    "auth_required": ("proxy.auth_required", None),
    "rejected": ("proxy.rejected", None),
}


def _pac_routes(
    settings: Settings, pac_url: str, *, timeout: float, cancel: threading.Event
) -> tuple[list[Route], PacScript, Finding | None]:
    """Each well-known site's route by the PAC script at `pac_url`, as browsers take it."""
    canaries, _ = settings.canary_sites()
    shown = redact(pac_url)
    if pac_url == "auto":
        # WPAD discovery: the OS finds the script; not evaluated here.
        return [], PacScript(url=shown, answers={}, error=None), None
    try:
        script = pac.fetch(pac_url, timeout=timeout, cancel=cancel)
        urls = {c.name: f"https://{c.name}/" for c in canaries}
        by_url = pac.evaluate(script, list(urls.values()), timeout=timeout, cancel=cancel)
        answers = {name: by_url[url] for name, url in urls.items()}
    except pac.PacError as exc:
        failed = PacScript(url=shown, answers={}, error=redact(str(exc)))
        params = {"pac_url": shown, "variant": exc.kind, "detail": redact(str(exc))}
        return [], failed, Finding("proxy.pac_failed", Status.WARN, params, (redact(str(exc)),))
    routes = [Route(site, pac.first_proxy(answer), "pac") for site, answer in answers.items()]
    return routes, PacScript(url=shown, answers=answers, error=None), None


def routes(
    settings: Settings,
    environment: ProxySetting | None,
    system: Sequence[ProxySetting],
    *,
    timeout: float,
    cancel: threading.Event,
) -> tuple[list[Route], PacScript | None, Finding | None]:
    """The route to each well-known site: the environment's or the system's proxy as Python
    chooses it, or, when only a PAC script is set, that script's answer (what browsers and the
    operating system's own programs do); the PAC fact and a finding when the script failed."""
    canaries, _ = settings.canary_sites()
    pac_url = next((s.pac_url for s in system if s.pac_url), None)
    if environment is None and pac_url and not any(s.servers for s in system):
        if settings.offline:
            return [], None, None
        return _pac_routes(settings, pac_url, timeout=timeout, cancel=cancel)
    by: Literal["environment", "system"] = "environment" if environment else "system"
    found = [Route(c.name, chosen, by) for c in canaries if (chosen := proxy_for(c.host))]
    return found, None, None


def try_tunnel(
    settings: Settings, route: Route | None, *, timeout: float, cancel: threading.Event
) -> tuple[Finding | None, TunnelTried | None]:
    """Open a tunnel to the first well-known site through the proxy on its route, as a program
    here would: a failure finding (or None) and the fact of what was tried (or None when no
    proxy applies or nothing may be contacted)."""
    canaries, _ = settings.canary_sites()
    if settings.offline or not canaries or route is None or route.via is None:
        return None, None
    canary = next((c for c in canaries if c.name == route.site), canaries[0])
    chosen = route.via
    try:
        address = parse_proxy(chosen)
    except ValueError as exc:
        tried = TunnelTried(
            proxy=redact(chosen), site=canary.name, result="unsupported", detail=redact(str(exc))
        )
        return None, tried
    try:
        with open_tunnel(address, canary.host, canary.port, timeout=timeout, cancel=cancel):
            pass
    except TunnelError as exc:
        fact = TunnelTried(
            proxy=address.shown, site=canary.name, result=exc.kind, detail=redact(str(exc))
        )
        if exc.kind not in _TUNNEL_FAILURES:
            return None, fact
        finding_id, variant = _TUNNEL_FAILURES[exc.kind]
        params: dict[str, object] = {
            "proxy": address.shown,
            "host": canary.name,
            "status": exc.status,
            "schemes": ", ".join(exc.schemes) or "—",
        }
        if variant is not None:
            params["variant"] = variant
        return Finding(finding_id, Status.FAIL, params, (redact(str(exc)),)), fact
    return None, TunnelTried(proxy=address.shown, site=canary.name, result="open")


def run(ctx: Context) -> Outcome:
    def runner(argv: Sequence[str]) -> CommandResult:
        return run_command(argv, timeout=ctx.timeout(), cancel=ctx.cancel)

    environment = environment_proxies(os.environ)
    system = system_settings(current_os(), runner, home=Path.home())
    ctx.raise_if_cancelled()
    try:
        python_uses = {k: redact(v) for k, v in urllib.request.getproxies().items()}
    except Exception as exc:  # the OS lookup behind getproxies is outside our control
        python_uses = {"error": f"{type(exc).__name__}: {exc}"}
    findings = analyse(environment, system)
    found, pac_fact, pac_failure = routes(
        ctx.settings, environment, system, timeout=ctx.timeout(), cancel=ctx.cancel
    )
    if pac_failure is not None:
        findings.append(pac_failure)
    first = next(iter(found), None)
    failure, tunnel = try_tunnel(ctx.settings, first, timeout=ctx.timeout(), cancel=ctx.cancel)
    if failure is not None:
        findings.append(failure)
    facts = ProxyFacts(
        environment=environment.fact() if environment else None,
        system=tuple(s.fact() for s in system),
        python_uses=python_uses,
        pac=pac_fact,
        routes=tuple(route.fact() for route in found),
        tunnel=tunnel,
    )
    return Outcome(tuple(findings), facts)


# --- Tunnels ---------------------------------------------------------------------------------


CHECK = Check(
    id="proxy",
    scope="local",
    run=run,
    findings={
        "proxy.none": (),
        "proxy.configured": ("env", "system", "pac"),
        "proxy.env_overrides_system": (),
        "proxy.pac_failed": ("fetch", "script", "timeout", "unavailable"),
        **TUNNEL_FINDINGS,
    },
)
