"""Renders the report for a terminal: the verdict and its steps, then one line per check."""

from __future__ import annotations

import unicodedata

from checks.core.models import Report, Status
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

_WIDTH = 100


_ANSI = {"pass": "32", "warn": "33", "fail": "31", "skip": "90", "error": "35"}


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

    def __init__(self, doc: Document, color: bool, verbose: bool = False) -> None:
        self.doc = doc
        self.color = color
        self.verbose = verbose
        self.lines: list[str] = []
        tags = [f"[{status_tag(s.value, doc.lang)}]" for s in Status]
        self.tag_width = max(_width(t) for t in tags)

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def headed(self, status: str, text: str, name: str = "") -> None:
        """`[✔ PASS] name  text`, wrapped under the name, with only the tag coloured."""
        tag = f"[{status_tag(status, self.doc.lang)}]"
        prefix = tag + " " * (self.tag_width - _width(tag) + 1)
        if name:
            prefix += printable(name) + ("  " if text else "")
        wrapped = _wrap(printable(text), prefix, " " * (self.tag_width + 1))
        colored = self.paint(tag, _ANSI[status])
        self.lines.append(colored + wrapped[0][len(tag) :])
        self.lines.extend(wrapped[1:])

    def para(self, text: str, indent: int) -> None:
        if text:
            self.lines.extend(_wrap(printable(text), " " * indent))

    def heading(self, text: str, indent: int) -> None:
        colon = ui("report.colon", lang=self.doc.lang).rstrip()
        self.lines.append(" " * indent + self.paint(f"{text}{colon}", "1"))

    def steps(self, heading: str, steps: list[str], indent: int) -> None:
        if not steps:
            return
        self.heading(heading, indent)
        for number, step in enumerate(steps, 1):
            lead = f"{' ' * (indent + 2)}{number}. "
            self.lines.extend(_wrap(printable(step), lead))

    def bullets(self, heading: str, items: list[str], indent: int) -> None:
        if not items:
            return
        self.heading(heading, indent)
        for item in items:
            self.lines.extend(_wrap(printable(item), f"{' ' * (indent + 2)}- "))

    def finding(self, finding: FindingData, titled: bool, indent: int) -> None:
        lang = self.doc.lang
        if titled:
            symbol = ui(f"status_symbol.{finding['status']}", lang=lang)
            self.lines.extend(_wrap(printable(finding["title"]), f"{' ' * indent}{symbol} "))
        self.para(finding["explanation"], indent)
        self.steps(ui("report.what_to_do", lang=lang), finding["fix"], indent)
        self.steps(ui("report.fix_admin", lang=lang), finding["fix_admin"], indent)
        self.bullets(ui("report.evidence", lang=lang), finding["evidence"], indent)

    def check(self, check: CheckData) -> None:
        """One line; with `verbose`, why, what to do, the evidence and what was measured."""
        view = check_view.of_document(self.doc, check)
        self.headed(view.status, view.summary, view.name)
        if not self.verbose:
            return
        indent = self.tag_width + 1
        if view.error:
            self.para(view.error_line, indent)
        for finding in view.told:
            self.finding(finding, titled=len(view.told) > 1, indent=indent)
        self.bullets(ui("check.also_found", lang=self.doc.lang), list(view.others), indent)
        self.measured(view, indent)

    def measured(self, view: check_view.CheckView, indent: int) -> None:
        if not view.measured:
            return
        self.heading(ui("report.facts", lang=self.doc.lang), indent)
        colon = ui("report.colon", lang=self.doc.lang)
        for line in view.measured:
            lead = " " * (indent + 2 + 2 * line.depth)
            if not line.label:
                self.lines.extend(_wrap(printable(line.value), f"{lead}- ", f"{lead}  "))
            elif not line.value:
                self.lines.append(f"{lead}{printable(line.label)}{colon.rstrip()}")
            else:
                text = f"{line.label}{colon}{line.value}"
                self.lines.extend(_wrap(printable(text), lead, f"{lead}  "))

    def programs(self, checks: list[CheckData]) -> None:
        """The programs check's table: each program, its library and roots, and how it fared."""
        lang = self.doc.lang
        found = next((c for c in checks if c["id"] == "programs"), None)
        rows = (found["facts"] or {}).get("programs") if found is not None else None
        if not rows:
            return
        self.lines.append("")
        self.lines.append(self.paint(ui("gui_programs.heading", lang=lang), "1"))
        status = {"connects": "pass", "refuses": "fail", "unknown": "skip"}
        table = []
        for row in rows:
            result = row.get("result")
            outcome = "—"
            if result is not None:
                mark = ui(f"status_symbol.{status.get(result, 'skip')}", lang=lang)
                outcome = f"{mark} {ui(f'gui_programs.result_{result}', lang=lang)}"
            store = ui(f"gui_programs.store_{row['trust_store']}", lang=lang)
            table.append((row["label"], row.get("tls_library") or "—", store, outcome, row))
        widths = [max(_width(r[i]) for r in table) for i in range(4)]
        for label, library, store, outcome, row in table:
            cells = [label, library, store, outcome]
            line = "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True))
            self.lines.append(printable(f"  {line}").rstrip())
            if row.get("result") == "refuses" and row.get("detail"):
                self.lines.extend(_wrap(printable(str(row["detail"])), "      ", "      "))

    def render(self) -> str:
        doc, lang = self.doc, self.doc.lang
        data = doc.data
        self.lines.append(
            self.paint(ui("report.title_for", lang=lang, target=target_label(doc)), "1")
        )
        colon = ui("report.colon", lang=lang)
        target = data["target"]
        if target is not None:
            self.para(f"{ui('report.input', lang=lang)}{colon}{target['input']}", 0)
            if target["addresses"]:
                addresses = ", ".join(target["addresses"])
                self.para(f"{ui('report.addresses', lang=lang)}{colon}{addresses}", 0)
        started = f"{ui('report.started', lang=lang)}{colon}{data['started_at']}"
        duration = f"{ui('report.duration', lang=lang)}{colon}{seconds(data['duration_s'], lang)}"
        self.para(f"{started} · {duration}", 0)
        self.lines.append("")
        view = view_of(doc)
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
        self.programs(data["checks"])
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
    return _Terminal(build(report, lang, os_name, surface), color, verbose).render()
