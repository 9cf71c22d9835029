"""The error decoder: paste an error message, see its likely causes and run the check for each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from checks.present import catalogue
from checks.present.decoder import Cause, Explanation, ambiguity_text, explain
from gui.widgets import CopyButton, FixSteps, Section, bold, vertical_scroll, wrapping_label


@dataclass(frozen=True)
class Decoded:
    """An explanation and, for each cause's finding, the check that can emit it and its scope."""

    explanation: Explanation
    checks: Mapping[str, tuple[str, str]]


def decode(text: str, lang: str) -> Decoded:
    """Explain `text` and look up the checks that confirm its causes (run off the GUI thread)."""
    from gui.worker import finding_owners  # loads every check module, hence the worker thread

    explanation = explain(text, lang=lang)
    owners = finding_owners()
    checks = {c.finding: owners[c.finding] for c in explanation.causes if c.finding in owners}
    return Decoded(explanation, checks)


def _check_name(check_id: str, lang: str) -> str:
    key = f"check_name.{check_id}"
    return catalogue.ui_texts(lang).get(key) or catalogue.ui_texts("en").get(key) or check_id


class CauseWidget(QFrame):
    """One likely cause: how it produces the message, and the check that confirms it."""

    run_requested = Signal(str, str)

    def __init__(
        self,
        number: int,
        cause: Cause,
        *,
        check: tuple[str, str] | None,
        host: str | None,
        lang: str,
    ) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.cause = cause
        self.check_id = check[0] if check else ""
        self._host = host if check is not None and check[1] == "target" else None
        likelihood = catalogue.ui(f"confidence.{cause.likelihood}", lang=lang)
        heading = catalogue.ui("gui_decoder.cause", lang=lang, number=number, likelihood=likelihood)
        self.heading = bold(wrapping_label(heading))
        self.why_label = wrapping_label(cause.why)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.why_label)
        command = QHBoxLayout()
        code = wrapping_label(cause.run)
        code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        code.setWordWrap(False)
        command.addWidget(code, 0, Qt.AlignmentFlag.AlignVCenter)
        command.addWidget(CopyButton(cause.run, lang), 0, Qt.AlignmentFlag.AlignVCenter)
        command.addStretch(1)
        self.run_button: QPushButton | None = None
        if check is not None:
            name = _check_name(self.check_id, lang)
            confirm = catalogue.ui(
                "gui_decoder.confirmed_by", lang=lang, check=name, finding=cause.finding
            )
            layout.addWidget(wrapping_label(confirm))
            self.run_button = QPushButton(catalogue.ui("gui_decoder.run", lang=lang, check=name))
            self.run_button.setAccessibleName(self.run_button.text().replace("&", ""))
            self.run_button.clicked.connect(self._on_run_clicked)
            command.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(command)

    @Slot()
    def _on_run_clicked(self) -> None:
        self.run_requested.emit(self.check_id, self._host or "")


class DecoderView(QWidget):
    """A text box for the error, and the causes `checks.decoder.explain` finds in it."""

    explain_requested = Signal(str)
    # (check id, site named in the message or "")
    run_requested = Signal(str, str)
    # The site the message names: the window diagnoses it as if typed in its Site field.
    diagnose_requested = Signal(str)

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = lang
        self.causes: list[CauseWidget] = []
        self.decoded: Decoded | None = None
        self.heading = bold(wrapping_label(), 1.1)
        self.input = QPlainTextEdit()
        self.input.setTabChangesFocus(True)
        self.input.setMaximumHeight(self.input.fontMetrics().lineSpacing() * 7)
        self.explain_button = QPushButton()
        self.summary_label = wrapping_label()
        self.meaning_label = wrapping_label()
        self.site_button = QPushButton()
        self.site_button.setVisible(False)
        self.site_button.clicked.connect(self._on_site_clicked)
        self._results = QVBoxLayout()
        self._results.setSpacing(8)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(0, 0, 4, 0)
        outer.addWidget(self.summary_label)
        outer.addWidget(self.meaning_label)
        site_row = QHBoxLayout()
        site_row.addWidget(self.site_button)
        site_row.addStretch(1)
        outer.addLayout(site_row)
        outer.addLayout(self._results)
        outer.addStretch(1)
        scroll = vertical_scroll(content)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.explain_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.input)
        layout.addLayout(buttons)
        layout.addWidget(scroll, 1)
        self.explain_button.clicked.connect(self._on_explain_clicked)
        self.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.heading.setText(catalogue.ui("gui_decoder.heading", lang=lang))
        self.input.setPlaceholderText(catalogue.ui("gui_decoder.placeholder", lang=lang))
        self.input.setAccessibleName(catalogue.ui("gui_decoder.input", lang=lang))
        self.explain_button.setText(catalogue.ui("gui_decoder.explain", lang=lang))
        if self.decoded is not None and self.input.toPlainText().strip():
            self.explain_requested.emit(self.input.toPlainText())

    def show_message(self, sentence: str) -> None:
        self._clear()
        self.site_button.setVisible(False)
        self.meaning_label.setText("")
        self.meaning_label.setVisible(False)
        self.summary_label.setText(sentence)

    def _clear(self) -> None:
        while self._results.count():
            item = self._results.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.causes = []

    def show_decoded(self, decoded: Decoded) -> None:
        """Show what `decode` found: the meaning, each cause with its check, or the checklist."""
        self.decoded = decoded
        self._clear()
        explanation = decoded.explanation
        lang = self.lang
        self._show_site_button(explanation.host)
        if not explanation.recognised:
            self.summary_label.setText(catalogue.ui("gui_decoder.not_recognised", lang=lang))
            self.meaning_label.setVisible(False)
            if explanation.checklist:
                steps = FixSteps(explanation.checklist, lang)
                heading = catalogue.ui("gui_decoder.checklist", lang=lang)
                self._results.addWidget(Section(heading, steps))
            return
        self.summary_label.setText(
            catalogue.ui("gui_decoder.found", lang=lang, count=len(explanation.causes))
        )
        meaning = explanation.meaning
        if explanation.ambiguous:
            meaning += "\n\n" + ambiguity_text(explanation)
        if explanation.host:
            meaning += "\n" + catalogue.ui("gui_decoder.site", lang=lang, host=explanation.host)
        self.meaning_label.setText(meaning)
        self.meaning_label.setVisible(bool(meaning))
        for number, cause in enumerate(explanation.causes, 1):
            widget = CauseWidget(
                number,
                cause,
                check=decoded.checks.get(cause.finding),
                host=explanation.host,
                lang=lang,
            )
            widget.run_requested.connect(self.run_requested)
            self.causes.append(widget)
            self._results.addWidget(widget)

    def _show_site_button(self, host: str | None) -> None:
        self.site_button.setVisible(bool(host))
        if host:
            text = catalogue.ui("decoder.run_site", lang=self.lang, host=host)
            self.site_button.setText(text)
            self.site_button.setAccessibleName(text.replace("&", ""))

    @Slot()
    def _on_site_clicked(self) -> None:
        explanation = self.decoded.explanation if self.decoded is not None else None
        if explanation is not None and explanation.host:
            self.diagnose_requested.emit(explanation.host)

    @Slot()
    def _on_explain_clicked(self) -> None:
        text = self.input.toPlainText()
        if not text.strip():
            self.show_message(catalogue.ui("gui_decoder.empty", lang=self.lang))
            return
        self.show_message(catalogue.ui("gui_decoder.working", lang=self.lang))
        self.explain_requested.emit(text)
