"""A working day in one window: 50 diagnoses in a row, typed into the real window under X."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests import soak

pytestmark = [
    pytest.mark.lab,
    pytest.mark.linux_only(
        "drives the real window on a private Xvfb display with xdotool and xclip (X11 tools, "
        "installed only on the Linux CI)"
    ),
]
ROOT = Path(__file__).resolve().parents[2]
RUNS = 50


# Each diagnosis of the healthy server also runs the programs found here (curl, Node, Java …)
# against it: fifty runs take longer than the suite's default two minutes.
@pytest.mark.timeout(300)
def test_fifty_diagnoses_in_a_row_keep_the_window_alive_right_and_flat(tmp_path: Path) -> None:
    missing = soak.missing_tools()
    assert not missing, f"install {missing} (packaging/install-system-packages.sh test)"
    samples, code = soak.soak([sys.executable, "-m", "gui"], tmp_path, RUNS, ROOT)
    print(soak.figures(samples))
    assert len(samples) == RUNS
    assert soak.problems(samples) == []
    assert code == 0
