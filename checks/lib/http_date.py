"""Measures the clock against websites' Date headers, through the proxy a program here would use."""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC
from email.message import Message
from typing import IO, Literal

from checks.core import policy
from checks.core.check import Cancelled
from checks.core.facts.clock import DateAsked
from checks.core.version import __version__
from checks.lib import net, ntp

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
) -> tuple[tuple[DateAsked, ...], Measurement | None]:
    """Ask every canary for its Date in parallel, through the proxy a program here would take;
    outliers (median +- 5 s) are dropped."""
    urls = list(dict.fromkeys(canary_url(e) for e in entries))
    if not urls:
        return (), None

    def one(url: str) -> tuple[DateAsked, ntp.Estimate | None]:
        started = time.monotonic()
        host = urllib.parse.urlsplit(url).netloc
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
            rejected = f"{type(exc).__name__}: {exc}"
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            return DateAsked(
                url=url, host=host, ok=False, rejected=rejected, elapsed_ms=elapsed_ms
            ), None
        fact = DateAsked(
            url=url,
            host=host,
            ok=True,
            date=reading.date,
            offset_s=round(reading.offset_s, 3),
            uncertainty_s=round(reading.uncertainty_s, 3),
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return fact, ntp.Estimate(host, reading.offset_s, reading.uncertainty_s)

    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="clock-http") as pool:
        results = list(pool.map(one, urls))
    facts = tuple(fact for fact, _ in results)
    estimates = [estimate for _, estimate in results if estimate is not None]
    agreed = ntp.consensus(
        estimates, tolerance_s=policy.CLOCK_HTTP_DATE_AGREEMENT_S, queried=len(urls)
    )
    if agreed is None:
        return facts, None
    facts = tuple(replace(f, outlier=f.host not in agreed.agreed) if f.ok else f for f in facts)
    return facts, Measurement(
        "http_date", agreed.offset_s, agreed.uncertainty_s, agreed.agreed, agreed.queried
    )
