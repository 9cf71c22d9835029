"""The verdict banner: the one most likely cause in plain words, its traffic light, what to do."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from checks.core.models import Report
from checks.present import catalogue
from checks.present.report import verdict_view
from gui import theme
from gui.widgets import Doc, IconView, RichView, bold, status_words, wrapping_label


class VerdictBanner(QFrame):
    """Shows the intro, progress, a one-sentence error, or a finished report's verdict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.status = "none"
        self._recolouring = False
        self.shape = IconView(44)
        self.status_label = bold(QLabel())
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.kicker_label = wrapping_label()
        self.headline_label = bold(wrapping_label(), 1.35)
        self.headline_label.setAccessibleName("verdict")
        self.detail_label = wrapping_label()
        # What to do first, with a copy link beside every command.
        # Built with the first steps to show: a text browser is costly to make at launch.
        self.steps_view: RichView | None = None
        self.steps: tuple[str, ...] = ()
        self._steps_heading = ""

        light = QVBoxLayout()
        light.setSpacing(2)
        light.addWidget(self.shape, 0, Qt.AlignmentFlag.AlignHCenter)
        light.addWidget(self.status_label, 0, Qt.AlignmentFlag.AlignHCenter)
        light.addStretch(1)
        texts = QVBoxLayout()
        texts.setSpacing(4)
        texts.addWidget(self.kicker_label)
        texts.addWidget(self.headline_label)
        texts.addWidget(self.detail_label)
        self._texts = texts
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(14)
        layout.addLayout(light)
        layout.addLayout(texts, 1)

    def text(self) -> str:
        """Everything the banner says, as plain text (what a screen reader reads)."""
        parts = [
            self.status_label.text(),
            self.kicker_label.text(),
            self.headline_label.text(),
            self.detail_label.text(),
        ]
        if self.steps:
            parts.append(self._steps_heading)
            parts += [f"{n}. {s}" for n, s in enumerate(self.steps, 1)]
        return "\n".join(p for p in parts if p)

    def show_message(self, text: str, *, status: str = "none", lang: str = "en") -> None:
        """One sentence (intro, progress, an input error), with a traffic light unless `none`."""
        self._set(status, lang, kicker="", headline=text, detail="", steps=(), heading="")

    def show_report(self, report: Report, lang: str) -> None:
        """The report's verdict, worded exactly as the exported and printed reports word it."""
        view = verdict_view(report, lang=lang, surface="window")
        details = list(view.details)
        for heading, titles in view.left:
            colon = catalogue.ui("report.colon", lang=lang)
            details.append(f"{heading}{colon}" + "; ".join(titles))
        self._set(
            "none" if view.status == "skip" else view.status,
            lang,
            kicker=view.kicker,
            headline=view.headline,
            detail="\n".join(details),
            steps=view.steps,
            heading=view.steps_heading,
        )

    def _set(
        self,
        status: str,
        lang: str,
        *,
        kicker: str,
        headline: str,
        detail: str,
        steps: tuple[str, ...],
        heading: str,
    ) -> None:
        self.status = status
        if status == "none":
            self.shape.set_icon(None)
            self.shape.setVisible(False)
            self.status_label.setText("")
            self.setAccessibleName(headline)
        else:
            word, accessible = status_words(status, lang)
            self.shape.set_icon(f"status-{status}")
            self.shape.setVisible(True)
            self.status_label.setText(word)
            self.shape.setAccessibleName(accessible)
            self.status_label.setAccessibleName(accessible)
            self.setAccessibleName(f"{catalogue.ui('window.verdict', lang=lang)}: {word}")
        self.status_label.setVisible(status != "none")
        self.kicker_label.setText(kicker)
        self.kicker_label.setVisible(bool(kicker))
        self.headline_label.setText(headline)
        self.headline_label.setAccessibleName(headline)
        self.detail_label.setText(detail)
        self.detail_label.setVisible(bool(detail))
        self.steps = tuple(steps)
        self._steps_heading = heading
        doc = Doc(lang)
        if steps:
            doc.heading(heading)
            doc.steps(steps)
        if self.steps_view is None and steps:
            self.steps_view = RichView()
            self._texts.addWidget(self.steps_view)
        if self.steps_view is not None:
            self.steps_view.set_doc(doc)
            self.steps_view.setVisible(bool(steps))
            self.steps_view.setAccessibleName(heading)
        self._recolour()

    def _recolour(self) -> None:
        palette = self.palette()
        parent = self.parentWidget()
        base = QPalette(parent.palette() if parent is not None else palette)
        if self.status == "none":
            colour = base.color(QPalette.ColorRole.Base)
        else:
            colour = theme.tint(self.status, base)
        palette.setColor(QPalette.ColorRole.Window, colour)
        self.setPalette(palette)
        label = self.status_label.palette()
        label.setColor(self.status_label.foregroundRole(), theme.status_color(self.status, base))
        self.status_label.setPalette(label)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # A theme switch arrives as PaletteChange; so does our own setPalette, hence the guard.
        if event.type() == QEvent.Type.PaletteChange and not self._recolouring:
            self._recolouring = True
            try:
                self._recolour()
            finally:
                self._recolouring = False
