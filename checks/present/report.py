"""Renders a finished diagnosis as terminal text, JSON (schema 1), Markdown or standalone HTML."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from checks.core.models import CheckResult, Finding, Report, Status
from checks.core.redact import plain, redact, redact_data
from checks.present import measured
from checks.present.catalogue import (
    OSName,
    Surface,
    current_os,
    normalise_language,
    render,
    ui,
    ui_texts,
)

SCHEMA_VERSION = 1


TOOL_NAME = "handshake-doctor"

_WIDTH = 100
_ANSI = {"pass": "32", "warn": "33", "fail": "31", "skip": "90", "error": "35"}
_HTML_LANG = {"en": "en", "zh_CN": "zh-CN"}


class _FindingData(TypedDict):
    id: str
    status: str
    params: dict[str, Any]
    title: str
    explanation: str
    fix: list[str]
    fix_admin: list[str]
    evidence: list[str]


class _CheckData(TypedDict):
    id: str
    status: str
    duration_s: float
    blocked_by: NotRequired[str]
    error: NotRequired[str]
    findings: list[_FindingData]
    facts: dict[str, Any]


class _TargetData(TypedDict):
    input: str
    host: str
    port: int
    sni: str | None
    addresses: list[str]


class _VerdictData(TypedDict):
    status: str
    finding: str | None
    summary: str
    confidence: str
    evidence: list[str]
    runner_up: str | None
    effect: str | None
    connects: bool | None
    left: list[str]


class _ReportData(TypedDict):
    schema: int
    tool: dict[str, str]
    target: _TargetData | None
    started_at: str
    duration_s: float
    verdict: _VerdictData
    checks: list[_CheckData]
    cancelled: bool
    language: str
    os: str


@dataclass(frozen=True)
class _Document:
    """The redacted report data plus what the human formats show beyond schema 1."""

    data: _ReportData
    lead: _FindingData | None
    runner_up: _FindingData | None
    checked: tuple[str, ...]
    # (title, effect) of the problems the verdict leaves for below, most important first
    left: tuple[tuple[str, str], ...] = ()
    surface: Surface = "cli"

    @property
    def lang(self) -> str:
        return self.data["language"]

    def finding(self, finding_id: str) -> _FindingData | None:
        return next(
            (f for c in self.data["checks"] for f in c["findings"] if f["id"] == finding_id), None
        )


def _iso_utc(moment: datetime) -> str:
    # A naive timestamp can only have come from utcnow(); local time would be a bug upstream.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _finding_data(
    finding: Finding, lang: str, os_name: OSName, surface: Surface
) -> dict[str, object]:
    text = render(finding, lang=lang, os_name=os_name, surface=surface)
    return {
        "id": finding.id,
        "status": finding.status.value,
        "params": plain(finding.params),
        "title": text.title,
        "explanation": text.explanation,
        "fix": list(text.fix),
        "fix_admin": list(text.fix_admin),
        "evidence": list(finding.evidence),
    }


def _check_data(
    result: CheckResult, lang: str, os_name: OSName, surface: Surface
) -> dict[str, object]:
    data: dict[str, object] = {
        "id": result.check_id,
        "status": result.status.value,
        "duration_s": round(result.duration_s, 3),
    }
    if result.blocked_by is not None:
        data["blocked_by"] = result.blocked_by
    if result.error is not None:
        data["error"] = result.error
    data["findings"] = [_finding_data(f, lang, os_name, surface) for f in result.findings]
    data["facts"] = plain(result.facts)
    return data


def _addresses(results: tuple[CheckResult, ...]) -> list[str]:
    dns = next((r for r in results if r.check_id == "dns"), None)
    found = dns.facts.get("addresses") if dns else None
    if isinstance(found, list | tuple):
        return [str(a) for a in found]
    return []


def _document(
    report: Report, lang: str, os_name: OSName | None, surface: Surface = "cli"
) -> _Document:
    lang = normalise_language(lang)
    os_name = os_name or current_os()
    verdict = report.verdict
    target: dict[str, object] | None = None
    if report.target is not None:
        target = {
            "input": report.target.input,
            "host": report.target.host,
            "port": report.target.port,
            "sni": report.target.sni,
            "addresses": _addresses(report.results),
        }
    lead = _finding_data(verdict.finding, lang, os_name, surface) if verdict.finding else None
    runner_up = (
        _finding_data(verdict.runner_up, lang, os_name, surface) if verdict.runner_up else None
    )
    if lead is not None:
        summary = lead["title"]
    elif verdict.connects and report.target is not None:
        summary = ui("verdict.connects", lang=lang, host=report.target.display)
    else:
        summary = ui("verdict.no_problem", lang=lang)
    left = tuple(
        (
            render(p.finding, lang=lang, os_name=os_name, surface=surface).title,
            p.effect.name.lower(),
        )
        for p in verdict.left
    )
    data = {
        "schema": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": report.version},
        "target": target,
        "started_at": _iso_utc(report.started_at),
        "duration_s": round(report.duration_s, 3),
        "verdict": {
            "status": verdict.status.value,
            "finding": verdict.finding.id if verdict.finding else None,
            "summary": summary,
            "confidence": verdict.confidence,
            "evidence": list(verdict.evidence),
            "runner_up": verdict.runner_up.id if verdict.runner_up else None,
            "effect": verdict.effect.name.lower() if verdict.effect is not None else None,
            "connects": verdict.connects,
            "left": [p.finding.id for p in verdict.left],
        },
        "checks": [_check_data(r, lang, os_name, surface) for r in report.results],
        "cancelled": report.cancelled,
        "language": lang,
        "os": os_name,
    }
    return _Document(
        data=cast(_ReportData, redact_data(data)),
        lead=cast(_FindingData | None, redact_data(lead)),
        runner_up=cast(_FindingData | None, redact_data(runner_up)),
        checked=tuple(_check_name(c, lang) for c in verdict.checked),
        left=tuple((redact(title), kind) for title, kind in left),
        surface=surface,
    )


def to_dict(
    report: Report,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> dict[str, Any]:
    """The report as JSON schema 1 (see docs/report-schema.md), redacted, in plain JSON types."""
    return cast(dict[str, Any], _document(report, lang, os_name, surface).data)


def to_json(
    report: Report,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> str:
    """`to_dict` as indented UTF-8 JSON text ending in a newline."""
    data = to_dict(report, lang=lang, os_name=os_name, surface=surface)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _check_name(check_id: str, lang: str) -> str:
    key = f"check_name.{check_id}"
    return ui_texts(lang).get(key) or ui_texts("en").get(key) or check_id


def _status_tag(status: str, lang: str) -> str:
    return f"{ui(f'status_symbol.{status}', lang=lang)} {ui(f'status.{status}', lang=lang)}"


def _seconds(value: float, lang: str) -> str:
    return ui("report.seconds", lang=lang, seconds=f"{value:.2f}")


def _error_line(error: str) -> str:
    """The line of an error that names it: the message, or a traceback's final line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]


