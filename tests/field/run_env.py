"""Runs the whole product against every target fault in one environment, inside the namespace
`unshare --net --mount` gave it, and prints one JSON line per cell.

Run as root: `unshare --net --mount --propagation private python -m tests.field.run_env ENV DIR`;
with `--text FAULT` it prints the terminal report of that one site instead (the README's
example comes from there).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.field import world

CELL_TIMEOUT_S = 90


def _cell(product: world.Product, fault: str) -> dict[str, object]:
    target = world.target(fault)
    started = time.monotonic()
    done = subprocess.run(
        product.command(target),
        capture_output=True,
        text=True,
        env=dict(product.env),
        timeout=CELL_TIMEOUT_S,
        check=False,
        cwd=product.env["HOME"],
    )
    cell: dict[str, object] = {
        "fault": fault,
        "exit": done.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "stderr": done.stderr[-2000:],
    }
    try:
        cell["report"] = json.loads(done.stdout)
    except json.JSONDecodeError:
        cell["report"] = None
        cell["stdout"] = done.stdout[-2000:]
    return cell


def main(argv: list[str]) -> int:
    env, folder = argv[0], Path(argv[1])
    if argv[2:3] == ["--text"]:
        with world.world(env, folder) as product:
            command = [a for a in product.command(world.target(argv[3])) if a != "--json"]
            done = subprocess.run(
                command, env=dict(product.env), cwd=product.env["HOME"], check=False
            )
            return 0 if done.returncode in (0, 1, 2) else done.returncode
    faults = argv[2:] or list(world.FAULTS)
    with world.world(env, folder) as product, ThreadPoolExecutor(max_workers=2) as pool:
        for cell in pool.map(lambda fault: _cell(product, fault), faults):
            sys.stdout.write(json.dumps({"env": env, **cell}) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
