"""The error decoder tab explains a pasted message with checks.decoder and runs the check."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from checks.present import decoder
from gui.main_window import MainWindow, decoder_available

pytestmark = pytest.mark.skipif(
    not decoder_available(), reason="checks.present.decoder is not built"
)


def _explain(qtbot: QtBot, window: MainWindow, text: str) -> None:
    view = window.decoder_view()
    assert view is not None
    window.tabs.setCurrentIndex(3)
    view.input.setPlainText(text)
    with qtbot.waitSignal(window.runner.task_done, timeout=5000):
        view.explain_button.click()


def test_a_known_message_lists_causes_with_the_check_that_confirms_each(
    qtbot: QtBot, window: MainWindow
) -> None:
    text = "curl: (60) SSL certificate problem: certificate has expired"
    _explain(qtbot, window, text)
    view = window.decoder_view()
    assert view is not None
    expected = decoder.explain(text, lang="en")
    assert expected.recognised
    assert [w.cause for w in view.causes] == list(expected.causes)
    assert any(w.run_button is not None for w in view.causes)
    assert view.causes[0].why_label.text() == expected.causes[0].why


def test_an_unknown_message_gets_the_checklist(qtbot: QtBot, window: MainWindow) -> None:
    _explain(qtbot, window, "the printer is on fire")
    view = window.decoder_view()
    assert view is not None
    assert not view.causes
    assert "not recognised" in view.summary_label.text()


def test_run_starts_the_confirming_check(qtbot: QtBot, window: MainWindow) -> None:
    _explain(qtbot, window, "curl: (60) SSL certificate problem: certificate has expired")
    view = window.decoder_view()
    assert view is not None
    local = next(
        (w for w in view.causes if w.run_button is not None and w.check_id == "clock"), None
    )
    if local is None:
        pytest.skip("no cause of this message is confirmed by a local check")
    assert local.run_button is not None
    with qtbot.waitSignal(window.runner.run_planned, timeout=5000) as planned:
        local.run_button.click()
    assert ("clock", "local") in planned.args[0]
    window.runner.cancel()
    qtbot.waitUntil(lambda: not window.runner.running, timeout=5000)
