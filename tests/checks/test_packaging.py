"""The catalogue loads identically from the source tree and from an installed wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from checks.present import catalogue

ROOT = Path(__file__).resolve().parents[2]
DUMP = (
    "import json; from checks import catalogue as c; "
    "print(json.dumps({l: [c.finding_texts(l), c.ui_texts(l)] for l in c.LANGUAGES}, "
    "sort_keys=True))"
)


def test_wheel_ships_every_resource_and_loads_the_same_texts(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    wheel = next((tmp_path / "dist").glob("handshake_doctor-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    shipped = {p.relative_to(site).as_posix() for p in (site / "resources").rglob("*.toml")}
    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob("*.toml")}
    assert shipped == in_tree
    done = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    from_wheel = json.loads(done.stdout)
    from_source = json.loads(
        json.dumps(
            {
                lang: [catalogue.finding_texts(lang), catalogue.ui_texts(lang)]
                for lang in catalogue.LANGUAGES
            },
            sort_keys=True,
        )
    )
    assert from_wheel == from_source
