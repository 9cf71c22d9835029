"""Fetches and runs proxy auto-config (PAC) scripts with pacparser, bounded in size and time."""

from __future__ import annotations

import importlib.util
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from checks.core.check import Cancelled
from checks.core.facts.proxy import ProxyFacts
from checks.lib import net

# Real PAC files are a few kilobytes; a megabyte is already absurd.
MAX_PAC_BYTES = 1024 * 1024
# Starting the child that runs the script takes a moment of its own, beyond the timeout.
_START_S = 2.0
_POLL_S = 0.05

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


class PacError(Exception):
    """A PAC script could not be had or run; `kind` is `fetch`, `script`, `timeout` or
    `unavailable` (no evaluator on this platform)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def fetch(url: str, *, timeout: float, cancel: threading.Event) -> str:
    """The text of the PAC script at `url` (http, https or file), fetched directly: browsers
    never fetch the script through a proxy."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.request.url2pathname(parts.path))
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PAC_BYTES + 1)
        except OSError as exc:
            raise PacError("fetch", f"{url}: {exc.strerror or exc}") from exc
    elif parts.scheme in ("http", "https"):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def get() -> bytes:
            with opener.open(url, timeout=timeout) as response:
                return bytes(response.read(MAX_PAC_BYTES + 1))

        try:
            data = net.in_thread(get, timeout=timeout + 0.5, cancel=cancel, name="pac-fetch")
        except Cancelled:
            raise
        except (OSError, ValueError) as exc:
            raise PacError("fetch", f"{url}: {exc}") from exc
    else:
        raise PacError("fetch", f"{url}: not an http, https or file address")
    if len(data) > MAX_PAC_BYTES:
        raise PacError("fetch", f"{url}: larger than {MAX_PAC_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def _evaluate_here(script: str, urls: Sequence[str], results: Connection) -> None:
    """In a child process: every URL's answer, or ("error", text); sent through `results`."""
    import pacparser

    try:
        pacparser.init()
        pacparser.parse_pac_string(script)
        answers = {url: str(pacparser.find_proxy(url, urlsplit_host(url))) for url in urls}
    except Exception as exc:  # pacparser raises plain exceptions for any JavaScript error
        results.send(("error", f"{type(exc).__name__}: {exc}"))
    else:
        results.send(("ok", answers))
    finally:
        results.close()


def urlsplit_host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or ""


def evaluate(
    script: str, urls: Sequence[str], *, timeout: float, cancel: threading.Event
) -> dict[str, str]:
    """What `FindProxyForURL(url, host)` returns for each URL, such as `PROXY p:3128; DIRECT`.

    The script runs in a child process: pacparser holds the interpreter lock while JavaScript
    runs, so a script that loops for ever would freeze every thread of this process, cancel
    included; a child is simply killed at the timeout.
    """
    if importlib.util.find_spec("pacparser") is None:
        raise PacError("unavailable", "no PAC evaluator (pacparser) for this platform")
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_evaluate_here, args=(script, list(urls), send), name="pac", daemon=True
    )
    child.start()
    send.close()
    end = time.monotonic() + timeout + _START_S
    try:
        while not receive.poll(_POLL_S):
            if cancel.is_set():
                raise Cancelled
            if time.monotonic() > end:
                raise PacError("timeout", f"the PAC script did not answer within {timeout:g} s")
            if not child.is_alive() and not receive.poll():
                raise PacError("script", f"the PAC evaluation ended (exit code {child.exitcode})")
        kind, payload = receive.recv()
    except EOFError as exc:
        raise PacError("script", "the PAC evaluation ended without an answer") from exc
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(1)
    if kind != "ok":
        raise PacError("script", str(payload))
    return dict(payload)


def routes_from(facts: ProxyFacts | None) -> dict[str, str | None] | None:
    """Each well-known site's proxy (None: direct) as the proxy check's PAC evaluation chose
    it; None when that check did not run or no PAC script decided."""
    if facts is None:
        return None
    chosen = {r.site: None if r.via == "direct" else r.via for r in facts.routes if r.by == "pac"}
    return chosen or None


def first_proxy(result: str) -> str | None:
    """The proxy URL a program takes from a PAC answer (its first entry); None for DIRECT."""
    for entry in result.split(";"):
        words = entry.split()
        if not words:
            continue
        kind = words[0].upper()
        if kind == "DIRECT":
            return None
        if len(words) > 1:
            scheme = {"PROXY": "http", "HTTP": "http", "HTTPS": "https"}.get(kind, "socks5")
            return f"{scheme}://{words[1]}"
    return None
