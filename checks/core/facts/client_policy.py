"""What the client_policy check read: the TLS versions and suites this computer's clients allow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from checks.core.facts import Facts


@dataclass(frozen=True, kw_only=True)
class StackPolicy:
    """What one TLS client stack allows (its id is its key in `ClientPolicyFacts.stacks`).

    Attributes:
        name: a label for people (product names, not translated).
        versions: the versions it will negotiate, oldest first; None when unknown.
        suites: the cipher suites it offers, by IANA name; None when unknown.
        settings: the raw values read (file keys, registry values).
        source: where they were read.
    """

    name: str
    versions: tuple[str, ...] | None
    suites: tuple[str, ...] | None
    settings: Mapping[str, object]
    source: str


@dataclass(frozen=True, kw_only=True)
class ClientPolicyFacts(Facts):
    """Every client stack found; `versions` and `suites` are those of the first (Python's).

    The protocols check compares the server with each stack.
    """

    check_id = "client_policy"

    versions: tuple[str, ...]
    suites: tuple[str, ...]
    stacks: Mapping[str, StackPolicy]
