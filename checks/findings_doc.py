"""Writes docs/findings.md, the public list of finding ids, from the registry and the catalogue."""

from __future__ import annotations

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


def markdown() -> str:
    rows = []
    for finding_id, variants in sorted(registry.emitted_findings().items()):
        title = catalogue.finding_texts("en").get(finding_id, {}).get("title", "")
        names = ", ".join(f"`{v}`" for v in variants)
        cell = title.replace("|", r"\|")
        rows.append(f"| `{finding_id}` | {names} | {cell} |\n")
    return HEADER + "".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown())
