"""What the interception check measured: the chain each well-known site presented here, and
whose root it ends in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checks.core.facts import Facts, absent_when_none
from checks.core.facts.certificate import Anchor, StoreRecord

Verdict = Literal["public", "intercepted", "incomplete", "failed"]


@dataclass(frozen=True, kw_only=True)
class ProbeRecord:
    """One well-known site's chain as fetched here, and what it says about the path to it.

    Attributes:
        canary: the site as configured (`host` or `host:port`).
        via: `direct`, or the proxy (credentials masked) the connection was tunnelled through.
        address: the address connected to directly, None through a proxy or when none was.
        verdict: `public` (anchored in the public set), `intercepted`, `incomplete` (the site
            left out an intermediate; no conclusion) or `failed` (no chain).
        issuer: who vouches for the chain at its top.
        anchor: the root the chain ends in (the local or public one), if any.
        product: the catalogue product named by the chain.
        trusted_here: whether this computer trusts an intercepted chain's root; None otherwise.
        chain: the subjects of the certificates sent, in the order sent.
        detail: how the handshake ended, or why there was none.
    """

    canary: str
    via: str
    address: str | None
    verdict: Verdict
    issuer: str | None
    anchor: Anchor | None
    product: str | None
    trusted_here: bool | None
    chain: tuple[str, ...]
    detail: str
    elapsed_ms: float


@dataclass(frozen=True, kw_only=True)
class InterceptionFacts(Facts):
    """Every well-known site fetched, and the stores the chains were judged by.

    Attributes:
        public_roots: the public set (Mozilla's, or `--known-roots`).
        trusted_roots: the roots this computer trusts (`--cacert`, else the OS's); None when
            the OS's store could not be read.
        invalid_canaries: configured sites that are no usable `host[:port]`.
    """

    check_id = "interception"

    public_roots: StoreRecord
    trusted_roots: StoreRecord | None
    probes: tuple[ProbeRecord, ...]
    invalid_canaries: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class InterceptionNotChecked(Facts):
    """No site was fetched: the run is offline, no site is usable, or the proxy opens no tunnel.

    Attributes:
        offline: whether the run is offline; absent when a broken proxy blocked the check.
        invalid_canaries: configured sites that are no usable `host[:port]`.
    """

    check_id = "interception"

    offline: bool | None = absent_when_none()
    invalid_canaries: tuple[str, ...]
