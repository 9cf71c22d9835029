"""Picks the one most likely cause from all findings: by effect, then by an ordered rule list.

The order, written down once (the README repeats it):

1. Effect on this user's connection (`Effect`): what makes the connection fail now, then what
   makes it unsafe, then hygiene (what matters only to other, older clients, or later), then
   what could not be checked. When the target connects and nothing blocks it or makes it
   unsafe, there is no cause: the headline says the computer connects, with what is left below.
2. Within one effect, the rule order after Chrome's SSL error handler: a captive portal, a
   wrong clock and known interception explain the certificate errors they produce, so they
   come first; then the trust store, the network, the certificate and the protocol. When this
   computer's clients never get as far as judging a certificate (the name does not resolve,
   the port is closed, no protocol version is shared), what stopped them comes first, after a
   portal: a wrong clock or trust store did not cause it, and is named below as also found.
3. A cause "explains" the findings it produces (a portal explains a name mismatch; a clock
   years off explains dates that are valid at network time; an interceptor explains the
   untrusted root it issued; a protocol mismatch explains the refused handshake). Only an
   observed fact explains: a finding that says something could not be checked explains nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checks.core.models import CheckResult, Confidence, Effect, Finding, Problem, Status, Verdict

# (cause, finding): whether the cause accounts for the finding.
Explains = Callable[[Finding, Finding], bool]

# Certificate dates that a wrong clock produces: only when the certificate is fine at network time.
_DATED = ("cert.expired", "cert.not_yet_valid", "cert.expires_soon")
# Handshake refusals that a protocol or cipher mismatch explains.
_REFUSALS = ("protocol_version", "handshake_failure", "insufficient_security")
# Warnings that only say something could not be checked: named last, never before a real problem.
_UNCHECKED_SUFFIXES = (".not_checked", ".unverified", ".incomplete")
# Findings about a certificate an interceptor may have issued, and the param naming its issuer.
_INTERCEPTABLE = {
    "cert.untrusted_root": "root",
    "cert.trusted_locally_only": "root",
    "cert.os_store_missing_root": "root",
    "cert.self_signed": "subject",
}


def _is(*prefixes: str) -> Explains:
    return lambda cause, finding: finding.id.startswith(prefixes)


def _wrong_only_by_the_clock(cause: Finding, finding: Finding) -> bool:
    return finding.id in _DATED and finding.params.get("valid_at_network_time") is True


def _refused_for_protocol(cause: Finding, finding: Finding) -> bool:
    if finding.id == "tls.policy_refused":
        # The default client's refusal for want of a shared version or suite is the mismatch
        # the protocol check names with both sides' lists.
        return cause.id in _NO_HANDSHAKE and finding.params.get("variant") in ("version", "suite")
    return finding.id == "tls.handshake_failed" and finding.params.get("alert") in _REFUSALS


# What each cause makes a program refuse: the reasons of `checks.lib.programs.Attempt`.
# Some programs word every certificate problem alike (git over GnuTLS: "server certificate
# verification failed"): `trust` fits every cause that a certificate check names.
_PROGRAM_REASONS: dict[str, frozenset[str]] = {
    "cert.expired": frozenset({"expired", "trust"}),
    "cert.not_yet_valid": frozenset({"not_yet_valid", "trust"}),
    "clock.skew": frozenset({"expired", "not_yet_valid", "trust"}),
    "cert.hostname_mismatch": frozenset({"name", "trust"}),
    "cert.no_san": frozenset({"name", "trust"}),
    "cert.name_constraints": frozenset({"name", "trust"}),
    "cert.weak_key": frozenset({"key", "trust"}),
    "cert.weak_signature": frozenset({"signature", "trust"}),
    "cert.client_cert_required": frozenset({"client_certificate", "other"}),
    "tls.policy_refused": frozenset({"dh", "signature", "key", "protocol", "cipher", "other"}),
    "protocol.no_common_version": frozenset({"protocol"}),
    "protocol.legacy_only": frozenset({"protocol"}),
    "cipher.no_common_suite": frozenset({"cipher"}),
}
_TRUST_CAUSES = ("cert.", "interception.", "truststore.")
_NETWORK_CAUSES = ("dns.", "tcp.", "starttls.", "tls.", "proxy.", "captive_portal.")


def refusals_explained(cause: Finding, finding: Finding) -> bool:
    """Whether `cause` accounts for every program's refusal that `finding` reports."""
    if not finding.id.startswith("programs.") or cause.id.startswith("programs."):
        return False
    listed = finding.params.get("reasons")
    reasons = {str(r) for r in listed} if isinstance(listed, list) else set()
    covered = _PROGRAM_REASONS.get(cause.id)
    if covered is None and cause.id.startswith(_NETWORK_CAUSES):
        covered = frozenset({"network", "timeout", "protocol", "other"})
    if covered is None and cause.id.startswith(_TRUST_CAUSES):
        covered = frozenset({"trust"})
    return bool(reasons) and covered is not None and reasons <= covered


