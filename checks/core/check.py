"""The contract between the engine and a check: what a check sees, and how it is registered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from checks.core.config import Scope, Settings
from checks.core.facts import F, facts_of
from checks.core.models import CheckResult, Outcome, Status
from checks.core.target import Target


class Cancelled(Exception):
    """The user cancelled while a check was waiting."""


@dataclass(frozen=True)
class Context:
    """What a running check may see: the settings, the target, its prerequisites and the clock.

    Attributes:
        settings: options of this run.
        target: the host being diagnosed, or None for a local-only run.
        cancel: set when the user cancels; every loop and socket wait polls it.
        results: the results of the checks this one requires.
        deadline: `time.monotonic()` value after which the engine stops waiting.
    """

    settings: Settings
    target: Target | None
    cancel: threading.Event
    results: Mapping[str, CheckResult]
    deadline: float

    def facts(self, kind: type[F]) -> F | None:
        """What an earlier check measured, typed, or None when it did not run or measure."""
        return facts_of(self.results.values(), kind)

    def remaining(self) -> float:
        """Seconds left before this check's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def stopped_by(self, check_id: str) -> str:
        """Why `check_id` gave nothing to go on: its first failure, what blocked it, or that it
        did not run (`<id>.skipped`); for the checks that work on its facts."""
        result = self.results.get(check_id)
        if result is None:
            return f"{check_id}.skipped"
        failed = next((f.id for f in result.findings if f.status is Status.FAIL), None)
        return failed or result.blocked_by or f"{check_id}.skipped"

    def raise_if_cancelled(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def timeout(self) -> float:
        """The network timeout to use now: the configured one, cut short by the deadline."""
        return max(0.05, min(self.settings.connect_timeout, self.remaining()))


@dataclass(frozen=True)
class Check:
    """One diagnosis step, registered by its module.

    Attributes:
        id: stable name used in reports and `requires`.
        scope: `local` for this machine, `target` for the host being diagnosed.
        run: gathers facts and returns findings; may raise (the engine turns that into `error`).
        findings: every finding id `run` can emit, mapped to the `variant` params it may carry.
        requires: checks that must finish without failing first.
        after: checks whose results this one reads when they ran, whatever their status
            (the certificate check reads the clock's); they never block it.
    """

    id: str
    scope: Scope
    run: Callable[[Context], Outcome] = field(repr=False)
    findings: Mapping[str, tuple[str, ...]]
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
