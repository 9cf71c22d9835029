"""Words chosen when a text is shown, not when a check measures: counts, durations, directions."""

from __future__ import annotations

from collections.abc import Mapping

from checks.present import catalogue

_YEAR_S = 365 * 86400
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def _number(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def count(unit: str, value: object, lang: str) -> str:
    """`1 day`, `3 days`: the catalogue's `units.<unit>_one` or `units.<unit>_other`."""
    n = round(_number(value))
    form = "one" if n == 1 else "other"
    return catalogue.ui(f"units.{unit}_{form}", lang=lang, n=n)


def duration(value: object, lang: str) -> str:
    """`3 years`, `2 days 4 hours`, `2 hours 10 minutes`, `5 minutes`, `42 seconds`."""
    size = round(abs(_number(value)))
    if size >= _YEAR_S:
        return count("year", size // _YEAR_S, lang)
    for index, (unit_s, unit) in enumerate(_UNITS):
        if size >= unit_s or unit_s == 1:
            text = count(unit, size // unit_s, lang)
            if index + 1 < len(_UNITS):
                minor_s, minor_unit = _UNITS[index + 1]
                minor = (size % unit_s) // minor_s
                if minor:
                    after = count(minor_unit, minor, lang)
                    text = catalogue.ui("units.join", lang=lang, a=text, b=after)
            return text
    raise AssertionError("unreachable")  # pragma: no cover


def direction(value: object, lang: str) -> str:
    """`behind` for a positive offset (the network is ahead of this clock), else `ahead`."""
    return catalogue.ui(
        f"clock_direction.{'behind' if _number(value) >= 0 else 'ahead'}", lang=lang
    )


def vendor_fix(value: object, lang: str) -> str:
    """A product's own way to stop intercepting (`vendor_fix.<product id>`), or nothing."""
    key = f"vendor_fix.{value}"
    return catalogue.ui(key, lang=lang) if key in catalogue.ui_texts("en") else ""


def _after(
    params: Mapping[str, object], anchor: str, added: Mapping[str, object]
) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in params.items():
        out[key] = value
        if key == anchor:
            out.update(added)
    return out


def schema1_params(
    finding_id: str, params: Mapping[str, object], lang: str
) -> Mapping[str, object]:
    """`params` as JSON schema 1 reports them: with the words that earlier versions stored when
    measuring (a clock finding's `human_offset` and `direction`, an interception's
    `vendor_fix`), now worded in the report's language when it is written, at their old place."""
    if finding_id.startswith("clock.") and "offset_s" in params:
        offset = params["offset_s"]
        added = {"human_offset": duration(offset, lang), "direction": direction(offset, lang)}
        anchor = "uncertainty_s" if "uncertainty_s" in params else "offset_s"
        return _after(params, anchor, added)
    if finding_id == "interception.detected" and "product_id" in params:
        return _after(params, "count", {"vendor_fix": vendor_fix(params["product_id"], lang)})
    return params
