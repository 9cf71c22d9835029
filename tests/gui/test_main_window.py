"""The window runs real diagnoses off the GUI thread and shows cards, statuses and the verdict."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from gui.cards import statuses
from gui.main_window import MainWindow
from tests.gui.helpers import GuiLab, WindowFactory, assert_statuses, run_to_end
from tests.lab.servers import closed_port

pytestmark = pytest.mark.lab


def test_a_closed_port_shows_a_red_tcp_card_and_the_verdict(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window(only="target")
    port = closed_port()
    run_to_end(qtbot, window, f"127.0.0.1:{port}")
    assert_statuses(window, dns="pass", tcp="fail", tls="skip", cert="skip")
    banner = window.banner.text()
    assert window.banner.status == "fail"
    assert "FAIL" in banner
    assert f"Nothing is listening on 127.0.0.1 port {port}" in banner
    assert "What to do first" in banner
    tcp = window.cards.card("tcp")
    assert tcp is not None
    qtbot.waitUntil(lambda: tcp.expanded, timeout=1000)  # the verdict's card opens by itself
    tls = window.cards.card("tls")
    assert tls is not None
    assert tls.summary().startswith("Not run: blocked by Nothing is listening")
    assert window.diagnose_button.isEnabled()
    assert not window.cancel_button.isEnabled()
    assert not window.progress.isVisible()
    assert window.cards.target_header.text() == f"Connection to 127.0.0.1:{port}"


def test_a_good_site_is_all_green_and_connects(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    site = gui_lab.sites["good"]
    window = make_window(site.settings)
    run_to_end(qtbot, window, site.target)
    assert_statuses(window, dns="pass", tcp="pass", tls="pass", cert="pass")
    assert window.banner.status == "pass"
    assert (
        window.banner.headline_label.text() == f"This computer connects to {site.target} securely"
    )
    assert "Checked: Name lookup (DNS), Connection (TCP)" in window.banner.text()
    cert = window.cards.card("cert")
    assert cert is not None
    assert "is valid" in cert.summary() or "good.lab.test" in cert.summary()


def test_an_expired_certificate_is_the_verdict_and_the_chain_marks_it(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    site = gui_lab.sites["expired"]
    window = make_window(site.settings)
    run_to_end(qtbot, window, site.target)
    assert statuses(window.cards)["cert"] == "fail"
    assert window.banner.status == "fail"
    assert "expired" in window.banner.headline_label.text()
    assert window.last_report is not None
    assert window.last_report.verdict.finding is not None
    assert window.last_report.verdict.finding.id == "cert.expired"
    chain = window.chain_view()
    assert chain.model.rowCount() == 1  # the store's root, then the sent chain below it
    chain.select_certificate(0)
    details = chain.details_text()
    assert "expired.lab.test" in details
    assert "FAIL: The certificate of expired.lab.test expired" in details
    assert "Handshake Doctor GUI Lab Intermediate" in details


def test_a_wrong_name_marks_the_names_line(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    site = gui_lab.sites["wrong_host"]
    window = make_window(site.settings)
    run_to_end(qtbot, window, site.target)
    assert window.last_report is not None
    finding = window.last_report.verdict.finding
    assert finding is not None
    assert finding.id == "cert.hostname_mismatch"
    chain = window.chain_view()
    chain.select_certificate(0)
    assert "other.lab.test" in chain.details_text()
    node = chain.model.node(chain.tree.currentIndex())
    assert node is not None
    assert node.status == "fail"


def test_with_no_target_only_this_computer_is_checked(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window(only="local")
    with qtbot.waitSignal(window.runner.run_finished, timeout=9000):
        window.diagnose_button.click()
    local = window.cards.in_group("local")
    assert local
    assert not window.cards.in_group("target")
    assert all(card.status != "pending" for card in local)
    assert window.cards.local_header.text() == "This computer"
    assert window.cards.target_header.isHidden()
    assert window.last_report is not None
    assert window.last_report.target is None


def test_bad_input_shows_one_sentence_and_starts_nothing(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClicks(window.target_edit, "example.com:99999")
    window.diagnose_button.click()
    assert not window.runner.running
    text = window.banner.headline_label.text()
    assert "99999" in text
    assert "\n" not in text
    assert window.target_edit.hasFocus()


def test_cards_fill_in_as_checks_finish(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    window = make_window(only="target", connect_timeout=1.5, check_deadline=3.0)
    window.target_edit.setText(f"127.0.0.1:{gui_lab.silent_port}")
    with qtbot.waitSignal(window.runner.run_planned, timeout=5000) as planned:
        window.diagnose_button.click()
    # Each card appears as soon as it is built, a few milliseconds apart.
    qtbot.waitUntil(lambda: {"dns", "tcp", "tls", "cert"} <= set(statuses(window.cards)))
    assert set(statuses(window.cards).values()) <= {"pending", "pass"}
    qtbot.waitUntil(lambda: statuses(window.cards).get("tcp") == "pass", timeout=5000)
    assert statuses(window.cards)["tls"] == "pending"
    assert window.progress.isVisible()
    assert f"of {len(planned.args[0])} checks done" in window.progress.format()
    with qtbot.waitSignal(window.runner.run_finished, timeout=9000):
        pass
    assert statuses(window.cards)["tls"] == "fail"


def test_cancel_mid_run_stops_within_a_second(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    window = make_window(only="target", connect_timeout=30.0, check_deadline=60.0)
    window.target_edit.setText(f"127.0.0.1:{gui_lab.silent_port}")
    with qtbot.waitSignal(window.runner.run_planned, timeout=5000):
        window.diagnose_button.click()
    qtbot.waitUntil(lambda: statuses(window.cards).get("tcp") == "pass", timeout=5000)
    with qtbot.waitSignal(window.runner.run_finished, timeout=1000) as finished:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    report = finished.args[0]
    assert report.cancelled
    assert window.banner.text().startswith("Cancelled")
    assert statuses(window.cards)["tls"] == "skip"
    tls = window.cards.card("tls")
    assert tls is not None
    assert tls.summary() == "Cancelled"
    assert window.diagnose_button.isEnabled()


@pytest.mark.parametrize("only", ["target", None])
def test_a_cancelled_run_says_cancelled_and_names_no_cause(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab, only: str | None
) -> None:
    # With only target checks, what finished before Esc (DNS, TCP) all passed: the old banner
    # then showed a green "No problem found"; with local checks it named their warning.
    window = make_window(only=only, connect_timeout=30.0, check_deadline=60.0)
    window.target_edit.setText(f"127.0.0.1:{gui_lab.silent_port}")
    with qtbot.waitSignal(window.runner.run_planned, timeout=5000):
        window.diagnose_button.click()
    qtbot.waitUntil(lambda: statuses(window.cards).get("tcp") == "pass", timeout=5000)
    with qtbot.waitSignal(window.runner.run_finished, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    banner = window.banner.text()
    assert window.banner.headline_label.text().startswith("Cancelled")
    assert window.banner.status not in ("pass", "warn", "fail")
    assert "Most likely cause" not in banner
    assert "No problem found" not in banner
    assert window.banner.steps == ()
    assert window.statusBar().currentMessage().startswith("Cancelled")
    headline = next(line for line in window.summary_text().splitlines() if line.startswith("["))
    assert headline.startswith("[○ SKIP]  Cancelled")


def test_close_mid_run_returns_quickly(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    window = make_window(only="target", connect_timeout=30.0, check_deadline=60.0)
    window.target_edit.setText(f"127.0.0.1:{gui_lab.silent_port}")
    window.diagnose_button.click()
    assert window.runner.running
    qtbot.wait(200)
    window.close()
    assert window.runner.shutdown(1000)


def test_a_second_run_replaces_the_first(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab
) -> None:
    site = gui_lab.sites["good"]
    window = make_window(site.settings)
    run_to_end(qtbot, window, site.target)
    port = closed_port()
    window.settings = window.settings.__class__(lang="en", only="target", connect_timeout=1.0)
    run_to_end(qtbot, window, f"127.0.0.1:{port}")
    assert statuses(window.cards)["tcp"] == "fail"
    assert window.chain_view().model.rowCount() == 0
    assert f"127.0.0.1:{port}" == window.target_combo.itemText(0)
    assert site.target == window.target_combo.itemText(1)


@pytest.mark.parametrize(
    ("typed", "diagnosed"),
    [("127.0.0.1", "127.0.0.1:443"), ("https://", None), ("127.0.0.1:1", "127.0.0.1:1")],
)
def test_what_was_typed_is_what_is_diagnosed_whatever_the_recent_targets(
    qtbot: QtBot, make_window: WindowFactory, typed: str, diagnosed: str | None
) -> None:
    from gui import preferences

    for saved in ("https://saved.example.test/", "127.0.0.1:1"):
        preferences.remember_target(saved)
    window = make_window(only="target", connect_timeout=0.5)
    assert window.target_combo.count() == 2
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.target_edit.setFocus()
    # A focus-in is when the field hooks up its completer, as it does for a user.
    qtbot.waitUntil(window.target_edit.hasFocus)
    qtbot.keyClicks(window.target_edit, typed)
    assert window.target_edit.text() == typed
    qtbot.keyClick(window.target_edit, Qt.Key.Key_Return)
    if diagnosed is None:
        assert not window.runner.running
        assert window.banner.headline_label.text().startswith("There is no server name")
        return
    assert window.last_target is not None
    assert f"{window.last_target.host}:{window.last_target.port}" == diagnosed
    with qtbot.waitSignal(window.runner.run_finished, timeout=9000):
        pass


def test_the_window_names_its_own_controls_not_command_line_options(
    qtbot: QtBot, window: MainWindow
) -> None:
    # The window's default test settings are offline: the clock, portal and interception checks
    # say so, in the window's words.
    with qtbot.waitSignal(window.runner.run_finished, timeout=15000):
        window.diagnose("")
    window.cards.build_all()
    shown = [window.banner.text(), window.summary_text()]
    for card in window.cards.cards.values():
        card.set_expanded(True)
        shown.append(card.body_text())
        assert not [c for c in card.commands() if c.startswith("--")], card.check_id
    words = "\n".join(shown)
    assert "Offline is on" in words
    for option in ("--offline", "--ntp-server", "--connect-timeout", "--canary"):
        assert option not in words
