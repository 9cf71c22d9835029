"""The lab: a private PKI and one loopback server per scenario, with the finding it must cause."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization

from tests.lab import pki
from tests.lab.nginx import Nginx, nginx_available, require_nginx, tls_server_block
from tests.lab.servers import (
    SMTP_BANNER,
    SSH_BANNER,
    AbortServer,
    BannerServer,
    LoopbackServer,
    PlainHTTPServer,
    SilentServer,
    TLSServer,
    closed_port,
)

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
LAB_ROOT_CN = "Handshake Doctor Lab Root"
AIA_URL = "http://127.0.0.1:9/lab-intermediate.der"
# OpenSSL refuses SHA-1 signatures and 1024-bit keys at its default security level (1), both
# when a server loads them and when a client receives them.
WEAK_CIPHERS = "DEFAULT:@SECLEVEL=0"
CLI_TIMEOUT = 60

Kind = Literal["tls", "nginx", "network"]


@dataclass(frozen=True)
class Spec:
    """A scenario known before anything runs, for `pytest.mark.parametrize`."""

    name: str
    kind: Kind
    expected: str | None

    @property
    def healthy(self) -> bool:
        return self.expected is None


_SPECS = [
    # Healthy sites: no certificate, TLS or TCP problem.
    Spec("good", "tls", None),
    Spec("wildcard", "tls", None),
    Spec("ip_san", "tls", None),
    Spec("long_chain", "tls", None),
    Spec("ecdsa", "tls", None),
    Spec("rsa", "tls", None),
    Spec("nginx_good", "nginx", None),
    # A shared host: another certificate without SNI is how every CDN works, not a problem.
    Spec("sni_default_cert", "nginx", None),
    # Certificate problems.
    Spec("expired", "tls", "cert.expired"),
    Spec("expired_intermediate", "tls", "cert.expired"),
    Spec("not_yet_valid", "tls", "cert.not_yet_valid"),
    Spec("wrong_host", "tls", "cert.hostname_mismatch"),
    Spec("www_only", "tls", "cert.hostname_mismatch"),
    Spec("cn_only", "tls", "cert.no_san"),
    Spec("self_signed", "tls", "cert.self_signed"),
    Spec("untrusted_root", "tls", "cert.untrusted_root"),
    Spec("incomplete_chain", "tls", "cert.incomplete_chain"),
    Spec("wrong_order", "tls", "cert.chain_order"),
    Spec("weak_signature", "tls", "cert.weak_signature"),
    Spec("weak_key", "tls", "cert.weak_key"),
    Spec("client_cert_required", "tls", "cert.client_cert_required"),
    Spec("sni_required_reject", "nginx", "cert.sni_required"),
    # Network and TLS-layer problems.
    Spec("closed", "network", "tcp.refused"),
    Spec("silent", "network", "tls.timeout"),
    Spec("plain_http", "network", "tls.not_tls"),
    Spec("ssh_banner", "network", "tls.not_tls"),
    Spec("smtp_banner", "network", "tls.not_tls"),
    Spec("handshake_alert", "network", "tls.handshake_failed"),
]
SPECS: dict[str, Spec] = {spec.name: spec for spec in _SPECS}


def names(*, healthy: bool | None = None, kind: Kind | None = None) -> list[str]:
    """Scenario names, optionally only the healthy (or broken) ones, or of one kind."""
    return [
        spec.name
        for spec in _SPECS
        if (healthy is None or spec.healthy == healthy) and (kind is None or spec.kind == kind)
    ]


def host_of(name: str, domain: str = "lab.test") -> str:
    """The host name a scenario is reached by (underscores become hyphens: valid DNS names)."""
    special = {
        "wildcard": f"www.wild.{domain}",
        "www_only": f"wwwonly.{domain}",
        "ip_san": LOOPBACK,
    }
    return special.get(name, f"{name.replace('_', '-')}.{domain}")


@dataclass
class Scenario:
    """One running scenario: where it listens, what it serves, and what the product must say.

    `chain` is what the server sends to a client that sends the scenario's host as SNI, in the
    order sent (empty for non-TLS peers). `chain_without_sni` is what a client without SNI
    gets when that differs: a different chain, or `()` when the handshake is refused.
    """

    name: str
    kind: Kind
    expected: str | None
    host: str
    port: int
    address: str = LOOPBACK
    chain: tuple[pki.Issued, ...] = ()
    chain_without_sni: tuple[pki.Issued, ...] | None = None
    server: LoopbackServer | Nginx | None = None

    @property
    def healthy(self) -> bool:
        return self.expected is None

    @property
    def leaf(self) -> pki.Issued:
        return self.chain[0]

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def needs_resolve(self) -> bool:
        return self.host != self.address

    @property
    def resolve(self) -> str:
        return f"{self.host}:{self.port}:{self.address}"


@dataclass
class Lab:
    """Every scenario's server, running, and the files to pass to the CLI."""

    folder: Path
    root: pki.Issued
    intermediate: pki.Issued
    root_pem: Path
    client_ca: pki.Issued
    client_ca_pem: Path
    client_cert_pem: Path
    client_key_pem: Path
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Scenario:
        if name in self.unavailable:
            require_nginx()
            raise LookupError(f"scenario {name} is not running: {self.unavailable[name]}")
        return self.scenarios[name]

    def cli_args(self, name: str) -> list[str]:
        """Arguments after `check` that diagnose scenario `name` against the lab root only."""
        scenario = self[name]
        args = [scenario.target]
        if scenario.needs_resolve:
            args += ["--resolve", scenario.resolve]
        return [
            *args,
            "--cacert",
            str(self.root_pem),
            "--known-roots",
            str(self.root_pem),
            "--connect-timeout",
            "2",
            "--only",
            "target",
            "--json",
        ]


