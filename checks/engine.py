"""Runs a plan of checks on worker threads and streams each result as it finishes."""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from checks import diagnosis
from checks.core.check import Cancelled, Check, Context
from checks.core.config import Settings
from checks.core.models import CheckResult, Report, Status
from checks.core.target import Target

MAX_PARALLEL_CHECKS = 4
_POLL_S = 0.05


def _blocker(result: CheckResult) -> str | None:
    """The finding id that stops dependants of `result`, or None when they may run."""
    if result.status is Status.SKIP:
        return result.blocked_by or f"{result.check_id}.skipped"
    if result.status is Status.ERROR:
        return f"{result.check_id}.error"
    if result.status is Status.FAIL:
        return next(f.id for f in result.findings if f.status is Status.FAIL)
    return None


def _execute(check: Check, context: Context, out: queue.Queue[tuple[str, CheckResult]]) -> None:
    started = time.monotonic()
    try:
        outcome = check.run(context)
    except Cancelled:
        return
    except Exception as exc:  # a broken check is data, never a crash of the run
        result = CheckResult(
            check.id,
            Status.ERROR,
            duration_s=time.monotonic() - started,
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        )
    else:
        result = CheckResult(
            check.id,
            outcome.status,
            outcome.findings,
            outcome.facts,
            duration_s=time.monotonic() - started,
            blocked_by=outcome.blocked_by,
        )
    out.put((check.id, result))


def run(
    plan: Iterable[Check],
    *,
    settings: Settings,
    target: Target | None,
    cancel: threading.Event,
) -> Iterator[CheckResult]:
    """Yield one result per check in completion order; stop within 0.1 s of `cancel` being set.

    Checks run on daemon threads so that a check stuck in a system call can neither delay the
    cancelled run nor keep the process alive at exit.
    """
    pending = list(plan)
    known = {check.id for check in pending}
    done: dict[str, CheckResult] = {}
    running: dict[str, float] = {}
    finished: queue.Queue[tuple[str, CheckResult]] = queue.Queue()

    while pending or running:
        if cancel.is_set():
            return
        for check in list(pending):
            requirements = [done.get(req) for req in check.requires if req in known]
            awaited = [done.get(other) for other in check.after if other in known]
            if any(r is None for r in (*requirements, *awaited)):
                continue
            blockers = [b for r in requirements if r is not None and (b := _blocker(r))]
            if blockers:
                pending.remove(check)
                done[check.id] = CheckResult(check.id, Status.SKIP, blocked_by=blockers[0])
                yield done[check.id]
                continue
            if len(running) >= MAX_PARALLEL_CHECKS:
                continue
            pending.remove(check)
            deadline = time.monotonic() + settings.check_deadline
            running[check.id] = deadline
            context = Context(
                settings=settings,
                target=target,
                cancel=cancel,
                results={
                    other: done[other] for other in (*check.requires, *check.after) if other in done
                },
                deadline=deadline,
            )
            threading.Thread(
                target=_execute, args=(check, context, finished), daemon=True, name=check.id
            ).start()
        if not running:
            continue
        try:
            check_id, result = finished.get(timeout=_POLL_S)
        except queue.Empty:
            now = time.monotonic()
            for check_id, deadline in list(running.items()):
                if now > deadline:
                    del running[check_id]
                    done[check_id] = CheckResult(
                        check_id,
                        Status.ERROR,
                        duration_s=settings.check_deadline,
                        error=f"did not finish within {settings.check_deadline:g} s",
                    )
                    yield done[check_id]
            continue
        if check_id in running:  # a late result after its deadline is dropped
            del running[check_id]
            done[check_id] = result
            yield result


def diagnose(
    plan: Iterable[Check],
    *,
    settings: Settings,
    target: Target | None,
    version: str,
    cancel: threading.Event | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    """Run `plan` to completion (or cancellation) and return the whole report with its verdict."""
    cancel = cancel or threading.Event()
    plan = tuple(plan)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    collected: dict[str, CheckResult] = {}
    stream: list[CheckResult] = []
    if target is not None and target.notes:
        notes = target.notes
        stream.append(CheckResult("input", Status.worst(n.status for n in notes), notes))
    for result in itertools.chain(
        stream, run(plan, settings=settings, target=target, cancel=cancel)
    ):
        collected[result.check_id] = result
        if on_result is not None:
            on_result(result)
    order = ["input", *(check.id for check in plan)]
    results = tuple(collected[cid] for cid in order if cid in collected)
    return Report(
        version=version,
        target=target,
        started_at=started_at,
        duration_s=time.monotonic() - started,
        verdict=diagnosis.verdict(results),
        results=results,
        cancelled=cancel.is_set(),
    )
