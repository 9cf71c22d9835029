"""Real clients fail on lab faults, and `explain` must read the message each one really prints."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.present import decoder
from tests.lab import pki
from tests.lab.nginx import Nginx, require_nginx, tls_server_block
from tests.lab.scenarios import Lab
from tests.lab.servers import TLSServer

pytestmark = pytest.mark.lab

LOOPBACK = "127.0.0.1"
CLIENT_TIMEOUT = 60
# The lab's hostname scenarios used as they are; the TLS 1.0 server is built here.
LAB_FAULTS = ("expired", "not_yet_valid", "wrong_host", "self_signed", "untrusted_root")
LAB_FAULTS += ("incomplete_chain",)
TLS10 = "tls10_only"
TLS10_HOST = "tls10-only.lab.test"
# What `explain` must name first. A TLS 1.0-only server is also exactly `protocol.legacy_only`
# ("the server only speaks outdated TLS versions"), which is as right as the other two.
EXPECTED: dict[str, tuple[str, ...]] = {
    "expired": ("cert.expired",),
    "not_yet_valid": ("cert.not_yet_valid",),
    "wrong_host": ("cert.hostname_mismatch",),
    "self_signed": ("cert.self_signed",),
    "untrusted_root": ("cert.untrusted_root",),
    "incomplete_chain": ("cert.incomplete_chain",),
    TLS10: ("protocol.no_common_version", "tls.policy_refused", "protocol.legacy_only"),
}
FAULTS = tuple(EXPECTED)
CLIENTS = ("curl", "wget", "python", "node", "java", "git", "openssl")
PROGRAMS = {"python": sys.executable, "java": "java", "openssl": "openssl"}
REQUIRED_SCORE = 0.9
# What git says when TLS and HTTP worked but the lab's "ok" page is no repository.
NOT_A_REPOSITORY = "is this a git repository?"

# (client, fault) -> "right", "ambiguous" or "wrong"; printed as a table when the module ends.
SCORES: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Site:
    """One faulty server as a client reaches it: the name it asks for, at 127.0.0.1:`port`."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"


@dataclass(frozen=True)
class Faults:
    """Every fault by name: by host name (pinned to loopback) and, for wget, by IP address."""

    by_name: dict[str, Site]
    by_ip: dict[str, Site]
    root_pem: Path
    truststore: Path
    folder: Path


def _ip_chains(lab: Lab) -> dict[str, tuple[pki.Issued, ...]]:
    """The faults again, issued for 127.0.0.1 (wget cannot pin a name to an address)."""
    inter = lab.intermediate
    other_root = pki.root("Other Root")
    other_inter = pki.intermediate("Other Intermediate", other_root)
    return {
        "expired": (
            pki.leaf(
                LOOPBACK, inter, not_before=pki.NOW - 100 * pki.DAY, not_after=pki.NOW - pki.DAY
            ),
            inter,
        ),
        "not_yet_valid": (pki.leaf(LOOPBACK, inter, not_before=pki.NOW + 10 * pki.DAY), inter),
        "wrong_host": (pki.leaf("other.lab.test", inter), inter),
        "self_signed": (pki.leaf(LOOPBACK, None),),
        "untrusted_root": (pki.leaf(LOOPBACK, other_inter), other_inter, other_root),
        "incomplete_chain": (pki.leaf(LOOPBACK, inter),),
    }


def _truststore(lab: Lab, folder: Path) -> Path:
    """A PKCS#12 trust store holding the lab root only, for Java."""
    path = folder / "lab-trust.p12"
    command = ["keytool", "-importcert", "-noprompt", "-alias", "lab-root"]
    command += ["-file", str(lab.root_pem), "-keystore", str(path), "-storetype", "PKCS12"]
    command += ["-storepass", "changeit"]
    subprocess.run(command, check=True, capture_output=True, timeout=CLIENT_TIMEOUT)
    return path


