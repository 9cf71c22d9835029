"""Takes the README's screenshots from real runs: the real window diagnoses field-lab sites."""

# Run as root from the repository root (it builds network namespaces, as tests/field does):
#
#   python docs/screenshots/render.py              every screenshot, offscreen
#   python docs/screenshots/render.py --xvfb       also one real X11 window on Xvfb
#
# Each network of tests/field/world.py (online, a clock three years behind, interception) is
# built in its own namespace with its sites and servers; in it the window is started, the site
# is typed into the Site field, Enter is pressed, and the picture is taken once the diagnosis
# (a real one, in the window's own diagnosis process) has finished.

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
SIZE = (1040, 860)
RUN_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Shot:
    """One picture: the site typed, the language, the tab shown, what is opened first."""

    name: str
    fault: str
    lang: str = "en"
    tab: int = 0
    prepare: str = ""
    dark: bool = False


SHOTS: dict[str, tuple[Shot, ...]] = {
    "online": (
        Shot("all-green", "healthy"),
        Shot("expired-certificate", "expired", prepare="open_cert"),
        Shot("expired-certificate-chain", "expired", tab=1, prepare="select_leaf"),
        Shot("protocols", "healthy", tab=2),
        Shot("decoder", "expired", tab=4, prepare="decode"),
        Shot("wrong-host-chinese", "wrong_host", lang="zh_CN"),
        Shot("dark", "expired", dark=True),
        Shot("dark-chain", "expired", tab=1, prepare="select_leaf", dark=True),
        Shot("mail-wrong-port", "mail_wrong_port"),
        Shot("mail-starttls", "mail_starttls", tab=2),
    ),
    "clock_behind": (Shot("clock-wrong", "healthy"),),
    "interception": (Shot("interception", "healthy"),),
}
XVFB_SHOT = ("clock_behind", Shot("xvfb-clock-wrong", "healthy"))


def _window_process(env: str, out: Path, known_roots: Path, names: list[str]) -> int:
    """In the network `env`: the window, typed into, for each shot named."""
    os.environ["LANG"] = "C.UTF-8"
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from checks.core.config import Settings
    from gui import theme
    from gui.main_window import MainWindow
    from tests.field import world

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp(prefix="hd-shots")
    )
    app = QApplication(sys.argv)
    app.setStyle("Fusion")
    xvfb = os.environ.get("QT_QPA_PLATFORM") == "xcb"

    def settle(ms: int = 300) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def decode(window: MainWindow) -> None:
        from gui.decoder_view import decode as explain

        view = window.decoder_view()
        if view is not None:
            text = "curl: (60) SSL certificate problem: certificate has expired"
            view.input.setPlainText(text)
            view.show_decoded(explain(text, window.lang))

    def open_cert(window: MainWindow) -> None:
        for card in window.cards.cards.values():
            card.set_expanded(card.check_id == "cert")

    preparations: dict[str, Callable[[MainWindow], None]] = {
        "open_cert": open_cert,
        "select_leaf": lambda w: w.chain_view().select_certificate(0),
        "decode": decode,
    }
    for shot in (s for s in (*SHOTS.get(env, ()), XVFB_SHOT[1]) if s.name in names):
        if shot.dark:
            theme.apply_dark(app)
        settings = Settings(
            lang=shot.lang,
            connect_timeout=world.CONNECT_TIMEOUT_S,
            known_roots=known_roots,  # the field's public set: Mozilla's and its public root
        )
        window = MainWindow(settings)
        window.resize(*SIZE)
        window.show()
        settle()
        window.target_edit.setFocus()
        QTest.keyClicks(window.target_edit, world.target(shot.fault))
        done = QEventLoop()
        window.runner.run_finished.connect(done.quit)
        QTimer.singleShot(RUN_TIMEOUT_MS, done.quit)
        QTest.keyClick(window.target_edit, Qt.Key.Key_Return)
        done.exec()
        if window.last_report is None:
            sys.stderr.write(f"{shot.name}: no report within {RUN_TIMEOUT_MS} ms\n")
            return 1
        settle(600)  # the verdict's card opens and scrolls into view
        window.tabs.setCurrentIndex(shot.tab)
        if shot.prepare:
            preparations[shot.prepare](window)
        settle(600)
        image = window.screen().grabWindow(window.winId()) if xvfb else window.grab()
        path = out / f"{shot.name}.png"
        image.save(str(path))
        print(path, flush=True)
        window.close()
        settle(100)
    return 0


def _inside(env: str, out: Path, names: list[str], xvfb: bool) -> int:
    """In the namespace: build `env`, then run the window process in it as a user would."""
    sys.path.insert(0, str(ROOT))
    from tests.field import world

    with (
        tempfile.TemporaryDirectory(prefix=f"hd-shots-{env}-") as tmp,
        world.world(env, Path(tmp)) as product,
    ):
        window = ["--window", env, str(out), str(product.known_roots), *names]
        command = [*product.prefix, sys.executable, __file__, *window]
        env_vars = dict(product.env)
        if xvfb:
            command = ["xvfb-run", "-a", "-s", "-screen 0 1280x960x24", *command]
            env_vars["QT_QPA_PLATFORM"] = "xcb"
        else:
            env_vars["QT_QPA_PLATFORM"] = "offscreen"
        return subprocess.run(command, env=env_vars, cwd=tmp, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--xvfb", action="store_true", help="also take one real X11 window")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--inside", nargs=2, metavar=("ENV", "XVFB"), help=argparse.SUPPRESS)
    parser.add_argument("--window", nargs="+", help=argparse.SUPPRESS)
    args, names = parser.parse_known_args()
    if args.window:
        env, out, roots, *shots = args.window
        return _window_process(env, Path(out), Path(roots), shots)
    if args.inside:
        env, xvfb = args.inside
        return _inside(env, args.out, names, xvfb == "1")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        sys.stderr.write("run as root: the screenshots are taken in network namespaces\n")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(env, [s.name for s in shots], False) for env, shots in SHOTS.items()]
    if args.xvfb:
        jobs.append((XVFB_SHOT[0], [XVFB_SHOT[1].name], True))
    for env, shots, xvfb in jobs:
        isolated = ["unshare", "--net", "--mount", "--propagation", "private"]
        inside = ["--out", str(args.out), "--inside", env, "1" if xvfb else "0", *shots]
        code = subprocess.run(
            [*isolated, sys.executable, __file__, *inside],
            cwd=ROOT,
            check=False,
        ).returncode
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
