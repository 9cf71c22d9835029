"""The certificate chain as a tree, each certificate's details with problems marked, PEM export."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSignalBlocker,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from checks.core.facts.certificate import CertificateFacts, CertificateRecord, PathRecord
from checks.core.models import CheckResult, Finding, Status
from checks.core.redact import redact
from checks.present import catalogue
from gui import icons, theme
from gui.cards import CheckCard
from gui.models import ResultsModel
from gui.widgets import wrapping_label

_Index = QModelIndex | QPersistentModelIndex

# Which line of the details a finding is about, so that line is the one marked.
FIELD_OF = {
    "cert.expired": "validity",
    "cert.not_yet_valid": "validity",
    "cert.expires_soon": "validity",
    "cert.hostname_mismatch": "names",
    "cert.no_san": "names",
    "cert.weak_key": "key",
    "cert.weak_signature": "signature",
    "cert.known_bad_root": "fingerprints",
    "cert.self_signed": "issuer",
    "cert.untrusted_root": "issuer",
    "cert.incomplete_chain": "issuer",
    "cert.os_store_missing_root": "issuer",
    "cert.trusted_locally_only": "issuer",
}


@dataclass
class CertNode:
    """One row of the tree: a certificate the server sent, or the trust store's root."""

    facts: CertificateRecord | None
    kind: str  # "sent", "store" or "unused"
    subject: str
    sent_index: int | None = None
    anchor_sha256: str | None = None
    findings: list[Finding] = field(default_factory=list)
    children: list[CertNode] = field(default_factory=list)
    parent: CertNode | None = None

    @property
    def status(self) -> str | None:
        worst = Status.worst(f.status for f in self.findings) if self.findings else None
        return worst.value if worst is not None else None


def attach_findings(
    findings: Sequence[Finding], certificates: Sequence[CertificateRecord]
) -> dict[int, list[Finding]]:
    """Sent-index -> the problems about that certificate, matched by the `index` they name."""
    sent = {cert.index for cert in certificates}
    by_index: dict[int, list[Finding]] = {}
    for finding in findings:
        index = finding.params.get("index")
        if (
            finding.status in (Status.FAIL, Status.WARN)
            and isinstance(index, int)
            and index in sent
        ):
            by_index.setdefault(index, []).append(finding)
    return by_index


def build_tree(
    certificates: Sequence[CertificateRecord],
    path: PathRecord | None,
    findings: Sequence[Finding],
) -> list[CertNode]:
    """Top-level nodes: the issuing path from its root down to the server's certificate, then
    the certificates sent but not needed."""
    by_index = {c.index: c for c in certificates if c.index is not None}
    attached = attach_findings(findings, certificates)

    def node(index: int, kind: str) -> CertNode:
        facts = by_index[index]
        return CertNode(facts, kind, facts.subject, index, findings=attached.get(index, []))

    indices = [i for i in path.indices if i in by_index] if path else []
    if not indices and 0 in by_index:
        indices = [0]
    roots: list[CertNode] = []
    parent: CertNode | None = None
    anchor = path.anchor if path else None
    if anchor is not None and indices and anchor.sha256 != by_index[indices[-1]].sha256:
        parent = CertNode(None, "store", anchor.subject, anchor_sha256=anchor.sha256)
        roots.append(parent)
    for index in reversed(indices):
        child = node(index, "sent")
        if parent is None:
            roots.append(child)
        else:
            child.parent = parent
            parent.children.append(child)
        parent = child
    for index in sorted(set(by_index) - set(indices)):
        roots.append(node(index, "unused"))
    return roots


