"""The clock check: grading, offline bounds, time zones, sync parsers, whole runs on loopback."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tzlocal

from checks import clock
from checks.core import build_info
from checks.core.check import Cancelled, Context
from checks.core.config import Settings
from checks.core.facts.clock import ClockFacts, TimeService, TimeZone
from checks.core.models import Finding, Outcome, Status
from checks.core.redact import plain
from checks.lib import http_date, ntp, system, timesync
from checks.present import catalogue, words
from tests.lab import pki
from tests.lab.ntp_server import NtpServer, free_udp_port

YEAR = 365 * 86400.0
UTC_ZONE = TimeZone(
    name="Etc/UTC", abbreviation="UTC", utc_offset="+00:00", utc_offset_s=0, dst=False
)
BERLIN_SUMMER = TimeZone(
    name="Europe/Berlin", abbreviation="CEST", utc_offset="+02:00", utc_offset_s=7200, dst=True
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _m(
    offset: float, uncertainty: float = 0.02, source: http_date.Source = "ntp"
) -> http_date.Measurement:
    return http_date.Measurement(source, offset, uncertainty, ("time.a", "time.b", "time.c"), 4)


def _grade(offset: float, uncertainty: float = 0.02, **options: object) -> Finding:
    zone = options.pop("zone", UTC_ZONE)
    sync = options.pop("sync", timesync.empty_sync())
    source = options.pop("source", "ntp")
    return clock.grade(
        _m(offset, uncertainty, source),  # type: ignore[arg-type]
        zone=zone,  # type: ignore[arg-type]
        sync=sync,  # type: ignore[arg-type]
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def _renders_completely(finding: Finding) -> None:
    """Every placeholder of the finding's texts is filled, in every language."""
    for lang in catalogue.LANGUAGES:
        for os_name in catalogue.OS_NAMES:
            text = catalogue.render(finding, lang=lang, os_name=os_name)
            assert "?" not in text.title + text.explanation, (lang, finding.id, text)
            if finding.status is not Status.PASS:
                assert text.fix, (lang, os_name, finding.id)


# --- grading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 0.4, -12.0, 59.0])
def test_small_offsets_pass_and_show_the_numbers(offset: float) -> None:
    finding = _grade(offset)
    assert (finding.id, finding.status) == ("clock.ok", Status.PASS)
    assert finding.params["agreed"] == 3
    assert finding.params["queried"] == 4
    assert finding.params["uncertainty_s"] == 0.02
    title = catalogue.render(finding, lang="en").title
    assert "3 of 4 servers agreed" in title
    assert "0.02 s" in title
    _renders_completely(finding)


@pytest.mark.parametrize(
    ("offset", "uncertainty", "status"),
    [
        (60.0, 0.02, Status.WARN),
        (-90.0, 0.02, Status.WARN),
        (299.0, 0.02, Status.WARN),
        (310.0, 20.0, Status.WARN),  # might still be under 5 minutes
        (300.5, 0.2, Status.FAIL),
        (-400.0, 0.02, Status.FAIL),
        (3 * 86400.0 + 7000, 0.02, Status.FAIL),
    ],
)
def test_skew_warns_from_a_minute_and_fails_beyond_five_minutes_plus_uncertainty(
    offset: float, uncertainty: float, status: Status
) -> None:
    finding = _grade(offset, uncertainty)
    assert (finding.id, finding.status) == ("clock.skew", status)
    assert "variant" not in finding.params
    _renders_completely(finding)


def test_sign_positive_offset_means_behind_negative_means_ahead() -> None:
    behind = _grade(400.0)
    ahead = _grade(-400.0)
    assert behind.params["offset_s"] == 400.0
    assert (
        catalogue.render(behind, lang="en").title
        == "Your computer's clock is 6 minutes 40 seconds behind"
    )
    assert (
        catalogue.render(ahead, lang="en").title
        == "Your computer's clock is 6 minutes 40 seconds ahead"
    )
    # The same finding in the other language: words are chosen when the text is shown.
    assert catalogue.render(behind, lang="zh_CN").title == "您电脑的时钟慢了 6 分钟 40 秒"
    assert behind.params["network_time"] == "2026-11-23T12:06:40Z"
    assert behind.params["local_time"] == "2026-11-23T12:00:00Z"


def test_years_behind_is_a_failure_with_the_cmos_battery_hint() -> None:
    finding = _grade(3 * YEAR + 86400)
    assert (finding.id, finding.status) == ("clock.skew", Status.FAIL)
    assert finding.params["variant"] == "years"
    # Numbers only: the words are chosen when the text is shown, in its language.
    assert "human_offset" not in finding.params
    assert catalogue.render(finding, lang="zh_CN").title.startswith("您电脑的时钟慢了 3 年")
    for os_name in catalogue.OS_NAMES:
        text = catalogue.render(finding, lang="en", os_name=os_name)
        assert "3 years behind" in text.title
        assert any("battery" in step for step in text.fix), os_name
    _renders_completely(finding)


