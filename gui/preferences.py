"""Keeps the window's settings and recent targets between runs, in QSettings."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSettings

from checks.core import policy
from checks.core.config import Settings
from checks.present import catalogue

ORGANISATION = "Handshake Doctor"
APPLICATION = "Handshake Doctor"
MAX_RECENT = 10
_LIMITS = {
    "connect_timeout": (0.5, 60.0),
    "check_deadline": (5.0, 300.0),
    "expires_soon_days": policy.EXPIRES_SOON_RANGE,
}


def store() -> QSettings:
    """The user's settings store; tests point the default format's path at a temporary folder."""
    return QSettings(
        QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION
    )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value] if value else []
    if not isinstance(value, list | tuple):
        return ()
    return tuple(s for s in (str(v).strip() for v in value) if s)


def _number(value: object, name: str, default: float) -> float:
    try:
        number = float(str(value))
    except ValueError:
        return default
    low, high = _LIMITS[name]
    return min(max(number, low), high)


def load_settings(qs: QSettings | None = None) -> Settings:
    """The saved settings; anything missing or unreadable keeps its default."""
    qs = qs or store()
    base = Settings()
    lang = qs.value("settings/lang", "")
    try:
        language = catalogue.normalise_language(str(lang)) if lang else None
    except ValueError:
        language = None
    ntp = _strings(qs.value("settings/ntp_servers", list(base.ntp_servers)))
    canaries = _strings(qs.value("settings/canaries", list(base.canaries)))
    offline = str(qs.value("settings/offline", "false")).lower() in ("true", "1")
    return dataclasses.replace(
        base,
        connect_timeout=_number(
            qs.value("settings/connect_timeout", base.connect_timeout),
            "connect_timeout",
            base.connect_timeout,
        ),
        check_deadline=_number(
            qs.value("settings/check_deadline", base.check_deadline),
            "check_deadline",
            base.check_deadline,
        ),
        ntp_servers=ntp or base.ntp_servers,
        canaries=canaries or base.canaries,
        offline=offline,
        lang=language,
        expires_soon_days=int(
            _number(
                qs.value("settings/expires_soon_days", base.expires_soon_days),
                "expires_soon_days",
                base.expires_soon_days,
            )
        ),
    )


def save_settings(settings: Settings, qs: QSettings | None = None) -> None:
    qs = qs or store()
    qs.setValue("settings/lang", settings.lang or "")
    qs.setValue("settings/ntp_servers", list(settings.ntp_servers))
    qs.setValue("settings/canaries", list(settings.canaries))
    qs.setValue("settings/connect_timeout", settings.connect_timeout)
    qs.setValue("settings/check_deadline", settings.check_deadline)
    qs.setValue("settings/offline", settings.offline)
    qs.setValue("settings/expires_soon_days", settings.expires_soon_days)
    qs.sync()


def recent_targets(qs: QSettings | None = None) -> list[str]:
    qs = qs or store()
    return list(_strings(qs.value("recent_targets", [])))[:MAX_RECENT]


def remember_target(text: str, qs: QSettings | None = None) -> list[str]:
    """Put `text` first in the recent targets (credentials were already removed by parse)."""
    qs = qs or store()
    recent = [text, *(t for t in recent_targets(qs) if t != text)][:MAX_RECENT]
    qs.setValue("recent_targets", recent)
    qs.sync()
    return recent