def _issued_by_the_interceptor(cause: Finding, finding: Finding) -> bool:
    """The target's untrusted root, or the local root, is the one seen intercepting."""
    names = {str(cause.params.get(k)) for k in ("issuer", "product") if cause.params.get(k)}
    if finding.id in _INTERCEPTABLE:
        return str(finding.params.get(_INTERCEPTABLE[finding.id])) in names
    if finding.id == "truststore.local_root":
        listed = f"{finding.params.get('roots_text', '')} {finding.params.get('products', '')}"
        return any(name in listed for name in names)
    return finding.id == "security_software.present"


@dataclass(frozen=True)
class Rule:
    """One step of the decision order.

    Attributes:
        name: the kind of cause (`clock`, `interception`, ...).
        causes: finding id prefixes this rule names as a cause, most telling first.
        explains: which other findings a cause of this rule accounts for; they become its
            evidence and stop competing for the headline.
        supported_by: passing findings that make the cause more certain when present.
    """

    name: str
    causes: tuple[str, ...]
    explains: Explains = lambda cause, finding: False
    supported_by: tuple[str, ...] = ()

    def rank(self, finding: Finding) -> int | None:
        """Position of the first cause prefix `finding` matches, or None."""
        return next((i for i, p in enumerate(self.causes) if finding.id.startswith(p)), None)