def test_years_ahead_is_a_plain_skew_not_a_battery() -> None:
    finding = _grade(-2 * YEAR)
    assert (finding.id, finding.status) == ("clock.skew", Status.FAIL)
    assert "variant" not in finding.params
    assert "ahead" in catalogue.render(finding, lang="en").title


@pytest.mark.parametrize("offset", [3600.0 + 30, -3600.0 - 45, 1800.0, 5 * 3600.0 - 80, 900.0 - 90])
def test_whole_multiples_of_15_minutes_are_a_wrong_time_zone(offset: float) -> None:
    finding = _grade(offset)
    assert (finding.id, finding.status) == ("clock.timezone", Status.FAIL)
    assert "variant" not in finding.params
    assert finding.params["timezone"] == "Etc/UTC"
    text = catalogue.render(finding, lang="en")
    assert "time zone" in text.title
    assert "clock is" in text.title
    assert "Etc/UTC" in text.explanation
    _renders_completely(finding)


@pytest.mark.parametrize(
    ("offset", "uncertainty"),
    [
        (3600.0 + 300, 0.02),  # five minutes off a zone step: a drifting clock
        (900.0 - 100, 0.02),
        (27 * 3600.0, 0.02),  # no two zones are this far apart
        (3600.0, 120.0),  # too uncertain to tell
    ],
)
def test_offsets_that_are_not_zone_shaped_stay_clock_skew(
    offset: float, uncertainty: float
) -> None:
    assert _grade(offset, uncertainty).id == "clock.skew"


def test_an_offset_equal_to_the_zones_utc_offset_points_at_dual_boot() -> None:
    finding = _grade(7200.0 + 20, zone=BERLIN_SUMMER)
    assert finding.id == "clock.timezone"
    assert finding.params["variant"] == "dual_boot"
    assert finding.params["utc_offset"] == "+02:00"
    assert finding.params["zone_error"] == "+02:00"
    windows = catalogue.render(finding, lang="en", os_name="windows")
    assert any("RealTimeIsUniversal" in step for step in windows.fix)
    linux = catalogue.render(finding, lang="en", os_name="linux")
    assert any("set-local-rtc" in step for step in linux.fix)
    _renders_completely(finding)


def test_a_linux_rtc_in_local_time_points_at_dual_boot_too() -> None:
    rtc_local = dataclasses.replace(timesync.empty_sync(), local_rtc=True)
    finding = _grade(-3600.0, sync=rtc_local)
    assert finding.params.get("variant") == "dual_boot"
    rtc_utc = dataclasses.replace(timesync.empty_sync(), local_rtc=False)
    assert _grade(-3600.0, sync=rtc_utc).params.get("variant") is None


def test_http_date_measurements_say_they_are_coarser() -> None:
    ok = _grade(0.7, 0.6, source="http_date")
    assert (ok.id, ok.params.get("variant")) == ("clock.ok", "http_date")
    assert "one-second resolution" in catalogue.render(ok, lang="en").explanation
    skew = _grade(-4000.0, 0.6, source="http_date")
    assert (skew.id, skew.params.get("variant")) == ("clock.skew", "http_date")
    _renders_completely(ok)
    _renders_completely(skew)


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0.3, "0 seconds", "0 秒"),
        (1, "1 second", "1 秒"),
        (42, "42 seconds", "42 秒"),
        (300, "5 minutes", "5 分钟"),
        (61, "1 minute 1 second", "1 分钟 1 秒"),
        (7800, "2 hours 10 minutes", "2 小时 10 分钟"),
        (-3600, "1 hour", "1 小时"),
        (2 * 86400 + 4 * 3600 + 59, "2 days 4 hours", "2 天 4 小时"),
        (YEAR, "1 year", "1 年"),
        (3 * YEAR + 86400, "3 years", "3 年"),
    ],
)
def test_offsets_are_worded_for_people(seconds: float, en: str, zh: str) -> None:
    assert words.duration(seconds, "en") == en
    assert words.duration(seconds, "zh_CN") == zh


# --- offline bounds --------------------------------------------------------------------------


def test_bounds_come_from_the_build_stamp_and_certifi() -> None:
    bounds = timesync.offline_bounds()
    build = timesync.parse_build_time(build_info.BUILD_TIME)
    assert build is not None
    assert bounds.build_time == build
    assert bounds.certifi == datetime(2026, 10, 18, tzinfo=UTC)
    assert bounds.earliest == build - timedelta(days=2)
    assert bounds.latest == build + timedelta(days=365)
    assert plain(bounds.fact()) == {
        "earliest": timesync.iso(bounds.earliest),
        "latest": timesync.iso(bounds.latest),
        "build_time": timesync.iso(build),
        "certifi": "2026-10-18T00:00:00Z",
    }


