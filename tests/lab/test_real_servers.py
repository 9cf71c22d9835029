"""Servers configured as real ones are (nginx), diagnosed whole: the default client decides."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from checks.lib import trust
from tests.lab import pki
from tests.lab.conftest import CliRunner
from tests.lab.nginx import Nginx, require_nginx, tls_server_block
from tests.lab.scenarios import Lab
from tests.lab.servers import CannedServer, TLSServer

pytestmark = pytest.mark.lab

# name -> the nginx directives of its server block, beyond certificate and key.
CONFIGS = {
    # Only 1024-bit finite-field Diffie-Hellman: reachable by a probe that allows everything,
    # refused by OpenSSL 3 at security level 2 ("dh key too small"), as curl is.
    "dh1024": "ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0;"
    " ssl_dhparam {dh1024};",
    # Only static-RSA key exchange: curl and OpenSSL's default list connect (Python does not).
    "static_rsa": "ssl_protocols TLSv1.2; ssl_ciphers AES128-GCM-SHA256;",
    # Signs the handshake only with SHA-1: refused at security level 1 and above.
    "sha1_sigalgs": "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0;"
    " ssl_conf_command SignatureAlgorithms RSA+SHA1;",
    # nginx finishes the handshake without the certificate it requires and answers 400.
    "client_cert_tls13": "ssl_verify_client on; ssl_client_certificate {client_ca};",
    "client_cert_tls12": "ssl_protocols TLSv1.2; ssl_verify_client on;"
    " ssl_client_certificate {client_ca};",
    "client_cert_optional": "ssl_verify_client optional; ssl_client_certificate {client_ca};",
}


@dataclass(frozen=True)
class Site:
    host: str
    port: int

    @property
    def args(self) -> list[str]:
        return [f"{self.host}:{self.port}", "--resolve", f"{self.host}:{self.port}:127.0.0.1"]


@pytest.fixture(scope="module")
def sites(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    require_nginx()
    folder = tmp_path_factory.mktemp("real-servers")
    dh1024 = folder / "dhparam-1024.pem"
    subprocess.run(
        ["openssl", "dhparam", "-out", str(dh1024), "1024"], check=True, capture_output=True
    )
    rsa_inter = pki.intermediate("Real Servers RSA CA", lab.root, key="rsa2048")
    files = {}
    for name in CONFIGS:
        host = f"{name.replace('_', '-')}.real.test"
        files[name] = pki.write_chain(
            folder, name, [pki.leaf(host, rsa_inter, key="rsa2048"), rsa_inter]
        )
    values = {"dh1024": dh1024, "client_ca": lab.client_ca_pem}

    def build(ports: Sequence[int]) -> str:
        blocks = []
        for (name, directives), port in zip(CONFIGS.items(), ports, strict=True):
            cert, key = files[name]
            host = f"{name.replace('_', '-')}.real.test"
            extra = directives.format(**values)
            blocks.append(
                tls_server_block(port, server_name=host, certificate=cert, key=key, extra=extra)
            )
        return "".join(blocks)

    with Nginx(build, ports=len(CONFIGS), workdir=folder / "nginx") as server:
        yield {
            name: Site(f"{name.replace('_', '-')}.real.test", port)
            for name, port in zip(CONFIGS, server.ports, strict=True)
        }


@pytest.fixture(scope="module")
def local_options(lab: Lab, loopback: list[str]) -> list[str]:
    """A whole diagnosis, local checks included, on loopback, against the lab root."""
    roots = ["--cacert", str(lab.root_pem), "--known-roots", str(lab.root_pem)]
    return [*roots, *loopback, "--connect-timeout", "2", "--json"]


def _diagnose(clean_cli: CliRunner, site: Site, options: list[str]) -> dict[str, object]:
    _, report, stderr = clean_cli([*site.args, *options])
    assert isinstance(report, dict), stderr
    return report


def _findings(report: dict[str, object], check_id: str) -> dict[str, dict[str, object]]:
    check = next(c for c in report["checks"] if c["id"] == check_id)  # type: ignore[attr-defined]
    return {f["id"]: f for f in check["findings"]}


def test_a_1024_bit_dh_server_is_refused_by_this_computers_programs(
    sites: dict[str, Site], clean_cli: CliRunner, local_options: list[str]
) -> None:
    report = _diagnose(clean_cli, sites["dh1024"], local_options)
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["finding"] == "tls.policy_refused"
    assert verdict["connects"] is False
    refusal = _findings(report, "tls")["tls.policy_refused"]
    assert refusal["params"]["variant"] == "dh_small"
    assert refusal["params"]["reason"] == "dh key too small"
    assert "tls.ok" not in _findings(report, "tls")
    # The programs here disagree, as measured: OpenSSL 3 at level 2 refuses, Node's own
    # OpenSSL and Java connect; the verdict names both sides.
    programs = verdict["programs"]
    assert any(name.startswith("curl") for name in programs["refusing"]), programs
    assert any(name.startswith("Python") for name in programs["refusing"]), programs
    assert any(name.startswith("Node") for name in programs["connecting"]), programs
    # curl on this machine agrees: it stops at the same place.
    site = sites["dh1024"]
    curl = subprocess.run(
        [
            *("curl", "-sk", "--max-time", "5"),
            *("--resolve", f"{site.host}:{site.port}:127.0.0.1"),
            f"https://{site.host}:{site.port}/",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert curl.returncode == 35  # CURLE_SSL_CONNECT_ERROR


def test_a_static_rsa_only_server_connects_as_curl_does(
    sites: dict[str, Site], clean_cli: CliRunner, local_options: list[str]
) -> None:
    report = _diagnose(clean_cli, sites["static_rsa"], local_options)
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["connects"] is True, verdict
    protocols = _findings(report, "protocols")
    assert "cipher.no_common_suite" not in protocols
    # Python's own suite list has no static RSA: Python alone refuses, and says so.
    refusing = _findings(report, "programs")["programs.some_refuse"]["params"]["refusing"]
    assert [name for name in refusing if not name.startswith("Python")] == []
    tls = next(c for c in report["checks"] if c["id"] == "tls")  # type: ignore[attr-defined]
    assert tls["facts"]["default_client"]["cipher"] == "AES128-GCM-SHA256"


def test_a_server_that_signs_only_with_sha1_is_below_the_security_level(
    sites: dict[str, Site], clean_cli: CliRunner, local_options: list[str]
) -> None:
    report = _diagnose(clean_cli, sites["sha1_sigalgs"], local_options)
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["finding"] == "tls.policy_refused"
    refusal = _findings(report, "tls")["tls.policy_refused"]
    assert refusal["params"]["variant"] == "security_level"


@pytest.mark.parametrize("name", ["client_cert_tls13", "client_cert_tls12"])
def test_nginx_requiring_a_client_certificate_is_required_not_optional(
    sites: dict[str, Site], clean_cli: CliRunner, local_options: list[str], name: str
) -> None:
    report = _diagnose(clean_cli, sites[name], local_options)
    finding = _findings(report, "tls")["cert.client_cert_required"]
    assert finding["status"] == "fail"
    assert "variant" not in finding["params"]
    assert finding["params"]["ca_names"] == ["CN=Lab Client CA"]
    assert report["verdict"]["finding"] == "cert.client_cert_required"  # type: ignore[index]


def test_nginx_asking_for_an_optional_client_certificate_is_optional(
    sites: dict[str, Site], clean_cli: CliRunner, local_options: list[str]
) -> None:
    report = _diagnose(clean_cli, sites["client_cert_optional"], local_options)
    finding = _findings(report, "tls")["cert.client_cert_required"]
    assert (finding["status"], finding["params"]["variant"]) == ("warn", "optional")


Serve = Callable[..., Site]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`serve(host, chain, **TLSServer options)` starts a TLS server sending `chain` (leaf
    first) for this test."""
    with contextlib.ExitStack() as stack:

        def start(host: str, chain: Sequence[pki.Issued], **options: object) -> Site:
            cert, key = pki.write_chain(tmp_path, host, chain)
            server = stack.enter_context(TLSServer(cert, key, **options))  # type: ignore[arg-type]
            return Site(host, server.port)

        yield start


