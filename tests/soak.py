"""Drives the real window through many diagnoses in a row on a private X display, as a helpdesk
person would, and records what each run showed and what the process cost.

The same driver serves the app run from source (tests/gui/test_soak.py) and the frozen app
(packaging/tests/test_frozen.py): it only types into the window, presses keys and reads the
clipboard, so it needs nothing inside the program. Needs Xvfb, xdotool and xclip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from checks.core.target import parse
from tests.lab import pki
from tests.lab.servers import TLSServer, closed_port
from tests.lab.starttls_standins import SmtpServer

# Short enough that 50 runs fit in CI; long enough for a loopback handshake on a busy machine.
CONNECT_TIMEOUT_S = 1.5
# The slow server answers only after this, well past the timeout above.
SLOW_DELAY_S = 4.0
RUN_TIMEOUT_S = 60.0
POLL_S = 0.25
TOOLS = ("Xvfb", "xdotool", "xclip")
BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
# Environment variables that would send the app's traffic elsewhere or change its trust.
_CLEARED = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HANDSHAKE_DOCTOR_BENCH_STARTUP",
)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


class SlowTLSServer(TLSServer):
    """A real TLS server that waits `delay` seconds before it starts the handshake."""

    def __init__(self, chain: Path, key: Path, *, delay: float) -> None:
        super().__init__(chain, key)
        self.delay = delay

    def handle(self, conn: socket.socket) -> None:
        end = time.monotonic() + self.delay
        while time.monotonic() < end and not self.stopping:
            time.sleep(0.05)
        if not self.stopping:
            super().handle(conn)


@dataclass(frozen=True)
class Lab:
    """The loopback servers of the soak, the trust bundle that trusts them, and each target."""

    targets: Mapping[str, str]
    bundle: Path


@contextlib.contextmanager
def lab(folder: Path) -> Iterator[Lab]:
    """A closed port, a healthy TLS server, a slow one, a mail server that upgrades with
    STARTTLS and one whose greeting never ends, all on 127.0.0.1."""
    root = pki.root("Handshake Doctor Soak Root")
    leaf = pki.leaf("127.0.0.1", root)
    cert, key = pki.write_chain(folder / "certs", "soak", (leaf,))
    system = next((Path(b) for b in BUNDLES if Path(b).is_file()), None)
    bundle = folder / "trusted.pem"
    bundle.write_bytes((system.read_bytes() if system else b"") + root.pem)
    healthy = TLSServer(cert, key).start()
    slow = SlowTLSServer(cert, key, delay=SLOW_DELAY_S).start()
    mail = SmtpServer(cert, key).start()
    endless = SmtpServer(cert, key, mode="endless_greeting").start()
    try:
        yield Lab(
            {
                "closed": f"127.0.0.1:{closed_port()}",
                "healthy": f"127.0.0.1:{healthy.port}",
                "slow": f"127.0.0.1:{slow.port}",
                "mail": f"smtp://127.0.0.1:{mail.port}",
                "mail_stalled": f"smtp://127.0.0.1:{endless.port}",
            },
            bundle,
        )
    finally:
        for server in (healthy, slow, mail, endless):
            server.stop()


@dataclass(frozen=True)
class Sample:
    """What one diagnosis showed and what the window's process used right after it."""

    run: int
    kind: str
    target: str
    summary: str
    seconds: float
    rss_mb: float
    threads: int
    children: int
    # diagnosis processes still alive once the run had settled (each run starts one)
    diagnosis_processes: int

    def statuses(self) -> dict[str, str]:
        """Check name -> status word, from the summary's "[✔ PASS]  Name  title" lines."""
        found: dict[str, str] = {}
        for line in self.summary.splitlines():
            if line.startswith("[") and "]  " in line:
                head, _, rest = line.partition("]  ")
                name = rest.split("  ", 1)[0]
                found.setdefault(name, head.split()[-1])
        return found

    def verdict(self) -> str:
        """The verdict line of the summary (the first status line)."""
        return next((line for line in self.summary.splitlines() if line.startswith("[")), "")


class SoakFailure(AssertionError):
    """The window died or stopped answering; carries what it printed."""


