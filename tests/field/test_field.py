"""The whole product, local checks on, in the networks users are in, against real loopback sites:
every cell of the matrix gives the verdict written by hand in tests/field/expected.md."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

import pytest

from tests.field import matrix, world
from tests.lab.test_target_scenarios import unlabelled_facts

pytestmark = pytest.mark.lab
NEEDED = {
    "unshare": "util-linux",
    "ip": "iproute2",
    "chronyd": "chrony",
    "mitmdump": "mitmproxy",
    "faketime": "faketime",
}
EXPECTED = matrix.expected_table()
CELLS = sorted(EXPECTED)

# What each network must look like from the local checks, written by hand: proof that the
# environment is the one its name says. (check id, finding id that must be among its findings)
LOOKS_LIKE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "online": (("clock", "clock.ok"), ("interception", "interception.none"),
               ("captive_portal", "captive_portal.none"), ("trust_store", "truststore.ok")),
    "offline": (("clock", "clock.unverified"), ("interception", "interception.not_checked"),
                ("captive_portal", "captive_portal.not_checked")),
    "intranet_silent": (("clock", "clock.unverified"),
                        ("interception", "interception.not_checked")),
    "intranet_refused": (("clock", "clock.unverified"),
                         ("interception", "interception.not_checked")),
    "intranet_unresolved": (("clock", "clock.unverified"),
                            ("interception", "interception.not_checked")),
    # Only the proxy leads out: the time comes from websites' Date through it.
    "proxy_env": (("clock", "clock.ok"), ("interception", "interception.none"),
                  ("proxy", "proxy.configured"), ("captive_portal", "captive_portal.not_checked")),
    "proxy_pac": (("clock", "clock.ok"), ("interception", "interception.none"),
                  ("proxy", "proxy.configured")),
    "clock_behind": (("clock", "clock.skew"),),
    "clock_ahead": (("clock", "clock.skew"),),
    "interception": (("interception", "interception.detected"),),
    "portal": (("captive_portal", "captive_portal.detected"),),
}  # fmt: skip


@pytest.fixture(scope="session")
def field(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, object]]:
    """Every cell, run once for the session: environments in parallel, each in a namespace."""
    missing = [f"{p} ({pkg})" for p, pkg in NEEDED.items() if shutil.which(p) is None]
    assert not missing, f"install {missing}: packaging/install-system-packages.sh test"
    assert os.geteuid() == 0, "the field matrix builds network namespaces: run it as root"
    cells = matrix.run_all(tmp_path_factory.mktemp("field"))
    return {(str(c["env"]), str(c["fault"])): c for c in cells}


def _finding_ids(report: Mapping[str, object], check_id: str) -> set[str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {f["id"] for c in checks if c["id"] == check_id for f in c["findings"]}


# The first cell waits for the whole matrix (the session fixture), which runs every program
# found here against each site as well: more than the suite's default two minutes.
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("env", "fault"), CELLS, ids=[f"{e}-{f}" for e, f in CELLS])
def test_each_cell_gives_its_expected_verdict(
    field: dict[tuple[str, str], dict[str, object]], env: str, fault: str
) -> None:
    cell = field[(env, fault)]
    assert "setup_error" not in cell, cell.get("setup_error")
    report = cell["report"]
    assert isinstance(report, dict), cell
    assert "Traceback" not in str(cell["stderr"])
    assert cell["exit"] in (0, 1, 2)
    assert matrix.observed(report) == EXPECTED[(env, fault)], report["verdict"]
    for check_id, finding_id in LOOKS_LIKE[env]:
        assert finding_id in _finding_ids(report, check_id), (check_id, finding_id)
    assert unlabelled_facts(report) == set()


def test_the_table_covers_every_environment_and_fault() -> None:
    assert {e for e, _ in EXPECTED} == set(world.ENVIRONMENTS)
    assert {f for _, f in EXPECTED} == set(world.FAULTS)
    assert set(LOOKS_LIKE) == set(world.ENVIRONMENTS)
