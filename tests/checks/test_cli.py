"""The headless CLI as a user runs it: exit codes, JSON against its schema, one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_version_and_help_for_a_helpdesk_person() -> None:
    from checks.core.version import __version__

    assert _cli("--version").stdout.strip() == f"handshake-doctor {__version__}"
    helptext = _cli("check", "--help").stdout
    assert "examples:" in helptext
    assert "handshake-doctor check example.com" in helptext
    assert "exit codes:" in helptext


def test_json_for_a_closed_port_is_schema_1_and_exits_2() -> None:
    port = _closed_port()
    done = _cli("check", f"127.0.0.1:{port}", "--only", "target", "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["schema"] == 1
    assert report["target"]["port"] == port
    assert report["target"]["addresses"] == ["127.0.0.1"]
    assert report["verdict"]["finding"] == "tcp.refused"
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["dns"] == "pass"
    assert statuses["tcp"] == "fail"
    assert {s for cid, s in statuses.items() if cid not in ("dns", "tcp")} == {"skip"}
    tls = next(c for c in report["checks"] if c["id"] == "tls")
    assert tls["blocked_by"] == "tcp.refused"


def test_a_local_only_run_without_checks_still_prints_valid_json() -> None:
    done = _cli("check", "--only", "local", "--offline", "--json")
    assert done.returncode in (0, 1, 2), done.stderr
    jsonschema.validate(json.loads(done.stdout), SCHEMA)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "exa mple.com",
        "example.com:0",
        "example.com:65536",
        "example.com:https",
        "ssh://example.com",
        "a" * 64 + ".com",
    ],
)
def test_bad_targets_get_one_sentence_and_exit_3(bad: str) -> None:
    done = _cli("check", bad)
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "options",
    [
        ["--connect-timeout", "soon"],
        ["--connect-timeout", "0"],
        ["--resolve", "example.com:443"],
        ["--resolve", "example.com:443:not-an-ip"],
        ["--cacert", "/nonexistent/root.pem"],
        ["--lang", "fr"],
        ["--ntp-server", "time.example:99999"],
        ["--only", "everything"],
        ["--starttls", "gopher"],
        ["--expiry-warning", "-1"],
        ["--expiry-warning", "a month"],
        ["--expiry-warning", "400"],
    ],
)
def test_bad_options_exit_3_without_a_traceback(options: list[str]) -> None:
    done = _cli("check", "example.com", *options)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert "handshake-doctor:" in done.stderr


def test_a_mail_server_on_a_closed_port_names_its_protocol() -> None:
    port = _closed_port()
    done = _cli("check", f"127.0.0.1:{port}", "--starttls", "SMTP", "--only", "target", "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert (report["target"]["protocol"], report["target"]["starttls"]) == ("smtp", "smtp")
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["starttls"] == "skip"
    text = _cli("check", f"smtp://127.0.0.1:{port}", "--only", "target").stdout
    assert f"127.0.0.1:{port} (SMTP with STARTTLS)" in text


def test_only_target_without_a_target_is_a_usage_error() -> None:
    done = _cli("check", "--only", "target")
    assert done.returncode == 3
    assert "needs a TARGET" in done.stderr


def test_credentials_in_the_target_are_never_echoed(tmp_path: Path) -> None:
    port = _closed_port()
    out = tmp_path / "report.html"
    done = _cli(
        "check",
        f"https://bob:Sup3rSecret@127.0.0.1:{port}/",
        "--only",
        "target",
        "--output",
        str(out),
    )
    assert done.returncode == 2
    everything = done.stdout + done.stderr + out.read_text(encoding="utf-8")
    assert "Sup3rSecret" not in everything
    assert "bob" not in everything


@pytest.mark.parametrize("suffix", [".json", ".md", ".html"])
def test_output_writes_each_format(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"report{suffix}"
    done = _cli("check", f"127.0.0.1:{_closed_port()}", "--only", "target", "--output", str(out))
    assert done.returncode == 2
    text = out.read_text(encoding="utf-8")
    assert "tcp" in text.lower()
    if suffix == ".json":
        jsonschema.validate(json.loads(text), SCHEMA)


def test_an_unknown_report_extension_is_a_usage_error(tmp_path: Path) -> None:
    done = _cli(
        "check",
        f"127.0.0.1:{_closed_port()}",
        "--only",
        "target",
        "--output",
        str(tmp_path / "r.pdf"),
    )
    assert done.returncode == 3
    assert ".html" in done.stderr


def test_no_color_is_respected_and_status_words_remain() -> None:
    done = _cli("check", f"127.0.0.1:{_closed_port()}", "--only", "target", env={"NO_COLOR": "1"})
    assert "\x1b[" not in done.stdout
    assert "FAIL" in done.stdout


def test_chinese_output() -> None:
    done = _cli("check", f"127.0.0.1:{_closed_port()}", "--only", "target", "--lang", "zh_CN")
    assert "端口上没有服务在监听" in done.stdout


@pytest.mark.parametrize("output", ["text", "json"])
def test_redirected_output_is_utf8_where_python_would_write_the_ansi_code_page(
    output: str,
) -> None:
    """Windows' Python encodes a pipe in the ANSI code page; PYTHONIOENCODING=cp1252 makes
    Python on any system do the same. A Chinese report must neither crash nor come out in
    cp1252: a script reading the JSON, or a helpdesk reading a saved report, gets UTF-8."""
    args = ["check", f"127.0.0.1:{_closed_port()}", "--only", "target", "--lang", "zh_CN"]
    done = subprocess.run(
        [sys.executable, "-m", "checks", *args, *(["--json"] if output == "json" else [])],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "cp1252", "NO_COLOR": "1"},
    )
    assert done.returncode == 2, done.stderr.decode("utf-8", "replace")
    written = done.stdout.decode("utf-8")  # strict: cp1252 bytes would not decode
    if output == "json":
        report = json.loads(written)
        titles = [f["title"] for check in report["checks"] for f in check["findings"]]
        assert any("端口上没有服务在监听" in title for title in titles), titles
    else:
        assert "端口上没有服务在监听" in written


@pytest.mark.linux_only(
    "runs the launcher in a Linux network namespace (`unshare --net`, as root); and only on "
    "Linux does the launcher look for a display (Windows and macOS always have one)"
)
def test_launcher_without_a_display_runs_the_headless_check() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    # The headless check contacts the default NTP servers and canaries: keep it off the
    # network in a namespace that has only loopback (CI runs as root).
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "gui"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert "no display found" in done.stderr
    assert "Traceback" not in done.stderr
    # What it found is in the report; the command itself succeeded (`make run` must not fail).
    assert done.returncode == 0
    # A report a person reads: the verdict and one line per check, no raw JSON.
    assert done.stdout.count("\n") < 40
    assert "{" not in done.stdout


def test_the_command_answers_version_without_loading_the_cli() -> None:
    code = (
        "import sys\n"
        "from gui.launcher import main\n"
        "code = main(['--version'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('checks.'))\n"
        "sys.stderr.write(f'{code} {loaded}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == _cli("--version").stdout
    assert done.stderr == "0 ['checks.core', 'checks.core.version']"


def test_only_the_command_s_own_process_spares_the_garbage_collector() -> None:
    code = (
        "import gc, io, sys, contextlib\n"
        "from checks import cli\n"
        f"argv = ['check', '127.0.0.1:{_closed_port()}', '--only', 'target', '--json']\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    cli.main(argv)\n"
        "print(gc.isenabled(), gc.get_freeze_count() == 0)\n"
        "with contextlib.redirect_stdout(io.StringIO()) as own:\n"
        "    cli.main(argv, own_process=True)\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "import json\n"
        "a, b = json.loads(out.getvalue()), json.loads(own.getvalue())\n"
        "print(a['verdict'] == b['verdict'] and len(a['checks']) == len(b['checks']) > 2)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["True", "True", "True", "True", "True"]