def _worst(findings: list[_FindingData]) -> _FindingData | None:
    return max(findings, key=lambda f: Status(f["status"]).severity, default=None)


def _check_summary(doc: _Document, check: _CheckData) -> str:
    """The one line that follows a check's name."""
    lang = doc.lang
    if check["status"] == "skip":
        if "blocked_by" in check:
            blocker = doc.finding(check["blocked_by"])
            name = blocker["title"] if blocker else check["blocked_by"]
            return ui("check.blocked_by", lang=lang, finding=name)
        return ui("check.cancelled", lang=lang) if doc.data["cancelled"] else ""
    if check["status"] == "error":
        return ui("check.error", lang=lang)
    worst = _worst(check["findings"])
    return worst["title"] if worst else ""


def _target_label(doc: _Document) -> str:
    target = doc.data["target"]
    if target is None:
        return ui("report.local_only", lang=doc.lang)
    host = f"[{target['host']}]" if ":" in target["host"] else target["host"]
    return f"{host}:{target['port']}"


@dataclass(frozen=True)
class VerdictView:
    """The verdict as every format shows it (terminal, Markdown, HTML, the window's banner):
    worded in one language, for one surface, and redacted.

    Attributes:
        status: the traffic light: pass, warn or fail; skip for a cancelled run.
        kicker: "Most likely cause (certain)", or empty when there is no cause.
        headline: the cause's title, or what is true when there is none.
        sentence: kicker and headline as one line, for the text formats.
        details: sentences under the headline (the runner-up, what was checked).
        left: what is left below a cause-free headline: (heading, titles) groups, the problems
            to improve first, then what could not be checked.
        steps_heading: "What to do first", or the administrator's heading.
        steps: the numbered steps under it.
    """

    status: str
    kicker: str
    headline: str
    sentence: str
    details: tuple[str, ...]
    left: tuple[tuple[str, tuple[str, ...]], ...]
    steps_heading: str
    steps: tuple[str, ...]


