"""Small widgets shared by the views: the traffic-light badge, fix steps and rich text views."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from checks.present import catalogue
from gui import icons, theme

# Fix steps mark commands and file names with backticks, as Markdown does.
_CODE_SPAN = re.compile(r"`([^`]+)`")
_COPIED_MS = 1500
COPY_ICON_URL = "icon:copy"
# Commands up to this many characters are shown unwrapped, with Copy right after them.
_LONG_COMMAND = 60


def rich(text: str) -> str:
    """Plain catalogue text as Qt rich text: escaped, with `code` spans in a monospace font."""
    parts: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        parts.append(f"<code>{html.escape(match.group(1))}</code>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts).replace("\n", "<br>")


def plain(text: str) -> str:
    """Catalogue text without its backticks, for accessible names and the clipboard."""
    return _CODE_SPAN.sub(r"\1", text)


# Programs a fix step may tell the user to run. Backticks also mark file names, settings and
# configuration lines (`/etc/ssl/openssl.cnf`, `MinProtocol`, `ssl_protocols TLSv1.2;`); those
# get no Copy link: only a whole command that can be pasted and run does.
# fmt: off
_PROGRAMS = frozenset((
    "sudo", "openssl", "timedatectl", "chronyc", "w32tm", "net", "sc", "reg", "setx", "certutil",
    "netsh", "ipconfig", "nslookup", "date", "cat", "grep", "ss", "systemctl", "resolvectl", "ufw",
    "trust", "security", "update-crypto-policies", "update-ca-certificates", "update-ca-trust",
    "curl", "python", "python3", "py", "pip", "git", "node", "npm", "keytool", "java", "certbot",
    "nginx", "apachectl", "dig", "ping", "traceroute", "tracert", "powershell", "defaults",
    "networksetup", "scutil", "sntp", "systemsetup", "gsettings", "export", "handshake-doctor",
))
# fmt: on
_POWERSHELL_VERB_NOUN = re.compile(r"^[A-Z][a-z]+-[A-Z][A-Za-z]+$")


def is_command(text: str) -> bool:
    """Whether a backticked span is a whole command a user can paste and run."""
    first = text.split(maxsplit=1)[0] if text.split() else ""
    return (
        first in _PROGRAMS
        or bool(_POWERSHELL_VERB_NOUN.match(first))
        or (first.endswith(".msc") and " " not in text)
    )


def commands(text: str) -> list[str]:
    """The whole runnable commands among the backticked spans of one step, in order, once."""
    spans = (m.group(1) for m in _CODE_SPAN.finditer(text))
    return list(dict.fromkeys(span for span in spans if is_command(span)))


def wrapping_label(text: str = "", *, rich_text: bool = False) -> QLabel:
    """A label that wraps, can be selected with mouse and keyboard, and grows downwards."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich_text else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse
        | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    # A new policy would drop the height-for-width flag that makes layouts ask a wrapped label
    # for its height at the real width; without it they pad every wrapped line.
    policy.setHeightForWidth(True)
    label.setSizePolicy(policy)
    return label


