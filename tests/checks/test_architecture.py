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


# The layers of checks/ and who may import whom (README "Architecture"). "third-party" is any
# installed package that is neither the standard library nor this project.
CORE, LIB, PRESENT = "checks.core", "checks.lib", "checks.present"
CHECK_MODULES = {
    f"checks.{name}"
    for name in (
        "captive_portal", "clock", "trust_store", "proxy", "interception", "security_software",
        "client_policy", "programs", "dns", "tcp", "starttls", "tls", "certificate",
        "revocation", "protocols",
    )
}  # fmt: skip
ALLOWED: dict[str, tuple[str, ...]] = {
    # idna holds Unicode's tables for host names: target parsing needs them, nothing else.
    CORE: (CORE, "idna"),
    LIB: (CORE, LIB, "third-party"),
    PRESENT: (CORE, PRESENT),
    "check": (CORE, LIB, "third-party"),
    "checks.diagnosis": (CORE,),
    "checks.engine": (CORE, "checks.diagnosis"),
    "checks.registry": (CORE, "checks.engine", "check"),
    # The window shows what core and present give it; its diagnosis process runs the engine.
    "gui": (CORE, PRESENT, "gui", "gui.worker", "gui.launcher", "PySide6"),
    "gui.worker": (CORE, PRESENT, "checks.engine", "checks.registry", "checks.inspect"),
    # The one command: the window, or the headless CLI when given arguments.
    "gui.launcher": (CORE, PRESENT, "gui", "checks.cli"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    if module in CHECK_MODULES:
        return "check"
    for name in ("checks.core", "checks.lib", "checks.present", "gui.worker", "gui.launcher"):
        if module == name or module.startswith(name + "."):
            return name
    if module.startswith("gui"):
        return "gui"
    return module


def _kind(imported: str) -> str:
    top = imported.split(".", maxsplit=1)[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return "stdlib"
    if top in ("checks", "gui"):
        return _layer(imported)
    if top in ("PySide6", "shiboken6", "idna"):
        return top
    return "third-party"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "checks":  # `from checks import tls` imports checks.tls
                found.update(f"checks.{alias.name}" for alias in node.names)
    return found


def test_every_layer_imports_only_what_it_may() -> None:
    broken: list[str] = []
    paths = [*(ROOT / "checks").rglob("*.py"), *(ROOT / "gui").rglob("*.py")]
    for path in paths:
        layer = _layer(_module(path))
        if layer not in ALLOWED:
            continue  # the CLI and the package roots may use every layer
        for imported in _imports(path):
            kind = _kind(imported)
            if kind != "stdlib" and kind not in ALLOWED[layer] and imported != "checks":
                broken.append(f"{_module(path)} ({layer}) imports {imported} ({kind})")
    assert broken == []


def test_no_module_in_checks_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in (ROOT / "checks").rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
