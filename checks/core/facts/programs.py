"""What the programs check found: the TLS programs on this computer and how each fares."""

from __future__ import annotations

from dataclasses import dataclass

from checks.core.facts import Facts, absent_when_none


@dataclass(frozen=True, kw_only=True)
class ProgramRecord:
    """One program that makes TLS connections, and, with a target, how it fared.

    Attributes:
        name: its id (`curl`, `python`, `node`, `java`, `chrome`, ...).
        label: its name for people, with its version.
        tls_library: the TLS library it uses (`OpenSSL 3.0.19`, `GnuTLS 3.7.9`, `BoringSSL`).
        trust_store: whose roots it trusts (`os`, `certifi`, `node_bundled`, `java_cacerts`,
            `nss`, `chrome_root_store`, `file`).
        result: with a target, `connects`, `refuses` or `unknown`.
        reason: why it refuses (`dh`, `protocol`, `trust`, `name`, `expired`, ...).
        detail: the program's own message, or the rule applied to a program not run.
        how: `ran` (the real program was run) or `policy` (judged from its published policy).
    """

    name: str
    label: str
    version: str | None
    path: str | None
    tls_library: str | None
    trust_store: str
    trust_store_path: str | None
    result: str | None = absent_when_none()
    reason: str | None = absent_when_none()
    detail: str | None = absent_when_none()
    how: str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class ProgramsFacts(Facts):
    """Every TLS program found here, in a fixed order (browsers, then command-line tools)."""

    check_id = "programs"

    programs: tuple[ProgramRecord, ...]
