"""The main window: a target field, Diagnose and Cancel, the verdict banner and the views."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, QTimer, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from checks.core.certfile import CertFile, CertFileError
from checks.core.config import Settings
from checks.core.facts.certificate import CertificateFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import CheckResult, Report
from checks.core.redact import redact
from checks.core.target import Target, TargetError, parse
from checks.core.version import __version__
from checks.present import catalogue, document
from gui import icons, preferences, qt_translation
from gui.banner import VerdictBanner
from gui.cards import CardsPanel
from gui.models import ResultsModel
from gui.runner import CheckRunner

if TYPE_CHECKING:
    from gui.chain_view import ChainView
    from gui.decoder_view import DecoderView
    from gui.programs_view import ProgramsView
    from gui.protocols_view import ProtocolsView

EXPORT_SUFFIXES = (".html", ".md", ".json")
_TAB_KEYS = ("results", "chain", "protocols", "programs", "decoder")


def decoder_available() -> bool:
    """Whether the error decoder's data (checks.decoder) ships with this build."""
    return importlib.util.find_spec("checks.present.decoder") is not None


def _scopes(results: Sequence[CheckResult]) -> list[tuple[str, str]]:
    """`(check id, scope)` of each result, as the registry declares it."""
    from gui.worker import check_scopes

    scopes = check_scopes()
    return [(r.check_id, scopes.get(r.check_id, "target")) for r in results]


class _LazyTab(QWidget):
    """A tab whose real view is built, and its module imported, only when first needed."""

    def __init__(self) -> None:
        super().__init__()
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.view: QWidget | None = None

    def put(self, view: QWidget) -> None:
        self.view = view
        self.box.addWidget(view)


