"""The field matrix: the expected table, each environment run in its own namespace, and the
table of results that docs/field.md shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.field import world

EXPECTED = Path(__file__).with_name("expected.md")
ENV_TIMEOUT_S = 600


@dataclass(frozen=True)
class Expected:
    """One cell of the hand-written table."""

    status: str
    finding: str | None
    confidence: str
    runner_up: str | None

    @classmethod
    def parse(cls, text: str) -> Expected:
        words = text.split()
        if words[0] == "pass":
            return cls("pass", None, "certain", None)
        status, finding, confidence, *rest = words
        return cls(status, finding, confidence, rest[0] if rest else None)

    def text(self) -> str:
        if self.finding is None:
            return f"{self.status} —"
        second = f" {self.runner_up}" if self.runner_up else ""
        return f"{self.status} {self.finding} {self.confidence}{second}"


def expected_table(path: Path = EXPECTED) -> dict[tuple[str, str], Expected]:
    """(environment, fault) -> the expected verdict, from the Markdown table."""
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table: dict[tuple[str, str], Expected] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        for env, cell in zip(header[1:], cells[1:], strict=True):
            table[(env, cells[0])] = Expected.parse(cell)
    return table


def observed(report: Mapping[str, object] | None) -> Expected | None:
    """The verdict a report gave, in the table's terms."""
    if report is None:
        return None
    verdict = report["verdict"]
    assert isinstance(verdict, Mapping)
    return Expected(
        str(verdict["status"]),
        verdict["finding"],  # type: ignore[arg-type]
        str(verdict["confidence"]),
        verdict["runner_up"],  # type: ignore[arg-type]
    )


def run_environment(env: str, folder: Path) -> list[dict[str, object]]:
    """Every fault of `env`, in a network and mount namespace of its own (needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    isolated = ["unshare", "--net", "--mount", "--propagation", "private"]
    done = subprocess.run(
        [*isolated, sys.executable, "-m", "tests.field.run_env", env, str(folder / env)],
        cwd=world.ROOT,
        capture_output=True,
        text=True,
        timeout=ENV_TIMEOUT_S,
        check=False,
        env={**os.environ, "PYTHONPATH": str(world.ROOT)},
    )
    cells = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not cells:
        return [{"env": env, "fault": f, "setup_error": done.stderr[-3000:]} for f in world.FAULTS]
    return cells


def run_all(folder: Path, envs: Iterable[str] = world.ENVIRONMENTS) -> list[dict[str, object]]:
    """All environments, two at a time (each runs two cells at a time: 2 cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        batches = list(pool.map(lambda env: run_environment(env, folder), list(envs)))
    return [cell for batch in batches for cell in batch]


def markdown(cells: Iterable[Mapping[str, object]]) -> str:
    """docs/field.md: the expected table with each cell's result."""
    expected = expected_table()
    got = {(str(c["env"]), str(c["fault"])): c for c in cells}
    lines = [
        "# The field matrix",
        "",
        "Regenerate with `python -m tests.field.matrix > docs/field.md` (as root: it builds",
        "network namespaces). `tests/field/test_field.py` runs the same matrix in CI.",
        "",
        "Each cell is the whole product (`handshake-doctor check SITE`, local checks on, the",
        "product's own default time servers, well-known sites and portal probes) in one network",
        "against one site. ✔ means the verdict was the expected one, written by hand in",
        "[tests/field/expected.md](../tests/field/expected.md); ✖ shows what came instead.",
        "",
        "| fault | " + " | ".join(world.ENVIRONMENTS) + " |",
        "|---|" + "---|" * len(world.ENVIRONMENTS),
    ]
    right = 0
    for fault in world.FAULTS:
        row = [fault]
        for env in world.ENVIRONMENTS:
            want = expected[(env, fault)]
            cell = got.get((env, fault))
            seen = observed(cell.get("report") if cell else None)  # type: ignore[arg-type]
            if seen == want:
                right += 1
                row.append(f"✔ {want.text()}")
            else:
                row.append(f"✖ {seen.text() if seen else 'no report'} (expected {want.text()})")
        lines.append("| " + " | ".join(row) + " |")
    total = len(world.FAULTS) * len(world.ENVIRONMENTS)
    seconds = sum(float(str(c.get("seconds", 0))) for c in got.values())
    lines += [
        "",
        f"{right} of {total} cells gave the expected verdict; the product ran for {seconds:.0f} s "
        "in all (each cell is a whole `check`, interpreter start included).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hd-field-") as tmp:
        sys.stdout.write(markdown(run_all(Path(tmp))))
