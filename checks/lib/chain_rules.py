"""Asks a web-PKI verifier whether a chain is valid and names the rule or the root that fails it."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from checks.core.facts.certificate import Position
from checks.core.models import Finding, Status
from checks.lib.aia import Fetched
from checks.lib.certinfo import display_name, identity, is_self_signed
from checks.lib.trust import ChainPath, KnownBad, TrustStore, build_path

RuleKind = Literal["not_a_ca", "wrong_usage", "name_constraints"]
_SERVER_USAGES = frozenset(
    {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
)


@dataclass(frozen=True)
class RuleBreak:
    """One certificate of a chain that breaks a rule every browser and OpenSSL apply.

    Attributes:
        kind: `not_a_ca` (it signs others but is not a CA), `wrong_usage` (its extended key
            usage excludes web servers) or `name_constraints` (its CA may not vouch for host).
        position: its place in the chain from the leaf (0) up.
        subject: who it is, for people.
        usages: the extended key usages it allows (dotted names), for `wrong_usage`.
    """

    kind: RuleKind
    position: int
    subject: str
    usages: tuple[str, ...] = ()


def verifier_reason(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    host: str,
    is_ip: bool,
    now: datetime,
) -> str | None:
    """None when the verifier accepts `chain` (leaf first) for `host` under `anchors`; else its
    reason in its own words. It applies the CA/Browser Forum's rules, as browsers do."""
    if not chain or not anchors:
        return "no certificate or no root to check against"
    try:
        subject: x509.DNSName | x509.IPAddress = (
            x509.IPAddress(ipaddress.ip_address(host)) if is_ip else x509.DNSName(host)
        )
        verifier = (
            PolicyBuilder().store(Store(list(anchors))).time(now).build_server_verifier(subject)
        )
        verifier.verify(chain[0], list(chain[1:]))
    except VerificationError as exc:
        return str(exc).removeprefix("validation failed: ")
    except ValueError as exc:  # a name the verifier cannot take (an internationalised label)
        return str(exc)
    return None


def _usages(cert: x509.Certificate) -> tuple[x509.ObjectIdentifier, ...] | None:
    try:
        return tuple(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return True


def _within(host: str, base: str) -> bool:
    base = base.lower().lstrip(".")
    return host == base or host.endswith("." + base)


def _constrains_out(cert: x509.Certificate, host: str, *, is_ip: bool) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return False
    kind = x509.IPAddress if is_ip else x509.DNSName

    def matches(tree: x509.GeneralName) -> bool:
        if is_ip and isinstance(tree, x509.IPAddress):
            return ipaddress.ip_address(host) in tree.value  # type: ignore[operator]
        return isinstance(tree, x509.DNSName) and _within(host.lower(), tree.value)

    excluded = constraints.excluded_subtrees or []
    if any(matches(tree) for tree in excluded):
        return True
    permitted = [t for t in constraints.permitted_subtrees or [] if isinstance(t, kind)]
    return bool(permitted) and not any(matches(tree) for tree in permitted)


def rule_breaks(chain: Sequence[x509.Certificate], *, host: str, is_ip: bool) -> list[RuleBreak]:
    """The certificates of `chain` (leaf first, in issuing order) that break the rules the
    verifier enforces and our own path building does not: whom to blame when it says no."""
    breaks: list[RuleBreak] = []
    for position, cert in enumerate(chain):
        subject = display_name(cert.subject)
        issuer_role = position > 0
        if issuer_role and not _is_ca(cert) and not is_self_signed(cert):
            breaks.append(RuleBreak("not_a_ca", position, subject))
        usages = _usages(cert)
        if usages is not None and not set(usages) & _SERVER_USAGES:
            names = tuple(getattr(u, "_name", None) or u.dotted_string for u in usages)
            breaks.append(RuleBreak("wrong_usage", position, subject, names))
        if issuer_role and _constrains_out(cert, host, is_ip=is_ip):
            breaks.append(RuleBreak("name_constraints", position, subject))
    return breaks


# Findings whose fix is to trust, install or fetch the chain's root or issuer.
TRUST_ADVICE = frozenset(
    {
        "cert.untrusted_root",
        "cert.self_signed",
        "cert.incomplete_chain",
        "cert.trusted_locally_only",
        "cert.os_store_missing_root",
    }
)


def issued_by_known_bad(cert: x509.Certificate, index: int, entry: KnownBad) -> Finding:
    """A chain that leads to a compromised root the server did not send, recognised by the
    issuer's name and key identifier."""
    root = (
        display_name(x509.Name.from_rfc4514_string(entry.subject)) if entry.subject else entry.name
    )
    params = {
        "variant": "issuer",
        "name": entry.name,
        "subject": root,
        "issued": display_name(cert.subject),
        "issued_index": index,
        "position": "root",
        "spki_sha256": entry.spki_sha256,
        "reason": entry.reason,
    }
    return Finding("cert.known_bad_root", Status.FAIL, params)


_RULE_IDS = {
    "not_a_ca": "cert.not_a_ca",
    "wrong_usage": "cert.wrong_usage",
    "name_constraints": "cert.name_constraints",
}


def rule_findings(
    path: ChainPath,
    sent: Mapping[int, x509.Certificate],
    anchor: x509.Certificate,
    *,
    host: str,
    is_ip: bool,
    now: datetime,
) -> list[Finding]:
    """Our path builder links certificates by name and signature alone; the web-PKI verifier
    decides as browsers and OpenSSL do, and when it refuses a path ours accepts, the rule
    broken is named on the certificate that breaks it."""
    certs = [sent[i] for i in path.indices]
    if identity(anchor) != identity(certs[-1]):
        certs.append(anchor)
    reason = verifier_reason(certs, [anchor], host=host, is_ip=is_ip, now=now)
    if reason is None:
        return []
    findings = []
    for broken in rule_breaks(certs, host=host, is_ip=is_ip):
        index = path.indices[broken.position] if broken.position < len(path.indices) else None
        position: Position = (
            "leaf" if broken.position == 0 else "root" if index is None else "intermediate"
        )
        params: dict[str, object] = {
            **({} if index is None else {"index": index}),
            "subject": broken.subject,
            "position": position,
            "host": host,
            "usages": list(broken.usages),
            "reason": reason,
        }
        findings.append(Finding(_RULE_IDS[broken.kind], Status.FAIL, params, (reason,)))
    return findings


def with_fetched_issuer(
    finding: Finding, chain: Sequence[x509.Certificate], fetched: Fetched, store: TrustStore
) -> Finding:
    """`cert.incomplete_chain` decided by what its AIA address gave: an issuer that leads to a
    trusted root confirms the server forgot it; one that does not leaves a private CA open."""
    params = {**finding.params, "aia_fetched": "failed"}
    if not fetched.certificates:
        params["aia_error"] = fetched.error
        return dataclasses.replace(finding, params=params)
    certs = dict(enumerate([*chain, *fetched.certificates]))
    if build_path(certs, store).trusted:
        params["aia_fetched"] = "trusted"
    else:
        params.update(aia_fetched="untrusted", likely=True)
    return dataclasses.replace(finding, params=params)
