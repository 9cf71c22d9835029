"""Judges the certificate chain the server sent: dates, names, path to a trusted root, strength."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.facts.certificate import (
    CertificateFacts,
    Decider,
    Judgement,
    Judgements,
    NetworkTimeDates,
    Position,
    ServerCertificateFacts,
    Stores,
)
from checks.core.facts.clock import ClockFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import aia, products, starttls
from checks.lib.cert_grades import (
    DAY,
    check_hostname,
    check_key,
    grade,
    known_bad_findings,
    listed,
    refused_at_level,
)
from checks.lib.certinfo import (
    ChainEntry,
    Unparsable,
    aia_ca_issuers,
    describe,
    display_name,
    fingerprint,
    identity,
    is_ca,
    is_self_signed,
    iso,
    load_chain,
    position_of,
)
from checks.lib.chain_rules import (
    TRUST_ADVICE,
    issued_by_known_bad,
    rule_findings,
    with_fetched_issuer,
)
from checks.lib.osverify import ask_os
from checks.lib.trust import (
    ChainPath,
    KnownBadList,
    TrustStore,
    build_path,
    issuing_order,
    judge,
    knows_issuer_of,
    shipped_known_bad,
    top_root,
)

_NOT_ASKED = Judgement(trusted=None, detail="the operating system was not asked")
# Findings that by themselves make every verifier reject a chain, whatever its root.
_REJECTED_ANYWAY = frozenset(
    {"cert.expired", "cert.not_yet_valid", "cert.weak_signature", "cert.weak_key"}
)


def path_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    *,
    store: TrustStore,
    reference: TrustStore | None = None,
) -> list[Finding]:
    """What the path's end means when `store` decides trust.

    A missing issuer that `reference` (another store) knows as a root is a root missing from
    `store`; any other missing issuer is an intermediate the server should have sent. Each
    finding names the last certificate of the path, the one whose issuer is not trusted.
    """
    if path.trusted:
        return []
    top_index = path.indices[-1]
    top = sent[top_index]
    variant = {"variant": "cacert"} if store.name == "cacert" else {}
    if path.end == "self_signed" and top_index == 0:
        own = {"index": 0, "subject": display_name(top.subject), "fingerprint": fingerprint(top)}
        return [Finding("cert.self_signed", Status.FAIL, {**own, **variant})]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        known = reference is not None and knows_issuer_of(path, sent, reference)
        if not known and not is_ca(top):
            # Nobody sent the leaf's issuer and no store holds it. Only a self-signed
            # certificate proves a root; the usual cause is a server that forgot its
            # intermediate, a private CA this computer lacks the runner-up.
            return [_incomplete(top, top_index, path.missing_issuer, Status.FAIL)]
        if not known:
            # The server sent its CA certificates and only their root is missing, which no
            # public root program knows: a private CA, not a server that forgot a certificate.
            root = display_name(path.missing_issuer)
            private = {"index": top_index, "root": root, "fingerprint": None, **variant}
            return [Finding("cert.untrusted_root", Status.FAIL, private)]
    if path.end == "too_long":
        limits = {"depth": len(path.indices), "limit": policy.MAX_CHAIN_DEPTH}
        return [Finding("cert.chain_too_long", Status.FAIL, limits)]
    root, digest = top_root(path, sent, reference)
    params: dict[str, object] = {"index": top_index, "root": root, "fingerprint": digest}
    return [Finding("cert.untrusted_root", Status.FAIL, {**params, **variant})]


def _incomplete(cert: x509.Certificate, index: int, missing: x509.Name, status: Status) -> Finding:
    params: dict[str, object] = {
        "index": index,
        "subject": display_name(cert.subject),
        "position": "leaf" if index == 0 else "intermediate",
        "missing_issuer": display_name(missing),
        "missing_issuer_dn": missing.rfc4514_string(),
        "aia_url": aia_ca_issuers(cert),
    }
    if status is Status.WARN:
        params["variant"] = "os_fetched"
    elif params["aia_url"] is None:
        # Without a download address the issuer cannot be looked up: the likely story.
        params.update(variant="unknown_issuer", likely=True)
    return Finding("cert.incomplete_chain", status, params)


def _order_findings(
    path: ChainPath, sent: Mapping[int, x509.Certificate], positions: Mapping[int, Position]
) -> list[Finding]:
    findings: list[Finding] = []
    params: dict[str, object]
    issuing = issuing_order(path, sent)
    if issuing != sorted(issuing):
        params = {
            "variant": "order",
            "sent": listed([display_name(sent[i].subject) for i in sorted(sent)]),
            "expected": listed([display_name(sent[i].subject) for i in issuing]),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    unneeded = [i for i in sorted(sent) if i not in path.indices]
    if unneeded:
        params = {
            "variant": "unneeded",
            "unneeded": listed([display_name(sent[i].subject) for i in unneeded]),
            "indices": unneeded,
            "root_sent": any(positions[i] == "root" for i in unneeded),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    return findings


@dataclass(frozen=True)
class Analysis:
    """Everything `analyse` concluded: the findings and the facts behind them."""

    findings: tuple[Finding, ...]
    facts: CertificateFacts


def analyse(
    chain: Sequence[ChainEntry],
    *,
    host: str,
    is_ip: bool,
    now: datetime | None = None,
    mozilla: TrustStore,
    cacert: TrustStore | None = None,
    os_judgement: Judgement | None = None,
    known_bad: KnownBadList | None = None,
    soon_days: int = policy.EXPIRES_SOON_DAYS,
) -> Analysis:
    """Grade the chain as sent and report every problem found, not only the first.

    Trust is decided by `cacert` when given (its roots are the only anchors, as curl's
    `--cacert`); otherwise by the operating system (`os_judgement`), with Mozilla's roots as
    the comparison whose disagreements are findings themselves; when the operating system
    could not be asked, by Mozilla's roots. `now` is a parameter so that the analysis can be
    repeated at the network's time when this computer's clock is wrong.
    """
    now = now or datetime.now(UTC)
    known_bad = known_bad or KnownBadList(0, {})
    os_judgement = os_judgement or _NOT_ASKED
    findings: list[Finding] = []
    sent: dict[int, x509.Certificate] = {}
    for index, entry in enumerate(chain):
        if isinstance(entry, Unparsable):
            position = "leaf" if index == 0 else "intermediate"
            params = {"index": index, "position": position, "error": entry.error}
            findings.append(Finding("cert.unparsable", Status.FAIL, params))
        else:
            sent[index] = entry
    positions = {index: position_of(index, cert) for index, cert in sent.items()}
    facts = CertificateFacts(
        host=host,
        now=iso(now),
        certificates=tuple(describe(c, index=i, position=positions[i]) for i, c in sent.items()),
        unparsable=tuple(i for i, e in enumerate(chain) if isinstance(e, Unparsable)),
        judgements=Judgements(os=os_judgement, mozilla=None, cacert=None),
    )
    if not chain:
        params = {"index": 0, "position": "leaf", "error": "no certificate", "variant": "missing"}
        return Analysis((Finding("cert.unparsable", Status.FAIL, params),), facts)
    misplaced = _misplaced_leaf(sent)
    if misplaced is not None:
        return _leaf_not_first(
            chain,
            misplaced,
            host=host,
            is_ip=is_ip,
            now=now,
            mozilla=mozilla,
            cacert=cacert,
            os_judgement=os_judgement,
            known_bad=known_bad,
        )
    if 0 not in sent:
        # Without the server's own certificate neither names nor a path can be judged; the
        # others are still graded one by one.
        for index, cert in sent.items():
            findings += grade(cert, index, positions[index], now, dated=True, soon_days=soon_days)
        findings += known_bad_findings([(c, i, positions[i]) for i, c in sent.items()], known_bad)
        return Analysis(tuple(findings), facts)

    decisive_store = cacert if cacert is not None else mozilla
    path = build_path(sent, decisive_store)
    mozilla_path = path if cacert is None else build_path(sent, mozilla)
    decided_by: Decider = (
        "cacert" if cacert is not None else "mozilla" if os_judgement.trusted is None else "os"
    )
    facts = dataclasses.replace(
        facts,
        judgements=Judgements(
            os=os_judgement,
            mozilla=judge(mozilla_path, sent, mozilla),
            cacert=judge(path, sent, cacert) if cacert is not None else None,
        ),
        path=path.record(decisive_store),
        decided_by=decided_by,
    )

    for index in path.indices:
        # A root's expiry does not matter: the copy in the trust store is the anchor.
        dated = index == 0 or positions[index] != "root"
        findings += grade(
            sent[index], index, positions[index], now, dated=dated, soon_days=soon_days
        )
    examined: list[tuple[x509.Certificate, int | None, Position]] = [
        (sent[i], i, positions[i]) for i in path.indices
    ]
    anchor = path.anchor
    if anchor is not None and identity(anchor) != identity(sent[path.indices[-1]]):
        weak_anchor = check_key(anchor, index=None, position="root")
        if weak_anchor is not None:
            findings.append(weak_anchor)
        examined.append((anchor, None, "root"))
    examined += [(sent[i], i, positions[i]) for i in sorted(set(sent) - set(path.indices))]
    findings += known_bad_findings(examined, known_bad)
    top = sent[path.indices[-1]]
    if not any(f.id == "cert.known_bad_root" for f in findings) and not is_self_signed(top):
        issued_by_bad = known_bad.issuer_match(top)
        if issued_by_bad is not None:
            findings.append(issued_by_known_bad(top, path.indices[-1], issued_by_bad))

    mismatch = check_hostname(sent[0], host, is_ip=is_ip)
    if mismatch is not None:
        findings.append(mismatch)

    if cacert is not None:
        findings += path_findings(path, sent, store=cacert, reference=mozilla)
    elif decided_by == "mozilla":
        findings += path_findings(path, sent, store=mozilla)
    else:
        findings += _os_findings(path, sent, mozilla, os_judgement, findings)
    findings += _order_findings(path, sent, positions)
    if path.trusted and anchor is not None:
        broken = rule_findings(path, sent, anchor, host=host, is_ip=is_ip, now=now)
        if broken:
            findings += broken
            judgements = facts.judgements
            verdict = Judgement(trusted=False, detail=broken[0].params["reason"])  # type: ignore[arg-type]
            judgements = dataclasses.replace(
                judgements,
                cacert=verdict if cacert is not None else judgements.cacert,
                mozilla=verdict if cacert is None else judgements.mozilla,
            )
            facts = dataclasses.replace(facts, judgements=judgements)

    if any(f.id == "cert.known_bad_root" for f in findings):
        # "Add the root" is the one advice never to give about a compromised root.
        findings = [f for f in findings if f.id not in TRUST_ADVICE]

    if not findings:
        leaf = sent[0]
        params = {
            "subject": display_name(leaf.subject),
            "issuer": display_name(leaf.issuer),
            "not_after": iso(leaf.not_valid_after_utc),
            "days_left": (leaf.not_valid_after_utc - now) // DAY,
        }
        findings.append(Finding("cert.valid", Status.PASS, params))
    return Analysis(tuple(findings), facts)


def _misplaced_leaf(sent: Mapping[int, x509.Certificate]) -> int | None:
    """Where the server's own certificate is when a CA certificate came first instead."""
    if 0 not in sent or not is_ca(sent[0]):
        return None
    return next((i for i in sorted(sent) if i > 0 and not is_ca(sent[i])), None)


