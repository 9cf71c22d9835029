"""What the STARTTLS check saw of the plain-text start of a mail, directory, database or chat
connection."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class StartTlsFacts(Facts):
    """The upgrade on one connection to the address the TCP check reached.

    Attributes:
        protocol: the protocol spoken before TLS (`smtp`, `imap`, ...).
        outcome: how the plain-text phase ended (`checks.lib.starttls.OUTCOMES`).
        greeting: the server's first line, or its version (MySQL); absent when none came.
        offered: the capabilities it listed before the upgrade.
        advertised: whether the upgrade was among them (absent where nothing is listed).
        reply: its answer to the upgrade request, or the last thing it sent; absent when none.
        spoken: for a port that speaks another protocol, which one it looks like.
        direct_tls: for a port that said nothing or hung up, whether a TLS handshake from the
            first byte worked there (the implicit-TLS port given STARTTLS settings).
    """

    check_id = "starttls"

    protocol: str
    outcome: str
    greeting: str | None = absent_when_none()
    offered: tuple[str, ...]
    advertised: bool | None = absent_when_none()
    reply: str | None = absent_when_none()
    spoken: str | None = absent_when_none()
    direct_tls: bool | None = absent_when_none()
