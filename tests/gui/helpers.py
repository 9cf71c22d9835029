"""Helpers shared by the window tests: lab sites, a window factory type and run-to-end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytestqt.qtbot import QtBot

from checks.core.config import Resolve, Settings
from gui.main_window import MainWindow
from tests.lab import pki

WindowFactory = Callable[..., MainWindow]


@dataclass(frozen=True)
class LabSite:
    """A TLS server on loopback reached by a lab host name, and settings that trust its root."""

    host: str
    port: int
    settings: Settings
    chain: tuple[pki.Issued, ...]

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class GuiLab:
    """The servers of the window tests and the files that go with them."""

    root_pem: Path
    folder: Path
    sites: dict[str, LabSite]
    silent_port: int
    chains: Mapping[str, tuple[pki.Issued, ...]]


def lab_settings(root_pem: Path, host: str, port: int) -> Settings:
    """Target checks only, against the lab root, with `host` pinned to loopback."""
    return Settings(
        lang="en",
        connect_timeout=2.0,
        check_deadline=8.0,
        cacert=root_pem,
        known_roots=root_pem,
        resolve=(Resolve(host, port, "127.0.0.1"),),
        only="target",
        offline=True,
    )


def run_to_end(qtbot: QtBot, window: MainWindow, target: str, timeout: int = 9000) -> None:
    """Type `target`, press Enter and wait for the run to finish."""
    window.target_edit.clear()
    qtbot.keyClicks(window.target_edit, target)
    with qtbot.waitSignal(window.runner.run_finished, timeout=timeout):
        qtbot.keyClick(window.target_edit, "\r")


def assert_statuses(window: MainWindow, **expected: str) -> None:
    """The named cards show these statuses (other checks may exist as the registry grows)."""
    from gui.cards import statuses

    shown = statuses(window.cards)
    assert {name: shown.get(name) for name in expected} == expected, shown
