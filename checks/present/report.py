"""The report in every format, and saving it: one entry point for the CLI and the window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from checks.core.models import Report
from checks.core.platform import OSName
from checks.present.catalogue import Surface
from checks.present.document import (
    SCHEMA_VERSION,
    TOOL_NAME,
    VerdictView,
    to_dict,
    to_json,
    verdict_view,
)
from checks.present.html import to_html
from checks.present.markdown import to_markdown
from checks.present.text import to_text

__all__ = [
    "SCHEMA_VERSION",
    "TOOL_NAME",
    "VerdictView",
    "to_dict",
    "to_html",
    "to_json",
    "to_markdown",
    "to_text",
    "verdict_view",
    "write",
]


_FORMATS: dict[str, Callable[..., str]] = {
    ".html": to_html,
    ".htm": to_html,
    ".md": to_markdown,
    ".markdown": to_markdown,
    ".json": to_json,
}


def write(
    report: Report,
    path: Path,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> None:
    """Save the report as HTML, Markdown or JSON, chosen by the file's extension."""
    renderer = _FORMATS.get(path.suffix.lower())
    if renderer is None:
        allowed = ", ".join(_FORMATS)
        raise ValueError(f"Cannot save a report as {path.name!r}; use one of: {allowed}.")
    text = renderer(report, lang=lang, os_name=os_name, surface=surface)
    path.write_text(text, encoding="utf-8", newline="")
