"""Which operating system and which language a run is for: names shared by checks and words."""

from __future__ import annotations

import locale
import os
import sys
from typing import Literal

LANGUAGES = ("en", "zh_CN")
DEFAULT_LANGUAGE = "en"
OSName = Literal["windows", "macos", "linux"]
OS_NAMES: tuple[OSName, ...] = ("windows", "macos", "linux")


def current_os() -> OSName:
    """The OS whose fix steps this machine needs."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def system_language() -> str:
    """The shipped language closest to the OS locale (Chinese locales get zh_CN)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "zh_CN" if value.lower().startswith("zh") else DEFAULT_LANGUAGE
    name = locale.getlocale()[0] or ""
    return "zh_CN" if name.lower().startswith("zh") else DEFAULT_LANGUAGE


def normalise_language(lang: str | None) -> str:
    """Map `zh`, `zh-CN`, `zh_CN.UTF-8`, `EN` ... onto a shipped language; None means the OS's."""
    if not lang:
        return system_language()
    lowered = lang.replace("-", "_").lower()
    if lowered.startswith("zh"):
        return "zh_CN"
    if lowered.startswith("en"):
        return "en"
    raise ValueError(lang)
