"""The decoder's Run button diagnoses the site a message names through the window's own run."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from checks.present import decoder
from gui.main_window import MainWindow, decoder_available

pytestmark = pytest.mark.skipif(
    not decoder_available(), reason="checks.present.decoder is not built"
)

NAMES_SITE = (
    "fatal: unable to access 'https://127.0.0.1:9/team/repo.git/': "
    "SSL certificate problem: certificate has expired"
)


def _explain(qtbot: QtBot, window: MainWindow, text: str) -> None:
    view = window.decoder_view()
    assert view is not None
    window.tabs.setCurrentIndex(3)
    view.input.setPlainText(text)
    with qtbot.waitSignal(window.runner.task_done, timeout=5000):
        view.explain_button.click()


def test_run_diagnoses_the_site_the_message_names(qtbot: QtBot, window: MainWindow) -> None:
    _explain(qtbot, window, NAMES_SITE)
    view = window.decoder_view()
    assert view is not None
    assert not view.site_button.isHidden()
    assert "127.0.0.1:9" in view.site_button.text()
    assert "127.0.0.1:9" in view.meaning_label.text()
    with qtbot.waitSignal(window.runner.run_planned, timeout=5000) as planned:
        view.site_button.click()
    assert window.target_edit.text() == "127.0.0.1:9"
    # A whole diagnosis, not one check: the site's checks and the local ones are planned.
    scopes = {scope for _check, scope in planned.args[0]}
    assert scopes == {"local", "target"}
    window.runner.cancel()


def test_no_run_button_when_the_message_names_no_site(qtbot: QtBot, window: MainWindow) -> None:
    _explain(qtbot, window, "curl: (60) SSL certificate problem: certificate has expired")
    view = window.decoder_view()
    assert view is not None
    assert view.site_button.isHidden()


def test_an_ambiguous_message_says_so_and_names_the_settling_check(
    qtbot: QtBot, window: MainWindow
) -> None:
    text = "curl: (60) SSL certificate problem: unable to get local issuer certificate"
    _explain(qtbot, window, text)
    view = window.decoder_view()
    assert view is not None
    explanation = decoder.explain(text, lang="en")
    assert explanation.ambiguous
    assert decoder.ambiguity_text(explanation) in view.meaning_label.text()
    assert "cert.incomplete_chain" in view.meaning_label.text()


def test_the_run_button_speaks_chinese(qtbot: QtBot, window: MainWindow) -> None:
    window.set_language("zh_CN")
    _explain(qtbot, window, NAMES_SITE)
    view = window.decoder_view()
    assert view is not None
    assert "诊断" in view.site_button.text()
    assert view.site_button.accessibleName() == view.site_button.text().replace("&", "")
