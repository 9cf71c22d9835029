"""The engine streams results, cancels promptly, gates on prerequisites, survives broken checks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from checks.core.check import Cancelled, Check, Context
from checks.core.config import Settings
from checks.core.models import Finding, Outcome, Status
from checks.engine import diagnose, run
from checks.lib import net


def _check(
    check_id: str,
    status: Status = Status.PASS,
    *,
    requires: tuple[str, ...] = (),
    delay: float = 0.0,
) -> Check:
    def body(ctx: Context) -> Outcome:
        time.sleep(delay)
        return Outcome((Finding(f"{check_id}.result", status),), {"delay": delay})

    return Check(check_id, "local", body, {f"{check_id}.result": ()}, requires)


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A loopback server that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[:2]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_results_stream_in_completion_order() -> None:
    plan = [_check("slow", delay=0.3), _check("fast")]
    ids = [
        r.check_id for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    ]
    assert ids == ["fast", "slow"]


def test_cancel_returns_within_one_second_while_a_check_is_blocked_in_a_socket_read(
    silent_server: tuple[str, int],
) -> None:
    entered = threading.Event()

    def read_forever(ctx: Context) -> Outcome:
        sock = net.connect(silent_server[0], silent_server[1], timeout=2, cancel=ctx.cancel)
        entered.set()
        with sock:
            sock.settimeout(60)
            sock.recv(1)  # a plain blocking read: only the engine's daemon thread can save us
        return Outcome(())

    plan = [Check("stuck", "local", read_forever, {})]
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    results = list(run(plan, settings=Settings(), target=None, cancel=cancel))
    elapsed = time.monotonic() - started
    assert entered.is_set()
    assert results == []
    assert elapsed < 1.5  # 0.5 s until cancel + under 1 s to return


def test_cooperative_socket_read_gives_up_on_cancel(silent_server: tuple[str, int]) -> None:
    cancel = threading.Event()
    sock = net.connect(*silent_server, timeout=2, cancel=cancel)
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with sock, pytest.raises(Cancelled):
        net.recv(sock, 1, timeout=30, cancel=cancel)
    assert time.monotonic() - started < 1


def test_a_raising_check_becomes_an_error_result_with_its_traceback() -> None:
    def broken(ctx: Context) -> Outcome:
        raise RuntimeError("boom")

    plan = [Check("broken", "local", broken, {}), _check("fine")]
    results = {
        r.check_id: r for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    }
    assert results["broken"].status is Status.ERROR
    assert results["broken"].error is not None
    assert "RuntimeError: boom" in results["broken"].error
    assert "Traceback" in results["broken"].error
    assert results["fine"].status is Status.PASS


def test_a_failed_prerequisite_skips_dependants_with_blocked_by_and_does_not_cascade() -> None:
    plan = [
        _check("tcp", Status.FAIL),
        _check("tls", requires=("tcp",)),
        _check("cert", requires=("tls",)),
        _check("clock"),
    ]
    results = {
        r.check_id: r for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    }
    assert results["tls"].status is Status.SKIP
    assert results["tls"].blocked_by == "tcp.result"
    assert results["cert"].blocked_by == "tcp.result"  # the root cause, not "tls.skipped"
    assert results["clock"].status is Status.PASS


def test_a_warning_prerequisite_does_not_block() -> None:
    plan = [_check("tcp", Status.WARN), _check("tls", requires=("tcp",))]
    results = {
        r.check_id: r for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    }
    assert results["tls"].status is Status.PASS


def test_an_errored_prerequisite_blocks_with_its_check_id() -> None:
    def broken(ctx: Context) -> Outcome:
        raise ValueError("bad")

    plan = [Check("tcp", "local", broken, {}), _check("tls", requires=("tcp",))]
    results = {
        r.check_id: r for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    }
    assert results["tls"].blocked_by == "tcp.error"


def test_a_check_past_its_deadline_is_reported_as_error_and_the_run_goes_on() -> None:
    plan = [_check("slow", delay=2.0), _check("fast")]
    settings = Settings(check_deadline=0.3)
    started = time.monotonic()
    results = {
        r.check_id: r for r in run(plan, settings=settings, target=None, cancel=threading.Event())
    }
    assert time.monotonic() - started < 1.5
    assert results["slow"].status is Status.ERROR
    assert results["slow"].error == "did not finish within 0.3 s"
    assert results["fast"].status is Status.PASS


def test_diagnose_streams_to_the_callback_and_builds_a_report_in_plan_order() -> None:
    seen: list[str] = []
    plan = [_check("b", delay=0.2), _check("a", Status.WARN)]
    report = diagnose(
        plan,
        settings=Settings(),
        target=None,
        version="9",
        on_result=lambda r: seen.append(r.check_id),
    )
    assert seen == ["a", "b"]
    assert [r.check_id for r in report.results] == ["b", "a"]
    assert report.verdict.status is Status.WARN
    assert report.verdict.finding is not None
    assert report.verdict.finding.id == "a.result"
    assert not report.cancelled


def test_parallelism_is_bounded() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def body(ctx: Context) -> Outcome:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.1)
        with lock:
            active -= 1
        return Outcome(())

    plan = [Check(f"c{i}", "local", body, {}) for i in range(10)]
    assert len(list(run(plan, settings=Settings(), target=None, cancel=threading.Event()))) == 10
    assert 1 < peak <= 4


def test_after_waits_for_a_check_without_being_blocked_by_its_failure() -> None:
    seen: dict[str, object] = {}

    def reader(ctx: Context) -> Outcome:
        seen.update(ctx.results)
        return Outcome((Finding("reader.result", Status.PASS),))

    plan = [
        Check("reader", "local", reader, {"reader.result": ()}, after=("clock",)),
        _check("clock", Status.FAIL, delay=0.2),
    ]
    results = {
        r.check_id: r for r in run(plan, settings=Settings(), target=None, cancel=threading.Event())
    }
    assert results["reader"].status is Status.PASS
    assert "clock" in seen


def test_the_registry_table_names_each_check_module_s_own_check() -> None:
    import importlib

    from checks import registry

    for entry in registry.ENTRIES:
        check = importlib.import_module(f"checks.{entry.module}").CHECK
        assert (check.id, check.scope) == (entry.id, entry.scope)
    assert [c.id for c in registry.all_checks()] == [e.id for e in registry.ENTRIES]
    assert len({e.id for e in registry.ENTRIES}) == len(registry.ENTRIES)


def test_a_plan_imports_only_the_checks_it_runs() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "from checks import registry\n"
        "from checks.core.config import Settings\nfrom checks.core.target import parse\n"
        "plan = registry.plan(Settings(only='target'), parse('example.com'))\n"
        "print(','.join(c.id for c in plan))\n"
        "local = [e.module for e in registry.ENTRIES if e.scope == 'local']\n"
        "print(','.join(m for m in local if 'checks.' + m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    planned, imported = done.stdout.splitlines()
    assert planned == "dns,tcp,tls,cert,revocation,protocols"
    assert imported == ""