def test_a_later_certifi_release_raises_the_floor() -> None:
    bounds = timesync.offline_bounds(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert bounds.earliest == datetime(2026, 5, 30, tzinfo=UTC)
    assert bounds.latest == datetime(2027, 1, 1, tzinfo=UTC)


def test_certifi_versions_and_build_stamps_parse() -> None:
    assert timesync.certifi_date("2026.10.18") == datetime(2026, 10, 18, tzinfo=UTC)
    assert timesync.certifi_date("2024.2.2.1") == datetime(2024, 2, 2, tzinfo=UTC)
    assert timesync.certifi_date("dev") is None
    assert timesync.parse_build_time("2026-11-23T00:00:00Z") == datetime(2026, 11, 23, tzinfo=UTC)
    assert timesync.parse_build_time("@BUILD_TIME@") is None


def test_a_clock_before_the_build_is_certainly_behind() -> None:
    bounds = timesync.offline_bounds(datetime(2026, 11, 23, tzinfo=UTC), None)
    finding = clock.bound_finding(datetime(2000, 1, 1, tzinfo=UTC), bounds)
    assert finding is not None
    assert (finding.id, finding.status) == ("clock.skew", Status.FAIL)
    assert finding.params["variant"] == "offline_bound"
    assert finding.params["bound"] == "2026-11-21T00:00:00Z"
    offset = finding.params["offset_s"]
    assert isinstance(offset, float)
    assert offset > 26 * YEAR
    assert "behind" in catalogue.render(finding, lang="en").title
    title = catalogue.render(finding, lang="en").title
    assert title == "Your computer's clock is at least 26 years behind"
    _renders_completely(finding)


def test_a_clock_a_year_past_the_build_is_only_a_warning() -> None:
    bounds = timesync.offline_bounds(datetime(2026, 11, 23, tzinfo=UTC), None)
    finding = clock.bound_finding(datetime(2028, 1, 1, tzinfo=UTC), bounds)
    assert finding is not None
    assert (finding.id, finding.status) == ("clock.skew", Status.WARN)
    assert finding.params["variant"] == "offline_bound_ahead"
    assert "ahead" in catalogue.render(finding, lang="en").title
    _renders_completely(finding)


def test_a_clock_within_the_bounds_says_nothing() -> None:
    bounds = timesync.offline_bounds(datetime(2026, 11, 23, tzinfo=UTC), None)
    assert clock.bound_finding(datetime(2026, 11, 22, tzinfo=UTC), bounds) is None
    assert clock.bound_finding(datetime(2027, 6, 1, tzinfo=UTC), bounds) is None


# --- time zone -------------------------------------------------------------------------------


@pytest.mark.posix_only("changes the zone with time.tzset(), which Windows lacks")
def test_the_os_zone_is_named_with_its_utc_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        zone = timesync.local_zone(datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert zone.name == "Asia/Kolkata"
    assert zone.utc_offset == "+05:30"
    assert zone.utc_offset_s == 19800
    assert zone.dst is False


ROOT = Path(__file__).resolve().parents[2]
ZONEINFO = Path("/usr/share/zoneinfo")


def _zone_in_a_process(tz: str) -> dict[str, object]:
    """`local_zone()` on 2026-07-01 in a fresh process with TZ set (nothing cached), as the
    report holds it."""
    code = (
        "import json, datetime as d\n"
        "from checks.core.redact import plain\n"
        "from checks.lib import timesync\n"
        "print(json.dumps(plain(timesync.local_zone(d.datetime(2026, 7, 1, tzinfo=d.UTC)))))\n"
    )
    env = {**os.environ, "TZ": tz}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    zone = json.loads(done.stdout)
    assert isinstance(zone, dict)
    return zone


@pytest.mark.skipif(not (ZONEINFO / "Asia" / "Shanghai").is_file(), reason="no tz database")
def test_the_zone_set_in_tz_is_named_by_its_iana_name() -> None:
    shanghai = _zone_in_a_process("Asia/Shanghai")
    assert (shanghai["name"], shanghai["utc_offset"], shanghai["dst"]) == (
        "Asia/Shanghai",
        "+08:00",
        False,
    )
    # TZ may name the zone's file; the report still gets the IANA name, not the path.
    berlin = _zone_in_a_process(f":{ZONEINFO / 'Europe' / 'Berlin'}")
    assert (berlin["name"], berlin["abbreviation"], berlin["utc_offset"], berlin["dst"]) == (
        "Europe/Berlin",
        "CEST",
        "+02:00",
        True,
    )
    assert list(berlin) == ["name", "abbreviation", "utc_offset", "utc_offset_s", "dst"]


def test_without_tz_the_system_zone_comes_from_tzlocal(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on Windows, whose own name ("China Standard Time") tzlocal maps to the IANA one.
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Asia/Shanghai")
    assert timesync.local_zone(datetime(2026, 1, 1, tzinfo=UTC)).name == "Asia/Shanghai"

    def conflicting() -> str:
        raise LookupError("Multiple conflicting time zone configurations found")

    # A zone tzlocal cannot name falls back to /etc/localtime or the abbreviation.
    monkeypatch.setattr(tzlocal, "get_localzone_name", conflicting)
    zone = timesync.local_zone(datetime(2026, 1, 1, tzinfo=UTC))
    assert zone.name not in ("", "Asia/Shanghai")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "+00:00"), (3600, "+01:00"), (-12600, "-03:30"), (20700, "+05:45")]
)
def test_utc_offsets_are_formatted(seconds: int, text: str) -> None:
    assert timesync.format_utc_offset(seconds) == text