def _leaf_not_first(chain: Sequence[ChainEntry], leaf: int, **options: object) -> Analysis:
    """Every client takes the first certificate for the server's own, so a chain sent with a CA
    first (reversed, or shuffled) fails everywhere: the fault is named with the right order,
    and the chain is judged as it should have been sent, so that nothing else hides."""
    reordered = [chain[leaf], *(entry for i, entry in enumerate(chain) if i != leaf)]
    inner = analyse(reordered, **options)  # type: ignore[arg-type]
    certs = {i: c for i, c in enumerate(reordered) if isinstance(c, x509.Certificate)}
    order = issuing_order(build_path(certs, TrustStore((), name="none")), certs)
    order += [i for i in sorted(certs) if i not in order]
    sent_names = [display_name(c.subject) for c in chain if isinstance(c, x509.Certificate)]
    params: dict[str, object] = {
        "variant": "leaf_not_first",
        "subject": display_name(certs[0].subject),
        "sent": listed(sent_names),
        "expected": listed([display_name(certs[i].subject) for i in order]),
    }
    kept = [f for f in inner.findings if f.id not in {"cert.chain_order", "cert.valid"}]
    return Analysis((Finding("cert.chain_order", Status.FAIL, params), *kept), inner.facts)


def _os_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    mozilla: TrustStore,
    os_judgement: Judgement,
    so_far: Sequence[Finding],
) -> list[Finding]:
    """Findings when the operating system decides trust and Mozilla's roots are the comparison."""
    top_index = path.indices[-1]
    if os_judgement.trusted:
        if path.trusted:
            return []
        top = sent[top_index]
        if path.end == "missing_issuer" and path.missing_issuer and aia_ca_issuers(top):
            # Windows and macOS download a missing intermediate from the AIA address; other
            # programs do not, so the server still has a problem, if a smaller one here.
            return [_incomplete(top, top_index, path.missing_issuer, Status.WARN)]
        root, digest = top_root(path, sent, None)
        params = {"index": top_index, "root": root, "fingerprint": digest}
        return [Finding("cert.trusted_locally_only", Status.WARN, params)]
    if not path.trusted:
        return path_findings(path, sent, store=mozilla)
    if any(f.status is Status.FAIL and f.id in _REJECTED_ANYWAY for f in so_far):
        return []  # the operating system's refusal is already explained
    anchor = path.anchor
    assert anchor is not None
    params = {
        "index": top_index,
        "root": display_name(anchor.subject),
        "fingerprint": fingerprint(anchor),
        "detail": os_judgement.detail,
    }
    return [Finding("cert.os_store_missing_root", Status.FAIL, params)]


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    tls = ctx.facts(TlsFacts)
    if tls is None or not tls.chain_pem:
        return Outcome((), blocked_by=ctx.stopped_by("tls"))
    settings = ctx.settings
    mozilla = TrustStore.from_file(settings.known_roots or Path(certifi.where()), name="mozilla")
    cacert = TrustStore.from_file(settings.cacert, name="cacert") if settings.cacert else None
    known_bad, known_bad_list = shipped_known_bad()
    ctx.raise_if_cancelled()
    os_judgement = ask_os(
        tls.address,
        tls.port,
        server_hostname=tls.sni or target.host,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
        opening=starttls.opening(target),
    )

    def analyse_at(now: datetime | None) -> Analysis:
        return analyse(
            load_chain(tls.chain_pem),
            host=target.sni or target.host,
            is_ip=target.sni is None and target.is_ip,
            now=now,
            mozilla=mozilla,
            cacert=cacert,
            os_judgement=os_judgement,
            known_bad=known_bad,
            soon_days=ctx.settings.expires_soon_days,
        )

    analysis = analyse_at(None)
    fetched = _fetch_missing_issuer(ctx, analysis.findings, tls.chain_pem, cacert or mozilla)
    clock = ctx.facts(ClockFacts)
    findings, dates = _at_network_time(
        _name_interceptor(fetched, load_chain(tls.chain_pem), host=target.host),
        clock.offset_s if clock is not None else None,
        analyse_at,
    )
    if tls.default_client is not None:
        findings = _as_refused_here(findings, tls.default_client.security_level)
    facts = ServerCertificateFacts.of_chain(
        analysis.facts,
        stores=Stores(mozilla=mozilla.record(), cacert=cacert.record() if cacert else None),
        known_bad_list=known_bad_list,
        clock=dates,
    )
    return Outcome(findings, facts)


