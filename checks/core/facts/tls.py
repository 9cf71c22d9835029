"""What the TLS check measured: the handshake, the chain sent, and a second try without SNI."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class WithoutSni:
    """The same handshake without a server name: how it ended and which certificate came."""

    outcome: str
    alert: str | None
    leaf_sha256: str | None


@dataclass(frozen=True, kw_only=True)
class DefaultClient:
    """The same handshake under this machine's default client policy (what curl, git and most
    programs get), with certificates left to the cert check.

    Attributes:
        outcome: `ok`, `refused`, `timeout` or `error`.
        reason: OpenSSL's words for a refusal (`dh key too small`).
    """

    library: str
    security_level: int
    outcome: str
    reason: str | None
    version: str | None
    cipher: str | None


@dataclass(frozen=True, kw_only=True)
class TlsFacts(Facts):
    """The handshake with the target.

    Attributes:
        outcome: `ok`, or how it failed (`alert`, `closed`, `timeout`, `not_tls`, `malformed`).
        chain_pem: the certificates the server sent, its own first.
        first_bytes: what a port that is not TLS answered, for `not_tls` only.
        without_sni: only when a server name was sent and a chain came back.
        default_client: only where this machine's default policy can be read (Linux).
        ocsp_staple: the OCSP response the server stapled to the handshake, base64 (DER);
            absent when it stapled none.
    """

    check_id = "tls"

    address: str
    port: int
    sni: str | None
    outcome: str
    version: str | None
    cipher: str | None
    alert: str | None
    chain_pem: tuple[str, ...]
    client_cert_requested: bool
    client_ca_names: tuple[str, ...]
    first_bytes: str | None = absent_when_none()
    without_sni: WithoutSni | None = absent_when_none()
    default_client: DefaultClient | None = absent_when_none()
    ocsp_staple: str | None = absent_when_none()
