"""Bridges the engine to the GUI thread: runs a diagnosis on a QThreadPool and emits plain data."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from checks import registry
from checks.config import Settings
from checks.engine import diagnose
from checks.models import CheckResult
from checks.report import Report
from checks.target import Target
from checks.version import __version__


class _Signals(QObject):
    """Signals a worker emits from its thread; Qt queues them to the runner's thread."""

    result = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)


class _DiagnosisJob(QRunnable):
    """One run of the engine; emits immutable results only, never touches a widget."""

    def __init__(
        self, run_id: int, target: Target | None, settings: Settings, cancel: threading.Event
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the strong reference while it runs
        self.signals = _Signals()
        self._run_id = run_id
        self._target = target
        self._settings = settings
        self._cancel = cancel

    def run(self) -> None:
        try:
            plan = registry.plan(self._settings, has_target=self._target is not None)
            report = diagnose(
                plan,
                settings=self._settings,
                target=self._target,
                version=__version__,
                cancel=self._cancel,
                on_result=lambda r: self.signals.result.emit(self._run_id, r),
            )
        except Exception as exc:  # the engine never raises for a check; this is a last resort
            self.signals.failed.emit(self._run_id, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(self._run_id, report)


class CheckRunner(QObject):
    """Lives in the GUI thread and owns the signals; results of a superseded run are dropped."""

    result_ready = Signal(object)
    progress_changed = Signal(int, int)
    run_finished = Signal(object)
    run_failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._run_id = 0
        self._cancel = threading.Event()
        self._jobs: dict[int, _DiagnosisJob] = {}
        self._expected = 0
        self._received = 0

    @property
    def running(self) -> bool:
        return self._run_id in self._jobs

    def start(self, target: Target | None, settings: Settings) -> None:
        """Cancel any run in progress and start a new one."""
        self.cancel()
        self._run_id += 1
        self._cancel = threading.Event()
        self._expected = len(registry.plan(settings, has_target=target is not None))
        self._expected += 1 if target is not None and target.notes else 0
        self._received = 0
        job = _DiagnosisJob(self._run_id, target, settings, self._cancel)
        job.signals.result.connect(self._on_result)
        job.signals.finished.connect(self._on_finished)
        job.signals.failed.connect(self._on_failed)
        self._jobs[self._run_id] = job
        self.progress_changed.emit(0, self._expected)
        self._pool.start(job)

    def cancel(self) -> None:
        """Ask the running diagnosis to stop; it returns within a second."""
        self._cancel.set()

    def shutdown(self, timeout_ms: int = 1500) -> bool:
        """Cancel and wait for the worker; call from the window's closeEvent."""
        self.cancel()
        return self._pool.waitForDone(timeout_ms)

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
