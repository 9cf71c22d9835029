"""Qt item models that present check results to views."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from checks.core.models import CheckResult, Finding
from checks.present import catalogue, check_view
from gui import icons

_Index = QModelIndex | QPersistentModelIndex


class ResultRole(enum.IntEnum):
    """Custom data roles of `ResultsModel`."""

    CHECK_ID = Qt.ItemDataRole.UserRole + 1
    STATUS = enum.auto()
    TITLE = enum.auto()
    RESULT = enum.auto()
    NAME = enum.auto()


class ResultsModel(QAbstractListModel):
    """One row per finished check, in arrival order; a rerun of a check replaces its row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._results: list[CheckResult] = []
        self._views: dict[tuple[str, str], check_view.CheckView] = {}
        self.lang = catalogue.DEFAULT_LANGUAGE

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's names
        return 0 if parent.isValid() else len(self._results)

    def clear(self) -> None:
        self.beginResetModel()
        self._results.clear()
        self._views.clear()
        self.endResetModel()

    def add(self, result: CheckResult) -> None:
        """Append `result`, or replace the row of an earlier result of the same check."""
        # Its own view is new; a skipped result's view names another check's finding, which
        # this result may bring or replace. Every other view stays as it was worded.
        waiting = {r.check_id for r in self._results if r.blocked_by is not None}
        self._views = {
            key: view
            for key, view in self._views.items()
            if key[0] != result.check_id and key[0] not in waiting
        }
        for row, old in enumerate(self._results):
            if old.check_id == result.check_id:
                self._results[row] = result
                self.dataChanged.emit(self.index(row), self.index(row))
                return
        row = len(self._results)
        self.beginInsertRows(QModelIndex(), row, row)
        self._results.append(result)
        self.endInsertRows()

    def set_language(self, lang: str) -> None:
        """Render every row in `lang` from now on."""
        self.lang = lang
        if self._results:
            self.dataChanged.emit(self.index(0), self.index(len(self._results) - 1))

    def results(self) -> tuple[CheckResult, ...]:
        return tuple(self._results)

    def result(self, check_id: str) -> CheckResult | None:
        return next((r for r in self._results if r.check_id == check_id), None)

    def _finding(self, finding_id: str) -> Finding | None:
        return next((f for r in self._results if (f := r.finding(finding_id)) is not None), None)

    def view(self, result: CheckResult) -> check_view.CheckView:
        """How `result` reads in the current language, as the exported reports word it."""
        key = (result.check_id, self.lang)
        kept = any(r is result for r in self._results)
        found = self._views.get(key) if kept else None
        if found is None:
            blocker = self._finding(result.blocked_by) if result.blocked_by else None
            title = check_view.title(blocker, self.lang) if blocker is not None else None
            found = check_view.live(result, self.lang, blocker=title)
            if kept:
                self._views[key] = found
        return found

    def title(self, result: CheckResult) -> str:
        """The one-line summary of a result: its worst finding's title, or why it did not run."""
        return self.view(result).summary

    def name(self, check_id: str) -> str:
        key = f"check_name.{check_id}"
        texts = catalogue.ui_texts(self.lang)
        return texts.get(key) or catalogue.ui_texts(catalogue.DEFAULT_LANGUAGE).get(key) or check_id

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        result = self._results[index.row()]
        status = result.status.value
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            symbol = catalogue.ui(f"status_symbol.{status}", lang=self.lang)
            word = catalogue.ui(f"status.{status}", lang=self.lang)
            return f"{symbol} {word}  {self.name(result.check_id)}: {self.title(result)}"
        if role == Qt.ItemDataRole.DecorationRole:
            return icons.status_icon(status)
        if role == ResultRole.CHECK_ID:
            return result.check_id
        if role == ResultRole.STATUS:
            return status
        if role == ResultRole.TITLE:
            return self.title(result)
        if role == ResultRole.RESULT:
            return result
        if role == ResultRole.NAME:
            return self.name(result.check_id)
        return None

    def roleNames(self) -> dict[int, QByteArray]:  # noqa: N802 - Qt's name
        return {role.value: QByteArray(role.name.lower().encode()) for role in ResultRole}
