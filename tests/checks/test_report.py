"""Tests of the report renderers: JSON schema 1, terminal text, Markdown, HTML and `write`."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import pytest

from checks.core.facts import Facts
from checks.core.facts.dns import DnsFacts
from checks.core.models import CheckResult, Finding, Report, Status
from checks.core.redact import redact
from checks.core.target import Target
from checks.diagnosis import verdict
from checks.present import report as rep
from checks.present import text as text_format
from checks.present.catalogue import render, ui

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))
HOME = "/home/hdtester"
SECRET = "Sup3rSecret"
PROXY = f"http://alice:{SECRET}@proxy:3128"
STARTED = datetime(2025, 3, 1, 9, 30, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", HOME)
    monkeypatch.setenv("USERPROFILE", HOME)


@dataclass(frozen=True, kw_only=True)
class OddFacts(Facts):
    """Facts of every type a check may hold, and values a report must redact and escape."""

    check_id = "tcp"

    proxy: str
    config: str
    banner: str
    when: datetime
    raw: bytes
    file: Path
    nested: Mapping[str, object]
    other: Status


@dataclass(frozen=True, kw_only=True)
class FilesFacts(Facts):
    check_id = "trust_store"

    files: Mapping[str, str]


def _results() -> tuple[CheckResult, ...]:
    dns = CheckResult(
        "dns",
        Status.PASS,
        (Finding("dns.resolved", Status.PASS, {"host": "example.com"}),),
        DnsFacts(host="example.com", addresses=("192.0.2.10", "2001:db8::1")),
        0.0123,
    )
    refused = Finding(
        "tcp.refused",
        Status.FAIL,
        {"proxy": PROXY, "markup": "<script>alert(1)</script>", "ports": (443, 8443)},
        (
            f"connect via {PROXY}: refused",
            f"config read from {HOME}/.config/hd.toml",
            "<script>alert(3)</script>",
        ),
    )
    tcp = CheckResult(
        "tcp",
        Status.FAIL,
        (refused,),
        OddFacts(
            proxy=PROXY,
            config=f"{HOME}/.config/hd.toml",
            banner="<script>alert(2)</script>",
            when=datetime(2025, 3, 1, 9, 30, 1, tzinfo=UTC),
            raw=b"\x01\xff",
            file=Path("/etc/ssl/cert.pem"),
            nested=MappingProxyType({"pair": (1, 2), "set": frozenset({3})}),
            other=Status.WARN,
        ),
        1.5,
    )
    tls = CheckResult("tls", Status.SKIP, blocked_by="tcp.refused")
    broken = CheckResult(
        "clock",
        Status.ERROR,
        error=f"RuntimeError: proxy {PROXY} broke\nTraceback (most recent call last):\n  File x",
        duration_s=0.2,
    )
    return (dns, tcp, tls, broken)


def _report(
    results: tuple[CheckResult, ...] | None = None,
    *,
    target: Target | None = None,
    cancelled: bool = False,
) -> Report:
    results = _results() if results is None else results
    target = target or Target("https://example.com/", "example.com", 443, "example.com", False)
    return Report("1.2.3", target, STARTED, 2.345, verdict(results), results, cancelled)


def _finding(results: tuple[CheckResult, ...], finding_id: str) -> Finding:
    return next(f for r in results for f in r.findings if f.id == finding_id)


def _flat(text: str) -> str:
    """`text` with all runs of whitespace as one space, so wrapping does not matter."""
    return " ".join(text.split())


def _validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


def _text(report: Report, **kw: Any) -> str:
    return rep.to_text(report, color=False, verbose=True, **kw)


def _color_text(report: Report, **kw: Any) -> str:
    return rep.to_text(report, color=True, verbose=True, **kw)


def _short_text(report: Report, **kw: Any) -> str:
    return rep.to_text(report, color=False, **kw)


FORMATS: dict[str, Callable[..., str]] = {
    "text": _text,
    "short_text": _short_text,
    "color": _color_text,
    "markdown": rep.to_markdown,
    "html": rep.to_html,
    "json": rep.to_json,
}


# JSON ---------------------------------------------------------------------------------------------


def test_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_json_validates_against_schema(lang: str, os_name: Any) -> None:
    data = rep.to_dict(_report(), lang=lang, os_name=os_name)
    _validate(data)
    assert data["language"] == lang
    assert data["os"] == os_name


def test_json_round_trips() -> None:
    report = _report()
    text = rep.to_json(report)
    assert text.endswith("}\n")
    assert json.loads(text) == rep.to_dict(report)
    assert '  "schema": 1' in text


def test_json_keeps_non_ascii_readable() -> None:
    target = Target(
        "https://例子.测试/", "xn--fsqu00a.xn--0zwm56d", 443, "xn--fsqu00a.xn--0zwm56d", False
    )
    text = rep.to_json(_report(target=target), lang="zh_CN")
    assert "\\u" not in text
    assert "https://例子.测试/" in text
    # Enumerations stay English whatever the language of the texts.
    assert ui("confidence.certain", lang="zh_CN") not in text
    assert json.loads(text)["verdict"]["confidence"] == "certain"


def test_json_statuses_and_ids() -> None:
    data = rep.to_dict(_report())
    assert data["schema"] == 1
    assert data["tool"] == {"name": "handshake-doctor", "version": "1.2.3"}
    assert data["started_at"] == "2025-03-01T09:30:00Z"
    assert data["duration_s"] == 2.345
    assert data["cancelled"] is False
    checks = data["checks"]
    assert [c["id"] for c in checks] == ["dns", "tcp", "tls", "clock"]
    assert [c["status"] for c in checks] == ["pass", "fail", "skip", "error"]
    assert [f["id"] for f in checks[1]["findings"]] == ["tcp.refused"]
    assert checks[1]["findings"][0]["status"] == "fail"
    assert checks[2]["blocked_by"] == "tcp.refused"
    assert checks[3]["error"].startswith("RuntimeError: proxy http://***@proxy:3128 broke\n")
    for check in checks:
        assert ("blocked_by" in check) == (check["status"] == "skip")
        assert ("error" in check) == (check["status"] == "error")
    verdict_data = data["verdict"]
    assert verdict_data["status"] == "fail"
    assert verdict_data["finding"] == "tcp.refused"
    assert verdict_data["evidence"] == ["tcp.refused"]
    assert verdict_data["summary"] == redact(render(_finding(_results(), "tcp.refused")).title)


def test_json_finding_texts_come_from_the_catalogue() -> None:
    finding = _finding(_results(), "tcp.refused")
    text = render(finding, lang="zh_CN", os_name="windows")
    data = rep.to_dict(_report(), lang="zh_CN", os_name="windows")
    out = data["checks"][1]["findings"][0]
    assert out["title"] == text.title
    assert out["fix"] == list(text.fix)
    assert out["fix_admin"] == list(text.fix_admin)


def test_json_target_and_addresses() -> None:
    data = rep.to_dict(_report())
    assert data["target"] == {
        "input": "https://example.com/",
        "host": "example.com",
        "port": 443,
        "sni": "example.com",
        "protocol": "https",
        "starttls": None,
        "addresses": ["192.0.2.10", "2001:db8::1"],
    }


def test_json_without_dns_or_target() -> None:
    results = (CheckResult("clock", Status.PASS, (Finding("clock.ok", Status.PASS),)),)
    ip = Target("192.0.2.1", "192.0.2.1", 443, None, True)
    data = rep.to_dict(_report(results, target=ip))
    _validate(data)
    assert data["target"]["addresses"] == []
    assert data["target"]["sni"] is None
    local = Report("1.2.3", None, STARTED, 0.1, verdict(results), results)
    data = rep.to_dict(local)
    _validate(data)
    assert data["target"] is None


def test_json_params_and_facts_are_plain_types() -> None:
    data = rep.to_dict(_report())
    params = data["checks"][1]["findings"][0]["params"]
    assert params["ports"] == [443, 8443]
    facts = data["checks"][1]["facts"]
    assert facts["when"] == "2025-03-01T09:30:01+00:00"
    assert facts["raw"] == "01ff"
    assert facts["file"] == "/etc/ssl/cert.pem"
    assert facts["nested"] == {"pair": [1, 2], "set": [3]}
    assert facts["other"] == "warn"
    assert data["checks"][0]["facts"] == {
        "host": "example.com",
        "addresses": ["192.0.2.10", "2001:db8::1"],
    }
    # Exactly the types json produces, so a round trip changes nothing.
    assert json.loads(json.dumps(data)) == data


def test_json_no_problem_verdict() -> None:
    results = (CheckResult("dns", Status.PASS, (Finding("dns.resolved", Status.PASS),)),)
    data = rep.to_dict(_report(results), lang="zh_CN")
    _validate(data)
    assert data["verdict"]["status"] == "pass"
    assert data["verdict"]["finding"] is None
    assert data["verdict"]["runner_up"] is None
    assert data["verdict"]["summary"] == ui("verdict.no_problem", lang="zh_CN")


def test_json_naive_start_is_taken_as_utc() -> None:
    results = _results()
    naive = Report("1", None, datetime(2025, 1, 2, 3, 4, 5, 678), 0.0, verdict(results), results)
    assert rep.to_dict(naive)["started_at"] == "2025-01-02T03:04:05Z"


def test_json_lang_is_normalised() -> None:
    assert rep.to_dict(_report(), lang="zh-CN")["language"] == "zh_CN"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), 2),
        (("checks", 0, "status"), "passed"),
        (("checks", 0, "findings", 0, "id"), "NotDotted"),
        (("verdict", "status"), "skip"),
        (("verdict", "confidence"), "sure"),
        (("target", "port"), 0),
        (("started_at",), "2025-03-01 09:30:00"),
    ],
)
def test_schema_catches_wrong_values(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(rep.to_dict(_report()))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        _validate(data)


@pytest.mark.parametrize(
    "path",
    [(), ("checks", 0), ("checks", 0, "findings", 0), ("verdict",), ("target",), ("tool",)],
)
def test_schema_rejects_unknown_and_missing_keys(path: tuple[Any, ...]) -> None:
    data = rep.to_dict(_report())
    extra = copy.deepcopy(data)
    node = extra
    for key in path:
        node = node[key]
    node["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        _validate(extra)
    missing = copy.deepcopy(data)
    node = missing
    for key in path:
        node = node[key]
    del node[next(iter(node))]
    with pytest.raises(jsonschema.ValidationError):
        _validate(missing)


def test_schema_requires_error_text_and_skip_for_blocked_by() -> None:
    data = copy.deepcopy(rep.to_dict(_report()))
    del data["checks"][3]["error"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(data)
    data = copy.deepcopy(rep.to_dict(_report()))
    data["checks"][1]["blocked_by"] = "dns.failed"
    with pytest.raises(jsonschema.ValidationError):
        _validate(data)


def test_documented_example_validates() -> None:
    doc = (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)\n```", doc, re.DOTALL)
    assert example is not None
    _validate(json.loads(example.group(1)))
    assert "## Check facts" in doc


# Redaction in every format ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_no_secret_or_home_in_any_format(fmt: str, lang: str) -> None:
    out = FORMATS[fmt](_report(), lang=lang)
    assert SECRET not in out
    assert "alice" not in out
    assert HOME not in out
    if fmt != "short_text":  # one line per check: no measured values to show
        assert "~/.config/hd.toml" in out
        assert "***@proxy:3128" in out.replace("\\*", "*")


def test_redaction_covers_target_input_and_windows_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERPROFILE", "C:\\Users\\Hd Tester")
    results = (
        CheckResult(
            "truststore",
            Status.WARN,
            (Finding("truststore.extra", Status.WARN, evidence=("C:\\Users\\Hd Tester\\ca.pem",)),),
            FilesFacts(files={"C:\\Users\\Hd Tester\\key": "c:/users/hd tester/x"}),
        ),
    )
    target = Target(f"{PROXY}/x", "proxy", 3128, "proxy", False)
    for fmt in FORMATS.values():
        out = fmt(_report(results, target=target))
        assert SECRET not in out
        assert "Hd Tester" not in out
        assert "hd tester" not in out


# Terminal text ------------------------------------------------------------------------------------


def test_text_colour_only_when_asked() -> None:
    plain = rep.to_text(_report(), color=False, verbose=True)
    colored = rep.to_text(_report(), color=True, verbose=True)
    assert "\x1b" not in plain
    assert "\x1b[31m" in colored  # red for the failure
    assert "\x1b[32m" in colored  # green for the pass
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_text_control_characters_from_data_are_neutralised() -> None:
    results = (
        CheckResult(
            "tcp",
            Status.FAIL,
            (Finding("tcp.refused", Status.FAIL, evidence=("evil \x1b[2J banner",)),),
            FilesFacts(files={"banner": "\x1b]0;title\x07"}),
        ),
    )
    for fmt in ("text", "markdown", "html"):
        assert "\x1b" not in FORMATS[fmt](_report(results))


def test_text_status_words_and_symbols_always_present() -> None:
    out = _text(_report())
    for status in ("pass", "fail", "skip", "error"):
        tag = f"[{ui(f'status_symbol.{status}')} {ui(f'status.{status}')}]"
        assert tag in out
    lines = out.splitlines()
    dns_line = next(line for line in lines if ui("check_name.dns") in line)
    assert dns_line.startswith("[✔ PASS]")
    dns_title = render(_finding(_results(), "dns.resolved")).title
    assert dns_line.endswith(f"{ui('check_name.dns')}  {dns_title}")


def test_text_verdict_block_comes_first() -> None:
    out = _text(_report())
    text = render(_finding(_results(), "tcp.refused"))
    cause = ui("verdict.cause", confidence=ui("confidence.certain"), title=redact(text.title))
    first_line = out.splitlines()[out.splitlines().index("") + 1]
    assert first_line.startswith("[✖ FAIL]")
    checks_at = out.index(f"\n{ui('report.checks')}\n")
    assert _flat(cause) in _flat(out[:checks_at])
    if text.fix:
        steps = out[out.index(ui("report.what_first")) : checks_at]
        for number, step in enumerate(text.fix, 1):
            assert _flat(f"{number}. {redact(step)}") in _flat(steps)


def test_text_skip_and_error_checks() -> None:
    out = _text(_report())
    blocker = render(_finding(_results(), "tcp.refused")).title
    skip_line = next(line for line in out.splitlines() if line.startswith("[○ SKIP]"))
    assert ui("check.blocked_by", finding=blocker).split()[0] in skip_line
    assert _flat(ui("check.blocked_by", finding=blocker)) in _flat(out)
    assert _flat(ui("check.error")) in _flat(out)
    assert "RuntimeError: proxy http://***@proxy:3128 broke" in out
    assert "Traceback" not in out


def test_text_error_line_of_a_bare_traceback() -> None:
    error = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'addr'\n"
    results = (CheckResult("dns", Status.ERROR, error=error),)
    out = _text(_report(results))
    assert "KeyError: 'addr'" in out
    assert "Traceback" not in out


def test_text_check_name_falls_back_to_id() -> None:
    results = (CheckResult("some_new_check", Status.PASS),)
    assert "[✔ PASS]  some_new_check" in _text(_report(results))


def test_text_no_problem() -> None:
    results = (CheckResult("dns", Status.PASS, (Finding("dns.resolved", Status.PASS),)),)
    out = _text(_report(results))
    assert ui("verdict.no_problem") in out
    assert ui("verdict.no_problem_detail", checked=ui("check_name.dns")) in out
    assert ui("report.what_first") not in out


@pytest.mark.parametrize("status", [Status.PASS, Status.FAIL])
def test_text_of_a_cancelled_run_says_cancelled_and_names_no_cause(status: Status) -> None:
    finding = Finding("dns.resolved" if status is Status.PASS else "dns.failed", status)
    out = _text(_report((CheckResult("dns", status, (finding,)),), cancelled=True))
    headline = next(line for line in out.splitlines() if line.startswith("["))
    assert headline.startswith(f"[○ SKIP]  {ui('verdict.cancelled')}")
    assert ui("verdict.cancelled_detail") in _flat(out)
    assert ui("verdict.no_problem") not in out
    assert "Most likely cause" not in out
    assert ui("report.what_first") not in out


def test_text_fits_100_columns() -> None:
    long_words = " ".join(["measurement"] * 40)
    chinese = "证书链不完整，" * 30
    results = (
        CheckResult(
            "tcp",
            Status.FAIL,
            (Finding("tcp.refused", Status.FAIL, evidence=(long_words, chinese)),),
            {"note": long_words},
        ),
    )
    for lang in ("en", "zh_CN"):
        for line in _text(_report(results), lang=lang).splitlines():
            assert text_format._width(line) <= 100, line


def test_text_runner_up() -> None:
    results = (
        CheckResult("tcp", Status.WARN, (Finding("tcp.slow", Status.WARN),)),
        CheckResult("cert", Status.WARN, (Finding("cert.expiring", Status.WARN),)),
    )
    report = _report(results)
    assert report.verdict.runner_up is not None
    runner = render(report.verdict.runner_up).title
    assert _flat(ui("verdict.runner_up", title=runner)) in _flat(_text(report))
    assert rep.to_dict(report)["verdict"]["runner_up"] == report.verdict.runner_up.id


# Markdown and HTML --------------------------------------------------------------------------------


def test_markdown_content() -> None:
    out = rep.to_markdown(_report())
    assert out.startswith("# ")
    assert f"## {ui('report.checks')}" in out
    assert "| ✖ FAIL |" in out
    # Measured values are escaped like every other text, never raw HTML, never JSON.
    assert "<script>" not in out
    assert "\\<script\\>alert(3)\\</script\\>" in out
    assert "\\<script\\>alert(2)\\</script\\>" in out
    assert "```json" not in out
    assert "Generated by handshake-doctor 1.2.3" in out


def test_html_is_self_contained_and_escaped() -> None:
    out = rep.to_html(_report())
    assert out.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in out
    assert re.search(r"<title>[^<]*example\.com:443[^<]*</title>", out)
    assert "@media print" in out
    assert "<script" not in out
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in out
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in out
    assert not re.search(r"(src|href)\s*=|url\(|@import|<link|<iframe|<img", out, re.IGNORECASE)
    # The only absolute URLs are the (redacted) ones the user's data contains.
    for match in re.finditer(r"https?://\S*", out):
        assert match.group(0).startswith(("http://***@proxy:3128", "https://example.com/"))


def test_html_status_and_details() -> None:
    out = rep.to_html(_report())
    for status in ("pass", "fail", "skip", "error"):
        assert f'class="badge s-{status}">{ui(f"status_symbol.{status}")} ' in out
    assert '<details class="check s-pass">' in out
    assert '<details class="check s-fail" open>' in out
    assert '<details class="check s-error" open>' in out
    assert '<table class="facts">' in out


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_chinese_headings(fmt: str) -> None:
    out = FORMATS[fmt](_report(), lang="zh_CN")
    keys = ["report.checks", "report.facts", "report.evidence", "status.fail", "check_name.dns"]
    if render(_finding(_results(), "tcp.refused"), lang="zh_CN").fix:
        keys.append("report.what_first")
    for key in keys:
        heading = ui(key, lang="zh_CN")
        assert re.search(r"[\u4e00-\u9fff]", heading), key
        assert heading in out, key
    for key in keys:
        assert ui(key) not in out, key
    if fmt == "html":
        assert '<html lang="zh-CN">' in out


def test_report_headings_exist_in_both_languages() -> None:
    from checks.present.catalogue import ui_texts

    en = {k for k in ui_texts("en") if k.startswith("report.")}
    zh = {k for k in ui_texts("zh_CN") if k.startswith("report.")}
    assert en == zh
    assert {"report.what_first", "report.checks", "report.facts", "report.fix_admin"} <= en
    assert {"report.generated_by", "report.target"} <= en


# write --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("r.html", "<!DOCTYPE html>"),
        ("r.HTM", "<!DOCTYPE html>"),
        ("r.md", "# "),
        ("r.Markdown", "# "),
        ("r.JSON", "{"),
    ],
)
def test_write_picks_format_by_extension(tmp_path: Path, name: str, start: str) -> None:
    path = tmp_path / name
    rep.write(_report(), path, lang="zh_CN")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(start)
    assert SECRET not in text
    if start == "{":
        assert json.loads(text)["language"] == "zh_CN"


@pytest.mark.parametrize("name", ["r.pdf", "r", "r.txt", "r.html.bak"])
def test_write_rejects_other_extensions(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"\.html.*\.md.*\.json"):
        rep.write(_report(), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_grave_problem_that_is_not_the_cause_is_named_as_also_found() -> None:
    skew = Finding("clock.skew", Status.FAIL, {"variant": "years", "offset_s": 94608000.0})
    results = (
        CheckResult("clock", Status.FAIL, (skew,)),
        CheckResult("tcp", Status.FAIL, (Finding("tcp.refused", Status.FAIL),)),
        CheckResult("tls", Status.SKIP, blocked_by="tcp.refused"),
    )
    report = _report(results)
    clock_title = render(skew).title
    for out in (_short_text(report), rep.to_markdown(report), rep.to_html(report)):
        flat = _flat(html.unescape(out.replace("\\", "")))
        assert ui("verdict.also_found") in flat
        assert _flat(clock_title) in flat
    view = rep.verdict_view(report)
    assert view.headline == render(_finding(results, "tcp.refused")).title
    assert view.left == ((ui("verdict.also_found"), (clock_title,)),)


def test_a_site_that_connects_lists_what_is_left_and_what_was_not_checked() -> None:
    results = (
        CheckResult("tls", Status.PASS, (Finding("tls.ok", Status.PASS),)),
        CheckResult("cert", Status.WARN, (Finding("cert.expires_soon", Status.WARN),)),
        CheckResult("clock", Status.WARN, (Finding("clock.unverified", Status.WARN),)),
    )
    view = rep.verdict_view(_report(results))
    assert view.status == "pass"
    assert view.headline == "This computer connects to example.com:443 securely"
    assert [heading for heading, _ in view.left] == [
        ui("verdict.left_to_improve"),
        ui("verdict.not_checked"),
    ]
    assert view.steps == ()


def test_measured_numbers_read_as_plain_numbers_with_their_units() -> None:
    from checks.present import measured

    facts = {"offset_s": 94608000.004, "uncertainty_s": 0.0021, "elapsed_ms": 12.5, "count": 3}
    lines = {line.label: line.value for line in measured.lines("clock", facts, "en")}
    assert lines == {
        "Offset": "94,608,000 s",
        "Uncertainty": "0.0021 s",
        "Time taken": "12.5 ms",
        "count": "3",
    }


@pytest.mark.parametrize(
    ("lang", "human", "direction"), [("en", "3 years", "behind"), ("zh_CN", "3 年", "慢")]
)
def test_schema_1_params_keep_the_words_earlier_versions_stored(
    lang: str, human: str, direction: str
) -> None:
    offset = 3 * 365 * 86400 + 3600
    skew = Finding(
        "clock.skew",
        Status.FAIL,
        {"offset_s": offset, "uncertainty_s": 0.01, "agreed": 2, "variant": "years"},
    )
    clock = CheckResult("clock", Status.FAIL, (skew,))
    data = rep.to_dict(_report((clock,)), lang=lang)
    params = data["checks"][0]["findings"][0]["params"]
    # Worded when the report is written, in its language, where schema 1 always had them.
    assert list(params) == [
        "offset_s",
        "uncertainty_s",
        "human_offset",
        "direction",
        "agreed",
        "variant",
    ]
    assert params["human_offset"] == human
    assert params["direction"] == direction


def test_every_reference_clock_ntplib_names_reads_in_the_reports_language() -> None:
    import ntplib

    from checks.present import measured

    for name in set(ntplib.NTP.REF_ID_TABLE.values()):
        chinese = measured.value_text("ref_id", name, "zh_CN")
        assert chinese != name, name
        assert measured.value_text("ref_id", name, "en") == name
    assert measured.value_text("ref_id", "C0A80001", "zh_CN") == "C0A80001"