class MainWindow(QMainWindow):
    """The one window of the app; all diagnosis happens in `CheckRunner`'s worker."""

    def __init__(self, settings: Settings | None = None, store: QSettings | None = None) -> None:
        super().__init__()
        self._store = store or preferences.store()
        self.settings = settings or preferences.load_settings(self._store)
        self.lang = catalogue.normalise_language(self.settings.lang)
        self.setWindowIcon(icons.icon("app"))
        self.resize(980, 760)
        self.setMinimumSize(640, 480)
        self.setAcceptDrops(True)

        self.runner = CheckRunner(self)
        self.model = ResultsModel(self)
        self.model.lang = self.lang
        self.last_report: Report | None = None
        self.last_target: Target | None = None
        self.cert_file: CertFile | None = None
        self._banner_state: tuple[Any, ...] = ("intro",)
        self._file_task: int | None = None
        self._file_path: Path | None = None
        self._decoder_task: int | None = None
        self._progress = (0, 0)

        self.target_label = QLabel()
        self.target_combo = QComboBox()
        self.target_combo.setEditable(True)
        self.target_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target_combo.addItems(preferences.recent_targets(self._store))
        self.target_combo.setCurrentIndex(-1)
        completer = self.target_combo.completer()
        if completer is not None:
            # Recent targets are offered in a list, never written into the field: what was
            # typed is what gets diagnosed.
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        line_edit = self.target_combo.lineEdit()
        assert line_edit is not None  # an editable combo box always has one
        self.target_edit = line_edit
        self.target_edit.setClearButtonEnabled(True)
        self.target_label.setBuddy(self.target_combo)
        self.diagnose_button = QPushButton()
        self.diagnose_button.setDefault(True)
        self.cancel_button = QPushButton()
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        self.banner = VerdictBanner()
        self.cards = CardsPanel(self.model)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.cards, "")
        self._chain_tab = _LazyTab()
        self._protocols_tab = _LazyTab()
        self._programs_tab = _LazyTab()
        self.tabs.addTab(self._chain_tab, "")
        self.tabs.addTab(self._protocols_tab, "")
        self.tabs.addTab(self._programs_tab, "")
        self._decoder_tab: _LazyTab | None = None
        self._chain_view: ChainView | None = None
        self._protocols_view: ProtocolsView | None = None
        self._programs_view: ProgramsView | None = None
        self._decoder_view: DecoderView | None = None
        self._views_dirty: set[str] = set()
        self._lead_report: Report | None = None
        if decoder_available():
            self._decoder_tab = _LazyTab()
            self.tabs.addTab(self._decoder_tab, "")

        top = QHBoxLayout()
        top.addWidget(self.target_label)
        top.addWidget(self.target_combo, 1)
        top.addWidget(self.diagnose_button)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout()
        layout.setContentsMargins(10, 8, 10, 4)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self._build_actions()

        self.target_edit.returnPressed.connect(self._on_diagnose_clicked)
        self.diagnose_button.clicked.connect(self._on_diagnose_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.runner.run_planned.connect(self._on_run_planned)
        self.runner.result_ready.connect(self._on_result_ready)
        self.runner.progress_changed.connect(self._on_progress_changed)
        self.runner.run_finished.connect(self._on_run_finished)
        self.runner.run_failed.connect(self._on_run_failed)
        self.runner.task_done.connect(self._on_task_done)
        self.runner.run_cancelled.connect(self._on_run_cancelled)
        qt_translation.use(self.lang)
        self.retranslate()

    # -- actions and texts ------------------------------------------------------------------

    def _action(self, shortcut: QKeySequence | str | None, slot: Any) -> QAction:
        action = QAction(self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.open_action = self._action(QKeySequence(std.Open), self._on_open_triggered)
        self.export_action = self._action(QKeySequence(std.Save), self._on_export_triggered)
        self.copy_action = self._action("Ctrl+Shift+C", self._on_copy_summary_triggered)
        self.quit_action = self._action(QKeySequence(std.Quit), self.close)
        self.diagnose_action = self._action("F5", self._on_diagnose_clicked)
        self.cancel_action = self._action("Esc", self._on_cancel_clicked)
        self.settings_action = self._action(QKeySequence(std.Preferences), self._on_settings)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.expand_action = self._action("Ctrl+Shift+E", self._on_expand_all)
        self.collapse_action = self._action("Ctrl+Shift+W", self._on_collapse_all)
        self.about_action = self._action(None, self._on_about)
        self.tab_actions: list[QAction] = []
        for number in range(self.tabs.count()):
            action = self._action(f"Ctrl+{number + 1}", self._on_tab_action)
            action.setData(number)
            self.tab_actions.append(action)
        self.language_group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code, name in (("en", "English"), ("zh_CN", "简体中文")):
            action = QAction(name, self)
            action.setCheckable(True)
            action.setData(code)
            action.triggered.connect(self._on_language_action)
            self.language_group.addAction(action)
            self.language_actions[code] = action

        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        self.file_menu.addActions([self.open_action, self.export_action, self.copy_action])
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.view_menu = bar.addMenu("")
        self.view_menu.addActions(self.tab_actions)
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.expand_action, self.collapse_action])
        self.view_menu.addSeparator()
        self.language_menu = QMenu(self)
        self.language_menu.addActions(list(self.language_actions.values()))
        self.view_menu.addMenu(self.language_menu)
        self.tools_menu = bar.addMenu("")
        self.tools_menu.addActions([self.diagnose_action, self.cancel_action])
        self.tools_menu.addSeparator()
        self.tools_menu.addAction(self.settings_action)
        self.help_menu = bar.addMenu("")
        self.help_menu.addAction(self.about_action)

    def _t(self, key: str, **params: object) -> str:
        return catalogue.ui(key, lang=self.lang, **params)

    def retranslate(self) -> None:
        """Every visible word in `self.lang`; called at start and when the language changes."""
        t = self._t
        self.setWindowTitle(t("window.title"))
        self.target_label.setText(t("window.target_label_mnemonic"))
        self.target_edit.setPlaceholderText(t("window.target_placeholder"))
        self.target_edit.setToolTip(t("window.target_tip"))
        self.target_combo.setAccessibleName(t("window.target_label"))
        self.target_edit.setAccessibleName(t("window.target_label"))
        self.diagnose_button.setText(t("window.diagnose"))
        self.diagnose_button.setToolTip(t("window.diagnose_tip"))
        self.cancel_button.setText(t("window.cancel"))
        self.progress.setAccessibleName(t("window.progress_name"))
        self.banner.setAccessibleDescription(t("window.verdict"))
        self.cards.setAccessibleName(t("window.results"))
        for number, key in enumerate(_TAB_KEYS[: self.tabs.count()]):
            self.tabs.setTabText(number, t(f"window.tab_{key}"))
            self.tab_actions[number].setText(t(f"window.tab_{key}_menu"))
        self.file_menu.setTitle(t("gui_menu.file"))
        self.view_menu.setTitle(t("gui_menu.view"))
        self.tools_menu.setTitle(t("gui_menu.tools"))
        self.help_menu.setTitle(t("gui_menu.help"))
        self.language_menu.setTitle(t("gui_menu.language"))
        self.open_action.setText(t("gui_menu.open_cert"))
        self.export_action.setText(t("gui_menu.export"))
        self.copy_action.setText(t("gui_menu.copy_summary"))
        self.quit_action.setText(t("gui_menu.quit"))
        self.diagnose_action.setText(t("gui_menu.diagnose"))
        self.cancel_action.setText(t("gui_menu.cancel"))
        self.settings_action.setText(t("gui_menu.settings"))
        self.expand_action.setText(t("gui_menu.expand_all"))
        self.collapse_action.setText(t("gui_menu.collapse_all"))
        self.about_action.setText(t("gui_menu.about"))
        self.language_actions[self.lang].setChecked(True)
        self.cards.retranslate()
        self._render_banner()
        self._render_progress()
        for view in (
            self._chain_view,
            self._protocols_view,
            self._programs_view,
            self._decoder_view,
        ):
            if view is not None:
                view.retranslate(self.lang)

    def set_language(self, lang: str) -> None:
        """Switch every text to `lang` ("en" or "zh_CN") now; no restart."""
        self.lang = catalogue.normalise_language(lang)
        qt_translation.use(self.lang)
        self.model.set_language(self.lang)
        self.retranslate()

    # -- the banner -------------------------------------------------------------------------

    def _render_banner(self) -> None:
        state = self._banner_state
        kind = state[0]
        if kind == "report":
            self.banner.show_report(state[1], self.lang)
        elif kind == "message":
            _, key, params, status = state
            self.banner.show_message(self._t(key, **params), status=status, lang=self.lang)
        elif kind == "running":
            self.banner.show_message(self._t("window.running"), status="pending", lang=self.lang)
        elif kind == "cancelling":
            self.banner.show_message(self._t("window.cancelling"), status="pending", lang=self.lang)
        else:
            self.banner.show_message(self._t("window.intro"), lang=self.lang)

    def _banner(self, *state: Any) -> None:
        self._banner_state = state
        self._render_banner()

    def _status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # -- running ----------------------------------------------------------------------------

    def diagnose(self, text: str | None = None, only: Sequence[str] | None = None) -> bool:
        """Parse `text` (default: the target field) and start a run; False for bad input."""
        text = self.target_edit.text().strip() if text is None else text.strip()
        try:
            target = parse(text) if text else None
        except TargetError as exc:
            self._banner("message", f"input_error.{exc.key}", dict(exc.params), "none")
            self.target_edit.setFocus()
            return False
        if target is not None:
            recent = preferences.remember_target(target.input, self._store)
            self.target_combo.blockSignals(True)
            self.target_combo.clear()
            self.target_combo.addItems(recent)
            self.target_combo.setCurrentIndex(0)
            self.target_combo.blockSignals(False)
        self.last_target = target
        self.last_report = None
        self.model.clear()
        self.cards.set_target_label(self._label(target))
        self._views_dirty.update(("chain", "protocols", "programs"))
        self._refresh_visible_view()
        self._banner("running")
        self.diagnose_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.export_action.setEnabled(False)
        self.copy_action.setEnabled(False)
        self.progress.setVisible(True)
        self.tabs.setCurrentWidget(self.cards)
        # Findings word some params (the clock's "3 years behind") in the run's language.
        self.runner.start(target, dataclasses.replace(self.settings, lang=self.lang), only)
        return True

    @Slot()
    def _on_diagnose_clicked(self) -> None:
        if self.runner.running:
            return
        self.diagnose()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if not self.runner.running:
            return
        self.runner.cancel()
        self.cancel_button.setEnabled(False)
        self._banner("cancelling")

    @Slot(object)
    def _on_run_planned(self, planned: list[tuple[str, str]]) -> None:
        target = self.last_target
        self.cards.begin(planned, self._label(target))
        for result in self.model.results():
            card = self.cards.card(result.check_id)
            if card is not None:
                card.set_result(result)

    @Slot(object)
    def _on_result_ready(self, result: CheckResult) -> None:
        self.model.add(result)
        # The chain and protocol views are filled when they are looked at, not during the run.
        if result.check_id in ("cert", "tls"):
            self._views_dirty.add("chain")
        elif result.check_id in ("protocols", "client_policy"):
            self._views_dirty.add("protocols")
        elif result.check_id == "programs":
            self._views_dirty.add("programs")
        self._refresh_visible_view()

    @Slot(int, int)
    def _on_progress_changed(self, done: int, total: int) -> None:
        self._progress = (done, total)
        self._render_progress()

    def _render_progress(self) -> None:
        done, total = self._progress
        text = self._t("window.progress", done=done, total=total) if total else ""
        # QProgressBar repaints at once on a new value, which would also paint every card
        # changed since the last frame right here; with updates off it waits for that frame.
        self.progress.setUpdatesEnabled(False)
        self.progress.setMaximum(total)  # 0 shows a busy bar while the plan is made
        self.progress.setValue(done)
        self.progress.setFormat(text)
        self.progress.setUpdatesEnabled(True)
        self.progress.setAccessibleDescription(text)

    @Slot(object)
    def _on_run_finished(self, report: Report) -> None:
        self.show_report(report)

    def _label(self, target: Target | None) -> str | None:
        """What the cards call the target: `host:port`, and its protocol when not HTTPS."""
        if target is None:
            return None
        return document.describe_target(target.display, target.protocol, target.starttls, self.lang)

    def show_report(self, report: Report) -> None:
        """Show a finished (or cancelled) diagnosis: cards, banner, chain and protocol views."""
        self.last_report = report
        label = self._label(report.target)
        shown = {r.check_id: r for r in self.model.results()}
        if shown != {r.check_id: r for r in report.results}:
            # A report from elsewhere (a test, the screenshot script) replaces what is shown.
            self.model.clear()
            self.cards.begin(_scopes(report.results), label)
            for result in report.results:
                self.model.add(result)
        self.cards.set_target_label(label)
        self.cards.build_all()
        for card in self.cards.cards.values():
            if card.result is None:
                card.set_cancelled()
        self._idle()
        self._banner("report", report)
        self._views_dirty.update(("chain", "protocols", "programs"))
        self._refresh_visible_view()
        self._lead_report = report
        # The banner is laid out and painted first; the lead card opens in the next turn.
        QTimer.singleShot(1, self, self._open_lead_card)
        if report.cancelled:
            self._status_message(self._t("window.cancelled"))
        else:
            seconds = f"{report.duration_s:.1f}"
            self._status_message(self._t("window.finished", seconds=seconds))

    @Slot()
    def _open_lead_card(self) -> None:
        report, self._lead_report = self._lead_report, None
        lead = report.verdict.finding if report is not None else None
        if report is None or lead is None:
            return
        for result in report.results:
            lead_card = self.cards.card(result.check_id)
            if lead in result.findings and lead_card is not None:
                lead_card.set_expanded(True)
                self.cards.scroll_to(lead_card)
                break

    @Slot()
    def _on_run_cancelled(self) -> None:
        """The run was stopped before its process could report: only the cards say what ran."""
        self.cards.build_all()
        for card in self.cards.cards.values():
            if card.result is None:
                card.set_cancelled()
        self._idle()
        self._banner("message", "verdict.cancelled", {}, "none")
        self._status_message(self._t("window.cancelled"))

    @Slot(str)
    def _on_run_failed(self, message: str) -> None:
        self._idle()
        self._banner("message", "window.failed", {"message": message}, "error")

    def _idle(self) -> None:
        self.diagnose_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        has_report = self.last_report is not None
        self.export_action.setEnabled(has_report)
        self.copy_action.setEnabled(has_report)

    # -- the chain, protocol and decoder views ----------------------------------------------

    def chain_view(self) -> ChainView:
        """The certificate chain tab's view, built (and its module imported) on first use."""
        if self._chain_view is None:
            from gui.chain_view import ChainView

            self._chain_view = ChainView(self.lang)
            self._chain_view.pem_saved.connect(self._status_message)
            self._chain_tab.put(self._chain_view)
        if "chain" in self._views_dirty:
            self._views_dirty.discard("chain")
            self._show_chain_from_results(self._chain_view)
        return self._chain_view

    def protocols_view(self) -> ProtocolsView:
        """The protocols and ciphers tab's view, built on first use."""
        if self._protocols_view is None:
            from gui.protocols_view import ProtocolsView

            self._protocols_view = ProtocolsView(self.lang)
            self._protocols_tab.put(self._protocols_view)
        if "protocols" in self._views_dirty:
            self._views_dirty.discard("protocols")
            self._protocols_view.show_results(
                self.model.result("protocols"), self.model.result("client_policy")
            )
        return self._protocols_view

    def programs_view(self) -> ProgramsView:
        """The programs tab's view, built on first use."""
        if self._programs_view is None:
            from gui.programs_view import ProgramsView

            self._programs_view = ProgramsView(self.lang)
            self._programs_tab.put(self._programs_view)
        if "programs" in self._views_dirty:
            self._views_dirty.discard("programs")
            self._programs_view.show_result(self.model.result("programs"))
        return self._programs_view

    def _refresh_visible_view(self) -> None:
        current = self.tabs.currentWidget()
        if current is self._chain_tab:
            self.chain_view()
        elif current is self._protocols_tab:
            self.protocols_view()
        elif current is self._programs_tab:
            self.programs_view()

    def decoder_view(self) -> DecoderView | None:
        """The error decoder tab's view, built on first use; None when the decoder is absent."""
        if self._decoder_tab is None:
            return None
        if self._decoder_view is None:
            from gui.decoder_view import DecoderView

            self._decoder_view = DecoderView(self.lang)
            self._decoder_view.explain_requested.connect(self._on_explain_requested)
            self._decoder_view.run_requested.connect(self._on_decoder_run_requested)
            self._decoder_view.diagnose_requested.connect(self._on_decoder_diagnose_requested)
            self._decoder_tab.put(self._decoder_view)
        return self._decoder_view

    def _show_chain_from_results(self, view: ChainView) -> None:
        cert = self.model.result("cert")
        if (
            cert is None
            or not isinstance(cert.facts, CertificateFacts)
            or not cert.facts.certificates
        ):
            if self.cert_file is None:
                view.clear()
            return
        tls = self.model.result("tls")
        pems = tls.facts.chain_pem if tls is not None and isinstance(tls.facts, TlsFacts) else ()
        target = self.last_report.target if self.last_report else self.last_target
        self.cert_file = None
        view.show_result(
            cert,
            pems,
            source_key="gui_chain.source_server",
            source_params={"host": target.display if target else ""},
            show_card=False,
        )

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self._chain_tab:
            self.chain_view()
        elif widget is self._protocols_tab:
            self.protocols_view()
        elif widget is self._programs_tab:
            self.programs_view()
        elif widget is self._decoder_tab:
            self.decoder_view()

    @Slot()
    def _on_tab_action(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.tabs.setCurrentIndex(int(action.data()))

    @Slot(str)
    def _on_explain_requested(self, text: str) -> None:
        lang = self.lang

        def decode() -> object:
            from gui.decoder_view import decode

            return decode(text, lang)

        self._decoder_task = self.runner.submit(decode)

    @Slot(str, str)
    def _on_decoder_run_requested(self, check_id: str, host: str) -> None:
        """Run the check that confirms a decoded cause, for the site the message named."""
        if self.runner.running:
            return
        if host:
            self.target_edit.setText(host)
        scope = self._decoder_scopes().get(check_id, "local")
        if scope == "target" and not self.target_edit.text().strip():
            view = self.decoder_view()
            if view is not None:
                view.show_message(self._t("gui_decoder.need_site"))
            self.target_edit.setFocus()
            return
        if self.diagnose(only=[check_id]):
            self.tabs.setCurrentWidget(self.cards)

    @Slot(str)
    def _on_decoder_diagnose_requested(self, host: str) -> None:
        """Diagnose the site the decoded message names, as if typed in the Site field."""
        if self.runner.running:
            return
        self.target_edit.setText(host)
        self.diagnose(host)

    def _decoder_scopes(self) -> dict[str, str]:
        view = self._decoder_view
        if view is None or view.decoded is None:
            return {}
        return dict(view.decoded.checks.values())

    # -- certificate files ------------------------------------------------------------------

    def open_certificate_file(self, path: Path, password: bytes | None = None) -> int:
        """Analyse a certificate file off the GUI thread; the chain tab shows the outcome. A
        PKCS#12 file's password is asked for when needed, used once and kept nowhere."""
        host: str | None = None
        is_ip = False
        text = self.target_edit.text().strip()
        if text:
            try:
                target = parse(text)
            except TargetError:
                pass
            else:
                host, is_ip = target.sni or target.host, target.sni is None and target.is_ip

        def analyse() -> object:
            from gui import worker  # cryptography loads here, on the worker thread

            return worker.inspect_file(path, host=host, is_ip=is_ip, password=password)

        view = self.chain_view()
        view.show_message(self._t("gui_cert_file.loading", path=redact(str(path))))
        self.tabs.setCurrentWidget(self._chain_tab)
        self._file_path = path
        self._file_task = self.runner.submit(analyse)
        return self._file_task

    def ask_password(self, path: Path) -> bytes | None:
        """The password of a PKCS#12 file, typed into a masked field; None when cancelled."""
        label = self._t("gui_cert_file.password_label", path=redact(str(path)))
        text, ok = QInputDialog.getText(
            self, self._t("gui_cert_file.password_title"), label, QLineEdit.EchoMode.Password
        )
        return text.encode("utf-8") if ok else None

    @Slot(int, object)
    def _on_task_done(self, task_id: int, value: object) -> None:
        if task_id == self._decoder_task:
            self._decoder_task = None
            self._show_decoded(value)
            return
        if task_id != self._file_task:
            return
        self._file_task = None
        view = self.chain_view()
        if isinstance(value, CertFile):
            self.cert_file = value
            view.show_result(
                value.result,
                value.pems,
                source_key="gui_chain.source_file",
                source_params={
                    "path": value.display,
                    "count": len(value.pems),
                    "host": value.host,
                },
                show_card=True,
            )
            return
        path = self._file_path
        if isinstance(value, CertFileError) and value.key.startswith("password") and path:
            password = self.ask_password(path)
            if password is not None:
                self.open_certificate_file(path, password)
                return
        if isinstance(value, CertFileError):
            sentence = self._t(f"cert_file.{value.key}", **value.params)
        else:
            sentence = self._t("gui_cert_file.failed", reason=f"{type(value).__name__}: {value}")
        self.cert_file = None
        view.show_error(sentence)
        self._status_message(sentence)

    def _show_decoded(self, value: object) -> None:
        from gui.decoder_view import Decoded

        view = self.decoder_view()
        if view is None:
            return
        if isinstance(value, Decoded):
            view.show_decoded(value)
        else:
            view.show_message(self._t("window.failed", message=f"{type(value).__name__}: {value}"))

    @Slot()
    def _on_open_triggered(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, self._t("gui_cert_file.open_title"), "", self._t("gui_cert_file.filter")
        )
        if chosen:
            self.open_certificate_file(Path(chosen))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_certificate_file(Path(files[0]))
        else:
            super().dropEvent(event)

    # -- export -----------------------------------------------------------------------------

    def export_report(self, path: Path) -> str:
        """Save the last report with the CLI's renderers; return the sentence to show."""
        from checks.present.report import write

        if self.last_report is None:
            return self._t("gui_export.nothing")
        if path.suffix.lower() not in (*EXPORT_SUFFIXES, ".htm", ".markdown"):
            path = path.with_suffix(".html")
        try:
            write(self.last_report, path, lang=self.lang, surface="window")
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            message = self._t("gui_export.failed", reason=redact(reason))
        else:
            message = self._t("gui_export.saved", path=redact(str(path)))
        self._status_message(message)
        return message

    def summary_text(self) -> str:
        """The report as the CLI prints it (no colour), for pasting into a ticket."""
        from checks.present.report import to_text

        if self.last_report is None:
            return ""
        return to_text(self.last_report, color=False, lang=self.lang, surface="window")

    @Slot()
    def _on_export_triggered(self) -> None:
        if self.last_report is None:
            self._status_message(self._t("gui_export.nothing"))
            return
        target = self.last_report.target
        stem = (target.host if target else "this-computer").replace(":", "_")
        filters = ";;".join(self._t(f"gui_export.filter_{s.lstrip('.')}") for s in EXPORT_SUFFIXES)
        chosen, selected = QFileDialog.getSaveFileName(
            self, self._t("gui_export.title"), f"handshake-doctor-{stem}.html", filters
        )
        if not chosen:
            return
        path = Path(chosen)
        if not path.suffix:
            for suffix in EXPORT_SUFFIXES:
                if selected == self._t(f"gui_export.filter_{suffix.lstrip('.')}"):
                    path = path.with_suffix(suffix)
        self.export_report(path)

    @Slot()
    def _on_copy_summary_triggered(self) -> None:
        text = self.summary_text()
        if not text:
            self._status_message(self._t("gui_export.nothing"))
            return
        QGuiApplication.clipboard().setText(text)
        self._status_message(self._t("gui_export.copied"))

    # -- settings, language, about ----------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """Use and remember new settings; a new language applies at once."""
        self.settings = settings
        preferences.save_settings(settings, self._store)
        self.set_language(catalogue.normalise_language(settings.lang))

    @Slot()
    def _on_settings(self) -> None:
        from gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.lang, self)
        if dialog.exec():
            self.apply_settings(dialog.settings())

    @Slot()
    def _on_language_action(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.apply_settings(dataclasses.replace(self.settings, lang=str(action.data())))

    @Slot()
    def _on_expand_all(self) -> None:
        for card in self.cards.cards.values():
            if card.result is not None:
                card.set_expanded(True)

    @Slot()
    def _on_collapse_all(self) -> None:
        for card in self.cards.cards.values():
            card.set_expanded(False)

    @Slot()
    def _on_about(self) -> None:
        QMessageBox.about(
            self, self._t("gui_menu.about"), self._t("window.about", version=__version__)
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.runner.shutdown()
        super().closeEvent(event)
