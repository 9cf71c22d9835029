"""Measures the packaged app against its budgets and writes the table to build/bench/packaging.md
(`--out docs/bench/packaging.md` refreshes the published one)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "tests"))
from compare_reports import differences  # noqa: E402
from labserver import LabServer  # noqa: E402

EXE = ".exe" if sys.platform == "win32" else ""
MB = 1_000_000
RUNS = 5
PROBE = "HANDSHAKE_DOCTOR_BENCH_STARTUP"  # gui/app.py prints "first-expose <time>" and quits


@dataclass
class Row:
    what: str
    measured: str
    budget: str
    ok: bool | None  # None: no budget

    def cells(self) -> str:
        verdict = "—" if self.ok is None else "✅ within" if self.ok else "❌ over"
        return f"| {self.what} | {self.measured} | {self.budget} | {verdict} |"


def gui_env(work: Path) -> dict[str, str]:
    """Offscreen, settings in a throwaway folder set to offline (a window contacts nothing)."""
    config = work / "config"
    (config / "Handshake Doctor").mkdir(parents=True, exist_ok=True)
    (config / "Handshake Doctor" / "Handshake Doctor.conf").write_text("[settings]\noffline=true\n")
    (work / "tmp").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(config),
        TMPDIR=str(work / "tmp"),
        **{PROBE: "1"},
    )
    return env


def first_window(program: Path, env: Mapping[str, str]) -> float:
    """Seconds from starting `program` to its window's first expose (the app's bench hook)."""
    start = time.time()
    done = subprocess.run(
        [str(program)], capture_output=True, text=True, env=dict(env), timeout=120, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("first-expose "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"{program} printed no first-expose line: {done.stdout}{done.stderr}")


def command_time(argv: Sequence[str], env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(list(argv), capture_output=True, env=dict(env), timeout=120, check=True)
    return time.perf_counter() - start


def median(measure: object, runs: int) -> tuple[float, list[float]]:
    assert callable(measure)
    measure()  # warm-up, not counted: file caches as on a second start
    samples = [float(measure()) for _ in range(runs)]
    return statistics.median(samples), samples


def same_findings(program: Path, lab: LabServer) -> tuple[bool, str]:
    """Whether the frozen app's headless diagnosis of the lab server matches the source's."""
    args = ["check", lab.address, "--cacert", str(lab.ca), "--offline", "--json"]
    env = {k: v for k, v in os.environ.items() if k != PROBE}
    frozen = subprocess.run(
        [str(program), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    source = subprocess.run(
        [sys.executable, "-m", "gui", *args],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    a, b = json.loads(frozen.stdout), json.loads(source.stdout)
    diff = differences(a, b)
    count = sum(len(c["findings"]) for c in a["checks"])
    same = not diff and frozen.returncode == source.returncode
    return same, f"{count} findings in {len(a['checks'])} checks, exit {frozen.returncode}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with_model = Path("/proc/cpuinfo")
    if with_model.exists():
        for line in with_model.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, {cpu}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--runs", type=int, default=RUNS)
    # Under build/ by default: measuring never rewrites a tracked file.
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "packaging.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when a budget is exceeded")
    args = parser.parse_args(argv)
    dist: Path = args.dist
    onedir = dist / "handshake-doctor" / f"handshake-doctor{EXE}"
    onefile = dist / f"handshake-doctor-portable{EXE}"
    debs = sorted(dist.glob("handshake-doctor_*.deb"))
    tarballs = sorted(dist.glob("handshake-doctor-*.tar.gz"))
    rows: list[Row] = []
    notes: list[str] = []

    if onefile.exists():
        size = onefile.stat().st_size
        rows.append(
            Row("onefile (portable) size", f"{size / MB:.1f} MB", "≤ 60 MB", size <= 60 * MB)
        )
    if debs:
        size = debs[-1].stat().st_size
        rows.append(Row(".deb size", f"{size / MB:.1f} MB", "≤ 50 MB", size <= 50 * MB))
    if tarballs:
        size = tarballs[-1].stat().st_size
        rows.append(Row("portable .tar.gz size", f"{size / MB:.1f} MB", "—", None))
    if onedir.exists():
        files = [p for p in onedir.parent.rglob("*") if p.is_file() and not p.is_symlink()]
        size = sum(p.stat().st_size for p in files)
        rows.append(Row("onedir folder (installed size)", f"{size / MB:.1f} MB", "—", None))

    with tempfile.TemporaryDirectory() as tmp:
        env = gui_env(Path(tmp))
        for label, program, budget in (("onedir", onedir, 0.6), ("onefile", onefile, 2.0)):
            if not program.exists():
                continue
            value, samples = median(lambda p=program: first_window(p, env), args.runs)
            rows.append(
                Row(
                    f"{label}: start to first window shown (median of {args.runs})",
                    f"{value:.2f} s",
                    f"≤ {budget:g} s",
                    value <= budget,
                )
            )
            notes.append(f"{label} window samples: " + ", ".join(f"{s:.3f}" for s in samples))
        for label, program in (("onedir", onedir), ("onefile", onefile)):
            if not program.exists():
                continue
            value, samples = median(
                lambda p=program: command_time([str(p), "--version"], env), args.runs
            )
            rows.append(
                Row(f"{label}: `--version` (median of {args.runs})", f"{value:.2f} s", "—", None)
            )
        with LabServer(Path(tmp) / "lab") as lab:
            for label, program in (("onedir", onedir), ("onefile", onefile)):
                if program.exists():
                    same, detail = same_findings(program, lab)
                    rows.append(
                        Row(
                            f"{label}: headless diagnosis of the lab server vs source",
                            f"{'same' if same else 'DIFFERENT'} findings ({detail})",
                            "same findings",
                            same,
                        )
                    )

    version = runpy.run_path(str(ROOT / "checks" / "core" / "version.py"))["__version__"]
    table = [
        "| what | measured | budget | |",
        "|---|---|---|---|",
        *(row.cells() for row in rows),
    ]
    report = "\n".join(
        [
            "# Packaging benchmark",
            "",
            f"Handshake Doctor {version}, measured by `packaging/bench_package.py` on "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d} ({machine()}).",
            "",
            *table,
            "",
            "Sizes in MB of 1,000,000 bytes. Start to first window: from starting the program to "
            "the first expose event of the main window (`HANDSHAKE_DOCTOR_BENCH_STARTUP=1` in "
            "gui/app.py prints its time and quits), offscreen Qt platform, settings offline; "
            "one warm-up run first, then the median. The onefile time includes unpacking into "
            "the temporary folder, which it does on every start.",
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )
    print(report)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    over = [row.what for row in rows if row.ok is False]
    if over:
        print(f"over budget: {', '.join(over)}", file=sys.stderr)
    return 1 if over and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
