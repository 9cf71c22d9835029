"""Benchmarks the window: launch to first frame, and the longest event-loop stall during a run."""

# python bench/gui_bench.py      prints a Markdown table and writes docs/bench/gui.md
#
# 1. Launch: `python -m gui` is started 5 times with HANDSHAKE_DOCTOR_BENCH_STARTUP=1; the app
#    prints the wall-clock time of its first exposed frame and quits. The median is compared
#    with a bare "QApplication + QLabel" program measured the same way.
# 2. Stall: a QTimer ticks every 5 ms on the GUI thread while the window runs a full diagnosis
#    (this computer and the site) against loopback servers: one that accepts and answers the
#    TLS handshake only after 2 s, and one that never says anything. The longest gap between
#    two ticks, minus the 5 ms interval, is the longest time the window could not react. Each
#    server is measured over several runs (the first includes the diagnosis process's imports
#    and the first paint of every card); the median and the worst run are printed.

from __future__ import annotations

import contextlib
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "bench" / "gui.md"
RUNS = 5
STALL_RUNS = 3
TICK_MS = 5
SLOW_HANDSHAKE_S = 2.0
HOST = "slow.bench.test"
STARTUP_GOAL_S = 0.5
STALL_GOAL_MS = 50.0

_BASELINE = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
label = QLabel("Handshake Doctor")
class Probe(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Expose:
            print(f"first-expose {time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
label.winId()
probe = Probe()
label.windowHandle().installEventFilter(probe)
label.show()
app.exec()
"""


def _env(config: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=config,
        PYTHONPATH=str(ROOT),
        HANDSHAKE_DOCTOR_BENCH_STARTUP="1",
        PYTHONDONTWRITEBYTECODE="0",
    )
    return env


def _first_frame(args: list[str], env: dict[str, str]) -> float:
    started = time.time()
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    stamp = float(done.stdout.split("first-expose")[1].split()[0])
    return stamp - started


def startup() -> tuple[float, float]:
    """Median seconds from spawning the process to its first frame: the app, and the baseline."""
    with tempfile.TemporaryDirectory() as config:
        env = _env(config)
        app = [sys.executable, "-m", "gui"]
        base = [sys.executable, "-c", _BASELINE]
        _first_frame(app, env)  # warm the page cache and the bytecode, as a second launch is
        _first_frame(base, env)
        app_times = [_first_frame(app, env) for _ in range(RUNS)]
        base_times = [_first_frame(base, env) for _ in range(RUNS)]
    return statistics.median(app_times), statistics.median(base_times)


def _serve(kind: str, folder: str, ports: Connection) -> None:
    """Child process: run one lab server until the parent says stop (or goes away)."""
    from tests.lab import pki
    from tests.lab.servers import LoopbackServer, SilentServer, TLSServer

    class SlowTLSServer(TLSServer):
        """Accepts at once, then waits before it answers the handshake."""

        def handle(self, conn: socket.socket) -> None:
            if self._stopping.wait(SLOW_HANDSHAKE_S):
                return
            super().handle(conn)

    root = pki.root("Bench Root")
    inter = pki.intermediate("Bench Intermediate", root)
    cert, key = pki.write_chain(Path(folder), "slow", [pki.leaf(HOST, inter), inter])
    pki.write_certs(Path(folder) / "root.pem", [root])
    server: LoopbackServer = SlowTLSServer(cert, key) if kind == "slow" else SilentServer()
    with server:
        ports.send(server.port)
        with contextlib.suppress(EOFError):  # the parent went away: stop too
            ports.recv()


def stall(target_kind: str) -> tuple[float, float, int]:
    """Longest stall (ms) and run time (s) of a full diagnosis, and how many checks reported."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from checks.core.config import Resolve, Settings
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    folder = Path(tempfile.mkdtemp(prefix="hd-bench-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    # The server runs in a process of its own, as a real one would: its handshakes must not
    # compete with the window for the interpreter.
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(target_kind, str(folder), child), daemon=True)
    server.start()
    try:
        port = int(parent.recv())
        settings = Settings(
            lang="en",
            offline=True,
            connect_timeout=3.0,
            check_deadline=12.0,
            cacert=folder / "root.pem",
            resolve=(Resolve(HOST, port, "127.0.0.1"),),
        )
        window = MainWindow(settings)
        window.resize(1000, 800)
        window.show()
        clock = QElapsedTimer()
        gaps: list[float] = []
        last = [0.0]

        def tick() -> None:
            now = clock.nsecsElapsed() / 1e6
            gaps.append(now - last[0])
            if os.environ.get("HD_BENCH_TRACE") and now - last[0] > 30:
                print(f"STALL {now - last[0]:.0f} ms ending at {time.perf_counter():.4f}")
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        loop = QEventLoop()
        window.runner.run_finished.connect(lambda _report: QTimer.singleShot(100, loop.quit))
        clock.start()
        timer.start()
        started = time.monotonic()
        window.diagnose(f"{HOST}:{port}")
        loop.exec()
        elapsed = time.monotonic() - started
        timer.stop()
        reported = len(window.model.results())
        window.close()
        assert window.runner.shutdown(2000)
        window.deleteLater()
        app.processEvents()
    finally:
        parent.send("stop")
        server.join(5)
    worst = max(gaps[1:], default=0.0) - TICK_MS
    return max(worst, 0.0), elapsed, reported


def _stalls(kind: str) -> tuple[float, float, float, int]:
    """Median and worst stall (ms) over `STALL_RUNS` runs, the median run time, checks run."""
    runs = [stall(kind) for _ in range(STALL_RUNS)]
    stalls = [r[0] for r in runs]
    return statistics.median(stalls), max(stalls), statistics.median(r[1] for r in runs), runs[0][2]


def main() -> int:
    app_s, base_s = startup()
    slow_ms, slow_worst, slow_s, slow_n = _stalls("slow")
    silent_ms, silent_worst, silent_s, silent_n = _stalls("silent")
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    lines = [
        "# Window benchmark",
        "",
        f"`python bench/gui_bench.py` on {machine}, Qt offscreen platform.",
        "",
        "| measurement | result | goal |",
        "|---|---:|---:|",
        f"| launch to first window, `python -m gui` (median of {RUNS}) | {app_s:.3f} s "
        f"| < {STARTUP_GOAL_S} s |",
        f"| launch to first window, bare QApplication + QLabel (median of {RUNS}) "
        f"| {base_s:.3f} s | |",
        f"| ratio app / bare Qt | {app_s / base_s:.2f}× | |",
        f"| longest event-loop stall, full diagnosis, TLS server answering after "
        f"{SLOW_HANDSHAKE_S:g} s ({slow_n} checks, {slow_s:.1f} s; median of {STALL_RUNS} runs, "
        f"worst {slow_worst:.0f} ms) | {slow_ms:.0f} ms | < {STALL_GOAL_MS:g} ms |",
        f"| longest event-loop stall, full diagnosis, silent server ({silent_n} checks, "
        f"{silent_s:.1f} s; median of {STALL_RUNS} runs, worst {silent_worst:.0f} ms) "
        f"| {silent_ms:.0f} ms | < {STALL_GOAL_MS:g} ms |",
        "",
        f"The stall is the longest gap between two ticks of a {TICK_MS} ms timer on the GUI "
        "thread, minus the interval. The checks run in their own process (gui/worker.py), so "
        "they never hold the window's interpreter lock; local checks run with `offline` so that "
        "the numbers do not depend on the internet.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LANG"] = "C.UTF-8"
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
