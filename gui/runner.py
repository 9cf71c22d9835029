"""Bridges the engine to the GUI thread: runs a diagnosis in a child process, emits plain data."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from checks.core.config import Settings
from checks.core.models import CheckResult, Report
from checks.core.target import Target
from gui import worker

if TYPE_CHECKING:
    # A pipe's ends are PipeConnection on Windows (mypy --platform win32 holds us to it).
    if sys.platform == "win32":
        from multiprocessing.connection import PipeConnection as Connection
    else:
        from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

# After a cancel, how long the child may take to send its cancelled report before it is killed
# (the engine itself stops within 0.1 s).
_CANCEL_GRACE_S = 0.6
_POLL_S = 0.05


class _Signals(QObject):
    """Signals a worker emits from its thread; Qt queues them to the runner's thread."""

    planned = Signal(int, object)
    result = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)


class _DiagnosisJob(QRunnable):
    """Starts one diagnosis process and relays its messages; never touches a widget."""

    def __init__(
        self,
        run_id: int,
        target: Target | None,
        settings: Settings,
        cancel: threading.Event,
        only: Sequence[str] | None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the strong reference while it runs
        self.signals = _Signals()
        self._run_id = run_id
        self._arguments = worker.encode(target, settings, only)
        self._lang = settings.lang
        self._cancel = cancel

    def run(self) -> None:
        import multiprocessing  # here, on the worker thread: not needed to show the window

        # "spawn" everywhere: a fork of a process that runs Qt threads is not safe.
        context = multiprocessing.get_context("spawn")
        results_in, results_out = context.Pipe(duplex=False)
        control_in, control_out = context.Pipe(duplex=False)
        process = context.Process(
            target=worker.main,
            args=(self._arguments, results_out, control_in),
            name="handshake-doctor-checks",
            daemon=True,
        )
        run_id = self._run_id
        try:
            process.start()
        except Exception as exc:  # no process, no run: said in one sentence, never a hang
            results_out.close()
            control_in.close()
            self.signals.failed.emit(run_id, f"{type(exc).__name__}: {exc}")
            return
        results_out.close()
        control_in.close()
        self._warm_texts()
        try:
            self._relay(results_in, control_out, process)
        finally:
            results_in.close()
            control_out.close()
            process.join(_CANCEL_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join(_CANCEL_GRACE_S)

    def _warm_texts(self) -> None:
        # Parsed on this thread while the child starts, not on the GUI thread at the first card.
        from checks.present import catalogue

        # A broken catalogue is reported where the window renders it, not here.
        with contextlib.suppress(OSError, ValueError):
            catalogue.finding_texts(catalogue.normalise_language(self._lang))

    def _relay(
        self,
        results: Connection,
        control: Connection,
        process: BaseProcess,
    ) -> None:
        run_id = self._run_id
        cancelled_at: float | None = None
        heard = False
        while True:
            if self._cancel.is_set() and cancelled_at is None:
                cancelled_at = time.monotonic()
                if not heard:
                    # Still starting up: nothing ran yet, so nothing is lost by stopping it now.
                    process.kill()
                    self.signals.cancelled.emit(run_id)
                    return
                with contextlib.suppress(OSError):  # the child is gone already
                    control.send("cancel")
            if cancelled_at is not None and time.monotonic() - cancelled_at > _CANCEL_GRACE_S:
                self.signals.cancelled.emit(run_id)
                return
            try:
                if not results.poll(_POLL_S):
                    if not process.is_alive() and not results.poll():
                        raise EOFError
                    continue
                kind, payload = results.recv()
                heard = True
            except (EOFError, OSError):
                if cancelled_at is not None:
                    self.signals.cancelled.emit(run_id)
                else:
                    code = process.exitcode
                    self.signals.failed.emit(
                        run_id, f"the diagnosis process ended unexpectedly (exit code {code})"
                    )
                return
            if kind == "planned":
                self.signals.planned.emit(run_id, payload)
            elif kind == "result":
                self.signals.result.emit(run_id, payload)
            elif kind == "finished":
                self.signals.finished.emit(run_id, payload)
                return
            else:
                self.signals.failed.emit(run_id, str(payload))
                return


class _TaskJob(QRunnable):
    """Any other slow, pure function (reading a certificate file) run off the GUI thread."""

    def __init__(self, task_id: int, function: Callable[[], object]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = _Signals()
        self._task_id = task_id
        self._function = function

    def run(self) -> None:
        try:
            value = self._function()
        except Exception as exc:  # handed to the GUI thread, which turns it into one sentence
            self.signals.finished.emit(self._task_id, exc)
        else:
            self.signals.finished.emit(self._task_id, value)


class CheckRunner(QObject):
    """Lives in the GUI thread and owns the signals; results of a superseded run are dropped."""

    # [(check id, scope), ...] of the run just started, before its first result
    run_planned = Signal(object)
    result_ready = Signal(object)
    progress_changed = Signal(int, int)
    run_finished = Signal(object)
    run_failed = Signal(str)
    # the run was cancelled and its process gave no report in time
    run_cancelled = Signal()
    # (task id, return value or the exception it raised)
    task_done = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(3)
        self._run_id = 0
        self._cancel = threading.Event()
        self._jobs: dict[int, _DiagnosisJob] = {}
        self._tasks: dict[int, _TaskJob] = {}
        self._task_id = 0
        self._expected = 0
        self._received = 0

    @property
    def running(self) -> bool:
        return self._run_id in self._jobs

    def start(
        self, target: Target | None, settings: Settings, only: Sequence[str] | None = None
    ) -> None:
        """Cancel any run in progress and start a new one (of `only` and what they require)."""
        self.cancel()
        self._run_id += 1
        self._cancel = threading.Event()
        self._expected = 0
        self._received = 0
        job = _DiagnosisJob(self._run_id, target, settings, self._cancel, only)
        job.signals.planned.connect(self._on_planned)
        job.signals.result.connect(self._on_result)
        job.signals.finished.connect(self._on_finished)
        job.signals.failed.connect(self._on_failed)
        job.signals.cancelled.connect(self._on_cancelled)
        self._jobs[self._run_id] = job
        self.progress_changed.emit(0, 0)
        self._pool.start(job)

    def submit(self, function: Callable[[], object]) -> int:
        """Run `function` on the pool; `task_done` carries its result. Returns the task id."""
        self._task_id += 1
        job = _TaskJob(self._task_id, function)
        job.signals.finished.connect(self._on_task_finished)
        self._tasks[self._task_id] = job
        self._pool.start(job)
        return self._task_id

    def cancel(self) -> None:
        """Ask the running diagnosis to stop; it reports within a second."""
        self._cancel.set()

    def shutdown(self, timeout_ms: int = 1500) -> bool:
        """Cancel and wait for the workers; call from the window's closeEvent."""
        self.cancel()
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _on_planned(self, run_id: int, planned: list[tuple[str, str]]) -> None:
        if run_id != self._run_id:
            return
        self._expected = len(planned)
        self.run_planned.emit(planned)
        self.progress_changed.emit(self._received, self._expected)

    @Slot(int, object)
    def _on_result(self, run_id: int, result: CheckResult) -> None:
        if run_id != self._run_id:
            return
        self._received += 1
        self.result_ready.emit(result)
        self.progress_changed.emit(self._received, self._expected)

    @Slot(int, object)
    def _on_finished(self, run_id: int, report: Report) -> None:
        self._jobs.pop(run_id, None)
        if run_id == self._run_id:
            self.run_finished.emit(report)

    @Slot(int, str)
    def _on_failed(self, run_id: int, message: str) -> None:
        self._jobs.pop(run_id, None)
        if run_id == self._run_id:
            self.run_failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, run_id: int) -> None:
        self._jobs.pop(run_id, None)
        if run_id == self._run_id:
            self.run_cancelled.emit()

    @Slot(int, object)
    def _on_task_finished(self, task_id: int, value: object) -> None:
        self._tasks.pop(task_id, None)
        self.task_done.emit(task_id, value)
