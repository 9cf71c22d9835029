"""Fixtures for lab tests: the running lab (started once per session) and the CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.lab import scenarios
from tests.lab.nginx import nginx_available, require_nginx
from tests.lab.scenarios import Lab

CliRunner = Callable[[Sequence[str]], tuple[int, object | None, str]]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Every scenario's server, running until the session ends.

    nginx scenarios are started only when nginx is installed; asking `lab[name]` for one
    otherwise fails the test (or skips it when HD_ALLOW_MISSING_NGINX=1).
    """
    folder = tmp_path_factory.mktemp("lab")
    with scenarios.running_lab(folder, with_nginx=nginx_available()) as running:
        yield running


@pytest.fixture
def needs_nginx() -> None:
    """Fail (or, with HD_ALLOW_MISSING_NGINX=1, skip) a test that needs nginx when it is absent."""
    require_nginx()


@pytest.fixture(scope="session")
def run_cli() -> CliRunner:
    """`run_cli(args)` runs `python -m checks check ARGS` -> (exit code, JSON or None, stderr)."""
    return scenarios.run_cli
