"""The window shows hand-built reports of the main states in English and Chinese, switched live."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from checks.present import catalogue
from gui import preferences
from gui.cards import statuses
from gui.main_window import MainWindow
from tests.gui import samples
from tests.gui.helpers import WindowFactory


def test_all_green_says_the_site_connects_and_what_was_checked(window: MainWindow) -> None:
    window.show_report(samples.all_green())
    assert window.banner.status == "pass"
    assert (
        window.banner.headline_label.text()
        == "This computer connects to shop.example.com:443 securely"
    )
    assert "Clock" in window.banner.detail_label.text()
    assert set(statuses(window.cards).values()) == {"pass"}
    assert {c.check_id for c in window.cards.in_group("local")} >= {"clock", "trust_store"}
    assert {c.check_id for c in window.cards.in_group("target")} >= {"dns", "cert"}
    assert window.cards.target_header.text() == "Connection to shop.example.com:443"
    assert window.export_action.isEnabled()


def test_a_wrong_clock_is_named_before_the_certificate_it_breaks(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.show_report(samples.clock_wrong())
    assert window.banner.headline_label.text().startswith("Your computer's clock is 3 years behind")
    assert "Second possibility: The certificate of shop.example.com is not valid before" in (
        window.banner.text()
    )
    assert statuses(window.cards)["clock"] == "fail"
    assert statuses(window.cards)["cert"] == "fail"
    clock = window.cards.card("clock")
    assert clock is not None
    qtbot.waitUntil(lambda: clock.expanded, timeout=1000)
    # Every command in the steps has a copy button beside it.
    commands = set(clock.commands())
    assert "sudo timedatectl set-ntp true" in commands or "w32tm /resync" in commands


def test_interception_names_the_product(window: MainWindow) -> None:
    window.show_report(samples.interception())
    assert window.banner.headline_label.text() == "Kaspersky reads your encrypted connections"
    assert window.banner.status == "fail"
    assert statuses(window.cards)["interception"] == "fail"
    assert statuses(window.cards)["security_software"] == "warn"
    assert "Encrypted connections scanning" in window.banner.text()


def test_an_expired_certificate_shows_the_chain_with_the_dates_marked(window: MainWindow) -> None:
    window.show_report(samples.expired_certificate())
    assert "expired 12 days ago" in window.banner.headline_label.text()
    chain = window.chain_view()
    chain.select_certificate(0)
    details = chain.details_text()
    assert "FAIL: The certificate of shop.example.com expired 12 days ago" in details
    assert "Example TLS Issuing CA 2025" in details  # the issuer
    assert "SHA-256 fingerprint" in details
    root = chain.model.index(0, 0)
    assert chain.model.data(root) == "Example Root CA R2"
    assert chain.model.data(chain.model.index(0, 1)) == "Root from the trust store"


@pytest.mark.parametrize("sample", sorted(samples.SAMPLES))
def test_language_switches_without_a_restart(
    qtbot: QtBot, make_window: WindowFactory, sample: str
) -> None:
    window = make_window()
    window.show_report(samples.SAMPLES[sample]("en"))
    english = window.banner.text()
    window.set_language("zh_CN")
    assert window.diagnose_button.text() == "诊断(&D)"
    assert window.tabs.tabText(1) == "证书链"
    assert window.cards.local_header.text() == "这台电脑"
    assert window.banner.text() != english
    word = catalogue.ui(f"status.{window.banner.status}", lang="zh_CN")
    assert word in window.banner.text()
    card = next(iter(window.cards.cards.values()))
    assert card.name_label.text() == catalogue.ui(f"check_name.{card.check_id}", lang="zh_CN")
    window.set_language("en")
    assert window.banner.text() == english
    assert window.diagnose_button.text() == "&Diagnose"


def test_the_language_menu_switches_and_remembers(qtbot: QtBot, make_window: WindowFactory) -> None:
    window = make_window()
    window.show_report(samples.all_green())
    window.language_actions["zh_CN"].trigger()
    assert window.lang == "zh_CN"
    assert window.banner.headline_label.text() == "这台电脑可以安全地连接到 shop.example.com:443"
    assert preferences.load_settings().lang == "zh_CN"
    restarted = MainWindow()  # no settings given: the stored ones apply
    qtbot.addWidget(restarted)
    assert restarted.lang == "zh_CN"
    assert restarted.runner.shutdown(2000)


def test_the_language_follows_the_os_by_default(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.lang == "zh_CN"
    assert window.diagnose_button.text() == "诊断(&D)"
