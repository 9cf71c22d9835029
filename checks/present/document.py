"""Renders a finished diagnosis as terminal text, JSON (schema 1), Markdown or standalone HTML."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from checks.core.facts import facts_of
from checks.core.facts.dns import DnsFacts
from checks.core.models import CheckResult, Finding, Report, Status
from checks.core.redact import plain, redact, redact_data
from checks.core.schemes import protocol_name
from checks.present.catalogue import (
    OSName,
    Surface,
    current_os,
    normalise_language,
    render,
    ui,
    ui_texts,
)
from checks.present.words import schema1_params

SCHEMA_VERSION = 1


TOOL_NAME = "handshake-doctor"


class FindingData(TypedDict):
    id: str
    status: str
    params: dict[str, Any]
    title: str
    explanation: str
    fix: list[str]
    fix_admin: list[str]
    evidence: list[str]


class CheckData(TypedDict):
    id: str
    status: str
    duration_s: float
    blocked_by: NotRequired[str]
    error: NotRequired[str]
    findings: list[FindingData]
    facts: dict[str, Any]


class TargetData(TypedDict):
    input: str
    host: str
    port: int
    sni: str | None
    protocol: str
    starttls: str | None
    addresses: list[str]


class VerdictData(TypedDict):
    status: str
    finding: str | None
    summary: str
    confidence: str
    evidence: list[str]
    runner_up: str | None
    effect: str | None
    connects: bool | None
    left: list[str]
    programs: NotRequired[dict[str, list[str]] | None]


class ReportData(TypedDict):
    schema: int
    tool: dict[str, str]
    target: TargetData | None
    started_at: str
    duration_s: float
    verdict: VerdictData
    checks: list[CheckData]
    cancelled: bool
    language: str
    os: str
    file: NotRequired[dict[str, object]]


@dataclass(frozen=True)
class Document:
    """The redacted report data plus what the human formats show beyond schema 1."""

    data: ReportData
    lead: FindingData | None
    runner_up: FindingData | None
    checked: tuple[str, ...]
    # (title, effect) of the problems the verdict leaves for below, most important first
    left: tuple[tuple[str, str], ...] = ()
    surface: Surface = "cli"

    @property
    def lang(self) -> str:
        return self.data["language"]

    def finding(self, finding_id: str) -> FindingData | None:
        return next(
            (f for c in self.data["checks"] for f in c["findings"] if f["id"] == finding_id), None
        )


def iso_utc(moment: datetime) -> str:
    # A naive timestamp can only have come from utcnow(); local time would be a bug upstream.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def finding_data(
    finding: Finding, lang: str, os_name: OSName, surface: Surface
) -> dict[str, object]:
    text = render(finding, lang=lang, os_name=os_name, surface=surface)
    return {
        "id": finding.id,
        "status": finding.status.value,
        "params": plain(schema1_params(finding.id, finding.params, lang)),
        "title": text.title,
        "explanation": text.explanation,
        "fix": list(text.fix),
        "fix_admin": list(text.fix_admin),
        "evidence": list(finding.evidence),
    }


def check_data(
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
    data["findings"] = [finding_data(f, lang, os_name, surface) for f in result.findings]
    data["facts"] = plain(result.facts)
    return data


def addresses(results: tuple[CheckResult, ...]) -> list[str]:
    dns = facts_of(results, DnsFacts)
    return list(dns.addresses) if dns is not None else []


# The programs check's findings about a target, and whether each names the cause itself.
_PROGRAM_OUTCOMES = ("programs.some_refuse", "programs.none_connect", "programs.all_connect")


def programs_outcome(results: Sequence[CheckResult]) -> dict[str, list[str]] | None:
    """Which programs on this computer refuse the target and which connect, when they were
    tried: the verdict names them beside its cause."""
    for result in results:
        for finding in result.findings:
            if finding.id in _PROGRAM_OUTCOMES:
                refusing = finding.params.get("refusing")
                connecting = finding.params.get("connecting")
                return {
                    "refusing": [str(n) for n in refusing] if isinstance(refusing, list) else [],
                    "connecting": (
                        [str(n) for n in connecting] if isinstance(connecting, list) else []
                    ),
                }
    return None


def build(report: Report, lang: str, os_name: OSName | None, surface: Surface = "cli") -> Document:
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
            "protocol": report.target.protocol,
            "starttls": report.target.starttls,
            "addresses": addresses(report.results),
        }
    lead = finding_data(verdict.finding, lang, os_name, surface) if verdict.finding else None
    runner_up = (
        finding_data(verdict.runner_up, lang, os_name, surface) if verdict.runner_up else None
    )
    if lead is not None:
        summary = lead["title"]
    elif verdict.connects and report.target is not None:
        shown = describe_target(
            report.target.display, report.target.protocol, report.target.starttls, lang
        )
        summary = ui("verdict.connects", lang=lang, host=shown)
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
        "started_at": iso_utc(report.started_at),
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
            "programs": programs_outcome(report.results),
        },
        "checks": [check_data(r, lang, os_name, surface) for r in report.results],
        "cancelled": report.cancelled,
        "language": lang,
        "os": os_name,
    }
    if report.file is not None:
        data["file"] = {
            "path": report.file.display,
            "format": report.file.format,
            "certificates": report.file.certificates,
            "name": report.file.name,
        }
    return Document(
        data=cast(ReportData, redact_data(data)),
        lead=cast(FindingData | None, redact_data(lead)),
        runner_up=cast(FindingData | None, redact_data(runner_up)),
        checked=tuple(check_name(c, lang) for c in verdict.checked),
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
    return cast(dict[str, Any], build(report, lang, os_name, surface).data)


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


def check_name(check_id: str, lang: str) -> str:
    key = f"check_name.{check_id}"
    return ui_texts(lang).get(key) or ui_texts("en").get(key) or check_id


def status_tag(status: str, lang: str) -> str:
    return f"{ui(f'status_symbol.{status}', lang=lang)} {ui(f'status.{status}', lang=lang)}"


def seconds(value: float, lang: str) -> str:
    return ui("report.seconds", lang=lang, seconds=f"{value:.2f}")


def error_line(error: str) -> str:
    """The line of an error that names it: the message, or a traceback's final line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]


