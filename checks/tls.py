"""Performs the TLS handshake with the target, collects the chain it sends, names how it fails."""

from __future__ import annotations

import base64
import dataclasses
import math

from cryptography import x509

from checks.core.check import Check, Context
from checks.core.facts.tcp import TcpFacts
from checks.core.facts.tls import DefaultClient, TlsFacts, WithoutSni
from checks.core.models import Finding, Outcome, Status
from checks.core.schemes import STARTTLS_PROTOCOLS, protocol_name
from checks.lib import default_client, net, starttls
from checks.lib.certinfo import common_names, display_name, dns_names, ip_names, load_pem
from checks.lib.handshake import (
    Handshake,
    handshake,
    malformed_kind,
    sent_certificates,
)
from checks.lib.starttls import sniff_protocol

# Alerts with a text of their own; every other alert uses the generic one.
ALERT_VARIANTS = (
    "handshake_failure",
    "protocol_version",
    "unrecognized_name",
    "internal_error",
    "insufficient_security",
    "access_denied",
)
NOT_TLS_VARIANTS = (
    "http", "ssh", "smtp", "imap", "pop3", "ftp", "ldap", "postgres", "mysql", "xmpp",
    "after_upgrade", "unknown",
)  # fmt: skip
# How a port that wants a plain-text upgrade first meets TLS from the first byte.
_UPGRADE_HINTS = ("not_tls", "closed", "timeout")
# Why this machine's default client policy refuses a server our probe reaches.
POLICY_VARIANTS = ("dh_small", "security_level", "version", "suite")
# OpenSSL reasons that mean no protocol version is shared.
_VERSION_REASONS = frozenset(
    {
        "unsupported_protocol",
        "no_protocols_available",
        "tlsv1_alert_protocol_version",
        "wrong_version_number",
        "legacy_sigalg_disallowed_or_unsupported",
    }
)
_SUITE_REASONS = frozenset({"sslv3_alert_handshake_failure", "no_ciphers_available"})
_MODERN = ("TLSv1.2", "TLSv1.3")


def _problem(hs: Handshake, port: int, host: str) -> Finding:
    """The finding for a handshake that did not complete."""
    if hs.outcome == "not_tls":
        variant = sniff_protocol(hs.first_bytes)
        params = {"host": host, "port": port, "variant": variant, "first_bytes": hs.detail}
        return Finding("tls.not_tls", Status.FAIL, params, (hs.detail,))
    if hs.outcome == "timeout":
        params = {"host": host, "port": port}
        if hs.received:
            params.update(variant="stalled", bytes=hs.received)
        return Finding("tls.timeout", Status.FAIL, params, (hs.detail,))
    if hs.outcome == "malformed":
        variant = malformed_kind(hs.first_bytes, hs.detail)
        params = {"host": host, "port": port, "variant": variant}
        return Finding("tls.malformed", Status.FAIL, params, (hs.detail,))
    if hs.outcome == "alert" and hs.alert:
        params = {"host": host, "port": port, "alert": hs.alert}
        if hs.alert in ALERT_VARIANTS:
            params["variant"] = hs.alert
        return Finding("tls.handshake_failed", Status.FAIL, params, (hs.detail,))
    return Finding("tls.closed", Status.FAIL, {"host": host, "port": port}, (hs.detail,))


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    tcp = ctx.facts(TcpFacts)
    # The engine runs this check only after the TCP check connected somewhere.
    assert tcp is not None
    assert tcp.connected
    address, port = tcp.connected[0], target.port
    opening = starttls.opening(target)
    main = handshake(
        address,
        port,
        sni=target.sni,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
        opening=opening,
        http=target.protocol == "https",
    )
    facts = TlsFacts(
        address=address,
        port=port,
        sni=target.sni,
        outcome=main.outcome,
        version=main.version,
        cipher=main.cipher,
        alert=main.alert,
        chain_pem=main.chain_pem,
        client_cert_requested=main.client_cert_requested,
        client_ca_names=main.client_ca_names,
        first_bytes=main.detail if main.outcome == "not_tls" else None,
        ocsp_staple=base64.b64encode(main.ocsp_staple).decode("ascii")
        if main.ocsp_staple
        else None,
    )
    findings: list[Finding] = []
    refused = main.client_cert_refused is not None
    client_cert = main.client_cert_requested and (
        main.outcome == "ok" or main.alert in ("certificate_required", "handshake_failure")
    )
    if client_cert:
        required = main.outcome != "ok" or refused
        params: dict[str, object] = {"host": target.host, "ca_names": list(main.client_ca_names)}
        if not required:
            params["variant"] = "optional"
        findings.append(
            Finding("cert.client_cert_required", Status.FAIL if required else Status.WARN, params)
        )
    elif main.outcome != "ok":
        problem = _problem(main, port, target.host)
        if problem.params.get("variant") == "oversized":
            ctx.raise_if_cancelled()
            problem = _oversized_certificate(ctx, address, port, problem)
        elif main.outcome == "not_tls" and target.starttls is not None:
            # The server agreed to the upgrade, then answered the handshake in plain text.
            params = {**problem.params, "variant": "after_upgrade"}
            params["protocol_name"] = protocol_name(target.starttls)
            problem = dataclasses.replace(problem, params=params)
        elif main.outcome in _UPGRADE_HINTS and problem.params.get("variant") in (None, "unknown"):
            ctx.raise_if_cancelled()
            problem = _needs_upgrade(ctx, address, problem)
        return Outcome((problem,), facts)

    if main.outcome == "ok":
        ctx.raise_if_cancelled()
        judged, refusal = _default_client(ctx, address, port, client_cert=client_cert)
        if judged is not None:
            facts = dataclasses.replace(facts, default_client=judged)
        if refusal is not None:
            findings.insert(0, refusal)
        else:
            ok = {"host": target.host, "version": main.version, "cipher": main.cipher}
            findings.insert(0, Finding("tls.ok", Status.PASS, ok))
    if target.sni and main.chain_pem:
        ctx.raise_if_cancelled()
        bare = handshake(
            address, port, sni=None, timeout=ctx.timeout(), cancel=ctx.cancel, opening=opening
        )
        without = WithoutSni(outcome=bare.outcome, alert=bare.alert, leaf_sha256=bare.leaf_sha256)
        facts = dataclasses.replace(facts, without_sni=without)
        findings += _without_sni(bare, main, target.host)
    return Outcome(tuple(findings), facts)


