"""Runs the CLI as on a computer that trusts only given roots, with no variable changing trust."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.field.world import changes_trust_or_route
from tests.lab.scenarios import CLI_TIMEOUT, ROOT, run_json

# Where Debian's and Red Hat's tools keep roots added locally; each gets an empty folder.
LOCAL_ANCHORS = ("/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors")


def prepare(folder: Path, roots_pem: Path) -> Path:
    """A home, and an /etc/ssl/certs whose bundle is `roots_pem` alone, under `folder`."""
    store = folder / "ssl-certs"
    store.mkdir(parents=True, exist_ok=True)
    (store / "ca-certificates.crt").write_bytes(roots_pem.read_bytes())
    (folder / "empty").mkdir(exist_ok=True)
    (folder / "home" / ".config").mkdir(parents=True, exist_ok=True)
    return folder


def run_cli(
    folder: Path, args: Sequence[str], *, timeout: float = CLI_TIMEOUT
) -> tuple[int, object | None, str]:
    """`python -m checks check ARGS` in a private mount namespace (`unshare`, root only: the
    tests run as root, as the field lab does) that sees `prepare`'s store instead of this
    machine's; the network is this machine's, so the loopback servers are reached."""
    mounts = [f"mount --bind {shlex.quote(str(folder / 'ssl-certs'))} /etc/ssl/certs"]
    mounts += [
        f"if [ -d {anchors} ]; then mount --bind {shlex.quote(str(folder / 'empty'))} {anchors}; fi"
        for anchors in LOCAL_ANCHORS
    ]
    command = [sys.executable, "-m", "checks", "check", *args]
    script = " && ".join([*mounts, "exec " + shlex.join(command)])
    env = {k: v for k, v in os.environ.items() if not changes_trust_or_route(k)}
    home = folder / "home"
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), PYTHONPATH=str(ROOT))
    return run_json(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env=env,
        timeout=timeout,
    )
