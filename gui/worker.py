"""The diagnosis process: runs the engine away from the window and streams its results back."""

# The window and the checks never share an interpreter: a check that parses hundreds of
# certificates or scans processes would otherwise hold the interpreter lock for tens of
# milliseconds at a time, and the window could not paint meanwhile. This module imports no Qt,
# so that the child process starts without it.

from __future__ import annotations

import contextlib
import copyreg
import pickle
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from checks.core.certfile import CertFile
from checks.core.config import Settings
from checks.core.target import Target
from checks.core.version import __version__

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


def frozen_mapping(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    """A read-only mapping again, on the receiving side of a pipe."""
    return MappingProxyType(items)


def _reduce_mapping(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return frozen_mapping, (dict(mapping),)


# Findings freeze their params in read-only mappings, which pickle cannot send by itself.
copyreg.pickle(MappingProxyType, _reduce_mapping)


def planned_checks(
    settings: Settings, target: Target | None, only: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """`(check id, scope)` of every check a run will report, in the registry's order.

    `only` narrows the plan to those checks and the ones they require.
    """
    from checks import registry

    plan = registry.plan(settings, target)
    if only is not None:
        wanted = set(only)
        by_id = {check.id: check for check in plan}
        for check in reversed(plan):
            if check.id in wanted:
                wanted.update(check.requires)
        wanted &= set(by_id)
        plan = tuple(check for check in plan if check.id in wanted)
    checks: list[tuple[str, str]] = [(check.id, check.scope) for check in plan]
    if target is not None and target.notes:
        checks.insert(0, ("input", "target"))
    return checks


def check_scopes() -> dict[str, str]:
    """Check id -> `local` or `target`, as the registry declares them (imports no check)."""
    from checks import registry

    return {entry.id: entry.scope for entry in registry.ENTRIES}


def finding_owners() -> dict[str, tuple[str, str]]:
    """Finding id -> (check id, scope) of the first check that can emit it."""
    from checks import registry

    owners: dict[str, tuple[str, str]] = {}
    for check in registry.all_checks():
        for finding_id in check.findings:
            owners.setdefault(finding_id, (check.id, check.scope))
    return owners


def inspect_file(
    path: Path, *, host: str | None, is_ip: bool, password: bytes | None = None
) -> CertFile:
    """A certificate file judged as `handshake-doctor inspect` judges it (raises CertFileError)."""
    from checks import inspect

    return inspect.analyse(path, host=host, is_ip=is_ip, password=password)


def encode(target: Target | None, settings: Settings, only: Sequence[str] | None) -> bytes:
    """The arguments of a run, pickled here so that the child can import this module first."""
    return pickle.dumps((target, settings, tuple(only) if only is not None else None))


def _listen(control: Connection, cancel: threading.Event) -> None:
    """Set `cancel` when the window says so, or when it goes away."""
    try:
        while not cancel.is_set():
            if control.poll(0.1) and control.recv() == "cancel":
                break
    except (EOFError, OSError):
        pass
    cancel.set()


class _Outbox:
    """Sends messages to the window until it stops listening; then cancels the run, quietly."""

    def __init__(self, results: Connection, cancel: threading.Event) -> None:
        self._results = results
        self._cancel = cancel
        self._lock = threading.Lock()  # results arrive from the engine's threads
        self.open = True

    def send(self, message: tuple[str, object]) -> None:
        with self._lock:
            if not self.open:
                return
            try:
                self._results.send(message)
            except OSError:  # BrokenPipeError and friends: the window is gone
                self.open = False
                self._cancel.set()

    def close(self) -> None:
        with self._lock:
            self.open = False
            with contextlib.suppress(OSError):
                self._results.close()


def main(arguments: bytes, results: Connection, control: Connection) -> None:
    """Entry point of the child process: plan, run, and send every message to `results`.

    Messages: ("planned", [(id, scope)]), ("result", CheckResult), then ("finished", Report)
    or ("failed", text). When the window goes away the run is cancelled and ends without a word.
    """
    cancel = threading.Event()
    outbox = _Outbox(results, cancel)
    threading.Thread(target=_listen, args=(control, cancel), daemon=True).start()
    try:
        from checks import registry
        from checks.engine import diagnose

        target, settings, only = pickle.loads(arguments)
        planned = planned_checks(settings, target, only)
        outbox.send(("planned", planned))
        ids = {check_id for check_id, _ in planned}
        plan = tuple(c for c in registry.plan(settings, target) if c.id in ids)
        report = diagnose(
            plan,
            settings=settings,
            target=target,
            version=__version__,
            cancel=cancel,
            on_result=lambda result: outbox.send(("result", result)),
        )
    except Exception as exc:  # the engine never raises for a check; this is a last resort
        detail = traceback.format_exc()
        outbox.send(("failed", f"{type(exc).__name__}: {exc}\n{detail}"))
    else:
        outbox.send(("finished", report))
    finally:
        outbox.close()
