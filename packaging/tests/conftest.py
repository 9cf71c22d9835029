"""Fixtures: a GitHub workflow step run here exactly as written, and a checkout to run it in."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load_workflow(name: str) -> Any:
    """The workflow as data (PyYAML, else Debian's python3-yaml through the system Python)."""
    path = WORKFLOWS / name
    try:
        import yaml
    except ImportError:
        script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
        done = subprocess.run(
            ["/usr/bin/python3", "-c", script, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def step_script(workflow: str, job: str, name: str) -> str:
    """The `run` script of `job`'s step called `name`, as written."""
    steps = load_workflow(workflow)["jobs"][job]["steps"]
    matching = [step for step in steps if step.get("name") == name]
    assert len(matching) == 1, f"{workflow}: job {job} has {len(matching)} steps named {name!r}"
    return str(matching[0]["run"])


def run_step(
    workflow: str,
    job: str,
    name: str,
    cwd: Path,
    *,
    expressions: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Runs the step's script with bash -eo pipefail, as GitHub's `shell: bash` does.

    `expressions` replaces each `${{ ... }}` the script holds (the key is the text inside the
    braces, e.g. "matrix.name"); an expression left unreplaced fails the test rather than running
    as literal text.
    """
    script = step_script(workflow, job, name)
    for expression, value in (expressions or {}).items():
        script = script.replace("${{ " + expression + " }}", value)
    assert "${{" not in script, f"{name}: unreplaced expression in {script!r}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Workflows:
    """What the `workflows` fixture gives (test modules cannot import conftest under importlib)."""

    root = ROOT
    load = staticmethod(load_workflow)
    script = staticmethod(step_script)
    run = staticmethod(run_step)


@pytest.fixture
def workflows() -> Workflows:
    return Workflows()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what a workflow's checkout holds for packaging: packaging/, the version file and
    pyproject.toml, with an empty dist/ (tests lay out the build they need)."""
    import shutil

    shutil.copytree(ROOT / "packaging", tmp_path / "packaging", ignore=shutil.ignore_patterns(
        "__pycache__"))  # fmt: skip
    (tmp_path / "checks" / "core").mkdir(parents=True)
    shutil.copy2(ROOT / "checks" / "core" / "version.py", tmp_path / "checks" / "core")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "dist").mkdir()
    return tmp_path
