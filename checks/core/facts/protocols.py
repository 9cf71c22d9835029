"""What the protocols check measured: the versions and cipher suites the server accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from checks.core.facts import Facts


@dataclass(frozen=True, kw_only=True)
class DhGroup:
    """One finite-field Diffie-Hellman group the server used.

    Attributes:
        suites: the DHE suites that used it, by IANA name.
        bits: the size of its prime p.
        name: the well-known group it is (`ffdhe2048 (RFC 7919)`, `Oakley group 2 (RFC 2409)`),
            or None for a group of the server's own.
        prime: whether p is prime; None when too large to test (over 4096 bits, not well known).
        safe_prime: whether (p - 1) / 2 is prime too; None when not tested.
    """

    suites: tuple[str, ...]
    bits: int
    name: str | None
    prime: bool | None
    safe_prime: bool | None


@dataclass(frozen=True, kw_only=True)
class ProtocolsFacts(Facts):
    """The enumeration of one server address.

    Attributes:
        versions: every version (`SSLv2` ... `TLSv1.3`) mapped to whether the server accepts it.
        suites: for each accepted version, the suites accepted, by IANA name, in the order found
            (SSLv2 cipher kinds by their own names).
        strength: each suite found mapped to its grade: `recommended`, `secure`, `weak` or
            `insecure`.
        preference: for each accepted version, `server` when the server picks by its own order,
            `client` when it takes ours, None when it could not be told.
        groups: the key exchange groups found (TLS 1.3's, else those of ECDHE suites), or None
            when none could be asked for.
        dh_bits: the smallest finite-field Diffie-Hellman group seen, or None.
        dh_groups: each distinct finite-field Diffie-Hellman group seen, with its suites.
        handshakes: how many handshakes the enumeration took.
        errors: the versions whose enumeration stopped early, and why.
    """

    check_id = "protocols"

    address: str
    port: int
    sni: str | None
    versions: Mapping[str, bool]
    suites: Mapping[str, tuple[str, ...]]
    strength: Mapping[str, str]
    preference: Mapping[str, str | None]
    groups: tuple[str, ...] | None
    dh_bits: int | None
    # Empty by default: reports built without judging DH groups (the GUI samples) stay valid.
    dh_groups: tuple[DhGroup, ...] = ()
    handshakes: int
    errors: Mapping[str, str]
