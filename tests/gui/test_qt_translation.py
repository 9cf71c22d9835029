"""Qt's own strings follow the window's language: 简体中文 loads qtbase's translation."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from gui import qt_translation
from gui.main_window import MainWindow


def _cancel_text() -> str:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    button = box.button(QDialogButtonBox.StandardButton.Cancel)
    assert button is not None
    return button.text().replace("&", "")


def _menu_texts(field: QLineEdit) -> list[str]:
    menu = field.createStandardContextMenu()
    assert menu is not None
    texts = [a.text().split("\t")[0].replace("&", "") for a in menu.actions()]
    menu.deleteLater()
    return texts


def test_standard_buttons_and_context_menus_speak_the_windows_language(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert isinstance(QApplication.instance(), QApplication)
    window.set_language("zh_CN")
    assert _cancel_text() == "取消"
    # The right-click menu of the target field is Qt's own.
    assert "复制(C)" in _menu_texts(window.target_edit)
    window.set_language("en")
    assert _cancel_text() == "Cancel"
    assert "Copy" in _menu_texts(window.target_edit)


def test_english_needs_no_translation_and_an_unknown_language_changes_nothing() -> None:
    assert qt_translation.use("en") is True
    assert qt_translation.use("xx_XX") is False
    assert _cancel_text() == "Cancel"
