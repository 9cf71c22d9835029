"""Asks whether the target's certificates were revoked (its OCSP staple, the responders and CRLs
they name), whether a must-staple certificate came stapled, and whether the server's certificate
carries the certificate-transparency proof Chrome requires."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from checks.core.check import Check, Context
from checks.core.facts.certificate import ServerCertificateFacts
from checks.core.facts.revocation import Answer, Checked, RevocationFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import Finding, Outcome, Status
from checks.core.platform import current_os
from checks.lib import revocation, sct, sct_tls, starttls
from checks.lib.certinfo import display_name, is_self_signed, load_pem
from checks.lib.trust import TrustStore

# Certificates asked about at once, and sources tried per certificate: a chain has two or
# three, and a CA names one responder and one or two CRLs.
_PARALLEL = 3
_MOST_URLS = 2
# Answers that settle a certificate's status; the others send us on to the next source.
_DECISIVE = ("good", "revoked")
# How the sources are named in the report (technical names, the same in every language).
_SOURCE_NAMES = {"stapled": "OCSP staple", "ocsp": "OCSP", "crl": "CRL"}
# Chrome requires SCTs for certificates issued from this day on (its CT policy).
_CT_REQUIRED_SINCE = dt.datetime(2018, 4, 30, tzinfo=dt.UTC)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _answer(source: str, result: revocation.OcspResult | revocation.CrlResult) -> Answer:
    return Answer(
        source=source,
        url=result.url,
        outcome=result.outcome,
        detail=result.detail if result.outcome not in _DECISIVE else None,
        revoked_at=_iso(result.revoked_at),
        reason=result.reason,
        next_update=_iso(result.next_update),
        via_proxy=result.via_proxy,
    )


def _issuer(
    cert: x509.Certificate, chain: Sequence[x509.Certificate], stores: Sequence[TrustStore]
) -> x509.Certificate | None:
    """The certificate that signed `cert`: sent by the server, or a root of a store."""
    candidates = [c for c in chain if c.subject == cert.issuer and c is not cert]
    for store in stores:
        candidates += store.named(cert.issuer)
    for candidate in candidates:
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def _ask(
    ctx: Context, cert: x509.Certificate, issuer: x509.Certificate, staple: Answer | None
) -> tuple[Answer, ...]:
    """The responder first (as browsers do), then the CRLs, until one settles it; a staple
    that settles it spares both."""
    answers: list[Answer] = [staple] if staple is not None else []
    if staple is not None and staple.outcome in _DECISIVE:
        return tuple(answers)
    for url in revocation.ocsp_urls(cert)[:_MOST_URLS]:
        ctx.raise_if_cancelled()
        result = revocation.check_ocsp(cert, issuer, url, timeout=ctx.timeout(), cancel=ctx.cancel)
        answers.append(_answer("ocsp", result))
        if result.outcome in _DECISIVE:
            return tuple(answers)
    for url in revocation.crl_urls(cert)[:_MOST_URLS]:
        ctx.raise_if_cancelled()
        crl = revocation.check_crl(cert, issuer, url, timeout=ctx.timeout(), cancel=ctx.cancel)
        answers.append(_answer("crl", crl))
        if crl.outcome in _DECISIVE:
            break
    return tuple(answers)


def _http_blocked(ctx: Context) -> bool:
    """Whether this network stops plain HTTP: the captive-portal probes got no answer."""
    portal = ctx.results.get("captive_portal")
    return portal is not None and any(
        f.id == "captive_portal.not_checked" and f.params.get("variant") == "unreachable"
        for f in portal.findings
    )


def _revocation_findings(ctx: Context, checked: Sequence[Checked]) -> list[Finding]:
    findings: list[Finding] = []
    for entry in checked:
        position = "leaf" if entry.index == 0 else "intermediate"
        base: dict[str, object] = {"subject": entry.subject, "index": entry.index}
        if position == "intermediate":
            base["variant"] = "intermediate"
        revoked = next((a for a in entry.answers if a.outcome == "revoked"), None)
        if revoked is not None:
            params = {
                **base,
                "revoked_at": revoked.revoked_at,
                "reason": revoked.reason or "unspecified",
                "source": _SOURCE_NAMES[revoked.source],
                "url": revoked.url or "",
            }
            findings.append(Finding("cert.revoked", Status.FAIL, params))
            continue
        if any(a.outcome == "good" for a in entry.answers) or not entry.answers:
            continue
        failed = [a for a in entry.answers if a.source != "stapled"] or list(entry.answers)
        first = failed[0]
        params = {
            "subject": entry.subject,
            "index": entry.index,
            "urls": [a.url for a in failed if a.url],
            "detail": first.detail or first.outcome,
            "via_proxy": any(a.via_proxy for a in failed),
        }
        if all(a.outcome == "unreachable" for a in failed):
            params["http_blocked"] = _http_blocked(ctx)
            if params["via_proxy"]:
                params["variant"] = "proxy"
            # Schannel (curl and git built with it, PowerShell, .NET) refuses when it cannot
            # ask; browsers and OpenSSL go on.
            params["hard_fail"] = current_os() == "windows"
            findings.append(Finding("cert.revocation_unreachable", Status.WARN, params))
        elif any(a.outcome == "unknown" for a in failed):
            findings.append(Finding("cert.revocation_unknown", Status.WARN, params))
        else:
            if any(a.outcome == "stale" for a in failed):
                params["variant"] = "stale"
            findings.append(Finding("cert.revocation_invalid", Status.WARN, params))
    return findings


def _ct_findings(leaf: x509.Certificate, scts: Sequence[sct.Sct], public: bool) -> list[Finding]:
    logs = sct.distinct_logs(tuple(scts))
    embedded = all(s.source == "embedded" for s in scts)
    needed = sct.required(leaf, source="embedded" if embedded else "ocsp")
    params: dict[str, object] = {"subject": display_name(leaf.subject), "count": len(scts),
                                 "logs": logs, "required": needed}  # fmt: skip
    if not public or leaf.not_valid_before_utc < _CT_REQUIRED_SINCE:
        return []
    if logs >= needed:
        return [Finding("cert.ct_ok", Status.PASS, params)]
    if scts:
        params["variant"] = "too_few"
    return [Finding("cert.no_sct", Status.FAIL if not scts else Status.WARN, params)]


def _stores(ctx: Context) -> list[TrustStore]:
    settings = ctx.settings
    stores = [TrustStore.from_file(settings.known_roots or Path(certifi.where()), name="mozilla")]
    if settings.cacert:
        stores.insert(0, TrustStore.from_file(settings.cacert, name="cacert"))
    return stores


def _staple(tls: TlsFacts) -> bytes:
    try:
        return base64.b64decode(tls.ocsp_staple or "", validate=True)
    except (binascii.Error, ValueError):
        return b""


def run(ctx: Context) -> Outcome:
    tls = ctx.facts(TlsFacts)
    if tls is None or not tls.chain_pem:
        return Outcome((), blocked_by=ctx.stopped_by("tls"))
    chain: list[x509.Certificate] = []
    for pem in tls.chain_pem:
        try:
            chain.append(load_pem(pem))
        except ValueError:
            break  # the cert check names what cannot be read; the rest has no issuer order
    if not chain:
        return Outcome((), blocked_by="cert.unparsable")
    leaf, stores = chain[0], _stores(ctx)
    issuers = {i: _issuer(c, chain, stores) for i, c in enumerate(chain) if not is_self_signed(c)}
    staple_der = _staple(tls)
    stapled: revocation.OcspResult | None = None
    leaf_issuer = issuers.get(0)
    if staple_der and leaf_issuer is not None:
        stapled = revocation.judge_ocsp_response(staple_der, leaf, leaf_issuer)
    findings: list[Finding] = []
    must_staple = revocation.must_staple(leaf)
    if must_staple and not staple_der:
        findings.append(Finding("cert.must_staple_missing", Status.FAIL,
                                {"subject": display_name(leaf.subject)}))  # fmt: skip
    if stapled is not None and stapled.outcome not in ("good", "revoked", "unknown"):
        # Firefox judges the staple itself: a bad one fails whatever the responder says.
        bad: dict[str, object] = {
            "subject": display_name(leaf.subject),
            "detail": stapled.detail or stapled.outcome,
        }
        if stapled.outcome == "stale":
            bad["variant"] = "stale"
        findings.append(Finding("cert.staple_invalid", Status.WARN, bad))
    checked: list[Checked] = []
    issuers_known = [c for i, c in enumerate(chain) if issuers.get(i) is not None]
    named = any(revocation.ocsp_urls(c) or revocation.crl_urls(c) for c in issuers_known)
    if ctx.settings.offline and named:
        # Only where a certificate names somewhere to ask: otherwise there is nothing to miss.
        findings.append(Finding("cert.revocation_not_checked", Status.WARN, {"variant": "offline"}))
    elif not ctx.settings.offline:
        asked = [(i, c, issuer) for i, c in enumerate(chain) if (issuer := issuers.get(i))]
        with ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="revocation") as pool:
            futures = [
                (i, c, pool.submit(_ask, ctx, c, issuer, _answer("stapled", stapled)
                                   if i == 0 and stapled is not None else None))
                for i, c, issuer in asked
            ]  # fmt: skip
            for i, c, future in futures:
                answers = future.result()
                checked.append(Checked(index=i, subject=display_name(c.subject), answers=answers))
        findings += _revocation_findings(ctx, checked)
        if checked and not any(f.id.startswith("cert.revo") for f in findings):
            sources = sorted({_SOURCE_NAMES[a.source] for entry in checked for a in entry.answers})
            if sources:
                params = {"count": len(checked), "sources": sources}
                findings.insert(0, Finding("cert.not_revoked", Status.PASS, params))
    scts = sct.embedded(leaf) + (stapled.scts if stapled is not None else ())
    public = _publicly_trusted(ctx)
    if public and sct.distinct_logs(scts) < sct.required(leaf) and ctx.target is not None:
        # The third way a server can deliver them: the TLS extension (one TLS 1.2 hello).
        ctx.raise_if_cancelled()
        scts += sct_tls.fetch(
            tls.address,
            tls.port,
            sni=tls.sni,
            opening=starttls.opening(ctx.target),
            timeout=ctx.timeout(),
            cancel=ctx.cancel,
        )
    findings += _ct_findings(leaf, scts, public)
    facts = RevocationFacts(
        checked=tuple(checked),
        must_staple=must_staple,
        stapled=bool(staple_der),
        scts=len(scts),
        sct_logs=tuple(sorted({s.log_id for s in scts})),
        publicly_trusted=public,
    )
    return Outcome(tuple(findings), facts)


def _publicly_trusted(ctx: Context) -> bool:
    """The chain ends in a root of the public set (the one Chrome's CT rule covers)."""
    cert = ctx.facts(ServerCertificateFacts)
    path = cert.path if cert is not None else None
    return path is not None and path.store == "mozilla" and path.end == "anchored"


CHECK = Check(
    id="revocation",
    scope="target",
    run=run,
    after=("tls", "cert", "captive_portal"),
    findings={
        "cert.not_revoked": (),
        "cert.revoked": ("intermediate",),
        "cert.revocation_unreachable": ("proxy",),
        "cert.revocation_unknown": (),
        "cert.revocation_invalid": ("stale",),
        "cert.revocation_not_checked": ("offline",),
        "cert.must_staple_missing": (),
        "cert.staple_invalid": ("stale",),
        "cert.ct_ok": (),
        "cert.no_sct": ("too_few",),
    },
)
