"""Loads the SVG icons shipped in `resources/icons` as resolution-independent Qt icons."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

STATUSES = ("pass", "warn", "fail", "skip", "error", "pending")
# Pixel sizes rendered when the SVG cannot be handed to Qt as a file (a zipped install).
_FALLBACK_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256)


def svg_bytes(name: str) -> bytes:
    """The SVG source of `resources/icons/<name>.svg`."""
    return importlib.resources.files("resources").joinpath("icons", f"{name}.svg").read_bytes()


@functools.cache
def icon(name: str) -> QIcon:
    """The icon `resources/icons/<name>.svg`, sharp at every size and device pixel ratio."""
    entry = importlib.resources.files("resources").joinpath("icons", f"{name}.svg")
    if isinstance(entry, Path) and entry.is_file():
        # Qt's SVG icon engine re-renders at whatever size and scale a view asks for.
        return QIcon(str(entry))
    from PySide6.QtSvg import QSvgRenderer  # only for zipped installs; keeps startup lean

    renderer = QSvgRenderer(QByteArray(entry.read_bytes()))
    result = QIcon()
    for size in _FALLBACK_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        result.addPixmap(pixmap)
    return result


def status_icon(status: str) -> QIcon:
    """The traffic-light shape of a status: circle, triangle, octagon, dashed circle, diamond."""
    return icon(f"status-{status if status in STATUSES else 'skip'}")
