"""The protocol enumeration finds exactly what each private nginx configuration allows."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checks import protocols
from checks.lib import cipher_suites
from tests.lab import pki
from tests.lab.nginx import Nginx, nginx_available, tls_server_block

pytestmark = pytest.mark.lab

OPENSSL = "openssl"
MISSING_MESSAGE = "install nginx: packaging/install-system-packages.sh test"
ALLOW_MISSING = ("HD_ALLOW_MISSING_LAB", "HD_ALLOW_MISSING_NGINX")
S_CLIENT_TIMEOUT = 10
# Ground truth runs this many `openssl s_client` processes at once.
PARALLEL_CLIENTS = 8
# `s_client` flags per version; SSLv3 and SSLv2 are not built into Debian's OpenSSL (and so
# cannot be served by its nginx either): their truth is "not supported".
S_CLIENT_FLAGS = {
    "TLSv1.0": "-tls1",
    "TLSv1.1": "-tls1_1",
    "TLSv1.2": "-tls1_2",
    "TLSv1.3": "-tls1_3",
}

# Every TLS 1.3 suite OpenSSL implements (`openssl ciphers` lists only the enabled ones).
TLS13_SUITES = (
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
    "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256"
)

# nginx directives of each configuration; {rsa}, {ecdsa} and {dh1024} name files the lab writes.
CONFIGS: dict[str, str] = {
    "tls12_one_suite": (
        "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;"
        " ssl_certificate {rsa}.pem; ssl_certificate_key {rsa}.key;"
    ),
    "tls13_only": (
        "ssl_protocols TLSv1.3;"
        " ssl_conf_command Ciphersuites"
        " TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256;"
        " ssl_certificate {ecdsa}.pem; ssl_certificate_key {ecdsa}.key;"
    ),
    "cbc_only": (
        "ssl_protocols TLSv1.2; ssl_prefer_server_ciphers on;"
        " ssl_ciphers ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:AES256-SHA256:AES128-SHA:"
        "DHE-RSA-CAMELLIA256-SHA:DHE-RSA-AES128-SHA;"
        " ssl_dhparam {dh2048};"
        " ssl_certificate {rsa}.pem; ssl_certificate_key {rsa}.key;"
    ),
    "chacha20_only": (
        "ssl_protocols TLSv1.2 TLSv1.3;"
        " ssl_ciphers ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;"
        " ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;"
        " ssl_certificate {ecdsa}.pem; ssl_certificate_key {ecdsa}.key;"
    ),
    "legacy_seclevel0": (
        "ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers ALL:@SECLEVEL=0;"
        " ssl_dhparam {dh1024};"
        " ssl_certificate {rsa}.pem; ssl_certificate_key {rsa}.key;"
    ),
    "modern_default": (
        "ssl_protocols TLSv1.2 TLSv1.3;"
        " ssl_certificate {rsa}.pem; ssl_certificate_key {rsa}.key;"
        " ssl_certificate {ecdsa}.pem; ssl_certificate_key {ecdsa}.key;"
    ),
}


def require_lab() -> None:
    """Fail when nginx is missing; skip instead when HD_ALLOW_MISSING_LAB=1."""
    if nginx_available():
        return
    if any(os.environ.get(name) == "1" for name in ALLOW_MISSING):
        pytest.skip(MISSING_MESSAGE)
    pytest.fail(MISSING_MESSAGE, pytrace=False)


def _write_files(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    rsa = pki.leaf("protocols.lab.test", None, key="rsa2048")
    ecdsa = pki.leaf("protocols.lab.test", None, key="ec256")
    pki.write_chain(folder, "rsa", [rsa])
    pki.write_chain(folder, "ecdsa", [ecdsa])
    files = {"rsa": str(folder / "rsa"), "ecdsa": str(folder / "ecdsa")}
    for bits in (1024, 2048):
        path = folder / f"dh{bits}.pem"
        # DSA-style generation takes milliseconds; safe-prime generation would take seconds.
        subprocess.run(
            [OPENSSL, "dhparam", "-dsaparam", "-out", str(path), str(bits)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        files[f"dh{bits}"] = str(path)
    return files


def start_configs(
    folder: Path, names: Sequence[str] = tuple(CONFIGS)
) -> tuple[Nginx, dict[str, int]]:
    """One private nginx serving each named configuration on its own loopback port."""
    files = _write_files(folder / "files")

    def build(ports: Sequence[int]) -> str:
        return "".join(
            tls_server_block(port, default=True, extra=CONFIGS[name].format(**files))
            for name, port in zip(names, ports, strict=True)
        )

    server = Nginx(build, ports=len(names), workdir=folder / "nginx").start()
    return server, dict(zip(names, server.ports, strict=True))


@dataclass
class Truth:
    """What one configuration really allows, per version, by OpenSSL suite name."""

    versions: dict[str, bool] = field(default_factory=dict)
    suites: dict[str, set[str]] = field(default_factory=dict)


def openssl_suites() -> list[tuple[int, str, str]]:
    """(code point, OpenSSL name, version) of every suite the local openssl knows.

    PSK and SRP suites are left out: neither side holds a key or password, so none can be agreed.
    """
    listing = subprocess.run(
        [
            OPENSSL,
            "ciphers",
            "-V",
            "-ciphersuites",
            TLS13_SUITES,
            "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    suites = []
    for line in listing.splitlines():
        match = re.match(r"\s*0x(\w\w),0x(\w\w) - (\S+)\s+(\S+)\s+Kx=(\S+)", line)
        if match and "PSK" not in match.group(5) and "SRP" not in match.group(5):
            code = int(match.group(1) + match.group(2), 16)
            suites.append((code, match.group(3), match.group(4)))
    return suites


def s_client(port: int, version: str, cipher: str | None) -> bool:
    """One `openssl s_client` handshake at exactly `version`, offering only `cipher`."""
    args = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", S_CLIENT_FLAGS[version]]
    if version == "TLSv1.3":
        args += [
            "-ciphersuites",
            cipher
            or "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256",
        ]
    else:
        args += ["-cipher", f"{cipher or 'ALL:COMPLEMENTOFALL'}:@SECLEVEL=0"]
    done = subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=S_CLIENT_TIMEOUT,
        check=False,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},
    )
    negotiated = re.search(r"Cipher is (\S+)", done.stdout)
    return (
        bool(negotiated)
        and negotiated.group(1) != "(NONE)"
        and (cipher is None or negotiated.group(1) == cipher)
    )


def ground_truth(port: int, known: Sequence[tuple[int, str, str]]) -> Truth:
    """Per version: one handshake with everything (is the version there at all?), then one
    handshake per suite the local openssl knows, for the versions that are there."""
    truth = Truth()
    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        present = dict(
            zip(
                S_CLIENT_FLAGS,
                pool.map(lambda v: s_client(port, v, None), S_CLIENT_FLAGS),
                strict=True,
            )
        )
        for version, there in present.items():
            truth.suites[version] = set()
            if not there:
                continue
            names = [
                name
                for _, name, since in known
                if (since == "TLSv1.3") == (version == "TLSv1.3")
                and (version in ("TLSv1.2", "TLSv1.3") or since in ("SSLv3", "TLSv1"))
            ]
            accepted = pool.map(lambda n, v=version: s_client(port, v, n), names)
            truth.suites[version] = {n for n, ok in zip(names, accepted, strict=True) if ok}
    truth.versions = {v: bool(truth.suites.get(v)) for v in cipher_suites.VERSIONS}
    return truth


def enumerate_port(port: int) -> protocols.ScanResult:
    scanner = protocols.Scanner(
        "127.0.0.1", port, sni=None, timeout=lambda: 5.0, cancel=threading.Event()
    )
    return protocols.scan(scanner)


def as_openssl(result: protocols.ScanResult, version: str) -> set[str]:
    registry = cipher_suites.registry()
    return {registry.by_code[c].openssl or hex(c) for c in result.scans[version].suites}


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    require_lab()
    server, ports = start_configs(tmp_path_factory.mktemp("protocols"))
    try:
        yield ports
    finally:
        server.stop()


@pytest.fixture(scope="module")
def known_suites() -> list[tuple[int, str, str]]:
    return openssl_suites()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_enumeration_matches_what_nginx_allows(
    name: str, configs: dict[str, int], known_suites: list[tuple[int, str, str]]
) -> None:
    port = configs[name]
    truth = ground_truth(port, known_suites)
    result = enumerate_port(port)
    found = {v: result.scans[v].supported for v in cipher_suites.VERSIONS}
    assert found == truth.versions
    for version in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"):
        assert as_openssl(result, version) == truth.suites[version], version
    assert not result.errors
    # Cost: about one handshake per suite found, plus a few refusals per version.
    total = sum(len(s) for s in truth.suites.values())
    assert result.handshakes <= total + 40, result.handshakes


def test_findings_follow_the_configuration(configs: dict[str, int]) -> None:
    legacy = enumerate_port(configs["legacy_seclevel0"])
    ids = {f.id: f for f in protocols.judge(legacy, "lab")}
    assert "protocol.legacy_enabled" in ids
    weak = ids["cipher.weak_enabled"]
    assert "dh_bits" not in weak.params
    assert "TLS_DH_anon_WITH_AES_128_CBC_SHA" in weak.params["suites"]  # type: ignore[operator]
    # `openssl dhparam -dsaparam` groups: (p - 1) / 2 is not prime, and 1024 bits are too few.
    small = ids["cipher.weak_dh"]
    assert (small.params["variant"], small.params["bits"]) == ("small", 1024)
    assert "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in small.params["suites"]  # type: ignore[operator]
    assert small.evidence == ("1024 bits · small · not_safe_prime",)
    cbc = enumerate_port(configs["cbc_only"])
    assert cbc.preference["TLSv1.2"] == "server"
    assert cbc.dh_bits == 2048
    (dsa,) = protocols.judge(cbc, "lab")
    assert (dsa.id, dsa.params["variant"]) == ("cipher.weak_dh", "not_safe_prime")
    assert dsa.params["suites"] == [
        "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    ]
    modern = enumerate_port(configs["modern_default"])
    assert modern.groups is not None
    assert "x25519" in modern.groups
    assert protocols.summary(modern, "lab").params.get("variant") == "strong"


def test_cli_json_reports_the_protocols_facts(configs: dict[str, int], run_cli: object) -> None:
    port = configs["legacy_seclevel0"]
    code, report, stderr = run_cli(  # type: ignore[operator]
        [f"127.0.0.1:{port}", "--only", "target", "--connect-timeout", "3", "--json"]
    )
    assert isinstance(report, dict), stderr
    checks = {c["id"]: c for c in report["checks"]}
    facts = checks["protocols"]["facts"]
    assert facts["versions"] == {
        "SSLv2": False,
        "SSLv3": False,
        "TLSv1.0": True,
        "TLSv1.1": True,
        "TLSv1.2": True,
        "TLSv1.3": False,
    }
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in facts["suites"]["TLSv1.2"]
    assert set(facts["suites"]) == {"TLSv1.0", "TLSv1.1", "TLSv1.2"}
    # Debian's OpenSSL 3 has no 3DES, RC4 or DES left; anonymous suites remain at level 0.
    assert facts["strength"]["TLS_DH_anon_WITH_AES_128_CBC_SHA"] == "insecure"
    assert facts["handshakes"] > 0
    ids = {f["id"] for f in checks["protocols"]["findings"]}
    assert {"protocol.summary", "protocol.legacy_enabled", "cipher.weak_enabled"} <= ids
    assert "cipher.weak_dh" in ids
    assert [(g["bits"], g["prime"], g["safe_prime"]) for g in facts["dh_groups"]] == [
        (1024, True, False)
    ]
    assert code == 2
