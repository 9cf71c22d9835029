"""The list of every check, in the order reports show them, and the plan for one run."""

from __future__ import annotations

import functools
import importlib
from typing import NamedTuple

from checks.core.check import Check
from checks.core.config import Scope, Settings
from checks.core.target import Target


class Entry(NamedTuple):
    """A check as the plan knows it before its module is imported (the module pulls in OpenSSL,
    cryptography and friends: a run imports only the checks it runs)."""

    id: str
    scope: Scope
    module: str  # checks.<module> defines CHECK
    # A Target attribute that must be set for the check to apply (None: every target).
    needs: str | None = None


# Report order. A test asserts each module's CHECK has this id and scope.
ENTRIES: tuple[Entry, ...] = (
    Entry("captive_portal", "local", "captive_portal"),
    Entry("clock", "local", "clock"),
    Entry("trust_store", "local", "trust_store"),
    Entry("proxy", "local", "proxy"),
    Entry("interception", "local", "interception"),
    Entry("security_software", "local", "security_software"),
    Entry("client_policy", "local", "client_policy"),
    Entry("programs", "local", "programs"),
    Entry("dns", "target", "dns"),
    Entry("tcp", "target", "tcp"),
    Entry("starttls", "target", "starttls", needs="starttls"),
    Entry("tls", "target", "tls"),
    Entry("cert", "target", "certificate"),
    Entry("revocation", "target", "revocation"),
    Entry("protocols", "target", "protocols"),
)


def load(entry: Entry) -> Check:
    """The `Check` of `entry`, importing its module on first use."""
    check: Check = importlib.import_module(f"checks.{entry.module}").CHECK
    if (check.id, check.scope) != (entry.id, entry.scope):
        raise RuntimeError(
            f"checks.{entry.module} registers {check.id!r} ({check.scope}), "
            f"the registry expects {entry.id!r} ({entry.scope})"
        )
    return check


@functools.cache
def all_checks() -> tuple[Check, ...]:
    """Every check, in report order (imports every check module: for docs, tests, the window)."""
    return tuple(load(entry) for entry in ENTRIES)


def plan(settings: Settings, target: Target | None) -> tuple[Check, ...]:
    """The checks to run: local ones unless `--only target`, target ones when there is a target
    (those that apply to it: the STARTTLS check only where TLS starts after an upgrade).

    Only the modules of these checks are imported.
    """
    wanted = {"local", "target"} if settings.only is None else {settings.only}
    if target is None:
        wanted.discard("target")
    return tuple(
        load(entry)
        for entry in ENTRIES
        if entry.scope in wanted
        and (entry.needs is None or (target is not None and getattr(target, entry.needs)))
    )


def emitted_findings() -> dict[str, tuple[str, ...]]:
    """Every finding id any check can emit, with its variants (the catalogue must cover them)."""
    ids: dict[str, tuple[str, ...]] = dict(INPUT_FINDINGS)
    for check in all_checks():
        ids.update(check.findings)
    return ids


# Notes `checks.target.parse` attaches to a target; the engine reports them as the `input` check.
INPUT_FINDINGS: dict[str, tuple[str, ...]] = {
    "input.credentials_removed": (),
    "input.port_assumed": (),
    "input.http_upgraded": (),
    "input.starttls_assumed": (),
    "input.servername_differs": (),
}