def _as_refused_here(findings: tuple[Finding, ...], level: int) -> tuple[Finding, ...]:
    """Mark the weak keys and signatures this machine's default client refuses outright."""
    return tuple(
        dataclasses.replace(f, params={**f.params, "refused_here": True, "level": level})
        if refused_at_level(f, level)
        else f
        for f in findings
    )


def _fetch_missing_issuer(
    ctx: Context, findings: tuple[Finding, ...], chain_pem: Sequence[str], store: TrustStore
) -> tuple[Finding, ...]:
    """Download the issuer a server left out from the address its certificate gives, as
    browsers on Windows and macOS do, and let it decide what is missing."""
    decided = []
    for finding in findings:
        url = finding.params.get("aia_url")
        if finding.id == "cert.incomplete_chain" and finding.status is Status.FAIL and url:
            ctx.raise_if_cancelled()
            got = aia.fetch(str(url), timeout=ctx.timeout(), cancel=ctx.cancel)
            certs = [c for c in load_chain(chain_pem) if isinstance(c, x509.Certificate)]
            decided.append(with_fetched_issuer(finding, certs, got, store))
        else:
            decided.append(finding)
    return tuple(decided)


# Trust problems that a product's own root explains: the chain was re-signed on the way.
_INTERCEPTABLE = frozenset(
    {
        "cert.untrusted_root",
        "cert.trusted_locally_only",
        "cert.self_signed",
        "cert.os_store_missing_root",
        "cert.incomplete_chain",
    }
)


