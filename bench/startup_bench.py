"""Benchmark: whole-process wall time of our target check against nmap, sslscan and sslyze."""

# python bench/startup_bench.py [--runs 7] [--out docs/bench/startup.md] [--skip-missing]
#
# One private nginx (tests/lab/nginx.py) listens on 127.0.0.1 with nginx's default TLS settings:
# only `listen ... ssl`, `ssl_certificate` and `ssl_certificate_key`, an RSA 2048 leaf for
# 127.0.0.1 from a private root (tests/lab/pki.py). Against it, each tool runs as its own
# process, exactly as a user would start it, so each pays its own start-up:
#
#   ours        .venv/bin/handshake-doctor check 127.0.0.1:PORT --only target --json
#   nmap        nmap --script ssl-enum-ciphers -p PORT 127.0.0.1      (Debian package nmap)
#   sslscan     sslscan 127.0.0.1:PORT                                (Debian package sslscan)
#   sslyze      sslyze 127.0.0.1:PORT   (in /tmp/sslyze-venv, pinned by bench/requirements.txt)
#   --version   .venv/bin/handshake-doctor --version
#
# Set-up, not measured: the bytecode of checks/, gui/ and resources/ is compiled first, as
# installing the app does (pip, the packages), so that no run compiles sources; this matters
# where PYTHONDONTWRITEBYTECODE is set and nothing else would write it.
#
# The tools alternate run by run (each tool's run 1, then each tool's run 2, ...); the first
# round is a warm-up and is discarded. Every run has a 60 s timeout and its exit status and
# output are checked: a tool that fails is reported as failed, never timed. Missing peers are
# installed first (apt-get, pip: set-up, not measured); only 127.0.0.1 is contacted while timing.
#
# Then where our time goes: the same command run in-process with marks at each phase
# (interpreter start-up, importing the CLI, importing the checks the plan runs, the checks,
# the JSON, the interpreter's exit), median of the same number of runs.

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = ROOT / "docs" / "bench" / "startup.md"
OURS = ROOT / ".venv" / "bin" / "handshake-doctor"
SSLYZE_VENV = Path("/tmp/sslyze-venv")
REQUIREMENTS = BENCH / "requirements.txt"
APT_PACKAGES = {"nmap": "nmap", "sslscan": "sslscan"}
RUNS = 7
TIMEOUT_S = 60.0
NMAP_GOAL = 1.0  # ours / nmap below this
SSLYZE_GOAL = 0.33  # ours / sslyze at most this
VERSION_GOAL_S = 0.1  # `handshake-doctor --version` below this
# Exit codes that still mean "the tool did its job": ours exits 2 when it finds a problem (the
# private root is not trusted) and sslyze exits 1 when the server is not compliant with Mozilla's
# configuration; the output is checked as well.
OURS_DIAGNOSED = (0, 1, 2)
SSLYZE_SCANNED = (0, 1)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

Checker = Callable[[subprocess.CompletedProcess[str]], str | None]


@dataclass
class Tool:
    """One command to time, how to tell that it worked, and what came of it."""

    name: str
    argv: list[str]
    check: Checker
    skipped: str | None = None
    failed: str | None = None
    times: list[float] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return self.skipped is None and self.failed is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --- how each tool's success is recognised ------------------------------------------------------


def _exit_status(done: subprocess.CompletedProcess[str], allowed: tuple[int, ...]) -> str | None:
    if done.returncode in allowed:
        return None
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return f"exit status {done.returncode}: {' / '.join(tail) or '(no output)'}"


def check_ours(done: subprocess.CompletedProcess[str]) -> str | None:
    if problem := _exit_status(done, OURS_DIAGNOSED):
        return problem
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        return f"no JSON report: {error}"
    statuses = {c.get("id"): c.get("status") for c in report.get("checks", [])}
    if statuses.get("tls") != "pass" or statuses.get("protocols") != "pass":
        return f"the target was not reached: {statuses}"
    return None


def check_version(done: subprocess.CompletedProcess[str]) -> str | None:
    if problem := _exit_status(done, (0,)):
        return problem
    return None if done.stdout.startswith("handshake-doctor ") else f"output: {done.stdout!r}"


def check_nmap(done: subprocess.CompletedProcess[str]) -> str | None:
    if problem := _exit_status(done, (0,)):
        return problem
    return None if "TLSv1.2:" in done.stdout else "ssl-enum-ciphers listed no TLS 1.2 suites"


def check_sslscan(done: subprocess.CompletedProcess[str]) -> str | None:
    if problem := _exit_status(done, (0,)):
        return problem
    return None if "Accepted" in ANSI.sub("", done.stdout) else "no accepted suite listed"


def check_sslyze(done: subprocess.CompletedProcess[str]) -> str | None:
    if problem := _exit_status(done, SSLYZE_SCANNED):
        return problem
    return None if "SCANS COMPLETED" in done.stdout else "the scans did not complete"


