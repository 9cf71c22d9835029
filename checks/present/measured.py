"""Words for what a check measured: every fact as a label and a value in the user's language."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from checks.present.catalogue import DEFAULT_LANGUAGE, ui, ui_texts

# Longer lists and maps end in "… and N more"; longer texts are cut.
MAX_ITEMS = 12
MAX_CHARS = 300
# A key of our own naming (a record field) has a label; other keys are data (a cipher suite,
# a protocol version, a DNS record type) and are shown as they are.
FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_WORD = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True)
class Line:
    """One line of "what was measured".

    Attributes:
        depth: nesting level, 0 for a check's own facts.
        label: what the value is; empty for an item of a list.
        value: the value in words; empty for a heading of the lines nested under it.
    """

    depth: int
    label: str
    value: str


def label(check_id: str, key: str, lang: str) -> str:
    """The label of fact `key` of check `check_id`, in `lang` (English if not translated)."""
    for texts in (ui_texts(lang), ui_texts(DEFAULT_LANGUAGE)):
        for name in (f"fact_in.{check_id}.{key}", f"fact.{key}"):
            if name in texts:
                return texts[name]
    return key


def has_label(check_id: str, key: str, lang: str) -> bool:
    """Whether `key` has its own label in `lang` (data keys need none)."""
    texts = ui_texts(lang)
    return f"fact_in.{check_id}.{key}" in texts or f"fact.{key}" in texts


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _number(value: float) -> str:
    """Plain digits, never an exponent: 94608000 s reads better than 9.4608e+07 s."""
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def value_text(key: str, value: object, lang: str) -> str:
    """A single value in words: yes/no, units from the key's suffix, our own words translated."""
    if value is None:
        return ui("fact_value.none", lang=lang)
    if isinstance(value, bool):
        return ui("fact_value.yes" if value else "fact_value.no", lang=lang)
    if isinstance(value, int | float):
        number = _number(value)
        if key.endswith("_ms"):
            return f"{number} ms"
        if key.endswith("_s") and not key.endswith("utc_offset_s"):
            return f"{number} s"
        return number
    text = str(value)
    if key == "ref_id":
        # A stratum-1 server's clock, by the English name ntplib gives it.
        return ui_texts(lang).get(f"ntp_clock.{text}") or text
    if text.startswith("-----BEGIN"):
        return ui("fact_value.pem", lang=lang, count=text.count("-----BEGIN"))
    if key == "ocsp_staple":
        # base64 of DER: the size tells a person more than the text.
        return ui("fact_value.der_bytes", lang=lang, count=len(text) * 3 // 4)
    if _WORD.match(text) and f"fact_value.{text}" in ui_texts(lang):
        return ui(f"fact_value.{text}", lang=lang)
    return _cut(text)


def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list | tuple)


def _inline(check_id: str, value: object, lang: str, key: str = "") -> str:
    """A whole value on one line: a list joined by commas, a record as `label value · ...`."""
    if isinstance(value, dict):
        parts = [
            f"{label(check_id, k, lang)} {_inline(check_id, v, lang, k)}"
            for k, v in value.items()
            if v not in (None, [], {}, "")
        ]
        return _cut(" · ".join(parts)) or ui("fact_value.empty", lang=lang)
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, str) and v.startswith("-----BEGIN") for v in value):
            return ui("fact_value.pem", lang=lang, count=len(value))
        shown = [_inline(check_id, v, lang, key) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            shown.append(ui("fact_value.more", lang=lang, count=len(value) - MAX_ITEMS))
        return _cut(", ".join(shown)) or ui("fact_value.empty", lang=lang)
    return value_text(key, value, lang)


def _emit(
    check_id: str, key: str, value: object, *, depth: int, lang: str, out: list[Line]
) -> None:
    name = label(check_id, key, lang)
    if isinstance(value, dict) and value and not all(_is_scalar(v) for v in value.values()):
        out.append(Line(depth, name, ""))
        items = list(value.items())
        for sub_key, sub_value in items[:MAX_ITEMS]:
            _emit(check_id, sub_key, sub_value, depth=depth + 1, lang=lang, out=out)
        if len(items) > MAX_ITEMS:
            more = ui("fact_value.more", lang=lang, count=len(items) - MAX_ITEMS)
            out.append(Line(depth + 1, "", more))
        return
    if isinstance(value, dict) and value and len(value) > 4:
        # A record with many fields reads better one field a line.
        out.append(Line(depth, name, ""))
        for sub_key, sub_value in list(value.items())[:MAX_ITEMS]:
            out.append(
                Line(depth + 1, label(check_id, sub_key, lang), _inline(check_id, sub_value, lang))
            )
        return
    if isinstance(value, list | tuple) and value and not all(_is_scalar(v) for v in value):
        # A list of records: one line each, such as each time server with its answer.
        out.append(Line(depth, name, ""))
        for item in value[:MAX_ITEMS]:
            out.append(Line(depth + 1, "", _inline(check_id, item, lang)))
        if len(value) > MAX_ITEMS:
            more = ui("fact_value.more", lang=lang, count=len(value) - MAX_ITEMS)
            out.append(Line(depth + 1, "", more))
        return
    out.append(Line(depth, name, _inline(check_id, value, lang, key)))


def lines(check_id: str, facts: Mapping[str, object], lang: str) -> tuple[Line, ...]:
    """What check `check_id` measured, as labelled lines in `lang` (pass redacted facts)."""
    out: list[Line] = []
    for key, value in facts.items():
        _emit(check_id, key, value, depth=0, lang=lang, out=out)
    return tuple(out)


def field_keys(value: object) -> set[str]:
    """Every key of our own naming in a fact value, nested ones too (for the label test)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            if FIELD_KEY.match(key):
                found.add(key)
            found |= field_keys(sub)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= field_keys(item)
    return found
