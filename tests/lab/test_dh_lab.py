"""Real DHE-only servers on loopback, each with its own Diffie-Hellman group, judged end to end
through the command line."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.lib import dhgroups
from tests.lab import pki
from tests.lab.scenarios import run_cli
from tests.lab.servers import TLSServer

pytestmark = pytest.mark.lab

OPENSSL = "openssl"
HOST = "dh.lab.test"
# Only DHE suites, so every handshake the scan makes shows the server's group; level 0 so that
# OpenSSL agrees to serve 1024-bit groups at all.
DHE_ONLY = "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0"
DHE_SUITES = ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
KNOWN = {group.name: p for p, group in dhgroups.known_groups().items()}


def _der_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    data = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(data)]) + data


def _der_integer(value: int) -> bytes:
    data = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0: never negative
    return b"\x02" + _der_length(len(data)) + data


def dh_parameters_pem(p: int, g: int = 2) -> str:
    """PKCS #3 DHParameter PEM for any p, even one no generator would produce (a composite)."""
    body = _der_integer(p) + _der_integer(g)
    der = b"\x30" + _der_length(len(body)) + body
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join(["-----BEGIN DH PARAMETERS-----", *lines, "-----END DH PARAMETERS-----", ""])


def _openssl(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=120)


@dataclass(frozen=True)
class Files:
    chain: Path
    key: Path
    root: Path
    params: dict[str, Path]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    if shutil.which(OPENSSL) is None:
        pytest.fail("the openssl binary is needed to write DH parameters", pytrace=False)
    folder = tmp_path_factory.mktemp("dh")
    root = pki.root()
    inter = pki.intermediate("Handshake Doctor Lab DH CA", root)
    chain, key = pki.write_chain(folder, "server", [pki.leaf(HOST, inter, key="rsa2048"), inter])
    params = {
        "oakley2": folder / "oakley2.pem",
        "modp1536": folder / "modp1536.pem",
        "dsa2048": folder / "dsa2048.pem",
        "composite": folder / "composite.pem",
        "ffdhe2048": folder / "ffdhe2048.pem",
    }
    # OpenSSL 3 no longer names the RFC 2409 groups; the judge's copy is checked against
    # libcrypto's in test_dhgroups.
    params["oakley2"].write_text(dh_parameters_pem(KNOWN["Oakley group 2 (RFC 2409)"]))
    # OpenSSL loads and serves a composite modulus without a word.
    params["composite"].write_text(dh_parameters_pem(KNOWN["ffdhe2048 (RFC 7919)"] * 3))
    for name, group in (("modp1536", "modp_1536"), ("ffdhe2048", "ffdhe2048")):
        option = f"group:{group}"
        _openssl(
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            option,
            "-out",
            str(params[name]),
        )
    # DSA-style parameters: a prime whose (p - 1) / 2 is not prime, made in milliseconds.
    _openssl("dhparam", "-dsaparam", "-out", str(params["dsa2048"]), "2048")
    return Files(chain, key, pki.write_certs(folder / "root.pem", [root]), params)


@pytest.fixture
def serve(files: Files) -> Iterator[object]:
    servers: list[TLSServer] = []

    def start(params: str) -> int:
        server = TLSServer(
            files.chain,
            files.key,
            ciphers=DHE_ONLY,
            maximum_version=ssl.TLSVersion.TLSv1_2,
            dh_params=files.params[params],
        ).start()
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.stop()


def protocols_check(port: int, files: Files) -> dict[str, object]:
    """The `protocols` check of the JSON report of `python -m checks check` for the port."""
    args = [f"127.0.0.1:{port}", "--cacert", str(files.root), "--only", "target"]
    code, report, stderr = run_cli([*args, "--connect-timeout", "3", "--json"])
    assert isinstance(report, dict), (code, stderr)
    (check,) = [c for c in report["checks"] if c["id"] == "protocols"]
    assert check["status"] in ("pass", "warn", "fail"), check
    return check  # type: ignore[no-any-return]


# params file, the finding's variant and status, the group's name (None: the server's own).
WEAK = {
    "oakley2": ("known_weak", "warn", "Oakley group 2 (RFC 2409)", 1024),
    "modp1536": ("small", "warn", "MODP group 5 (RFC 3526)", 1536),
    "dsa2048": ("not_safe_prime", "warn", None, 2048),
    "composite": ("composite", "fail", None, 2050),
}


@pytest.mark.parametrize("params", list(WEAK))
def test_a_weak_group_is_one_finding_naming_both_suites(
    params: str, files: Files, serve: object
) -> None:
    variant, status, name, bits = WEAK[params]
    check = protocols_check(serve(params), files)  # type: ignore[operator]
    findings = [f for f in check["findings"] if f["id"] == "cipher.weak_dh"]  # type: ignore[attr-defined]
    (finding,) = findings
    assert finding["status"] == status
    assert finding["params"]["variant"] == variant
    assert finding["params"]["suites"] == DHE_SUITES
    assert finding["params"]["bits"] == bits
    assert finding["params"]["group"] == name
    assert finding["params"]["min_dh_bits"] == 2048
    assert finding["fix_admin"]
    assert not [f for f in check["findings"] if f["id"] == "cipher.weak_enabled"]  # type: ignore[attr-defined]
    (group,) = check["facts"]["dh_groups"]  # type: ignore[index]
    assert group["suites"] == DHE_SUITES
    assert (group["bits"], group["name"]) == (bits, name)
    assert group["prime"] is (params != "composite")
    assert group["safe_prime"] is (params in ("oakley2", "modp1536"))


def test_an_ffdhe2048_server_has_no_dh_finding(files: Files, serve: object) -> None:
    check = protocols_check(serve("ffdhe2048"), files)  # type: ignore[operator]
    ids = {f["id"] for f in check["findings"]}  # type: ignore[attr-defined]
    assert "cipher.weak_dh" not in ids
    assert "protocol.summary" in ids
    assert check["facts"]["dh_groups"] == [  # type: ignore[index]
        {
            "suites": DHE_SUITES,
            "bits": 2048,
            "name": "ffdhe2048 (RFC 7919)",
            "prime": True,
            "safe_prime": True,
        }
    ]
    assert check["facts"]["dh_bits"] == 2048  # type: ignore[index]
