"""Measures the clock against network time and tells a wrong clock, zone or time service apart."""

from __future__ import annotations

import contextlib
import email.utils
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import IO, Literal

from checks.core import build_info, policy
from checks.core.check import Cancelled, Check, Context
from checks.core.models import Finding, Outcome, Status
from checks.core.version import __version__
from checks.lib import net, ntp, pac, system
from checks.present import catalogue

# timedatectl, chronyc and w32tm answer in milliseconds when their daemon is there.
COMMAND_TIMEOUT_S = 2.0
_SLICE_S = 0.1
_HTTP_DATE_RESOLUTION_S = 1.0

Source = Literal["ntp", "http_date", "none"]


@dataclass(frozen=True)
class Measurement:
    """Network time as measured, relative to this computer's clock.

    Attributes:
        source: `ntp`, or `http_date` when only the HTTP fallback answered.
        offset_s: network time minus this computer's time (positive: this clock is behind).
        uncertainty_s: how far the true offset may be from `offset_s`.
        agreed: the servers whose answers make up the consensus.
        queried: how many servers were asked.
    """

    source: Source
    offset_s: float
    uncertainty_s: float
    agreed: tuple[str, ...]
    queried: int


@dataclass(frozen=True)
class Bounds:
    """What this computer can know of the date without any network (Chrome's rule).

    Attributes:
        earliest: the clock is certainly wrong when it reads earlier than this.
        latest: the clock is very likely wrong when it reads later than this.
        build_time: when this release was built.
        certifi: the release date of the bundled root store, if known.
    """

    earliest: datetime
    latest: datetime
    build_time: datetime | None
    certifi: datetime | None

    def fact(self) -> dict[str, object]:
        return {
            "earliest": iso(self.earliest),
            "latest": iso(self.latest),
            "build_time": iso(self.build_time) if self.build_time else None,
            "certifi": iso(self.certifi) if self.certifi else None,
        }


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Offline bounds


def parse_build_time(text: str) -> datetime | None:
    """The build stamp as an aware UTC datetime, or None when packaging left it unusable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def certifi_date(version: str | None = None) -> datetime | None:
    """The release date certifi's version encodes (`2026.10.18`), or None."""
    if version is None:
        try:
            import certifi
        except ImportError:
            return None
        version = str(certifi.__version__)
    try:
        year, month, day = (int(part) for part in version.split(".")[:3])
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def offline_bounds(
    build_time: datetime | None = None, certifi_release: datetime | None = None
) -> Bounds:
    """Earliest and latest plausible now: build time - 2 days (or certifi's date - 2 days,
    whichever is later) and build time + 365 days."""
    build = build_time or parse_build_time(build_info.BUILD_TIME)
    certifi_release = certifi_release or certifi_date()
    floors = [d for d in (build, certifi_release) if d is not None]
    # Without any stamp the bounds cannot fire: they span all representable time.
    anchor = max(floors) if floors else None
    earliest = anchor - timedelta(seconds=policy.CLOCK_BUILD_BEFORE_S) if anchor else datetime.min
    latest_anchor = build or certifi_release
    latest = (
        latest_anchor + timedelta(seconds=policy.CLOCK_BUILD_AFTER_S)
        if latest_anchor
        else datetime.max
    )
    return Bounds(
        earliest=earliest.replace(tzinfo=UTC),
        latest=latest.replace(tzinfo=UTC),
        build_time=build,
        certifi=certifi_release,
    )


# ---------------------------------------------------------------------------------------------
# Time zone


def _zone_name(abbreviation: str) -> str:
    configured = os.environ.get("TZ", "").lstrip(":")
    if configured and "/" in configured:
        return configured
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return configured or abbreviation


