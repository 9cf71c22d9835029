"""The item models behind the cards, the chain tree and the suite table pass Qt's model tester."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from checks.core.facts.certificate import CertificateFacts
from checks.core.facts.client_policy import ClientPolicyFacts
from checks.core.facts.protocols import ProtocolsFacts
from checks.core.models import CheckResult, Finding, Status
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
    assert isinstance(facts, CertificateFacts)
    model = ChainModel()
    qtmodeltester.check(model)
    model.set_nodes(build_tree(facts.certificates, facts.path, cert.findings))
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
    assert isinstance(protocols.facts, ProtocolsFacts)
    assert isinstance(policy.facts, ClientPolicyFacts)
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
    model.set_facts(None)
    assert model.rowCount() == 0
    assert model.columnCount() == 2  # no client column without the client_policy facts
    qtmodeltester.check(model)


def test_copy_links_go_only_beside_whole_runnable_commands() -> None:
    from gui.widgets import commands

    step = (
        "Set `MinProtocol = TLSv1.2` in `/etc/ssl/openssl.cnf`, pass it with `--ntp-server`, "
        "then run `sudo timedatectl set-ntp true`, `Enable-TlsCipherSuite -Name X` "
        "and `certlm.msc`."
    )
    assert commands(step) == [
        "sudo timedatectl set-ntp true",
        "Enable-TlsCipherSuite -Name X",
        "certlm.msc",
    ]


def test_the_catalogues_commands_and_non_commands_are_told_apart() -> None:
    from checks import registry
    from checks.core.models import Finding, Status
    from checks.present import catalogue
    from gui.widgets import commands

    offered: set[str] = set()
    for finding_id, variants in registry.emitted_findings().items():
        for variant in (None, *variants):
            params = {"variant": variant} if variant else {}
            for os_name in catalogue.OS_NAMES:
                finding = Finding(finding_id, Status.WARN, params)
                text = catalogue.render(finding, lang="en", os_name=os_name)
                for step in (*text.fix, *text.fix_admin):
                    offered.update(commands(step))
    assert {"sudo timedatectl set-ntp true", "w32tm /resync", "certlm.msc"} <= offered
    never = {"/etc/ssl/openssl.cnf", "MaxProtocol", "ssl_protocols TLSv1.2 TLSv1.3;", "NTP="}
    assert not offered & never
    assert not [c for c in offered if c.startswith(("-", "/", "HKLM"))]
