"""Reads this computer's clock and time service: time zone, sync service, offline bounds."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import tzlocal

from checks.core import build_info, policy
from checks.core.facts.clock import OfflineBounds, TimeService, TimeZone, W32TimeService
from checks.lib import system

# timedatectl, chronyc and w32tm answer in milliseconds when their daemon is there.
COMMAND_TIMEOUT_S = 2.0


_SLICE_S = 0.1


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

    def fact(self) -> OfflineBounds:
        return OfflineBounds(
            earliest=iso(self.earliest),
            latest=iso(self.latest),
            build_time=iso(self.build_time) if self.build_time else None,
            certifi=iso(self.certifi) if self.certifi else None,
        )


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _zone_name(abbreviation: str) -> str:
    """The IANA name of the zone this process applies ("Europe/Berlin"), else TZ's value or the
    abbreviation.

    Only the IANA name lets a report tell a clock that is wrong from a zone whose daylight-saving
    rules are outdated (the OS still switches Mexico or Brazil to summer time, which they have
    abolished): the abbreviation names several zones ("CST" is China, Cuba and the US) and the
    offset changes with the rules, while the name picks the one zone to compare the current tz
    database with. Windows names its zones its own way ("China Standard Time"); tzlocal maps
    them to IANA names, and reads Linux's and macOS's settings.
    """
    configured = os.environ.get("TZ", "").lstrip(":")
    if configured:
        # TZ, when set, is what this process applies. tzlocal reads it too, but only on its
        # first call in a process; a file path names its zone after "zoneinfo/".
        return configured.split("zoneinfo/", 1)[-1]
    with contextlib.suppress(LookupError, OSError, ValueError, UserWarning):
        # Read once per process (each diagnosis in the window runs in a process of its own).
        name = tzlocal.get_localzone_name()
        if name:
            return name
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return abbreviation


def format_utc_offset(seconds: float) -> str:
    """`+01:00`, `-03:30`, `+00:00`."""
    sign = "-" if seconds < 0 else "+"
    minutes = round(abs(seconds) / 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_zone(now: datetime | None = None) -> TimeZone:
    """The time zone the OS applies now: IANA name when known, abbreviation, UTC offset."""
    local = (now or datetime.now(UTC)).astimezone()
    offset = local.utcoffset() or timedelta(0)
    abbreviation = local.tzname() or ""
    is_dst = time.localtime(local.timestamp()).tm_isdst
    return TimeZone(
        name=_zone_name(abbreviation),
        abbreviation=abbreviation,
        utc_offset=format_utc_offset(offset.total_seconds()),
        utc_offset_s=int(offset.total_seconds()),
        dst=bool(is_dst > 0) if is_dst >= 0 else None,
    )


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


class ChronyTracking(TypedDict):
    """What `parse_chrony_tracking` reads of `chronyc -n tracking`."""

    reference_id: str | None
    reference: str | None
    stratum: int | None
    system_offset_s: float | None
    leap_status: str | None
    synchronized: bool | None


def parse_chrony_tracking(text: str) -> ChronyTracking:
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


def empty_sync(service: str | None = None, *, errors: Sequence[str] = ()) -> TimeService:
    """A time service of which nothing is known (but its name, and why nothing is)."""
    return TimeService(
        service=service,
        available=None,
        enabled=None,
        synchronized=None,
        ntp_servers=(),
        source=None,
        offset_s=None,
        local_rtc=None,
        errors=tuple(errors),
    )


def linux_sync(
    timedatectl: Mapping[str, str] | None,
    timesync: Mapping[str, str] | None,
    chrony: ChronyTracking | None,
) -> TimeService:
    """The sync state from `timedatectl show`, `timedatectl show-timesync` and `chronyc -n
    tracking` (each None when that command did not answer)."""
    sync = empty_sync()
    if timedatectl:
        sync = replace(
            sync,
            available=_yes(timedatectl.get("CanNTP")),
            enabled=_yes(timedatectl.get("NTP")),
            synchronized=_yes(timedatectl.get("NTPSynchronized")),
            local_rtc=_yes(timedatectl.get("LocalRTC")),
            # With NTP off timedatectl cannot say which service it would start; it is the witness.
            service="systemd-timesyncd" if timesync else "timedatectl",
        )
    if timesync:
        named = [timesync.get("ServerName", "")]
        named += timesync.get("SystemNTPServers", "").split()
        named += timesync.get("LinkNTPServers", "").split()
        if not any(named):
            named += timesync.get("FallbackNTPServers", "").split()
        sync = replace(
            sync,
            ntp_servers=tuple(dict.fromkeys(n for n in named if n)),
            source=timesync.get("ServerAddress") or timesync.get("ServerName") or None,
        )
    if chrony:
        # chronyd answering its monitoring port means it runs, whatever systemd reports.
        reference = chrony["reference"]
        sync = replace(
            sync,
            service="chronyd",
            available=True,
            enabled=True,
            synchronized=chrony["synchronized"],
            source=reference,
            offset_s=chrony["system_offset_s"],
            ntp_servers=(reference,) if reference else sync.ntp_servers,
        )
    return sync


# W32Time sources that mean "not synchronised to anything".
_W32TM_UNSYNCED = ("local cmos clock", "free-running system clock")


def parse_w32tm_source(text: str) -> str | None:
    """The time source `w32tm /query /source` names, or None when it printed an error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or "0x8007" in text or "error" in lines[0].lower():
        return None
    return lines[0].split(",", 1)[0]


