"""The Programs tab: a row per program, its result in words and shape, in either language."""

from __future__ import annotations

from PySide6.QtCore import Qt

from checks.core.facts.programs import ProgramRecord, ProgramsFacts
from checks.core.models import CheckResult, Finding, Status
from gui.main_window import MainWindow
from tests.gui import samples

CURL = ProgramRecord(
    name="curl",
    label="curl 7.88.1",
    version="7.88.1",
    path="/usr/bin/curl",
    tls_library="OpenSSL 3.0.19",
    trust_store="os",
    trust_store_path=None,
    result="refuses",
    reason="dh",
    detail="curl: (35) OpenSSL/3.0.19: error:0A00018A:SSL routines::dh key too small",
    how="ran",
)
NODE = ProgramRecord(
    name="node",
    label="Node.js 20.20.2",
    version="20.20.2",
    path="/usr/bin/node",
    tls_library="OpenSSL 3.0.19",
    trust_store="node_bundled",
    trust_store_path=None,
    result="connects",
    reason=None,
    detail="connected with TLSv1.2",
    how="ran",
)


def _programs_result() -> CheckResult:
    refusal = Finding(
        "programs.some_refuse",
        Status.FAIL,
        {
            "host": samples.HOST,
            "refusing": ["curl 7.88.1"],
            "connecting": ["Node.js 20.20.2"],
            "unknown": [],
            "reasons": ["dh"],
            "why": [f"curl 7.88.1: {CURL.detail}"],
        },
    )
    facts = ProgramsFacts(programs=(CURL, NODE))
    return CheckResult("programs", Status.FAIL, (refusal,), facts, duration_s=1.1)


def test_the_programs_tab_lists_each_program_with_its_result_in_words(window: MainWindow) -> None:
    results = [*samples.local_results("en"), _programs_result()]
    window.show_report(samples._report(results))
    window.tabs.setCurrentIndex(3)
    view = window.programs_view()
    model = view.model
    assert model.rowCount() == 2
    cells = [[model.index(r, c).data() for c in range(model.columnCount())] for r in range(2)]
    assert cells[0][:4] == ["curl 7.88.1", "OpenSSL 3.0.19", "the operating system's", "refuses"]
    assert "dh key too small" in cells[0][4]
    assert cells[1][2:4] == ["Node's own list", "connects"]
    # Never colour alone: the result has a word and a shape.
    assert model.index(0, 3).data(Qt.ItemDataRole.DecorationRole) is not None
    assert view.card is not None
    window.set_language("zh_CN")
    assert model.index(0, 3).data() == "拒绝连接"
    assert window.tabs.tabText(3) == "程序"


def test_an_empty_programs_tab_says_what_will_appear(window: MainWindow) -> None:
    window.tabs.setCurrentIndex(3)
    view = window.programs_view()
    assert view.model.rowCount() == 0
    assert not view.empty_label.isHidden()
    assert "appear here after a diagnosis" in view.empty_label.text()
