"""Fixtures for window tests: a private settings store, the window, and a small TLS lab."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from checks.core.config import Settings
from gui.main_window import MainWindow
from tests.gui.helpers import GuiLab, LabSite, WindowFactory, lab_settings
from tests.lab import pki
from tests.lab.servers import SilentServer, TLSServer


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path) -> Iterator[Path]:
    """Every test gets an empty settings store in its own folder, never the user's config."""
    folder = tmp_path / "qsettings"
    folder.mkdir()
    previous = QSettings.defaultFormat()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
    QSettings.setDefaultFormat(previous)


@pytest.fixture(scope="session")
def gui_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuiLab]:
    """A good site, an expired one, a wrong-name one and a silent port, for the whole session."""
    folder = tmp_path_factory.mktemp("gui-lab")
    root = pki.root("Handshake Doctor GUI Lab Root")
    inter = pki.intermediate("Handshake Doctor GUI Lab Intermediate", root)
    root_pem = pki.write_certs(folder / "root.pem", [root])
    chains = {
        "good": (pki.leaf("good.lab.test", inter), inter),
        "expired": (
            pki.leaf(
                "expired.lab.test",
                inter,
                not_before=pki.NOW - 100 * pki.DAY,
                not_after=pki.NOW - 10 * pki.DAY,
            ),
            inter,
        ),
        "wrong_host": (pki.leaf("other.lab.test", inter), inter),
    }
    servers: list[TLSServer] = []
    sites: dict[str, LabSite] = {}
    silent = SilentServer().start()
    try:
        for name, chain in chains.items():
            cert, key = pki.write_chain(folder / "certs", name, chain)
            server = TLSServer(cert, key).start()
            servers.append(server)
            host = f"{name.replace('_', '-')}.lab.test"
            settings = lab_settings(root_pem, host, server.port)
            sites[name] = LabSite(host, server.port, settings, chain)
        yield GuiLab(root_pem, folder, sites, silent.port, chains)
    finally:
        for server in servers:
            server.stop()
        silent.stop()


@pytest.fixture
def make_window(qtbot: QtBot) -> Iterator[WindowFactory]:
    """`make_window(settings, **changes)` builds and shows a window; teardown waits for it."""
    windows: list[MainWindow] = []

    def make(settings: Settings | None = None, **changes: object) -> MainWindow:
        base = settings or Settings(lang="en", connect_timeout=1.0, offline=True)
        window = MainWindow(dataclasses.replace(base, **changes))  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        assert window.runner.shutdown(2000)


@pytest.fixture
def window(make_window: WindowFactory) -> MainWindow:
    return make_window()