def worst(findings: list[FindingData]) -> FindingData | None:
    return max(findings, key=lambda f: Status(f["status"]).severity, default=None)


def target_label(doc: Document) -> str:
    target = doc.data["target"]
    file = doc.data.get("file")
    if file is not None:
        return ui("report.file_label", lang=doc.lang, **file)
    if target is None:
        return ui("report.local_only", lang=doc.lang)
    host = f"[{target['host']}]" if ":" in target["host"] else target["host"]
    return describe_target(
        f"{host}:{target['port']}", target["protocol"], target["starttls"], doc.lang
    )


def describe_target(display: str, protocol: str, starttls: str | None, lang: str) -> str:
    """`host:port`, with the protocol when it is not HTTPS: how the report and the window
    name what was checked."""
    name = protocol_name(protocol)
    if starttls is not None:
        return ui("report.target_starttls", lang=lang, target=display, protocol=name)
    if protocol != "https":
        return ui("report.target_over_tls", lang=lang, target=display, protocol=name)
    return display


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


def view_of(doc: Document) -> VerdictView:
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
    programs = verdict.get("programs")
    cause = verdict["finding"] or ""
    if programs and programs["refusing"] and not cause.startswith("programs."):
        # Which programs the cause stops, and which it does not, in the user's own terms.
        refusing = ", ".join(programs["refusing"])
        if programs["connecting"]:
            connecting = ", ".join(programs["connecting"])
            details.append(
                ui("verdict.programs", lang=lang, refusing=refusing, connecting=connecting)
            )
        else:
            details.append(ui("verdict.programs_none", lang=lang, refusing=refusing))
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
    return view_of(build(report, lang, os_name, surface))


# Control characters from a server's banner or a certificate must not drive the terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return CONTROL.sub("\ufffd", text)