def _w32_servers(value: object) -> tuple[str, ...]:
    # "time.windows.com,0x9 pool.ntp.org,0x8": each name carries W32Time flags after a comma.
    return tuple(n for item in str(value or "").split() if (n := item.split(",", 1)[0]))


def windows_sync(
    parameters: Mapping[str, object],
    group_policy: Mapping[str, object],
    *,
    start: int | None,
    source_output: str | None,
) -> TimeService:
    """The sync state from the W32Time registry values and `w32tm /query /source`.

    `parameters` is `HKLM\\SYSTEM\\CurrentControlSet\\Services\\W32Time\\Parameters`,
    `group_policy` the Group Policy key that overrides it, `start` the service's start type
    (4 = disabled).
    """
    kind = str(group_policy.get("Type") or parameters.get("Type") or "") or None
    enabled: bool | None = None
    if start == 4 or (kind or "").lower() == "nosync":
        enabled = False
    elif kind:
        enabled = True
    source = parse_w32tm_source(source_output) if source_output else None
    synchronized: bool | None = None
    if source is not None:
        synchronized = source.lower() not in _W32TM_UNSYNCED
    elif enabled is False:
        synchronized = False
    return W32TimeService(
        service="W32Time",
        available=start is not None or bool(parameters),
        enabled=enabled,
        synchronized=synchronized,
        ntp_servers=_w32_servers(group_policy.get("NtpServer") or parameters.get("NtpServer")),
        source=source,
        offset_s=None,
        local_rtc=None,
        errors=(),
        type=kind,
        policy_override=bool(group_policy.get("Type") or group_policy.get("NtpServer")),
    )


def parse_ntp_conf(text: str) -> list[str]:
    """The `server` and `pool` names of an ntp.conf (macOS keeps Date & Time's server there)."""
    names = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "pool"):
            names.append(words[1].rstrip("."))
    return names


class SntpReading(TypedDict):
    """What `parse_sntp` reads of one `sntp` answer."""

    offset_s: float
    uncertainty_s: float
    server: str
    address: str | None


def parse_sntp(text: str) -> SntpReading | None:
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


def _linux_read(cancel: threading.Event) -> TimeService:
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
    return replace(sync, errors=tuple(p for r in done.values() if (p := r.problem) is not None))


def _windows_read(cancel: threading.Event) -> TimeService:
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
    return replace(
        sync,
        errors=() if source.problem is None else (source.problem,),
        real_time_is_universal=zone.get("RealTimeIsUniversal") == 1,
    )


def _macos_read(offline: bool, cancel: threading.Event) -> TimeService:
    try:
        servers = parse_ntp_conf(Path("/etc/ntp.conf").read_text(encoding="utf-8"))
    except (OSError, UnicodeError) as exc:
        return empty_sync("timed", errors=(f"/etc/ntp.conf: {exc}",))
    sync = replace(empty_sync("timed"), ntp_servers=tuple(servers))
    if offline or not servers:
        return sync
    result = system.run_command(
        ["sntp", "-t", "1", servers[0]], timeout=COMMAND_TIMEOUT_S, cancel=cancel
    )
    measured = parse_sntp(result.stdout) if result.ok else None
    if measured:
        sync = replace(sync, source=measured["server"], offset_s=measured["offset_s"])
    return sync


def read_sync(*, offline: bool, cancel: threading.Event) -> TimeService:
    """What the OS's time service says, read without admin rights; unknowns stay None."""
    if sys.platform == "win32":
        return _windows_read(cancel)
    if sys.platform == "darwin":
        return _macos_read(offline, cancel)
    return _linux_read(cancel)
