"""Local commands time out, stop on cancel and report missing tools as data."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from checks.lib.net import Cancelled
from checks.lib.system import CommandResult, registry_values, run_command


def test_run_command_times_out_and_reports_a_missing_tool() -> None:
    cancel = threading.Event()
    started = time.monotonic()
    slow = run_command(
        [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5, cancel=cancel
    )
    assert slow.problem is not None
    assert "no answer within 0.5 s" in slow.problem
    assert time.monotonic() - started < 5
    missing = run_command(["no-such-tool-hd"], timeout=1, cancel=cancel)
    assert (missing.ok, missing.problem) == (False, "no-such-tool-hd not found")
    done = run_command([sys.executable, "-c", "print('hi')"], timeout=10, cancel=cancel)
    assert done == CommandResult(0, "hi\n", "")
    assert done.problem is None


def test_a_failing_command_says_why_in_one_line() -> None:
    done = run_command(
        [sys.executable, "-c", "import sys; sys.exit('no permission\\nmore')"],
        timeout=10,
        cancel=threading.Event(),
    )
    assert not done.ok
    assert done.problem == "no permission"


def test_commands_run_in_the_c_locale_so_parsers_read_english() -> None:
    code = "import os; print(os.environ['LC_ALL'])"
    done = run_command([sys.executable, "-c", code], timeout=10, cancel=threading.Event())
    assert done.stdout.strip() == "C"


def test_run_command_stops_on_cancel() -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_command(
            [sys.executable, "-c", "import time; time.sleep(30)"], timeout=20, cancel=cancel
        )
    assert time.monotonic() - started < 5


@pytest.mark.skipif(sys.platform == "win32", reason="off Windows there is no registry to read")
def test_the_registry_is_empty_off_windows() -> None:
    assert registry_values(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion") == {}
