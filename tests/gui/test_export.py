"""Export and "Copy summary" use the CLI's renderers, parse back, and leak no secrets."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from checks.core.facts.proxy import ProxyFacts, ProxySource
from checks.core.models import CheckResult, Status
from checks.present import report as renderers
from gui.main_window import MainWindow
from tests.gui import samples
from tests.gui.helpers import GuiLab, WindowFactory, run_to_end

pytestmark = pytest.mark.lab


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_a_real_run_exports_as_html_markdown_and_json(
    qtbot: QtBot, make_window: WindowFactory, gui_lab: GuiLab, tmp_path: Path
) -> None:
    site = gui_lab.sites["expired"]
    window = make_window(site.settings)
    run_to_end(qtbot, window, site.target)
    report = window.last_report
    assert report is not None

    message = window.export_report(tmp_path / "report.json")
    assert message.startswith("Report saved to")
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["schema"] == 1
    assert data["verdict"]["finding"] == "cert.expired"
    assert data["target"]["host"] == site.host
    assert {c["id"] for c in data["checks"]} >= {"dns", "tcp", "tls", "cert"}

    window.export_report(tmp_path / "report.md")
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown == renderers.to_markdown(report, lang="en")
    assert markdown.startswith(f"# Handshake Doctor report: {site.host}:{site.port}")

    window.export_report(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page == renderers.to_html(report, lang="en")
    parser = _Text()
    parser.feed(page)
    assert "script" not in parser.tags
    assert any("expired" in chunk for chunk in parser.text)


def test_copy_summary_is_the_cli_text_report(window: MainWindow) -> None:
    report = samples.clock_wrong()
    window.show_report(report)
    window.copy_action.trigger()
    copied = QGuiApplication.clipboard().text()
    assert copied == renderers.to_text(report, color=False, lang="en", surface="window")
    assert "3 years behind" in copied
    assert "\x1b[" not in copied


def test_exports_hide_proxy_passwords_and_the_home_folder(
    window: MainWindow, tmp_path: Path
) -> None:
    home = str(Path.home())
    report = samples.all_green()
    setting = ProxySource(
        source="environment",
        servers={"https": "http://alice:s3cret@proxy.corp:3128"},
        pac_url=f"{home}/corp/proxy.pac",
        bypass=(),
        variables=("https_proxy",),
    )
    facts = ProxyFacts(
        environment=setting, system=(), python_uses={}, pac=None, routes=(), tunnel=None
    )
    leaky = CheckResult("proxy", Status.PASS, (), facts)
    results = tuple(leaky if r.check_id == "proxy" else r for r in report.results)
    window.show_report(dataclasses.replace(report, results=results))
    for suffix in (".html", ".md", ".json"):
        path = tmp_path / f"report{suffix}"
        window.export_report(path)
        text = path.read_text(encoding="utf-8")
        assert "s3cret" not in text
        assert "***@proxy.corp:3128" in text.replace("\\*", "*")  # Markdown escapes *
        assert "~/corp/proxy.pac" in text
        assert f"{home}/corp" not in text
    window.copy_action.trigger()
    assert "s3cret" not in QGuiApplication.clipboard().text()
    card = window.cards.card("proxy")
    assert card is not None
    card.set_expanded(True)
    shown = card.body_text()
    assert "***@proxy.corp:3128" in shown  # the window shows facts redacted too
    assert "s3cret" not in shown


def test_export_errors_are_one_sentence(window: MainWindow, tmp_path: Path) -> None:
    assert window.export_report(tmp_path / "x.html") == (
        "There is no report yet: run a diagnosis first."
    )
    window.show_report(samples.all_green())
    message = window.export_report(tmp_path / "missing-folder" / "report.html")
    assert message.startswith("Could not save the report:")
    assert "\n" not in message
    assert "Traceback" not in message
    unknown = window.export_report(tmp_path / "report.txt")
    assert unknown.startswith("Report saved to")
    assert (tmp_path / "report.html").exists()
