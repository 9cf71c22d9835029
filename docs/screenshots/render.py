"""Renders the window's main states into docs/screenshots/ (run from the repository root)."""

# python docs/screenshots/render.py                     offscreen, every state
# xvfb-run -a python docs/screenshots/render.py --xvfb  one real X11 window, grabbed from the screen
#
# The reports come from tests/gui/samples.py: realistic findings and facts, with the certificate
# chains judged by checks.certificate for real.

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
SIZE = (1040, 860)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--xvfb", action="store_true", help="grab a real X11 window instead")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not args.xvfb:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["LANG"] = "C.UTF-8"
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp(prefix="hd-shots")
    )
    app = QApplication(sys.argv)
    app.setStyle("Fusion")

    from checks.config import Settings
    from gui import theme
    from gui.main_window import MainWindow
    from tests.gui import samples

    args.out.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(5):
            app.processEvents()

    def shoot(
        name: str,
        sample: str,
        *,
        lang: str = "en",
        tab: int = 0,
        prepare: Callable[[MainWindow], None] | None = None,
    ) -> None:
        window = MainWindow(Settings(lang=lang))
        window.resize(*SIZE)
        window.show()
        window.target_edit.setText(samples.HOST)
        window.show_report(samples.SAMPLES[sample](lang))
        window.tabs.setCurrentIndex(tab)
        if prepare is not None:
            prepare(window)
        settle()
        if args.xvfb:
            screen = window.screen()
            image: QPixmap = screen.grabWindow(window.winId())
        else:
            image = window.grab()
        path = args.out / f"{name}.png"
        image.save(str(path))
        print(path.relative_to(ROOT))
        window.close()
        window.deleteLater()
        settle()

    def open_cards(*ids: str) -> Callable[[MainWindow], None]:
        def prepare(window: MainWindow) -> None:
            for card in window.cards.cards.values():
                card.set_expanded(card.check_id in ids)

        return prepare

    def select_leaf(window: MainWindow) -> None:
        window.chain_view().select_certificate(0)

    def decode_error(window: MainWindow) -> None:
        from gui.decoder_view import decode

        view = window.decoder_view()
        if view is not None:
            text = "curl: (60) SSL certificate problem: certificate has expired"
            view.input.setPlainText(text)
            view.show_decoded(decode(text, "en"))

    if args.xvfb:
        shoot("xvfb-clock-wrong", "clock_wrong")
        return 0
    shoot("all-green", "all_green")
    shoot("clock-wrong", "clock_wrong")
    shoot("interception", "interception")
    shoot("expired-certificate", "expired_certificate", prepare=open_cards("cert"))
    shoot("expired-certificate-chain", "expired_certificate", tab=1, prepare=select_leaf)
    shoot("protocols", "all_green", tab=2)
    shoot("decoder", "expired_certificate", tab=3, prepare=decode_error)
    shoot("chinese", "clock_wrong", lang="zh_CN")
    theme.apply_dark(app)
    shoot("dark", "expired_certificate")
    shoot("dark-chain", "expired_certificate", tab=1, prepare=select_leaf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