def vertical_scroll(content: QWidget) -> QScrollArea:
    """A frameless area that scrolls `content` up and down only; its width follows the view."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(content)
    return scroll


def bold(label: QLabel, scale: float = 1.0) -> QLabel:
    font = QFont(label.font())
    font.setBold(True)
    if scale != 1.0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


class IconView(QWidget):
    """Paints a QIcon at its own size on every screen scale (a QLabel pixmap would blur)."""

    def __init__(self, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon_name: str | None = None
        self._size = size
        self.setFixedSize(size, size)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_icon(self, name: str | None) -> None:
        self._icon_name = name
        self.update()

    @property
    def icon_name(self) -> str | None:
        return self._icon_name

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self._size, self._size)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        if self._icon_name is None:
            return
        painter = QPainter(self)
        icons.icon(self._icon_name).paint(painter, self.rect())
        painter.end()


class StatusBadge(QWidget):
    """A traffic light: its own shape and a word, with the colour only repeating them."""

    def __init__(self, *, size: int = 20, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = "pending"
        self.word = ""
        self.shape = IconView(size)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        bold(self.label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.shape, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        # Screen readers read the word; the shape alone is decoration.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def set_status(
        self, status: str, word: str, accessible: str, align: Sequence[str] = ()
    ) -> None:
        """Show `status` (pass, warn, fail, skip, error or pending) with its translated `word`.

        `align` are the other words this badge may show, for a width that fits them all.
        """
        self.status = status
        self.word = word
        self.shape.set_icon(f"status-{status}")
        self.label.setText(word)
        # Every word of the set gets the same width, so the names after the badges line up.
        metrics = self.label.fontMetrics()
        self.label.setMinimumWidth(max(metrics.horizontalAdvance(w) for w in (word, *align)))
        self.setAccessibleName(accessible)
        self.shape.setAccessibleName(accessible)
        self.label.setAccessibleName(accessible)
        self._recolour()

    def _recolour(self) -> None:
        colour = theme.status_color(self.status, self.palette())
        palette = self.label.palette()
        palette.setColor(self.label.foregroundRole(), colour)
        self.label.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._recolour()


def all_status_words(lang: str) -> tuple[str, ...]:
    """Every status word of `lang`, for badges that line up whatever they say."""
    words = [catalogue.ui(f"status.{s}", lang=lang) for s in ("pass", "warn", "fail", "skip")]
    return (
        *words,
        catalogue.ui("status.error", lang=lang),
        catalogue.ui("gui_card.pending", lang=lang),
    )


def status_words(status: str, lang: str) -> tuple[str, str]:
    """The word of a status and the text a screen reader says for its badge."""
    if status == "pending":
        word = catalogue.ui("gui_card.pending", lang=lang)
    else:
        word = catalogue.ui(f"status.{status}", lang=lang)
    return word, catalogue.ui("gui_card.status_accessible", lang=lang, status=word)


class CopyButton(QToolButton):
    """Copies one piece of text to the clipboard and says so for a moment."""

    def __init__(self, text: str, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.payload = text
        self._lang = lang
        self.setIcon(icons.icon("copy"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoRaise(False)
        self._label()
        self.clicked.connect(self._on_clicked)

    def _label(self) -> None:
        self.setText(catalogue.ui("gui_card.copy", lang=self._lang))
        name = catalogue.ui("gui_card.copy_command", lang=self._lang, command=self.payload)
        self.setAccessibleName(name)
        self.setToolTip(name)

    @Slot()
    def _on_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.payload)
        self.setText(catalogue.ui("gui_card.copied", lang=self._lang))
        QTimer.singleShot(_COPIED_MS, self, self._label)


class FixSteps(QWidget):
    """Numbered steps; every command in a step gets its own line with a Copy button."""

    def __init__(self, steps: Sequence[str], lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps = tuple(steps)
        self.copy_buttons: list[CopyButton] = []
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(4)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        indent = self.fontMetrics().horizontalAdvance("00.") + 8
        for number, step in enumerate(self.steps, 1):
            row = QHBoxLayout()
            row.setSpacing(8)
            numeral = QLabel(f"{number}.")
            numeral.setFixedWidth(indent - 8)
            numeral.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            text = wrapping_label(rich(step), rich_text=True)
            text.setAccessibleName(plain(step))
            row.addWidget(numeral, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(text, 1)
            rows.addLayout(row)
            for command in commands(step):
                line = QHBoxLayout()
                line.setContentsMargins(indent, 0, 0, 0)
                code = wrapping_label(command)
                code.setFont(mono)
                long = len(command) > _LONG_COMMAND
                # A short command stays on one line; a long one wraps in the space there is.
                code.setWordWrap(long)
                button = CopyButton(command, lang)
                self.copy_buttons.append(button)
                # The button sits right after its command, not at the far edge of the window.
                where = Qt.AlignmentFlag.AlignTop if long else Qt.AlignmentFlag.AlignVCenter
                code.setAlignment(Qt.AlignmentFlag.AlignLeft | where)
                line.addWidget(code, 1 if long else 0)
                line.addWidget(button, 0, where)
                if not long:
                    line.addStretch(1)
                rows.addLayout(line)


class Section(QWidget):
    """A bold heading over a body widget."""

    def __init__(self, heading: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = bold(wrapping_label(heading))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(body)


class Doc:
    """Rich text built from catalogue texts: headings, paragraphs, numbered steps and tables.

    Every backticked command in a step gets a `copy:N` link right after it; `RichView` turns a
    click (or Enter on the focused link) into a copy.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.commands: list[str] = []
        self._parts: list[str | int] = []

    def heading(self, text: str) -> None:
        self._parts.append(
            f"<p style='margin-top:8px; margin-bottom:2px'><b>{html.escape(text)}</b></p>"
        )

    def para(self, text: str) -> None:
        paragraphs = "".join(
            f"<p style='margin:0 0 4px 0'>{rich(p)}</p>" for p in text.split("\n\n")
        )
        self._parts.append(paragraphs)

    def raw(self, markup: str) -> None:
        self._parts.append(markup)

    def copyable(self, payload: str, shown: str | None = None) -> None:
        """`shown` (default: `payload`) in a monospace font, then a link that copies `payload`."""
        self._parts.append(
            f"<code>{html.escape(payload if shown is None else shown)}</code>&nbsp;&nbsp;"
        )
        self._parts.append(len(self.commands))
        self.commands.append(payload)

    def steps(self, steps: Sequence[str]) -> None:
        self._parts.append("<ol style='margin-top:0; margin-bottom:0'>")
        for step in steps:
            self._parts.append(f"<li style='margin-bottom:3px'>{rich(step)}")
            for command in commands(step):
                self._parts.append("<br>")
                self.copyable(command)
            self._parts.append("</li>")
        self._parts.append("</ol>")

    def html(self, copied: int | None = None) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            key = "gui_card.copied" if part == copied else "gui_card.copy"
            word = html.escape(catalogue.ui(key, lang=self.lang))
            icon = f"<img src='{COPY_ICON_URL}' width='14' height='14'>"
            out.append(f"<a href='copy:{part}'>{icon}&nbsp;{word}</a>")
        return "".join(out)

    def text(self) -> str:
        """The document as plain text, as a screen reader would read it."""
        document = QTextDocument()
        document.setHtml(self.html())
        return document.toPlainText()


