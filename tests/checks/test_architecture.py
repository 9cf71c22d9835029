"""Layer rules: the engine never loads Qt, and every module says what it is for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_checks_and_running_the_cli_never_loads_qt() -> None:
    code = (
        "import sys, pkgutil, importlib, checks\n"
        "for m in pkgutil.walk_packages(checks.__path__, 'checks.'):\n"
        "    if m.name != 'checks.__main__': importlib.import_module(m.name)\n"
        "import gui.launcher\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == ""


def test_headless_check_command_does_not_load_qt() -> None:
    code = (
        "import sys\n"
        "from gui.launcher import main\n"
        "main(['check', '--only', 'local', '--offline', '--json'])\n"
        "sys.stderr.write(str(any(m.startswith('PySide6') for m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr.strip().endswith("False"), done.stderr


def test_no_module_in_checks_imports_qt() -> None:
    for path in (ROOT / "checks").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in ("PySide6", "gui") for n in names), path


def test_every_module_has_a_one_sentence_docstring() -> None:
    for folder in ("checks", "gui", "resources", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "conftest.py" and path.stat().st_size == 0:
                continue
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert docstring, f"{path} has no module docstring"
            assert docstring.strip().endswith("."), f"{path}: docstring should be a sentence"
