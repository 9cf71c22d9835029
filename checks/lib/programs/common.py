"""What every attempt shares: the run of one program against the target, and its verdicts."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from checks.lib.programs import classify, parse
from checks.lib.programs.models import Attempt, Program, Reason
from checks.lib.programs.runner import run
from checks.lib.system import CommandResult

# Beyond the network timeout each program gets this long to start and end: a JVM compiles the
# probe in memory first (1-3 s), the others start in well under a second.
_GRACE_S = {"java": 20.0}
_DEFAULT_GRACE_S = 5.0


@dataclass(frozen=True)
class Run:
    """What an attempt needs besides the program: the target's parts and the environment."""

    host: str
    port: int
    address: str | None
    cacert: str | None
    timeout: float
    cancel: threading.Event
    environ: dict[str, str]
    folder: Path
    protocol: str = "https"
    starttls: str | None = None

    @property
    def host_is_ip(self) -> bool:
        return is_ip(self.host)

    def authority(self, host: str | None = None) -> str:
        name = host or self.host
        return f"[{name}]:{self.port}" if ":" in name else f"{name}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.authority()}/"

    def go(
        self, program: Program, argv: list[str], env: Mapping[str, str] | None = None
    ) -> CommandResult:
        grace = _GRACE_S.get(program.id, _DEFAULT_GRACE_S)
        return run(
            argv, timeout=self.timeout + grace, cancel=self.cancel,
            environ=env if env is not None else self.environ, cwd=self.folder,
        )  # fmt: skip


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def secs(value: float) -> str:
    return f"{max(1, round(value))}"


def curl_base_argv(program: Program, r: Run, *options: str) -> list[str]:
    """curl as every attempt starts it: no ~/.curlrc (-q must come first), no output file, no
    proxy, the run's time limit, the name pinned to the address the checks used, `--cacert`."""
    argv = [program.path or "curl", "-q", *options, "-sS", "-o", os.devnull, "--noproxy", "*"]
    argv += ["--max-time", secs(r.timeout), "--connect-timeout", secs(r.timeout)]
    if r.address and not r.host_is_ip:
        pinned = f"[{r.address}]" if ":" in r.address else r.address
        argv += ["--resolve", f"{r.host}:{r.port}:{pinned}"]
    if r.cacert:
        argv += ["--cacert", r.cacert]
    return argv


def unknown(program: Program, detail: str, reason: Reason | None = None) -> Attempt:
    return Attempt(program.id, "unknown", reason, classify.one_line(detail), "ran")


def refuses(program_id: str, text: str, reason: Reason | None = None) -> Attempt:
    """A refusal, its reason read from `text` unless given, its detail the line that says it."""
    reason = reason or classify.reason_of(text)
    lines = [line for line in text.splitlines() if line.strip()]
    telling = next((line for line in lines if classify.reason_of(line) == reason), None)
    detail = telling or (lines[0] if lines else "no message")
    return Attempt(program_id, "refuses", reason, classify.one_line(detail), "ran")


def connects(program_id: str, detail: str) -> Attempt:
    return Attempt(program_id, "connects", None, classify.one_line(detail), "ran")


def did_not_run(program: Program, done: CommandResult) -> Attempt | None:
    """An Attempt for a command that never ended or never started, else None."""
    if done.error is None:
        return None
    if "no answer within" in done.error:
        return Attempt(program.id, "refuses", "timeout", classify.one_line(done.error), "ran")
    return unknown(program, f"could not run {program.name}: {done.error}")


def probe_attempt(program: Program, done: CommandResult, probe: str) -> Attempt:
    """The Attempt of a probe script that prints one JSON answer: what it says, or why the
    script (the `probe`: "Node", "Python") said nothing usable."""
    if (failed := did_not_run(program, done)) is not None:
        return failed
    answer = parse.json_object(done.stdout)
    if not answer:
        problem = classify.first_meaningful(done.stderr, "Error") or "no answer"
        return unknown(program, f"the {probe} probe failed: {problem}")
    return script_result(program.id, answer)


def script_result(program_id: str, answer: Mapping[str, object]) -> Attempt:
    """An Attempt from a probe script's JSON answer ({"ok": ..., "message": ..., ...})."""
    if answer.get("ok") is True:
        said = str(answer.get("detail") or "")
        return connects(program_id, said or f"connected with {answer.get('version') or 'TLS'}")
    message = str(answer.get("message") or "")
    code = str(answer.get("code") or "")
    causes = str(answer.get("causes") or "")
    text = " ".join(part for part in (code, message) if part)
    reason = classify.reason_of(f"{text} {causes}")
    if answer.get("stage") == "network" and reason not in ("timeout", "network"):
        reason = "network"
    return Attempt(program_id, "refuses", reason, classify.one_line(text or causes), "ran")
