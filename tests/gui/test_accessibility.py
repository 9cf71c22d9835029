"""Everything is reachable by keyboard, traffic lights have names, icons are sharp SVG."""

from __future__ import annotations

import hashlib
import importlib.resources

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication
from pytestqt.qtbot import QtBot

from gui import icons, theme
from gui.main_window import MainWindow
from tests.gui import samples


def test_every_menu_action_has_a_mnemonic_and_the_main_ones_a_shortcut(
    window: MainWindow,
) -> None:
    for menu in (window.file_menu, window.view_menu, window.tools_menu, window.help_menu):
        assert "&" in menu.title()
        for action in menu.actions():
            if action.isSeparator() or action.menu() is not None:
                continue
            assert "&" in action.text() or action in window.language_actions.values(), action.text()
    for action in (
        window.open_action,
        window.export_action,
        window.copy_action,
        window.diagnose_action,
        window.cancel_action,
        window.settings_action,
        *window.tab_actions,
    ):
        assert not action.shortcut().isEmpty(), action.text()
    shortcuts = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts))


def test_tab_and_shortcuts_drive_the_window(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    window.target_edit.setFocus()
    qtbot.keyClick(window.target_edit, Qt.Key.Key_Tab)
    focused = window.focusWidget()
    assert focused in (window.diagnose_button, window.target_combo)
    window.show_report(samples.expired_certificate())
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 1
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 0
    card = window.cards.card("dns")
    assert card is not None
    assert card.toggle.focusPolicy() & Qt.FocusPolicy.TabFocus
    card.toggle.setFocus()
    qtbot.keyClick(card.toggle, Qt.Key.Key_Space)
    assert card.expanded
    assert card.toggle.accessibleName() == "Hide details: Name lookup (DNS)"
    window.expand_action.trigger()
    assert all(c.expanded for c in window.cards.cards.values())
    window.collapse_action.trigger()
    assert not any(c.expanded for c in window.cards.cards.values())


def test_traffic_lights_have_accessible_names(window: MainWindow) -> None:
    window.show_report(samples.interception())
    for card in window.cards.cards.values():
        name = card.badge.accessibleName()
        assert name.startswith(card.name_label.text())
        assert card.badge.word in name
        assert card.accessibleName().startswith(card.name_label.text())
    interception = window.cards.card("interception")
    assert interception is not None
    assert interception.badge.accessibleName() == "HTTPS interception: Status: FAIL"
    assert window.banner.accessibleName() == "Verdict: FAIL"


def test_buttons_have_names(window: MainWindow) -> None:
    window.show_report(samples.clock_wrong())
    for button in window.findChildren(QAbstractButton):
        if button.isVisibleTo(window):
            assert button.text() or button.accessibleName() or button.toolTip(), button
    for action in window.actions():
        assert action.text(), action.shortcut().toString()


@pytest.mark.parametrize("status", icons.STATUSES)
def test_status_icons_are_svg_and_sharp_at_high_dpi(status: str) -> None:
    icon = icons.status_icon(status)
    assert not icon.isNull()
    pixmap = icon.pixmap(QSize(24, 24), 2.0)
    assert pixmap.size() == QSize(48, 48)
    assert pixmap.devicePixelRatio() == 2.0
    assert b"<svg" in icons.svg_bytes(f"status-{status}")


def test_each_status_has_its_own_shape() -> None:
    files = importlib.resources.files("resources").joinpath("icons")
    digests = {
        hashlib.sha256(files.joinpath(f"status-{s}.svg").read_bytes()).hexdigest()
        for s in icons.STATUSES
    }
    assert len(digests) == len(icons.STATUSES)


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def _contrast(a: QColor, b: QColor) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_status_words_stay_readable_in_light_and_dark_themes(
    qtbot: QtBot, window: MainWindow, dark: bool
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    original = app.palette()
    try:
        if dark:
            app.setPalette(theme.dark_palette())
        window.show_report(samples.expired_certificate())
        qtbot.wait(10)
        banner = window.banner
        background = banner.palette().color(QPalette.ColorRole.Window)
        assert theme.is_dark(banner.palette()) == dark
        word = banner.status_label.palette().color(banner.status_label.foregroundRole())
        assert _contrast(word, background) >= 4.5
        text = banner.headline_label.palette().color(banner.headline_label.foregroundRole())
        assert _contrast(text, background) >= 7.0
        for card in window.cards.cards.values():
            badge = card.badge.label.palette().color(card.badge.label.foregroundRole())
            assert _contrast(badge, card.palette().color(QPalette.ColorRole.Window)) >= 4.5
    finally:
        app.setPalette(original)
