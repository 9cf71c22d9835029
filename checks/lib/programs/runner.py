"""Runs other programs in a chosen environment: found on its PATH, speaking English."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from checks.lib.system import CommandResult, run_command


def which(name: str, environ: Mapping[str, str]) -> str | None:
    """`name` looked up on the PATH of `environ` (not necessarily ours)."""
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def english(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` in the C locale, so that the parsers read English messages."""
    env = {k: v for k, v in environ.items() if k not in ("LANGUAGE", "LC_MESSAGES")}
    env.update(LC_ALL="C", LANG="C")
    return env


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cancel: threading.Event,
    environ: Mapping[str, str],
    cwd: Path | None = None,
) -> CommandResult:
    """`argv` run with `environ` exactly (see `checks.lib.system.run_command`)."""
    return run_command(argv, timeout=timeout, cancel=cancel, environ=environ, cwd=cwd)