# --- sync service parsers, on recorded real outputs ------------------------------------------

TIMEDATECTL_SYNCED = """\
Timezone=Europe/Berlin
LocalRTC=no
CanNTP=yes
NTP=yes
NTPSynchronized=yes
TimeUSec=Mon 2026-11-23 16:21:03 CET
RTCTimeUSec=Mon 2026-11-23 15:21:03 CET
"""

TIMEDATECTL_OFF_LOCAL_RTC = """\
Timezone=Europe/Berlin
LocalRTC=yes
CanNTP=yes
NTP=no
NTPSynchronized=no
TimeUSec=Mon 2026-11-23 16:21:03 CET
RTCTimeUSec=Mon 2026-11-23 16:21:03 CET
"""

TIMEDATECTL_NO_SERVICE = """\
Timezone=UTC
LocalRTC=no
CanNTP=no
NTP=no
NTPSynchronized=no
TimeUSec=Mon 2026-11-23 15:21:03 UTC
RTCTimeUSec=n/a
"""

# `timedatectl show-timesync` (systemd 252); its long lines split to fit the line length.
TIMESYNC = (
    "SystemNTPServers=\n"
    "FallbackNTPServers=0.debian.pool.ntp.org 1.debian.pool.ntp.org "
    "2.debian.pool.ntp.org 3.debian.pool.ntp.org\n"
    "ServerName=0.debian.pool.ntp.org\n"
    "ServerAddress=185.125.190.56\n"
    "RootDistanceMaxUSec=5s\n"
    "PollIntervalMinUSec=32s\n"
    "PollIntervalMaxUSec=34min 8s\n"
    "PollIntervalUSec=34min 8s\n"
    "NTPMessage={ Leap=0, Version=4, Mode=4, Stratum=2, Precision=-25, "
    "RootDelay=1.007ms, RootDispersion=18.600ms, Reference=11FD2256, "
    "OriginateTimestamp=Mon 2026-11-23 15:02:11 UTC, "
    "ReceiveTimestamp=Mon 2026-11-23 15:02:11 UTC, "
    "TransmitTimestamp=Mon 2026-11-23 15:02:11 UTC, "
    "DestinationTimestamp=Mon 2026-11-23 15:02:11 UTC, Ignored=no PacketCount=17, "
    "Jitter=1.215ms }\n"
    "Frequency=-1181802\n"
)

CHRONY_SYNCED = """\
Reference ID    : A29FC801 (162.159.200.1)
Stratum         : 4
Ref time (UTC)  : Mon Nov 23 14:02:11 2026
System time     : 0.000123456 seconds slow of NTP time
Last offset     : -0.000045678 seconds
RMS offset      : 0.000234567 seconds
Frequency       : 12.345 ppm fast
Residual freq   : -0.001 ppm
Skew            : 0.123 ppm
Root delay      : 0.023456789 seconds
Root dispersion : 0.001234567 seconds
Update interval : 1025.3 seconds
Leap status     : Normal
"""

CHRONY_UNSYNCED = """\
Reference ID    : 00000000 ()
Stratum         : 0
Ref time (UTC)  : Thu Jan 01 00:00:00 1970
System time     : 0.000000000 seconds fast of NTP time
Last offset     : +0.000000000 seconds
RMS offset      : 0.000000000 seconds
Frequency       : 0.000 ppm slow
Residual freq   : +0.000 ppm
Skew            : 0.000 ppm
Root delay      : 1.000000000 seconds
Root dispersion : 1.000000000 seconds
Update interval : 0.0 seconds
Leap status     : Not synchronised
"""


def test_timedatectl_synced() -> None:
    sync = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_SYNCED), None, None)
    assert sync.enabled is True
    assert sync.synchronized is True
    assert sync.local_rtc is False
    assert sync.service == "timedatectl"
    assert clock.sync_finding(sync) is None