def _needs_upgrade(ctx: Context, address: str, problem: Finding) -> Finding:
    """TLS from the first byte failed on a mail, directory, database or chat port: when the
    protocol's own upgrade works there, the port wants it (TLS settings on a STARTTLS port)."""
    target = ctx.target
    assert target is not None
    if target.starttls is not None or target.protocol not in STARTTLS_PROTOCOLS:
        return problem
    try:
        sock = net.connect(address, target.port, timeout=ctx.timeout(), cancel=ctx.cancel)
    except net.ConnectError:
        return problem
    with sock:
        up = starttls.upgrade(
            sock, target.protocol, host=target.sni or target.host, timeout=ctx.timeout(),
            cancel=ctx.cancel,
        )  # fmt: skip
    if up.outcome != "ok":
        return problem
    params = {
        **problem.params,
        "variant": target.protocol,
        "first_bytes": up.greeting or problem.params.get("first_bytes") or "",
    }
    return Finding("tls.not_tls", Status.FAIL, params, problem.evidence)


def _oversized_certificate(ctx: Context, address: str, port: int, problem: Finding) -> Finding:
    """A reply too large for OpenSSL is most often a certificate with thousands of names: read
    it off the wire of a TLS 1.2 handshake (where it is not encrypted) and name it so."""
    assert ctx.target is not None
    wire = bytearray()
    handshake(
        address,
        port,
        sni=ctx.target.sni,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
        wire=wire,
        opening=starttls.opening(ctx.target),
    )
    certs = sent_certificates(bytes(wire))
    try:
        leaf = x509.load_der_x509_certificate(certs[0]) if certs else None
    except ValueError:
        leaf = None
    if leaf is None:
        return problem
    names = dns_names(leaf) + ip_names(leaf)
    params = {
        **problem.params,
        "variant": "oversized_certificate",
        "subject": display_name(leaf.subject),
        "names": len(names),
        "size_kb": math.ceil(len(certs[0]) / 1024),
        "chain_kb": math.ceil(sum(len(c) for c in certs) / 1024),
    }
    return dataclasses.replace(problem, params=params)


