"""Judges the certificate chain the server sent: dates, names, path to a trusted root, strength."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.models import CheckResult, Finding, Outcome, Status
from checks.lib import products
from checks.lib.certinfo import (
    ChainEntry,
    Position,
    Unparsable,
    aia_ca_issuers,
    common_names,
    describe,
    display_name,
    dns_names,
    fingerprint,
    host_matches,
    identity,
    ip_literal,
    ip_names,
    is_ca,
    is_self_signed,
    iso,
    key_strength,
    load_chain,
    name_matches,
    signature_hash,
    signed_by,
    spki_sha256,
)
from checks.lib.osverify import ask_os
from checks.lib.trust import (
    ChainPath,
    Judgement,
    KnownBadList,
    TrustStore,
    build_path,
    judge,
    load_known_bad,
)

_DAY = timedelta(days=1)
# Findings that by themselves make every verifier reject a chain, whatever its root.
_REJECTED_ANYWAY = frozenset(
    {"cert.expired", "cert.not_yet_valid", "cert.weak_signature", "cert.weak_key"}
)


def _listed(names: Sequence[str]) -> list[str]:
    shown = list(names[: policy.MAX_LISTED_NAMES])
    if len(names) > len(shown):
        # Language-neutral so the list reads the same in every translation.
        shown.append(f"… (+{len(names) - len(shown)})")
    return shown


def _www_alternative(host: str) -> str:
    return host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"


def check_hostname(cert: x509.Certificate, host: str, *, is_ip: bool) -> Finding | None:
    """`cert.hostname_mismatch` or `cert.no_san` when the certificate does not cover `host`."""
    if host_matches(cert, host, is_ip=is_ip):
        return None
    sans = dns_names(cert) + ip_names(cert)
    cns = common_names(cert)
    if not sans:
        address = ip_literal(host) if is_ip else None
        cn_match = any(
            (ip_literal(cn) == address) if address is not None else name_matches(cn, host)
            for cn in cns
        )
        if cn_match:
            return Finding(
                "cert.no_san",
                Status.FAIL,
                {"host": host, "cn": ", ".join(cns)},
            )
    names = sans or cns
    params: dict[str, object] = {
        "host": host,
        "names": _listed(names),
        "names_total": len(names),
        "suggestion": None,
    }
    if not is_ip:
        alternative = _www_alternative(host)
        if host_matches(cert, alternative, is_ip=False):
            params.update(suggestion=alternative, variant="www")
    return Finding("cert.hostname_mismatch", Status.FAIL, params)


def check_validity(cert: x509.Certificate, *, position: Position, now: datetime) -> list[Finding]:
    """Expired, not yet valid, or expiring within `policy.EXPIRES_SOON_DAYS` days."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    params: dict[str, object] = {
        "which": position,
        "position": position,
        "subject": display_name(cert.subject),
        "not_before": iso(not_before),
        "not_after": iso(not_after),
    }
    if position == "intermediate":
        params["variant"] = "intermediate"
    if now < not_before:
        days = math.ceil((not_before - now) / _DAY)
        return [Finding("cert.not_yet_valid", Status.FAIL, {**params, "days": days})]
    if now > not_after:
        days = (now - not_after) // _DAY
        return [Finding("cert.expired", Status.FAIL, {**params, "days": days})]
    left = not_after - now
    if left < timedelta(days=policy.EXPIRES_SOON_DAYS):
        params.pop("variant", None)
        return [Finding("cert.expires_soon", Status.WARN, {**params, "days": left // _DAY})]
    return []


def check_signature(cert: x509.Certificate, *, position: Position) -> Finding | None:
    """`cert.weak_signature` for an MD5 or SHA-1 signature (not to be used on roots)."""
    algorithm = signature_hash(cert)
    if algorithm not in policy.WEAK_SIGNATURE_HASHES:
        return None
    params = {"subject": display_name(cert.subject), "position": position, "algorithm": algorithm}
    return Finding("cert.weak_signature", Status.FAIL, params)


def check_key(cert: x509.Certificate, *, position: Position) -> Finding | None:
    """`cert.weak_key` for RSA or EC keys under the policy minimum and for any DSA key."""
    key_type, bits = key_strength(cert)
    minimum = {"RSA": policy.MIN_RSA_BITS, "EC": policy.MIN_EC_BITS}.get(key_type)
    params: dict[str, object] = {
        "subject": display_name(cert.subject),
        "position": position,
        "key_type": key_type,
        "bits": bits,
        "minimum": minimum,
    }
    if key_type == "DSA" and not policy.DSA_ALLOWED:
        return Finding("cert.weak_key", Status.FAIL, {**params, "variant": "dsa"})
    if minimum is not None and bits is not None and bits < minimum:
        return Finding("cert.weak_key", Status.FAIL, params)
    return None


def check_known_bad(
    cert: x509.Certificate, *, position: Position, known_bad: KnownBadList
) -> Finding | None:
    """`cert.known_bad_root` when the certificate's key is on the known-bad list."""
    entry = known_bad.entries.get(spki_sha256(cert))
    if entry is None:
        return None
    params = {
        "name": entry.name,
        "subject": display_name(cert.subject),
        "position": position,
        "spki_sha256": entry.spki_sha256,
        "reason": entry.reason,
    }
    return Finding("cert.known_bad_root", Status.FAIL, params)


def _top_root(
    path: ChainPath, sent: Mapping[int, x509.Certificate], reference: TrustStore | None
) -> tuple[str, str | None]:
    """Name and fingerprint of the root an untrusted path leads to, as far as it is known."""
    top = sent[path.indices[-1]]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        for root in reference.named(path.missing_issuer) if reference is not None else ():
            if signed_by(top, root) is not False:
                return display_name(root.subject), fingerprint(root)
        return display_name(path.missing_issuer), None
    return display_name(top.subject), fingerprint(top)


def path_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    *,
    store: TrustStore,
    reference: TrustStore | None = None,
) -> list[Finding]:
    """What the path's end means when `store` decides trust.

    A missing issuer that `reference` (another store) knows as a root is a root missing from
    `store`; any other missing issuer is an intermediate the server should have sent.
    """
    if path.trusted:
        return []
    top_index = path.indices[-1]
    top = sent[top_index]
    variant = {"variant": "cacert"} if store.name == "cacert" else {}
    if path.end == "self_signed" and top_index == 0:
        own = {"subject": display_name(top.subject), "fingerprint": fingerprint(top)}
        return [Finding("cert.self_signed", Status.FAIL, {**own, **variant})]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        known = reference is not None and any(
            signed_by(top, root) is not False for root in reference.named(path.missing_issuer)
        )
        # A public CA's certificate says where its issuer can be fetched (AIA); a leaf without
        # that, issued by a name nobody knows, comes straight from a private CA.
        if not known and not is_ca(top) and aia_ca_issuers(top) is not None:
            return [_incomplete(top, top_index, path.missing_issuer, Status.FAIL)]
        if not known:
            # Only the root is missing and no public root program knows it: a private CA, not
            # a server that forgot a certificate.
            private = {"root": display_name(path.missing_issuer), "fingerprint": None, **variant}
            return [Finding("cert.untrusted_root", Status.FAIL, private)]
    if path.end == "too_long":
        limits = {"depth": len(path.indices), "limit": policy.MAX_CHAIN_DEPTH}
        return [Finding("cert.chain_too_long", Status.FAIL, limits)]
    root, digest = _top_root(path, sent, reference)
    params: dict[str, object] = {"root": root, "fingerprint": digest, **variant}
    return [Finding("cert.untrusted_root", Status.FAIL, params)]


def _incomplete(cert: x509.Certificate, index: int, missing: x509.Name, status: Status) -> Finding:
    params: dict[str, object] = {
        "subject": display_name(cert.subject),
        "position": "leaf" if index == 0 else "intermediate",
        "missing_issuer": display_name(missing),
        "missing_issuer_dn": missing.rfc4514_string(),
        "aia_url": aia_ca_issuers(cert),
    }
    if status is Status.WARN:
        params["variant"] = "os_fetched"
    return Finding("cert.incomplete_chain", status, params)


def _order_findings(
    path: ChainPath, sent: Mapping[int, x509.Certificate], positions: Mapping[int, Position]
) -> list[Finding]:
    findings: list[Finding] = []
    params: dict[str, object]
    issuing = list(path.indices)
    if path.anchor is not None:
        # A sent copy of the anchor is unneeded, but where it is sent still shows disorder.
        anchor = identity(path.anchor)
        issuing += [i for i in sorted(sent) if i not in issuing and identity(sent[i]) == anchor]
    if issuing != sorted(issuing):
        params = {
            "variant": "order",
            "sent": _listed([display_name(sent[i].subject) for i in sorted(sent)]),
            "expected": _listed([display_name(sent[i].subject) for i in issuing]),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    unneeded = [i for i in sorted(sent) if i not in path.indices]
    if unneeded:
        params = {
            "variant": "unneeded",
            "unneeded": _listed([display_name(sent[i].subject) for i in unneeded]),
            "indices": unneeded,
            "root_sent": any(positions[i] == "root" for i in unneeded),
        }
        findings.append(Finding("cert.chain_order", Status.WARN, params))
    return findings


@dataclass(frozen=True)
class Analysis:
    """Everything `analyse` concluded: the findings and the facts behind them."""

    findings: tuple[Finding, ...]
    facts: Mapping[str, object]


def _position(index: int, cert: x509.Certificate) -> Position:
    if index == 0:
        return "leaf"
    return "root" if is_self_signed(cert) else "intermediate"


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
    os_judgement = os_judgement or Judgement(None, "the operating system was not asked")
    findings: list[Finding] = []
    sent: dict[int, x509.Certificate] = {}
    for index, entry in enumerate(chain):
        if isinstance(entry, Unparsable):
            position = "leaf" if index == 0 else "intermediate"
            params = {"index": index, "position": position, "error": entry.error}
            findings.append(Finding("cert.unparsable", Status.FAIL, params))
        else:
            sent[index] = entry
    positions = {index: _position(index, cert) for index, cert in sent.items()}
    facts: dict[str, object] = {
        "host": host,
        "now": iso(now),
        "certificates": [describe(c, index=i, position=positions[i]) for i, c in sent.items()],
        "unparsable": [i for i, e in enumerate(chain) if isinstance(e, Unparsable)],
    }
    judgements: dict[str, object] = {"os": os_judgement.fact(), "mozilla": None, "cacert": None}
    facts["judgements"] = judgements
    if not chain:
        params = {"index": 0, "position": "leaf", "error": "no certificate", "variant": "missing"}
        return Analysis((Finding("cert.unparsable", Status.FAIL, params),), facts)
    if 0 not in sent:
        # Without the server's own certificate neither names nor a path can be judged; the
        # others are still graded one by one.
        for index, cert in sent.items():
            findings += _grade(cert, positions[index], now, dated=True)
        findings += _known_bad_findings([(c, positions[i]) for i, c in sent.items()], known_bad)
        return Analysis(tuple(findings), facts)

    decisive_store = cacert if cacert is not None else mozilla
    path = build_path(sent, decisive_store)
    mozilla_path = path if cacert is None else build_path(sent, mozilla)
    judgements["mozilla"] = judge(mozilla_path, sent, mozilla).fact()
    if cacert is not None:
        judgements["cacert"] = judge(path, sent, cacert).fact()
    facts["path"] = _path_fact(path, sent, decisive_store)

    for index in path.indices:
        # A root's expiry does not matter: the copy in the trust store is the anchor.
        dated = index == 0 or positions[index] != "root"
        findings += _grade(sent[index], positions[index], now, dated=dated)
    examined: list[tuple[x509.Certificate, Position]] = [
        (sent[i], positions[i]) for i in path.indices
    ]
    anchor = path.anchor
    if anchor is not None and identity(anchor) != identity(sent[path.indices[-1]]):
        weak_anchor = check_key(anchor, position="root")
        if weak_anchor is not None:
            findings.append(weak_anchor)
        examined.append((anchor, "root"))
    examined += [(sent[i], positions[i]) for i in sorted(set(sent) - set(path.indices))]
    findings += _known_bad_findings(examined, known_bad)

    mismatch = check_hostname(sent[0], host, is_ip=is_ip)
    if mismatch is not None:
        findings.append(mismatch)

    if cacert is not None:
        facts["decided_by"] = "cacert"
        findings += path_findings(path, sent, store=cacert, reference=mozilla)
    elif os_judgement.trusted is None:
        facts["decided_by"] = "mozilla"
        findings += path_findings(path, sent, store=mozilla)
    else:
        facts["decided_by"] = "os"
        findings += _os_findings(path, sent, mozilla, os_judgement, findings)
    findings += _order_findings(path, sent, positions)

    if not findings:
        leaf = sent[0]
        params = {
            "subject": display_name(leaf.subject),
            "issuer": display_name(leaf.issuer),
            "not_after": iso(leaf.not_valid_after_utc),
            "days_left": (leaf.not_valid_after_utc - now) // _DAY,
        }
        findings.append(Finding("cert.valid", Status.PASS, params))
    return Analysis(tuple(findings), facts)


def _grade(
    cert: x509.Certificate, position: Position, now: datetime, *, dated: bool
) -> list[Finding]:
    findings = check_validity(cert, position=position, now=now) if dated else []
    checks = [
        # A self-signature proves nothing, so its hash does not matter either.
        None if is_self_signed(cert) else check_signature(cert, position=position),
        check_key(cert, position=position),
    ]
    return findings + [f for f in checks if f is not None]


def _known_bad_findings(
    certs: Iterable[tuple[x509.Certificate, Position]], known_bad: KnownBadList
) -> list[Finding]:
    """One finding per known-bad key, however many certificates carry it."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for cert, position in certs:
        digest = spki_sha256(cert)
        if digest in seen:
            continue
        seen.add(digest)
        bad = check_known_bad(cert, position=position, known_bad=known_bad)
        if bad is not None:
            findings.append(bad)
    return findings


def _os_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    mozilla: TrustStore,
    os_judgement: Judgement,
    so_far: Sequence[Finding],
) -> list[Finding]:
    """Findings when the operating system decides trust and Mozilla's roots are the comparison."""
    if os_judgement.trusted:
        if path.trusted:
            return []
        top_index = path.indices[-1]
        top = sent[top_index]
        if path.end == "missing_issuer" and path.missing_issuer and aia_ca_issuers(top):
            # Windows and macOS download a missing intermediate from the AIA address; other
            # programs do not, so the server still has a problem, if a smaller one here.
            return [_incomplete(top, top_index, path.missing_issuer, Status.WARN)]
        root, digest = _top_root(path, sent, None)
        params = {"root": root, "fingerprint": digest}
        return [Finding("cert.trusted_locally_only", Status.WARN, params)]
    if not path.trusted:
        return path_findings(path, sent, store=mozilla)
    if any(f.status is Status.FAIL and f.id in _REJECTED_ANYWAY for f in so_far):
        return []  # the operating system's refusal is already explained
    anchor = path.anchor
    assert anchor is not None
    params = {
        "root": display_name(anchor.subject),
        "fingerprint": fingerprint(anchor),
        "detail": os_judgement.detail,
    }
    return [Finding("cert.os_store_missing_root", Status.FAIL, params)]


def _path_fact(
    path: ChainPath, sent: Mapping[int, x509.Certificate], store: TrustStore
) -> dict[str, object]:
    anchor = path.anchor
    return {
        "store": store.name,
        "indices": list(path.indices),
        "end": path.end,
        "anchor": None
        if anchor is None
        else {"subject": display_name(anchor.subject), "sha256": fingerprint(anchor)},
        "missing_issuer": None
        if path.missing_issuer is None
        else path.missing_issuer.rfc4514_string(),
    }


def _known_bad_fact() -> tuple[KnownBadList, dict[str, object]]:
    try:
        known = load_known_bad()
    except (OSError, ValueError, KeyError) as exc:
        return KnownBadList(0, {}), {"error": f"{type(exc).__name__}: {exc}"}
    return known, {"version": known.version, "entries": len(known.entries)}


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    tls = ctx.results["tls"].facts
    raw_chain = tls.get("chain_pem")
    pems = [str(p) for p in raw_chain] if isinstance(raw_chain, list | tuple) else []
    address = str(tls.get("address") or target.host)
    port = int(str(tls.get("port") or target.port))
    sni = tls.get("sni", target.sni)
    settings = ctx.settings
    mozilla = TrustStore.from_file(settings.known_roots or Path(certifi.where()), name="mozilla")
    cacert = TrustStore.from_file(settings.cacert, name="cacert") if settings.cacert else None
    known_bad, known_bad_fact = _known_bad_fact()
    ctx.raise_if_cancelled()
    os_judgement = ask_os(
        address,
        port,
        server_hostname=str(sni) if sni else target.host,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
    )
    analysis = analyse(
        load_chain(pems),
        host=target.sni or target.host,
        is_ip=target.sni is None and target.is_ip,
        mozilla=mozilla,
        cacert=cacert,
        os_judgement=os_judgement,
        known_bad=known_bad,
    )
    findings, clock_fact = _at_network_time(
        _name_interceptor(analysis.findings, load_chain(pems), host=target.host),
        ctx.results.get("clock"),
        lambda now: analyse(
            load_chain(pems),
            host=target.sni or target.host,
            is_ip=target.sni is None and target.is_ip,
            now=now,
            mozilla=mozilla,
            cacert=cacert,
            os_judgement=os_judgement,
            known_bad=known_bad,
        ),
    )
    facts = {
        **analysis.facts,
        "stores": {"mozilla": mozilla.fact(), "cacert": cacert.fact() if cacert else None},
        "known_bad_list": known_bad_fact,
        "clock": clock_fact,
    }
    return Outcome(findings, facts)


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
    clock: CheckResult | None,
    analyse_at: Callable[[datetime], Analysis],
) -> tuple[tuple[Finding, ...], dict[str, object] | None]:
    """Repeat the date checks at network time when the clock check measured it.

    A date problem that exists only by this computer's clock stays, marked
    `valid_at_network_time`: a certificate "from the future" on a computer whose clock is
    behind is the clock's fault, and the verdict needs to know it. A certificate whose dates
    are wrong at network time too is judged at network time, the true one: an expired
    certificate on a computer three years behind is expired, not "not yet valid".
    """
    offset = clock.facts.get("offset_s") if clock is not None else None
    if not isinstance(offset, int | float) or isinstance(offset, bool):
        return findings, None
    network_now = datetime.now(UTC) + timedelta(seconds=float(offset))
    at_network = analyse_at(network_now)
    truly = [f for f in at_network.findings if f.id in _DATED]
    wrong_then = {f.params.get("subject") for f in truly}
    marked = [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": True})
        if f.id in _DATED
        else f
        for f in findings
        if f.id not in _DATED or f.params.get("subject") not in wrong_then
    ]
    marked += [
        dataclasses.replace(f, params={**f.params, "valid_at_network_time": False}) for f in truly
    ]
    fact: dict[str, object] = {
        "offset_s": float(offset),
        "network_time": iso(network_now),
        "dates_valid_at_local_time": not any(f.id in _DATED for f in findings),
        "dates_valid_at_network_time": not wrong_then,
    }
    return tuple(marked), fact


CHECK = Check(
    id="cert",
    scope="target",
    run=run,
    requires=("tls",),
    after=("clock",),
    findings={
        "cert.valid": (),
        "cert.unparsable": ("missing",),
        "cert.expired": ("intermediate",),
        "cert.not_yet_valid": ("intermediate",),
        "cert.expires_soon": (),
        "cert.hostname_mismatch": ("www",),
        "cert.no_san": (),
        "cert.self_signed": ("cacert",),
        "cert.untrusted_root": ("cacert",),
        "cert.incomplete_chain": ("os_fetched",),
        "cert.chain_too_long": (),
        "cert.chain_order": ("order", "unneeded"),
        "cert.weak_signature": (),
        "cert.weak_key": ("dsa",),
        "cert.known_bad_root": (),
        "cert.trusted_locally_only": (),
        "cert.os_store_missing_root": (),
        "cert.intercepted": (),
    },
)
