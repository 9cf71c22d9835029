"""Lists the root certificates this computer trusts and compares them with Mozilla's public set."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.models import Finding, Outcome, Status
from checks.core.redact import redact
from checks.lib import certinfo, products, trust
from checks.lib.bundles import BundleCheck, EnvOverride, check_certifi, env_overrides
from checks.lib.roots import Enumeration, enumerate_os

# ---------------------------------------------------------------------------------------------
# What a trust store enumeration finds, per OS.


# --- Linux -----------------------------------------------------------------------------------


# --- macOS -----------------------------------------------------------------------------------


# --- Windows ---------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Environment overrides and the integrity of certifi's bundle.


# ---------------------------------------------------------------------------------------------
# The comparison.


def _root_fact(
    cert: x509.Certificate, why: str, product: products.Product | None
) -> dict[str, object]:
    return {
        "subject": certinfo.display_name(cert.subject),
        "subject_dn": cert.subject.rfc4514_string(),
        "sha256": certinfo.fingerprint(cert),
        "spki_sha256": certinfo.spki_sha256(cert),
        "not_after": certinfo.iso(cert.not_valid_after_utc),
        "product": product.name if product else None,
        "why": why,
    }


# English sentences for evidence lines; the translated explanation says the same at length.
WHY = {
    "interception_product": "belongs to software that reads and re-signs encrypted traffic",
    "not_public": "not part of Mozilla's public root program; it can vouch for any website",
    "known_bad": "its private key is public or it was used to intercept traffic",
    "missing_public": "many websites depend on it and this computer does not trust it",
    "distrusted": "explicitly marked as not trusted on this computer",
    "expired": "expired; it no longer vouches for anything",
}


def _evidence(root: Mapping[str, object]) -> str:
    product = f" [{root['product']}]" if root.get("product") else ""
    # A must-have root absent from the reference set is known only by its public key.
    digest = f"SHA-256 {root['sha256']}" if root.get("sha256") else f"key {root['spki_sha256']}"
    return f"{root['subject']}{product} — {digest} — {WHY[str(root['why'])]}"


def _listed(roots: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    return list(roots[: policy.MAX_LISTED_ROOTS])


def _text(roots: Sequence[Mapping[str, object]]) -> str:
    shown = []
    for root in roots[: policy.MAX_LISTED_ROOTS]:
        product = f", {root['product']}" if root.get("product") else ""
        shown.append(f"{root['subject']} (SHA-256 {str(root['sha256'])[:16]}…{product})")
    if len(roots) > len(shown):
        shown.append(f"+{len(roots) - len(shown)}")
    return "; ".join(shown)


def _brief(roots: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    return [
        {"subject": r["subject"], "sha256": r["sha256"], "product": r["product"]} for r in roots
    ]


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    facts: Mapping[str, object]


def analyse(
    found: Enumeration,
    mozilla: trust.TrustStore,
    *,
    known_bad: trust.KnownBadList,
    catalogue: products.Catalogue,
    now: datetime,
) -> Analysis:
    """Compare the OS's roots with the public set: local, known-bad, missing and expired roots."""
    findings: list[Finding] = []
    facts: dict[str, object] = {
        "os": found.os_name,
        "sources": [redact(s) for s in found.sources],
        "trusted": len(found.trusted),
        "distrusted": len(found.distrusted),
        "public_set": mozilla.fact(),
        **found.facts,
    }
    if found.error:
        facts["error"] = redact(found.error)
        fail = found.error_kind in ("no_bundle", "empty")
        params: dict[str, object] = {
            "variant": found.error_kind or "command_failed",
            "detail": redact(found.error),
            "source": ", ".join(found.sources) or "—",
        }
        findings.append(
            Finding("truststore.unavailable", Status.FAIL if fail else Status.WARN, params)
        )
        return Analysis(tuple(findings), facts)

    local: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    expired: list[dict[str, object]] = []
    outdated = 0
    for cert in found.trusted:
        product = catalogue.match_certificate(cert)
        entry = known_bad.entries.get(certinfo.spki_sha256(cert))
        if entry is not None:
            root = _root_fact(cert, "known_bad", product)
            root.update(name=entry.name, reason=entry.reason)
            bad.append(root)
            continue
        if cert.not_valid_after_utc < now:
            expired.append(_root_fact(cert, "expired", product))
        if mozilla.find(cert) is not None:
            continue
        if certinfo.fingerprint(cert) in found.program and product is None:
            outdated += 1
            continue
        local.append(_root_fact(cert, "interception_product" if product else "not_public", product))

    # Keyed by public key, so that a re-issued or cross-signed copy of a root still counts.
    trusted_keys = {certinfo.spki_sha256(c) for c in found.trusted}
    denied_keys = {certinfo.spki_sha256(c) for c in found.distrusted}
    public_keys = {certinfo.spki_sha256(c): c for c in mozilla.certificates}
    missing: list[dict[str, object]] = []
    distrusted_needed: list[dict[str, object]] = []
    for name, spki in policy.MUST_HAVE_ROOTS:
        if spki in trusted_keys:
            continue
        reference = public_keys.get(spki)
        denied = spki in denied_keys
        needed: dict[str, object] = (
            _root_fact(reference, "missing_public", None)
            if reference is not None
            else {"subject": name, "sha256": "", "spki_sha256": spki, "product": None}
        )
        needed["why"] = "distrusted" if denied else "missing_public"
        (distrusted_needed if denied else missing).append(needed)

    differing = bad + local + distrusted_needed + missing
    facts.update(
        differing_roots=differing,
        expired_roots=[{"subject": r["subject"], "sha256": r["sha256"]} for r in expired],
        program_roots_not_in_public_set=outdated,
        auto_update_disabled=found.auto_update_disabled,
    )

    if bad:
        params = {
            "count": len(bad),
            "names": [str(r["name"]) for r in bad],
            "roots": _brief(_listed(bad)),
            "roots_text": _text(bad),
        }
        findings.append(
            Finding("truststore.known_bad_root", Status.FAIL, params, tuple(map(_evidence, bad)))
        )
    if local:
        named = sorted({str(r["product"]) for r in local if r["product"]})
        params = {
            "count": len(local),
            "roots": _brief(_listed(local)),
            "roots_text": _text(local),
            "products": ", ".join(named),
        }
        if named:
            params["variant"] = "product"
        evidence = tuple(_evidence(r) for r in _listed(local))
        findings.append(Finding("truststore.local_root", Status.WARN, params, evidence))
    if missing or distrusted_needed:
        everything = distrusted_needed + missing
        params = {
            "count": len(everything),
            "names": [str(r["subject"]) for r in everything],
            "roots_text": ", ".join(str(r["subject"]) for r in everything),
        }
        status = Status.FAIL
        if distrusted_needed:
            params["variant"] = "distrusted"
        elif found.os_name == "windows" and not found.auto_update_disabled:
            # Windows downloads a root the first time a site needs it: absent is normal.
            params["variant"] = "on_demand"
            status = Status.PASS
        elif found.os_name == "windows":
            params["variant"] = "auto_update_disabled"
        evidence = tuple(_evidence(r) for r in everything)
        findings.append(Finding("truststore.missing_root", status, params, evidence))
    if expired:
        params = {"count": len(expired), "names": [str(r["subject"]) for r in _listed(expired)]}
        findings.append(Finding("truststore.expired_root", Status.PASS, params))
    if not bad and not local and not any(f.status is Status.FAIL for f in findings):
        params = {
            "count": len(found.trusted),
            "public_count": len(mozilla),
            "source": ", ".join(redact(s) for s in found.sources),
        }
        findings.insert(0, Finding("truststore.ok", Status.PASS, params))
    return Analysis(tuple(findings), facts)


