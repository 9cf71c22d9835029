"""Puts Qt's own words (standard buttons, context menus, file dialogs) in the window's language."""

from __future__ import annotations

from pathlib import Path

import PySide6
from PySide6.QtCore import QCoreApplication, QLibraryInfo, QTranslator

_installed: list[QTranslator] = []  # the one in use, if any


def _folders() -> tuple[Path, ...]:
    # A frozen app has no Qt installation prefix of its own: the files sit beside the package.
    return (
        Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        Path(PySide6.__file__).parent / "Qt" / "translations",
    )


def use(lang: str) -> bool:
    """Install qtbase's translation for `lang` (none for English, Qt's own language) in place
    of the previous one; False when Qt ships none for it or there is no application yet."""
    app = QCoreApplication.instance()
    if app is None:
        return False
    while _installed:
        app.removeTranslator(_installed.pop())
    if lang == "en":
        return True
    translator = QTranslator(app)
    for folder in _folders():
        if translator.load(f"qtbase_{lang}", str(folder)):
            app.installTranslator(translator)
            _installed.append(translator)
            return True
    return False