def _tls_chains(
    root: pki.Issued, inter: pki.Issued, domain: str = "lab.test"
) -> dict[str, tuple[pki.Issued, ...]]:
    """The chain each TLS scenario sends, leaf first, in the order sent (names in `domain`)."""

    def h(name: str) -> str:
        return host_of(name, domain)

    chains: dict[str, tuple[pki.Issued, ...]] = {}
    chains["good"] = (pki.leaf(h("good"), inter), inter)
    chains["wildcard"] = (pki.leaf(f"*.wild.{domain}", inter), inter)
    chains["ip_san"] = (pki.leaf(LOOPBACK, inter), inter)
    # pki.intermediate allows no CA below it, so the upper links of a long chain are built here.
    first = pki.issue("Lab Long Chain CA 1", issuer=root, ca=True, path_length=2)
    second = pki.issue("Lab Long Chain CA 2", issuer=first, ca=True, path_length=1)
    third = pki.intermediate("Lab Long Chain CA 3", second)
    chains["long_chain"] = (pki.leaf(h("long_chain"), third), third, second, first)
    ec_inter = pki.intermediate("Lab ECDSA P-384 CA", root, key="ec384", hash_alg=hashes.SHA384())
    ec_leaf = pki.leaf(h("ecdsa"), ec_inter, key="ec384", hash_alg=hashes.SHA384())
    chains["ecdsa"] = (ec_leaf, ec_inter)
    rsa_inter = pki.intermediate("Lab RSA CA", root, key="rsa2048")
    chains["rsa"] = (pki.leaf(h("rsa"), rsa_inter, key="rsa2048"), rsa_inter)

    chains["expired"] = (
        pki.leaf(
            h("expired"),
            inter,
            not_before=pki.NOW - 100 * pki.DAY,
            not_after=pki.NOW - 10 * pki.DAY,
        ),
        inter,
    )
    old_inter = pki.intermediate(
        "Lab Expired CA", root, not_before=pki.NOW - 400 * pki.DAY, not_after=pki.NOW - 10 * pki.DAY
    )
    chains["expired_intermediate"] = (pki.leaf(h("expired_intermediate"), old_inter), old_inter)
    chains["not_yet_valid"] = (
        pki.leaf(h("not_yet_valid"), inter, not_before=pki.NOW + 10 * pki.DAY),
        inter,
    )
    chains["wrong_host"] = (pki.leaf(f"other.{domain}", inter), inter)
    chains["www_only"] = (pki.leaf(f"www.wwwonly.{domain}", inter), inter)
    chains["cn_only"] = (pki.leaf(h("cn_only"), inter, sans=()), inter)
    chains["self_signed"] = (pki.leaf(h("self_signed"), None),)
    other_root = pki.root("Other Root")
    other_inter = pki.intermediate("Other Intermediate", other_root)
    chains["untrusted_root"] = (pki.leaf(h("untrusted_root"), other_inter), other_inter, other_root)
    chains["incomplete_chain"] = (pki.leaf(h("incomplete_chain"), inter, aia_ca_issuers=AIA_URL),)
    # A server must send its own certificate first; the disorder is in what follows it.
    chains["wrong_order"] = (pki.leaf(h("wrong_order"), inter), root, inter)
    # sha1WithRSAEncryption, the SHA-1 signature still met in the wild (pki signs it by hand).
    sha1_leaf = pki.leaf(h("weak_signature"), rsa_inter, key="rsa2048", hash_alg=hashes.SHA1())
    chains["weak_signature"] = (sha1_leaf, rsa_inter)
    chains["weak_key"] = (pki.leaf(h("weak_key"), inter, key="rsa1024"), inter)
    chains["client_cert_required"] = (pki.leaf(h("client_cert_required"), inter), inter)
    return chains