def test_timesyncd_names_its_server() -> None:
    sync = timesync.linux_sync(
        timesync.parse_key_values(TIMEDATECTL_SYNCED), timesync.parse_key_values(TIMESYNC), None
    )
    assert sync.service == "systemd-timesyncd"
    assert sync.ntp_servers == ("0.debian.pool.ntp.org",)
    assert sync.source == "185.125.190.56"


def test_timedatectl_turned_off_with_the_rtc_in_local_time() -> None:
    sync = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_OFF_LOCAL_RTC), None, None)
    assert (sync.enabled, sync.synchronized, sync.local_rtc) == (False, False, True)
    finding = clock.sync_finding(sync)
    assert finding is not None
    assert (finding.id, finding.status) == ("clock.not_synced", Status.WARN)
    assert finding.params["variant"] == "disabled"
    linux = catalogue.render(finding, lang="en", os_name="linux")
    assert any("timedatectl set-ntp true" in step for step in linux.fix)
    _renders_completely(finding)


def test_timedatectl_without_any_ntp_service() -> None:
    sync = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_NO_SERVICE), None, None)
    finding = clock.sync_finding(sync)
    assert finding is not None
    assert finding.params["variant"] == "no_service"
    _renders_completely(finding)


def test_chrony_tracking_synced() -> None:
    tracking = timesync.parse_chrony_tracking(CHRONY_SYNCED)
    assert tracking["reference_id"] == "A29FC801"
    assert tracking["reference"] == "162.159.200.1"
    assert tracking["stratum"] == 4
    assert tracking["system_offset_s"] == pytest.approx(0.000123456)  # slow = behind = positive
    assert tracking["synchronized"] is True
    sync = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_SYNCED), None, tracking)
    assert sync.service == "chronyd"
    assert sync.ntp_servers == ("162.159.200.1",)
    assert clock.sync_finding(sync) is None


def test_chrony_tracking_unsynchronised() -> None:
    tracking = timesync.parse_chrony_tracking(CHRONY_UNSYNCED)
    assert tracking["synchronized"] is False
    assert tracking["system_offset_s"] == 0.0
    sync = timesync.linux_sync(None, None, tracking)
    finding = clock.sync_finding(sync)
    assert finding is not None
    assert "variant" not in finding.params
    assert finding.params["service"] == "chronyd"
    _renders_completely(finding)


def test_nothing_readable_means_no_finding() -> None:
    sync = timesync.linux_sync(None, None, None)
    assert sync.service is None
    assert clock.sync_finding(sync) is None


W32TM_SOURCE_NTP = "time.windows.com,0x9\r\n"
W32TM_SOURCE_CMOS = "Local CMOS Clock\r\n"
W32TM_SOURCE_ERROR = (
    "The following error occurred: The service has not been started. (0x80070426)\r\n"
)


def test_w32tm_source_outputs() -> None:
    assert timesync.parse_w32tm_source(W32TM_SOURCE_NTP) == "time.windows.com"
    assert timesync.parse_w32tm_source(W32TM_SOURCE_CMOS) == "Local CMOS Clock"
    assert timesync.parse_w32tm_source("VM IC Time Synchronization Provider\r\n") == (
        "VM IC Time Synchronization Provider"
    )
    assert timesync.parse_w32tm_source(W32TM_SOURCE_ERROR) is None


def test_windows_default_ntp_client() -> None:
    parameters = {"Type": "NTP", "NtpServer": "time.windows.com,0x9", "ServiceDll": "w32time.dll"}
    sync = timesync.windows_sync(parameters, {}, start=3, source_output=W32TM_SOURCE_NTP)
    assert sync.service == "W32Time"
    assert (sync.enabled, sync.synchronized) == (True, True)
    assert sync.ntp_servers == ("time.windows.com",)
    assert clock.sync_finding(sync) is None


def test_windows_free_running_on_the_cmos_clock() -> None:
    parameters = {"Type": "NTP", "NtpServer": "time.windows.com,0x9"}
    sync = timesync.windows_sync(parameters, {}, start=3, source_output=W32TM_SOURCE_CMOS)
    assert sync.synchronized is False
    finding = clock.sync_finding(sync)
    assert finding is not None
    assert "variant" not in finding.params
    windows = catalogue.render(finding, lang="en", os_name="windows")
    assert any("w32tm /resync" in step for step in windows.fix)


@pytest.mark.parametrize(
    ("parameters", "policy", "start"),
    [
        ({"Type": "NoSync", "NtpServer": "time.windows.com,0x9"}, {}, 3),
        ({"Type": "NTP", "NtpServer": "time.windows.com,0x9"}, {}, 4),
        ({"Type": "NTP"}, {"Type": "NoSync"}, 3),
    ],
)
def test_windows_sync_turned_off_by_setting_service_or_policy(
    parameters: dict[str, object], policy: dict[str, object], start: int
) -> None:
    sync = timesync.windows_sync(parameters, policy, start=start, source_output=W32TM_SOURCE_ERROR)
    assert sync.enabled is False
    finding = clock.sync_finding(sync)
    assert finding is not None
    assert finding.params["variant"] == "disabled"
    windows = catalogue.render(finding, lang="en", os_name="windows")
    assert any("Set time automatically" in step for step in windows.fix)