def format_utc_offset(seconds: float) -> str:
    """`+01:00`, `-03:30`, `+00:00`."""
    sign = "-" if seconds < 0 else "+"
    minutes = round(abs(seconds) / 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_zone(now: datetime | None = None) -> dict[str, object]:
    """The time zone the OS applies now: IANA name when known, abbreviation, UTC offset."""
    local = (now or datetime.now(UTC)).astimezone()
    offset = local.utcoffset() or timedelta(0)
    abbreviation = local.tzname() or ""
    is_dst = time.localtime(local.timestamp()).tm_isdst
    return {
        "name": _zone_name(abbreviation),
        "abbreviation": abbreviation,
        "utc_offset": format_utc_offset(offset.total_seconds()),
        "utc_offset_s": int(offset.total_seconds()),
        "dst": bool(is_dst > 0) if is_dst >= 0 else None,
    }


def timezone_error(offset_s: float, uncertainty_s: float) -> int | None:
    """The whole number of 15-minute steps the clock is off by, when that is what it is.

    A clock set by hand in the wrong zone, or with the wrong daylight saving rule, is off by
    a multiple of 15 minutes (every zone is) plus the minute or so it took to set it; a
    drifting or dead clock is not. None when the offset does not look like that.
    """
    size = abs(offset_s)
    if (
        size < policy.CLOCK_ZONE_STEP_S - policy.CLOCK_ZONE_TOLERANCE_S
        or size > policy.CLOCK_ZONE_MAX_S
    ):
        return None
    if uncertainty_s >= policy.CLOCK_ZONE_TOLERANCE_S:
        return None
    steps = round(offset_s / policy.CLOCK_ZONE_STEP_S)
    if (
        steps == 0
        or abs(offset_s - steps * policy.CLOCK_ZONE_STEP_S) > policy.CLOCK_ZONE_TOLERANCE_S
    ):
        return None
    return steps


# ---------------------------------------------------------------------------------------------
# Time sync service: parsers (pure, tested on recorded outputs) and readers


def _yes(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def parse_key_values(text: str) -> dict[str, str]:
    """`KEY=value` lines, as `timedatectl show` and `timedatectl show-timesync` print them."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def parse_chrony_tracking(text: str) -> dict[str, object]:
    """The fields of `chronyc -n tracking` that say whether and to what chrony is synchronised.

    `system_offset_s` follows this module's sign: positive when the system clock is behind
    ("slow of NTP time").
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    reference = fields.get("reference id", "")
    ref_hex, _, rest = reference.partition(" ")
    offset: float | None = None
    words = fields.get("system time", "").split()
    if len(words) >= 3 and words[1] == "seconds":
        with contextlib.suppress(ValueError):
            offset = float(words[0]) * (1 if words[2] == "slow" else -1)
    leap = fields.get("leap status")
    stratum_text = fields.get("stratum", "")
    synchronized = bool(ref_hex) and ref_hex.strip("0") != "" and leap != "Not synchronised"
    return {
        "reference_id": ref_hex or None,
        "reference": rest.strip("()") or None,
        "stratum": int(stratum_text) if stratum_text.isdigit() else None,
        "system_offset_s": offset,
        "leap_status": leap,
        "synchronized": synchronized if leap is not None else None,
    }


def _empty_sync(service: str | None = None) -> dict[str, object]:
    return {
        "service": service,
        "available": None,
        "enabled": None,
        "synchronized": None,
        "ntp_servers": [],
        "source": None,
        "offset_s": None,
        "local_rtc": None,
        "errors": [],
    }


def linux_sync(
    timedatectl: Mapping[str, str] | None,
    timesync: Mapping[str, str] | None,
    chrony: Mapping[str, object] | None,
) -> dict[str, object]:
    """The sync state from `timedatectl show`, `timedatectl show-timesync` and `chronyc -n
    tracking` (each None when that command did not answer)."""
    sync = _empty_sync()
    if timedatectl:
        sync["available"] = _yes(timedatectl.get("CanNTP"))
        sync["enabled"] = _yes(timedatectl.get("NTP"))
        sync["synchronized"] = _yes(timedatectl.get("NTPSynchronized"))
        sync["local_rtc"] = _yes(timedatectl.get("LocalRTC"))
        # With NTP off timedatectl cannot say which service it would start; it is the witness.
        sync["service"] = "systemd-timesyncd" if timesync else "timedatectl"
    if timesync:
        named = [timesync.get("ServerName", "")]
        named += timesync.get("SystemNTPServers", "").split()
        named += timesync.get("LinkNTPServers", "").split()
        if not any(named):
            named += timesync.get("FallbackNTPServers", "").split()
        sync["ntp_servers"] = list(dict.fromkeys(n for n in named if n))
        sync["source"] = timesync.get("ServerAddress") or timesync.get("ServerName") or None
    if chrony:
        # chronyd answering its monitoring port means it runs, whatever systemd reports.
        sync["service"] = "chronyd"
        sync["available"] = True
        sync["enabled"] = True
        sync["synchronized"] = chrony.get("synchronized")
        sync["source"] = chrony.get("reference")
        sync["offset_s"] = chrony.get("system_offset_s")
        if chrony.get("reference"):
            sync["ntp_servers"] = [chrony["reference"]]
    return sync


# W32Time sources that mean "not synchronised to anything".
_W32TM_UNSYNCED = ("local cmos clock", "free-running system clock")


def parse_w32tm_source(text: str) -> str | None:
    """The time source `w32tm /query /source` names, or None when it printed an error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or "0x8007" in text or "error" in lines[0].lower():
        return None
    return lines[0].split(",", 1)[0]


def _w32_servers(value: object) -> list[str]:
    # "time.windows.com,0x9 pool.ntp.org,0x8": each name carries W32Time flags after a comma.
    return [item.split(",", 1)[0] for item in str(value or "").split() if item.split(",", 1)[0]]


def windows_sync(
    parameters: Mapping[str, object],
    group_policy: Mapping[str, object],
    *,
    start: int | None,
    source_output: str | None,
) -> dict[str, object]:
    """The sync state from the W32Time registry values and `w32tm /query /source`.

    `parameters` is `HKLM\\SYSTEM\\CurrentControlSet\\Services\\W32Time\\Parameters`,
    `group_policy` the Group Policy key that overrides it, `start` the service's start type
    (4 = disabled).
    """
    sync = _empty_sync("W32Time")
    kind = str(group_policy.get("Type") or parameters.get("Type") or "") or None
    sync["type"] = kind
    sync["policy_override"] = bool(group_policy.get("Type") or group_policy.get("NtpServer"))
    sync["ntp_servers"] = _w32_servers(group_policy.get("NtpServer") or parameters.get("NtpServer"))
    sync["available"] = start is not None or bool(parameters)
    if start == 4 or (kind or "").lower() == "nosync":
        sync["enabled"] = False
    elif kind:
        sync["enabled"] = True
    source = parse_w32tm_source(source_output) if source_output else None
    sync["source"] = source
    if source is not None:
        sync["synchronized"] = source.lower() not in _W32TM_UNSYNCED
    elif sync["enabled"] is False:
        sync["synchronized"] = False
    return sync


def parse_ntp_conf(text: str) -> list[str]:
    """The `server` and `pool` names of an ntp.conf (macOS keeps Date & Time's server there)."""
    names = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "pool"):
            names.append(words[1].rstrip("."))
    return names


def parse_sntp(text: str) -> dict[str, object] | None:
    """`sntp` output such as `+0.003529 +/- 0.020853 time.apple.com 17.253.34.253`."""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4 and words[1] == "+/-":
            try:
                return {
                    "offset_s": float(words[0]),
                    "uncertainty_s": float(words[2]),
                    "server": words[3],
                    "address": words[4] if len(words) > 4 else None,
                }
            except ValueError:
                continue
    return None


def _linux_read(cancel: threading.Event) -> dict[str, object]:
    commands = {
        "timedatectl": ["timedatectl", "show"],
        "timesync": ["timedatectl", "show-timesync"],
        "chrony": ["chronyc", "-n", "tracking"],
    }
    with ThreadPoolExecutor(max_workers=len(commands), thread_name_prefix="clock-sync") as pool:
        futures = {
            k: pool.submit(system.run_command, c, timeout=COMMAND_TIMEOUT_S, cancel=cancel)
            for k, c in commands.items()
        }
        done = {k: f.result() for k, f in futures.items()}
    timedatectl = parse_key_values(done["timedatectl"].stdout) if done["timedatectl"].ok else None
    timesync = parse_key_values(done["timesync"].stdout) if done["timesync"].ok else None
    chrony = parse_chrony_tracking(done["chrony"].stdout) if done["chrony"].ok else None
    sync = linux_sync(timedatectl, timesync, chrony)
    sync["errors"] = [r.problem for r in done.values() if not r.ok]
    return sync


def _windows_read(cancel: threading.Event) -> dict[str, object]:
    base = r"SYSTEM\CurrentControlSet"
    parameters = system.registry_values(base + r"\Services\W32Time\Parameters")
    policy = system.registry_values(r"SOFTWARE\Policies\Microsoft\W32Time\Parameters")
    service = system.registry_values(base + r"\Services\W32Time")
    zone = system.registry_values(base + r"\Control\TimeZoneInformation")
    source = system.run_command(
        ["w32tm", "/query", "/source"], timeout=COMMAND_TIMEOUT_S, cancel=cancel
    )
    start = service.get("Start")
    sync = windows_sync(
        parameters,
        policy,
        start=start if isinstance(start, int) else None,
        source_output=source.stdout if source.ok else None,
    )
    sync["real_time_is_universal"] = zone.get("RealTimeIsUniversal") == 1
    sync["errors"] = [] if source.ok else [source.problem]
    return sync


def _macos_read(offline: bool, cancel: threading.Event) -> dict[str, object]:
    sync = _empty_sync("timed")
    try:
        sync["ntp_servers"] = parse_ntp_conf(Path("/etc/ntp.conf").read_text(encoding="utf-8"))
    except (OSError, UnicodeError) as exc:
        sync["errors"] = [f"/etc/ntp.conf: {exc}"]
    servers = sync["ntp_servers"]
    if offline or not isinstance(servers, list) or not servers:
        return sync
    result = system.run_command(
        ["sntp", "-t", "1", str(servers[0])], timeout=COMMAND_TIMEOUT_S, cancel=cancel
    )
    measured = parse_sntp(result.stdout) if result.ok else None
    if measured:
        sync["source"] = measured["server"]
        sync["offset_s"] = measured["offset_s"]
    return sync


def read_sync(*, offline: bool, cancel: threading.Event) -> dict[str, object]:
    """What the OS's time service says, read without admin rights; unknowns stay None."""
    if sys.platform == "win32":
        return _windows_read(cancel)
    if sys.platform == "darwin":
        return _macos_read(offline, cancel)
    return _linux_read(cancel)


# ---------------------------------------------------------------------------------------------
# HTTP Date fallback


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect's own Date header is as good as the next page's: never follow one."""

    def redirect_request(  # noqa: PLR0917 - urllib's own signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_SYSTEM_PROXY = "system"


def _opener(proxy: str | None = _SYSTEM_PROXY) -> urllib.request.OpenerDirector:
    # No certificate checks: the clock they depend on is the one under test (a clock years
    # behind fails every certificate), and the Date header is no less trustworthy than NTP,
    # which is unauthenticated too. By default urllib's ProxyHandler takes the environment's
    # or the system's proxy; a PAC script's choice (a proxy, or None for direct) replaces it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.HTTPSHandler(context=context),
        _NoRedirect(),
    ]
    if proxy != _SYSTEM_PROXY:
        handlers.append(
            urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {})
        )
    return urllib.request.build_opener(*handlers)


def canary_url(entry: str) -> str:
    """A canary `host[:port]` as an HTTPS URL; a full URL (tests use http://) is kept."""
    return entry if "://" in entry else f"https://{entry}/"


@dataclass(frozen=True)
class DateReading:
    """One HTTP Date header and the offset it implies."""

    date: str
    offset_s: float
    uncertainty_s: float


def fetch_date(url: str, *, timeout: float, proxy: str | None = _SYSTEM_PROXY) -> DateReading:
    """HEAD `url` and turn its Date header into an offset; raises `OSError`/`ValueError`.

    The header has one-second resolution and was written at some moment during the request:
    the true offset lies between Date - T_received and Date + 1 s - T_sent. The middle of that
    interval is the estimate, its half width the uncertainty.
    """
    request = urllib.request.Request(
        url, method="HEAD", headers={"User-Agent": f"handshake-doctor/{__version__}"}
    )
    sent_wall, sent_mono = time.time(), time.monotonic()
    try:
        with _opener(proxy).open(request, timeout=timeout) as response:
            date_text = response.headers.get("Date")
    except urllib.error.HTTPError as exc:  # a 3xx, 4xx or 5xx still carries a Date
        date_text = exc.headers.get("Date")
        exc.close()
    elapsed = time.monotonic() - sent_mono
    if not date_text:
        raise ValueError("no Date header")
    date = email.utils.parsedate_to_datetime(date_text)
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    received_wall = sent_wall + elapsed
    half = _HTTP_DATE_RESOLUTION_S / 2
    offset = date.timestamp() + half - (sent_wall + received_wall) / 2
    return DateReading(date_text, offset, half + elapsed / 2)


def _site(url: str) -> str:
    """`host:port` of an HTTPS URL, as the proxy check names the well-known sites."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def http_date_measurement(
    entries: Sequence[str],
    *,
    timeout: float,
    cancel: threading.Event,
    pac_routes: Mapping[str, str | None] | None = None,
) -> tuple[list[dict[str, object]], Measurement | None]:
    """Ask every canary for its Date in parallel, through the proxy a program here would take;
    outliers (median +- 5 s) are dropped."""
    urls = list(dict.fromkeys(canary_url(e) for e in entries))
    if not urls:
        return [], None

    def one(url: str) -> tuple[dict[str, object], ntp.Estimate | None]:
        started = time.monotonic()
        host = urllib.parse.urlsplit(url).netloc
        fact: dict[str, object] = {"url": url, "host": host, "ok": False}
        estimate = None
        site = _site(url)
        routed = pac_routes is not None and site in pac_routes
        proxy = pac_routes[site] if pac_routes is not None and routed else _SYSTEM_PROXY
        try:
            reading = net.in_thread(
                lambda: fetch_date(url, timeout=timeout, proxy=proxy),
                timeout=timeout + 0.5,
                cancel=cancel,
                name=f"http-date-{host}",
            )
        except Cancelled:
            raise
        except (OSError, ValueError, TypeError) as exc:
            fact["rejected"] = f"{type(exc).__name__}: {exc}"
        else:
            estimate = ntp.Estimate(host, reading.offset_s, reading.uncertainty_s)
            fact.update(
                ok=True,
                date=reading.date,
                offset_s=round(reading.offset_s, 3),
                uncertainty_s=round(reading.uncertainty_s, 3),
            )
        fact["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        return fact, estimate

    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="clock-http") as pool:
        results = list(pool.map(one, urls))
    facts = [fact for fact, _ in results]
    estimates = [estimate for _, estimate in results if estimate is not None]
    agreed = ntp.consensus(
        estimates, tolerance_s=policy.CLOCK_HTTP_DATE_AGREEMENT_S, queried=len(urls)
    )
    if agreed is None:
        return facts, None
    for fact in facts:
        if fact["ok"]:
            fact["outlier"] = fact["host"] not in agreed.agreed
    return facts, Measurement(
        "http_date", agreed.offset_s, agreed.uncertainty_s, agreed.agreed, agreed.queried
    )


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

_YEAR_S = 365 * 86400
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def _count(unit: str, n: int, lang: str) -> str:
    key = f"clock_units.{unit}_one" if n == 1 else f"clock_units.{unit}s"
    return catalogue.ui(key, lang=lang, n=n)


def human_duration(seconds: float, lang: str = catalogue.DEFAULT_LANGUAGE) -> str:
    """`3 years`, `2 days 4 hours`, `2 hours 10 minutes`, `5 minutes`, `42 seconds`."""
    size = round(abs(seconds))
    if size >= _YEAR_S:
        return _count("year", size // _YEAR_S, lang)
    for index, (unit_s, unit) in enumerate(_UNITS):
        if size >= unit_s or unit_s == 1:
            major = size // unit_s
            text = _count(unit, major, lang)
            if index + 1 < len(_UNITS):
                minor_s, minor_unit = _UNITS[index + 1]
                minor = (size % unit_s) // minor_s
                if minor:
                    text = catalogue.ui(
                        "clock_units.join", lang=lang, a=text, b=_count(minor_unit, minor, lang)
                    )
            return text
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _direction(offset_s: float, lang: str) -> str:
    return catalogue.ui(f"clock_direction.{'behind' if offset_s >= 0 else 'ahead'}", lang=lang)


def _measured_params(m: Measurement, lang: str) -> dict[str, object]:
    return {
        # + 0.0 turns a rounded -0.0 into 0.0: "-0.0 s" reads as a wrong sign.
        "offset_s": round(m.offset_s, 3) + 0.0,
        "uncertainty_s": round(m.uncertainty_s, 3),
        "human_offset": human_duration(m.offset_s, lang),
        "direction": _direction(m.offset_s, lang),
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
    zone: Mapping[str, object],
    sync: Mapping[str, object],
    lang: str = catalogue.DEFAULT_LANGUAGE,
    now: datetime | None = None,
) -> Finding:
    """The finding for a measured offset: ok, skew (warn/fail) or time zone.

    Fail when the clock is off by more than Chrome's 5 minutes even after giving it the whole
    uncertainty; warn from one minute, where TOTP codes and Kerberos start to fail; a
    whole multiple of 15 minutes (within 90 s) is a wrong time zone or DST rule instead.
    """
    params = _measured_params(m, lang)
    evidence = _evidence(m)
    now = now or datetime.now(UTC)
    params["local_time"] = iso(now)
    params["network_time"] = iso(now + timedelta(seconds=m.offset_s))
    size = abs(m.offset_s)
    steps = timezone_error(m.offset_s, m.uncertainty_s)
    if steps is not None:
        zone_offset = _number(zone.get("utc_offset_s"))
        params["timezone"] = zone.get("name") or "?"
        params["utc_offset"] = zone.get("utc_offset") or "?"
        params["zone_error"] = format_utc_offset(steps * policy.CLOCK_ZONE_STEP_S)
        # RTC in local time on one OS and UTC on the other: off by exactly the zone's offset.
        same_as_zone = (
            zone_offset != 0 and abs(size - abs(zone_offset)) <= policy.CLOCK_ZONE_TOLERANCE_S
        )
        if same_as_zone or sync.get("local_rtc") is True:
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


def bound_finding(
    now: datetime, bounds: Bounds, lang: str = catalogue.DEFAULT_LANGUAGE
) -> Finding | None:
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
        human_offset=human_duration(gap, lang),
        direction=_direction(gap, lang),
    )
    return Finding("clock.skew", status, params, (f"clock {iso(now)} {relation} {iso(bound)}",))


def sync_finding(sync: Mapping[str, object]) -> Finding | None:
    """`clock.not_synced` when the OS says its time service is missing, off or not synced."""
    params: dict[str, object] = {
        "service": sync.get("service") or "?",
        "ntp_servers": _strings(sync.get("ntp_servers")),
    }
    if sync.get("available") is False:
        params["variant"] = "no_service"
    elif sync.get("enabled") is False:
        params["variant"] = "disabled"
    elif sync.get("synchronized") is not False:
        return None
    return Finding("clock.not_synced", Status.WARN, params)


def _problems(samples: Sequence[ntp.NtpSample], http: Sequence[Mapping[str, object]]) -> list[str]:
    lines = []
    for s in samples:
        where = f"{s.host} ({s.address})" if s.address and s.address != s.host else s.host
        reason = f"{s.rejected} {s.kiss}" if s.kiss else str(s.rejected)
        lines.append(f"{where}: {reason}")
    lines += [f"{h['host']}: {h.get('rejected')}" for h in http if not h.get("ok")]
    return lines


def _language(lang: str | None) -> str:
    try:
        return catalogue.normalise_language(lang)
    except ValueError:
        return catalogue.DEFAULT_LANGUAGE


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    lang = _language(settings.lang)
    bounds = offline_bounds()
    samples: list[ntp.NtpSample] = []
    http: list[dict[str, object]] = []
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
            routed = pac.routes_from(ctx.results.get("proxy"))
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
            sync = _empty_sync()
            sync["errors"] = [f"{type(exc).__name__}: {exc}"]
    ctx.raise_if_cancelled()
    now = datetime.now(UTC)
    zone = local_zone(now)
    facts: dict[str, object] = {
        "source": measurement.source if measurement else "none",
        "offset_s": round(measurement.offset_s, 3) if measurement else None,
        "uncertainty_s": round(measurement.uncertainty_s, 3) if measurement else None,
        "agreed": len(measurement.agreed) if measurement else 0,
        "agreed_servers": list(measurement.agreed) if measurement else [],
        "queried": measurement.queried if measurement else queried,
        "servers": [s.fact() for s in samples],
        "local_time": iso(now),
        "network_time": iso(now + timedelta(seconds=measurement.offset_s)) if measurement else None,
        "timezone": zone,
        "sync": sync,
        "bounds": bounds.fact(),
        "offline": settings.offline,
    }
    if http or http_note:
        used = measurement is not None and measurement.source == "http_date"
        facts["http_date"] = {"used": used, "skipped": http_note, "sites": http}
    findings: list[Finding] = []
    if measurement is not None:
        findings.append(grade(measurement, zone=zone, sync=sync, lang=lang, now=now))
    else:
        params: dict[str, object] = {
            "servers": list(settings.ntp_servers),
            "canaries": list(settings.canaries),
            "problems": _problems(samples, http),
        }
        if settings.offline:
            params["variant"] = "offline"
        findings.append(Finding("clock.unverified", Status.WARN, params))
        bound = bound_finding(now, bounds, lang)
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