RULES: tuple[Rule, ...] = (
    Rule(
        "captive_portal",
        ("captive_portal.detected",),
        explains=_is(
            "cert.", "clock.", "interception.", "starttls.", "tls.", "tcp.", "dns.", "protocol."
        ),
    ),
    Rule(
        "clock",
        ("clock.skew", "clock.timezone", "clock.not_synced", "clock."),
        explains=_wrong_only_by_the_clock,
    ),
    Rule(
        "interception",
        ("cert.intercepted", "interception.detected", "interception.", "security_software."),
        explains=_issued_by_the_interceptor,
    ),
    Rule(
        "trust_store",
        (
            "cert.known_bad_root",
            "truststore.known_bad_root",
            "truststore.env_known_bad",
            "truststore.env_override",
            "cert.os_store_missing_root",
            "truststore.missing_root",
            "truststore.",
        ),
        explains=_is("cert.os_store_missing_root", "truststore.missing_root"),
    ),
    Rule(
        "network",
        ("input.", "proxy.", "dns.", "tcp.", "starttls.", "tls."),
        supported_by=("interception.none", "captive_portal.none", "clock.ok"),
    ),
    Rule(
        "certificate",
        (
            "cert.revoked",
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
    # Programs refusing what nothing above explains: their own stores, libraries or settings.
    Rule("programs", ("programs.none_connect", "programs.some_refuse", "programs.")),
)


# Findings whose effect is not the one their status suggests.
_UNSAFE = frozenset(
    {
        "truststore.known_bad_root",
        "truststore.env_known_bad",
        "cert.known_bad_root",
        "cert.weak_key",
        "cert.weak_signature",
        "protocol.legacy_only",
    }
)
# Failures of the server's configuration that no client made since about 2015 meets.
_HYGIENE_FAILURES = frozenset({"protocol.ssl_enabled"})
_UNCHECKED_IDS = frozenset({"truststore.unavailable", "cert.revocation_not_checked"})


def effect(finding: Finding) -> Effect:
    """The effect of a warning or failure on this user's connection (see `Effect`)."""
    if finding.id.endswith(_UNCHECKED_SUFFIXES) or (
        finding.id in _UNCHECKED_IDS and finding.status is not Status.FAIL
    ):
        return Effect.UNCHECKED
    if finding.id in ("interception.detected", "cert.intercepted"):
        # An interceptor this computer trusts reads the traffic; one it does not breaks it.
        untrusted = finding.params.get("variant") == "untrusted" or (
            finding.id == "cert.intercepted" and finding.status is Status.FAIL
        )
        return Effect.BLOCKS if untrusted else Effect.UNSAFE
    if finding.id in _UNSAFE:
        # A weak key or signature that this machine's default client refuses stops it.
        return Effect.BLOCKS if finding.params.get("refused_here") is True else Effect.UNSAFE
    if finding.id == "cert.revocation_unreachable" and finding.params.get("hard_fail") is True:
        # Schannel's programs (curl and git built with it, PowerShell) refuse when they
        # cannot ask; elsewhere clients go on.
        return Effect.BLOCKS
    if finding.id == "cert.expires_soon" and finding.params.get("variant") == "urgent":
        # Connections fail within the week: it leads the verdict though they work today.
        return Effect.UNSAFE
    if finding.status is Status.FAIL and finding.id not in _HYGIENE_FAILURES:
        return Effect.BLOCKS
    return Effect.HYGIENE


def _rule_of(finding: Finding) -> tuple[int, Rule] | None:
    if finding.id == "cert.revocation_unreachable" and finding.params.get("http_blocked") is True:
        # This network stops plain HTTP (the portal probes got no answer): the responder is
        # out of reach for the network's reasons, not the certificate's.
        return next((i, r) for i, r in enumerate(RULES) if r.name == "network")
    return next(((i, r) for i, r in enumerate(RULES) if r.rank(finding) is not None), None)


# The machine's causes that act through certificates, and the rule order when the target's
# handshake stopped before any certificate was judged.
_CERTIFICATE_CAUSES = ("clock", "interception", "trust_store")
_TARGET_FIRST = (
    "captive_portal",
    "network",
    "protocol",
    "certificate",
    *_CERTIFICATE_CAUSES,
    "programs",
)
# Findings that mean this computer's clients cannot complete a handshake with the target.
_NO_HANDSHAKE = ("protocol.no_common_version", "cipher.no_common_suite", "protocol.none_accepted")


def _order(finding: Finding, target_first: bool = False) -> tuple[int, int, int]:
    """By effect on the connection first; then rule order; then the rule's own cause order."""
    found = _rule_of(finding)
    tier = int(effect(finding))
    if found is None:
        return (tier, len(RULES), 0)
    index, rule = found
    if target_first:
        index = _TARGET_FIRST.index(rule.name)
    return (tier, index, rule.rank(finding) or 0)


def _rule_name(finding: Finding) -> str | None:
    found = _rule_of(finding)
    return found[1].name if found is not None else None


def _explains(cause: Finding, finding: Finding) -> bool:
    if effect(cause) is Effect.UNCHECKED:
        return False  # what was not observed explains nothing
    if refusals_explained(cause, finding):
        # What the server or this computer does wrong is why the programs refuse: they are
        # its evidence, not a rival cause.
        return True
    found = _rule_of(cause)
    return found is not None and found[1].explains(cause, finding)


def _explainer(finding: Finding, candidates: list[Finding]) -> Finding | None:
    """The best other problem whose rule accounts for `finding`, if any."""
    for other in sorted(candidates, key=_order):
        if other is finding or not _explains(other, finding):
            continue
        if _explains(finding, other) and _order(finding) < _order(other):
            continue  # they explain each other: the one earlier in the order stays the cause
        return other
    return None


def _connects(results: tuple[CheckResult, ...]) -> bool | None:
    """Whether this computer's clients complete a handshake with the target (None: no target):
    our probe's handshake succeeded and the protocol check found a version and suite in common."""
    tls = next((r for r in results if r.check_id == "tls"), None)
    if tls is None:
        return None
    failed = any(
        f.id in _NO_HANDSHAKE and f.status is Status.FAIL for r in results for f in r.findings
    )
    return tls.finding("tls.ok") is not None and not failed


def verdict(results: Iterable[CheckResult]) -> Verdict:
    """The one most likely cause among `results`, with the findings it rests on."""
    results = tuple(results)
    checked = tuple(r.check_id for r in results if r.status not in (Status.SKIP, Status.ERROR))
    connects = _connects(results)
    everything = [f for r in results for f in r.findings]
    problems = [f for f in everything if f.status in (Status.FAIL, Status.WARN)]
    explained = {id(f): e for f in problems if (e := _explainer(f, problems)) is not None}
    target_first = connects is False

    def order(finding: Finding) -> tuple[int, int, int]:
        return _order(finding, target_first)

    remaining = sorted((f for f in problems if id(f) not in explained), key=order)
    if not remaining or (connects and effect(remaining[0]) >= Effect.HYGIENE):
        # Nothing stops or endangers the connection: say so, and list what is left below.
        return Verdict(
            Status.PASS,
            None,
            None,
            "certain",
            (),
            None,
            checked,
            None,
            connects,
            tuple(Problem(f, effect(f)) for f in remaining),
        )
    cause, others = remaining[0], remaining[1:]
    tier = effect(cause)
    rule = _rule_of(cause)
    same_rule = [f.id for f in others if _rule_of(f) == rule]
    accounted = [f.id for f in problems if explained.get(id(f)) is cause]
    support = [f.id for f in everything if rule is not None and f.id in rule[1].supported_by]
    # Other findings of the same rule are the same story told twice, not a rival cause; only
    # a problem as grave as the cause can make it less certain, and when the handshake never
    # reached a certificate, nothing that acts through certificates can.
    rivals = [
        f
        for f in others
        if _rule_of(f) != rule
        and effect(f) == tier
        and not (target_first and _rule_name(f) in _CERTIFICATE_CAUSES)
        # Programs refusing are what a cause does to them, never a cause of their own
        # beside another one.
        and _rule_name(f) != "programs"
    ]
    if tier <= Effect.UNSAFE:
        # A finding that names only the likely one of its explanations says so (`likely`).
        unsure = bool(rivals) or cause.params.get("likely") is True
        confidence: Confidence = "likely" if unsure else "certain"
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
        effect=tier,
        connects=connects,
        left=tuple(Problem(f, effect(f)) for f in others if f.id not in same_rule),
    )
