"""Off Linux the tests that need Linux are skipped, saying why, and on Linux none is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.platforms import LINUX_ONLY_FOLDERS, PLATFORM_SKIPS, TESTS, skip_reason

ROOT = TESTS.parent
LAB_REASON = LINUX_ONLY_FOLDERS[TESTS / "lab"]
FIELD_REASON = LINUX_ONLY_FOLDERS[TESTS / "field"]
PLAIN = TESTS / "checks" / "test_cli.py"
LINUX_ONLY = pytest.mark.linux_only("needs unshare").mark
POSIX_ONLY = pytest.mark.posix_only("needs a pty").mark


@pytest.mark.parametrize(
    ("path", "marks"),
    [
        (TESTS / "lab" / "test_farm.py", []),
        (TESTS / "field" / "test_field.py", []),
        (PLAIN, [LINUX_ONLY]),
        (PLAIN, [POSIX_ONLY]),
        (PLAIN, [pytest.mark.lab.mark]),
        (PLAIN, []),
    ],
)
def test_on_linux_no_test_is_skipped_for_the_platform(path: Path, marks: list[pytest.Mark]) -> None:
    assert skip_reason(path, marks, "linux") is None


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_elsewhere_the_lab_and_the_field_matrix_are_skipped_saying_what_is_missing(
    platform: str,
) -> None:
    assert skip_reason(TESTS / "lab" / "test_farm.py", [], platform) == LAB_REASON
    assert skip_reason(TESTS / "field" / "test_field.py", [], platform) == FIELD_REASON
    assert "nginx" in LAB_REASON
    assert "network namespaces" in FIELD_REASON
    # The `lab` marker alone is no reason: the window's tests use it for Python servers.
    assert skip_reason(PLAIN, [pytest.mark.lab.mark], platform) is None
    assert skip_reason(PLAIN, [], platform) is None


def test_a_marked_test_is_skipped_only_where_it_cannot_run() -> None:
    assert skip_reason(PLAIN, [LINUX_ONLY], "darwin") == "needs unshare"
    assert skip_reason(PLAIN, [LINUX_ONLY], "win32") == "needs unshare"
    assert skip_reason(PLAIN, [POSIX_ONLY], "win32") == "needs a pty"
    assert skip_reason(PLAIN, [POSIX_ONLY], "darwin") is None
    # The test's own mark comes first (iter_markers order) and wins over its module's.
    module_mark = pytest.mark.linux_only("the module's reason").mark
    assert skip_reason(PLAIN, [LINUX_ONLY, module_mark], "win32") == "needs unshare"


@pytest.mark.parametrize(
    "mark",
    [
        pytest.mark.linux_only.mark,
        pytest.mark.linux_only("").mark,
        pytest.mark.posix_only(reason="keyword").mark,
        pytest.mark.posix_only("one", "two").mark,
    ],
)
def test_a_mark_without_one_reason_is_refused_on_every_platform(mark: pytest.Mark) -> None:
    with pytest.raises(pytest.UsageError, match="takes one reason"):
        skip_reason(PLAIN, [mark], "linux")


def test_this_run_skips_nothing_on_linux(request: pytest.FixtureRequest) -> None:
    """The hook ran over this session's tests (all of them in the CI's full run)."""
    skipped = request.config.stash[PLATFORM_SKIPS]
    if sys.platform.startswith("linux"):
        assert skipped == []
    else:
        assert request.node.nodeid not in skipped


# The hook as on another system: pytest collects with `skip_reason` told that platform, and
# `-m skip` keeps only the tests the hook marked skip (it runs before pytest's own selection).
_COLLECT_AS = """
import sys
import pytest
from tests import platforms
real = platforms.skip_reason
platforms.skip_reason = lambda path, marks, _: real(path, marks, sys.argv[1])
options = ["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "skip"]
sys.exit(pytest.main([*options, *sys.argv[2:]]))
"""
SAMPLE = [
    "tests/lab/test_farm.py",
    "tests/field/test_field.py",
    "tests/checks/test_programs_lib.py",
    "tests/hostile/test_broken_networks.py",
    "tests/test_platforms.py",
]


def _skipped_as_on(platform: str) -> set[str]:
    """The node ids of SAMPLE that the conftest hook skips, as it would on `platform`."""
    done = subprocess.run(
        [sys.executable, "-c", _COLLECT_AS, platform, *SAMPLE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # 0: some tests were selected; 5: none was.
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_the_hook_skips_nothing_on_linux_and_the_linux_parts_elsewhere() -> None:
    assert _skipped_as_on("linux") == set()
    on_windows = _skipped_as_on("win32")
    on_macos = _skipped_as_on("darwin")
    for skipped in (on_windows, on_macos):
        assert any(n.startswith("tests/lab/test_farm.py::") for n in skipped)
        assert any(n.startswith("tests/field/test_field.py::") for n in skipped)
        assert any(n.startswith("tests/hostile/test_broken_networks.py::") for n in skipped)
        assert not any(n.startswith("tests/test_platforms.py::") for n in skipped)
    fake_curl = "tests/checks/test_programs_lib.py::test_discover_reads_a_fake_curl_on_path"
    assert fake_curl in on_windows
    assert fake_curl not in on_macos
    assert not any("test_trust_gaps_of_a_bundle" in n for n in on_windows)
