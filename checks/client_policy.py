"""Reads which TLS versions and cipher suites this machine's TLS clients allow, without admin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.core.check import Check, Context
from checks.core.facts.client_policy import ClientPolicyFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib.clients import MODERN, VERSIONS, Stack, display, legacy, local_stacks

# --- pure parsers --------------------------------------------------------------------------


# --- reading this machine ------------------------------------------------------------------


# --- the check -----------------------------------------------------------------------------


def findings_for(stacks: Sequence[Stack]) -> list[Finding]:
    """The findings about this machine's client policy."""
    primary = stacks[0]
    versions = list(primary.versions or ())
    summary = {
        "versions": [display(v) for v in versions],
        "suites": len(primary.suites or ()),
        "stacks": [s.name for s in stacks],
    }
    findings = [Finding("client.tls_policy", Status.PASS, summary)]
    old = [(s, legacy(s.versions)) for s in stacks if s.id != "python" and legacy(s.versions)]
    if old:
        names = sorted({display(v) for _, vs in old for v in vs}, key=_display_order)
        params = {"stacks": [s.name for s, _ in old], "versions": names}
        evidence = tuple(f"{s.name}: {', '.join(vs)} ({s.source})" for s, vs in old)
        findings.append(Finding("client.legacy_allowed", Status.WARN, params, evidence))
    cut_off = [s for s in stacks if s.versions is not None and not set(s.versions) & set(MODERN)]
    if cut_off:
        params = {"stacks": [s.name for s in cut_off]}
        evidence = tuple(f"{s.name}: {', '.join(s.versions or ()) or '-'}" for s in cut_off)
        findings.append(Finding("client.modern_disabled", Status.WARN, params, evidence))
    for stack in stacks:
        strong = stack.settings.get("strong_crypto") if stack.id == "dotnet" else None
        if isinstance(strong, Mapping) and not all(strong.values()):
            views = [view for view, on in strong.items() if not on]
            evidence = tuple(f"{view}: {stack.settings.get('values')}" for view in views)
            params = {"views": views}
            findings.append(
                Finding("client.dotnet_strong_crypto_off", Status.WARN, params, evidence)
            )
    return findings


def _display_order(text: str) -> int:
    return [display(v) for v in VERSIONS].index(text)


def facts_for(stacks: Sequence[Stack]) -> ClientPolicyFacts:
    """Every stack's policy; the top-level versions and suites are the first stack's."""
    primary = stacks[0]
    return ClientPolicyFacts(
        versions=tuple(primary.versions or ()),
        suites=tuple(primary.suites or ()),
        stacks={s.id: s.fact() for s in stacks},
    )


def run(ctx: Context) -> Outcome:
    stacks = local_stacks()
    return Outcome(tuple(findings_for(stacks)), facts_for(stacks))


CHECK = Check(
    id="client_policy",
    scope="local",
    run=run,
    findings={
        "client.tls_policy": (),
        "client.legacy_allowed": (),
        "client.modern_disabled": (),
        "client.dotnet_strong_crypto_off": (),
    },
)
