"""Creates the QApplication and shows the main window."""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from checks.core.version import __version__
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


# xcb's DestroyNotify: response type 17; the destroyed window's id at bytes 8 to 11.
_XCB_DESTROY_NOTIFY = 17


class DestroyedWindowWatch(QAbstractNativeEventFilter):
    """Calls `on_destroyed` when X11 destroys the window `window_id` without asking the app.

    A window closed through the window system's close button arrives as a close event; one
    destroyed outright (a crashed window manager, `xdotool windowclose`, a remote desktop that
    drops it) arrives only as this X event, and Qt would keep running with no window at all.
    """

    def __init__(self, window_id: int, on_destroyed: Callable[[], None]) -> None:
        super().__init__()
        self._window_id = window_id
        self._on_destroyed = on_destroyed
        self._fired = False

    def nativeEventFilter(  # noqa: N802 - Qt's name
        self, event_type: QByteArray | bytes | bytearray | memoryview, message: int
    ) -> tuple[bool, int]:
        kind = event_type.data() if isinstance(event_type, QByteArray) else bytes(event_type)
        if not self._fired and kind == b"xcb_generic_event_t":
            event = ctypes.string_at(int(message), 12)
            window = int.from_bytes(event[8:12], sys.byteorder)
            if event[0] & 0x7F == _XCB_DESTROY_NOTIFY and window == self._window_id:
                self._fired = True
                QTimer.singleShot(0, self._on_destroyed)
        return False, 0


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
    if app.platformName() == "xcb":

        def quit_without_window() -> None:
            window.runner.shutdown()
            app.quit()

        watch = DestroyedWindowWatch(int(window.winId()), quit_without_window)
        app.installNativeEventFilter(watch)
    return app.exec()