def _without_sni(bare: Handshake, main: Handshake, host: str) -> list[Finding]:
    """What a client that sends no server name gets. Another certificate is how every shared
    host and CDN works, and harmless to every client made since about 2010: information. A
    refusal leaves those clients without any connection: a warning."""
    if bare.outcome in ("alert", "closed") and not bare.client_cert_requested:
        refusal: dict[str, object] = {"host": host, "variant": "reject", "alert": bare.alert}
        return [Finding("cert.sni_required", Status.WARN, refusal)]
    if bare.leaf_sha256 and bare.leaf_sha256 != main.leaf_sha256:
        names = _names_of(bare.chain_pem[0]) if bare.chain_pem else []
        other: dict[str, object] = {
            "host": host,
            "default_names": names[:5],
            "default_names_total": len(names),
        }
        return [Finding("tls.sni_default_cert", Status.PASS, other)]
    return []


def _names_of(pem: str) -> list[str]:
    try:
        cert = load_pem(pem)
    except ValueError:
        return []
    return dns_names(cert) + ip_names(cert) or common_names(cert)


def _default_client(
    ctx: Context, address: str, port: int, *, client_cert: bool
) -> tuple[DefaultClient | None, Finding | None]:
    """Shake hands again as the programs on this machine do by default; our own probe admits
    everything so that the server's chain can be judged, and is no proof that they connect.
    Returns what the default client met and, when it is refused, the finding."""
    policy = default_client.system_policy()
    if policy is None:
        return None, None
    assert ctx.target is not None
    sni = ctx.target.sni
    strict = default_client.probe(
        address,
        port,
        sni=sni,
        policy=policy,
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
        opening=starttls.opening(ctx.target),
    )
    judged = DefaultClient(
        library=policy.library,
        security_level=policy.security_level,
        outcome=strict.outcome,
        reason=strict.detail or None if strict.outcome != "ok" else None,
        version=strict.version,
        cipher=strict.cipher,
    )
    if strict.outcome != "refused" or (client_cert and strict.reason in _CLIENT_CERT_REASONS):
        return judged, None
    variant = _policy_variant(ctx, address, port, strict, policy)
    params: dict[str, object] = {
        "host": ctx.target.host,
        "reason": strict.detail,
        "library": policy.library,
        "level": policy.security_level,
    }
    if variant is not None:
        params["variant"] = variant
    return judged, Finding("tls.policy_refused", Status.FAIL, params, (strict.detail,))


_CLIENT_CERT_REASONS = frozenset(
    {"tlsv13_alert_certificate_required", "sslv3_alert_handshake_failure"}
)


def _policy_variant(
    ctx: Context,
    address: str,
    port: int,
    strict: default_client.PolicyHandshake,
    policy: default_client.SystemPolicy,
) -> str | None:
    """Name the refusal: a small DH group by its own reason; otherwise one more handshake at
    security level 0 tells a level refusal (SHA-1 signatures, small keys) from versions or
    suites that the server and this machine do not share."""
    if strict.reason == "dh_key_too_small":
        return "dh_small"
    if strict.reason not in _VERSION_REASONS | _SUITE_REASONS:
        return None
    ctx.raise_if_cancelled()
    assert ctx.target is not None
    relaxed = default_client.probe(
        address,
        port,
        sni=ctx.target.sni,
        policy=dataclasses.replace(policy, security_level=0),
        timeout=ctx.timeout(),
        cancel=ctx.cancel,
        opening=starttls.opening(ctx.target),
    )
    if relaxed.outcome == "ok":
        return "security_level" if relaxed.version in _MODERN else "version"
    return "version" if strict.reason in _VERSION_REASONS else "suite"


CHECK = Check(
    id="tls",
    scope="target",
    run=run,
    requires=("tcp", "starttls"),
    findings={
        "tls.ok": (),
        "tls.not_tls": NOT_TLS_VARIANTS,
        "tls.timeout": ("stalled",),
        "tls.closed": (),
        "tls.malformed": ("sslv2", "oversized", "oversized_certificate", "invalid"),
        "tls.handshake_failed": ALERT_VARIANTS,
        "tls.policy_refused": POLICY_VARIANTS,
        "tls.sni_default_cert": (),
        "cert.sni_required": ("reject",),
        "cert.client_cert_required": ("optional",),
    },
)
