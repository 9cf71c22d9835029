"""Fetches well-known sites' certificate chains the way programs here do, and spots interception."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.config import Canary, Settings
from checks.core.facts.certificate import Anchor
from checks.core.facts.interception import (
    InterceptionFacts,
    InterceptionNotChecked,
    ProbeRecord,
    Verdict,
)
from checks.core.facts.proxy import ProxyFacts
from checks.core.models import CheckResult, Finding, Outcome, Status
from checks.core.redact import redact
from checks.lib import certinfo, handshake, net, pac, products, proxies, roots, trust


@dataclass(frozen=True)
class Fetched:
    """One attempt to fetch a canary's chain.

    Attributes:
        via: `direct`, or the proxy (without credentials) the connection was tunnelled through.
        chain_pem: what the site (or whatever answered for it) sent.
        tunnel: the proxy failure kind when the tunnel could not be opened.
    """

    canary: Canary
    via: str
    address: str | None
    chain_pem: tuple[str, ...]
    detail: str
    elapsed_ms: float
    tunnel: proxies.TunnelFailure | None = None
    tunnel_status: int | None = None
    tunnel_schemes: tuple[str, ...] = ()


def _resolve(canary: Canary, settings: Settings, *, timeout: float, cancel: threading.Event) -> str:
    pinned = settings.pinned_address(canary.host, canary.port)
    if pinned:
        return pinned
    if canary.is_ip:
        return canary.host

    def lookup() -> str:
        infos = socket.getaddrinfo(canary.host, canary.port, type=socket.SOCK_STREAM)
        return str(infos[0][4][0])

    return net.in_thread(lookup, timeout=timeout, cancel=cancel, name=f"canary-{canary.host}")


def fetch(
    canary: Canary,
    settings: Settings,
    *,
    timeout: float,
    cancel: threading.Event,
    pac_routes: Mapping[str, str | None] | None = None,
) -> Fetched:
    """The chain `canary` presents, through the proxy a program here would use for it: the
    PAC script's choice when the proxy check evaluated one, else the one Python would use."""
    started = time.monotonic()
    sni = None if canary.is_ip else canary.host

    def done(**values: object) -> Fetched:
        elapsed = round((time.monotonic() - started) * 1000, 1)
        return Fetched(canary=canary, elapsed_ms=elapsed, **values)  # type: ignore[arg-type]

    if pac_routes is not None and canary.name in pac_routes:
        chosen = pac_routes[canary.name]
    else:
        chosen = proxies.proxy_for(canary.host)
    if chosen is not None:
        try:
            address = proxies.parse_proxy(chosen)
        except ValueError as exc:
            return done(
                via=redact(chosen),
                address=None,
                chain_pem=(),
                detail=str(exc),
                tunnel="unsupported",
            )
        try:
            sock = proxies.open_tunnel(
                address, canary.host, canary.port, timeout=timeout, cancel=cancel
            )
        except proxies.TunnelError as exc:
            return done(
                via=address.shown,
                address=None,
                chain_pem=(),
                detail=redact(str(exc)),
                tunnel=exc.kind,
                tunnel_status=exc.status,
                tunnel_schemes=exc.schemes,
            )
        with sock:
            hs = handshake.handshake_over(sock, sni=sni, timeout=timeout, cancel=cancel)
        return done(
            via=address.shown,
            address=None,
            chain_pem=hs.chain_pem,
            detail=redact(hs.detail or hs.outcome),
        )
    try:
        ip = _resolve(
            canary, settings, timeout=min(policy.CANARY_LOOKUP_TIMEOUT_S, timeout), cancel=cancel
        )
    except (OSError, UnicodeError, IndexError) as exc:
        return done(via="direct", address=None, chain_pem=(), detail=f"lookup: {exc}")
    hs = handshake.handshake(ip, canary.port, sni=sni, timeout=timeout, cancel=cancel)
    return done(via="direct", address=ip, chain_pem=hs.chain_pem, detail=hs.detail or hs.outcome)


