"""`handshake-doctor inspect FILE`: PEM, DER, PKCS#7 and PKCS#12 files judged offline, with the
window's findings, and a password asked for, used once, kept nowhere."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from gui import worker
from tests.lab import pki

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-p12"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same expired chain in every format a helpdesk gets sent."""
    folder = tmp_path_factory.mktemp("inspect")
    root = pki.root("Inspect Root")
    inter = pki.intermediate("Inspect Issuing CA", root)
    leaf = pki.leaf(
        "www.inspect.test",
        inter,
        not_before=pki.NOW - 90 * pki.DAY,
        not_after=pki.NOW - 2 * pki.DAY,
    )
    chain = [leaf.cert, inter.cert]
    paths = {
        "pem": folder / "chain.pem",
        "der": folder / "leaf.cer",
        "pkcs7": folder / "chain.p7b",
        "pkcs12": folder / "server.pfx",
    }
    paths["pem"].write_bytes(leaf.pem + inter.pem)
    paths["der"].write_bytes(leaf.cert.public_bytes(serialization.Encoding.DER))
    paths["pkcs7"].write_bytes(pkcs7.serialize_certificates(chain, serialization.Encoding.DER))
    encryption = serialization.BestAvailableEncryption(PASSWORD.encode())
    key = leaf.key
    bundle = pkcs12.serialize_key_and_certificates(b"srv", key, leaf.cert, [inter.cert], encryption)
    paths["pkcs12"].write_bytes(bundle)
    return paths


def _inspect(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks", "inspect", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("kind", ["pem", "der", "pkcs7", "pkcs12"])
def test_every_format_gives_the_windows_findings(files: dict[str, Path], kind: str) -> None:
    path = files[kind]
    extra = ["--password-stdin"] if kind == "pkcs12" else []
    done = _inspect(str(path), "--json", *extra, stdin=PASSWORD if kind == "pkcs12" else None)
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["file"]["format"] == kind
    assert report["file"]["name"] == "www.inspect.test"
    assert report["verdict"]["finding"] == "cert.expired"
    password = PASSWORD.encode() if kind == "pkcs12" else None
    window = worker.inspect_file(path, host=None, is_ip=False, password=password)
    cli_ids = [f["id"] for f in report["checks"][0]["findings"]]
    assert cli_ids == [f.id for f in window.result.findings]
    assert PASSWORD not in done.stdout


def test_a_wrong_or_missing_password_is_one_sentence(files: dict[str, Path]) -> None:
    wrong = _inspect(str(files["pkcs12"]), "--password-stdin", stdin="guess\n")
    assert wrong.returncode == 3
    assert wrong.stderr.strip() == (
        "handshake-doctor: That password does not open the file; check it and try again."
    )
    missing = _inspect(str(files["pkcs12"]), stdin="")
    assert missing.returncode == 3
    assert "protected by a password" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr


@pytest.mark.posix_only("needs a pseudo-terminal (pty.fork); Windows has none")
def test_on_a_terminal_the_password_is_asked_for_and_not_echoed(files: dict[str, Path]) -> None:
    import pty  # here, not at the top: Windows has no pty module, and the others run there

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "checks", "inspect", str(files["pkcs12"])])
    output = b""
    deadline = time.monotonic() + 30
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not sent and b"Password of" in output:
            os.write(fd, PASSWORD.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    text = output.decode("utf-8", "replace")
    assert sent, text
    assert os.waitstatus_to_exitcode(status) == 2, text
    assert PASSWORD not in text  # getpass does not echo
    assert "expired" in text


def test_bad_files_are_one_sentence_and_exit_3(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
    done = _inspect(str(key))
    assert done.returncode == 3
    assert "private key but no certificate" in done.stderr
    missing = _inspect(str(tmp_path / "none.pem"))
    assert missing.returncode == 3
    assert "does not exist" in missing.stderr