def _override_finding(override: EnvOverride) -> Finding:
    shown = list(override.lacking[: policy.MAX_LISTED_ROOTS])
    if len(override.lacking) > len(shown):
        shown.append(f"+{len(override.lacking) - len(shown)}")
    params = {
        "variable": override.variable,
        "path": override.path,
        "count": override.count,
        "lacking": len(override.lacking),
        "lacking_names": ", ".join(shown) or "—",
        "variant": override.state,
    }
    if override.state in ("missing_file", "empty_file"):
        status = Status.FAIL
    elif override.state in ("adds", "system_bundle"):
        status = Status.PASS
    else:
        status = Status.WARN
    return Finding("truststore.env_override", status, params)


def _bundle_finding(check: BundleCheck) -> Finding | None:
    if check.verified is not False:
        return None
    params = {"path": check.path, "expected": check.expected, "actual": check.actual}
    return Finding("truststore.bundle_modified", Status.WARN, params)


def run(ctx: Context) -> Outcome:
    settings = ctx.settings
    found = enumerate_os(timeout=ctx.timeout(), cancel=ctx.cancel)
    ctx.raise_if_cancelled()
    overrides = env_overrides(os.environ, found.trusted)
    mozilla_path = settings.known_roots or Path(certifi.where())
    mozilla = trust.TrustStore.from_file(mozilla_path, name="mozilla")
    known_bad = trust.load_known_bad()
    analysis = analyse(
        found, mozilla, known_bad=known_bad, catalogue=products.load(), now=datetime.now(UTC)
    )
    bundle = check_certifi()
    findings = list(analysis.findings)
    findings.extend(_override_finding(o) for o in overrides)
    modified = _bundle_finding(bundle)
    if modified is not None:
        findings.append(modified)
    facts = {
        **analysis.facts,
        "env_overrides": [
            {
                "variable": o.variable,
                "path": o.path,
                "state": o.state,
                "certificates": o.count,
                "lacking": list(o.lacking),
            }
            for o in overrides
        ],
        "certifi": {
            "path": bundle.path,
            "verified": bundle.verified,
            "expected": bundle.expected,
            "actual": bundle.actual,
        },
        "known_bad_list_version": known_bad.version,
        "catalogue_version": products.load().version,
    }
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="trust_store",
    scope="local",
    run=run,
    findings={
        "truststore.ok": (),
        "truststore.unavailable": ("no_bundle", "empty", "command_failed"),
        "truststore.local_root": ("product",),
        "truststore.known_bad_root": (),
        "truststore.missing_root": ("on_demand", "auto_update_disabled", "distrusted"),
        "truststore.expired_root": (),
        "truststore.env_override": ("missing_file", "empty_file", "set", "adds", "system_bundle"),
        "truststore.bundle_modified": (),
    },
)