def test_a_domain_policy_overrides_the_local_server_list() -> None:
    sync = timesync.windows_sync(
        {"Type": "NTP", "NtpServer": "time.windows.com,0x9"},
        {"Type": "NT5DS", "NtpServer": "dc1.corp.example,0x8 dc2.corp.example,0x8"},
        start=2,
        source_output="dc1.corp.example\r\n",
    )
    assert sync.type == "NT5DS"
    assert sync.policy_override is True
    assert sync.ntp_servers == ("dc1.corp.example", "dc2.corp.example")
    assert sync.synchronized is True


SYNC_KEYS = [
    "service",
    "available",
    "enabled",
    "synchronized",
    "ntp_servers",
    "source",
    "offset_s",
    "local_rtc",
    "errors",
]


def test_the_time_service_keeps_the_reports_keys_on_every_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linux = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_SYNCED), None, None)
    assert list(plain(linux)) == SYNC_KEYS  # type: ignore[arg-type]
    # Windows adds its own keys after the common ones.
    registry = {
        r"SYSTEM\CurrentControlSet\Services\W32Time\Parameters": {"Type": "NTP"},
        r"SYSTEM\CurrentControlSet\Services\W32Time": {"Start": 3},
        r"SYSTEM\CurrentControlSet\Control\TimeZoneInformation": {"RealTimeIsUniversal": 1},
    }
    monkeypatch.setattr(system, "registry_values", lambda path, **_: registry.get(path, {}))
    answer = system.CommandResult(0, W32TM_SOURCE_NTP)
    monkeypatch.setattr(system, "run_command", lambda *_, **__: answer)
    windows = timesync._windows_read(threading.Event())
    assert plain(windows) == {
        "service": "W32Time",
        "available": True,
        "enabled": True,
        "synchronized": True,
        "ntp_servers": [],
        "source": "time.windows.com",
        "offset_s": None,
        "local_rtc": None,
        "errors": [],
        "type": "NTP",
        "policy_override": False,
        "real_time_is_universal": True,
    }
    failed = system.CommandResult(1, "", "The service has not been started. (0x80070426)")
    monkeypatch.setattr(system, "run_command", lambda *_, **__: failed)
    windows = timesync._windows_read(threading.Event())
    assert windows.errors == ("The service has not been started. (0x80070426)",)
    assert windows.synchronized is None


def test_macos_ntp_conf_and_sntp() -> None:
    assert timesync.parse_ntp_conf("server time.apple.com.\n# server old.example\n") == [
        "time.apple.com"
    ]
    measured = timesync.parse_sntp(
        "sntp 4.2.8p10@1.3728-o Tue Mar 21 14:36:42 UTC 2023 (136.200.1~2544)\n"
        "+0.003529 +/- 0.020853 time.apple.com 17.253.34.253\n"
    )
    assert measured == {
        "offset_s": 0.003529,
        "uncertainty_s": 0.020853,
        "server": "time.apple.com",
        "address": "17.253.34.253",
    }
    assert timesync.parse_sntp("sntp: no reply\n") is None


# --- whole runs on loopback ------------------------------------------------------------------


