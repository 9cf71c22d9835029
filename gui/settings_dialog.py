"""The settings dialog: NTP servers, canary sites, timeouts, offline mode and language."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from checks.core import policy
from checks.core.config import DEFAULT_CANARIES, DEFAULT_NTP_SERVERS, Settings
from checks.core.target import TargetError, parse
from checks.present import catalogue
from gui.widgets import wrapping_label

# Each shipped language named in itself, so that a user can find their own in a foreign UI.
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def _lines(edit: QPlainTextEdit) -> tuple[str, ...]:
    return tuple(line.strip() for line in edit.toPlainText().splitlines() if line.strip())


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `settings()` gives the result after Save."""

    def __init__(self, settings: Settings, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.lang = lang
        ui = catalogue.ui
        self.setWindowTitle(ui("gui_settings.title", lang=lang))
        self.setModal(True)

        self.language = QComboBox()
        system = LANGUAGE_NAMES[catalogue.system_language()]
        self.language.addItem(ui("gui_settings.language_system", lang=lang, language=system), "")
        for code, name in LANGUAGE_NAMES.items():
            self.language.addItem(name, code)
        chosen = self.language.findData(settings.lang or "")
        self.language.setCurrentIndex(max(chosen, 0))
        self.ntp = QPlainTextEdit("\n".join(settings.ntp_servers))
        self.ntp.setTabChangesFocus(True)
        self.canaries = QPlainTextEdit("\n".join(settings.canaries))
        self.canaries.setTabChangesFocus(True)
        for edit in (self.ntp, self.canaries):
            edit.setMinimumHeight(edit.fontMetrics().lineSpacing() * 5)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0.5, 60.0)
        self.timeout.setSingleStep(0.5)
        self.timeout.setSuffix(ui("gui_settings.seconds_suffix", lang=lang))
        self.timeout.setValue(settings.connect_timeout)
        self.deadline = QDoubleSpinBox()
        self.deadline.setRange(5.0, 300.0)
        self.deadline.setSingleStep(5.0)
        self.deadline.setSuffix(ui("gui_settings.seconds_suffix", lang=lang))
        self.deadline.setValue(settings.check_deadline)
        self.expiry = QSpinBox()
        self.expiry.setRange(*policy.EXPIRES_SOON_RANGE)
        self.expiry.setSuffix(ui("gui_settings.days_suffix", lang=lang))
        self.expiry.setSpecialValueText(ui("gui_settings.expiry_never", lang=lang))
        self.expiry.setValue(settings.expires_soon_days)
        self.offline = QCheckBox(ui("gui_settings.offline", lang=lang))
        self.offline.setChecked(settings.offline)
        self.error_label = wrapping_label()
        self.error_label.setVisible(False)

        form = QFormLayout()
        rows: list[tuple[str, QWidget]] = [
            ("gui_settings.language", self.language),
            ("gui_settings.ntp_servers", self.ntp),
            ("gui_settings.canaries", self.canaries),
            ("gui_settings.connect_timeout", self.timeout),
            ("gui_settings.check_deadline", self.deadline),
            ("gui_settings.expiry_warning", self.expiry),
        ]
        for key, widget in rows:
            label = QLabel(ui(key, lang=lang))
            label.setBuddy(widget)
            widget.setAccessibleName(label.text().replace("&", ""))
            form.addRow(label, widget)
        form.addRow("", self.offline)
        hint = wrapping_label(ui("gui_settings.hint", lang=lang))
        theme_note = wrapping_label(ui("gui_settings.theme_note", lang=lang))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(
            ui("gui_settings.save", lang=lang)
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(
            ui("gui_settings.cancel", lang=lang)
        )
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).setText(
            ui("gui_settings.defaults", lang=lang)
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(theme_note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._on_defaults_clicked
        )
        self.resize(520, self.sizeHint().height())

    def _problem(self, hosts: tuple[str, ...]) -> str | None:
        for host in hosts:
            try:
                parse(host)
            except TargetError as exc:
                sentence = catalogue.input_error(exc, lang=self.lang)
                return catalogue.ui(
                    "gui_settings.bad_host", lang=self.lang, host=host, why=sentence
                )
        return None

    def settings(self) -> Settings:
        """The settings as edited (valid only after `accept`)."""
        return dataclasses.replace(
            self._settings,
            lang=self.language.currentData() or None,
            ntp_servers=_lines(self.ntp) or DEFAULT_NTP_SERVERS,
            canaries=_lines(self.canaries) or DEFAULT_CANARIES,
            connect_timeout=self.timeout.value(),
            check_deadline=self.deadline.value(),
            expires_soon_days=self.expiry.value(),
            offline=self.offline.isChecked(),
        )

    @Slot()
    def _on_accepted(self) -> None:
        problem = self._problem(_lines(self.ntp) + _lines(self.canaries))
        if problem is not None:
            self.error_label.setText(problem)
            self.error_label.setVisible(True)
            return
        self.accept()

    @Slot()
    def _on_defaults_clicked(self) -> None:
        defaults = Settings()
        self.language.setCurrentIndex(0)
        self.ntp.setPlainText("\n".join(defaults.ntp_servers))
        self.canaries.setPlainText("\n".join(defaults.canaries))
        self.timeout.setValue(defaults.connect_timeout)
        self.deadline.setValue(defaults.check_deadline)
        self.expiry.setValue(defaults.expires_soon_days)
        self.offline.setChecked(defaults.offline)
