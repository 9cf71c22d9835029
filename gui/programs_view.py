"""The programs on this computer that make TLS connections, one row each, with how each fared."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView, QVBoxLayout, QWidget

from checks.core.facts import facts_of
from checks.core.facts.programs import ProgramRecord, ProgramsFacts
from checks.core.models import CheckResult
from checks.present import catalogue
from gui import icons
from gui.cards import CheckCard, replace_card
from gui.models import ResultsModel
from gui.widgets import bold, wrapping_label

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("program", "library", "trust_store", "result", "reason")
# The traffic light of each result; the word is always shown beside it.
RESULT_STATUS = {"connects": "pass", "refuses": "fail", "unknown": "skip"}


class ProgramsModel(QAbstractTableModel):
    """One row per program: name and version, TLS library, trust store, result, reason."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.lang = catalogue.DEFAULT_LANGUAGE
        self.programs: tuple[ProgramRecord, ...] = ()

    def set_facts(self, facts: ProgramsFacts | None) -> None:
        self.beginResetModel()
        self.programs = facts.programs if facts is not None else ()
        self.endResetModel()

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self.programs:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.programs) - 1, len(COLUMNS) - 1)
            )

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.programs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if 0 <= section < len(COLUMNS):
            return catalogue.ui(f"gui_programs.column_{COLUMNS[section]}", lang=self.lang)
        return None

    def _text(self, program: ProgramRecord, column: str) -> str:
        if column == "program":
            return program.label
        if column == "library":
            return program.tls_library or "—"
        if column == "trust_store":
            store = catalogue.ui(f"gui_programs.store_{program.trust_store}", lang=self.lang)
            return f"{store} ({program.trust_store_path})" if program.trust_store_path else store
        if column == "result":
            if program.result is None:
                return catalogue.ui("gui_programs.result_none", lang=self.lang)
            return catalogue.ui(f"gui_programs.result_{program.result}", lang=self.lang)
        return program.detail or "—"

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (
            0 <= index.row() < len(self.programs) and 0 <= index.column() < len(COLUMNS)
        ):
            return None
        program = self.programs[index.row()]
        column = COLUMNS[index.column()]
        if role in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.AccessibleTextRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return self._text(program, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "result" and program.result:
            return icons.status_icon(RESULT_STATUS.get(program.result, "skip"))
        if role == Qt.ItemDataRole.UserRole and column == "result":
            return program.result
        return None


class ProgramsView(QWidget):
    """The programs check's card above the table of programs."""

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = lang
        self.model = ProgramsModel(self)
        self.model.lang = lang
        self._cards_model = ResultsModel(self)
        self._cards_model.lang = lang
        self.card: CheckCard | None = None
        self.heading = bold(wrapping_label(), 1.1)
        self.empty_label = wrapping_label()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._card_holder = QVBoxLayout()
        self._card_holder.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(self._card_holder)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        self.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.model.set_language(lang)
        self._cards_model.set_language(lang)
        self.heading.setText(catalogue.ui("gui_programs.heading", lang=lang))
        self.empty_label.setText(catalogue.ui("gui_programs.empty", lang=lang))
        self.table.setAccessibleName(catalogue.ui("gui_programs.table", lang=lang))
        if self.card is not None:
            self.card.retranslate()

    def show_result(self, result: CheckResult | None) -> None:
        """Show the `programs` check's result (None: it did not run)."""
        self._cards_model.clear()
        self.model.set_facts(facts_of(() if result is None else (result,), ProgramsFacts))
        self.table.setVisible(self.model.rowCount() > 0)
        self.empty_label.setVisible(result is None)
        self.card = replace_card(self.card, result, self._cards_model, self._card_holder)