def _verdict(report: dict[str, object]) -> dict[str, object]:
    verdict = report["verdict"]
    assert isinstance(verdict, dict)
    return verdict


def test_a_leaf_alone_from_an_issuer_nobody_sent_is_likely_an_incomplete_chain(
    lab: Lab, serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    site = serve("leaf-only.real.test", [pki.leaf("leaf-only.real.test", lab.intermediate)])
    report = _diagnose(clean_cli, site, local_options)
    verdict = _verdict(report)
    assert (verdict["finding"], verdict["confidence"]) == ("cert.incomplete_chain", "likely")
    finding = _findings(report, "cert")["cert.incomplete_chain"]
    assert finding["params"]["variant"] == "unknown_issuer"
    assert finding["params"]["missing_issuer"] == "Handshake Doctor Lab Intermediate"
    assert "cert.untrusted_root" not in _findings(report, "cert")


def test_the_issuer_at_the_aia_address_decides_an_incomplete_chain(
    lab: Lab, serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    der = lab.intermediate.cert.public_bytes(serialization.Encoding.DER)
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\n"
    answer += f"Content-Length: {len(der)}\r\nConnection: close\r\n\r\n".encode() + der
    with CannedServer(answer) as aia:
        url = f"http://127.0.0.1:{aia.port}/intermediate.der"
        leaf = pki.leaf("aia.real.test", lab.intermediate, aia_ca_issuers=url)
        report = _diagnose(clean_cli, serve("aia.real.test", [leaf]), local_options)
        assert aia.requests
        assert aia.requests[0].startswith(b"GET /intermediate.der HTTP/1.0")
    verdict = _verdict(report)
    assert (verdict["finding"], verdict["confidence"]) == ("cert.incomplete_chain", "certain")
    assert _findings(report, "cert")["cert.incomplete_chain"]["params"]["aia_fetched"] == "trusted"


def test_an_intermediate_that_is_no_ca_fails_as_browsers_fail_it(
    lab: Lab, serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    not_ca = pki.issue("Lab Not A CA", issuer=lab.root, ca=False, extended_key_usage=False)
    site = serve("not-a-ca.real.test", [pki.leaf("not-a-ca.real.test", not_ca), not_ca])
    report = _diagnose(clean_cli, site, local_options)
    assert _verdict(report)["finding"] == "cert.not_a_ca"


def test_a_chain_under_a_compromised_root_it_does_not_send_is_recognised(
    serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    entry = next(e for e in trust.load_known_bad().entries.values() if e.name == "Superfish, Inc.")
    assert entry.subject is not None
    assert entry.ski is not None
    impostor = _impostor(entry.subject, bytes.fromhex(entry.ski))
    leaf = pki.issue(
        "superfish.real.test",
        issuer=impostor,
        sans=("superfish.real.test",),
        authority_key_id=bytes.fromhex(entry.ski),
    )
    report = _diagnose(clean_cli, serve("superfish.real.test", [leaf]), local_options)
    verdict = _verdict(report)
    assert verdict["finding"] == "cert.known_bad_root"
    finding = _findings(report, "cert")["cert.known_bad_root"]
    assert (finding["params"]["variant"], finding["params"]["name"]) == ("issuer", entry.name)
    assert not {"cert.untrusted_root", "cert.incomplete_chain"} & set(_findings(report, "cert"))


def _impostor(subject: str, ski: bytes) -> pki.Issued:
    """A root with a listed root's name and key identifier, and a key of our own."""
    key = pki.new_key()
    name = x509.Name.from_rfc4514_string(subject)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.NOW - pki.DAY)
        .not_valid_after(pki.NOW + 30 * pki.DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return pki.Issued(cert, key)


def test_a_certificate_with_ten_thousand_names_is_named_as_oversized(
    lab: Lab, serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    names = ["big.real.test", *(f"n{i}.big.real.test" for i in range(10_000))]
    leaf = pki.leaf("big.real.test", lab.intermediate, sans=names)
    report = _diagnose(clean_cli, serve("big.real.test", [leaf, lab.intermediate]), local_options)
    verdict = _verdict(report)
    assert verdict["finding"] == "tls.malformed"
    params = _findings(report, "tls")["tls.malformed"]["params"]
    assert params["variant"] == "oversized_certificate"
    assert params["names"] == 10_001
    assert params["size_kb"] > 100


def test_a_1024_bit_rsa_key_stops_this_computers_programs(
    lab: Lab, serve: Serve, clean_cli: CliRunner, local_options: list[str]
) -> None:
    # curl and Python refuse it here ("EE certificate key too weak", security level 2): the
    # weak key does not merely weaken the connection, it stops it.
    leaf = pki.leaf("rsa1024.real.test", lab.intermediate, key="rsa1024")
    # OpenSSL loads such a key on the server side only below its default security level.
    site = serve("rsa1024.real.test", [leaf, lab.intermediate], ciphers="DEFAULT:@SECLEVEL=0")
    report = _diagnose(clean_cli, site, local_options)
    verdict = _verdict(report)
    assert (verdict["finding"], verdict["effect"]) == ("cert.weak_key", "blocks")
    params = _findings(report, "cert")["cert.weak_key"]["params"]
    assert (params["refused_here"], params["level"]) == (True, 2)