class _DateServer:
    """An HTTP server on loopback whose Date header is `offset_s` away from the real time."""

    def __init__(
        self, offset_s: float, status: int = 200, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                owner.requests += 1
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(time.time() + offset_s, usegmt=True)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/"
        self.canary = f"127.0.0.1:{port}"  # what a user passes: HTTPS is implied
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> _DateServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


SYNC_UNKNOWN: TimeService = timesync.linux_sync(None, None, None)


@pytest.fixture(autouse=True)
def _no_proxy_and_no_host_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    # The host's own time service is not under test in whole runs; the parsers are, above.
    monkeypatch.setattr(clock, "read_sync", lambda **_: SYNC_UNKNOWN)


def _closed_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(
    ntp_servers: tuple[str, ...],
    canaries: tuple[str, ...] = (),
    cancel: threading.Event | None = None,
    **options: object,
) -> Outcome:
    canaries = canaries or (f"127.0.0.1:{_closed_tcp_port()}",)
    settings = Settings(ntp_servers=ntp_servers, canaries=canaries, **options)  # type: ignore[arg-type]
    context = Context(
        settings=settings,
        target=None,
        cancel=cancel or threading.Event(),
        results={},
        deadline=time.monotonic() + 30,
    )
    return clock.run(context)


def _facts(outcome: Outcome) -> ClockFacts:
    assert isinstance(outcome.facts, ClockFacts), outcome.facts
    return outcome.facts


def _only(outcome: Outcome, finding_id: str) -> Finding:
    found = [f for f in outcome.findings if f.id == finding_id]
    assert len(found) == 1, outcome.findings
    return found[0]


def test_a_right_clock_passes_with_offset_agreement_and_uncertainty() -> None:
    with NtpServer(offset_s=0.0) as a, NtpServer(offset_s=0.01) as b, NtpServer("127.0.0.1") as c:
        outcome = _run((a.spec, b.spec, c.spec))
    finding = _only(outcome, "clock.ok")
    assert finding.status is Status.PASS
    assert (finding.params["agreed"], finding.params["queried"]) == (3, 3)
    facts = _facts(outcome)
    assert facts.source == "ntp"
    assert isinstance(facts.offset_s, float)
    assert abs(facts.offset_s) < 0.05
    assert isinstance(facts.uncertainty_s, float)
    assert 0 <= facts.uncertainty_s < 0.05
    assert (facts.agreed, facts.queried) == (3, 3)
    assert len(facts.servers) == 3
    assert len(facts.agreed_servers) == 3
    assert facts.network_time is not None
    assert facts.http_date is None
    assert list(plain(facts)) == [  # type: ignore[arg-type]
        "source",
        "offset_s",
        "uncertainty_s",
        "agreed",
        "agreed_servers",
        "queried",
        "servers",
        "local_time",
        "network_time",
        "timezone",
        "sync",
        "bounds",
        "offline",
    ]
    _renders_completely(finding)


def test_one_wrong_server_is_outvoted() -> None:
    with NtpServer() as a, NtpServer(offset_s=0.02) as b, NtpServer(offset_s=5000.0) as c:
        outcome = _run((a.spec, b.spec, c.spec))
    finding = _only(outcome, "clock.ok")
    assert (finding.params["agreed"], finding.params["queried"]) == (2, 3)
    assert c.spec not in finding.params["servers"]  # type: ignore[operator]


def test_a_clock_three_years_behind_fails_with_a_positive_offset() -> None:
    with NtpServer(offset_s=3 * YEAR) as a, NtpServer(offset_s=3 * YEAR) as b:
        outcome = _run((a.spec, b.spec))
    finding = _only(outcome, "clock.skew")
    assert finding.status is Status.FAIL
    assert finding.params["variant"] == "years"
    assert _facts(outcome).offset_s == pytest.approx(3 * YEAR, abs=0.1)
    assert catalogue.render(finding, lang="en").title.startswith(
        "Your computer's clock is 3 years behind"
    )


def test_an_hour_off_is_reported_as_the_time_zone() -> None:
    with NtpServer(offset_s=3600 + 30) as a, NtpServer(offset_s=3600 + 30) as b:
        outcome = _run((a.spec, b.spec))
    assert [f.id for f in outcome.findings] == ["clock.timezone"]


def test_kiss_o_death_everywhere_falls_back_to_http_dates_without_outliers() -> None:
    with (
        NtpServer(kiss="RATE") as a,
        NtpServer(kiss="DENY") as b,
        _DateServer(400) as h1,
        _DateServer(401) as h2,
        _DateServer(-2000, status=301) as h3,
    ):
        outcome = _run((a.spec, b.spec), canaries=(h1.url, h2.url, h3.url))
    assert (h1.requests, h2.requests, h3.requests) == (1, 1, 1)
    facts = _facts(outcome)
    assert facts.source == "http_date"
    assert [s.kiss for s in facts.servers] == ["RATE", "DENY"]
    finding = _only(outcome, "clock.skew")
    assert (finding.status, finding.params["variant"]) == (Status.FAIL, "http_date")
    assert finding.params["offset_s"] == pytest.approx(400.5, abs=1.0)
    assert (finding.params["agreed"], finding.params["queried"]) == (2, 3)
    assert facts.http_date is not None
    assert facts.http_date.used is True
    assert [d.outlier for d in facts.http_date.sites] == [False, False, True]
    assert "one-second resolution" in catalogue.render(finding, lang="en").explanation


def test_blocked_ntp_with_right_http_dates_passes_as_coarser() -> None:
    with _DateServer(0) as h1, _DateServer(0) as h2:
        outcome = _run((f"127.0.0.1:{free_udp_port()}",), canaries=(h1.url, h2.url))
    finding = _only(outcome, "clock.ok")
    assert finding.params["variant"] == "http_date"
    assert finding.params["source"] == "http_date"


def test_https_canaries_are_read_whatever_their_certificate_dates(tmp_path: Path) -> None:
    # A clock years off makes every certificate look invalid: exactly when the fallback is
    # needed, so it must not depend on certificate dates (NTP is unauthenticated anyway).
    future = datetime.now(UTC) + timedelta(days=3 * 365)
    cert = pki.leaf("127.0.0.1", None, not_before=future, not_after=future + timedelta(days=90))
    files = pki.write_chain(tmp_path, "canary", [cert])
    with _DateServer(-600, tls=files) as h1, _DateServer(-600, tls=files) as h2:
        outcome = _run((f"127.0.0.1:{free_udp_port()}",), canaries=(h1.canary, h2.canary))
    finding = _only(outcome, "clock.skew")
    assert finding.params["variant"] == "http_date"
    assert finding.params["offset_s"] == pytest.approx(-599.5, abs=1.0)
    assert "ahead" in catalogue.render(finding, lang="en").title
    tried = _facts(outcome).http_date
    assert tried is not None
    assert [site.url for site in tried.sites] == [f"https://{h1.canary}/", f"https://{h2.canary}/"]


def test_no_time_source_is_unverified_never_a_pass_and_answers_fast() -> None:
    started = time.monotonic()
    outcome = _run((f"127.0.0.1:{free_udp_port()}", f"127.0.0.1:{free_udp_port()}"))
    assert time.monotonic() - started < 3.0
    assert [f.id for f in outcome.findings] == ["clock.unverified"]
    finding = outcome.findings[0]
    assert finding.status is Status.WARN
    assert "variant" not in finding.params
    problems = finding.params["problems"]
    assert isinstance(problems, list)
    assert any(p.endswith(": refused") for p in problems)
    facts = _facts(outcome)
    assert (facts.source, facts.offset_s, facts.network_time) == ("none", None, None)
    # Nothing answered: each site asked says why, and leaves out what it could not measure.
    assert facts.http_date is not None
    assert facts.http_date.used is False
    assert [list(plain(site)) for site in facts.http_date.sites] == [  # type: ignore[arg-type]
        ["url", "host", "ok", "rejected", "elapsed_ms"]
    ]
    _renders_completely(finding)


def test_without_dns_the_http_fallback_is_skipped_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*_: object, **__: object) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(ntp, "resolve", no_dns)
    monkeypatch.setattr(clock.urllib.request, "getproxies", dict)
    with _DateServer(0) as h:
        started = time.monotonic()
        outcome = _run(("time.cloudflare.com", "time.google.com"), canaries=(h.url,))
        elapsed = time.monotonic() - started
    assert h.requests == 0
    assert elapsed < 1.0
    assert [f.id for f in outcome.findings] == ["clock.unverified"]
    tried = _facts(outcome).http_date
    assert tried is not None
    assert tried.skipped
    assert tried.sites == ()


