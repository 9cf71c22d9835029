"""Turns finding ids and params into the user's language, from the TOML texts in `resources/`."""

from __future__ import annotations

import functools
import importlib.resources
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from checks.core.models import Finding
from checks.core.platform import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    OS_NAMES,
    OSName,
    current_os,
    normalise_language,
    system_language,
)
from checks.core.target import TargetError
from checks.present import words

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "OS_NAMES",
    "SURFACES",
    "OSName",
    "Surface",
    "Text",
    "current_os",
    "entry",
    "fill",
    "finding_texts",
    "input_error",
    "normalise_language",
    "placeholders",
    "render",
    "system_language",
    "ui",
    "ui_texts",
]

# Where a text is read: the command line names options (`--offline`), the window names its own
# controls (the Offline switch in Settings). A finding's `window` table holds the window's words.
Surface = Literal["cli", "window"]
SURFACES: tuple[Surface, ...] = ("cli", "window")


@dataclass(frozen=True)
class Text:
    """A finding rendered for one language and one OS.

    Attributes:
        title: one line, the card's summary.
        explanation: what was measured and why it matters.
        fix: numbered steps for the person at the keyboard, for this OS.
        fix_admin: steps for the server's administrator (helpdesk forwards these); may be empty.
    """

    title: str
    explanation: str
    fix: tuple[str, ...]
    fix_admin: tuple[str, ...]


def _merge(into: dict[str, Any], table: Mapping[str, Any], where: str, path: str = "") -> None:
    """Add `table` to `into`; tables merge key by key, a text defined twice is an error."""
    for key, value in table.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, Mapping):
            _merge(into[key], value, where, f"{path}{key}.")
        elif key in into:
            raise ValueError(f"{where} repeats {path}{key}")
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _read_tables(folder: str, lang: str) -> dict[str, Any]:
    """Merge every `resources/<folder>/<lang>/*.toml`; one file per area keeps edits apart."""
    merged: dict[str, Any] = {}
    directory = importlib.resources.files("resources").joinpath(folder, lang)
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            table = tomllib.loads(entry.read_text(encoding="utf-8"))
            _merge(merged, table, f"{folder}/{lang}/{entry.name}")
    return merged


@functools.cache
def finding_texts(lang: str) -> Mapping[str, Mapping[str, Any]]:
    """The raw finding table of one language: id -> {title, explanation, fix, fix_*, variants}."""
    return _read_tables("findings", lang)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@functools.cache
def ui_texts(lang: str) -> Mapping[str, str]:
    """The interface words of one language, by dotted key (`status.fail`, `report.title`)."""
    return _flatten(_read_tables("ui", lang))


class _Params(dict[str, object]):
    """Template values: lists read as comma lists; a missing value shows as "?", not a crash."""

    def __missing__(self, key: str) -> str:
        return "?"


def _display(value: object) -> object:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    if value is None:
        return "—"
    return value


class _Words(string.Formatter):
    """Fills placeholders, wording numbers in the language of the text: `{n:count=day}` is
    "1 day" or "3 days", `{offset_s:duration}` "2 hours 10 minutes", `{offset_s:direction}`
    "behind" or "ahead", `{product_id:vendor_fix}` the product's own way to stop intercepting."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def format_field(self, value: object, format_spec: str) -> str:
        if format_spec.startswith("count="):
            return words.count(format_spec.removeprefix("count="), value, self.lang)
        if format_spec == "duration":
            return words.duration(value, self.lang)
        if format_spec == "direction":
            return words.direction(value, self.lang)
        if format_spec == "vendor_fix":
            return words.vendor_fix(value, self.lang)
        return str(super().format_field(value, format_spec))


def fill(template: str, params: Mapping[str, object], lang: str = DEFAULT_LANGUAGE) -> str:
    """Fill `{name}` placeholders of a catalogue template from a finding's params, in `lang`."""
    values = _Params({k: _display(v) for k, v in params.items()})
    return _Words(lang).vformat(template, (), values)


def placeholders(template: str) -> set[str]:
    """The `{name}` fields a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _apply(merged: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Lay `overrides` over `merged`; their own steps replace the per-OS steps below them."""
    merged.update(overrides)
    if "fix" in overrides:
        for os_name in OS_NAMES:
            if f"fix_{os_name}" not in overrides:
                merged.pop(f"fix_{os_name}", None)


def entry(
    finding_id: str, lang: str, variant: object = None, surface: Surface = "cli"
) -> Mapping[str, Any] | None:
    """The catalogue table of a finding, with its `variants.<variant>` overrides applied, and
    for the window its `window` tables (the base's, then the variant's)."""
    table = finding_texts(lang).get(finding_id) or finding_texts(DEFAULT_LANGUAGE).get(finding_id)
    if table is None:
        return None
    overrides = table.get("variants", {}).get(str(variant), {}) if variant is not None else {}
    merged = dict(table)
    if surface == "window":
        _apply(merged, table.get("window", {}))
    _apply(merged, overrides)
    if surface == "window":
        _apply(merged, overrides.get("window", {}))
    return merged


def render(
    finding: Finding,
    *,
    lang: str = DEFAULT_LANGUAGE,
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> Text:
    """The title, explanation and fix steps of a finding, in `lang`, for `os_name`, worded for
    the command line or the window."""
    table = entry(finding.id, lang, finding.params.get("variant"), surface)
    if table is None:
        return Text(finding.id, "", (), ())
    os_key = f"fix_{os_name or current_os()}"
    steps = table.get(os_key, table.get("fix", []))
    params = finding.params
    return Text(
        title=fill(table["title"], params, lang),
        explanation=fill(table.get("explanation", ""), params, lang),
        fix=tuple(fill(step, params, lang) for step in steps),
        fix_admin=tuple(fill(step, params, lang) for step in table.get("fix_admin", [])),
    )


def input_error(error: TargetError, *, lang: str = DEFAULT_LANGUAGE) -> str:
    """The one sentence that says why typed text names no usable target."""
    return ui(f"input_error.{error.key}", lang=lang, **error.params)


def ui(key: str, *, lang: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """An interface string such as `status.fail`, filled with `params`."""
    template = ui_texts(lang).get(key) or ui_texts(DEFAULT_LANGUAGE).get(key, key)
    return fill(template, params, lang)
