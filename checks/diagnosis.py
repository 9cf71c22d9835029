"""Picks the one most likely cause from all findings, by an explicit ordered rule list."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from checks.models import CheckResult, Finding, Status

Confidence = Literal["certain", "likely", "possible"]
Predicate = Callable[[Finding], bool]

# Certificate dates that a wrong clock produces: only when the certificate is fine at network time.
_DATED = ("cert.expired", "cert.not_yet_valid", "cert.expires_soon")
# Handshake refusals that a protocol or cipher mismatch explains.
_REFUSALS = ("protocol_version", "handshake_failure", "insufficient_security")
# Warnings that only say something could not be checked: named last, never before a real problem.
_UNCHECKED_SUFFIXES = (".not_checked", ".unverified", ".incomplete")


def _is(*prefixes: str) -> Predicate:
    return lambda finding: finding.id.startswith(prefixes)


def _wrong_only_by_the_clock(finding: Finding) -> bool:
    return finding.id in _DATED and finding.params.get("valid_at_network_time") is True


def _refused_for_protocol(finding: Finding) -> bool:
    return finding.id == "tls.handshake_failed" and finding.params.get("alert") in _REFUSALS


@dataclass(frozen=True)
class Rule:
    """One step of the decision order.

    Attributes:
        name: the kind of cause (`clock`, `interception`, ...).
        causes: finding id prefixes this rule names as a cause, most telling first.
        explains: which other findings this cause accounts for; they become its evidence and
            stop competing for the headline.
        supported_by: passing findings that make the cause more certain when present.
    """

    name: str
    causes: tuple[str, ...]
    explains: Predicate = lambda finding: False
    supported_by: tuple[str, ...] = ()

    def rank(self, finding: Finding) -> int | None:
        """Position of the first cause prefix `finding` matches, or None."""
        return next((i for i, p in enumerate(self.causes) if finding.id.startswith(p)), None)


# Chrome's SSL error handler is the model: a captive portal, then a wrong clock, then known
# interception software explain the certificate errors they produce, so they come first.
RULES: tuple[Rule, ...] = (
    Rule(
        "captive_portal",
        ("captive_portal.detected",),
        explains=_is("cert.", "clock.", "interception.", "tls.", "tcp.", "dns.", "protocol."),
    ),
    Rule(
        "clock",
        ("clock.skew", "clock.timezone", "clock.not_synced", "clock."),
        explains=_wrong_only_by_the_clock,
    ),
    Rule(
        "interception",
        ("cert.intercepted", "interception.detected", "interception.", "security_software."),
        explains=_is(
            "cert.untrusted_root",
            "cert.trusted_locally_only",
            "cert.self_signed",
            "cert.os_store_missing_root",
            "truststore.local_root",
            "security_software.present",
            "interception.",
        ),
    ),
    Rule(
        "trust_store",
        (
            "cert.known_bad_root",
            "truststore.known_bad_root",
            "truststore.env_override",
            "cert.os_store_missing_root",
            "truststore.missing_root",
            "truststore.",
        ),
        explains=_is("cert.os_store_missing_root", "truststore.missing_root"),
    ),
    Rule(
        "network",
        ("input.", "proxy.", "dns.", "tcp.", "tls."),
        supported_by=("interception.none", "captive_portal.none", "clock.ok"),
    ),
    Rule(
        "certificate",
        (
            "cert.expired",
            "cert.not_yet_valid",
            "cert.hostname_mismatch",
            "cert.no_san",
            "cert.self_signed",
            "cert.incomplete_chain",
            "cert.untrusted_root",
            "cert.",
        ),
    ),
    Rule(
        "protocol",
        (
            "protocol.no_common_version",
            "cipher.no_common_suite",
            "protocol.ssl_enabled",
            "protocol.legacy_only",
            "protocol.",
            "cipher.",
            "client.",
        ),
        explains=_refused_for_protocol,
    ),
)


@dataclass(frozen=True)
class Verdict:
    """The headline of a diagnosis.

    Attributes:
        status: pass (nothing wrong), warn or fail.
        finding: the finding that names the cause, or None when nothing is wrong.
        rule: the name of the rule that chose it.
        confidence: how sure the verdict is.
        evidence: ids of the findings the verdict rests on: the cause, what it explains, and
            passing findings that support it.
        runner_up: the second most likely cause when the first is not certain.
        checked: ids of the checks that ran, for "No problem found, checked: ...".
    """

    status: Status
    finding: Finding | None
    rule: str | None
    confidence: Confidence
    evidence: tuple[str, ...]
    runner_up: Finding | None
    checked: tuple[str, ...]


def _rule_of(finding: Finding) -> tuple[int, Rule] | None:
    return next(((i, r) for i, r in enumerate(RULES) if r.rank(finding) is not None), None)


def _order(finding: Finding) -> tuple[int, int, int]:
    """Failures, then warnings, then "could not check"; then rule order; then cause rank."""
    found = _rule_of(finding)
    tier = 0 if finding.status is Status.FAIL else 1
    if finding.id.endswith(_UNCHECKED_SUFFIXES):
        tier = 2
    if found is None:
        return (tier, len(RULES), 0)
    index, rule = found
    return (tier, index, rule.rank(finding) or 0)


def _explains(cause: Finding, finding: Finding) -> bool:
    found = _rule_of(cause)
    return found is not None and found[1].explains(finding)


def _explainer(finding: Finding, candidates: list[Finding]) -> Finding | None:
    """The best other problem whose rule accounts for `finding`, if any."""
    for other in sorted(candidates, key=_order):
        if other is finding or not _explains(other, finding):
            continue
        if _explains(finding, other) and _order(finding) < _order(other):
            continue  # they explain each other: the one earlier in the order stays the cause
        return other
    return None


def verdict(results: Iterable[CheckResult]) -> Verdict:
    """The one most likely cause among `results`, with the findings it rests on."""
    results = tuple(results)
    checked = tuple(r.check_id for r in results if r.status not in (Status.SKIP, Status.ERROR))
    everything = [f for r in results for f in r.findings]
    problems = [f for f in everything if f.status in (Status.FAIL, Status.WARN)]
    if not problems:
        return Verdict(Status.PASS, None, None, "certain", (), None, checked)
    explained = {id(f): e for f in problems if (e := _explainer(f, problems)) is not None}
    remaining = sorted((f for f in problems if id(f) not in explained), key=_order)
    cause = remaining[0]
    rule = _rule_of(cause)
    same_rule = [f.id for f in remaining[1:] if _rule_of(f) == rule]
    accounted = [f.id for f in problems if explained.get(id(f)) is cause]
    support = [f.id for f in everything if rule is not None and f.id in rule[1].supported_by]
    # Other findings of the same rule are the same story told twice, not a rival cause.
    rivals = [f for f in remaining[1:] if _rule_of(f) != rule and _order(f)[0] < 2]
    if cause.status is Status.FAIL:
        confidence: Confidence = (
            "likely" if any(f.status is Status.FAIL for f in rivals) else "certain"
        )
    else:
        confidence = "possible"
    return Verdict(
        status=cause.status,
        finding=cause,
        rule=rule[1].name if rule is not None else None,
        confidence=confidence,
        evidence=tuple(dict.fromkeys([cause.id, *same_rule, *accounted, *support])),
        runner_up=rivals[0] if rivals and confidence != "certain" else None,
        checked=checked,
    )
