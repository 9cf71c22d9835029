"""Speaks the target's plain-text protocol up to the switch to TLS and names how that fails."""

from __future__ import annotations

from checks.core.check import Check, Context
from checks.core.facts.starttls import StartTlsFacts
from checks.core.facts.tcp import TcpFacts
from checks.core.models import Finding, Outcome, Status
from checks.core.schemes import (
    IMPLICIT_TLS_PORTS,
    STARTTLS_PORTS,
    STARTTLS_PROTOCOLS,
    protocol_name,
)
from checks.lib import net, starttls
from checks.lib.handshake import handshake

# The port each protocol upgrades on, and the port where it speaks TLS at once (mail clients'
# two settings); the protocols without an implicit-TLS port have only the first.
UPGRADE_PORT = {
    protocol: min(p for p, name in STARTTLS_PORTS.items() if name == protocol)
    for protocol in STARTTLS_PROTOCOLS
}
UPGRADE_PORT["smtp"] = 587
TLS_PORT = {protocol: port for port, protocol in IMPLICIT_TLS_PORTS.items()}
_IMPLICIT_VARIANTS = tuple(TLS_PORT)
_REFUSAL_IDS = {
    "not_offered": "starttls.not_offered",
    "after_auth": "starttls.after_auth",
    "refused": "starttls.refused",
    "unanswered": "starttls.refused",
}
_QUIET = ("silent", "closed", "tls")


def _speaks_tls(ctx: Context, address: str) -> bool:
    """Whether the port completes (or at least answers) a TLS handshake from the first byte."""
    assert ctx.target is not None
    hs = handshake(
        address, ctx.target.port, sni=ctx.target.sni, timeout=ctx.timeout(), cancel=ctx.cancel
    )
    return hs.outcome in ("ok", "alert") or bool(hs.chain_pem)


def run(ctx: Context) -> Outcome:
    target = ctx.target
    assert target is not None
    assert target.starttls is not None
    tcp = ctx.facts(TcpFacts)
    # The engine runs this check only after the TCP check connected somewhere.
    assert tcp is not None
    assert tcp.connected
    address, protocol = tcp.connected[0], target.starttls
    base: dict[str, object] = {
        "host": target.host,
        "port": target.port,
        "protocol": protocol,
        "protocol_name": protocol_name(protocol),
    }
    try:
        sock = net.connect(address, target.port, timeout=ctx.timeout(), cancel=ctx.cancel)
    except net.ConnectError as exc:
        up = starttls.Upgrade(protocol, "closed", reply=str(exc))
    else:
        with sock:
            up = starttls.upgrade(
                sock, protocol, host=target.sni or target.host, timeout=ctx.timeout(),
                cancel=ctx.cancel,
            )  # fmt: skip
    direct = None
    if up.outcome in _QUIET:
        ctx.raise_if_cancelled()
        direct = up.outcome == "tls" or _speaks_tls(ctx, address)
    facts = StartTlsFacts(
        protocol=protocol,
        outcome=up.outcome,
        greeting=up.greeting or None,
        offered=up.offered,
        advertised=up.advertised,
        reply=up.reply or None,
        spoken=up.spoken or None,
        direct_tls=direct,
    )
    timeout = round(ctx.settings.connect_timeout, 1)
    return Outcome((_finding(up, base, direct, timeout),), facts)


def _finding(
    up: starttls.Upgrade, base: dict[str, object], direct: bool | None, timeout: float
) -> Finding:
    protocol = up.protocol
    if up.outcome == "ok":
        params = {**base, "greeting": up.greeting or up.reply}
        return Finding("starttls.ok", Status.PASS, params)
    if direct:
        # The wrong-port mistake: STARTTLS settings on the port that speaks TLS at once.
        params = {
            **base,
            "tls_port": TLS_PORT.get(protocol, base["port"]),
            "upgrade_port": UPGRADE_PORT[protocol],
        }
        if protocol in _IMPLICIT_VARIANTS:
            params["variant"] = protocol
        return Finding("starttls.implicit_tls", Status.FAIL, params, _evidence(up))
    if up.outcome in _REFUSAL_IDS:
        params = {**base, "reply": up.reply, "offered": ", ".join(up.offered[:12])}
        if up.outcome == "not_offered":
            # What the administrator switches on differs per server: the steps are per protocol.
            params["variant"] = protocol
        if up.outcome == "unanswered":
            params.update(variant="unanswered", timeout_s=timeout)
        return Finding(_REFUSAL_IDS[up.outcome], Status.FAIL, params, _evidence(up))
    if up.outcome == "other":
        params = {**base, "spoken": up.spoken or "unknown", "reply": up.reply}
        return Finding("starttls.other_protocol", Status.FAIL, params, _evidence(up))
    variant = up.outcome if up.outcome in ("stalled", "closed") else "silent"
    params = {**base, "variant": variant, "reply": up.reply, "timeout_s": timeout}
    return Finding("starttls.no_greeting", Status.FAIL, params, _evidence(up))


def _evidence(up: starttls.Upgrade) -> tuple[str, ...]:
    return (up.reply,) if up.reply else ()


CHECK = Check(
    id="starttls",
    scope="target",
    run=run,
    requires=("tcp",),
    findings={
        "starttls.ok": (),
        "starttls.not_offered": STARTTLS_PROTOCOLS,
        "starttls.after_auth": (),
        "starttls.refused": ("unanswered",),
        "starttls.implicit_tls": _IMPLICIT_VARIANTS,
        "starttls.no_greeting": ("silent", "stalled", "closed"),
        "starttls.other_protocol": (),
    },
)
