"""Fixtures: a GitHub workflow step run here exactly as written, and a checkout to run it in."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


@functools.cache  # read once per run: every step a test runs looks its script up in it
def load_workflow(name: str) -> Any:
    """The workflow as data (callers only read it)."""
    with (WORKFLOWS / name).open(encoding="utf-8") as handle:
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


def step_condition(condition: str, env: Mapping[str, str]) -> bool:
    """A step's `if:` as the runner reads it, for the forms the workflows use: runner.os and
    env.NAME compared with == and != to quoted strings, joined by && and ||, and the status
    functions (always(), success(): the steps before have passed here)."""
    text = condition.removeprefix("${{").removesuffix("}}").strip()
    text = re.sub(r"\b(always|success)\(\)", "True", text)
    text = re.sub(r"\bstartsWith\(", "_startswith(", text)
    text = re.sub(r"\brunner\.os\b", "_env.get('RUNNER_OS', '')", text)
    text = re.sub(r"\benv\.(\w+)", r"_env.get('\1', '')", text)
    text = text.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\w\s'.,()=!_\-]*", text), f"an `if:` this test cannot read: {condition}"
    names = {"_env": env, "_startswith": str.startswith, "True": True, "__builtins__": {}}
    return bool(eval(text, names))  # the workflow's own condition, in the form checked above


def run_steps(
    workflow: str,
    job: str,
    names: list[str],
    cwd: Path,
    *,
    expressions: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Runs steps in order as the runner does: what a step appends to $GITHUB_ENV is in the
    environment of the steps after it. Fails on the first step that fails; returns the
    environment the steps built up."""
    github_env = cwd / ".github-env"
    github_env.touch()
    built: dict[str, str] = {
        "GITHUB_ENV": str(github_env),
        "RUNNER_TEMP": str(cwd / ".runner-temp"),
    }
    Path(built["RUNNER_TEMP"]).mkdir(exist_ok=True)
    built.update(env or {})
    steps = {step.get("name"): step for step in load_workflow(workflow)["jobs"][job]["steps"]}
    for name in names:
        if not step_condition(str(steps[name].get("if", "success()")), built):
            built[f"SKIPPED {name}"] = "yes"
            continue
        done = run_step(workflow, job, name, cwd, expressions=expressions, env=built)
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        built[f"STDOUT {name}"] = done.stdout
        for line in github_env.read_text("utf-8").splitlines():
            key, _, value = line.partition("=")
            built[key] = value
    return built


class Workflows:
    """What the `workflows` fixture gives (test modules cannot import conftest under importlib)."""

    root = ROOT
    load = staticmethod(load_workflow)
    script = staticmethod(step_script)
    run = staticmethod(run_step)
    run_steps = staticmethod(run_steps)


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


@pytest.fixture
def signing(tmp_path: Path) -> Iterator[Any]:
    """signing_lab.SigningLab: a code-signing certificate and a timestamp server on loopback."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "signing_lab", Path(__file__).parent / "signing_lab.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["signing_lab"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    folder = tmp_path / "signing-lab"
    folder.mkdir()
    with module.signing_lab(folder) as lab:
        yield lab
