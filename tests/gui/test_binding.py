"""The pinned Qt binding keeps Python's reference counts right (PySide6 6.12.0 on 3.11 did not)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QLabel, QProgressBar, QWidget
from pytestqt.qtbot import QtBot

# Enough calls to see a loss of one reference per call, few enough that a leaking binding
# cannot bring None's count to zero here (which aborts the interpreter): it starts near 5,000.
CALLS_PER_METHOD = 150
# Other code may hold a few references to None at either reading; a leak loses hundreds.
NOISE = 25


def _void_calls(qtbot: QtBot) -> list[Callable[[], None]]:
    """Qt methods that return nothing, as the window calls them for every result."""
    label, widget, bar, box = QLabel(), QWidget(), QProgressBar(), QCheckBox()
    for w in (label, widget, bar, box):
        qtbot.addWidget(w)
    return [
        lambda: label.setText("text"),
        lambda: label.setToolTip("tip"),
        lambda: widget.setVisible(False),
        lambda: widget.setEnabled(True),
        lambda: bar.setValue(3),
        lambda: box.setChecked(True),
    ]


def test_void_qt_methods_do_not_lose_references_to_none(qtbot: QtBot) -> None:
    calls = _void_calls(qtbot)
    gc.collect()
    before = sys.getrefcount(None)
    for call in calls:
        for _ in range(CALLS_PER_METHOD):
            call()
    gc.collect()
    after = sys.getrefcount(None)
    # On Python 3.12 and later None is immortal and its count never moves; the assertion
    # still holds and guards the Python 3.11 builds we ship.
    lost = before - after
    assert lost < NOISE, (
        f"{lost} references to None lost in {len(calls) * CALLS_PER_METHOD} void Qt calls: "
        "this Qt binding will crash the window after a few diagnoses"
    )
