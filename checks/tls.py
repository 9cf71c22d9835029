"""Performs the TLS handshake with the target, collects the chain it sends, names how it fails."""

from __future__ import annotations

import dataclasses

from checks.core.check import Check, Context
from checks.core.facts.tcp import TcpFacts
from checks.core.facts.tls import TlsFacts, WithoutSni
from checks.core.models import Finding, Outcome, Status
from checks.lib.handshake import Handshake, handshake, malformed_kind, sniff_protocol

# Alerts with a text of their own; every other alert uses the generic one.
ALERT_VARIANTS = (
    "handshake_failure",
    "protocol_version",
    "unrecognized_name",
    "internal_error",
    "insufficient_security",
    "access_denied",
)
NOT_TLS_VARIANTS = ("http", "ssh", "smtp", "imap", "pop3", "ftp", "unknown")


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
    main = handshake(address, port, sni=target.sni, timeout=ctx.timeout(), cancel=ctx.cancel)
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
    )
    findings: list[Finding] = []
    client_cert = main.client_cert_requested and (
        main.outcome == "ok" or main.alert in ("certificate_required", "handshake_failure")
    )
    if client_cert:
        required = main.outcome != "ok"
        params: dict[str, object] = {"host": target.host, "ca_names": list(main.client_ca_names)}
        if not required:
            params["variant"] = "optional"
        findings.append(
            Finding("cert.client_cert_required", Status.FAIL if required else Status.WARN, params)
        )
    elif main.outcome != "ok":
        return Outcome((_problem(main, port, target.host),), facts)

    if main.outcome == "ok":
        ok = {"host": target.host, "version": main.version, "cipher": main.cipher}
        findings.insert(0, Finding("tls.ok", Status.PASS, ok))
    if target.sni and main.chain_pem:
        ctx.raise_if_cancelled()
        bare = handshake(address, port, sni=None, timeout=ctx.timeout(), cancel=ctx.cancel)
        without = WithoutSni(outcome=bare.outcome, alert=bare.alert, leaf_sha256=bare.leaf_sha256)
        facts = dataclasses.replace(facts, without_sni=without)
        variant = None
        if bare.outcome in ("alert", "closed") and not bare.client_cert_requested:
            variant = "reject"
        elif bare.leaf_sha256 and bare.leaf_sha256 != main.leaf_sha256:
            variant = "default_cert"
        if variant:
            sni = {"host": target.host, "variant": variant, "alert": bare.alert}
            findings.append(Finding("cert.sni_required", Status.WARN, sni))
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="tls",
    scope="target",
    run=run,
    requires=("tcp",),
    findings={
        "tls.ok": (),
        "tls.not_tls": NOT_TLS_VARIANTS,
        "tls.timeout": ("stalled",),
        "tls.closed": (),
        "tls.malformed": ("sslv2", "oversized", "invalid"),
        "tls.handshake_failed": ALERT_VARIANTS,
        "cert.sni_required": ("reject", "default_cert"),
        "cert.client_cert_required": ("optional",),
    },
)
