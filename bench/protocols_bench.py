"""Benchmark: our protocol enumeration against sslyze and testssl.sh on private nginx servers.

Run from the repository root with the project's Python:

    python bench/protocols_bench.py            # prints a Markdown table
    python bench/protocols_bench.py --configs tls13_only,cbc_only

It starts one private nginx on loopback (tests/lab/nginx.py) serving each configuration of
tests/lab/test_protocols_lab.py, then per configuration runs, one after the other, our scan, sslyze
(installed into bench/.venv from bench/requirements.txt) and testssl.sh (Debian package
`testssl.sh`), each as its own process so that each pays its own start-up. Only 127.0.0.1 is
contacted. It prints whether the version and suite sets agree, our handshake count, and the wall
time ratios ours/sslyze and ours/testssl.sh.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Only what our scan needs is imported at the top: the child process that runs it must not pay
# for the lab's imports (pytest, the PKI) in its measured time.
from checks import protocols  # noqa: E402
from checks.lib import cipher_suites, starttls  # noqa: E402

BENCH = ROOT / "bench"
VENV = BENCH / ".venv"
REQUIREMENTS = BENCH / "requirements.txt"
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
PEER_TIMEOUT = 900
# Our scan and sslyze run this many times per configuration (median kept); testssl.sh once.
REPEAT = 3
VERSIONS = cipher_suites.VERSIONS
Sets = tuple[dict[str, bool], dict[str, set[str]]]

SSLYZE_COMMANDS = {
    "SSLv2": "ssl_2_0_cipher_suites",
    "SSLv3": "ssl_3_0_cipher_suites",
    "TLSv1.0": "tls_1_0_cipher_suites",
    "TLSv1.1": "tls_1_1_cipher_suites",
    "TLSv1.2": "tls_1_2_cipher_suites",
    "TLSv1.3": "tls_1_3_cipher_suites",
}
TESTSSL_PROTOCOLS = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLS1": "TLSv1.0",
    "TLS1_1": "TLSv1.1",
    "TLS1_2": "TLSv1.2",
    "TLS1_3": "TLSv1.3",
}
TESTSSL_CIPHER_PREFIX = {
    "ssl2": "SSLv2",
    "ssl3": "SSLv3",
    "tls1": "TLSv1.0",
    "tls1_1": "TLSv1.1",
    "tls1_2": "TLSv1.2",
    "tls1_3": "TLSv1.3",
}


# --- our side: a separate process, like the peers --------------------------------------------


def ours_main(port: int, opening: str | None = None) -> None:
    """Scan 127.0.0.1:`port`, every connection upgraded first with `opening` (a STARTTLS
    protocol of checks.lib.starttls) when given; print the facts as JSON."""
    started = time.monotonic()
    scanner = protocols.Scanner(
        "127.0.0.1",
        port,
        sni=None,
        timeout=lambda: 5.0,
        cancel=threading.Event(),
        opening=starttls.Opening(opening, "127.0.0.1") if opening else None,
    )
    result = protocols.scan(scanner)
    facts = protocols.facts(result, "127.0.0.1", port, None)
    out = {
        "versions": dict(facts.versions),
        "suites": {version: list(names) for version, names in facts.suites.items()},
        "handshakes": facts.handshakes,
        "scan_s": time.monotonic() - started,
    }
    sys.stdout.write(json.dumps(out))


def run_ours(port: int, opening: str | None = None) -> tuple[float, float, Sets, int]:
    """Wall time of the whole process, time of the scan inside it, the sets, the handshakes."""
    command = [sys.executable, str(Path(__file__).resolve()), "--ours", str(port)]
    if opening:
        command += ["--opening", opening]
    started = time.monotonic()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=PEER_TIMEOUT,
        check=True,
    )
    elapsed = time.monotonic() - started
    facts = json.loads(done.stdout)
    versions = {v: bool(facts["versions"][v]) for v in VERSIONS}
    suites = {v: set(facts["suites"].get(v, [])) for v in VERSIONS}
    return elapsed, float(facts["scan_s"]), (versions, suites), int(facts["handshakes"])


def startup(command: list[str]) -> float:
    """The median wall time of `command` (an interpreter importing a tool), over 3 runs."""
    times = []
    for _ in range(REPEAT):
        started = time.monotonic()
        subprocess.run(command, capture_output=True, timeout=PEER_TIMEOUT, check=False)
        times.append(time.monotonic() - started)
    return statistics.median(times)


# --- sslyze ----------------------------------------------------------------------------------


def ensure_sslyze() -> Path | None:
    """bench/.venv with the pinned sslyze; None (and why, on stderr) when it cannot be had."""
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
    check = subprocess.run(
        [str(python), "-c", "import sslyze"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            capture_output=True,
            text=True,
            check=False,
        )
        if install.returncode != 0:
            sys.stderr.write(f"sslyze could not be installed:\n{install.stderr[-2000:]}\n")
            return None
    return python


def run_sslyze(python: Path, port: int, starttls: str | None = None) -> tuple[float, Sets]:
    """`starttls`: sslyze's --starttls protocol (smtp, imap, pop3, ldap, postgres, ...)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "sslyze.json"
        flags = ["--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"]
        if starttls:
            flags += ["--starttls", starttls]
        started = time.monotonic()
        subprocess.run(
            [
                str(python),
                "-m",
                "sslyze",
                *flags,
                "--quiet",
                "--json_out",
                str(out),
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            timeout=PEER_TIMEOUT,
            check=False,
        )
        elapsed = time.monotonic() - started
        data = json.loads(out.read_text(encoding="utf-8"))
    result = data["server_scan_results"][0]["scan_result"]
    versions: dict[str, bool] = {}
    suites: dict[str, set[str]] = {}
    for version, command in SSLYZE_COMMANDS.items():
        accepted = (result.get(command) or {}).get("result") or {}
        names = {c["cipher_suite"]["name"] for c in accepted.get("accepted_cipher_suites", [])}
        suites[version] = names
        versions[version] = bool(names)
    return elapsed, (versions, suites)


# --- testssl.sh ------------------------------------------------------------------------------


def run_testssl(
    port: int, starttls: str | None = None, extra: Sequence[str] = ()
) -> tuple[float, Sets]:
    """`starttls`: testssl.sh's -t/--starttls protocol (smtp, imap, ldap, postgres, ...);
    `extra`: more options (--ssl-native)."""
    assert TESTSSL is not None
    registry = cipher_suites.registry()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "testssl.json"
        options = [*(["--starttls", starttls] if starttls else []), *extra]
        started = time.monotonic()
        subprocess.run(
            [
                TESTSSL,
                "--jsonfile",
                str(out),
                "--warnings",
                "off",
                "--openssl-timeout",
                "5",
                "--quiet",
                "--color",
                "0",
                "--ip",
                "127.0.0.1",
                *options,
                "-p",
                "-E",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            timeout=PEER_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - started
        entries = json.loads(out.read_text(encoding="utf-8"))
    versions = dict.fromkeys(VERSIONS, False)
    suites: dict[str, set[str]] = {v: set() for v in VERSIONS}
    for entry in entries:
        ident, finding = str(entry.get("id", "")), str(entry.get("finding", ""))
        if ident in TESTSSL_PROTOCOLS:
            versions[TESTSSL_PROTOCOLS[ident]] = finding.startswith("offered")
        elif ident.startswith("cipher-") and "_x" in ident:
            prefix, _, code = ident.removeprefix("cipher-").rpartition("_x")
            version = TESTSSL_CIPHER_PREFIX.get(prefix)
            if version is None:
                continue
            if version == "SSLv2":
                name = registry.sslv2.get(int(code, 16), code)
            else:
                name = registry.name(int(code, 16))
            suites[version].add(name)
    for version, names in suites.items():
        versions[version] = versions[version] or bool(names)
    return elapsed, (versions, suites)


# --- the table -------------------------------------------------------------------------------


def differences(ours: Sets, peer: Sets) -> list[str]:
    lines = []
    for version in VERSIONS:
        if ours[0][version] != peer[0][version]:
            lines.append(f"{version}: ours {ours[0][version]}, peer {peer[0][version]}")
        extra, missing = ours[1][version] - peer[1][version], peer[1][version] - ours[1][version]
        if extra:
            lines.append(f"{version}: only ours: {', '.join(sorted(extra))}")
        if missing:
            lines.append(f"{version}: only peer: {', '.join(sorted(missing))}")
    return lines


def _agree(ours: Sets, peer: Sets | None, part: int) -> str:
    if peer is None:
        return "n/a"
    return "yes" if ours[part] == peer[part] else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ours", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--opening", help=argparse.SUPPRESS)
    parser.add_argument("--configs", default="")
    args = parser.parse_args(argv)
    if args.ours:
        ours_main(args.ours, args.opening)
        return 0
    from tests.lab.nginx import nginx_available
    from tests.lab.test_protocols_lab import CONFIGS, start_configs

    if not nginx_available():
        sys.stderr.write("nginx is missing: packaging/install-system-packages.sh test\n")
        return 2
    names = [n for n in args.configs.split(",") if n] or list(CONFIGS)
    sslyze = ensure_sslyze()
    if TESTSSL is None:
        sys.stderr.write("testssl.sh is missing: apt-get install testssl.sh\n")
    notes: list[str] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="hd-bench-") as folder:
        sslyze_start = startup([str(sslyze), "-c", "import sslyze"]) if sslyze else 0.0
        server, ports = start_configs(Path(folder), names)
        try:
            for name in names:
                port = ports[name]
                runs = [run_ours(port) for _ in range(REPEAT)]
                ours_s = statistics.median(r[0] for r in runs)
                scan_s = statistics.median(r[1] for r in runs)
                _, _, ours, handshakes = runs[0]
                peers: dict[str, tuple[float, Sets] | None] = {"sslyze": None, "testssl.sh": None}
                if sslyze:
                    sslyze_runs = [run_sslyze(sslyze, port) for _ in range(REPEAT)]
                    sslyze_s = statistics.median(r[0] for r in sslyze_runs)
                    peers["sslyze"] = (sslyze_s, sslyze_runs[0][1])
                if TESTSSL:
                    peers["testssl.sh"] = run_testssl(port)
                cells = [name]
                for part in (0, 1):
                    cells.append(
                        " / ".join(_agree(ours, p[1] if p else None, part) for p in peers.values())
                    )
                cells.append(str(handshakes))
                for peer_name, peer in peers.items():
                    if peer is None:
                        cells.append("n/a")
                        continue
                    cell = f"{ours_s:.2f} s / {peer[0]:.2f} s = {ours_s / peer[0]:.2f}"
                    if peer_name == "sslyze":
                        work = max(peer[0] - sslyze_start, 1e-3)
                        cell += f" (scan only: {scan_s:.3f} s / {work:.2f} s = {scan_s / work:.3f})"
                    cells.append(cell)
                    notes += [f"{name} vs {peer_name}: {d}" for d in differences(ours, peer[1])]
                rows.append(cells)
                sys.stderr.write(f"{name}: done\n")
        finally:
            server.stop()
    header = [
        "config",
        "versions agree (sslyze / testssl.sh)",
        "suites agree (sslyze / testssl.sh)",
        "our handshakes",
        "ours / sslyze",
        "ours / testssl.sh",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if notes:
        lines += ["", "Differences:", ""] + [f"- {note}" for note in notes]
    if sslyze is None:
        lines += ["", "sslyze could not be installed here; see stderr."]
    else:
        lines += [
            "",
            f"Times are medians of {REPEAT} runs (testssl.sh: one run), each tool in its own",
            "process.",
            "Scan only: our scan timed inside its process, against sslyze's wall time minus its",
            f"start-up (importing sslyze: {sslyze_start:.2f} s).",
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
