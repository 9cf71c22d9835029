"""Creates the QApplication and shows the main window."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from checks.version import __version__
from gui import preferences

# Set by bench/gui_bench.py: print the wall-clock time of the first exposed frame, then quit.
BENCH_STARTUP_ENV = "HANDSHAKE_DOCTOR_BENCH_STARTUP"


class FirstExposeProbe(QObject):
    """Prints `time.time()` when the watched window is first exposed, then quits the app."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._done = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if not self._done and event.type() == QEvent.Type.Expose:
            self._done = True
            sys.stdout.write(f"first-expose {time.time():.6f}\n")
            sys.stdout.flush()
            QTimer.singleShot(0, self._app.quit)
        return False


def run() -> int:
    """Show the window and run the event loop until it closes."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(preferences.APPLICATION)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(preferences.ORGANISATION)
    app.setDesktopFileName("handshake-doctor")
    from gui.main_window import MainWindow  # after QApplication: widgets need it

    window = MainWindow()
    if os.environ.get(BENCH_STARTUP_ENV) == "1":
        window.winId()  # creates the native window so its expose events can be watched
        handle = window.windowHandle()
        if handle is not None:
            handle.installEventFilter(FirstExposeProbe(app))
    window.show()
    return app.exec()
