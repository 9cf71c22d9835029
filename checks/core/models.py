"""The immutable data every check produces: statuses, findings and check results."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from checks.core.facts import NO_FACTS, Facts

if TYPE_CHECKING:
    from checks.core.target import Target

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
        facts: the check's typed measurements (`checks.core.facts`), shown as "what was
            measured" and written to the JSON report.
        duration_s: wall time spent in the check.
        error: for `ERROR`, the message and traceback of what broke.
        blocked_by: for `SKIP`, the finding id of the prerequisite that failed.
    """

    check_id: str
    status: Status
    findings: tuple[Finding, ...] = ()
    facts: Facts = NO_FACTS
    duration_s: float = 0.0
    error: str | None = None
    blocked_by: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))

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
    facts: Facts = NO_FACTS
    blocked_by: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))

    @property
    def status(self) -> Status:
        """`SKIP` when the check found another check's finding already tells the story."""
        if self.blocked_by is not None:
            return Status.SKIP
        return Status.worst(f.status for f in self.findings)


Confidence = Literal["certain", "likely", "possible"]


class Effect(enum.IntEnum):
    """What a problem does to this user's connection; the verdict takes the smallest first.

    BLOCKS: makes a connection fail now (an expired certificate, a refused port, a clock years
        off, a portal that answers instead of the site).
    UNSAFE: the connection works but can be read, changed or forged (trusted interception, a
        compromised root, a weak key or signature).
    HYGIENE: matters only to other or older clients, or later (legacy protocols still enabled,
        a certificate expiring soon, an unneeded certificate in the chain).
    UNCHECKED: something could not be checked; never a cause of anything else, never explains
        another finding and never lowers the confidence of a real cause.
    """

    BLOCKS = 0
    UNSAFE = 1
    HYGIENE = 2
    UNCHECKED = 3


@dataclass(frozen=True)
class Problem:
    """A warning or failure and what it does to the connection."""

    finding: Finding
    effect: Effect


@dataclass(frozen=True)
class Verdict:
    """The headline of a diagnosis.

    Attributes:
        status: pass (nothing blocks and nothing is unsafe), warn or fail.
        finding: the finding that names the cause, or None when nothing is wrong, or when the
            target connects and what is left only matters later or to other clients.
        rule: the name of the rule that chose it.
        confidence: how sure the verdict is.
        evidence: ids of the findings the verdict rests on: the cause, what it explains, and
            passing findings that support it.
        runner_up: the second most likely cause when the first is not certain.
        checked: ids of the checks that ran, for "No problem found, checked: ...".
        effect: what the cause does to the connection; None without a cause.
        connects: the target's secure handshake succeeded (None when there was no target).
        left: the other problems nothing explains, most important first: what is left to
            improve, then what could not be checked.
    """

    status: Status
    finding: Finding | None
    rule: str | None
    confidence: Confidence
    evidence: tuple[str, ...]
    runner_up: Finding | None
    checked: tuple[str, ...]
    effect: Effect | None = None
    connects: bool | None = None
    left: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class FileSubject:
    """A certificate file judged offline (`handshake-doctor inspect`), in place of a site.

    Attributes:
        display: the file's path for people, with the home directory as ~.
        format: `pem`, `der`, `pkcs7` or `pkcs12`.
        certificates: how many certificates the file holds.
        name: the host name the server certificate was checked against.
    """

    display: str
    format: str
    certificates: int
    name: str


@dataclass(frozen=True)
class Report:
    """One finished (or cancelled) diagnosis.

    Attributes:
        version: the tool's version.
        target: what was diagnosed, or None for a local-only run.
        started_at: when the run started, timezone-aware UTC.
        duration_s: wall time of the whole run.
        verdict: the headline cause.
        results: every check result, in the plan's order.
        cancelled: the user stopped the run before every check finished.
        file: the certificate file judged instead of a site (`inspect`), if any.
    """

    version: str
    target: Target | None
    started_at: datetime
    duration_s: float
    verdict: Verdict
    results: tuple[CheckResult, ...]
    cancelled: bool = False
    file: FileSubject | None = None
