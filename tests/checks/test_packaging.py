"""The catalogue loads identically from the source tree and from an installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from checks.present import catalogue

ROOT = Path(__file__).resolve().parents[2]
# The environment is otherwise empty, so the wheel cannot lean on this checkout; Windows' Python
# cannot start without SYSTEMROOT (its random numbers come from the system's library).
SYSTEM_ONLY = {name: os.environ[name] for name in ("SYSTEMROOT",) if name in os.environ}
DUMP = (
    "import json; from checks.present import catalogue as c; "
    "print(json.dumps({l: [dict(c.finding_texts(l)), dict(c.ui_texts(l))] for l in c.LANGUAGES}, "
    "sort_keys=True))"
)
# Every module of the engine imports from the wheel (the window's need Qt, present here too).
IMPORT_ALL = (
    "import importlib, pkgutil, checks, gui\n"
    "for package in (checks, gui):\n"
    "    for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
    "        if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
    "print('ok')\n"
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
    for pattern in ("*.toml", "*.json"):
        shipped = {p.relative_to(site).as_posix() for p in (site / "resources").rglob(pattern)}
        in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob(pattern)}
        assert shipped == in_tree
    packages = {p.parent.relative_to(ROOT) for p in ROOT.glob("[cg]*/**/__init__.py")}
    assert packages == {p.parent.relative_to(site) for p in site.glob("[cg]*/**/__init__.py")}
    imported = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=tmp_path,
        env={**SYSTEM_ONLY, "PYTHONPATH": str(site), "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.stdout.strip() == "ok", imported.stderr
    done = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=tmp_path,
        env={**SYSTEM_ONLY, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    from_wheel = json.loads(done.stdout)
    from_source = json.loads(
        json.dumps(
            {
                lang: [dict(catalogue.finding_texts(lang)), dict(catalogue.ui_texts(lang))]
                for lang in catalogue.LANGUAGES
            },
            sort_keys=True,
        )
    )
    assert from_wheel == from_source