def _verdict_view(doc: _Document) -> VerdictView:
    lang = doc.lang
    if doc.data["cancelled"]:
        # A part of a diagnosis names no cause: what did not run could have outranked it.
        headline = ui("verdict.cancelled", lang=lang)
        detail = (ui("verdict.cancelled_detail", lang=lang),)
        return VerdictView("skip", "", headline, headline, detail, (), "", ())
    verdict = doc.data["verdict"]
    details: list[str] = []
    left: list[tuple[str, tuple[str, ...]]] = []
    kicker, steps_heading = "", ""
    steps: tuple[str, ...] = ()
    headline = sentence = verdict["summary"]
    if verdict["finding"] is None:
        improve = tuple(title for title, kind in doc.left if kind != "unchecked")
        unchecked = tuple(title for title, kind in doc.left if kind == "unchecked")
        if improve:
            left.append((ui("verdict.left_to_improve", lang=lang), improve))
        if unchecked:
            left.append((ui("verdict.not_checked", lang=lang), unchecked))
        if doc.checked and not doc.left:
            details.append(
                ui("verdict.no_problem_detail", lang=lang, checked=", ".join(doc.checked))
            )
    else:
        confidence = ui(f"confidence.{verdict['confidence']}", lang=lang)
        kicker = ui("gui_banner.cause", lang=lang, confidence=confidence)
        sentence = ui("verdict.cause", lang=lang, confidence=confidence, title=headline)
        # Problems as grave as a cause that did not cause this failure are still named.
        grave = tuple(title for title, kind in doc.left if kind in ("blocks", "unsafe"))
        runner = doc.runner_up["title"] if doc.runner_up is not None else None
        grave = tuple(title for title in grave if title != runner)
        if grave:
            left.append((ui("verdict.also_found", lang=lang), grave))
    if doc.runner_up is not None:
        details.append(ui("verdict.runner_up", lang=lang, title=doc.runner_up["title"]))
    lead = doc.lead
    if lead is not None:
        # The person at the keyboard comes first; the administrator's steps are the fallback.
        if lead["fix"] or not lead["fix_admin"]:
            steps_heading, steps = ui("report.what_first", lang=lang), tuple(lead["fix"])
        else:
            steps_heading, steps = ui("report.fix_admin", lang=lang), tuple(lead["fix_admin"])
    return VerdictView(
        verdict["status"],
        kicker,
        headline,
        sentence,
        tuple(details),
        tuple(left),
        steps_heading,
        steps,
    )


def verdict_view(
    report: Report,
    *,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
) -> VerdictView:
    """The verdict of `report` worded for one language and surface (see `VerdictView`)."""
    return _verdict_view(_document(report, lang, os_name, surface))


# Control characters from a server's banner or a certificate must not drive the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    return _CONTROL.sub("\ufffd", text)