@contextlib.contextmanager
def display() -> Iterator[str]:
    """A private Xvfb display, e.g. ":57"."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise SoakFailure("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def app_environment(folder: Path, bundle: Path, display_name: str) -> dict[str, str]:
    """A clean environment: a private settings folder (offline, short timeouts, English), the
    lab's root trusted through SSL_CERT_FILE as a user or an administrator would add it."""
    config = folder / "config"
    settings = config / "Handshake Doctor" / "Handshake Doctor.conf"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(
        "[settings]\n"
        "lang=en\n"
        "offline=true\n"
        f"connect_timeout={CONNECT_TIMEOUT_S}\n"
        "check_deadline=20\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED and k.upper() not in _CLEARED}
    env.update(
        DISPLAY=display_name,
        QT_QPA_PLATFORM="xcb",
        XDG_CONFIG_HOME=str(config),
        XDG_CACHE_HOME=str(folder / "cache"),
        XDG_RUNTIME_DIR=str(folder),
        SSL_CERT_FILE=str(bundle),
        LANG="C.UTF-8",
        NO_AT_BRIDGE="1",
    )
    return env


class Window:
    """The app's process and its X window, driven with xdotool and xclip."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> None:
        self._env = dict(env)
        self._log = log.open("w+b")
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.psutil = psutil.Process(self.process.pid)
        self.window_id = self._find_window()

    def _tool(self, *args: str, timeout: float = 10.0, check: bool = True) -> str:
        done = subprocess.run(
            list(args),
            env=self._env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            self.ensure_alive()
            raise SoakFailure(f"{args[0]} {args[1]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode("utf-8", errors="replace")

    def _find_window(self) -> str:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            self.ensure_alive()
            found = self._tool(
                "xdotool", "search", "--onlyvisible", "--name", "Handshake Doctor", check=False
            ).split()
            if found:
                return found[0]
            time.sleep(0.2)
        raise SoakFailure(f"no window within 60 s\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")

    def ensure_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise SoakFailure(f"the app exited with code {code}\n{self.output()[-4000:]}")

    def focus(self) -> None:
        self._tool("xdotool", "windowfocus", "--sync", self.window_id)

    def key(self, *keys: str) -> None:
        self._tool("xdotool", "key", "--clearmodifiers", *keys)

    def type(self, text: str) -> None:
        self._tool("xdotool", "type", "--delay", "8", text, timeout=30)

    def clear_clipboard(self) -> None:
        # xclip stays in the background as the clipboard's owner until the app takes it over,
        # so its output is not waited for.
        subprocess.run(
            ["xclip", "-selection", "clipboard", "-i", "/dev/null"],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=True,
        )

    def clipboard(self) -> str:
        return self._tool("xclip", "-selection", "clipboard", "-o", check=False, timeout=5)

    def diagnose(self, target: str) -> tuple[str, float]:
        """Type `target` into the Site field, press Enter and wait for the report; the report
        as "Copy summary" (Ctrl+Shift+C) puts it on the clipboard, and the seconds it took."""
        self.clear_clipboard()
        self.focus()
        self.key("alt+s")  # the Site field's mnemonic
        self.key("ctrl+a")
        self.type(target)
        started = time.monotonic()
        self.key("Return")
        # The report names the server as `host:port` (and its protocol, for a mail server).
        heading = f"Handshake Doctor report: {parse(target).display}"
        while time.monotonic() - started < RUN_TIMEOUT_S:
            time.sleep(POLL_S)
            self.ensure_alive()
            # Copy summary is disabled while a run is going, so only a finished report lands.
            self.key("ctrl+shift+c")
            text = self.clipboard()
            if text.startswith(heading):
                return text, time.monotonic() - started
        raise SoakFailure(f"no report for {target} within {RUN_TIMEOUT_S:.0f} s")

    def children(self) -> tuple[int, int]:
        """Live child processes, and how many of them are diagnosis processes, once the run's
        diagnosis process had a moment to exit (multiprocessing's resource tracker stays)."""
        end = time.monotonic() + 3
        while True:
            alive = []
            for child in self.psutil.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    if child.status() != psutil.STATUS_ZOMBIE:
                        alive.append(" ".join(child.cmdline()))
            diagnosis = [c for c in alive if "spawn_main" in c or "--multiprocessing-fork" in c]
            if not diagnosis or time.monotonic() > end:
                return len(alive), len(diagnosis)
            time.sleep(0.1)

    def close(self, timeout: float = 10.0) -> int:
        """Quit with Ctrl+Q as a user would; the exit code."""
        self.ensure_alive()
        self.focus()
        self.key("ctrl+q")
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self._log.close()


def soak(command: Sequence[str], folder: Path, runs: int, cwd: Path) -> tuple[list[Sample], int]:
    """Run `runs` diagnoses in one window, cycling through the lab's targets; every sample and
    the exit code of the window when closed with Ctrl+Q at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    with lab(folder) as servers, display() as name:
        environment = app_environment(folder, servers.bundle, name)
        window = Window(command, environment, cwd, folder / "app.log")
        try:
            kinds = list(servers.targets)
            for run in range(1, runs + 1):
                kind = kinds[(run - 1) % len(kinds)]
                target = servers.targets[kind]
                try:
                    summary, seconds = window.diagnose(target)
                except SoakFailure as exc:
                    raise SoakFailure(f"run {run} of {runs} ({kind}, {target}): {exc}") from None
                children, diagnosis = window.children()
                memory = window.psutil.memory_info().rss / 2**20
                threads = window.psutil.num_threads()
                samples.append(
                    Sample(
                        run, kind, target, summary, seconds, memory, threads, children, diagnosis
                    )
                )
            code = window.close()
        except BaseException:
            window.kill()
            raise
    return samples, code


# What each lab target must show, written from what is true of the server: (check name, status)
# pairs that must appear, and a word the verdict line must contain.
EXPECTED: Mapping[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "closed": ((("Connection (TCP)", "FAIL"),), "Nothing is listening"),
    "healthy": (
        (("Connection (TCP)", "PASS"), ("Secure handshake (TLS)", "PASS")),
        "",
    ),
    "slow": (
        (("Connection (TCP)", "PASS"), ("Secure handshake (TLS)", "FAIL")),
        "never",
    ),
    "mail": (
        (("Upgrade to TLS (STARTTLS)", "PASS"), ("Secure handshake (TLS)", "PASS")),
        "",
    ),
    "mail_stalled": ((("Upgrade to TLS (STARTTLS)", "FAIL"),), "never finished"),
}
# Growth allowed after the first runs have warmed every cache; a leak of one card, report or
# thread per run would pass these within a few runs.
RSS_GROWTH_MB = 12.0
THREAD_GROWTH = 2
WARM_RUNS = 10


def problems(samples: Sequence[Sample]) -> list[str]:
    """Every way the runs went wrong: a wrong result, a leftover process, growth."""
    found: list[str] = []
    for sample in samples:
        statuses = sample.statuses()
        pairs, verdict_word = EXPECTED[sample.kind]
        for name, status in pairs:
            if statuses.get(name) != status:
                found.append(f"run {sample.run} ({sample.kind}): {name} {statuses.get(name)}")
        verdict = sample.verdict()
        if verdict_word not in verdict:
            found.append(f"run {sample.run} ({sample.kind}): verdict {verdict!r}")
        if sample.kind == "healthy" and "FAIL" in verdict.split("]")[0]:
            found.append(f"run {sample.run} (healthy): verdict {verdict!r}")
        if sample.diagnosis_processes:
            found.append(f"run {sample.run}: {sample.diagnosis_processes} diagnosis process left")
    if len(samples) > WARM_RUNS:
        warm, last = samples[WARM_RUNS - 1], samples[-1]
        if last.rss_mb - warm.rss_mb > RSS_GROWTH_MB:
            found.append(f"RSS grew from {warm.rss_mb:.1f} MB to {last.rss_mb:.1f} MB")
        if max(s.threads for s in samples[WARM_RUNS:]) > warm.threads + THREAD_GROWTH:
            found.append(f"threads grew from {warm.threads}: {[s.threads for s in samples]}")
        if last.children > warm.children:
            found.append(f"child processes grew from {warm.children} to {last.children}")
    return found


def figures(samples: Sequence[Sample]) -> str:
    """RSS, threads and children at the first, middle and last run, for the test's output."""
    picks = sorted({samples[0].run, samples[len(samples) // 2 - 1].run, samples[-1].run})
    by_run = {s.run: s for s in samples}
    return "; ".join(
        f"run {r}: RSS {by_run[r].rss_mb:.1f} MB, {by_run[r].threads} threads, "
        f"{by_run[r].children} children"
        for r in picks
    )
