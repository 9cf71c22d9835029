"""Check cards: one per check, grouped under "This computer" and "Connection to <host>"."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from checks.core.models import CheckResult, Status
from checks.present import catalogue, measured
from gui.models import ResultRole, ResultsModel
from gui.widgets import (
    Doc,
    RichView,
    StatusBadge,
    all_status_words,
    bold,
    status_words,
    wrapping_label,
)

_Index = QModelIndex | QPersistentModelIndex
_SCROLL_SETTLE_MS = 400
# Cards built per turn of the event loop: a few milliseconds each, then the window paints.
_CARDS_PER_TURN = 1
# A zero timer runs before anything else is looked at; 1 ms lets input and painting in between.
_TURN_MS = 1


def facts_html(lines: Sequence[measured.Line]) -> str:
    """What a check measured, labelled and in words as the reports show it."""
    rows = []
    for line in lines:
        pad = f"padding-left:{16 * line.depth}px; padding-right:12px"
        if line.label:
            rows.append(
                f"<tr><td style='{pad}'><b>{html.escape(line.label)}</b></td>"
                f"<td>{html.escape(line.value)}</td></tr>"
            )
        else:
            rows.append(f"<tr><td colspan='2' style='{pad}'>• {html.escape(line.value)}</td></tr>")
    return f"<table cellspacing='0' cellpadding='1'>{''.join(rows)}</table>"


class CheckCard(QFrame):
    """The traffic light, name and one-line summary of a check; opens to the whole story."""

    # a command that was copied from the details
    copied = Signal(str)

    def __init__(self, check_id: str, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check_id = check_id
        self._model = model
        self.result: CheckResult | None = None
        self.cancelled = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.toggle = QToolButton()
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.badge = StatusBadge()
        self.name_label = bold(wrapping_label())
        self.duration_label = QLabel()
        self.duration_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.summary_label = wrapping_label()

        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        name_row = QHBoxLayout()
        name_row.addWidget(self.name_label, 1)
        name_row.addWidget(self.duration_label, 0, Qt.AlignmentFlag.AlignTop)
        texts.addLayout(name_row)
        texts.addWidget(self.summary_label)
        header.addLayout(texts, 1)

        self.body = QWidget()
        self.body.setVisible(False)
        self._body_layout = QVBoxLayout(self.body)
        self._body_layout.setContentsMargins(36, 4, 4, 4)
        self._body_layout.setSpacing(8)
        self._body_built = False
        self.details: RichView | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self.toggle.toggled.connect(self._on_toggled)
        self.set_pending()

    @property
    def lang(self) -> str:
        return self._model.lang

    @property
    def status(self) -> str:
        return self.badge.status

    @property
    def expanded(self) -> bool:
        return self.toggle.isChecked()

    def summary(self) -> str:
        return self.summary_label.text()

    def set_pending(self) -> None:
        """Show the card of a check that has not reported yet."""
        self.result = None
        self.cancelled = False
        self._refresh()

    def set_cancelled(self) -> None:
        """Show the card of a check that never reported because the run was cancelled."""
        self.result = None
        self.cancelled = True
        self._refresh()

    def set_result(self, result: CheckResult) -> None:
        self.result = result
        self.cancelled = False
        self._refresh()

    def set_expanded(self, expanded: bool) -> None:
        self.toggle.setChecked(expanded)

    def retranslate(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        lang = self.lang
        name = self._model.name(self.check_id)
        self.name_label.setText(name)
        result = self.result
        if result is not None:
            status = result.status.value
        else:
            status = "skip" if self.cancelled else "pending"
        word, accessible = status_words(status, lang)
        self.badge.set_status(status, word, f"{name}: {accessible}", all_status_words(lang))
        if result is None:
            key = "check.cancelled" if self.cancelled else "gui_card.waiting"
            self.summary_label.setText(catalogue.ui(key, lang=lang))
            self.duration_label.setText("")
        else:
            self.summary_label.setText(self._model.title(result))
            seconds = f"{result.duration_s:.2f}".rstrip("0").rstrip(".") or "0"
            self.duration_label.setText(catalogue.ui("report.seconds", lang=lang, seconds=seconds))
        self.toggle.setEnabled(result is not None)
        verb = "gui_card.hide_details" if self.expanded else "gui_card.show_details"
        self.toggle.setAccessibleName(catalogue.ui(verb, lang=lang, name=name))
        self.toggle.setToolTip(self.toggle.accessibleName())
        self.setAccessibleName(f"{name}: {word}. {self.summary_label.text()}")
        self._body_built = False
        if self.expanded:
            QTimer.singleShot(_TURN_MS, self, self._build_body_later)

    def ensure_body(self) -> None:
        """Build the opened card's details now rather than at the next turn of the event loop."""
        if not self._body_built:
            self._build_body()

    @Slot()
    def _build_body_later(self) -> None:
        if self.expanded and not self._body_built:
            self._build_body()

    @Slot(bool)
    def _on_toggled(self, checked: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        if checked and not self._body_built:
            # The arrow turns at once; the details follow in the next turn of the event loop.
            QTimer.singleShot(_TURN_MS, self, self._build_body_later)
        self.body.setVisible(checked)
        name = self._model.name(self.check_id)
        verb = "gui_card.hide_details" if checked else "gui_card.show_details"
        self.toggle.setAccessibleName(catalogue.ui(verb, lang=self.lang, name=name))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        # The whole header is a click target, not only the small arrow.
        if event.button() == Qt.MouseButton.LeftButton and event.position().y() < (
            self.body.y() if self.body.isVisible() else self.height()
        ):
            if self.toggle.isEnabled():
                self.toggle.toggle()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _clear_body(self) -> None:
        self.details = None
        while self._body_layout.count():
            item = self._body_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def _build_body(self) -> None:
        self._clear_body()
        self._body_built = True
        result = self.result
        if result is None:
            return
        self.details = RichView()
        self.details.setAccessibleName(
            catalogue.ui("gui_card.details", lang=self.lang, name=self._model.name(self.check_id))
        )
        self.details.copied.connect(self.copied)
        self._body_layout.addWidget(self.details)
        self.details.set_doc(self.document(result))

    def document(self, result: CheckResult) -> Doc:
        """Everything the card says when opened, as one document."""
        lang = self.lang
        view = self._model.view(result)
        doc = Doc(lang)
        if view.error:
            doc.heading(catalogue.ui("report.error_detail", lang=lang))
            doc.copyable(view.error, view.error_line)
        for finding in view.told:
            if len(view.told) > 1:
                symbol = catalogue.ui(f"status_symbol.{finding['status']}", lang=lang)
                word = catalogue.ui(f"status.{finding['status']}", lang=lang)
                doc.heading(f"{symbol} {word}: {finding['title']}")
            if finding["explanation"]:
                doc.heading(catalogue.ui("gui_card.why", lang=lang))
                doc.para(finding["explanation"])
            if finding["fix"]:
                doc.heading(catalogue.ui("report.what_to_do", lang=lang))
                doc.steps(finding["fix"])
            if finding["fix_admin"]:
                doc.heading(catalogue.ui("report.fix_admin", lang=lang))
                doc.steps(finding["fix_admin"])
        if view.others:
            doc.heading(catalogue.ui("check.also_found", lang=lang))
            doc.para("\n".join(view.others))
        if view.evidence:
            doc.heading(catalogue.ui("report.evidence", lang=lang))
            items = "".join(f"<li><code>{html.escape(e)}</code></li>" for e in view.evidence)
            doc.raw(f"<ul style='margin-top:0'>{items}</ul>")
        doc.heading(catalogue.ui("gui_card.measured", lang=lang))
        if view.measured:
            doc.raw(facts_html(view.measured))
        else:
            doc.para(catalogue.ui("report.no_facts", lang=lang))
        return doc

    def commands(self) -> list[str]:
        """The commands the opened card offers to copy."""
        self.ensure_body()
        return self.details.commands() if self.details is not None else []

    def body_text(self) -> str:
        """The opened details as plain text."""
        self.ensure_body()
        return self.details.toPlainText() if self.details is not None else ""


class CardsPanel(QScrollArea):
    """The cards of one run, kept in step with a `ResultsModel`."""

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.cards: dict[str, CheckCard] = {}
        self._scopes: dict[str, str] = {}
        self._target_label: str | None = None
        self._scroll_target: CheckCard | None = None
        self._queue: list[str] = []
        self._build_scheduled = False
        self._order: dict[str, int] = {"input": -1}
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        self._layout = QVBoxLayout(content)
        self._layout.setContentsMargins(0, 0, 4, 0)
        self._layout.setSpacing(6)
        self.local_header = bold(wrapping_label(), 1.1)
        self.local_box = QVBoxLayout()
        self.local_box.setSpacing(6)
        self.target_header = bold(wrapping_label(), 1.1)
        self.target_box = QVBoxLayout()
        self.target_box.setSpacing(6)
        self._layout.addWidget(self.local_header)
        self._layout.addLayout(self.local_box)
        self._layout.addSpacing(6)
        self._layout.addWidget(self.target_header)
        self._layout.addLayout(self.target_box)
        self._layout.addStretch(1)
        self.setWidget(content)
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.dataChanged.connect(self._on_data_changed)
        model.modelReset.connect(self._on_model_reset)
        self._update_headers()

    @property
    def lang(self) -> str:
        return self.model.lang

    def begin(self, planned: Iterable[tuple[str, str]], target_label: str | None) -> None:
        """Show a waiting card for each planned `(check id, scope)`, in the plan's order.

        Cards of the previous run are reused; new ones are built one per event-loop turn, so
        that a long plan never holds up the window (a result builds its card at once).
        """
        planned = list(planned)
        self._order = {check_id: index for index, (check_id, _) in enumerate(planned)}
        self._order["input"] = -1
        for check_id, scope in planned:
            if self._scopes.get(check_id, scope) != scope:
                self._remove(check_id)
            self._scopes[check_id] = scope
        for check_id in [c for c in self.cards if c not in self._order]:
            self._remove(check_id)
        self._target_label = target_label
        self._queue = [c for c, _ in planned if c not in self.cards]
        for card in self.cards.values():
            card.set_pending()
        self._update_headers()
        if self._queue:
            self._schedule_build()

    def _schedule_build(self) -> None:
        if not self._build_scheduled:
            self._build_scheduled = True
            QTimer.singleShot(_TURN_MS, self, self._build_next)

    @Slot()
    def _build_next(self) -> None:
        self._build_scheduled = False
        built = 0
        while self._queue and built < _CARDS_PER_TURN:
            check_id = self._queue.pop(0)
            if check_id not in self.cards:
                self._card(check_id)
                built += 1
        self._update_headers()
        if self._queue:
            self._schedule_build()

    def build_all(self) -> None:
        """Build every card still queued (a finished run shows them all)."""
        for check_id in self._queue:
            if check_id not in self.cards:
                self._card(check_id)
        self._queue = []
        self._update_headers()

    def set_target_label(self, label: str | None) -> None:
        self._target_label = label
        self._update_headers()

    def card(self, check_id: str) -> CheckCard | None:
        return self.cards.get(check_id)

    def scroll_to(self, card: CheckCard) -> None:
        """Bring `card`'s header to the top, also once its details have been laid out."""
        self._scroll_target = card
        QTimer.singleShot(0, self, self._scroll_now)
        # The details are built in a later turn of the event loop and grow the scroll range;
        # until then every new range re-applies the position.
        QTimer.singleShot(_SCROLL_SETTLE_MS, self, self._scroll_done)

    @Slot()
    def _scroll_now(self) -> None:
        card = self._scroll_target
        content = self.widget()
        if card is None or content is None or not content.isAncestorOf(card):
            return
        layout = content.layout()
        if layout is not None:
            layout.activate()
        top = card.mapTo(content, card.rect().topLeft()).y()
        self.verticalScrollBar().setValue(max(0, top - 6))

    @Slot()
    def _scroll_done(self) -> None:
        self._scroll_target = None

    @Slot(int, int)
    def _on_range_changed(self, low: int, high: int) -> None:
        if self._scroll_target is not None:
            self._scroll_now()

    def in_group(self, scope: str) -> list[CheckCard]:
        box = self.local_box if scope == "local" else self.target_box
        items = (box.itemAt(i) for i in range(box.count()))
        found = (item.widget() for item in items if item is not None)
        return [w for w in found if isinstance(w, CheckCard)]

    def retranslate(self) -> None:
        self._update_headers()
        for card in self.cards.values():
            card.retranslate()

    def _remove(self, check_id: str) -> None:
        card = self.cards.pop(check_id, None)
        if card is not None:
            card.setParent(None)
            card.deleteLater()

    def _scope(self, check_id: str) -> str:
        if check_id in self._scopes:
            return self._scopes[check_id]
        return "target" if check_id == "input" else "local"

    def _card(self, check_id: str) -> CheckCard:
        card = self.cards.get(check_id)
        if card is None:
            card = CheckCard(check_id, self.model)
            self.cards[check_id] = card
            scope = self._scope(check_id)
            box = self.local_box if scope == "local" else self.target_box
            # Plan order, whatever order the cards are built in ("input" comes first).
            last = len(self._order) + 1
            rank = self._order.get(check_id, last)
            before = [c for c in self.in_group(scope) if self._order.get(c.check_id, last) <= rank]
            box.insertWidget(len(before), card)
            result = self.model.result(check_id)
            if result is not None:
                card.set_result(result)
        return card

    def _update_headers(self) -> None:
        lang = self.lang
        self.local_header.setText(catalogue.ui("window.group_local", lang=lang))
        label = self._target_label or ""
        self.target_header.setText(catalogue.ui("window.group_target", lang=lang, host=label))
        self.local_header.setVisible(self.local_box.count() > 0)
        self.target_header.setVisible(self.target_box.count() > 0)

    def _show_rows(self, first: int, last: int) -> None:
        for row in range(first, last + 1):
            result = self.model.data(self.model.index(row), ResultRole.RESULT)
            if not isinstance(result, CheckResult):
                continue
            card = self.cards.get(result.check_id)
            if card is not None:
                card.set_result(result)
            else:
                # Built next, at the usual pace of one card per turn; it reads its result then.
                if result.check_id in self._queue:
                    self._queue.remove(result.check_id)
                self._queue.insert(0, result.check_id)
                self._schedule_build()
        self._update_headers()
        # A skipped check's summary names its blocker's title, which may arrive later.
        arrived = {
            f.id
            for row in range(first, last + 1)
            if isinstance(
                r := self.model.data(self.model.index(row), ResultRole.RESULT), CheckResult
            )
            for f in r.findings
        }
        for card in self.cards.values():
            result = card.result
            if result is not None and result.status is Status.SKIP and result.blocked_by in arrived:
                card.retranslate()

    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, parent: _Index, first: int, last: int) -> None:
        self._show_rows(first, last)

    @Slot(QModelIndex, QModelIndex, list)
    def _on_data_changed(self, top: _Index, bottom: _Index, roles: Sequence[int] = ()) -> None:
        self._show_rows(top.row(), bottom.row())

    @Slot()
    def _on_model_reset(self) -> None:
        for card in self.cards.values():
            card.set_pending()


def statuses(panel: CardsPanel) -> dict[str, str]:
    """Check id -> status word shown on each card (for tests and screenshots)."""
    return {check_id: card.status for check_id, card in panel.cards.items()}


def replace_card(
    old: CheckCard | None, result: CheckResult | None, model: ResultsModel, holder: Any
) -> CheckCard | None:
    """Remove `old` and, when there is a result, add its card to the layout `holder`: how the
    side views (protocols, programs) show a check's card beside their tables."""
    if old is not None:
        old.setParent(None)
        old.deleteLater()
    if result is None:
        return None
    model.add(result)
    card = CheckCard(result.check_id, model)
    card.set_result(result)
    holder.addWidget(card)
    return card
