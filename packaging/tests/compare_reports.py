"""Compares the findings of two Handshake Doctor JSON reports (frozen app against source)."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any


def findings(report: dict[str, Any]) -> dict[str, Any]:
    """What a diagnosis found: the verdict and each check's finding ids (with their variants)."""
    verdict = report.get("verdict") or {}
    checks: dict[str, list[str]] = {}
    for check in report.get("checks", []):
        ids = []
        for finding in check.get("findings", []):
            variant = (finding.get("params") or {}).get("variant")
            ids.append(finding["id"] + (f"/{variant}" if variant else ""))
        checks[check["id"]] = sorted(ids)
    return {"verdict": verdict.get("finding"), "checks": checks}


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """A unified diff of the two reports' findings; empty when they agree."""
    a = json.dumps(findings(first), indent=2, sort_keys=True).splitlines()
    b = json.dumps(findings(second), indent=2, sort_keys=True).splitlines()
    return list(difflib.unified_diff(a, b, "first", "second", lineterm=""))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: compare_reports.py FIRST.json SECOND.json\n")
        return 3
    first, second = (json.loads(Path(p).read_text("utf-8")) for p in args)
    diff = differences(first, second)
    if diff:
        sys.stderr.write("the findings differ:\n" + "\n".join(diff) + "\n")
        return 1
    summary = findings(first)
    count = sum(len(ids) for ids in summary["checks"].values())
    print(
        f"same findings: {count} in {len(summary['checks'])} checks, verdict {summary['verdict']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
