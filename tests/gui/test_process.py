"""Closing the window at any moment of a run ends the process within a second, cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gui.helpers import GuiLab

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]

_CLOSE_MID_RUN = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from checks.core.config import Settings
from gui.main_window import MainWindow
window = MainWindow(Settings(lang="en", offline=True, connect_timeout=30, check_deadline=60))
window.show()
window.diagnose(sys.argv[1])
def close():
    print(f"closing {time.monotonic()}", flush=True)
    window.close()
QTimer.singleShot(int(sys.argv[2]), close)
app.exec()
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    # Qt keeps user settings under XDG_CONFIG_HOME; the real one is never touched.
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    return env


@pytest.mark.parametrize("close_after_ms", [0, 150, 600])
def test_closing_mid_run_exits_within_a_second(
    gui_lab: GuiLab, tmp_path: Path, close_after_ms: int
) -> None:
    target = f"127.0.0.1:{gui_lab.silent_port}"
    process = subprocess.Popen(
        [sys.executable, "-c", _CLOSE_MID_RUN, target, str(close_after_ms)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        closing = float(line.split()[1])
        code = process.wait(timeout=10)
        ended = time.monotonic()
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert code == 0, stderr
    assert ended - closing < 1.0
    assert "QThread" not in stderr
    assert "Traceback" not in stderr


def test_the_startup_probe_reports_the_first_frame(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["HANDSHAKE_DOCTOR_BENCH_STARTUP"] = "1"
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "gui"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stamp = float(done.stdout.split("first-expose")[1].split()[0])
    assert started < stamp < time.time()
    # The window imports neither the checks nor cryptography before it is shown.
    assert "Traceback" not in done.stderr


_IMPORTS_AT_LAUNCH = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.main_window import MainWindow
window = MainWindow()
window.show()
app.processEvents()
heavy = ("cryptography", "OpenSSL", "truststore", "psutil", "checks.registry", "gui.chain_view",
         "gui.protocols_view", "gui.decoder_view", "checks.inspect", "PySide6.QtSvg")
print(",".join(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_launch_builds_widgets_and_imports_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_AT_LAUNCH],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == ""


_WINDOW_GOES_AWAY = """
import multiprocessing, sys, time
from checks.core.config import Settings
from checks.core.target import parse
from gui import worker
if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    results_in, results_out = context.Pipe(duplex=False)
    control_in, control_out = context.Pipe(duplex=False)
    settings = Settings(lang="en", offline=True, connect_timeout=30, check_deadline=60)
    arguments = worker.encode(parse(sys.argv[1]), settings, None)
    child = context.Process(target=worker.main, args=(arguments, results_out, control_in))
    child.start()
    results_out.close()
    control_in.close()
    assert results_in.recv()[0] == "planned"
    if sys.argv[2] == "results":
        results_in.close()  # the window stopped reading: its next result finds no reader
        time.sleep(float(sys.argv[3]))
        control_out.close()
    else:
        control_out.close()  # the window is gone: cancel, then the last message finds no reader
        results_in.close()
    started = time.monotonic()
    child.join(10)
    print(child.exitcode, round(time.monotonic() - started, 2), flush=True)
"""


@pytest.mark.parametrize(
    ("closed_first", "wait_s"), [("results", "0"), ("results", "1.5"), ("control", "0")]
)
def test_the_diagnosis_process_ends_quietly_when_the_window_goes_away(
    gui_lab: GuiLab, tmp_path: Path, closed_first: str, wait_s: str
) -> None:
    target = f"127.0.0.1:{gui_lab.silent_port}"
    done = subprocess.run(
        [sys.executable, "-c", _WINDOW_GOES_AWAY, target, closed_first, wait_s],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    code, seconds = done.stdout.split()
    assert code == "0"
    assert float(seconds) < 2.0
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr


@pytest.mark.linux_only(
    "destroys the window with xdotool on a private Xvfb display (X11 tools, installed only "
    "on the Linux CI)"
)
def test_the_app_exits_when_the_window_system_destroys_its_window(tmp_path: Path) -> None:
    from tests import soak

    missing = soak.missing_tools()
    assert not missing, f"install {missing} (packaging/install-system-packages.sh test)"
    with soak.display() as name:
        bundle = tmp_path / "empty.pem"
        bundle.write_bytes(b"")
        environment = soak.app_environment(tmp_path, bundle, name)
        window = soak.Window([sys.executable, "-m", "gui"], environment, ROOT, tmp_path / "log")
        try:
            # XDestroyWindow, as a crashed window manager or a dropped remote session leaves it.
            subprocess.run(
                ["xdotool", "windowclose", window.window_id],
                env={**os.environ, "DISPLAY": name},
                check=True,
                timeout=10,
            )
            code = window.process.wait(5)
            output = window.output()
        finally:
            window.kill()
    assert code == 0, output
    assert "Traceback" not in output
