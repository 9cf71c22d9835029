"""Fixtures for lab tests: the running lab (started once per session) and the CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.lab import scenarios
from tests.lab.farm import Farm, running_farm
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


@pytest.fixture(scope="session")
def farm(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """One nginx serving every certificate scenario by name on shared ports, until the session ends.

    Needs nginx: fails the test without it (skips it when HD_ALLOW_MISSING_NGINX=1).
    """
    require_nginx()
    with running_farm(lab, tmp_path_factory.mktemp("farm")) as running:
        yield running


@pytest.fixture(scope="session")
def clean_cli(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> CliRunner:
    """Like `run_cli`, on a clean computer: its store holds Mozilla's roots and the lab root,
    which is also in the public set it compares with (its own `--known-roots`, given last,
    wins), whatever roots this machine has added; see `clean_machine`."""
    import certifi

    from tests.lab import clean_machine

    folder = tmp_path_factory.mktemp("clean-machine")
    public = folder / "public-roots.pem"
    public.write_bytes(Path(certifi.where()).read_bytes() + lab.root_pem.read_bytes())
    clean_machine.prepare(folder, public)
    return lambda args: clean_machine.run_cli(folder, [*args, "--known-roots", str(public)])


@pytest.fixture(scope="session")
def probe() -> Iterator[str]:
    """A captive-portal probe answered as on an open network."""
    from tests.lab.servers import NO_CONTENT, CannedServer

    with CannedServer(NO_CONTENT) as server:
        yield f"http://127.0.0.1:{server.port}/generate_204"


@pytest.fixture(scope="session")
def ntp() -> Iterator[str]:
    """A network time server on loopback, as `--ntp-server` takes it."""
    from tests.lab.ntp_server import NtpServer

    with NtpServer() as server:
        yield server.spec


def loopback_options(lab: Lab, probe: str, ntp: str) -> list[str]:
    """Options that keep a whole diagnosis, local checks included, on loopback."""
    return ["--canary", lab["ip_san"].target, "--portal-probe", probe, "--ntp-server", ntp]


@pytest.fixture(scope="session")
def loopback(lab: Lab, probe: str, ntp: str) -> list[str]:
    """`loopback_options` with the open network's portal probe."""
    return loopback_options(lab, probe, ntp)