class RichView(QTextBrowser):
    """A `Doc` shown at its full height inside a card: one widget, however long the text.

    Dozens of wrapped labels cost a layout pass each; one document is laid out once, which
    keeps opening a card fast even while checks run on other threads.
    """

    copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Doc | None = None
        self._copied: int | None = None
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setOpenLinks(False)
        # Fingerprints and base64 have no spaces; they break anywhere rather than overflow.
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.document().setDocumentMargin(0)
        # Drawn at twice its size so that it stays sharp on high-DPI screens.
        image = icons.icon("copy").pixmap(QSize(28, 28)).toImage()
        self.document().addResource(
            QTextDocument.ResourceType.ImageResource, QUrl(COPY_ICON_URL), image
        )
        self.anchorClicked.connect(self._on_anchor_clicked)

    def set_doc(self, doc: Doc) -> None:
        self.doc = doc
        self._copied = None
        self._render()

    def commands(self) -> list[str]:
        return list(self.doc.commands) if self.doc else []

    def copy_command(self, index: int) -> None:
        """Copy command `index` to the clipboard, as a click on its link does."""
        if self.doc is None or not 0 <= index < len(self.doc.commands):
            return
        command = self.doc.commands[index]
        QGuiApplication.clipboard().setText(command)
        self._copied = index
        self._render()
        self.copied.emit(command)
        QTimer.singleShot(_COPIED_MS, self, self._on_copied_shown)

    @Slot()
    def _on_copied_shown(self) -> None:
        self._copied = None
        self._render()

    @Slot(QUrl)
    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() == "copy" and url.path().isdigit():
            self.copy_command(int(url.path()))

    def _render(self) -> None:
        self.setHtml(self.doc.html(self._copied) if self.doc else "")
        self._fit()

    def _fit(self) -> None:
        document = self.document()
        document.setTextWidth(max(self.viewport().width(), 100))
        height = int(document.size().height()) + 2
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._fit()
