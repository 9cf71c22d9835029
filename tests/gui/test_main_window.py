"""The minimal window runs a real diagnosis off the GUI thread, cancels and closes cleanly."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from checks.config import Settings
from checks.models import CheckResult, Finding, Status
from gui.main_window import MainWindow
from gui.models import ResultRole, ResultsModel


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    win = MainWindow(Settings(lang="en", connect_timeout=1.0))
    qtbot.addWidget(win)
    win.show()
    yield win
    assert win.runner.shutdown(2000)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_shows_a_red_tcp_card_and_the_verdict(
    qtbot: QtBot, window: MainWindow
) -> None:
    port = _closed_port()
    qtbot.keyClicks(window.target_edit, f"127.0.0.1:{port}")
    with qtbot.waitSignal(window.runner.run_finished, timeout=10_000):
        qtbot.keyClick(window.target_edit, "\r")
    model = window.model
    statuses = {
        model.data(model.index(row), ResultRole.CHECK_ID): model.data(
            model.index(row), ResultRole.STATUS
        )
        for row in range(model.rowCount())
    }
    assert statuses == {"dns": "pass", "tcp": "fail", "tls": "skip", "cert": "skip"}
    assert "FAIL" in window.verdict_label.text()
    assert f"port {port}" in window.verdict_label.text()
    assert window.diagnose_button.isEnabled()


def test_bad_input_shows_one_sentence_and_starts_nothing(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClicks(window.target_edit, "example.com:99999")
    window.diagnose_button.click()
    assert not window.runner.running
    assert "99999" in window.verdict_label.text()
    assert "\n" not in window.verdict_label.text()


def test_close_mid_run_returns_quickly(qtbot: QtBot, window: MainWindow) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.listen(0)
        window.target_edit.setText(f"127.0.0.1:{server.getsockname()[1]}")
        window.diagnose_button.click()
        assert window.runner.running
        window.close()
        assert window.runner.shutdown(1000)


def test_results_model_passes_qt_model_tester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = ResultsModel()
    model.add(
        CheckResult(
            "dns", Status.PASS, (Finding("dns.not_needed", Status.PASS, {"address": "127.0.0.1"}),)
        )
    )
    model.add(CheckResult("tcp", Status.SKIP, blocked_by="dns.failed"))
    qtmodeltester.check(model)
    assert "blocked by dns.failed" in model.data(model.index(1), ResultRole.TITLE)
    assert model.data(model.index(0)).startswith("✔ PASS")