@pytest.fixture(scope="module")
def faults(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    folder = tmp_path_factory.mktemp("live-decoder")
    certs = folder / "certs"
    by_name = {name: Site(lab[name].host, lab[name].port) for name in LAB_FAULTS}
    by_ip: dict[str, Site] = {}
    with contextlib.ExitStack() as stack:
        for name, chain in _ip_chains(lab).items():
            cert, key = pki.write_chain(certs, f"ip-{name}", chain)
            server = stack.enter_context(TLSServer(cert, key))
            by_ip[name] = Site(LOOPBACK, server.port)
        # TLS 1.0 only, with a certificate valid for its name and for 127.0.0.1: only the
        # version is wrong. SECLEVEL=0 because OpenSSL 3 refuses TLS 1.0 at its default level.
        tls10 = (
            pki.leaf(TLS10_HOST, lab.intermediate, sans=(TLS10_HOST, LOOPBACK)),
            lab.intermediate,
        )
        cert, key = pki.write_chain(certs, TLS10, tls10)
        with warnings.catch_warnings():
            # An obsolete server is the point of this fault; Python warns about building one.
            warnings.simplefilter("ignore", DeprecationWarning)
            tls10_server = TLSServer(
                cert,
                key,
                minimum_version=ssl.TLSVersion.TLSv1,
                maximum_version=ssl.TLSVersion.TLSv1,
                ciphers="DEFAULT:@SECLEVEL=0",
            )
        server = stack.enter_context(tls10_server)
        by_name[TLS10] = Site(TLS10_HOST, server.port)
        by_ip[TLS10] = Site(LOOPBACK, server.port)
        yield Faults(by_name, by_ip, lab.root_pem, _truststore(lab, folder), folder)


# --------------------------------------------------------------------------- the clients


@dataclass(frozen=True)
class Outcome:
    """What a client printed and its exit code."""

    code: int
    output: str


def _run(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Outcome:
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    done = subprocess.run(
        command,
        env={**base, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    return Outcome(done.returncode, f"{done.stdout}\n{done.stderr}".strip())


def _curl(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    resolve = f"{site.host}:{site.port}:{LOOPBACK}"
    return _run(
        [
            "curl",
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            str(f.root_pem),
            "--resolve",
            resolve,
            site.url,
        ]
    )


def _wget(f: Faults, fault: str) -> Outcome:
    site = f.by_ip[fault]
    command = ["wget", "--tries=1", "--timeout=20", "-O", os.devnull]
    return _run([*command, f"--ca-certificate={f.root_pem}", site.url])


PYTHON_CLIENT = """
import socket, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
    with context.wrap_socket(sock, server_hostname=host) as tls:
        print(tls.version())
"""


def _python(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    return _run([sys.executable, "-c", PYTHON_CLIENT, site.host, str(site.port), str(f.root_pem)])


NODE_CLIENT = """
const https = require('https');
const [host, port] = process.argv.slice(1);
const lookup = (name, options, callback) => options && options.all
  ? callback(null, [{address: '127.0.0.1', family: 4}])
  : callback(null, '127.0.0.1', 4);
https.get({hostname: host, port: Number(port), path: '/', lookup}, (res) => {
  console.log(res.statusCode); res.resume();
});
"""


def _node(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    env = {"NODE_EXTRA_CA_CERTS": str(f.root_pem)}
    return _run(["node", "-e", NODE_CLIENT, site.host, str(site.port)], env=env)


JAVA_CLIENT = """
import java.net.Socket;
import javax.net.ssl.*;

public class LabClient {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        SSLSocketFactory factory = (SSLSocketFactory) SSLSocketFactory.getDefault();
        Socket raw = new Socket("127.0.0.1", port);
        SSLSocket tls = (SSLSocket) factory.createSocket(raw, host, port, true);
        SSLParameters parameters = tls.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        tls.setSSLParameters(parameters);
        tls.startHandshake();
        System.out.println(tls.getSession().getProtocol());
        tls.close();
    }
}
"""


def _java(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    source = f.folder / "LabClient.java"
    if not source.exists():
        source.write_text(JAVA_CLIENT, encoding="utf-8")
    store = [
        f"-Djavax.net.ssl.trustStore={f.truststore}",
        "-Djavax.net.ssl.trustStorePassword=changeit",
    ]
    return _run(["java", *store, str(source), site.host, str(site.port)])


def _git(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    resolve = f"http.curloptResolve={site.host}:{site.port}:{LOOPBACK}"
    # GIT_SSL_CAINFO rather than `-c http.sslCAInfo=`: Debian's git 2.39 ignores the latter
    # given on the command line (its GnuTLS message then names the system's CA file).
    env = {"GIT_TERMINAL_PROMPT": "0", "HOME": str(f.folder), "GIT_CONFIG_NOSYSTEM": "1"}
    env["GIT_SSL_CAINFO"] = str(f.root_pem)
    command = ["git", "-c", resolve, "ls-remote", f"{site.url}lab/repo.git"]
    return _run(command, env=env, cwd=f.folder)


def _openssl(f: Faults, fault: str) -> Outcome:
    site = f.by_name[fault]
    command = [
        "openssl",
        "s_client",
        "-connect",
        f"{LOOPBACK}:{site.port}",
        "-servername",
        site.host,
    ]
    command += ["-verify_return_error", "-verify_hostname", site.host, "-CAfile", str(f.root_pem)]
    return _run(command)


RUNNERS: dict[str, Callable[[Faults, str], Outcome]] = {
    "curl": _curl,
    "wget": _wget,
    "python": _python,
    "node": _node,
    "java": _java,
    "git": _git,
    "openssl": _openssl,
}


def _installed(client: str) -> bool:
    return shutil.which(PROGRAMS.get(client, client)) is not None


# --------------------------------------------------------------------------- judging


def verdict(explanation: decoder.Explanation, expected: tuple[str, ...]) -> str:
    """ "right" when the first cause is expected, "ambiguous" when the explanation honestly says
    the message cannot tell its candidates apart and the expected one is among them."""
    if explanation.causes and explanation.causes[0].finding in expected:
        return "right"
    if explanation.ambiguous and set(explanation.candidates) & set(expected):
        return "ambiguous"
    return "wrong"


def score_table(scores: dict[tuple[str, str], str]) -> str:
    """One line per client: right, honestly ambiguous, wrong, of how many."""
    lines = [f"{'client':<8} {'right':>5} {'ambig':>5} {'wrong':>5} {'score':>7}"]
    for client in CLIENTS:
        marks = [mark for (who, _), mark in scores.items() if who == client and mark != "n/a"]
        if not marks:
            continue
        right, ambiguous = marks.count("right"), marks.count("ambiguous")
        good = right + ambiguous
        lines.append(
            f"{client:<8} {right:>5} {ambiguous:>5} {marks.count('wrong'):>5} "
            f"{good:>3}/{len(marks):<3}"
        )
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def report_scores(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not SCORES:
        return
    text = "\nLive decoder score (right first, or honestly ambiguous):\n" + score_table(SCORES)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    # Shown even without -s: the table is the point of the run, not a failure detail.
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(text)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_explain_reads_what_the_client_really_printed(
    faults: Faults, client: str, fault: str
) -> None:
    if not _installed(client):
        pytest.fail(f"{client} is not installed: run packaging/install-system-packages.sh test")
    outcome = RUNNERS[client](faults, fault)
    if fault == TLS10 and (outcome.code == 0 or NOT_A_REPOSITORY in outcome.output):
        # GnuTLS (wget, Debian's git) still accepts TLS 1.0: no error, nothing to explain.
        SCORES[(client, fault)] = "n/a"
        return
    assert outcome.code != 0, f"{client} did not fail on {fault}:\n{outcome.output}"
    explanation = decoder.explain(outcome.output)
    mark = verdict(explanation, EXPECTED[fault])
    SCORES[(client, fault)] = mark
    first = explanation.causes[0].finding if explanation.causes else None
    assert mark != "wrong", (
        f"{client} on {fault} printed:\n{outcome.output}\n\n"
        f"explain matched {explanation.entry!r} and named {first!r} first; "
        f"expected one of {EXPECTED[fault]}"
    )


# --------------------------------------------------------------------------- nginx's side

NGINX_SUITE = "ECDHE-RSA-AES128-GCM-SHA256"
NGINX_HOST = "nginx-log.lab.test"
LOG_WAIT = 5.0
# A TLS record header with a version no TLS has: what nginx calls "wrong version number".
NOT_TLS_RECORD = b"\x16\x00\x00\x00\x05hello"


@dataclass(frozen=True)
class NginxSite:
    """A TLS 1.2+ nginx with one suite, and the error log it writes handshake failures to."""

    port: int
    log: Path


@pytest.fixture(scope="module")
def nginx_site(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxSite]:
    require_nginx()
    folder = tmp_path_factory.mktemp("nginx-log")
    chain = (pki.leaf(NGINX_HOST, lab.intermediate, key="rsa2048"), lab.intermediate)
    cert, key = pki.write_chain(folder / "certs", "nginx-log", chain)
    extra = f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {NGINX_SUITE};"

    def build(ports: Sequence[int]) -> str:
        return tls_server_block(ports[0], certificate=cert, key=key, default=True, extra=extra)

    with Nginx(build, ports=1, workdir=folder / "nginx") as server:
        yield NginxSite(server.port, server.error_log)


def _send_not_tls(port: int) -> None:
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        sock.sendall(NOT_TLS_RECORD)
        with contextlib.suppress(OSError):
            sock.recv(4096)


def _s_client(port: int, *options: str) -> None:
    _run(["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", *options])


# Each client fault: how to cause it, and what `explain` must name for nginx's line about it.
# nginx answers plain HTTP itself (400) and logs it as such: "wrong version number" in its log
# is a client sending a broken or foreign record, not http://.
CLIENT_FAULTS: dict[str, tuple[Callable[[int], object], tuple[str, ...]]] = {
    "plain_http": (
        lambda port: _run(["curl", "-sS", f"http://{LOOPBACK}:{port}/"]),
        ("input.http_upgraded",),
    ),
    "not_tls": (_send_not_tls, ("tls.not_tls",)),
    "old_client": (
        lambda port: _s_client(port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0"),
        ("protocol.no_common_version",),
    ),
    "no_shared_suite": (
        lambda port: _s_client(port, "-tls1_2", "-cipher", "AES128-SHA"),
        ("cipher.no_common_suite",),
    ),
    "rejects_certificate": (
        lambda port: _run(
            [
                "curl",
                "-sS",
                "--resolve",
                f"{NGINX_HOST}:{port}:{LOOPBACK}",
                f"https://{NGINX_HOST}:{port}/",
            ]
        ),
        ("cert.untrusted_root",),
    ),
}


def _new_client_line(log: Path, start: int) -> str:
    """The first line about a client that nginx wrote after byte `start` of its error log."""
    deadline = time.monotonic() + LOG_WAIT
    while True:
        text = log.read_bytes()[start:].decode("utf-8", errors="replace")
        # nginx's start-up probe (a connect and close) can be logged late, as "client closed
        # connection while SSL handshaking": no fault here causes that line.
        lines = [
            line
            for line in text.splitlines()
            if "client: " in line and "closed connection while SSL handshaking" not in line
        ]
        if lines or time.monotonic() > deadline:
            return lines[0] if lines else text
        time.sleep(0.05)


@pytest.mark.parametrize("fault", CLIENT_FAULTS)
def test_explain_reads_the_line_nginx_really_logged(nginx_site: NginxSite, fault: str) -> None:
    cause, expected = CLIENT_FAULTS[fault]
    start = nginx_site.log.stat().st_size
    cause(nginx_site.port)
    line = _new_client_line(nginx_site.log, start)
    explanation = decoder.explain(line)
    assert explanation.source == "nginx", f"nginx logged:\n{line}\nmatched {explanation.entry}"
    assert verdict(explanation, expected) != "wrong", (
        f"nginx logged:\n{line}\n\nexplain matched {explanation.entry!r} and named "
        f"{[c.finding for c in explanation.causes]}; expected one of {expected}"
    )
