"""Renders the report as Markdown, every piece of measured data escaped."""

from __future__ import annotations

import re

from checks.core.models import Report
from checks.present import check_view
from checks.present.catalogue import (
    OSName,
    Surface,
    ui,
)
from checks.present.document import (
    Document,
    FindingData,
    build,
    printable,
    seconds,
    status_tag,
    target_label,
    view_of,
)

# Backslash escapes are valid for every ASCII punctuation character in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)


def _md(text: str) -> str:
    """`text` as literal Markdown on one line: no markup, no raw HTML, no table breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", printable(text))
    return " ".join(escaped.split())


def _md_block(text: str) -> str:
    """`text` as literal Markdown paragraphs."""
    escaped = _MD_SPECIAL.sub(r"\\\1", printable(text))
    return _MD_LINE_START.sub(r"\1\\\2", escaped)


def _md_steps(heading: str, steps: list[str]) -> list[str]:
    if not steps:
        return []
    return [f"**{_md(heading)}**", "", *(f"{n}. {_md(s)}" for n, s in enumerate(steps, 1)), ""]


def _md_finding(doc: Document, finding: FindingData) -> list[str]:
    lang = doc.lang
    lines = [f"#### {_md(status_tag(finding['status'], lang))} — {_md(finding['title'])}", ""]
    if finding["explanation"]:
        lines += [_md_block(finding["explanation"]), ""]
    lines += _md_steps(ui("report.what_to_do", lang=lang), finding["fix"])
    lines += _md_steps(ui("report.fix_admin", lang=lang), finding["fix_admin"])
    if finding["evidence"]:
        lines += [f"**{_md(ui('report.evidence', lang=lang))}**", ""]
        lines += [f"- {_md(item)}" for item in finding["evidence"]] + [""]
    return lines


def to_markdown(
    report: Report,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> str:
    """The report as Markdown, with every piece of measured data escaped."""
    doc = build(report, lang, os_name, surface)
    data, lang = doc.data, doc.lang
    out = [f"# {_md(ui('report.title_for', lang=lang, target=target_label(doc)))}", ""]
    colon = ui("report.colon", lang=lang).rstrip()

    def item(key: str, value: str) -> str:
        return f"- **{_md(ui(f'report.{key}', lang=lang))}{colon}** {_md(value)}"

    target = data["target"]
    if target is not None:
        out.append(item("input", target["input"]))
        out.append(item("sni", target["sni"] or ui("report.no_sni", lang=lang)))
        if target["addresses"]:
            out.append(item("addresses", ", ".join(target["addresses"])))
    out.append(item("started", data["started_at"]))
    out += [item("duration", seconds(data["duration_s"], lang)), ""]

    view = view_of(doc)
    out += [f"## {_md(status_tag(view.status, lang))} — {_md(view.sentence)}", ""]
    out += [f"{_md(sentence)}  " for sentence in view.details]
    if view.details:
        out.append("")
    for heading, titles in view.left:
        out += [f"**{_md(heading)}**", ""] + [f"- {_md(t)}" for t in titles] + [""]
    if view.steps:
        out += [f"### {_md(view.steps_heading)}", ""]
        out += [f"{n}. {_md(step)}" for n, step in enumerate(view.steps, 1)] + [""]

    out += [f"## {_md(ui('report.checks', lang=lang))}", ""]
    columns = [ui(f"report.{k}", lang=lang) for k in ("status", "check", "result", "duration")]
    out += ["| " + " | ".join(_md(c) for c in columns) + " |", "|---|---|---|---:|"]
    views = [(check, check_view.of_document(doc, check)) for check in data["checks"]]
    for _, shown in views:
        row = (status_tag(shown.status, lang), shown.name, shown.summary, shown.duration)
        out.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    out.append("")

    for check, shown in views:
        out += [f"### {_md(status_tag(shown.status, lang))} — {_md(shown.name)}", ""]
        if shown.summary and not check["findings"]:
            out += [_md(shown.summary), ""]
        if shown.error:
            label = _md(ui("report.error_detail", lang=lang))
            out += [f"**{label}{colon}** {_md(shown.error_line)}", ""]
        for finding in check["findings"]:
            out += _md_finding(doc, finding)
        if shown.measured:
            out += ["<details>", f"<summary>{_md(ui('report.facts', lang=lang))}</summary>", ""]
            for line in shown.measured:
                lead = "  " * line.depth + "- "
                if line.label and line.value:
                    out.append(f"{lead}**{_md(line.label)}**{colon} {_md(line.value)}")
                else:
                    out.append(f"{lead}{_md(line.label or line.value)}")
            out += ["", "</details>", ""]

    tool = data["tool"]
    generated = ui("report.generated_by", lang=lang, tool=tool["name"], version=tool["version"])
    schema = ui("report.schema", lang=lang, version=data["schema"])
    out += ["---", "", f"{_md(generated)} · {_md(schema)}", ""]
    return "\n".join(out)
