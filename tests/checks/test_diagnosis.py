"""The verdict follows the ordered rule list and names its evidence."""

from __future__ import annotations

from checks.diagnosis import RULES, verdict
from checks.models import CheckResult, Finding, Status


def _result(check_id: str, *findings: Finding) -> CheckResult:
    return CheckResult(check_id, Status.worst(f.status for f in findings), findings)


def test_all_pass_is_no_problem_and_lists_what_was_checked() -> None:
    result = verdict([_result("dns", Finding("dns.resolved", Status.PASS))])
    assert result.status is Status.PASS
    assert result.finding is None
    assert result.checked == ("dns",)


def test_rule_order_puts_the_clock_before_certificate_causes() -> None:
    results = [
        _result("cert", Finding("cert.not_yet_valid", Status.FAIL)),
        _result("clock", Finding("clock.skew", Status.FAIL)),
    ]
    result = verdict(results)
    assert result.finding is not None
    assert result.finding.id == "clock.skew"
    assert result.confidence == "likely"  # another rule also failed
    assert result.runner_up is not None
    assert result.runner_up.id == "cert.not_yet_valid"


def test_a_failure_outranks_an_earlier_rule_s_warning() -> None:
    results = [
        _result("clock", Finding("clock.unverified", Status.WARN)),
        _result("tcp", Finding("tcp.refused", Status.FAIL)),
    ]
    result = verdict(results)
    assert result.finding is not None
    assert result.finding.id == "tcp.refused"
    assert result.confidence == "certain"
    assert result.evidence == ("tcp.refused",)
    assert result.runner_up is None


def test_only_warnings_give_a_possible_warning_verdict() -> None:
    result = verdict([_result("tcp", Finding("tcp.partial", Status.WARN))])
    assert result.status is Status.WARN
    assert result.confidence == "possible"


def test_rules_follow_the_documented_order() -> None:
    assert [r.name for r in RULES] == [
        "captive_portal",
        "clock",
        "interception",
        "trust_store",
        "network",
        "certificate",
        "protocol",
    ]
