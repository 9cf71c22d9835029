"""Connects to every address of the target and tells refused, filtered and unreachable apart."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from checks.core.check import Check, Context
from checks.core.facts.dns import DnsFacts
from checks.core.facts.tcp import Attempt, TcpFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import net

# Gentle on the server: at most this many simultaneous connection attempts per target.
MAX_PARALLEL_CONNECTS = 4
_FAILURE_ORDER = ("timeout", "refused", "unreachable", "error")
_PARTIAL_VARIANTS = ("timeout", "refused", "unreachable")


def _attempt(address: str, port: int, ctx: Context) -> Attempt:
    started = time.monotonic()
    result, detail = "connected", None
    try:
        sock = net.connect(address, port, timeout=ctx.timeout(), cancel=ctx.cancel)
    except net.ConnectError as exc:
        result, detail = exc.kind, str(exc)
    else:
        sock.close()
    return Attempt(
        address=address,
        family=net.family_name(address),
        result=result,
        detail=detail,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    port = ctx.target.port
    dns = ctx.facts(DnsFacts)
    addresses = dns.addresses if dns is not None else ()
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_CONNECTS) as pool:
        attempts = tuple(pool.map(lambda a: _attempt(a, port, ctx), addresses))
    ctx.raise_if_cancelled()
    connected = [a.address for a in attempts if a.result == "connected"]
    failed = [a for a in attempts if a.result != "connected"]
    facts = TcpFacts(port=port, attempts=attempts, connected=tuple(connected))
    host = ctx.target.host
    if not failed:
        params = {"host": host, "port": port, "addresses": connected}
        return Outcome((Finding("tcp.connected", Status.PASS, params),), facts)
    kinds = Counter(a.result for a in failed)
    kind = max(_FAILURE_ORDER, key=lambda k: (kinds[k], -_FAILURE_ORDER.index(k)))
    failed_addresses = [a.address for a in failed]
    if connected:
        families = sorted({a.family for a in failed})
        working = sorted({net.family_name(a) for a in connected})
        params = {
            "host": host,
            "port": port,
            "failed": failed_addresses,
            "family": "/".join(families),
            "working_family": "/".join(working),
        }
        if kind in _PARTIAL_VARIANTS:
            params["variant"] = kind
        return Outcome((Finding("tcp.partial", Status.WARN, params),), facts)
    params = {
        "host": host,
        "port": port,
        "addresses": failed_addresses,
        "timeout_s": ctx.settings.connect_timeout,
    }
    finding_id = {"timeout": "tcp.timeout", "refused": "tcp.refused"}.get(kind, "tcp.unreachable")
    return Outcome((Finding(finding_id, Status.FAIL, params),), facts)


CHECK = Check(
    id="tcp",
    scope="target",
    run=run,
    requires=("dns",),
    findings={
        "tcp.connected": (),
        "tcp.partial": _PARTIAL_VARIANTS,
        "tcp.refused": (),
        "tcp.timeout": (),
        "tcp.unreachable": (),
    },
)
