"""The main window: a target field, Diagnose and Cancel, the verdict and the results."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from checks import catalogue
from checks.config import Settings
from checks.models import CheckResult
from checks.report import Report
from checks.target import TargetError, parse
from gui.models import ResultsModel
from gui.runner import CheckRunner


class MainWindow(QMainWindow):
    """The one window of the app; all diagnosis happens in `CheckRunner`'s worker."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.lang = catalogue.normalise_language(self.settings.lang)
        self.setWindowTitle("Handshake Doctor")
        self.resize(760, 480)

        self.runner = CheckRunner(self)
        self.model = ResultsModel(self)
        self.model.lang = self.lang

        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText(
            catalogue.ui("window.target_placeholder", lang=self.lang)
        )
        self.target_edit.setAccessibleName(catalogue.ui("window.target_label", lang=self.lang))
        self.target_edit.setClearButtonEnabled(True)
        self.diagnose_button = QPushButton(catalogue.ui("window.diagnose", lang=self.lang))
        self.diagnose_button.setDefault(True)
        self.cancel_button = QPushButton(catalogue.ui("window.cancel", lang=self.lang))
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.verdict_label = QLabel(catalogue.ui("window.intro", lang=self.lang))
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setAccessibleName(catalogue.ui("window.verdict", lang=self.lang))
        self.results_view = QListView()
        self.results_view.setModel(self.model)
        self.results_view.setAccessibleName(catalogue.ui("window.results", lang=self.lang))

        top = QHBoxLayout()
        top.addWidget(self.target_edit, 1)
        top.addWidget(self.diagnose_button)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout()
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.results_view, 1)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)

        self.target_edit.returnPressed.connect(self._on_diagnose_clicked)
        self.diagnose_button.clicked.connect(self._on_diagnose_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.runner.result_ready.connect(self._on_result_ready)
        self.runner.progress_changed.connect(self._on_progress_changed)
        self.runner.run_finished.connect(self._on_run_finished)
        self.runner.run_failed.connect(self._on_run_failed)
        self.last_report: Report | None = None

    @Slot()
    def _on_diagnose_clicked(self) -> None:
        text = self.target_edit.text().strip()
        try:
            target = parse(text) if text else None
        except TargetError as exc:
            self.verdict_label.setText(
                catalogue.ui(f"input_error.{exc.key}", lang=self.lang, **exc.params)
            )
            return
        self.model.clear()
        self.last_report = None
        self.verdict_label.setText(catalogue.ui("window.running", lang=self.lang))
        self.diagnose_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.runner.start(target, self.settings)

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.runner.cancel()

    @Slot(object)
    def _on_result_ready(self, result: CheckResult) -> None:
        self.model.add(result)

    @Slot(int, int)
    def _on_progress_changed(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _on_run_finished(self, report: Report) -> None:
        self.last_report = report
        self._idle()
        verdict = report.verdict
        status = verdict.status.value
        prefix = (
            f"{catalogue.ui(f'status_symbol.{status}', lang=self.lang)} "
            f"{catalogue.ui(f'status.{status}', lang=self.lang)}: "
        )
        if report.cancelled:
            text = catalogue.ui("verdict.cancelled", lang=self.lang)
        elif verdict.finding is None:
            text = prefix + catalogue.ui("verdict.no_problem", lang=self.lang)
        else:
            title = catalogue.render(verdict.finding, lang=self.lang).title
            confidence = catalogue.ui(f"confidence.{verdict.confidence}", lang=self.lang)
            text = prefix + catalogue.ui(
                "verdict.cause", lang=self.lang, confidence=confidence, title=title
            )
        self.verdict_label.setText(text)

    @Slot(str)
    def _on_run_failed(self, message: str) -> None:
        self._idle()
        self.verdict_label.setText(message)

    def _idle(self) -> None:
        self.diagnose_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.runner.shutdown()
        super().closeEvent(event)
