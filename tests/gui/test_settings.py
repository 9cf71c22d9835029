"""Settings and recent targets persist in a private QSettings store and apply without a restart."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from checks.core.config import DEFAULT_NTP_SERVERS, Settings
from gui import preferences
from gui.main_window import MainWindow
from gui.settings_dialog import SettingsDialog
from tests.gui import samples
from tests.gui.helpers import WindowFactory


def test_the_store_is_the_private_one(private_settings: Path) -> None:
    store = preferences.store()
    store.setValue("probe", 1)
    store.sync()
    assert Path(store.fileName()).is_relative_to(private_settings)


def test_defaults_when_nothing_is_stored() -> None:
    assert preferences.load_settings() == Settings()
    assert preferences.recent_targets() == []


def test_settings_round_trip_and_bad_values_fall_back() -> None:
    chosen = Settings(
        lang="zh_CN",
        ntp_servers=("ntp.corp.example", "time.example:123"),
        canaries=("intranet.example",),
        connect_timeout=2.5,
        check_deadline=20.0,
        offline=True,
        expires_soon_days=14,
    )
    preferences.save_settings(chosen)
    assert preferences.load_settings() == chosen
    store = preferences.store()
    store.setValue("settings/connect_timeout", "fast")
    store.setValue("settings/lang", "klingon")
    store.setValue("settings/check_deadline", 9999)
    store.setValue("settings/expires_soon_days", "soon")
    loaded = preferences.load_settings()
    assert loaded.expires_soon_days == Settings().expires_soon_days
    assert loaded.connect_timeout == Settings().connect_timeout
    assert loaded.lang is None
    assert loaded.check_deadline == 300.0


def test_recent_targets_come_first_without_repeats_or_credentials(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window()
    window.diagnose("https://alice:secret@a.example/login")
    window.runner.cancel()
    qtbot.waitUntil(lambda: not window.runner.running, timeout=5000)
    window.diagnose("b.example:8443")
    window.runner.cancel()
    qtbot.waitUntil(lambda: not window.runner.running, timeout=5000)
    recent = preferences.recent_targets()
    assert recent[0] == "b.example:8443"
    assert "secret" not in " ".join(recent)
    assert len(recent) == 2
    restarted = MainWindow()
    qtbot.addWidget(restarted)
    items = [restarted.target_combo.itemText(i) for i in range(restarted.target_combo.count())]
    assert items == recent
    assert restarted.target_edit.text() == ""
    assert restarted.runner.shutdown(2000)


def test_the_dialog_edits_validates_and_applies(qtbot: QtBot, window: MainWindow) -> None:
    window.show_report(samples.all_green())
    dialog = SettingsDialog(window.settings, window.lang, window)
    qtbot.addWidget(dialog)
    dialog.ntp.setPlainText("ntp.corp.example\nbad host name")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result() == 0
    assert not dialog.error_label.isHidden()
    assert "bad host name" in dialog.error_label.text()
    dialog.ntp.setPlainText("ntp.corp.example\n\n")
    dialog.canaries.setPlainText("")
    dialog.timeout.setValue(3.0)
    dialog.expiry.setValue(45)
    dialog.offline.setChecked(True)
    dialog.language.setCurrentIndex(dialog.language.findData("zh_CN"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result() == 1
    chosen = dialog.settings()
    assert chosen.ntp_servers == ("ntp.corp.example",)
    assert chosen.canaries == Settings().canaries  # an empty list means the defaults
    window.apply_settings(chosen)
    assert window.lang == "zh_CN"
    assert window.banner.headline_label.text() == "这台电脑可以安全地连接到 shop.example.com:443"
    assert preferences.load_settings().connect_timeout == 3.0
    assert preferences.load_settings().expires_soon_days == 45
    assert preferences.load_settings().offline


def test_restore_defaults(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(ntp_servers=("x.example",), offline=True), "en")
    qtbot.addWidget(dialog)
    dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dialog.settings().ntp_servers == DEFAULT_NTP_SERVERS
    assert not dialog.settings().offline
    assert dialog.language.currentData() == ""
