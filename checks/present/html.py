"""Renders the report as one self-contained, printable HTML page."""

from __future__ import annotations

import html

from checks.core.models import Report
from checks.present import check_view
from checks.present.catalogue import (
    OSName,
    Surface,
    ui,
)
from checks.present.document import (
    CheckData,
    Document,
    FindingData,
    build,
    printable,
    seconds,
    status_tag,
    target_label,
    view_of,
)

_HTML_LANG = {"en": "en", "zh_CN": "zh-CN"}


_CSS = """
:root { --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --skip: #59636e; --error: #8250df;
  --line: #d0d7de; --soft: #f6f8fa; color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC",
  "Microsoft YaHei", sans-serif; color: #1f2328; max-width: 62rem; margin: 2rem auto;
  padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
h3, h4 { font-size: 1rem; margin: 1rem 0 .25rem; }
h5 { font-size: .9rem; margin: .75rem 0 .25rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .5em; border-radius: .3em; color: #fff;
  font-weight: 600; white-space: nowrap; }
.s-pass .badge, .badge.s-pass { background: var(--pass); }
.s-warn .badge, .badge.s-warn { background: var(--warn); }
.s-fail .badge, .badge.s-fail { background: var(--fail); }
.s-skip .badge, .badge.s-skip { background: var(--skip); }
.s-error .badge, .badge.s-error { background: var(--error); }
.verdict { border-left: .4rem solid var(--line); background: var(--soft); padding: .75rem 1rem;
  margin: 1.5rem 0; }
.verdict.s-pass { border-color: var(--pass); }
.verdict.s-warn { border-color: var(--warn); }
.verdict.s-fail { border-color: var(--fail); }
.verdict h2 { margin: .5rem 0; }
details.check { border: 1px solid var(--line); border-radius: .4rem; margin: .5rem 0; }
details.check > summary { cursor: pointer; padding: .4rem .6rem; }
details.check[open] > summary { border-bottom: 1px solid var(--line); }
.name { font-weight: 600; }
.summary, .duration { color: #59636e; }
.body { padding: 0 1rem .75rem; }
.finding { margin-top: .5rem; }
.finding h4 .badge { font-size: .85em; }
ol, ul { margin: .25rem 0; padding-left: 1.75rem; }
table.facts { border-collapse: collapse; width: 100%; font-size: .9em; margin-top: .25rem; }
table.facts th, table.facts td { text-align: left; vertical-align: top; padding: .2rem .5rem;
  border-top: 1px solid var(--line); }
table.facts th { white-space: nowrap; width: 1%; }
code, pre { font: .85em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { margin-top: 2rem; color: #59636e; font-size: .85em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  details.check { break-inside: avoid; }
  details.check > summary { list-style: none; }
  details > :not(summary) { display: block; }
}
@media print { details::details-content { content-visibility: visible; display: contents; } }
"""


def _h(text: object) -> str:
    return html.escape(printable(str(text)), quote=True)


def _html_badge(status: str, lang: str) -> str:
    return f'<span class="badge s-{_h(status)}">{_h(status_tag(status, lang))}</span>'


def _html_list(tag: str, items: list[str]) -> str:
    inner = "".join(f"<li>{_h(item)}</li>" for item in items)
    return f"<{tag}>{inner}</{tag}>"


def _html_facts(view: check_view.CheckView) -> str:
    rows = []
    for line in view.measured:
        pad = f' style="padding-left:{0.5 + 1.2 * line.depth:.1f}rem"'
        if line.label:
            rows.append(f"<tr><th{pad}>{_h(line.label)}</th><td>{_h(line.value)}</td></tr>")
        else:
            rows.append(f'<tr><td colspan="2"{pad}>{_h(line.value)}</td></tr>')
    return f'<table class="facts">{"".join(rows)}</table>'


