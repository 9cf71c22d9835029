"""What the clock check measured: this computer's time against network time, and its settings."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class NtpQueried:
    """What one address of one time server said, or why its answer was not used.

    Attributes:
        host: the server as configured (a name or an address literal).
        address: the address asked, or None when the name could not be resolved.
        family: `IPv4` or `IPv6` of `address`, None without one.
        ok: whether the answer is a valid sample.
        offset_s: network time minus this computer's time (positive: this clock is behind).
        delay_s: round-trip delay; uncertainty_s: delay/2 + the server's root dispersion.
        ref_id: the reference id as text (a clock name, an IPv4 address, or hex).
        rejected: None for a valid sample, otherwise one of `checks.lib.ntp.REJECTION_REASONS`.
        kiss: the code of a Kiss-o'-Death reply (RATE, DENY, RSTR ...).
        detail: a short raw observation (an errno name, the mode received ...).
    """

    host: str
    port: int
    address: str | None
    family: str | None
    ok: bool
    offset_s: float | None
    delay_s: float | None
    uncertainty_s: float | None
    stratum: int | None
    leap: int | None
    ref_id: str | None
    rejected: str | None
    kiss: str | None
    detail: str
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class TimeZone:
    """The time zone the OS applies now.

    Attributes:
        name: the IANA name (`Europe/Berlin`) when known, else TZ's value or the abbreviation.
        abbreviation: `CET`, `CEST`, `UTC` ...
        utc_offset: `+01:00`; utc_offset_s: the same in seconds.
        dst: whether daylight-saving time applies now, None when the OS cannot say.
    """

    name: str
    abbreviation: str
    utc_offset: str
    utc_offset_s: int
    dst: bool | None


@dataclass(frozen=True, kw_only=True)
class TimeService:
    """What the OS's time service says of itself; unknowns stay None.

    Attributes:
        service: `systemd-timesyncd`, `timedatectl`, `chronyd`, `W32Time`, `timed` or None.
        available, enabled, synchronized: the service exists, is on, has synchronised.
        ntp_servers: the servers it is set to ask.
        source: the server it follows now.
        offset_s: the offset it measured itself (positive: this clock is behind).
        local_rtc: the hardware clock keeps local time rather than UTC (Linux).
        errors: why a reader answered nothing (a command missing, a daemon not running ...).
        type: W32Time's `Type` (`NTP`, `NT5DS`, `NoSync` ...); Windows only.
        policy_override: Group Policy sets the type or the servers; Windows only.
        real_time_is_universal: the hardware clock keeps UTC; Windows only.
    """

    service: str | None
    available: bool | None
    enabled: bool | None
    synchronized: bool | None
    ntp_servers: tuple[str, ...]
    source: str | None
    offset_s: float | None
    local_rtc: bool | None
    errors: tuple[str, ...]
    type: str | None = absent_when_none()
    policy_override: bool | None = absent_when_none()
    real_time_is_universal: bool | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class W32TimeService(TimeService):
    """Windows' time service: its `type` and `policy_override` are in every report from Windows,
    null or not; `real_time_is_universal` only once the registry was read."""

    type: str | None
    policy_override: bool


@dataclass(frozen=True, kw_only=True)
class OfflineBounds:
    """What this computer can know of the date without any network, as ISO 8601 UTC times.

    Attributes:
        earliest: the clock is certainly wrong when it reads earlier than this.
        latest: the clock is very likely wrong when it reads later than this.
        build_time: when this release was built, if known.
        certifi: the release date of the bundled root store, if known.
    """

    earliest: str
    latest: str
    build_time: str | None
    certifi: str | None


@dataclass(frozen=True, kw_only=True)
class DateAsked:
    """One website asked for its HTTP Date header.

    Attributes:
        url: what was asked; host: its `host[:port]`.
        ok: whether a usable Date came back; rejected: why not, when not.
        date, offset_s, uncertainty_s: the header and the offset it implies, when ok.
        outlier: for a usable Date, whether the consensus left it out.
    """

    url: str
    host: str
    ok: bool
    rejected: str | None = absent_when_none()
    date: str | None = absent_when_none()
    offset_s: float | None = absent_when_none()
    uncertainty_s: float | None = absent_when_none()
    elapsed_ms: float
    outlier: bool | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class HttpDateTried:
    """The fallback to websites' Date headers, tried when no time server answered.

    Attributes:
        used: whether the measurement comes from it.
        skipped: why no website was asked, or None when they were.
        sites: every website asked.
    """

    used: bool
    skipped: str | None
    sites: tuple[DateAsked, ...]


@dataclass(frozen=True, kw_only=True)
class ClockFacts(Facts):
    """The measurement of this computer's clock.

    Attributes:
        source: `ntp`, `http_date` or `none` when no network time was reached.
        offset_s: network time minus this clock, in seconds (positive: this clock is behind);
            None when no network time was reached. The certificate check judges dates at
            network time with it.
        servers: every address of every time server asked.
        timezone: the zone the OS applies; sync: what its time service says.
        bounds: the dates this clock must lie between, known without any network.
        http_date: the HTTP Date fallback, when it was tried or skipped; else None.
    """

    check_id = "clock"

    source: str
    offset_s: float | None
    uncertainty_s: float | None
    agreed: int
    agreed_servers: tuple[str, ...]
    queried: int
    servers: tuple[NtpQueried, ...]
    local_time: str
    network_time: str | None
    timezone: TimeZone
    sync: TimeService
    bounds: OfflineBounds
    offline: bool
    http_date: HttpDateTried | None = absent_when_none()
