"""Looks up the target's IPv4 and IPv6 addresses and tells the kinds of lookup failure apart."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from checks.core.check import Cancelled, Check, Context
from checks.core.facts.dns import DirectAnswer, DnsFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import dnsinfo, net

# A lookup that needs longer than this is a broken resolver, whatever the connect timeout says;
# an offline machine must get its answer at once, not after the resolver's own retries.
LOOKUP_TIMEOUT_S = 3.0
# Asking the DNS server itself, after the system's lookup failed, may take this much longer.
DIRECT_TIMEOUT_S = 1.5

_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}
_NO_NAME = {socket.EAI_NONAME}
_NO_DATA = {getattr(socket, "EAI_NODATA", -5), getattr(socket, "EAI_ADDRFAMILY", -9)}


def _lookup(host: str, family: int, *, timeout: float, cancel: threading.Event) -> list[str]:
    def call() -> list[str]:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    return net.in_thread(call, timeout=timeout, cancel=cancel, name=f"dns-{host}")


def _reason(error: BaseException) -> str:
    if isinstance(error, net.LookupTimeout):
        return "timeout"
    if isinstance(error, socket.gaierror):
        if error.errno in _NO_NAME:
            return "no_such_name"
        if error.errno in _NO_DATA:
            return "no_answer"
        return "resolver_unreachable"
    return "resolver_unreachable"


def _ask_directly(host: str, ctx: Context) -> dict[str, dnsinfo.DnsAnswer]:
    """What the system's DNS servers answer themselves to the A and AAAA queries; nothing for
    a single-label name, which the system looked up under its search domains, not as asked."""
    if "." not in host:
        return {}
    timeout = min(DIRECT_TIMEOUT_S, ctx.timeout())
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            rtype: pool.submit(dnsinfo.ask, host, rtype, timeout=timeout, cancel=ctx.cancel)
            for rtype in _FAMILIES
        }
        return {rtype: future.result() for rtype, future in futures.items()}


def _direct_fact(answer: dnsinfo.DnsAnswer) -> DirectAnswer:
    return DirectAnswer(
        address=answer.server,
        rcode=answer.rcode,
        ede_code=answer.ede_code,
        ede_text=answer.ede_text,
        error=answer.error,
        elapsed_ms=round(answer.elapsed_ms, 1),
    )


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    pinned = ctx.settings.pinned_address(target.host, target.port)
    if target.is_ip or pinned:
        address = pinned or target.host
        finding_id = "dns.pinned" if pinned else "dns.not_needed"
        return Outcome(
            (Finding(finding_id, Status.PASS, {"host": target.host, "address": address}),),
            DnsFacts(host=target.host, addresses=(address,), pinned=bool(pinned)),
        )

    timeout = min(LOOKUP_TIMEOUT_S, ctx.timeout())
    started = time.monotonic()
    answers: dict[str, list[str]] = {}
    errors: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            rtype: pool.submit(_lookup, target.host, family, timeout=timeout, cancel=ctx.cancel)
            for rtype, family in _FAMILIES.items()
        }
        for rtype, future in futures.items():
            try:
                answers[rtype] = future.result()
            except Cancelled:
                raise
            except (OSError, UnicodeError) as exc:
                errors[rtype] = exc
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    addresses = tuple(a for rtype in _FAMILIES for a in answers.get(rtype, []))
    facts = DnsFacts(
        host=target.host,
        addresses=addresses,
        ipv4=tuple(answers.get("A", [])),
        ipv6=tuple(answers.get("AAAA", [])),
        elapsed_ms=elapsed_ms,
        errors={rtype: f"{type(e).__name__}: {e}" for rtype, e in errors.items()},
    )
    if addresses:
        params = {"host": target.host, "addresses": list(addresses), "elapsed_ms": elapsed_ms}
        return Outcome((Finding("dns.resolved", Status.PASS, params),), facts)
    # Both families failed: the most specific reason wins ("no such name" over "no answer" ...).
    reasons = {_reason(e) for e in errors.values()} or {"no_answer"}
    reason = next(
        r for r in ("no_such_name", "no_answer", "timeout", "resolver_unreachable") if r in reasons
    )
    failed: dict[str, object] = {"host": target.host, "variant": reason, "elapsed_ms": elapsed_ms}
    # getaddrinfo has no code for a server's SERVFAIL (a DNSSEC validation failure, broken name
    # servers of the domain): glibc calls it a temporary failure, as it calls an unreachable
    # server. Only the DNS server's own answer tells them apart.
    direct = _ask_directly(target.host, ctx)
    if direct:
        asked = {rtype: _direct_fact(answer) for rtype, answer in direct.items()}
        facts = dataclasses.replace(facts, asked_directly=asked)
    servfail = next((a for a in direct.values() if a.rcode == "SERVFAIL"), None)
    if servfail is not None:
        failed["variant"] = "servfail"
        if servfail.ede_code is not None:
            failed["ede_code"] = servfail.ede_code
            failed["ede_text"] = servfail.ede_text
    return Outcome((Finding("dns.failed", Status.FAIL, failed),), facts)


CHECK = Check(
    id="dns",
    scope="target",
    run=run,
    findings={
        "dns.resolved": (),
        "dns.pinned": (),
        "dns.not_needed": (),
        "dns.failed": (
            "no_such_name",
            "no_answer",
            "timeout",
            "resolver_unreachable",
            "servfail",
        ),
    },
)
