"""Creates the QApplication and shows the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from checks.version import __version__
from gui.main_window import MainWindow


def run() -> int:
    """Show the window and run the event loop until it closes."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Handshake Doctor")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Handshake Doctor")
    window = MainWindow()
    window.show()
    return app.exec()
