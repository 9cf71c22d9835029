"""Benchmark: our protocol enumeration through STARTTLS against sslyze and testssl.sh.

Run from the repository root with the project's Python:

    python bench/starttls_bench.py             # prints a Markdown table
    python bench/starttls_bench.py --configs imap,imaps

It starts private servers on loopback (tests/lab/starttls_servers.py): a real dovecot (IMAP with
STARTTLS, and the same dovecot's IMAPS port: the same TLS configuration without the upgrade),
a real PostgreSQL, a real slapd (LDAP StartTLS) and the Python SMTP stand-in. Per configuration
it runs, one after the other, our scan (every connection upgraded first), sslyze --starttls and
testssl.sh --starttls, each as its own process, with the helpers of bench/protocols_bench.py.
Only 127.0.0.1 is contacted. It prints whether the version and suite sets agree, how many
connections each tool opened (counted by the server), and the wall time ratios ours/sslyze,
ours/testssl.sh and, for IMAP, STARTTLS/IMAPS (what the upgrade costs).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import protocols_bench as pb  # noqa: E402

REPEAT = pb.REPEAT
SETTLE = 1.0


@dataclass(frozen=True)
class Config:
    name: str
    label: str
    # Our checks.lib.starttls protocol, sslyze's --starttls and testssl.sh's -t (None: implicit).
    ours: str | None
    sslyze: str | None
    testssl: str | None
    # testssl.sh 3.0 speaks LDAP StartTLS only through openssl s_client ("LDAP+STARTTLS over
    # sockets not supported yet (try --ssl-native)").
    testssl_extra: tuple[str, ...] = ()


CONFIGS = {
    c.name: c
    for c in (
        Config("imap", "IMAP STARTTLS (dovecot)", "imap", "imap", "imap"),
        Config("imaps", "IMAPS (same dovecot, implicit TLS)", None, None, None),
        Config("postgres", "PostgreSQL 15 SSLRequest", "postgres", "postgres", "postgres"),
        Config("ldap", "LDAP StartTLS (slapd)", "ldap", "ldap", "ldap", ("--ssl-native",)),
        Config("smtp", "SMTP STARTTLS (Python stand-in)", "smtp", "smtp", "smtp"),
    )
}


@dataclass
class Target:
    port: int
    # How many TCP connections the server has seen so far (read from its log or counted).
    connections: Callable[[], int]


def _count(path: Path, pattern: str) -> Callable[[], int]:
    compiled = re.compile(pattern)

    def count() -> int:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return 0
        return len(compiled.findall(text))

    return count


def start_targets(stack: ExitStack, folder: Path, names: list[str]) -> dict[str, Target]:
    from tests.lab import pki
    from tests.lab.starttls_servers import Dovecot, Postgres, Slapd, SmtpServer

    class CountingSmtp(SmtpServer):
        """The stand-in, counting the connections it accepts."""

        accepted = 0

        def handle(self, conn):  # type: ignore[no-untyped-def]
            with self._lock:
                self.accepted += 1
            return super().handle(conn)

    root = pki.root()
    leaf = pki.leaf("mail.lab.test", root, sans=("mail.lab.test", "127.0.0.1"))
    chain, key = pki.write_chain(folder, "mail", [leaf])
    targets: dict[str, Target] = {}
    if {"imap", "imaps"} & set(names):
        dovecot = stack.enter_context(Dovecot(chain, key))
        # Every login process logs one line as its connection ends ("Disconnected: ..."); the
        # lines do not name the local port, but runs are one after the other, so the lines
        # written during a run are that run's.
        log = dovecot.folder / "dovecot.log"
        targets["imap"] = Target(dovecot.port, _count(log, r"imap-login: "))
        assert dovecot.implicit_port is not None
        targets["imaps"] = Target(dovecot.implicit_port, _count(log, r"imap-login: "))
    if "postgres" in names:
        postgres = stack.enter_context(Postgres(chain, key))
        targets["postgres"] = Target(
            postgres.port, _count(postgres.output_path, r"connection received: ")
        )
    if "ldap" in names:
        slapd = stack.enter_context(Slapd(chain, key))
        targets["ldap"] = Target(slapd.port, _count(slapd.output_path, r" ACCEPT from "))
    if "smtp" in names:
        smtp = stack.enter_context(CountingSmtp(chain, key))
        targets["smtp"] = Target(smtp.port, lambda: smtp.accepted)
    return targets


@dataclass
class Measured:
    seconds: float
    sets: pb.Sets
    connections: int
    scan_seconds: float | None = None
    handshakes: int | None = None


def _counted(target: Target, run: Callable[[], Measured]) -> Measured:
    # Servers log a connection a moment after it happened (slapd's start-up probes, dovecot's
    # login processes ending): let the log settle before and after the run (untimed).
    time.sleep(SETTLE)
    before = target.connections()
    measured = run()
    time.sleep(SETTLE)
    measured.connections = target.connections() - before
    return measured


def measure(config: Config, target: Target, sslyze: Path | None) -> dict[str, Measured]:
    def ours() -> Measured:
        wall, scan_s, sets, handshakes = pb.run_ours(target.port, config.ours)
        return Measured(wall, sets, 0, scan_s, handshakes)

    results: dict[str, Measured] = {}
    runs = [_counted(target, ours) for _ in range(REPEAT)]
    results["ours"] = Measured(
        statistics.median(r.seconds for r in runs),
        runs[0].sets,
        runs[0].connections,
        statistics.median(r.scan_seconds or 0.0 for r in runs),
        runs[0].handshakes,
    )
    if sslyze:

        def peer() -> Measured:
            assert sslyze is not None
            return Measured(*pb.run_sslyze(sslyze, target.port, config.sslyze), 0)

        runs = [_counted(target, peer) for _ in range(REPEAT)]
        results["sslyze"] = Measured(
            statistics.median(r.seconds for r in runs), runs[0].sets, runs[0].connections
        )
    if pb.TESTSSL:

        def testssl() -> Measured:
            return Measured(*pb.run_testssl(target.port, config.testssl, config.testssl_extra), 0)

        results["testssl.sh"] = _counted(target, testssl)
    return results


def _ratio(ours: float, peer: float) -> str:
    return f"{ours:.2f} s / {peer:.2f} s = {ours / peer:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--configs", default="", help=f"comma-separated, of {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    from tests.lab.starttls_servers import INSTALL_HINT, missing_daemons

    missing = missing_daemons()
    if missing:
        sys.stderr.write(f"not installed: {', '.join(missing)}: {INSTALL_HINT}\n")
        return 2
    names = [n for n in args.configs.split(",") if n] or list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs: {', '.join(unknown)}")
    sslyze = pb.ensure_sslyze()
    if pb.TESTSSL is None:
        sys.stderr.write("testssl.sh is missing: apt-get install testssl.sh\n")
    sslyze_start = pb.startup([str(sslyze), "-c", "import sslyze"]) if sslyze else 0.0
    peers = ("sslyze", "testssl.sh")
    results: dict[str, dict[str, Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as folder, ExitStack() as stack:
        targets = start_targets(stack, Path(folder), names)
        for name in names:
            results[name] = measure(CONFIGS[name], targets[name], sslyze)
            sys.stderr.write(f"{name}: done\n")
    header = [
        "config",
        "versions agree (sslyze / testssl.sh)",
        "suites agree (sslyze / testssl.sh)",
        "connections (ours / sslyze / testssl.sh)",
        "ours / sslyze",
        "ours / testssl.sh",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes: list[str] = []
    for name in names:
        got = results[name]
        ours = got["ours"]
        cells = [CONFIGS[name].label]
        for part in (0, 1):
            cells.append(
                " / ".join(
                    pb._agree(ours.sets, got[p].sets if p in got else None, part) for p in peers
                )
            )
        counts = [str(got[t].connections) if t in got else "n/a" for t in ("ours", *peers)]
        cells.append(" / ".join(counts))
        for peer in peers:
            if peer not in got:
                cells.append("n/a")
                continue
            cell = _ratio(ours.seconds, got[peer].seconds)
            if peer == "sslyze" and ours.scan_seconds is not None:
                work = max(got[peer].seconds - sslyze_start, 1e-3)
                cell += f" (scan only: {ours.scan_seconds:.3f} s / {work:.2f} s"
                cell += f" = {ours.scan_seconds / work:.3f})"
            cells.append(cell)
            notes += [f"{name} vs {peer}: {d}" for d in pb.differences(ours.sets, got[peer].sets)]
        lines.append("| " + " | ".join(cells) + " |")
    if ours_handshakes := [
        f"{n} {results[n]['ours'].handshakes}" for n in names if results[n]["ours"].handshakes
    ]:
        lines += ["", "Our handshakes (one connection each): " + ", ".join(ours_handshakes) + "."]
    if "imap" in results and "imaps" in results:
        lines += ["", "What the IMAP upgrade costs (STARTTLS / IMAPS, same dovecot):", ""]
        for tool in ("ours", *peers):
            if tool in results["imap"] and tool in results["imaps"]:
                starttls, implicit = results["imap"][tool], results["imaps"][tool]
                line = f"- {tool}: {_ratio(starttls.seconds, implicit.seconds)}"
                if starttls.scan_seconds and implicit.scan_seconds:
                    line += f" (scan only: {_ratio(starttls.scan_seconds, implicit.scan_seconds)})"
                lines.append(line)
    if notes:
        lines += ["", "Differences:", ""] + [f"- {note}" for note in notes]
    lines += [
        "",
        f"Times are medians of {REPEAT} runs (testssl.sh: one run), each tool in its own process;",
        "connections are those of the first run, counted by the server.",
    ]
    if sslyze:
        lines += [
            "Scan only: our scan timed inside its process, against sslyze's wall time minus its",
            f"start-up (importing sslyze: {sslyze_start:.2f} s).",
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
