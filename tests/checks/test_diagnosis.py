"""The verdict follows the ordered rule list and names its evidence."""

from __future__ import annotations

from checks.core.models import CheckResult, Finding, Status
from checks.diagnosis import RULES, Effect, _rule_of, effect, verdict


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
        "programs",
    ]


def _f(finding_id: str, status: Status = Status.FAIL, **params: object) -> Finding:
    return Finding(finding_id, status, params)


def _verdict(*findings: Finding):  # type: ignore[no-untyped-def]
    return verdict([CheckResult("any", Status.worst(f.status for f in findings), findings)])


def test_a_captive_portal_explains_name_mismatch_and_self_signed() -> None:
    result = _verdict(
        _f("cert.hostname_mismatch"), _f("cert.self_signed"), _f("captive_portal.detected")
    )
    assert result.finding is not None
    assert result.finding.id == "captive_portal.detected"
    assert result.confidence == "certain"
    assert set(result.evidence) == {
        "captive_portal.detected",
        "cert.hostname_mismatch",
        "cert.self_signed",
    }


def test_a_portal_suppresses_the_clock_and_interception_verdicts() -> None:
    result = _verdict(_f("clock.skew"), _f("interception.detected"), _f("captive_portal.detected"))
    assert result.rule == "captive_portal"
    assert result.confidence == "certain"


def test_a_wrong_clock_explains_dates_valid_at_network_time_with_certainty() -> None:
    result = _verdict(
        _f("cert.not_yet_valid", valid_at_network_time=True), _f("clock.skew", offset_s=9e7)
    )
    assert result.finding is not None
    assert result.finding.id == "clock.skew"
    assert result.confidence == "certain"
    assert "cert.not_yet_valid" in result.evidence


def test_a_certificate_expired_also_at_network_time_is_its_own_problem() -> None:
    result = _verdict(
        _f("cert.expired", valid_at_network_time=False), _f("clock.skew", offset_s=600)
    )
    assert result.finding is not None
    assert result.finding.id == "clock.skew"
    assert result.confidence == "likely"
    assert result.runner_up is not None
    assert result.runner_up.id == "cert.expired"


def test_an_intercepting_product_is_named_instead_of_the_untrusted_root_it_issued() -> None:
    root = "Kaspersky Anti-Virus Personal Root Certificate"
    result = _verdict(
        _f("cert.untrusted_root", root=root),
        _f("interception.detected", product="Kaspersky", issuer=root, variant="untrusted"),
    )
    assert result.rule == "interception"
    assert result.finding is not None
    assert result.finding.params["product"] == "Kaspersky"
    assert result.confidence == "certain"
    assert "cert.untrusted_root" in result.evidence


def test_interception_seen_elsewhere_does_not_explain_another_root() -> None:
    # mitmproxy reads the well-known sites, but this site's own private root is another story.
    result = _verdict(
        _f("cert.untrusted_root", root="Intranet Root CA"),
        _f("interception.detected", product="mitmproxy", issuer="mitmproxy", variant="product"),
        _f("truststore.local_root", Status.WARN, roots_text="mitmproxy", products="mitmproxy"),
    )
    assert result.finding is not None
    assert result.finding.id == "cert.untrusted_root"
    assert result.confidence == "certain"  # a graver problem is not made less certain
    assert [p.finding.id for p in result.left] == ["interception.detected"]


def test_a_trusted_interceptor_makes_a_working_connection_unsafe() -> None:
    result = verdict(
        [
            _result("tls", _f("tls.ok", Status.PASS)),
            _result(
                "other",
                _f(
                    "interception.detected",
                    product="mitmproxy",
                    issuer="mitmproxy",
                    variant="product",
                ),
                _f(
                    "truststore.local_root",
                    Status.WARN,
                    roots_text="mitmproxy",
                    products="mitmproxy",
                ),
                _f("cert.expires_soon", Status.WARN),
            ),
        ]
    )
    assert result.connects is True
    assert result.finding is not None
    assert result.finding.id == "interception.detected"
    assert result.effect is Effect.UNSAFE
    assert result.confidence == "certain"
    assert "truststore.local_root" in result.evidence
    assert [p.finding.id for p in result.left] == ["cert.expires_soon"]