def _write_der(path: Path, cert: pki.Issued) -> Path:
    path.write_bytes(cert.cert.public_bytes(serialization.Encoding.DER))
    return path


@contextlib.contextmanager
def running_lab(folder: Path, *, with_nginx: bool | None = None) -> Iterator[Lab]:
    """Build the PKI in `folder`, start every scenario's server, and stop them all on exit."""
    if with_nginx is None:
        with_nginx = nginx_available()
    certs = folder / "certs"
    root = pki.root(LAB_ROOT_CN, key="ec384", hash_alg=hashes.SHA384())
    inter = pki.intermediate("Handshake Doctor Lab Intermediate", root)
    client_ca = pki.root("Lab Client CA")
    client = pki.issue("lab client", issuer=client_ca, extended_key_usage=False)
    client_cert_pem, client_key_pem = pki.write_chain(certs, "client", [client])
    lab = Lab(
        folder=folder,
        root=root,
        intermediate=inter,
        root_pem=pki.write_certs(folder / "root.pem", [root]),
        client_ca=client_ca,
        client_ca_pem=pki.write_certs(folder / "client-ca.pem", [client_ca]),
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
    )
    # Not served (port 9 is closed) but kept so a test can serve it if it wants the AIA fetch.
    _write_der(folder / "lab-intermediate.der", inter)
    chains = _tls_chains(root, inter)
    with contextlib.ExitStack() as stack:
        for name, chain in chains.items():
            spec = SPECS[name]
            chain_path, key_path = pki.write_chain(certs, name, chain)
            options: dict[str, object] = {}
            if name in ("weak_signature", "weak_key"):
                options["ciphers"] = WEAK_CIPHERS
            if name == "client_cert_required":
                options["request_client_cert"] = "required"
                options["client_ca_path"] = lab.client_ca_pem
            server = stack.enter_context(TLSServer(chain_path, key_path, **options))  # type: ignore[arg-type]
            lab.scenarios[name] = Scenario(
                name,
                spec.kind,
                spec.expected,
                host_of(name),
                server.port,
                chain=chain,
                server=server,
            )
        _start_network(lab, stack)
        if with_nginx:
            _start_nginx(lab, stack, certs, inter)
        else:
            for name in names(kind="nginx"):
                lab.unavailable[name] = "nginx is not installed"
        yield lab