# Closing punctuation stays on the line of the character before it.
_NO_LINE_START = frozenset("，。、；：！？）》」』】〕,.;:!?)]}")


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _pieces(paragraph: str) -> list[tuple[str, str]]:
    """Unbreakable pieces with the separator before each: words, or single CJK characters."""
    pieces: list[tuple[str, str]] = []
    for word in paragraph.split():
        sep = " "
        current = ""
        for char in word:
            wide = _width(char) == 2
            previous_wide = bool(current) and _width(current[-1]) == 2
            if current and (wide or previous_wide) and char not in _NO_LINE_START:
                pieces.append((sep, current))
                sep, current = "", ""
            current += char
        pieces.append((sep, current))
    return pieces


def _wrap(text: str, first: str, rest: str | None = None) -> list[str]:
    """`text` wrapped at 100 columns (CJK counts double), after `first`, then `rest` indents."""
    rest = " " * _width(first) if rest is None else rest
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = first if not lines else rest
        used = _width(line)
        empty = True
        for sep, piece in _pieces(paragraph):
            addition = piece if empty else sep + piece
            if not empty and used + _width(addition) > _WIDTH:
                lines.append(line.rstrip())
                line = rest + piece
                used = _width(line)
                continue
            line += addition
            used += _width(addition)
            empty = False
        lines.append(line.rstrip())
    return lines


class _Terminal:
    """Builds terminal lines; colour only ever repeats what the status word already says."""

    def __init__(self, doc: _Document, color: bool, verbose: bool = False) -> None:
        self.doc = doc
        self.color = color
        self.verbose = verbose
        self.lines: list[str] = []
        tags = [f"[{_status_tag(s.value, doc.lang)}]" for s in Status]
        self.tag_width = max(_width(t) for t in tags)

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def headed(self, status: str, text: str, name: str = "") -> None:
        """`[✔ PASS] name  text`, wrapped under the name, with only the tag coloured."""
        tag = f"[{_status_tag(status, self.doc.lang)}]"
        prefix = tag + " " * (self.tag_width - _width(tag) + 1)
        if name:
            prefix += _printable(name) + ("  " if text else "")
        wrapped = _wrap(_printable(text), prefix, " " * (self.tag_width + 1))
        colored = self.paint(tag, _ANSI[status])
        self.lines.append(colored + wrapped[0][len(tag) :])
        self.lines.extend(wrapped[1:])

    def para(self, text: str, indent: int) -> None:
        if text:
            self.lines.extend(_wrap(_printable(text), " " * indent))

    def heading(self, text: str, indent: int) -> None:
        colon = ui("report.colon", lang=self.doc.lang).rstrip()
        self.lines.append(" " * indent + self.paint(f"{text}{colon}", "1"))

    def steps(self, heading: str, steps: list[str], indent: int) -> None:
        if not steps:
            return
        self.heading(heading, indent)
        for number, step in enumerate(steps, 1):
            lead = f"{' ' * (indent + 2)}{number}. "
            self.lines.extend(_wrap(_printable(step), lead))

    def bullets(self, heading: str, items: list[str], indent: int) -> None:
        if not items:
            return
        self.heading(heading, indent)
        for item in items:
            self.lines.extend(_wrap(_printable(item), f"{' ' * (indent + 2)}- "))

    def finding(self, finding: _FindingData, titled: bool, indent: int) -> None:
        lang = self.doc.lang
        if titled:
            symbol = ui(f"status_symbol.{finding['status']}", lang=lang)
            self.lines.extend(_wrap(_printable(finding["title"]), f"{' ' * indent}{symbol} "))
        self.para(finding["explanation"], indent)
        self.steps(ui("report.what_to_do", lang=lang), finding["fix"], indent)
        self.steps(ui("report.fix_admin", lang=lang), finding["fix_admin"], indent)
        self.bullets(ui("report.evidence", lang=lang), finding["evidence"], indent)

    def check(self, check: _CheckData) -> None:
        """One line; with `verbose`, why, what to do, the evidence and what was measured."""
        lang = self.doc.lang
        name = _check_name(check["id"], lang)
        summary = _check_summary(self.doc, check)
        self.headed(check["status"], summary, name)
        if not self.verbose:
            return
        indent = self.tag_width + 1
        if check["status"] == "error" and "error" in check:
            self.para(_error_line(check["error"]), indent)
        problems = [f for f in check["findings"] if f["status"] not in ("pass", "skip")]
        headline = _worst(check["findings"])
        for finding in problems:
            self.finding(
                finding, titled=len(problems) > 1 or finding is not headline, indent=indent
            )
        self.measured(check, indent)

    def measured(self, check: _CheckData, indent: int) -> None:
        found = measured.lines(check["id"], check["facts"], self.doc.lang)
        if not found:
            return
        self.heading(ui("report.facts", lang=self.doc.lang), indent)
        colon = ui("report.colon", lang=self.doc.lang)
        for line in found:
            lead = " " * (indent + 2 + 2 * line.depth)
            if not line.label:
                self.lines.extend(_wrap(_printable(line.value), f"{lead}- ", f"{lead}  "))
            elif not line.value:
                self.lines.append(f"{lead}{_printable(line.label)}{colon.rstrip()}")
            else:
                text = f"{line.label}{colon}{line.value}"
                self.lines.extend(_wrap(_printable(text), lead, f"{lead}  "))

    def render(self) -> str:
        doc, lang = self.doc, self.doc.lang
        data = doc.data
        self.lines.append(
            self.paint(ui("report.title_for", lang=lang, target=_target_label(doc)), "1")
        )
        colon = ui("report.colon", lang=lang)
        target = data["target"]
        if target is not None:
            self.para(f"{ui('report.input', lang=lang)}{colon}{target['input']}", 0)
            if target["addresses"]:
                addresses = ", ".join(target["addresses"])
                self.para(f"{ui('report.addresses', lang=lang)}{colon}{addresses}", 0)
        started = f"{ui('report.started', lang=lang)}{colon}{data['started_at']}"
        duration = f"{ui('report.duration', lang=lang)}{colon}{_seconds(data['duration_s'], lang)}"
        self.para(f"{started} · {duration}", 0)
        self.lines.append("")
        view = _verdict_view(doc)
        self.headed(view.status, view.sentence)
        indent = self.tag_width + 1
        for sentence in view.details:
            self.para(sentence, indent)
        for heading, titles in view.left:
            self.bullets(heading, list(titles), indent)
        self.steps(view.steps_heading, list(view.steps), indent)
        self.lines.append("")
        self.lines.append(self.paint(ui("report.checks", lang=lang), "1"))
        for check in data["checks"]:
            self.check(check)
        if not self.verbose and doc.surface == "cli":
            self.lines.append("")
            self.para(ui("report.more_with_verbose", lang=lang), 0)
        return "\n".join(self.lines) + "\n"