# --- set-up: the peers and their versions -------------------------------------------------------


def _output(argv: list[str]) -> str:
    """stdout and stderr of a short command, or "" when it cannot be run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return ANSI.sub("", done.stdout + done.stderr).strip()


def ensure_apt(binaries: list[str]) -> dict[str, str]:
    """Install missing Debian peers; returns why each binary that is still missing is missing."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if not missing:
        return {}
    packages = [APT_PACKAGES[b] for b in missing]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return dict.fromkeys(missing, "not installed (apt-get needs root)")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    sys.stderr.write(f"installing {' '.join(packages)}\n")
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)
    return {b: "could not be installed" for b in missing if shutil.which(b) is None}


def ensure_sslyze() -> tuple[Path | None, str]:
    """sslyze in /tmp/sslyze-venv (bench/protocols_bench.py's installer), or None and why."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    try:
        protocols_bench = importlib.import_module("protocols_bench")
    except Exception as error:  # the checks package it imports may be mid-move
        return None, f"bench/protocols_bench.py could not be imported: {error}"
    # Its installer reads the venv's location from this module global at call time.
    protocols_bench.VENV = SSLYZE_VENV  # type: ignore[attr-defined]
    python = protocols_bench.ensure_sslyze()
    if python is None:
        return None, "could not be installed (pip failed, see stderr)"
    return Path(python), ""


def sslyze_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('sslyze'))"
    return _output([str(python), "-c", code]) or "unknown"


def pinned_sslyze() -> str:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("sslyze=="):
            return line.removeprefix("sslyze==").strip()
    return "not pinned"


def compile_bytecode() -> None:
    """Compile our sources as an installation does, so that no timed run compiles them."""
    python = OURS.parent / "python"
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "checks", "gui", "resources"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=300,
    )


# --- the measurement ----------------------------------------------------------------------------


def run_once(tool: Tool) -> float | None:
    """Wall time of one run of `tool`, or None after recording why it failed."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            tool.argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        tool.failed = f"timed out after {TIMEOUT_S:g} s"
        return None
    except OSError as error:
        tool.failed = str(error)
        return None
    elapsed = time.perf_counter() - started
    if problem := tool.check(done):
        tool.failed = problem
        return None
    return elapsed


def measure(tools: list[Tool], runs: int) -> None:
    """One discarded warm-up round, then `runs` rounds, the tools alternating within a round."""
    for round_number in range(runs + 1):
        for tool in tools:
            if tool.skipped or tool.failed:
                continue
            elapsed = run_once(tool)
            if elapsed is not None and round_number > 0:
                tool.times.append(elapsed)
        label = "warm-up" if round_number == 0 else f"run {round_number}/{runs}"
        sys.stderr.write(f"{label} done\n")


# --- where our time goes -----------------------------------------------------------------------

# Runs `handshake-doctor check ... --json` exactly as the command does (gui.launcher.main with
# the process's own arguments), wrapping the plan, each check and the JSON rendering to note
# when they start and end (time.time(), comparable with the parent's clock). The wrappers
# import checks.registry and checks.present.document up front: about 2 ms moves from "the
# checks" and "JSON" into "the CLI".
_PHASES_CODE = """
import time
marks = {"started": time.time()}
import json, sys, threading
from gui.launcher import main
import checks.cli
from checks import engine, registry
from checks.present import document
marks["cli imported"] = time.time()
_plan, _execute, _to_json = registry.plan, engine._execute, document.to_json
lock, ends = threading.Lock(), []
def plan(*args, **kwargs):
    marks["plan begins"] = time.time()
    try:
        return _plan(*args, **kwargs)
    finally:
        marks["plan imported"] = time.time()
def execute(*args, **kwargs):
    try:
        return _execute(*args, **kwargs)
    finally:
        with lock:
            ends.append(time.time())
def to_json(*args, **kwargs):
    marks["json begins"] = time.time()
    try:
        return _to_json(*args, **kwargs)
    finally:
        marks["json ends"] = time.time()
registry.plan, engine._execute, document.to_json = plan, execute, to_json
code = main()
marks["checks end"] = max(ends)
sys.stdout.flush()
sys.stderr.write("\\nPHASES " + json.dumps(marks) + "\\n")
sys.exit(code)
"""

PHASES = (
    ("interpreter start-up (with site)", "spawned", "started"),
    ("import the CLI (argparse, core, catalogue)", "started", "cli imported"),
    ("parse the options and the target", "cli imported", "plan begins"),
    ("import the checks the plan runs", "plan begins", "plan imported"),
    ("run the checks (wall)", "plan imported", "checks end"),
    ("verdict, until the JSON begins", "checks end", "json begins"),
    ("render the JSON", "json begins", "json ends"),
    ("write it, exit the interpreter", "json ends", "exited"),
)


