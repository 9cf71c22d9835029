"""Lists the root certificates this computer trusts and compares them with Mozilla's public set."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import certifi
from cryptography import x509

from checks.core import policy
from checks.core.check import Check, Context
from checks.core.facts.trust_store import (
    ExpiredRoot,
    RootRecord,
    StoreEnumerated,
    TrustStoreFacts,
    TrustStoreUnreadable,
    Why,
    WindowsTrustStoreFacts,
)
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


def _root_fact(cert: x509.Certificate, why: Why, product: products.Product | None) -> RootRecord:
    return RootRecord(
        subject=certinfo.display_name(cert.subject),
        subject_dn=cert.subject.rfc4514_string(),
        sha256=certinfo.fingerprint(cert),
        spki_sha256=certinfo.spki_sha256(cert),
        not_after=certinfo.iso(cert.not_valid_after_utc),
        product=product.name if product else None,
        why=why,
    )


# English sentences for evidence lines; the translated explanation says the same at length.
WHY: dict[Why, str] = {
    "interception_product": "belongs to software that reads and re-signs encrypted traffic",
    "not_public": "not part of Mozilla's public root program; it can vouch for any website",
    "known_bad": "its private key is public or it was used to intercept traffic",
    "missing_public": "many websites depend on it and this computer does not trust it",
    "distrusted": "explicitly marked as not trusted on this computer",
    "expired": "expired; it no longer vouches for anything",
}


def _evidence(root: RootRecord) -> str:
    product = f" [{root.product}]" if root.product else ""
    # A must-have root absent from the reference set is known only by its public key.
    digest = f"SHA-256 {root.sha256}" if root.sha256 else f"key {root.spki_sha256}"
    return f"{root.subject}{product} — {digest} — {WHY[root.why]}"


def _listed(roots: Sequence[RootRecord]) -> list[RootRecord]:
    return list(roots[: policy.MAX_LISTED_ROOTS])


def _text(roots: Sequence[RootRecord]) -> str:
    shown = []
    for root in roots[: policy.MAX_LISTED_ROOTS]:
        product = f", {root.product}" if root.product else ""
        shown.append(f"{root.subject} (SHA-256 {root.sha256[:16]}…{product})")
    if len(roots) > len(shown):
        shown.append(f"+{len(roots) - len(shown)}")
    return "; ".join(shown)


def _brief(roots: Sequence[RootRecord]) -> list[dict[str, object]]:
    return [{"subject": r.subject, "sha256": r.sha256, "product": r.product} for r in roots]


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    facts: TrustStoreFacts | TrustStoreUnreadable


def _enumerated(found: Enumeration, mozilla: trust.TrustStore) -> dict[str, Any]:
    """The fields every report of the store holds: what was read, and from where."""
    details = found.facts
    enumerated = StoreEnumerated(
        os=found.os_name,
        sources=tuple(redact(s) for s in found.sources),
        trusted=len(found.trusted),
        distrusted=len(found.distrusted),
        public_set=mozilla.record(),
        bundles_found=details.bundles_found,
        bundle=details.bundle,
        family=details.family,
        local_anchor_files=details.local_anchor_files,
        anchors_not_in_bundle=details.anchors_not_in_bundle,
        keychains=details.keychains,
        trust_settings=details.trust_settings,
        trust_settings_unreadable=details.trust_settings_unreadable,
        in_keychain_but_not_trusted=details.in_keychain_but_not_trusted,
        root_store=details.root_store,
        intermediate_store=details.intermediate_store,
        disallowed_store=details.disallowed_store,
        authroot_entries=details.authroot_entries,
        disable_root_auto_update=details.disable_root_auto_update,
        protected_roots_flags=details.protected_roots_flags,
    )
    return {spec.name: getattr(enumerated, spec.name) for spec in fields(StoreEnumerated)}


def analyse(
    found: Enumeration,
    mozilla: trust.TrustStore,
    *,
    known_bad: trust.KnownBadList,
    catalogue: products.Catalogue,
    now: datetime,
    overrides: Sequence[EnvOverride],
    bundle: BundleCheck,
) -> Analysis:
    """Compare the OS's roots with the public set: local, known-bad, missing and expired roots;
    then the variables that point programs elsewhere, and certifi's bundle."""
    findings: list[Finding] = []
    variables = tuple(o.fact() for o in overrides)
    if found.error:
        fail = found.error_kind in ("no_bundle", "empty")
        params: dict[str, object] = {
            "variant": found.error_kind or "command_failed",
            "detail": redact(found.error),
            "source": ", ".join(found.sources) or "—",
        }
        findings.append(
            Finding("truststore.unavailable", Status.FAIL if fail else Status.WARN, params)
        )
        findings.extend(_environment_findings(overrides, bundle))
        unreadable = TrustStoreUnreadable(
            **_enumerated(found, mozilla),
            error=redact(found.error),
            env_overrides=variables,
            certifi=bundle.fact(),
            known_bad_list_version=known_bad.version,
            catalogue_version=catalogue.version,
        )
        return Analysis(tuple(findings), unreadable)

    local: list[RootRecord] = []
    bad: list[RootRecord] = []
    expired: list[RootRecord] = []
    outdated = 0
    for cert in found.trusted:
        product = catalogue.match_certificate(cert)
        # By its own key, or by the DN and key identifier of a listed root that issued it.
        entry = known_bad.spki_match(cert) or known_bad.issuer_match(cert)
        if entry is not None:
            root = _root_fact(cert, "known_bad", product)
            bad.append(replace(root, name=entry.name, reason=entry.reason))
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
    missing: list[RootRecord] = []
    distrusted_needed: list[RootRecord] = []
    for name, spki in policy.MUST_HAVE_ROOTS:
        if spki in trusted_keys:
            continue
        reference = public_keys.get(spki)
        denied = spki in denied_keys
        why: Why = "distrusted" if denied else "missing_public"
        needed = (
            _root_fact(reference, why, None)
            if reference is not None
            else RootRecord(subject=name, sha256="", spki_sha256=spki, product=None, why=why)
        )
        (distrusted_needed if denied else missing).append(needed)

    differing = bad + local + distrusted_needed + missing
    facts_class = TrustStoreFacts
    if found.facts.root_store is not None:
        # Windows' stores were read: its policy values are reported even when not set.
        facts_class = WindowsTrustStoreFacts
    facts = facts_class(
        **_enumerated(found, mozilla),
        differing_roots=tuple(differing),
        expired_roots=tuple(ExpiredRoot(subject=r.subject, sha256=r.sha256) for r in expired),
        program_roots_not_in_public_set=outdated,
        auto_update_disabled=found.auto_update_disabled,
        env_overrides=variables,
        certifi=bundle.fact(),
        known_bad_list_version=known_bad.version,
        catalogue_version=catalogue.version,
    )

    if bad:
        params = {
            "count": len(bad),
            "names": [str(r.name) for r in bad],
            "roots": _brief(_listed(bad)),
            "roots_text": _text(bad),
        }
        findings.append(
            Finding("truststore.known_bad_root", Status.FAIL, params, tuple(map(_evidence, bad)))
        )
    if local:
        named = sorted({r.product for r in local if r.product})
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
            "names": [r.subject for r in everything],
            "roots_text": ", ".join(r.subject for r in everything),
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
        params = {"count": len(expired), "names": [r.subject for r in _listed(expired)]}
        findings.append(Finding("truststore.expired_root", Status.PASS, params))
    if not bad and not local and not any(f.status is Status.FAIL for f in findings):
        params = {
            "count": len(found.trusted),
            "public_count": len(mozilla),
            "source": ", ".join(redact(s) for s in found.sources),
        }
        findings.insert(0, Finding("truststore.ok", Status.PASS, params))
    findings.extend(_environment_findings(overrides, bundle))
    return Analysis(tuple(findings), facts)