def to_text(
    report: Report,
    *,
    color: bool,
    lang: str = "en",
    os_name: OSName | None = None,
    surface: Surface = "cli",
    verbose: bool = False,
) -> str:
    """The terminal report: the verdict and what to do first, then one line per check; with
    `verbose`, each check's explanation, steps, evidence and measured values as well."""
    return _Terminal(_document(report, lang, os_name, surface), color, verbose).render()


# Backslash escapes are valid for every ASCII punctuation character in CommonMark.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])", re.MULTILINE)


def _md(text: str) -> str:
    """`text` as literal Markdown on one line: no markup, no raw HTML, no table breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _printable(text))
    return " ".join(escaped.split())


def _md_block(text: str) -> str:
    """`text` as literal Markdown paragraphs."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _printable(text))
    return _MD_LINE_START.sub(r"\1\\\2", escaped)


def _md_steps(heading: str, steps: list[str]) -> list[str]:
    if not steps:
        return []
    return [f"**{_md(heading)}**", "", *(f"{n}. {_md(s)}" for n, s in enumerate(steps, 1)), ""]


def _md_finding(doc: _Document, finding: _FindingData) -> list[str]:
    lang = doc.lang
    lines = [f"#### {_md(_status_tag(finding['status'], lang))} — {_md(finding['title'])}", ""]
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
    doc = _document(report, lang, os_name, surface)
    data, lang = doc.data, doc.lang
    out = [f"# {_md(ui('report.title_for', lang=lang, target=_target_label(doc)))}", ""]
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
    out += [item("duration", _seconds(data["duration_s"], lang)), ""]

    view = _verdict_view(doc)
    out += [f"## {_md(_status_tag(view.status, lang))} — {_md(view.sentence)}", ""]
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
    for check in data["checks"]:
        row = (
            _status_tag(check["status"], lang),
            _check_name(check["id"], lang),
            _check_summary(doc, check),
            _seconds(check["duration_s"], lang),
        )
        out.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    out.append("")

    for check in data["checks"]:
        tag = _status_tag(check["status"], lang)
        out += [f"### {_md(tag)} — {_md(_check_name(check['id'], lang))}", ""]
        summary = _check_summary(doc, check)
        if summary and not check["findings"]:
            out += [_md(summary), ""]
        if "error" in check:
            label = _md(ui("report.error_detail", lang=lang))
            out += [f"**{label}{colon}** {_md(_error_line(check['error']))}", ""]
        for finding in check["findings"]:
            out += _md_finding(doc, finding)
        found = measured.lines(check["id"], check["facts"], lang)
        if found:
            out += ["<details>", f"<summary>{_md(ui('report.facts', lang=lang))}</summary>", ""]
            for line in found:
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
    return html.escape(_printable(str(text)), quote=True)