def _html_finding(doc: Document, finding: FindingData) -> list[str]:
    lang = doc.lang
    out = [
        '<div class="finding">',
        f"<h4>{_html_badge(finding['status'], lang)} {_h(finding['title'])}</h4>",
    ]
    if finding["explanation"]:
        out += [f"<p>{_h(p)}</p>" for p in finding["explanation"].split("\n\n")]
    for key, steps in (("what_to_do", finding["fix"]), ("fix_admin", finding["fix_admin"])):
        if steps:
            out += [f"<h5>{_h(ui(f'report.{key}', lang=lang))}</h5>", _html_list("ol", steps)]
    if finding["evidence"]:
        out.append(f"<h5>{_h(ui('report.evidence', lang=lang))}</h5>")
        items = "".join(f"<li><code>{_h(e)}</code></li>" for e in finding["evidence"])
        out.append(f"<ul>{items}</ul>")
    out.append("</div>")
    return out


def _html_check(doc: Document, check: CheckData) -> list[str]:
    lang = doc.lang
    view = check_view.of_document(doc, check)
    opened = "" if view.status == "pass" else " open"
    out = [
        f'<details class="check s-{_h(view.status)}"{opened}>',
        f"<summary>{_html_badge(view.status, lang)} "
        f'<span class="name">{_h(view.name)}</span>'
        + (f' <span class="summary">— {_h(view.summary)}</span>' if view.summary else "")
        + f' <span class="duration">({_h(view.duration)})</span></summary>',
        '<div class="body">',
    ]
    if view.error:
        out.append(
            f"<p><strong>{_h(ui('report.error_detail', lang=lang))}"
            f"{_h(ui('report.colon', lang=lang).rstrip())}</strong> "
            f"<code>{_h(view.error_line)}</code></p>"
        )
    for finding in check["findings"]:
        out += _html_finding(doc, finding)
    out.append(f"<h5>{_h(ui('report.facts', lang=lang))}</h5>")
    if view.measured:
        out.append(_html_facts(view))
    else:
        out.append(f"<p>{_h(ui('report.no_facts', lang=lang))}</p>")
    out += ["</div>", "</details>"]
    return out


def to_html(
    report: Report,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> str:
    """The report as one self-contained, printable HTML page with no scripts or external links."""
    doc = build(report, lang, os_name, surface)
    data, lang = doc.data, doc.lang
    heading = ui("report.title_for", lang=lang, target=target_label(doc))
    view = view_of(doc)
    tag = status_tag(view.status, lang)
    meta: list[tuple[str, str]] = []
    target = data["target"]
    if target is not None:
        meta.append((ui("report.input", lang=lang), target["input"]))
        meta.append((ui("report.sni", lang=lang), target["sni"] or ui("report.no_sni", lang=lang)))
        if target["addresses"]:
            meta.append((ui("report.addresses", lang=lang), ", ".join(target["addresses"])))
    else:
        meta.append((ui("report.target", lang=lang), ui("report.local_only", lang=lang)))
    meta.append((ui("report.started", lang=lang), data["started_at"]))
    meta.append((ui("report.duration", lang=lang), seconds(data["duration_s"], lang)))

    tool = data["tool"]
    generated = ui("report.generated_by", lang=lang, tool=tool["name"], version=tool["version"])
    schema = ui("report.schema", lang=lang, version=data["schema"])
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{_HTML_LANG.get(lang, "en")}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{_h(tool["name"])} {_h(tool["version"])}">',
        f"<title>{_h(heading)} — {_h(tag)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_h(heading)}</h1>",
        '<dl class="meta">',
        *(f"<dt>{_h(label)}</dt><dd>{_h(value)}</dd>" for label, value in meta),
        "</dl>",
        "</header>",
        f'<section class="verdict s-{_h(view.status)}" '
        f'aria-label="{_h(ui("report.verdict", lang=lang))}">',
        f"<h2>{_html_badge(view.status, lang)} {_h(view.sentence)}</h2>",
        *(f"<p>{_h(sentence)}</p>" for sentence in view.details),
    ]
    for left_heading, titles in view.left:
        out += [f"<h3>{_h(left_heading)}</h3>", _html_list("ul", list(titles))]
    if view.steps:
        out += [f"<h3>{_h(view.steps_heading)}</h3>", _html_list("ol", list(view.steps))]
    out += ["</section>", "<section>", f"<h2>{_h(ui('report.checks', lang=lang))}</h2>"]
    for check in data["checks"]:
        out += _html_check(doc, check)
    out += [
        "</section>",
        f"<footer>{_h(generated)} · {_h(schema)}</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)
