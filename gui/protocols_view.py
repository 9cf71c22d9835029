"""Protocol versions and cipher suites with strength marks, beside this machine's client policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from checks.core.facts import F, facts_of
from checks.core.facts.client_policy import ClientPolicyFacts
from checks.core.facts.protocols import ProtocolsFacts
from checks.core.models import CheckResult
from checks.present import catalogue
from gui import icons
from gui.cards import CheckCard, replace_card
from gui.models import ResultsModel
from gui.widgets import bold, vertical_scroll, wrapping_label

_Index = QModelIndex | QPersistentModelIndex
VERSION_ORDER = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "TLSv1.0", "SSLv3", "SSLv2")
STRENGTHS = ("insecure", "weak", "secure", "recommended")
# The traffic-light shape each strength mark borrows.
STRENGTH_STATUS = {"insecure": "fail", "weak": "warn", "secure": "pass", "recommended": "pass"}


def _measured(result: CheckResult | None, kind: type[F]) -> F | None:
    """The facts of `result`, or None when the check is missing, skipped or broke."""
    return facts_of(() if result is None else (result,), kind)


def _ordered_versions(versions: Sequence[str]) -> list[str]:
    known = [v for v in VERSION_ORDER if v in versions]
    return known + sorted(v for v in versions if v not in VERSION_ORDER)


class ProtocolsModel(QAbstractTableModel):
    """Rows are cipher suites, worst first; columns are the strength, then each version."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.lang = catalogue.DEFAULT_LANGUAGE
        self.versions: list[str] = []
        self.offered: dict[str, bool] = {}
        self.suites: list[str] = []
        self.by_version: dict[str, set[str]] = {}
        self.strength: dict[str, str] = {}
        self.client_suites: set[str] | None = None

    def set_facts(
        self, facts: ProtocolsFacts | None, client: ClientPolicyFacts | None = None
    ) -> None:
        """Load what the protocols check found (None: nothing), and the default suites of this
        computer's clients (the client_policy check's) when known."""
        self.beginResetModel()
        self.client_suites = set(client.suites) if client is not None else None
        self.offered = dict(facts.versions) if facts is not None else {}
        suites = facts.suites if facts is not None else {}
        self.by_version = {version: set(names) for version, names in suites.items()}
        # Only versions with suites get a column; the line above the table lists the others.
        self.versions = _ordered_versions(list(self.by_version))
        self.strength = dict(facts.strength) if facts is not None else {}
        every = {s for names in self.by_version.values() for s in names}
        rank = {name: i for i, name in enumerate(STRENGTHS)}
        self.suites = sorted(every, key=lambda s: (rank.get(self.strength.get(s, ""), -1), s))
        self.endResetModel()

    def clear(self) -> None:
        self.set_facts(None)

    @property
    def _fixed(self) -> int:
        """Columns before the versions: suite, strength, and this computer when known."""
        return 3 if self.client_suites is not None else 2

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, max(self.columnCount() - 1, 0))
        if self.suites:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self.suites) - 1, self.columnCount() - 1)
            )

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.suites)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._fixed + len(self.versions)

    def headerData(  # noqa: N802 - Qt's name
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Vertical:
            return section + 1 if 0 <= section < len(self.suites) else None
        if section == 0:
            return catalogue.ui("gui_protocols.column_suite", lang=self.lang)
        if section == 1:
            return catalogue.ui("gui_protocols.column_strength", lang=self.lang)
        if section == 2 and self.client_suites is not None:
            return catalogue.ui("gui_protocols.column_client", lang=self.lang)
        if self._fixed <= section < self._fixed + len(self.versions):
            return self.versions[section - self._fixed]
        return None

    def _strength_word(self, suite: str) -> str:
        mark = self.strength.get(suite)
        if mark not in STRENGTHS:
            return catalogue.ui("gui_protocols.strength_unknown", lang=self.lang)
        return catalogue.ui(f"gui_protocols.strength_{mark}", lang=self.lang)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (
            0 <= index.row() < len(self.suites) and 0 <= index.column() < self.columnCount()
        ):
            return None
        suite = self.suites[index.row()]
        column = index.column()
        if column == 0:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return suite
            return None
        if column == 1:
            mark = self.strength.get(suite, "")
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return self._strength_word(suite)
            if role == Qt.ItemDataRole.DecorationRole and mark in STRENGTH_STATUS:
                return icons.status_icon(STRENGTH_STATUS[mark])
            if role == Qt.ItemDataRole.UserRole:
                return mark
            return None
        if column == 2 and self.client_suites is not None:
            offered = suite in self.client_suites
            key = "gui_protocols.client_yes" if offered else "gui_protocols.client_no"
            version = ""
        else:
            version = self.versions[column - self._fixed]
            offered = suite in self.by_version.get(version, set())
            key = "gui_protocols.suite_offered" if offered else "gui_protocols.suite_not_offered"
        if role == Qt.ItemDataRole.DisplayRole:
            return "✔" if offered else "—"
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            return catalogue.ui(key, lang=self.lang, version=version)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.UserRole:
            return offered
        return None


class ProtocolsView(QWidget):
    """The protocols check's findings and suite table (left) and the client policy (right)."""

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = lang
        self.model = ProtocolsModel(self)
        self.model.lang = lang
        self._cards_model = ResultsModel(self)
        self._cards_model.lang = lang
        self.protocols_card: CheckCard | None = None
        self.policy_card: CheckCard | None = None

        self.heading = bold(wrapping_label(), 1.1)
        self.versions_label = wrapping_label()
        self.empty_label = wrapping_label()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.model.modelReset.connect(self._on_model_reset)
        self.policy_heading = bold(wrapping_label(), 1.1)
        self.policy_empty = wrapping_label()

        self._protocol_holder = QVBoxLayout()
        self._protocol_holder.setContentsMargins(0, 0, 0, 0)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.heading)
        left_layout.addLayout(self._protocol_holder)
        left_layout.addWidget(self.versions_label)
        left_layout.addWidget(self.empty_label)
        left_layout.addWidget(self.table, 1)
        self._policy_holder = QVBoxLayout()
        self._policy_holder.setContentsMargins(0, 0, 0, 0)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.policy_heading)
        right_layout.addWidget(self.policy_empty)
        right_layout.addLayout(self._policy_holder)
        right_layout.addStretch(1)
        side = vertical_scroll(right)
        side.setMinimumWidth(260)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([3000, 1000])  # proportions; the splitter scales them to its width
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self.retranslate(lang)

    @Slot()
    def _on_model_reset(self) -> None:
        # Long suite names take what is left; the narrow mark columns keep their own width.
        header = self.table.horizontalHeader()
        if self.model.columnCount() > 0:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.model.set_language(lang)
        self._cards_model.set_language(lang)
        self.heading.setText(catalogue.ui("gui_protocols.heading", lang=lang))
        self.policy_heading.setText(catalogue.ui("gui_protocols.policy_heading", lang=lang))
        self.empty_label.setText(catalogue.ui("gui_protocols.empty", lang=lang))
        self.policy_empty.setText(catalogue.ui("gui_protocols.policy_empty", lang=lang))
        self.table.setAccessibleName(catalogue.ui("gui_protocols.table", lang=lang))
        self._update_versions()
        for card in (self.protocols_card, self.policy_card):
            if card is not None:
                card.retranslate()

    def _update_versions(self) -> None:
        if not self.model.offered:
            self.versions_label.setText("")
            self.versions_label.setVisible(False)
            return
        parts = []
        for version in _ordered_versions(list(self.model.offered)):
            key = (
                "gui_protocols.offered"
                if self.model.offered[version]
                else "gui_protocols.not_offered"
            )
            parts.append(f"{version}: {catalogue.ui(key, lang=self.lang)}")
        self.versions_label.setText(" · ".join(parts))
        self.versions_label.setVisible(True)

    def show_results(self, protocols: CheckResult | None, policy: CheckResult | None) -> None:
        """Show the `protocols` and `client_policy` results (either may be missing)."""
        self._cards_model.clear()
        self.model.set_facts(
            _measured(protocols, ProtocolsFacts), _measured(policy, ClientPolicyFacts)
        )
        has_table = self.model.rowCount() > 0
        self.table.setVisible(has_table)
        self.empty_label.setVisible(protocols is None)
        self.protocols_card = replace_card(
            self.protocols_card, protocols, self._cards_model, self._protocol_holder
        )
        self.policy_card = replace_card(
            self.policy_card, policy, self._cards_model, self._policy_holder
        )
        self.policy_empty.setVisible(policy is None)
        self._update_versions()
