"""What the revocation check asked of each certificate's OCSP responders and CRLs, and the
certificate-transparency proof the server's certificate carries."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class Answer:
    """One source's word on one certificate.

    Attributes:
        source: `stapled` (the server's OCSP staple), `ocsp` (the responder in AIA) or `crl`.
        url: where it was asked; absent for a staple.
        outcome: `good`, `revoked`, `unknown`, `unreachable`, `invalid`, `stale` or
            `error_status`.
        detail: how it failed, in plain words; absent when it answered.
        revoked_at: for `revoked`, when (ISO 8601 UTC).
        reason: for `revoked`, the CRL reason, when given.
        next_update: when newer information is due (ISO 8601 UTC), when given.
        via_proxy: the request went through this computer's HTTP proxy.
    """

    source: str
    url: str | None = absent_when_none()
    outcome: str
    detail: str | None = absent_when_none()
    revoked_at: str | None = absent_when_none()
    reason: str | None = absent_when_none()
    next_update: str | None = absent_when_none()
    via_proxy: bool = False


@dataclass(frozen=True, kw_only=True)
class Checked:
    """One certificate of the chain and what its sources said (in the order asked)."""

    index: int
    subject: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True, kw_only=True)
class RevocationFacts(Facts):
    """Revocation, must-staple and certificate transparency for the chain the server sent.

    Attributes:
        checked: the certificates asked about (the server's and each intermediate's).
        must_staple: the server's certificate demands a stapled OCSP response.
        stapled: the server stapled an OCSP response.
        scts: the certificate-transparency timestamps found (embedded and stapled).
        sct_logs: the distinct CT logs they come from (hex log ids).
        publicly_trusted: the chain ends in a root of the public set (Chrome requires SCTs).
    """

    check_id = "revocation"

    checked: tuple[Checked, ...]
    must_staple: bool
    stapled: bool
    scts: int
    sct_logs: tuple[str, ...]
    publicly_trusted: bool
