"""Certificate files open offline (menu or drag and drop); bad files get one clear sentence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from checks import inspect as cert_file
from checks.core.facts.certificate import CertificateFacts
from checks.core.models import Finding, Status
from checks.lib.certinfo import describe, display_name
from gui.chain_view import CertNode, attach_findings
from gui.main_window import MainWindow
from tests.gui.helpers import GuiLab
from tests.lab import pki


def _open(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.runner.task_done, timeout=5000):
        window.open_certificate_file(path)


def _chain_pem(gui_lab: GuiLab, name: str) -> bytes:
    return b"".join(issued.pem for issued in gui_lab.chains[name])


def inter_name(gui_lab: GuiLab) -> str:
    return display_name(gui_lab.chains["good"][1].cert.subject)


def test_a_pem_chain_file_shows_its_tree_and_findings(
    qtbot: QtBot, window: MainWindow, gui_lab: GuiLab, tmp_path: Path
) -> None:
    path = tmp_path / "expired-chain.pem"
    path.write_bytes(b"Bag Attributes: junk before\n" + _chain_pem(gui_lab, "expired"))
    _open(qtbot, window, path)
    view = window.chain_view()
    assert window.tabs.currentWidget() is window._chain_tab
    assert "2 certificates from the file" in view.source_label.text()
    assert view.file_card is not None
    assert view.file_card.status == "fail"
    assert "expired" in view.file_card.summary()
    view.select_certificate(0)
    assert "expired.lab.test" in view.details_text()
    assert "FAIL" in view.details_text()
    saved = tmp_path / "leaf.pem"
    assert view.save_pem(0, saved).startswith("Certificate saved to")
    assert saved.read_bytes() == gui_lab.chains["expired"][0].pem


def test_a_finding_about_an_intermediate_marks_that_certificate_in_the_tree(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    # Sent out of order: the root second, the expired intermediate third.
    root = pki.root("Tree Root")
    stale = pki.intermediate("Tree Stale CA", root, not_after=pki.NOW - 10 * pki.DAY)
    leaf = pki.leaf("tree.lab.test", stale)
    path = tmp_path / "stale-intermediate.pem"
    path.write_bytes(leaf.pem + root.pem + stale.pem)
    _open(qtbot, window, path)
    view = window.chain_view()
    nodes: dict[int, CertNode] = {}
    for index in view._all_indexes():
        node = view.model.node(index)
        assert node is not None
        if node.sent_index is not None:
            nodes[node.sent_index] = node
    expired = [f for f in nodes[2].findings if f.id == "cert.expired"]
    assert len(expired) == 1
    assert expired[0].params["index"] == 2
    assert nodes[2].subject == "Tree Stale CA"
    assert nodes[2].status == "fail"
    assert not any(f.id == "cert.expired" for i in (0, 1) for f in nodes[i].findings)
    # The tree shows the issuing path: root, then the intermediate, then the leaf.
    assert nodes[2].parent is nodes[1]
    assert nodes[0].parent is nodes[2]
    view.select_certificate(2)
    assert "Tree Stale CA" in view.details_text()
    assert "FAIL" in view.details_text()


def test_findings_attach_by_sent_index_even_between_namesakes() -> None:
    root = pki.root("Twin Root")
    first, second = pki.intermediate("Twin CA", root), pki.intermediate("Twin CA", root)
    records = [
        describe(first.cert, index=1, position="intermediate"),
        describe(second.cert, index=2, position="intermediate"),
    ]
    params = {"index": 2, "subject": "Twin CA", "position": "intermediate", "days": 3}
    expired = Finding("cert.expired", Status.FAIL, params)
    unsent = Finding("cert.weak_key", Status.FAIL, {"subject": "Twin CA", "position": "root"})
    assert attach_findings([expired, unsent], records) == {2: [expired]}


def test_der_and_pkcs7_files_are_read(
    qtbot: QtBot, window: MainWindow, gui_lab: GuiLab, tmp_path: Path
) -> None:
    leaf, inter = gui_lab.chains["good"]
    der = tmp_path / "leaf.cer"
    der.write_bytes(leaf.cert.public_bytes(serialization.Encoding.DER))
    _open(qtbot, window, der)
    view = window.chain_view()
    assert "1 certificate from" in view.source_label.text()
    bundle = tmp_path / "chain.p7b"
    bundle.write_bytes(
        pkcs7.serialize_certificates([leaf.cert, inter.cert], serialization.Encoding.DER)
    )
    _open(qtbot, window, bundle)
    assert "2 certificates" in view.source_label.text()
    assert view.file_card is not None


def test_the_target_field_names_the_host_to_check(
    qtbot: QtBot, window: MainWindow, gui_lab: GuiLab, tmp_path: Path
) -> None:
    path = tmp_path / "good.pem"
    path.write_bytes(_chain_pem(gui_lab, "good"))
    window.target_edit.setText("https://somewhere-else.example/login")
    _open(qtbot, window, path)
    card = window.chain_view().file_card
    assert card is not None
    assert card.result is not None
    assert any(f.id == "cert.hostname_mismatch" for f in card.result.findings)


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _huge(folder: Path) -> Path:
    path = folder / "huge.pem"
    with path.open("wb") as handle:
        handle.truncate(cert_file.MAX_BYTES + 1)  # sparse: no 10 MB really written
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (lambda folder: folder / "missing.pem", "That file does not exist"),
    "directory": (lambda folder: folder, "That is a folder"),
    "empty": (_write("empty.pem", b""), "The file is empty"),
    "blank": (_write("blank.pem", b"\n  \n"), "The file is empty"),
    "binary": (_write("noise.bin", bytes(range(256)) * 8), "No certificate was found"),
    "key": (
        _write("key.pem", b"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n"),
        "holds a private key but no certificate",
    ),
    "huge": (_huge, "only files up to 10 MB are read"),
    "broken-pem": (
        _write("bad.pem", b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"),
        "No certificate was found",
    ),
    "der-garbage": (_write("bad.der", b"\x30\x82\x01\x00" + b"\x00" * 40), "No certificate"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_get_one_sentence(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, case: str
) -> None:
    make, sentence = BAD_FILES[case]
    folder = tmp_path / "files"
    folder.mkdir()
    path = make(folder)
    _open(qtbot, window, path)
    message = window.chain_view().message()
    assert sentence in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert window.statusBar().currentMessage() == message


def test_an_unreadable_file_gets_one_sentence(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    original = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return original(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refuse)
    _open(qtbot, window, path)
    assert "You are not allowed to read that file" in window.chain_view().message()


def test_a_file_dropped_on_the_window_is_opened(
    qtbot: QtBot, window: MainWindow, gui_lab: GuiLab, tmp_path: Path
) -> None:
    path = tmp_path / "dropped.crt"
    path.write_bytes(_chain_pem(gui_lab, "good"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.runner.task_done, timeout=5000):
        QApplication.sendEvent(window, drop)
    assert "dropped.crt" in window.chain_view().source_label.text()


def test_the_analysis_itself_needs_no_window(gui_lab: GuiLab, tmp_path: Path) -> None:
    path = tmp_path / "wrong.pem"
    path.write_bytes(_chain_pem(gui_lab, "wrong_host"))
    loaded = cert_file.analyse(path)
    assert loaded.host == "other.lab.test"
    assert len(loaded.pems) == 2
    ids = {f.id for f in loaded.result.findings}
    assert "cert.hostname_mismatch" not in ids  # checked against its own name
    facts = loaded.result.facts
    assert isinstance(facts, CertificateFacts)
    assert [c.subject for c in facts.certificates] == ["other.lab.test", inter_name(gui_lab)]


def test_a_password_protected_pkcs12_file_asks_for_its_password(
    qtbot: QtBot,
    window: MainWindow,
    gui_lab: GuiLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    leaf, inter = gui_lab.chains["good"]
    path = tmp_path / "server.pfx"
    encryption = serialization.BestAvailableEncryption(b"open sesame")
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"srv", leaf.key, leaf.cert, [inter.cert], encryption)  # type: ignore[arg-type]
    )
    asked: list[Path] = []

    def answer(file: Path) -> bytes:
        asked.append(file)
        return b"open sesame" if len(asked) > 1 else b"wrong"

    monkeypatch.setattr(window, "ask_password", answer)
    window.open_certificate_file(path)
    # First the missing password, then a wrong one, then the right one: three analyses.
    qtbot.waitUntil(lambda: window.cert_file is not None, timeout=10000)
    assert asked == [path, path]
    assert "2 certificates from the file" in window.chain_view().source_label.text()