def test_the_target_chain_made_by_a_product_is_interception() -> None:
    result = _verdict(_f("cert.intercepted", product="Zscaler"), _f("cert.hostname_mismatch"))
    assert result.rule == "interception"
    assert result.confidence == "likely"


def test_local_issuer_problems_are_told_apart() -> None:
    missing_root = _verdict(_f("cert.os_store_missing_root"), _f("truststore.missing_root"))
    assert missing_root.rule == "trust_store"
    assert missing_root.confidence == "certain"
    incomplete = _verdict(_f("cert.incomplete_chain"))
    assert incomplete.finding is not None
    assert incomplete.finding.id == "cert.incomplete_chain"
    private = _verdict(_f("cert.untrusted_root"))
    assert private.finding is not None
    assert private.finding.id == "cert.untrusted_root"


def test_a_port_timeout_while_canaries_work_rests_on_them() -> None:
    result = _verdict(_f("tcp.timeout"), _f("interception.none", Status.PASS))
    assert result.finding is not None
    assert result.finding.id == "tcp.timeout"
    assert result.confidence == "certain"
    assert "interception.none" in result.evidence


def test_a_legacy_only_server_is_a_protocol_mismatch_that_explains_the_refusal() -> None:
    result = _verdict(
        _f("tls.handshake_failed", alert="protocol_version"),
        _f("protocol.legacy_only"),
        _f("protocol.no_common_version", variant="server_too_old"),
    )
    assert result.finding is not None
    assert result.finding.id == "protocol.no_common_version"
    assert "tls.handshake_failed" in result.evidence
    assert result.confidence == "certain"


def test_could_not_check_warnings_never_outrank_a_real_warning() -> None:
    result = _verdict(
        _f("captive_portal.not_checked", Status.WARN),
        _f("clock.unverified", Status.WARN),
        _f("cert.expires_soon", Status.WARN),
    )
    assert result.finding is not None
    assert result.finding.id == "cert.expires_soon"
    assert result.confidence == "possible"
    assert result.runner_up is None  # the others only say what could not be checked


def test_what_could_not_be_checked_explains_nothing() -> None:
    # The bug of the seeds' self-signed intranet site: "interception not checked" explained the
    # self-signed certificate away and a "could not check" warning became the headline.
    result = _verdict(
        _f("cert.self_signed"),
        _f("interception.not_checked", Status.WARN, variant="offline"),
        _f("clock.unverified", Status.WARN, variant="offline"),
        _f("captive_portal.not_checked", Status.WARN, variant="offline"),
    )
    assert result.finding is not None
    assert result.finding.id == "cert.self_signed"
    assert result.status is Status.FAIL
    assert result.confidence == "certain"
    assert result.runner_up is None
    assert result.evidence == ("cert.self_signed",)


def test_a_site_that_connects_is_the_headline_with_what_is_left_below() -> None:
    result = verdict(
        [
            _result("tls", _f("tls.ok", Status.PASS)),
            _result(
                "other",
                _f("clock.unverified", Status.WARN),
                _f("protocol.legacy_enabled", Status.WARN),
                _f("protocol.ssl_enabled"),
                _f("cert.expires_soon", Status.WARN),
            ),
        ]
    )
    assert result.finding is None
    assert result.status is Status.PASS
    assert result.connects is True
    # Hygiene by rule order, then what could not be checked.
    assert [p.finding.id for p in result.left] == [
        "cert.expires_soon",
        "protocol.ssl_enabled",
        "protocol.legacy_enabled",
        "clock.unverified",
    ]


def test_without_a_target_a_could_not_check_warning_may_be_the_headline() -> None:
    result = verdict([_result("clock", _f("clock.unverified", Status.WARN))])
    assert result.finding is not None
    assert result.finding.id == "clock.unverified"
    assert result.status is Status.WARN
    assert result.confidence == "possible"
    assert result.effect is Effect.UNCHECKED
    assert result.connects is None


def test_effects_follow_what_a_finding_does_to_the_connection() -> None:
    assert effect(_f("cert.expired")) is Effect.BLOCKS
    assert effect(_f("interception.detected", variant="untrusted")) is Effect.BLOCKS
    assert effect(_f("interception.detected", variant="product")) is Effect.UNSAFE
    assert effect(_f("truststore.known_bad_root")) is Effect.UNSAFE
    assert effect(_f("protocol.ssl_enabled")) is Effect.HYGIENE
    assert effect(_f("clock.skew", Status.WARN)) is Effect.HYGIENE
    assert effect(_f("clock.skew")) is Effect.BLOCKS
    assert effect(_f("interception.not_checked", Status.WARN)) is Effect.UNCHECKED
    assert effect(_f("truststore.unavailable", Status.WARN)) is Effect.UNCHECKED
    assert effect(_f("truststore.unavailable")) is Effect.BLOCKS