def _name_interceptor(
    findings: tuple[Finding, ...], chain: Sequence[ChainEntry], *, host: str
) -> tuple[Finding, ...]:
    """Replace "untrusted root" and its kin by `cert.intercepted` when the chain was made by a
    known intercepting product: the cause is the product, not the site."""
    if not any(f.id in _INTERCEPTABLE for f in findings):
        return findings
    certs = [c for c in chain if isinstance(c, x509.Certificate)]
    product = products.load().match_chain(certs)
    if product is None:
        return findings
    kept = [f for f in findings if f.id not in _INTERCEPTABLE]
    status = Status.worst(f.status for f in findings if f.id in _INTERCEPTABLE)
    top = certs[-1] if certs else None
    issuer = display_name(top.issuer) if top is not None else product.name
    params = {"host": host, "product": product.name, "product_id": product.id, "issuer": issuer}
    return (Finding("cert.intercepted", status, params), *kept)


_DATED = frozenset({"cert.expired", "cert.not_yet_valid", "cert.expires_soon"})


def _at_network_time(
    findings: tuple[Finding, ...],
    offset_s: float | None,
    analyse_at: Callable[[datetime], Analysis],
) -> tuple[tuple[Finding, ...], NetworkTimeDates | None]:
    """Repeat the date checks at network time when the clock check measured it (`offset_s`:
    network time minus this clock).

    A date problem that exists only by this computer's clock stays, marked
    `valid_at_network_time`: a certificate "from the future" on a computer whose clock is
    behind is the clock's fault, and the verdict needs to know it. A certificate whose dates
    are wrong at network time too is judged at network time, the true one: an expired
    certificate on a computer three years behind is expired, not "not yet valid".
    """
    if offset_s is None:
        return findings, None
    network_now = datetime.now(UTC) + timedelta(seconds=offset_s)
    at_network = analyse_at(network_now)
    truly = [f for f in at_network.findings if f.id in _DATED]
    wrong_then = {f.params.get("index") for f in truly}
    marked = [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": True})
        if f.id in _DATED
        else f
        for f in findings
        if f.id not in _DATED or f.params.get("index") not in wrong_then
    ]
    marked += [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": False}) for f in truly
    ]
    dates = NetworkTimeDates(
        offset_s=float(offset_s),
        network_time=iso(network_now),
        dates_valid_at_local_time=not any(f.id in _DATED for f in findings),
        dates_valid_at_network_time=not wrong_then,
    )
    return tuple(marked), dates


CHECK = Check(
    id="cert",
    scope="target",
    run=run,
    # Not `requires`: a chain that arrived is judged even when the handshake then failed
    # (this machine's policy refused it, a client certificate was required).
    after=("tls", "clock"),
    findings={
        "cert.valid": (),
        "cert.unparsable": ("missing",),
        "cert.expired": ("intermediate",),
        "cert.not_yet_valid": ("intermediate",),
        "cert.expires_soon": ("urgent",),
        "cert.hostname_mismatch": ("www", "by_address"),
        "cert.no_san": (),
        "cert.self_signed": ("cacert",),
        "cert.untrusted_root": ("cacert",),
        "cert.incomplete_chain": ("os_fetched", "unknown_issuer"),
        "cert.chain_too_long": (),
        "cert.chain_order": ("order", "unneeded", "leaf_not_first"),
        "cert.not_a_ca": (),
        "cert.wrong_usage": (),
        "cert.name_constraints": (),
        "cert.weak_signature": (),
        "cert.weak_key": ("dsa",),
        "cert.known_bad_root": ("issuer", "leaf"),
        "cert.trusted_locally_only": (),
        "cert.os_store_missing_root": (),
        "cert.intercepted": (),
    },
)
