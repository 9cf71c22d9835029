"""With no network at all, or a failing resolver, the diagnosis stays fast and honest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.linux_only(
    "runs the CLI in a Linux network namespace that has only loopback (`unshare --net`, as root)"
)


def _offline_cli(*args: str) -> tuple[int, dict[str, object], str, float]:
    """Run the CLI in a network namespace that has only loopback (as `unshare -n` gives)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    started = time.monotonic()
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "checks", "check", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr, time.monotonic() - started


def _findings(report: dict[str, object]) -> dict[str, set[str]]:
    return {c["id"]: {f["id"] for f in c["findings"]} for c in report["checks"]}  # type: ignore[attr-defined]


def test_a_fully_offline_machine_gets_an_honest_local_diagnosis_quickly() -> None:
    from tests.lab.test_target_scenarios import unlabelled_facts

    code, report, _, _ = _offline_cli()
    assert unlabelled_facts(report) == set()  # every measured value has words
    assert report["duration_s"] < 3  # type: ignore[operator]
    findings = _findings(report)
    assert "clock.unverified" in findings["clock"]
    assert findings["interception"] == {"interception.not_checked"}
    assert report["verdict"]["status"] != "pass"  # type: ignore[index]
    assert code != 0


def test_a_name_that_cannot_be_resolved_offline_fails_fast_as_dns() -> None:
    code, report, _, elapsed = _offline_cli("www.example.com", "--only", "target")
    dns = next(c for c in report["checks"] if c["id"] == "dns")  # type: ignore[attr-defined]
    assert dns["findings"][0]["id"] == "dns.failed"
    assert dns["findings"][0]["params"]["variant"] in ("resolver_unreachable", "timeout")
    assert dns["duration_s"] < 3.5
    assert report["verdict"]["finding"] == "dns.failed"  # type: ignore[index]
    assert code == 2
    assert elapsed < 15
