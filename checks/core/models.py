"""The immutable data every check produces: statuses, findings and check results."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FINDING_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class Status(enum.Enum):
    """How a finding or a check came out; `ERROR` means the check itself broke."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def severity(self) -> int:
        """Order for "worst of": error and skip never outrank a real failure."""
        return _SEVERITY[self]

    @staticmethod
    def worst(statuses: Any) -> Status:
        """The most severe of `statuses`, or `PASS` when there are none."""
        return max(statuses, key=lambda s: s.severity, default=Status.PASS)


_SEVERITY = {Status.SKIP: 0, Status.PASS: 1, Status.ERROR: 2, Status.WARN: 3, Status.FAIL: 4}


def _freeze(params: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(params))


@dataclass(frozen=True)
class Finding:
    """One fact worth telling the user, named by a stable dotted id such as `cert.expired`.

    Attributes:
        id: public contract: JSON reports, catalogue keys and translations use it.
        status: the traffic light of this finding.
        params: values the catalogue templates are filled with (plain JSON types).
        evidence: short raw observations backing the finding (not translated).
    """

    id: str
    status: Status
    params: Mapping[str, object] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not FINDING_ID.match(self.id):
            raise ValueError(f"finding id {self.id!r} is not dotted lowercase")
        object.__setattr__(self, "params", _freeze(self.params))
        object.__setattr__(self, "evidence", tuple(self.evidence))


@dataclass(frozen=True)
class CheckResult:
    """What one check reported.

    Attributes:
        check_id: the registry name of the check (`dns`, `tcp`, ...).
        status: the worst of the findings, or `SKIP`/`ERROR` set by the engine.
        findings: what the check concluded, each rendered by the catalogue.
        facts: the raw measurements (JSON types), shown as "what was measured".
        duration_s: wall time spent in the check.
        error: for `ERROR`, the message and traceback of what broke.
        blocked_by: for `SKIP`, the finding id of the prerequisite that failed.
    """

    check_id: str
    status: Status
    findings: tuple[Finding, ...] = ()
    facts: Mapping[str, object] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    blocked_by: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "facts", _freeze(self.facts))

    def finding(self, finding_id: str) -> Finding | None:
        """The finding with this id, if the check produced it."""
        return next((f for f in self.findings if f.id == finding_id), None)


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: its findings and facts; the engine adds the rest.

    `blocked_by` names a finding of another check that makes this one moot (the port does
    not speak TLS, so there are no protocol versions to judge); facts are still kept.
    """

    findings: tuple[Finding, ...]
    facts: Mapping[str, object] = field(default_factory=dict)
    blocked_by: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "facts", _freeze(self.facts))

    @property
    def status(self) -> Status:
        """`SKIP` when the check found another check's finding already tells the story."""
        if self.blocked_by is not None:
            return Status.SKIP
        return Status.worst(f.status for f in self.findings)