def test_two_unrelated_failures_name_a_runner_up() -> None:
    result = _verdict(_f("dns.failed"), _f("truststore.env_override"))
    assert result.rule == "trust_store"
    assert result.confidence == "likely"
    assert result.runner_up is not None
    assert result.runner_up.id == "dns.failed"


def test_a_handshake_that_never_reached_a_certificate_is_not_the_clock_s_doing() -> None:
    results = [
        _result("clock", _f("clock.skew", offset_s=-94608000.0)),
        _result("tcp", _f("tcp.refused")),
        CheckResult("tls", Status.SKIP, blocked_by="tcp.refused"),
    ]
    result = verdict(results)
    assert result.connects is False
    assert result.finding is not None
    assert result.finding.id == "tcp.refused"
    assert result.confidence == "certain"
    assert [p.finding.id for p in result.left] == ["clock.skew"]


def test_no_shared_version_means_this_computer_does_not_connect() -> None:
    results = [
        _result("clock", _f("clock.skew")),
        _result("tls", _f("tls.ok", Status.PASS)),
        _result("protocols", _f("protocol.no_common_version", variant="server_too_old")),
    ]
    result = verdict(results)
    assert result.connects is False
    assert result.finding is not None
    assert result.finding.id == "protocol.no_common_version"
    assert result.confidence == "certain"


def _program_refusals(*reasons: str) -> Finding:
    params = {"refusing": ["curl"], "connecting": ["Node.js"], "reasons": list(reasons)}
    return Finding("programs.some_refuse", Status.FAIL, params)


def test_a_cause_explains_the_programs_it_stops_and_no_other() -> None:
    # curl refuses the DH key the default client refuses: the policy refusal is the cause
    # and the programs' refusal its evidence.
    refused = Finding("tls.policy_refused", Status.FAIL, {"variant": "dh_small"})
    result = verdict([_result("tls", refused), _result("programs", _program_refusals("dh"))])
    assert result.finding is not None
    assert result.finding.id == "tls.policy_refused"
    assert "programs.some_refuse" in result.evidence
    # An expired certificate does not explain a program that refuses a DH key; the programs
    # are still no rival cause that makes the expired certificate less certain.
    expired = Finding("cert.expired", Status.FAIL, {"index": 0})
    programs = _result("programs", _program_refusals("dh"))
    result = verdict([_result("cert", expired), programs])
    assert "programs.some_refuse" not in result.evidence
    assert [p.finding.id for p in result.left] == ["programs.some_refuse"]
    assert result.confidence == "certain"


def test_programs_that_refuse_what_nothing_else_explains_are_the_cause() -> None:
    result = verdict([_result("programs", _program_refusals("trust"))])
    assert result.finding is not None
    assert (result.finding.id, result.rule) == ("programs.some_refuse", "programs")


def test_a_revoked_certificate_leads_the_certificate_causes() -> None:
    result = _verdict(_f("cert.expired"), _f("cert.revoked"))
    assert result.finding is not None
    assert result.finding.id == "cert.revoked"
    assert result.rule == "certificate"


def test_an_unreachable_responder_is_a_network_cause_only_where_plain_http_is_blocked() -> None:
    blocked = _f("cert.revocation_unreachable", Status.WARN, http_blocked=True, hard_fail=True)
    open_network = _f("cert.revocation_unreachable", Status.WARN, http_blocked=False)
    rule = _rule_of(blocked)
    assert rule is not None
    assert rule[1].name == "network"
    other = _rule_of(open_network)
    assert other is not None
    assert other[1].name == "certificate"
    # Schannel's programs refuse without an answer; elsewhere clients go on.
    assert effect(blocked) is Effect.BLOCKS
    assert effect(open_network) is Effect.HYGIENE


def test_revocation_not_checked_offline_explains_nothing_and_comes_last() -> None:
    assert effect(_f("cert.revocation_not_checked", Status.WARN, variant="offline")) is (
        Effect.UNCHECKED
    )
