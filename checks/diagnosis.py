"""Picks the one most likely cause from all findings, by an explicit ordered rule list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from checks.models import CheckResult, Finding, Status

Confidence = Literal["certain", "likely", "possible"]


@dataclass(frozen=True)
class Rule:
    """One step of the decision order: findings whose id starts with one of `prefixes`."""

    name: str
    prefixes: tuple[str, ...]

    def matches(self, finding: Finding) -> bool:
        return finding.id.startswith(self.prefixes)


# Chrome's SSL error handler order: a portal or a wrong clock explains certificate errors that
# follow from them, so they are named before the certificate causes they produce.
RULES: tuple[Rule, ...] = (
    Rule("captive_portal", ("captive_portal.",)),
    Rule("clock", ("clock.",)),
    Rule("interception", ("interception.", "security_software.")),
    Rule("trust_store", ("truststore.",)),
    Rule("network", ("input.", "dns.", "tcp.", "proxy.", "tls.")),
    Rule("certificate", ("cert.",)),
    Rule("protocol", ("protocol.", "cipher.")),
)


@dataclass(frozen=True)
class Verdict:
    """The headline of a diagnosis.

    Attributes:
        status: pass (nothing wrong), warn or fail.
        finding: the finding that names the cause, or None when nothing is wrong.
        rule: the name of the rule that chose it.
        confidence: how sure the verdict is.
        evidence: ids of the findings the verdict rests on.
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


def _rank(finding: Finding) -> tuple[int, int]:
    """Failures before warnings; within a severity, the rule order decides."""
    order = next((i for i, rule in enumerate(RULES) if rule.matches(finding)), len(RULES))
    return (0 if finding.status is Status.FAIL else 1, order)


def _rule_name(finding: Finding) -> str | None:
    return next((rule.name for rule in RULES if rule.matches(finding)), None)


def verdict(results: Iterable[CheckResult]) -> Verdict:
    """The one most likely cause among `results`, with the findings it rests on."""
    results = tuple(results)
    checked = tuple(r.check_id for r in results if r.status not in (Status.SKIP, Status.ERROR))
    problems = sorted(
        (f for r in results for f in r.findings if f.status in (Status.FAIL, Status.WARN)),
        key=_rank,
    )
    if not problems:
        return Verdict(Status.PASS, None, None, "certain", (), None, checked)
    first = problems[0]
    others = [f for f in problems[1:] if f.id != first.id]
    rule = _rule_name(first)
    same_rule = tuple(f.id for f in problems if _rule_name(f) == rule)
    certain = first.status is Status.FAIL and not any(
        f.status is Status.FAIL and _rule_name(f) != rule for f in others
    )
    confidence: Confidence = (
        "certain" if certain else "likely" if first.status is Status.FAIL else "possible"
    )
    return Verdict(
        status=first.status,
        finding=first,
        rule=rule,
        confidence=confidence,
        evidence=tuple(dict.fromkeys(same_rule)),
        runner_up=None if certain or not others else others[0],
        checked=checked,
    )