def breakdown(port: int, runs: int) -> dict[str, float] | str:
    """Median seconds of each phase of our command over `runs` runs (after a warm-up), or why
    it could not be measured."""
    python = OURS.parent / "python"
    argv = [str(python), "-c", _PHASES_CODE, "check", f"127.0.0.1:{port}", "--only", "target"]
    samples: dict[str, list[float]] = {label: [] for label, _, _ in PHASES}
    totals: list[float] = []
    for run in range(runs + 1):
        spawned = time.time()
        done = subprocess.run(
            [*argv, "--json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        exited = time.time()
        if problem := check_ours(done):
            return problem
        line = next((x for x in done.stderr.splitlines() if x.startswith("PHASES ")), None)
        if line is None:
            return "no phase marks in the output"
        marks = {**json.loads(line.removeprefix("PHASES ")), "spawned": spawned, "exited": exited}
        if run == 0:
            continue
        for label, begin, end in PHASES:
            samples[label].append(marks[end] - marks[begin])
        totals.append(exited - spawned)
    result = {label: statistics.median(values) for label, values in samples.items()}
    result["total (median of the runs, not the sum)"] = statistics.median(totals)
    return result


def breakdown_table(phases: dict[str, float] | str, runs: int) -> str:
    lines = ["", f"Where our time goes (median of {runs} runs, in-process marks):", ""]
    if isinstance(phases, str):
        return "\n".join([*lines, f"not measured: {phases}", ""])
    lines += ["| phase | median (ms) |", "|---|---:|"]
    lines += [f"| {label} | {seconds * 1000:.0f} |" for label, seconds in phases.items()]
    return "\n".join(lines) + "\n"


# --- the report ---------------------------------------------------------------------------------


def _row(label: str, tool: Tool, ours: Tool | None) -> str:
    if tool.skipped:
        return f"| {label} | skipped: {tool.skipped} | | | |"
    if tool.failed or not tool.times:
        return f"| {label} | FAILED: {tool.failed or 'no run'} | | | |"
    ratio = ""
    if ours is not None and ours.measured:
        ratio = f"{ours.median / tool.median:.2f}"
    return (
        f"| {label} | {tool.median:.3f} | {min(tool.times):.3f} | {max(tool.times):.3f} | {ratio} |"
    )


def _goal(text: str, shown: str | None, met: bool) -> str:
    if shown is None:
        return f"- {text}: not measured"
    return f"- {text}: {shown}, {'met' if met else 'not met'}"


def report(tools: dict[str, Tool], labels: dict[str, str]) -> str:
    """The Markdown table and, under it, each goal judged from the numbers."""
    ours = tools["ours"]
    lines = [
        "| tool | median (s) | min (s) | max (s) | ours / tool |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [_row(labels[key], tools[key], ours) for key in ("ours", "nmap", "sslscan", "sslyze")]
    lines.append(_row(labels["version"], tools["version"], None))

    def ratio(peer: str) -> float | None:
        if ours.measured and tools[peer].measured:
            return ours.median / tools[peer].median
        return None

    to_nmap, to_sslyze = ratio("nmap"), ratio("sslyze")
    version = tools["version"].median if tools["version"].measured else None
    lines += [
        "",
        "Goals:",
        "",
        _goal(
            f"ours / nmap < {NMAP_GOAL:g}",
            None if to_nmap is None else f"{to_nmap:.2f}",
            to_nmap is not None and to_nmap < NMAP_GOAL,
        ),
        _goal(
            f"ours / sslyze <= {SSLYZE_GOAL:g}",
            None if to_sslyze is None else f"{to_sslyze:.2f}",
            to_sslyze is not None and to_sslyze <= SSLYZE_GOAL,
        ),
        _goal(
            f"`handshake-doctor --version` < {VERSION_GOAL_S:g} s",
            None if version is None else f"{version:.3f} s",
            version is not None and version < VERSION_GOAL_S,
        ),
    ]
    return "\n".join(lines) + "\n"


def header(versions: dict[str, str], runs: int) -> str:
    """What was measured, on what, with which versions."""
    machine = (
        f"{platform.system()} {platform.machine()}, `nproc` = {versions['nproc']}, "
        f"Python {platform.python_version()}"
    )
    listing = [f"- {name}: {text}" for name, text in versions.items() if name != "nproc"]
    return "\n".join(
        [
            "# Start-up benchmark",
            "",
            f"`python bench/startup_bench.py --runs {runs}` on {machine}.",
            "",
            "Wall time of each whole process, from spawn to exit, against one private nginx on",
            "127.0.0.1 with nginx's default TLS settings (no `ssl_protocols` or `ssl_ciphers`; an",
            "RSA 2048 certificate from a private root). Median, minimum and maximum of",
            f"{runs} runs per tool after one discarded warm-up run; the tools alternate run by",
            f"run. Each run has a {TIMEOUT_S:g} s timeout and its exit status and output are",
            "checked. Ours exits 2 here (the private root is not trusted) and sslyze exits 1 (not",
            "compliant with Mozilla's configuration): both mean the tool did its job. The tools",
            "do not do the same work: ours runs its target checks (name, TCP, TLS, certificate,",
            "protocol and suite enumeration); nmap's ssl-enum-ciphers and sslscan enumerate",
            "suites; sslyze runs its default scans. `ours / tool` is our median divided by that",
            "tool's median.",
            "",
            "Versions:",
            "",
            *listing,
            "",
        ]
    )


# --- main ---------------------------------------------------------------------------------------


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # so that `finally` stops nginx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per tool (>= 5)")
    parser.add_argument("--out", type=Path, default=OUT, help="Markdown file to write")
    parser.add_argument(
        "--skip-missing",
        action="store_true",
        help="skip a peer tool that cannot be installed instead of stopping",
    )
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    sys.path.insert(0, str(ROOT))
    from tests.lab import pki
    from tests.lab.nginx import Nginx, nginx_available, tls_server_block

    if not nginx_available():
        sys.stderr.write("nginx is missing: packaging/install-system-packages.sh test\n")
        return 2
    if not OURS.exists():
        sys.stderr.write(f"{OURS} is missing: run `make lint` (or `make test`) first\n")
        return 2

    compile_bytecode()
    why_missing = ensure_apt(["nmap", "sslscan"])
    sslyze_python, why = ensure_sslyze()
    if sslyze_python is None:
        why_missing["sslyze"] = why
    if why_missing and not args.skip_missing:
        for name, reason in why_missing.items():
            sys.stderr.write(f"{name}: {reason} (--skip-missing to go on without it)\n")
        return 2

    sslyze_bin = str(sslyze_python.parent / "sslyze") if sslyze_python else "sslyze"
    versions = {
        "nproc": _output(["nproc"]) or str(os.cpu_count()),
        "handshake-doctor": _output([str(OURS), "--version"]),
        "nmap": (_output(["nmap", "--version"]).splitlines() or [""])[0],
        "sslscan": " ".join(_output(["sslscan", "--version"]).split()),
        "sslyze": (
            f"sslyze {sslyze_version(sslyze_python)} (pinned in bench/requirements.txt: "
            f"{pinned_sslyze()})"
            if sslyze_python
            else ""
        ),
        "nginx": _output(["/usr/sbin/nginx", "-v"]),
    }
    versions = {k: v or "not installed" for k, v in versions.items()}
    for name, text in versions.items():
        sys.stderr.write(f"{name}: {text}\n")

    with tempfile.TemporaryDirectory(prefix="hd-startup-bench-") as folder:
        root = pki.root("Startup Bench Root")
        cert, key = pki.write_chain(
            Path(folder), "leaf", [pki.leaf("127.0.0.1", root, key="rsa2048")]
        )
        server = Nginx(lambda ports: tls_server_block(ports[0], certificate=cert, key=key))
        try:
            server.start()
            port = server.port
            tools = {
                "ours": Tool(
                    "ours",
                    [str(OURS), "check", f"127.0.0.1:{port}", "--only", "target", "--json"],
                    check_ours,
                ),
                "nmap": Tool(
                    "nmap",
                    ["nmap", "--script", "ssl-enum-ciphers", "-p", str(port), "127.0.0.1"],
                    check_nmap,
                ),
                "sslscan": Tool("sslscan", ["sslscan", f"127.0.0.1:{port}"], check_sslscan),
                "sslyze": Tool("sslyze", [sslyze_bin, f"127.0.0.1:{port}"], check_sslyze),
                "version": Tool("version", [str(OURS), "--version"], check_version),
            }
            for name, reason in why_missing.items():
                tools[name].skipped = reason
            measure(list(tools.values()), args.runs)
            phases = breakdown(port, args.runs)
        finally:
            server.stop()

    labels = {
        "ours": "ours: `handshake-doctor check 127.0.0.1:PORT --only target --json`",
        "nmap": "nmap: `nmap --script ssl-enum-ciphers -p PORT 127.0.0.1`",
        "sslscan": "sslscan: `sslscan 127.0.0.1:PORT`",
        "sslyze": "sslyze: `sslyze 127.0.0.1:PORT`",
        "version": "ours: `handshake-doctor --version`",
    }
    table = report(tools, labels) + breakdown_table(phases, args.runs)
    sys.stdout.write(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header(versions, args.runs) + "\n" + table, encoding="utf-8")
    sys.stderr.write(f"wrote {args.out}\n")
    return 1 if any(t.failed for t in tools.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