@dataclass(frozen=True)
class Judged:
    """What a fetched chain says about the path to the site.

    Attributes:
        verdict: `public` (anchored in the public set), `intercepted`, `incomplete` (the site
            left out an intermediate; no conclusion) or `failed` (no chain).
        issuer: who vouches for the chain at its top.
        anchor: the root the chain ends in (the local or public one), if any.
        product: the catalogue product named by the chain.
        trusted: whether this computer trusts the chain's root (intercepted chains only).
    """

    verdict: Verdict
    issuer: str | None = None
    anchor: x509.Certificate | None = None
    product: products.Product | None = None
    trusted: bool | None = None


def judge(
    chain_pem: Sequence[str],
    *,
    public: trust.TrustStore,
    trusted: trust.TrustStore | None,
    catalogue_: products.Catalogue,
) -> Judged:
    """Anchored in the public set: fine. Otherwise, a chain that this computer trusts, that a
    catalogue product made, or that ends in an unknown root, is interception."""
    entries = certinfo.load_chain(chain_pem)
    sent = {i: c for i, c in enumerate(entries) if isinstance(c, x509.Certificate)}
    if 0 not in sent:
        return Judged("failed")
    public_path = trust.build_path(sent, public)
    if public_path.trusted:
        anchor = public_path.anchor
        return Judged("public", issuer=_name_of(anchor), anchor=anchor)
    local_path = trust.build_path(sent, trusted) if trusted is not None else None
    on_path = [sent[i] for i in public_path.indices]
    if local_path is not None and local_path.trusted and local_path.anchor is not None:
        anchor = local_path.anchor
        found = catalogue_.match_certificate(anchor) or catalogue_.match_chain(on_path)
        return Judged("intercepted", _name_of(anchor), anchor, found, True)
    top = on_path[-1]
    found = catalogue_.match_chain(on_path)
    if (
        found is None
        and public_path.end == "missing_issuer"
        and certinfo.aia_ca_issuers(top) is not None
    ):
        # A real site that left out its intermediate (and says where to fetch it).
        return Judged("incomplete", certinfo.display_name(top.issuer))
    self_signed = public_path.end == "self_signed"
    issuer = certinfo.display_name(top.subject if self_signed else top.issuer)
    return Judged("intercepted", issuer, top if self_signed else None, found, False)


def _name_of(cert: x509.Certificate | None) -> str | None:
    return certinfo.display_name(cert.subject) if cert is not None else None


def product_of_chain(chain_pem: Sequence[str]) -> products.Product | None:
    """The catalogue product that made a chain, if any (for the target's own chain, too)."""
    certs = [c for c in certinfo.load_chain(chain_pem) if isinstance(c, x509.Certificate)]
    return products.load().match_chain(certs)


def _trusted_store(
    settings: Settings, *, timeout: float, cancel: threading.Event
) -> trust.TrustStore | None:
    if settings.cacert is not None:
        return trust.TrustStore.from_file(settings.cacert, name="cacert")
    found = roots.enumerate_os(timeout=timeout, cancel=cancel)
    return None if found.error else found.store()


def _broken_proxy(result: CheckResult | None) -> str | None:
    """The proxy check's finding when the proxy opened no tunnel, if it ran and found so (its
    only failures are tunnels that would not open)."""
    if result is None:
        return None
    return next((f.id for f in result.findings if f.status is Status.FAIL), None)


def _probe_fact(item: Fetched, judged: Judged) -> ProbeRecord:
    anchor = judged.anchor
    return ProbeRecord(
        canary=item.canary.name,
        via=item.via,
        address=item.address,
        verdict=judged.verdict,
        issuer=judged.issuer,
        anchor=None
        if anchor is None
        else Anchor(
            subject=certinfo.display_name(anchor.subject), sha256=certinfo.fingerprint(anchor)
        ),
        product=judged.product.name if judged.product else None,
        trusted_here=judged.trusted,
        chain=tuple(
            certinfo.display_name(c.subject)
            for c in certinfo.load_chain(item.chain_pem)
            if isinstance(c, x509.Certificate)
        ),
        detail=item.detail,
        elapsed_ms=item.elapsed_ms,
    )