def _html_badge(status: str, lang: str) -> str:
    return f'<span class="badge s-{_h(status)}">{_h(_status_tag(status, lang))}</span>'


def _html_list(tag: str, items: list[str]) -> str:
    inner = "".join(f"<li>{_h(item)}</li>" for item in items)
    return f"<{tag}>{inner}</{tag}>"


def _html_facts(check_id: str, facts: dict[str, Any], lang: str) -> str:
    rows = []
    for line in measured.lines(check_id, facts, lang):
        pad = f' style="padding-left:{0.5 + 1.2 * line.depth:.1f}rem"'
        if line.label:
            rows.append(f"<tr><th{pad}>{_h(line.label)}</th><td>{_h(line.value)}</td></tr>")
        else:
            rows.append(f'<tr><td colspan="2"{pad}>{_h(line.value)}</td></tr>')
    return f'<table class="facts">{"".join(rows)}</table>'


def _html_finding(doc: _Document, finding: _FindingData) -> list[str]:
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


def _html_check(doc: _Document, check: _CheckData) -> list[str]:
    lang = doc.lang
    status = check["status"]
    opened = "" if status == "pass" else " open"
    summary = _check_summary(doc, check)
    out = [
        f'<details class="check s-{_h(status)}"{opened}>',
        f"<summary>{_html_badge(status, lang)} "
        f'<span class="name">{_h(_check_name(check["id"], lang))}</span>'
        + (f' <span class="summary">— {_h(summary)}</span>' if summary else "")
        + f' <span class="duration">({_h(_seconds(check["duration_s"], lang))})</span></summary>',
        '<div class="body">',
    ]
    if "error" in check:
        out.append(
            f"<p><strong>{_h(ui('report.error_detail', lang=lang))}"
            f"{_h(ui('report.colon', lang=lang).rstrip())}</strong> "
            f"<code>{_h(_error_line(check['error']))}</code></p>"
        )
    for finding in check["findings"]:
        out += _html_finding(doc, finding)
    out.append(f"<h5>{_h(ui('report.facts', lang=lang))}</h5>")
    if check["facts"]:
        out.append(_html_facts(check["id"], check["facts"], lang))
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
    doc = _document(report, lang, os_name, surface)
    data, lang = doc.data, doc.lang
    heading = ui("report.title_for", lang=lang, target=_target_label(doc))
    view = _verdict_view(doc)
    tag = _status_tag(view.status, lang)
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
    meta.append((ui("report.duration", lang=lang), _seconds(data["duration_s"], lang)))

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
