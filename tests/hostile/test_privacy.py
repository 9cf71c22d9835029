"""A planted proxy password and the home directory never reach any output format."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Pl4nted-Secret"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_no_output_format_leaks_the_proxy_password_or_the_home_path(
    tmp_path: Path, lang: str
) -> None:
    home = tmp_path / "home" / "alice-private"
    (home / "certs").mkdir(parents=True)
    bundle = home / "certs" / "ca.pem"
    bundle.write_text("", encoding="utf-8")
    proxy = f"http://alice:{SECRET}@127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        HOME=str(home),
        HTTPS_PROXY=proxy,
        https_proxy=proxy,
        ALL_PROXY=proxy,
        SSL_CERT_FILE=str(bundle),
        REQUESTS_CA_BUNDLE=str(bundle),
    )
    outputs = []
    target = f"https://bob:{SECRET}@127.0.0.1:{_closed_port()}/"
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "checks", "check", target, "--offline", "--lang", lang, *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.stdout, done.stderr
        outputs += [done.stdout, done.stderr]
    for suffix in (".html", ".md", ".json"):
        report = tmp_path / f"report{suffix}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "checks",
                "check",
                target,
                "--offline",
                "--lang",
                lang,
                "--output",
                str(report),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs.append(report.read_text(encoding="utf-8"))
    everything = "\n".join(outputs)
    assert SECRET not in everything
    assert str(home) not in everything
    assert "alice-private" not in everything
    # The findings that carry these values are still there, redacted.
    assert "~" in everything
    assert "***@127.0.0.1" in everything


def test_the_java_trust_store_password_never_reaches_the_json_report(tmp_path: Path) -> None:
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from tests.lab import pki

    password = f"{SECRET}-Java"
    store = tmp_path / "trust.p12"
    root: x509.Certificate = pki.root("Privacy Test Root").cert
    encryption = serialization.BestAvailableEncryption(password.encode())
    store.write_bytes(pkcs12.serialize_key_and_certificates(b"t", None, None, [root], encryption))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["JAVA_TOOL_OPTIONS"] = (
        f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword={password}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "checks", "check", "--only", "local", "--offline", "--json"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    assert password not in done.stdout
    assert password not in done.stderr
    [check] = [c for c in report["checks"] if c["id"] == "trust_store"]
    # The store was read (with the password) and is reported, without it.
    [java] = [o for o in check["facts"]["env_overrides"] if o["variable"] == "JAVA_TOOL_OPTIONS"]
    assert java["certificates"] == 1
