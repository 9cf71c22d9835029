"""Every lab scenario, diagnosed through the real CLI, reports exactly its finding and verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from tests.lab import farm as farm_module
from tests.lab import scenarios
from tests.lab.conftest import CliRunner

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))
PROBLEMS = scenarios.names(healthy=False)
HEALTHY = scenarios.names(healthy=True)
# Each scenario on its own port in the lab, and each certificate scenario again by name on the
# farm's shared port (one nginx, many names, the certificate chosen by SNI).
FARM = farm_module.CERT_SCENARIOS


def _where(names: list[str]) -> list[object]:
    return [
        *(pytest.param("lab", name, id=name) for name in names),
        *(pytest.param("farm", name, id=f"farm-{name}") for name in names if name in FARM),
    ]


def _run(
    request: pytest.FixtureRequest, run_cli: CliRunner, where: str, name: str
) -> tuple[str | None, tuple[int, object | None, str]]:
    """The expected finding of scenario `name` and the CLI's answer, `--only target`."""
    place: scenarios.Lab | farm_module.Farm = request.getfixturevalue(where)
    return place[name].expected, run_cli(place.cli_args(name))


def unlabelled_facts(report: dict[str, object]) -> set[str]:
    """`check.key` of every measured value without a label in a shipped language."""
    from checks.present import catalogue, measured

    missing: set[str] = set()
    for check in report["checks"]:  # type: ignore[attr-defined]
        for key in measured.field_keys(check["facts"]):
            for lang in catalogue.LANGUAGES:
                if not measured.has_label(check["id"], key, lang):
                    missing.add(f"{check['id']}.{key} ({lang})")
    return missing


def _problem_ids(report: dict[str, object]) -> set[str]:
    return {
        finding["id"]
        for check in report["checks"]  # type: ignore[attr-defined]
        for finding in check["findings"]
        if finding["status"] in ("warn", "fail")
    }


@pytest.mark.lab
@pytest.mark.parametrize(("where", "name"), _where(PROBLEMS))
def test_a_broken_scenario_reports_its_finding_and_the_verdict_names_it(
    request: pytest.FixtureRequest, run_cli: CliRunner, where: str, name: str
) -> None:
    expected, (code, report, stderr) = _run(request, run_cli, where, name)
    assert report is not None, stderr
    jsonschema.validate(report, SCHEMA)
    assert unlabelled_facts(report) == set()
    assert _problem_ids(report) == {expected}, json.dumps(report["checks"], indent=1)[:3000]
    verdict = report["verdict"]
    if verdict["connects"] and verdict["finding"] is None:
        # It matters only to other clients or later: the site connects, and it is named first
        # among what is left to improve.
        assert verdict["left"][0] == expected
        assert verdict["status"] == "pass"
    else:
        assert verdict["finding"] == expected
    assert code in (1, 2)


@pytest.mark.lab
@pytest.mark.parametrize(("where", "name"), _where(HEALTHY))
def test_a_healthy_scenario_is_all_green(
    request: pytest.FixtureRequest, run_cli: CliRunner, where: str, name: str
) -> None:
    _, (code, report, stderr) = _run(request, run_cli, where, name)
    assert report is not None, stderr
    assert unlabelled_facts(report) == set()
    assert _problem_ids(report) == set(), json.dumps(report["checks"], indent=1)[:3000]
    assert report["verdict"]["status"] == "pass"
    assert code == 0
    assert {c["status"] for c in report["checks"]} == {"pass"}


@pytest.mark.lab
def test_a_server_that_never_speaks_is_reported_within_the_timeout(
    lab: scenarios.Lab, run_cli: CliRunner
) -> None:
    started = time.monotonic()
    _, report, _ = run_cli(lab.cli_args("silent"))
    assert report is not None
    tls = next(c for c in report["checks"] if c["id"] == "tls")
    assert tls["findings"][0]["id"] == "tls.timeout"
    assert tls["duration_s"] < 3  # --connect-timeout 2
    assert time.monotonic() - started < 15
