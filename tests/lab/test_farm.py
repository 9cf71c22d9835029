"""A shared host serving many names on one port is diagnosed per name, as the window runs it."""

from __future__ import annotations

import json

import pytest

from checks.registry import ENTRIES
from tests.lab import farm as farm_module
from tests.lab.conftest import CliRunner
from tests.lab.farm import Farm
from tests.lab.scenarios import Lab

pytestmark = pytest.mark.lab

# Healthy names on the shared port, and Mozilla's modern and intermediate profiles (own ports).
GREEN = [
    *(pytest.param("shared", name, id=f"shared-{name}") for name in farm_module.HEALTHY),
    pytest.param("modern", "modern", id="mozilla-modern"),
    pytest.param("intermediate", "intermediate", id="mozilla-intermediate"),
]
PROBLEMS = ("warn", "fail")
LOCAL_CHECKS = frozenset(entry.id for entry in ENTRIES if entry.scope == "local")


def _full_run(
    farm: Farm, clean_cli: CliRunner, loopback: list[str], name: str, port: str = "shared"
) -> dict[str, object]:
    """A full diagnosis of `name` on `port`, local checks on as the window runs them, on a
    computer whose store holds the lab's root alone (this one has roots of its own added)."""
    _, report, stderr = clean_cli([*farm.cli_args(name, port, only=None), *loopback])
    assert isinstance(report, dict), stderr
    return report


def _problems(report: dict[str, object], *, local: bool = True) -> dict[str, dict[str, object]]:
    """Every warn or fail finding, by id (`local=False`: only those of the target's checks)."""
    return {
        finding["id"]: finding
        for check in report["checks"]  # type: ignore[attr-defined]
        if local or check["id"] not in LOCAL_CHECKS
        for finding in check["findings"]
        if finding["status"] in PROBLEMS
    }


def _local_problems(report: dict[str, object]) -> set[str]:
    """`check: finding` of each warn or fail finding of a local check (about this computer)."""
    return {
        f"{check['id']}: {finding['id']}"
        for check in report["checks"]  # type: ignore[attr-defined]
        if check["id"] in LOCAL_CHECKS
        for finding in check["findings"]
        if finding["status"] in PROBLEMS
    }


def _dump(report: dict[str, object]) -> str:
    return json.dumps({"verdict": report["verdict"], "problems": _problems(report)}, indent=1)


@pytest.mark.parametrize(("port", "name"), GREEN)
def test_a_healthy_name_is_all_green_in_a_full_run(
    farm: Farm, clean_cli: CliRunner, loopback: list[str], port: str, name: str
) -> None:
    # A name on a shared host shows another certificate to a client without SNI: normal,
    # and no warning.
    report = _full_run(farm, clean_cli, loopback, name, port)
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    assert _problems(report, local=False) == {}, _dump(report)
    assert verdict["status"] == "pass"
    assert verdict["connects"] is True
    # Last, so that a failure here is about this computer, not the farm.
    assert _local_problems(report) == set(), _dump(report)


@pytest.mark.parametrize("name", farm_module.FAULTY)
def test_a_faulty_name_reports_its_finding_and_the_verdict_names_it(
    farm: Farm, clean_cli: CliRunner, loopback: list[str], name: str
) -> None:
    expected = farm[name].expected
    report = _full_run(farm, clean_cli, loopback, name)
    problems = _problems(report)
    assert expected in problems, _dump(report)
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    if verdict["connects"] and verdict["finding"] is None:
        assert verdict["left"][:1] == [expected], _dump(report)
    else:
        assert verdict["finding"] == expected, _dump(report)
    if name == "client_cert_required":
        # nginx's `ssl_verify_client on` completes the handshake and then refuses the request:
        # required, not optional.
        assert problems[expected]["params"].get("variant") != "optional", _dump(report)
        assert problems[expected]["status"] == "fail"


@pytest.mark.parametrize("name", farm_module.HEALTHY)
def test_a_healthy_name_on_the_legacy_port_connects_and_what_is_left_is_named(
    farm: Farm, clean_cli: CliRunner, loopback: list[str], name: str
) -> None:
    report = _full_run(farm, clean_cli, loopback, name, "legacy")
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    # This computer's default client (curl, the system OpenSSL) connects with an ECDHE suite.
    assert verdict["connects"] is True, _dump(report)
    target = set(_problems(report, local=False))
    # The 1024-bit DH group of the legacy port's DHE suites (and 3DES, where OpenSSL has it).
    assert "cipher.weak_dh" in target, _dump(report)
    # Python's own suite list keeps only DHE here, and refuses the 1024-bit group: the
    # headline says which program cannot connect and why; the rest is left to improve.
    refusal = _problems(report).get("programs.some_refuse")
    if refusal is None:
        assert verdict["status"] == "pass", _dump(report)
    else:
        assert verdict["finding"] == "programs.some_refuse", _dump(report)
        assert set(refusal["params"]["reasons"]) <= {"dh", "cipher"}, _dump(report)
    assert target - {"programs.some_refuse"} <= set(verdict["left"]), _dump(report)


def test_the_mozilla_old_profile_connects_and_names_legacy_versions_and_weak_dh(
    farm: Farm, clean_cli: CliRunner, loopback: list[str]
) -> None:
    report = _full_run(farm, clean_cli, loopback, "old", "old")
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["connects"] is True, _dump(report)
    target = set(_problems(report, local=False))
    # TLS 1.0 and 1.1, and the profile's 1024-bit DH group.
    assert "protocol.legacy_enabled" in target, _dump(report)
    assert "cipher.weak_dh" in target, _dump(report)
    assert target <= set(verdict["left"]), _dump(report)


def test_a_client_without_sni_gets_the_default_certificate(
    farm: Farm, lab: Lab, clean_cli: CliRunner, loopback: list[str]
) -> None:
    # By address no name is sent (SNI carries no IP address): nginx answers with the
    # default_server's certificate, which does not name 127.0.0.1, and the finding says why.
    target = [f"127.0.0.1:{farm.ports['shared']}", "--cacert", str(lab.root_pem)]
    _, report, stderr = clean_cli([*target, "--connect-timeout", "2", "--json", *loopback])
    assert isinstance(report, dict), stderr
    problems = _problems(report)
    assert "cert.hostname_mismatch" in problems, _dump(report)
    params = problems["cert.hostname_mismatch"]["params"]
    assert params["variant"] == "by_address"
    assert farm_module.DEFAULT_HOST in params["names"]
    assert report["verdict"]["finding"] == "cert.hostname_mismatch"