def _environment_findings(overrides: Sequence[EnvOverride], bundle: BundleCheck) -> list[Finding]:
    """A finding per variable that points programs elsewhere, and one for a patched certifi."""
    findings = [_override_finding(o) for o in overrides]
    modified = _bundle_finding(bundle)
    if modified is not None:
        findings.append(modified)
    return findings


# The names a finding's text shows before "+N": the facts list more.
NAMED_IN_TEXT = 5


def _names_text(names: Sequence[str], total: int | None = None) -> str:
    shown = list(names[:NAMED_IN_TEXT])
    total = len(names) if total is None else total
    if total > len(shown):
        shown.append(f"+{total - len(shown)}")
    return ", ".join(shown) or "—"


def _override_finding(override: EnvOverride) -> Finding:
    params: dict[str, object] = {
        "variable": override.variable,
        "path": override.shown_path,
        "count": override.count,
        "lacking": len(override.lacking),
        "lacking_names": _names_text(override.lacking),
        "added": len(override.added),
        "added_names": _names_text(override.added),
        "compared_with": override.compared_with,
        "variant": override.state,
    }
    if override.error is not None:
        params["detail"] = override.error
    if override.known_bad:
        # One finding per variable: a bundle with a compromised root is that, whatever else.
        bad = override.known_bad
        params.pop("variant")
        params["names"] = list(dict.fromkeys(b.name for b in bad))
        params["bad_count"] = len(bad)
        params["roots_text"] = "; ".join(
            f"{b.subject} (SHA-256 {b.sha256[:16]}…, {b.name})" for b in bad[:NAMED_IN_TEXT]
        )
        evidence = tuple(
            f"{override.variable}: {b.subject} — SHA-256 {b.sha256} — {b.name} "
            f"({'its key' if b.matched_by == 'key' else 'its issuer'} is on the known-bad list)"
            for b in bad
        )
        return Finding("truststore.env_known_bad", Status.FAIL, params, evidence)
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
    mozilla_path = settings.known_roots or Path(certifi.where())
    mozilla = trust.TrustStore.from_file(mozilla_path, name="mozilla")
    known_bad = trust.load_known_bad()
    # Bundles are compared with the system's roots; Mozilla's stand in when those are unknown.
    reference, compared_with = (
        (found.trusted, "system_roots") if found.trusted else (mozilla.certificates, "public_set")
    )
    overrides = env_overrides(
        os.environ, reference, known_bad=known_bad, compared_with=compared_with
    )
    analysis = analyse(
        found,
        mozilla,
        known_bad=known_bad,
        catalogue=products.load(),
        now=datetime.now(UTC),
        overrides=overrides,
        bundle=check_certifi(),
    )
    return Outcome(analysis.findings, analysis.facts)


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
        "truststore.env_override": (
            "missing_file",
            "empty_file",
            "unreadable",
            "set",
            "adds",
            "system_bundle",
            "extra_roots",
        ),
        "truststore.env_known_bad": (),
        "truststore.bundle_modified": (),
    },
)