def test_offline_contacts_nothing_and_says_unverified() -> None:
    with NtpServer() as a, _DateServer(0) as h:
        outcome = _run((a.spec,), canaries=(h.url,), offline=True)
    assert (a.requests, h.requests) == (0, 0)
    finding = _only(outcome, "clock.unverified")
    assert finding.params["variant"] == "offline"
    assert _facts(outcome).queried == 0
    assert _facts(outcome).http_date is None
    _renders_completely(finding)


def test_offline_with_a_clock_before_the_build_fires_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(build_info, "BUILD_TIME", "2099-01-01T00:00:00Z")
    outcome = _run(("127.0.0.1:1",), offline=True)
    assert [(f.id, f.status) for f in outcome.findings] == [
        ("clock.unverified", Status.WARN),
        ("clock.skew", Status.FAIL),
    ]
    assert outcome.findings[1].params["variant"] == "offline_bound"
    assert _facts(outcome).bounds.build_time == "2099-01-01T00:00:00Z"


def test_a_sync_service_that_is_off_is_reported_beside_the_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sync = timesync.linux_sync(timesync.parse_key_values(TIMEDATECTL_OFF_LOCAL_RTC), None, None)
    monkeypatch.setattr(clock, "read_sync", lambda **_: sync)
    with NtpServer() as a:
        outcome = _run((a.spec,))
    assert [f.id for f in outcome.findings] == ["clock.ok", "clock.not_synced"]
    assert _facts(outcome).sync.local_rtc is True


def test_cancel_ends_the_run_quickly() -> None:
    cancel = threading.Event()
    with NtpServer(reply="silent") as a:
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            _run((a.spec,), cancel=cancel)
    assert time.monotonic() - started < 1.0


def test_the_check_declares_every_variant_it_emits() -> None:
    assert clock.CHECK.id == "clock"
    assert clock.CHECK.scope == "local"
    declared = {(i, v) for i, vs in clock.CHECK.findings.items() for v in (None, *vs)}
    emitted = [
        _grade(0.0),
        _grade(0.0, source="http_date"),
        _grade(100.0),
        _grade(3 * YEAR),
        _grade(-1000.0, source="http_date"),
        _grade(3600.0),
        _grade(7200.0, zone=BERLIN_SUMMER),
    ]
    for finding in emitted:
        assert (finding.id, finding.params.get("variant")) in declared