def analyse(
    fetched: Sequence[Fetched],
    *,
    public: trust.TrustStore,
    trusted: trust.TrustStore | None,
    catalogue_: products.Catalogue,
) -> tuple[list[Finding], tuple[ProbeRecord, ...]]:
    """Findings and per-canary facts from every fetched chain."""
    judged = [
        (item, judge(item.chain_pem, public=public, trusted=trusted, catalogue_=catalogue_))
        for item in fetched
    ]
    facts = tuple(_probe_fact(item, j) for item, j in judged)
    intercepted = [(item, j) for item, j in judged if j.verdict == "intercepted"]
    clean = [item.canary.name for item, j in judged if j.verdict == "public"]
    findings: list[Finding] = []
    if intercepted:
        named = next((j for _, j in intercepted if j.product is not None), intercepted[0][1])
        product = named.product
        trusted_here = any(j.trusted for _, j in intercepted)
        params: dict[str, object] = {
            "product": product.name if product else None,
            "product_id": product.id if product else None,
            "issuer": named.issuer,
            "interceptor": product.name if product else named.issuer,
            "canaries": [item.canary.name for item, _ in intercepted],
            "clean": clean,
            "count": len(intercepted),
            "trusted": trusted_here,
        }
        if not trusted_here:
            params["variant"] = "untrusted"
        elif product is not None:
            params["variant"] = "product"
        evidence = tuple(
            f"{item.canary.name}: issued by {j.issuer}"
            + (f" (root SHA-256 {certinfo.fingerprint(j.anchor)})" if j.anchor else "")
            for item, j in intercepted
        )
        findings.append(Finding("interception.detected", Status.FAIL, params, evidence))
    elif clean:
        params = {"canaries": clean, "count": len(clean)}
        findings.append(Finding("interception.none", Status.PASS, params))
    else:
        details = [f"{item.canary.name}: {item.detail}" for item, _ in judged]
        params = {
            "variant": "unreachable",
            "canaries": [item.canary.name for item in fetched],
            "detail": "; ".join(details) or "—",
        }
        findings.append(Finding("interception.not_checked", Status.WARN, params, tuple(details)))
    return findings, facts


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    canaries, bad = settings.canary_sites()
    broken_proxy = _broken_proxy(ctx.results.get("proxy"))
    if broken_proxy is not None and not settings.offline:
        # The proxy card already says the proxy does not open connections: through it no site
        # can be fetched, and saying so here again would be the same fault twice.
        blocked = InterceptionNotChecked(invalid_canaries=tuple(bad))
        return Outcome((), blocked, blocked_by=broken_proxy)
    if settings.offline or not canaries:
        params = {
            "variant": "offline" if settings.offline else "unreachable",
            "canaries": [c.name for c in canaries] or list(settings.canaries),
            "detail": "--offline" if settings.offline else "no usable canary",
        }
        finding = Finding("interception.not_checked", Status.WARN, params)
        skipped = InterceptionNotChecked(offline=settings.offline, invalid_canaries=tuple(bad))
        return Outcome((finding,), skipped)
    public_path = settings.known_roots or Path(certifi.where())
    public = trust.TrustStore.from_file(public_path, name="public")
    trusted = _trusted_store(settings, timeout=ctx.timeout(), cancel=ctx.cancel)
    ctx.raise_if_cancelled()
    timeout = ctx.timeout()
    pac_routes = pac.routes_from(ctx.facts(ProxyFacts))
    with ThreadPoolExecutor(max_workers=policy.MAX_PARALLEL_CANARIES) as pool:
        fetched = list(
            pool.map(
                lambda c: fetch(
                    c, settings, timeout=timeout, cancel=ctx.cancel, pac_routes=pac_routes
                ),
                canaries[: policy.MAX_CANARIES],
            )
        )
    ctx.raise_if_cancelled()
    findings, probes = analyse(
        fetched,
        public=public,
        trusted=trusted,
        catalogue_=products.load(),
    )
    facts = InterceptionFacts(
        public_roots=public.record(),
        trusted_roots=trusted.record() if trusted is not None else None,
        probes=probes,
        invalid_canaries=tuple(bad),
    )
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="interception",
    scope="local",
    run=run,
    findings={
        "interception.none": (),
        "interception.detected": ("product", "untrusted"),
        "interception.not_checked": ("offline", "unreachable"),
    },
    after=("proxy",),
)
