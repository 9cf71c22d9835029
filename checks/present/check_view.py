"""How one check reads in every human format and in the window's cards: its one line, the
findings told in full, the others in brief, and what was measured — worded and redacted once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from checks.core.models import CheckResult, Finding, Status
from checks.core.redact import redact, redact_data
from checks.present import measured
from checks.present.catalogue import (
    current_os,
    normalise_language,
    render,
    ui,
)
from checks.present.document import (
    CheckData,
    Document,
    FindingData,
    check_data,
    check_name,
    error_line,
    seconds,
    worst,
)

_PROBLEMS = ("fail", "warn", "error")


@dataclass(frozen=True)
class CheckView:
    """One check, in one language.

    Attributes:
        id, name: the check's id and its name in the language.
        status: its traffic light (`pass` ... `skip`, `error`).
        summary: the line after its name: the worst finding's title, or why it did not run.
        duration: "0.12 s".
        error: what broke, for `error`; `error_line` is its naming line.
        told: the findings told in full: the problems, worst first; without a problem, the
            finding that sums the check up.
        others: the remaining findings, each as its status symbol and title.
        evidence: the raw observations behind the findings told.
        measured: what the check measured, as labelled lines.
    """

    id: str
    name: str
    status: str
    summary: str
    duration: str
    error: str | None
    error_line: str
    told: tuple[FindingData, ...]
    others: tuple[str, ...]
    evidence: tuple[str, ...]
    measured: tuple[measured.Line, ...]


def summary_line(check: CheckData, lang: str, *, blocker: str | None, cancelled: bool) -> str:
    """The one line after a check's name; `blocker` is the title of the finding it waited on."""
    if check["status"] == "skip":
        if "blocked_by" in check:
            return ui("check.blocked_by", lang=lang, finding=blocker or check["blocked_by"])
        return ui("check.cancelled", lang=lang) if cancelled else ""
    if check["status"] == "error":
        return ui("check.error", lang=lang)
    headline = worst(check["findings"])
    return headline["title"] if headline else ""


def view(check: CheckData, lang: str, *, blocker: str | None, cancelled: bool) -> CheckView:
    """The view of one check's part of a document (already worded and redacted)."""
    findings = check["findings"]
    problems = sorted(
        (f for f in findings if f["status"] in _PROBLEMS),
        key=lambda f: -Status(f["status"]).severity,
    )
    headline = worst(findings)
    told = tuple(problems) if problems else ((headline,) if headline is not None else ())
    error = check.get("error")
    return CheckView(
        id=check["id"],
        name=check_name(check["id"], lang),
        status=check["status"],
        summary=summary_line(check, lang, blocker=blocker, cancelled=cancelled),
        duration=seconds(check["duration_s"], lang),
        error=error,
        error_line=error_line(error) if error else "",
        told=told,
        others=tuple(
            f"{ui('status_symbol.' + f['status'], lang=lang)} {f['title']}"
            for f in findings
            if all(f is not t for t in told)
        ),
        evidence=tuple(e for f in told for e in f["evidence"]),
        measured=measured.lines(check["id"], check["facts"], lang),
    )


def of_document(doc: Document, check: CheckData) -> CheckView:
    """The view of a check of a finished report."""
    blocked_by = check.get("blocked_by")
    blocker = doc.finding(blocked_by) if blocked_by else None
    return view(
        check,
        doc.lang,
        blocker=blocker["title"] if blocker else None,
        cancelled=doc.data["cancelled"],
    )


def live(result: CheckResult, lang: str, *, blocker: str | None = None) -> CheckView:
    """The view of one result while a run goes on (the window's cards), worded and redacted
    exactly as the finished report words it for the window."""
    lang = normalise_language(lang)
    data = check_data(result, lang, current_os(), "window")
    check = cast(CheckData, redact_data(data))
    return view(check, lang, blocker=blocker, cancelled=result.blocked_by is None)


def title(finding: Finding, lang: str) -> str:
    """One finding's title, worded and redacted as the window's reports word it."""
    return redact(render(finding, lang=lang, surface="window").title)
