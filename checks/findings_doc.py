"""Writes docs/findings.md, the public list of finding ids, from the registry and the catalogue."""

from __future__ import annotations

import re
import sys

from checks import registry
from checks.present import catalogue

HEADER = """\
# Finding ids

Every finding Handshake Doctor can report. The id is a public contract: it appears in the JSON
report, keys the texts in `resources/findings/`, and never changes once shipped. Where a finding
has variants, its `params.variant` says which one. Titles are shown with their `{placeholders}`.

Regenerate with `python -m checks.findings_doc > docs/findings.md` (a test checks it is current).

| id | variants | title (English) |
|---|---|---|
"""


_FORMATTED = re.compile(r"\{(\w+):([^}]+)\}")


def _readable(title: str) -> str:
    """`{days:count=day}` reads `{days} days`, `{offset_s:direction}` reads `{ahead|behind}`."""
    units = catalogue.ui_texts("en")

    def plain(match: re.Match[str]) -> str:
        name, spec = match.groups()
        if spec.startswith("count="):
            return units[f"units.{spec.removeprefix('count=')}_other"].replace("{n}", f"{{{name}}}")
        if spec == "direction":
            return "{ahead|behind}"
        return f"{{{name} as {spec.replace('_', ' ')}}}"

    return _FORMATTED.sub(plain, title)


def markdown() -> str:
    rows = []
    for finding_id, variants in sorted(registry.emitted_findings().items()):
        title = catalogue.finding_texts("en").get(finding_id, {}).get("title", "")
        names = ", ".join(f"`{v}`" for v in variants)
        cell = _readable(title).replace("|", r"\|")
        rows.append(f"| `{finding_id}` | {names} | {cell} |\n")
    return HEADER + "".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown())