class ChainModel(QAbstractItemModel):
    """The tree of `build_tree`: certificate, role, place in what was sent, expiry."""

    COLUMNS = ("subject", "role", "sent", "expires")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.roots: list[CertNode] = []
        self.lang = catalogue.DEFAULT_LANGUAGE

    def set_nodes(self, roots: list[CertNode]) -> None:
        self.beginResetModel()
        self.roots = roots
        self.endResetModel()

    def set_language(self, lang: str) -> None:
        self.beginResetModel()
        self.lang = lang
        self.endResetModel()

    def node(self, index: _Index) -> CertNode | None:
        if not index.isValid():
            return None
        node = index.internalPointer()
        return node if isinstance(node, CertNode) else None

    def _siblings(self, node: CertNode | None) -> list[CertNode]:
        return self.roots if node is None else node.children

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        siblings = self._siblings(self.node(parent))
        if not (0 <= row < len(siblings) and 0 <= column < len(self.COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row])

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self.node(child)
        if node is None or node.parent is None:
            return QModelIndex()
        up = node.parent
        row = self._siblings(up.parent).index(up)
        return self.createIndex(row, 0, up)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._siblings(self.node(parent)))

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return len(self.COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return catalogue.ui(f"gui_chain.column_{self.COLUMNS[section]}", lang=self.lang)
        return None

    def _role(self, node: CertNode) -> str:
        if node.kind == "store":
            return catalogue.ui("gui_chain.role_store", lang=self.lang)
        position = node.facts.position if node.facts else "intermediate"
        return catalogue.ui(f"gui_chain.role_{position}", lang=self.lang)

    def _text(self, node: CertNode, column: str) -> str:
        lang = self.lang
        if column == "subject":
            return node.subject
        if column == "role":
            return self._role(node)
        if column == "sent":
            if node.sent_index is None:
                return catalogue.ui("gui_chain.not_sent", lang=lang)
            key = "gui_chain.sent_unused" if node.kind == "unused" else "gui_chain.sent_as"
            return catalogue.ui(key, lang=lang, number=node.sent_index + 1)
        if node.facts is None:
            return ""
        return node.facts.not_after[:10]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = self.COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "subject":
            return icons.status_icon(node.status) if node.status else None
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            text = self._text(node, column)
            if column == "subject" and node.status:
                word = catalogue.ui(f"status.{node.status}", lang=self.lang)
                titles = "; ".join(
                    catalogue.render(f, lang=self.lang, surface="window").title
                    for f in node.findings
                )
                return f"{text} — {word}: {titles}"
            return text
        if role == Qt.ItemDataRole.UserRole:
            return node
        return None


def _row(label: str, value: str, mark: tuple[str, str] | None, palette: QPalette) -> str:
    """One line of the details table; `mark` (status, sentence) highlights a problem."""
    cells = f"<td valign='top' style='padding:3px 10px 3px 4px'><b>{html.escape(label)}</b></td>"
    if mark is None:
        return f"<tr>{cells}<td style='padding:3px'>{value}</td></tr>"
    status, sentence = mark
    background = theme.tint(status, palette, 0.22).name()
    colour = theme.status_color(status, palette).name()
    return (
        f"<tr style='background-color:{background}'>{cells}<td style='padding:3px'>{value}"
        f"<br><span style='color:{colour}'><b>{html.escape(sentence)}</b></span></td></tr>"
    )


def details_html(node: CertNode, lang: str, palette: QPalette) -> str:
    """Every field of one certificate; the fields a finding is about are marked in words too."""
    ui = catalogue.ui
    marks: dict[str, tuple[str, str]] = {}
    for finding in node.findings:
        where = FIELD_OF.get(finding.id, "subject")
        symbol = ui(f"status_symbol.{finding.status.value}", lang=lang)
        word = ui(f"status.{finding.status.value}", lang=lang)
        title = catalogue.render(finding, lang=lang, surface="window").title
        if where in marks:
            previous = marks[where]
            marks[where] = (previous[0], f"{previous[1]}\n{symbol} {word}: {title}")
        else:
            marks[where] = (finding.status.value, f"{symbol} {word}: {title}")

    def esc(value: object) -> str:
        return html.escape(str(value))

    def code(value: object) -> str:
        text = str(value)
        # Fingerprints in groups of 16 so that a narrow pane wraps them between groups.
        groups = " ".join(text[i : i + 16] for i in range(0, len(text), 16))
        return f"<code>{html.escape(groups)}</code>"

    rows: list[str] = []
    facts = node.facts
    if facts is None:
        rows.append(_row(ui("gui_chain.subject", lang=lang), esc(node.subject), None, palette))
        rows.append(
            _row(ui("gui_chain.sha256", lang=lang), code(node.anchor_sha256 or ""), None, palette)
        )
        note = f"<p>{esc(ui('gui_chain.store_note', lang=lang))}</p>"
        return f"<h3>{esc(node.subject)}</h3>{note}<table cellspacing='0'>{''.join(rows)}</table>"
    yes, no = ui("gui_chain.yes", lang=lang), ui("gui_chain.no", lang=lang)
    names = [*facts.dns_names, *facts.ip_addresses]
    key = ui("gui_chain.key_value", lang=lang, type=facts.key_type, bits=facts.key_bits or "?")
    validity = ui(
        "gui_chain.validity_value", lang=lang, start=facts.not_before, end=facts.not_after
    )
    fields: list[tuple[str, str, str]] = [
        ("subject", ui("gui_chain.subject", lang=lang), esc(facts.subject_dn)),
        ("issuer", ui("gui_chain.issuer", lang=lang), esc(facts.issuer_dn)),
        ("validity", ui("gui_chain.validity", lang=lang), esc(validity)),
        (
            "names",
            ui("gui_chain.names", lang=lang),
            esc(", ".join(names) or ui("gui_chain.none", lang=lang)),
        ),
        ("key", ui("gui_chain.key", lang=lang), esc(key)),
        (
            "signature",
            ui("gui_chain.signature", lang=lang),
            esc(facts.signature_hash or ui("gui_chain.unknown", lang=lang)),
        ),
        ("fingerprints", ui("gui_chain.sha256", lang=lang), code(facts.sha256)),
        ("spki", ui("gui_chain.spki", lang=lang), code(facts.spki_sha256)),
        ("ca", ui("gui_chain.is_ca", lang=lang), esc(yes if facts.is_ca else no)),
        (
            "self_signed",
            ui("gui_chain.self_signed", lang=lang),
            esc(yes if facts.self_signed else no),
        ),
    ]
    if facts.aia_ca_issuers:
        fields.append(("aia", ui("gui_chain.aia", lang=lang), esc(facts.aia_ca_issuers)))
    for key_name, label, value in fields:
        mark = marks.pop(key_name, None)
        rows.append(_row(label, value.replace("\n", "<br>"), mark, palette))
    heading = f"<h3>{esc(node.subject)}</h3>"
    return f"{heading}<table cellspacing='0' width='100%'>{''.join(rows)}</table>"


class ChainView(QWidget):
    """The chain the server sent (or a file held), as a tree beside the selected certificate."""

    pem_saved = Signal(str)

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lang = lang
        self.model = ChainModel(self)
        self.model.lang = lang
        self.pems: dict[int, str] = {}
        self._source: tuple[str, dict[str, object]] | None = None
        self._file_model = ResultsModel(self)
        self.file_card: CheckCard | None = None

        self.source_label = wrapping_label()
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(ChainModel.COLUMNS)):
            self.tree.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.save_button = QPushButton()
        self.save_button.setEnabled(False)
        self.empty_label = wrapping_label()
        self._custom_message = False

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        self._card_holder = QVBoxLayout()
        self._card_holder.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(self.empty_label)
        layout.addLayout(self._card_holder)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.retranslate(lang)
        self._show_empty(True)

    def _show_empty(self, empty: bool) -> None:
        self.empty_label.setVisible(empty)
        self.tree.setVisible(not empty)
        self.details.setVisible(not empty)
        self.save_button.setVisible(not empty)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        current = self._current_sent_index()
        self.model.set_language(lang)
        self._file_model.set_language(lang)
        self.tree.setAccessibleName(catalogue.ui("gui_chain.tree", lang=lang))
        self.details.setAccessibleName(catalogue.ui("gui_chain.details", lang=lang))
        self.save_button.setText(catalogue.ui("gui_chain.save_pem", lang=lang))
        if not self._custom_message:
            self.empty_label.setText(catalogue.ui("gui_chain.empty", lang=lang))
        self._update_source()
        self.tree.expandAll()
        self._select(current)

    def _update_source(self) -> None:
        if self._source is None:
            self.source_label.setText("")
            return
        key, params = self._source
        self.source_label.setText(catalogue.ui(key, lang=self.lang, **params))

    def show_result(
        self,
        result: CheckResult,
        pems: Sequence[str | None],
        *,
        source_key: str,
        source_params: Mapping[str, object],
        show_card: bool,
    ) -> None:
        """Show the chain of a certificate check result; `pems` are indexed as sent."""
        facts = result.facts
        if isinstance(facts, CertificateFacts):
            roots = build_tree(facts.certificates, facts.path, result.findings)
        else:
            roots = []
        self.pems = {i: p for i, p in enumerate(pems) if p}
        self._source = (source_key, dict(source_params))
        self._update_source()
        self._custom_message = False
        self.model.set_nodes(roots)
        self.tree.expandAll()
        self._show_empty(not roots)
        self._set_card(result if show_card else None)
        self._select(0)

    def _set_card(self, result: CheckResult | None) -> None:
        if self.file_card is not None:
            self.file_card.setParent(None)
            self.file_card.deleteLater()
            self.file_card = None
        self._file_model.clear()
        if result is None:
            return
        self._file_model.add(result)
        self.file_card = CheckCard(result.check_id, self._file_model)
        self.file_card.set_result(result)
        self._card_holder.addWidget(self.file_card)
        if result.status in (Status.FAIL, Status.WARN):
            self.file_card.set_expanded(True)

    def show_message(self, sentence: str) -> None:
        """One sentence in place of the chain (loading, or why a file could not be read)."""
        self._source = None
        self.pems = {}
        self.model.set_nodes([])
        self._set_card(None)
        self.details.clear()
        self.source_label.setText("")
        self._custom_message = True
        self.empty_label.setText(sentence)
        self._show_empty(True)

    def show_error(self, sentence: str) -> None:
        self.show_message(sentence)

    def message(self) -> str:
        return "" if self.empty_label.isHidden() else self.empty_label.text()

    def clear(self) -> None:
        self._source = None
        self.pems = {}
        self.model.set_nodes([])
        self._set_card(None)
        self._update_source()
        self.details.clear()
        self._custom_message = False
        self.empty_label.setText(catalogue.ui("gui_chain.empty", lang=self.lang))
        self._show_empty(True)

    def _all_indexes(self, parent: QModelIndex | None = None) -> list[QModelIndex]:
        parent = parent or QModelIndex()
        found: list[QModelIndex] = []
        for row in range(self.model.rowCount(parent)):
            index = self.model.index(row, 0, parent)
            found.append(index)
            found += self._all_indexes(index)
        return found

    def _select(self, sent_index: int | None) -> None:
        indexes = self._all_indexes()
        chosen = next(
            (i for i in indexes if (n := self.model.node(i)) and n.sent_index == sent_index),
            indexes[-1] if indexes else None,
        )
        if chosen is not None:
            self.tree.setCurrentIndex(chosen)
            self._show_node(self.model.node(chosen))

    def _current_sent_index(self) -> int | None:
        node = self.model.node(self.tree.currentIndex())
        return node.sent_index if node else None

    def select_certificate(self, sent_index: int) -> None:
        self._select(sent_index)

    def _show_node(self, node: CertNode | None) -> None:
        if node is None:
            self.details.clear()
            self.save_button.setEnabled(False)
            return
        self.details.setHtml(details_html(node, self.lang, self.details.palette()))
        self.save_button.setEnabled(node.sent_index is not None and node.sent_index in self.pems)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: _Index, previous: _Index) -> None:
        self._show_node(self.model.node(current))

    def details_text(self) -> str:
        return self.details.toPlainText()

    def save_pem(self, sent_index: int, path: Path) -> str:
        """Write one sent certificate as PEM; return the sentence to show (saved or why not)."""
        pem = self.pems.get(sent_index)
        if pem is None:
            message = catalogue.ui("gui_chain.no_pem", lang=self.lang)
        else:
            try:
                path.write_text(pem if pem.endswith("\n") else pem + "\n", encoding="ascii")
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                message = catalogue.ui("gui_chain.save_failed", lang=self.lang, reason=reason)
            else:
                message = catalogue.ui("gui_chain.saved", lang=self.lang, path=redact(str(path)))
        self.pem_saved.emit(message)
        return message

    @Slot()
    def _on_save_clicked(self) -> None:
        node = self.model.node(self.tree.currentIndex())
        if node is None or node.sent_index is None:
            return
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in node.subject) or "cert"
        chosen, _ = QFileDialog.getSaveFileName(
            self,
            catalogue.ui("gui_chain.save_title", lang=self.lang),
            f"{name}.pem",
            catalogue.ui("gui_chain.save_filter", lang=self.lang),
        )
        if chosen:
            self.save_pem(node.sent_index, Path(chosen))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # The marked lines take their colours from the palette: a theme switch redraws them.
        if event.type() == QEvent.Type.PaletteChange:
            with QSignalBlocker(self.tree):
                self._show_node(self.model.node(self.tree.currentIndex()))
