"""Measures the clock against network time and tells a wrong clock, zone or time service apart."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from checks.core import policy
from checks.core.check import Cancelled, Check, Context
from checks.core.facts.clock import ClockFacts, DateAsked, HttpDateTried, TimeService, TimeZone
from checks.core.facts.proxy import ProxyFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import ntp, pac
from checks.lib.http_date import Measurement, http_date_measurement
from checks.lib.timesync import (
    Bounds,
    empty_sync,
    format_utc_offset,
    iso,
    local_zone,
    offline_bounds,
    read_sync,
    timezone_error,
)

# ---------------------------------------------------------------------------------------------
# Offline bounds


# ---------------------------------------------------------------------------------------------
# Time zone


# ---------------------------------------------------------------------------------------------
# Time sync service: parsers (pure, tested on recorded outputs) and readers


# ---------------------------------------------------------------------------------------------
# HTTP Date fallback


def ntp_measurement(samples: Sequence[ntp.NtpSample], *, queried: int) -> Measurement | None:
    """The consensus of the valid NTP samples, one vote per server."""
    agreed = ntp.consensus(
        ntp.best_per_server(samples), tolerance_s=policy.CLOCK_NTP_AGREEMENT_S, queried=queried
    )
    if agreed is None:
        return None
    return Measurement("ntp", agreed.offset_s, agreed.uncertainty_s, agreed.agreed, queried)


def _dns_is_down(samples: Sequence[ntp.NtpSample]) -> bool:
    """Every time server name failed to resolve: without a proxy, HTTPS hosts will fail too."""
    return bool(samples) and all(s.rejected in ("lookup_failed", "lookup_timeout") for s in samples)


# ---------------------------------------------------------------------------------------------
# Wording and grading


def _measured_params(m: Measurement) -> dict[str, object]:
    return {
        # + 0.0 turns a rounded -0.0 into 0.0: "-0.0 s" reads as a wrong sign.
        "offset_s": round(m.offset_s, 3) + 0.0,
        "uncertainty_s": round(m.uncertainty_s, 3),
        "agreed": len(m.agreed),
        "queried": m.queried,
        "servers": list(m.agreed),
        "source": m.source,
    }


def _evidence(m: Measurement) -> tuple[str, ...]:
    return (
        f"source={m.source} offset={m.offset_s:+.3f}s uncertainty={m.uncertainty_s:.3f}s "
        f"agreed={len(m.agreed)}/{m.queried} ({', '.join(m.agreed)})",
    )


def grade(
    m: Measurement,
    *,
    zone: TimeZone,
    sync: TimeService,
    now: datetime | None = None,
) -> Finding:
    """The finding for a measured offset: ok, skew (warn/fail) or time zone.

    Fail when the clock is off by more than Chrome's 5 minutes even after giving it the whole
    uncertainty; warn from one minute, where TOTP codes and Kerberos start to fail; a
    whole multiple of 15 minutes (within 90 s) is a wrong time zone or DST rule instead.
    """
    params = _measured_params(m)
    evidence = _evidence(m)
    now = now or datetime.now(UTC)
    params["local_time"] = iso(now)
    params["network_time"] = iso(now + timedelta(seconds=m.offset_s))
    size = abs(m.offset_s)
    steps = timezone_error(m.offset_s, m.uncertainty_s)
    if steps is not None:
        zone_offset = zone.utc_offset_s
        params["timezone"] = zone.name or "?"
        params["utc_offset"] = zone.utc_offset or "?"
        params["zone_error"] = format_utc_offset(steps * policy.CLOCK_ZONE_STEP_S)
        # RTC in local time on one OS and UTC on the other: off by exactly the zone's offset.
        same_as_zone = (
            zone_offset != 0 and abs(size - abs(zone_offset)) <= policy.CLOCK_ZONE_TOLERANCE_S
        )
        if same_as_zone or sync.local_rtc is True:
            params["variant"] = "dual_boot"
        return Finding("clock.timezone", Status.FAIL, params, evidence)
    if size - m.uncertainty_s >= policy.CLOCK_FAIL_S or size >= policy.CLOCK_WARN_S:
        status = Status.FAIL if size - m.uncertainty_s >= policy.CLOCK_FAIL_S else Status.WARN
        if m.offset_s >= policy.CLOCK_YEARS_S:
            params["variant"] = "years"
        elif m.source == "http_date":
            params["variant"] = "http_date"
        return Finding("clock.skew", status, params, evidence)
    if m.source == "http_date":
        params["variant"] = "http_date"
    return Finding("clock.ok", Status.PASS, params, evidence)


def bound_finding(now: datetime, bounds: Bounds) -> Finding | None:
    """`clock.skew` from the offline bounds alone, or None when the clock is within them.

    Earlier than the build (minus 2 days) is certain: this program did not exist yet. Later
    than a year after the build is only a warning: an old copy of this program explains it too.
    """
    params: dict[str, object] = {
        "local_time": iso(now),
        "build_time": iso(bounds.build_time) if bounds.build_time else "?",
        "certifi": bounds.certifi.date().isoformat() if bounds.certifi else "?",
    }
    if now < bounds.earliest:
        bound, variant, status, relation = bounds.earliest, "offline_bound", Status.FAIL, "<"
    elif now > bounds.latest:
        bound, variant, status, relation = bounds.latest, "offline_bound_ahead", Status.WARN, ">"
    else:
        return None
    gap = (bound - now).total_seconds()
    params.update(
        variant=variant,
        bound=iso(bound),
        offset_s=round(gap, 3),
    )
    return Finding("clock.skew", status, params, (f"clock {iso(now)} {relation} {iso(bound)}",))


def sync_finding(sync: TimeService) -> Finding | None:
    """`clock.not_synced` when the OS says its time service is missing, off or not synced."""
    params: dict[str, object] = {
        "service": sync.service or "?",
        "ntp_servers": list(sync.ntp_servers),
    }
    if sync.available is False:
        params["variant"] = "no_service"
    elif sync.enabled is False:
        params["variant"] = "disabled"
    elif sync.synchronized is not False:
        return None
    return Finding("clock.not_synced", Status.WARN, params)


def _problems(samples: Sequence[ntp.NtpSample], http: Sequence[DateAsked]) -> list[str]:
    lines = []
    for s in samples:
        where = f"{s.host} ({s.address})" if s.address and s.address != s.host else s.host
        reason = f"{s.rejected} {s.kiss}" if s.kiss else str(s.rejected)
        lines.append(f"{where}: {reason}")
    lines += [f"{h.host}: {h.rejected}" for h in http if not h.ok]
    return lines


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    bounds = offline_bounds()
    samples: list[ntp.NtpSample] = []
    http: tuple[DateAsked, ...] = ()
    measurement: Measurement | None = None
    http_note: str | None = None
    queried = 0 if settings.offline else len(dict.fromkeys(settings.ntp_servers))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clock-sync") as pool:
        sync_future = pool.submit(read_sync, offline=settings.offline, cancel=ctx.cancel)
        if not settings.offline:
            timeout = min(ntp.QUERY_TIMEOUT_S, ctx.timeout())
            samples = ntp.query_all(
                settings.ntp_servers,
                cancel=ctx.cancel,
                timeout=timeout,
                lookup_timeout=min(ntp.LOOKUP_TIMEOUT_S, timeout),
            )
            measurement = ntp_measurement(samples, queried=queried)
            routed = pac.routes_from(ctx.facts(ProxyFacts))
            if measurement is None:
                proxied = urllib.request.getproxies() or any((routed or {}).values())
                if _dns_is_down(samples) and not proxied:
                    http_note = "skipped: no name could be resolved and no proxy is set"
                else:
                    http, measurement = http_date_measurement(
                        settings.canaries,
                        timeout=min(policy.CLOCK_HTTP_DATE_TIMEOUT_S, ctx.timeout()),
                        cancel=ctx.cancel,
                        pac_routes=routed,
                    )
        try:
            sync = sync_future.result()
        except Cancelled:
            raise
        except Exception as exc:  # the service facts are extras: they must not sink the measurement
            sync = empty_sync(errors=(f"{type(exc).__name__}: {exc}",))
    ctx.raise_if_cancelled()
    now = datetime.now(UTC)
    zone = local_zone(now)
    tried = None
    if http or http_note:
        used = measurement is not None and measurement.source == "http_date"
        tried = HttpDateTried(used=used, skipped=http_note, sites=http)
    facts = ClockFacts(
        source=measurement.source if measurement else "none",
        offset_s=round(measurement.offset_s, 3) if measurement else None,
        uncertainty_s=round(measurement.uncertainty_s, 3) if measurement else None,
        agreed=len(measurement.agreed) if measurement else 0,
        agreed_servers=measurement.agreed if measurement else (),
        queried=measurement.queried if measurement else queried,
        servers=tuple(s.fact() for s in samples),
        local_time=iso(now),
        network_time=iso(now + timedelta(seconds=measurement.offset_s)) if measurement else None,
        timezone=zone,
        sync=sync,
        bounds=bounds.fact(),
        offline=settings.offline,
        http_date=tried,
    )
    findings: list[Finding] = []
    if measurement is not None:
        findings.append(grade(measurement, zone=zone, sync=sync, now=now))
    else:
        params: dict[str, object] = {
            "servers": list(settings.ntp_servers),
            "canaries": list(settings.canaries),
            "problems": _problems(samples, http),
        }
        if settings.offline:
            params["variant"] = "offline"
        findings.append(Finding("clock.unverified", Status.WARN, params))
        bound = bound_finding(now, bounds)
        if bound is not None:
            findings.append(bound)
    not_synced = sync_finding(sync)
    if not_synced is not None:
        findings.append(not_synced)
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="clock",
    scope="local",
    run=run,
    findings={
        "clock.ok": ("http_date",),
        "clock.skew": ("years", "http_date", "offline_bound", "offline_bound_ahead"),
        "clock.timezone": ("dual_boot",),
        "clock.not_synced": ("disabled", "no_service"),
        "clock.unverified": ("offline",),
    },
    # A PAC script the proxy check evaluated decides how the time is asked of websites.
    after=("proxy",),
)
