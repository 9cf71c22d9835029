"""The item models behind the cards, the chain tree and the suite table pass Qt's model tester."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from checks.models import CheckResult, Finding, Status
from gui.chain_view import ChainModel, build_tree
from gui.models import ResultRole, ResultsModel
from gui.protocols_view import ProtocolsModel
from tests.gui import samples


def test_results_model(qtmodeltester: Any) -> None:
    model = ResultsModel()
    qtmodeltester.check(model)
    model.add(
        CheckResult(
            "dns", Status.PASS, (Finding("dns.not_needed", Status.PASS, {"address": "127.0.0.1"}),)
        )
    )
    model.add(CheckResult("tcp", Status.SKIP, blocked_by="dns.failed"))
    model.add(CheckResult("tls", Status.SKIP))
    qtmodeltester.check(model)
    assert model.data(model.index(1), ResultRole.TITLE) == "Not run: blocked by dns.failed"
    assert model.data(model.index(2), ResultRole.TITLE) == "Cancelled"
    assert model.data(model.index(0)).startswith("✔ PASS")
    assert not model.data(model.index(0), Qt.ItemDataRole.DecorationRole).isNull()
    model.add(CheckResult("dns", Status.FAIL, (Finding("dns.failed", Status.FAIL, {}),)))
    assert model.rowCount() == 3  # a rerun replaces its row
    assert model.data(model.index(0), ResultRole.STATUS) == "fail"
    model.set_language("zh_CN")
    assert model.data(model.index(0)).startswith("✖ 失败")
    qtmodeltester.check(model)


def test_chain_model(qtmodeltester: Any) -> None:
    report = samples.expired_certificate()
    cert = next(r for r in report.results if r.check_id == "cert")
    facts = cert.facts
    model = ChainModel()
    qtmodeltester.check(model)
    model.set_nodes(build_tree(facts["certificates"], facts["path"], cert.findings))  # type: ignore[arg-type]
    qtmodeltester.check(model)
    top = model.index(0, 0)
    assert model.rowCount(top) == 1
    middle = model.index(0, 0, top)
    leaf = model.index(0, 0, middle)
    assert model.data(leaf) == samples.HOST
    assert model.parent(leaf) == middle
    node = model.node(leaf)
    assert node is not None
    assert node.status == "fail"
    assert "expired" in model.data(leaf, Qt.ItemDataRole.AccessibleTextRole)
    model.set_language("zh_CN")
    assert model.headerData(0, Qt.Orientation.Horizontal) == "证书"
    qtmodeltester.check(model)


def test_protocols_model(qtmodeltester: Any) -> None:
    report = samples.all_green()
    protocols = next(r for r in report.results if r.check_id == "protocols")
    policy = next(r for r in report.results if r.check_id == "client_policy")
    model = ProtocolsModel()
    qtmodeltester.check(model)
    model.set_facts(protocols.facts, policy.facts)
    qtmodeltester.check(model)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Cipher suite", "Strength", "This computer", "TLSv1.3", "TLSv1.2"]
    assert model.data(model.index(0, 1)) == "insecure"  # the worst suites come first
    assert model.data(model.index(0, 0)) == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert model.data(model.index(0, 4)) == "✔"
    assert model.data(model.index(0, 3), Qt.ItemDataRole.AccessibleTextRole) == (
        "not offered with TLSv1.3"
    )
    model.set_facts({})
    assert model.rowCount() == 0
    qtmodeltester.check(model)
