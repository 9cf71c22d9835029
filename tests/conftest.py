"""Test-wide setup: Qt renders offscreen before any QApplication exists, and off Linux the tests
that need Linux are skipped, each saying what is missing (tests/platforms.py decides which)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.platforms import MARKERS, PLATFORM_SKIPS, skip_reason

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests must never depend on the developer's locale or colour settings.
os.environ["LANG"] = "C.UTF-8"
os.environ.pop("LC_ALL", None)
os.environ.pop("LC_MESSAGES", None)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml, so that they live next to the hook that reads them.
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)


# First, so that `-m skip` and deselection by other plugins see the markers added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skipped = config.stash.setdefault(PLATFORM_SKIPS, [])
    for item in items:
        reason = skip_reason(item.path.resolve(), item.iter_markers(), sys.platform)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
            skipped.append(item.nodeid)
