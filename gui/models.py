"""Qt item models that present check results to views."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from checks import catalogue
from checks.models import CheckResult, Status

_Index = QModelIndex | QPersistentModelIndex


class ResultRole(enum.IntEnum):
    """Custom data roles of `ResultsModel`."""

    CHECK_ID = Qt.ItemDataRole.UserRole + 1
    STATUS = enum.auto()
    TITLE = enum.auto()
    RESULT = enum.auto()


class ResultsModel(QAbstractListModel):
    """One row per finished check, in arrival order; a rerun of a check replaces its row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._results: list[CheckResult] = []
        self.lang = catalogue.DEFAULT_LANGUAGE

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's names
        return 0 if parent.isValid() else len(self._results)

    def clear(self) -> None:
        self.beginResetModel()
        self._results.clear()
        self.endResetModel()

    def add(self, result: CheckResult) -> None:
        row = len(self._results)
        self.beginInsertRows(QModelIndex(), row, row)
        self._results.append(result)
        self.endInsertRows()

    def title(self, result: CheckResult) -> str:
        """The one-line summary of a result: its worst finding's title, or why it did not run."""
        if result.status is Status.SKIP:
            return catalogue.ui("check.blocked_by", lang=self.lang, finding=result.blocked_by)
        if result.status is Status.ERROR:
            return catalogue.ui("check.error", lang=self.lang)
        worst = max(result.findings, key=lambda f: f.status.severity, default=None)
        return catalogue.render(worst, lang=self.lang).title if worst else ""

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        result = self._results[index.row()]
        status = result.status.value
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            symbol = catalogue.ui(f"status_symbol.{status}", lang=self.lang)
            word = catalogue.ui(f"status.{status}", lang=self.lang)
            name = catalogue.ui(f"check_name.{result.check_id}", lang=self.lang)
            return f"{symbol} {word}  {name}: {self.title(result)}"
        if role == ResultRole.CHECK_ID:
            return result.check_id
        if role == ResultRole.STATUS:
            return status
        if role == ResultRole.TITLE:
            return self.title(result)
        if role == ResultRole.RESULT:
            return result
        return None

    def roleNames(self) -> dict[int, QByteArray]:  # noqa: N802 - Qt's name
        return {role.value: QByteArray(role.name.lower().encode()) for role in ResultRole}
