"""Which tests need Linux (or any POSIX system), and why: tests/conftest.py skips them elsewhere."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Whole folders that only the Linux CI can run: every test in them needs what is named here.
LINUX_ONLY_FOLDERS = {
    TESTS / "lab": (
        "needs the Debian lab servers (nginx, chrony, dovecot, slapd, PostgreSQL, mitmproxy), "
        "faketime, the openssl and curl programs and private mount namespaces, installed and "
        "run as root only on the Linux CI"
    ),
    TESTS / "field": (
        "builds its networks in Linux network namespaces (unshare, ip) as root, with the "
        "Debian lab servers; runs only on the Linux CI"
    ),
}

# The node ids a run skipped for its platform (tests/conftest.py fills it, tests read it).
PLATFORM_SKIPS = pytest.StashKey[list[str]]()

# The markers a single test carries to say what it needs; each takes one reason.
MARKERS = {
    "linux_only": "linux_only(reason): needs Linux; skipped on Windows and macOS with the reason",
    "posix_only": "posix_only(reason): needs a POSIX system; skipped on Windows with the reason",
}


def marker_reason(mark: pytest.Mark) -> str:
    """The reason a `linux_only` or `posix_only` mark gives; a mark without one is a mistake."""
    reason = mark.args[0] if len(mark.args) == 1 and not mark.kwargs else None
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"@pytest.mark.{mark.name} takes one reason, e.g. what is missing")
    return reason


def skip_reason(path: Path, marks: Iterable[pytest.Mark], platform: str) -> str | None:
    """Why the test at `path` carrying `marks` cannot run on `platform` (a `sys.platform`
    value), or None when it can. On Linux this is None for every test: the Linux CI runs all."""
    reasons: dict[str, str] = {}
    for mark in marks:  # nearest first: a test's own mark wins over its module's
        if mark.name in MARKERS:
            reasons.setdefault(mark.name, marker_reason(mark))
    if platform.startswith("linux"):
        return None
    for folder, reason in LINUX_ONLY_FOLDERS.items():
        if path.is_relative_to(folder):
            return reason
    if "linux_only" in reasons:
        return reasons["linux_only"]
    if "posix_only" in reasons and platform.startswith("win"):
        return reasons["posix_only"]
    return None