def _start_network(lab: Lab, stack: contextlib.ExitStack) -> None:
    peers: dict[str, LoopbackServer] = {
        "silent": SilentServer(),
        "plain_http": PlainHTTPServer(),
        "ssh_banner": BannerServer(SSH_BANNER),
        "smtp_banner": BannerServer(SMTP_BANNER),
        "handshake_alert": AbortServer(),
    }
    for name, peer in peers.items():
        stack.enter_context(peer)
        spec = SPECS[name]
        lab.scenarios[name] = Scenario(
            name, spec.kind, spec.expected, host_of(name), peer.port, server=peer
        )
    spec = SPECS["closed"]
    lab.scenarios["closed"] = Scenario(
        "closed", spec.kind, spec.expected, host_of("closed"), closed_port()
    )


def _start_nginx(lab: Lab, stack: contextlib.ExitStack, certs: Path, inter: pki.Issued) -> None:
    """One nginx for every nginx scenario, one port each."""
    order = ["nginx_good", "sni_default_cert", "sni_required_reject"]
    named: dict[str, tuple[pki.Issued, ...]] = {}
    files: dict[str, tuple[Path, Path]] = {}
    for name in order:
        named[name] = (pki.leaf(host_of(name), inter), inter)
        files[name] = pki.write_chain(certs, name, named[name])
    wrong = (pki.leaf("default.lab.test", inter), inter)
    files["default"] = pki.write_chain(certs, "nginx-default", wrong)

    def build(ports: Sequence[int]) -> str:
        good, default_cert, reject = ports
        cert, key = files["nginx_good"]
        blocks = [
            tls_server_block(
                good, server_name=host_of("nginx_good"), certificate=cert, key=key, default=True
            )
        ]
        cert, key = files["default"]
        blocks.append(tls_server_block(default_cert, certificate=cert, key=key, default=True))
        cert, key = files["sni_default_cert"]
        blocks.append(
            tls_server_block(
                default_cert,
                server_name=host_of("sni_default_cert"),
                certificate=cert,
                key=key,
            )
        )
        blocks.append(tls_server_block(reject, default=True, reject_handshake=True))
        cert, key = files["sni_required_reject"]
        blocks.append(
            tls_server_block(
                reject, server_name=host_of("sni_required_reject"), certificate=cert, key=key
            )
        )
        return "".join(blocks)

    server = stack.enter_context(Nginx(build, ports=len(order), workdir=lab.folder / "nginx"))
    without_sni: dict[str, tuple[pki.Issued, ...] | None] = {
        "nginx_good": None,
        "sni_default_cert": wrong,
        "sni_required_reject": (),
    }
    for name, port in zip(order, server.ports, strict=True):
        spec = SPECS[name]
        lab.scenarios[name] = Scenario(
            name,
            spec.kind,
            spec.expected,
            host_of(name),
            port,
            chain=named[name],
            chain_without_sni=without_sni[name],
            server=server,
        )


def run_cli(args: Sequence[str], *, timeout: float = CLI_TIMEOUT) -> tuple[int, object | None, str]:
    """Run `python -m checks check ARGS`: the exit code, the parsed JSON (or None), stderr."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    command = [sys.executable, "-m", "checks", "check", *args]
    return run_json(command, env=env, timeout=timeout)


def run_json(
    command: Sequence[str], *, env: dict[str, str], timeout: float = CLI_TIMEOUT
) -> tuple[int, object | None, str]:
    """Run `command` from the repository: its exit code, its stdout as JSON (None when it is
    not), its stderr."""
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        parsed = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        parsed = None
    return done.returncode, parsed, done.stderr
