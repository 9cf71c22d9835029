"""Colours that stay readable in light and dark themes, and the dark palette for screenshots."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Text colours with at least 4.5:1 contrast on a light window, tinted banners included
# (GitHub Primer's emphasis shades) ...
_LIGHT = {
    "pass": "#116329",
    "warn": "#7d4e00",
    "fail": "#a40e26",
    "skip": "#4d555e",
    "error": "#6639ba",
    "pending": "#4d555e",
}
# ... and on a dark one (Primer dark).
_DARK = {
    "pass": "#3fb950",
    "warn": "#d29922",
    "fail": "#f85149",
    "skip": "#9198a1",
    "error": "#a371f7",
    "pending": "#9198a1",
}


def is_dark(palette: QPalette) -> bool:
    """Whether the window background is dark, however the theme got there."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def status_color(status: str, palette: QPalette) -> QColor:
    """The colour of a status word; it only ever repeats what the word and the shape say."""
    table = _DARK if is_dark(palette) else _LIGHT
    return QColor(table.get(status, table["skip"]))


def tint(status: str, palette: QPalette, amount: float = 0.12) -> QColor:
    """The window colour washed with a little of the status colour, for banner backgrounds."""
    base = palette.color(QPalette.ColorRole.Base)
    accent = status_color(status, palette)
    return QColor.fromRgbF(
        base.redF() + (accent.redF() - base.redF()) * amount,
        base.greenF() + (accent.greenF() - base.greenF()) * amount,
        base.blueF() + (accent.blueF() - base.blueF()) * amount,
    )


def dark_palette() -> QPalette:
    """A dark Fusion palette with readable disabled text and links."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#1f2328",
        QPalette.ColorRole.WindowText: "#e6edf3",
        QPalette.ColorRole.Base: "#0d1117",
        QPalette.ColorRole.AlternateBase: "#161b22",
        QPalette.ColorRole.ToolTipBase: "#161b22",
        QPalette.ColorRole.ToolTipText: "#e6edf3",
        QPalette.ColorRole.PlaceholderText: "#8b949e",
        QPalette.ColorRole.Text: "#e6edf3",
        QPalette.ColorRole.Button: "#2d333b",
        QPalette.ColorRole.ButtonText: "#e6edf3",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Light: "#444c56",
        QPalette.ColorRole.Midlight: "#373e47",
        QPalette.ColorRole.Mid: "#444c56",
        QPalette.ColorRole.Dark: "#161b22",
        QPalette.ColorRole.Shadow: "#010409",
        QPalette.ColorRole.Highlight: "#1f6feb",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#58a6ff",
        QPalette.ColorRole.LinkVisited: "#bc8cff",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7d8590"))
    return palette


def apply_dark(app: QApplication) -> None:
    """Switch the whole application to Fusion with `dark_palette()`."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
