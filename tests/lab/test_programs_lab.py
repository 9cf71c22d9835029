"""The real curl, wget, Python, Node, Java, git, openssl, psql and mysql against lab servers
(web, mail, directory and database), via attempt()."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest

from checks.lib.programs import Attempt, Program, Target, attempt, discover, speaks
from tests.field.world import changes_trust_or_route
from tests.lab import clean_machine, pki, starttls_servers
from tests.lab.scenarios import ROOT, Lab
from tests.lab.servers import TLSServer

pytestmark = pytest.mark.lab

TIMEOUT = 5.0
# The programs CI installs (packaging/install-system-packages.sh test); every one must be found.
INSTALLED = ("curl", "wget", "python", "node", "java", "git", "openssl")
SCENARIOS = ("healthy", "dh1024", "tls10_only", "expired", "wrong_host", "untrusted_root")
C, R = "connects", "refuses"
# What each real program does, measured on Debian 12 (OpenSSL 3.0 at security level 2, GnuTLS
# 3.7 for wget and git, Node 20, Java 17). "python+requests" is Python over certifi's bundle
# (here the --cacert file, as requests' verify= would be).
EXPECTED: dict[str, dict[str, tuple[str, str | None]]] = {
    "healthy": {p: (C, None) for p in (*INSTALLED, "python+requests")},
    "dh1024": {
        "curl": (R, "dh"), "wget": (C, None), "python": (R, "dh"), "python+requests": (R, "dh"),
        "node": (C, None), "java": (C, None), "git": (C, None), "openssl": (R, "dh"),
    },
    "tls10_only": {
        "curl": (R, "protocol"), "wget": (C, None), "python": (R, "protocol"),
        "python+requests": (R, "protocol"), "node": (R, "protocol"), "java": (R, "protocol"),
        "git": (C, None), "openssl": (R, "protocol"),
    },
    # GnuTLS's libcurl (git) says only "server certificate verification failed", whatever the
    # cause: its reason is "trust".
    "expired": {
        **{p: (R, "expired") for p in (*INSTALLED, "python+requests")},
        "git": (R, "trust"),
    },
    "wrong_host": {p: (R, "name") for p in (*INSTALLED, "python+requests")},
    "untrusted_root": {p: (R, "trust") for p in (*INSTALLED, "python+requests")},
}  # fmt: skip


@dataclass(frozen=True)
class Servers:
    ports: dict[str, int]
    cacert: Path


@pytest.fixture(scope="module")
def servers(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """One loopback server per scenario; each leaf names 127.0.0.1 (an IP SAN) so that every
    program, wget included, reaches it without a pinned address."""
    folder = tmp_path_factory.mktemp("programs")
    dh = folder / "dhparams-1024.pem"
    subprocess.run(
        ["openssl", "dhparam", "-out", str(dh), "1024"],
        check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    inter, ip = lab.intermediate, "127.0.0.1"
    other_root = pki.root("Handshake Doctor Other Root")
    other_inter = pki.intermediate("Handshake Doctor Other Intermediate", other_root)
    past = pki.NOW - pki.DAY
    chains = {
        "healthy": [pki.leaf(ip, inter), inter],
        "dh1024": [pki.leaf(ip, inter, key="rsa2048"), inter],
        "tls10_only": [pki.leaf(ip, inter, key="rsa2048"), inter],
        "expired": [pki.leaf(ip, inter, not_before=past - 30 * pki.DAY, not_after=past), inter],
        "wrong_host": [pki.leaf("wrong.example", inter), inter],
        "untrusted_root": [pki.leaf(ip, other_inter), other_inter],
    }
    options: dict[str, dict[str, object]] = {
        "dh1024": {
            "ciphers": "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "maximum_version": ssl.TLSVersion.TLSv1_2,
            "dh_params": dh,
        },
        "tls10_only": {
            "minimum_version": ssl.TLSVersion.TLSv1,
            "maximum_version": ssl.TLSVersion.TLSv1,
            "ciphers": "DEFAULT:@SECLEVEL=0",
        },
    }
    running: dict[str, TLSServer] = {}
    try:
        for name, chain in chains.items():
            cert, key = pki.write_chain(folder, name, chain)
            with warnings.catch_warnings():
                # Python deprecates TLS 1.0, which is the point of the tls10_only server.
                warnings.simplefilter("ignore", DeprecationWarning)
                server = TLSServer(cert, key, **options.get(name, {}))  # type: ignore[arg-type]
            running[name] = server.start()
        yield Servers({n: s.port for n, s in running.items()}, lab.root_pem)
    finally:
        for server in running.values():
            server.stop()


def _clean_environ() -> dict[str, str]:
    """This environment without what changes trust or routes (this machine sets many)."""
    return {k: v for k, v in os.environ.items() if not changes_trust_or_route(k)}


@pytest.fixture(scope="module")
def programs() -> dict[str, Program]:
    found = {p.id: p for p in discover(timeout=20, cancel=threading.Event())}
    missing = [p for p in INSTALLED if p not in found]
    assert not missing, f"not installed (packaging/install-system-packages.sh test): {missing}"
    return found


def _cell(result: Attempt) -> str:
    return result.result if result.reason is None else f"{result.result}: {result.reason}"


def test_every_program_does_what_the_real_program_does(
    servers: Servers, programs: dict[str, Program], capsys: pytest.CaptureFixture[str]
) -> None:
    cancel = threading.Event()
    columns = (*INSTALLED, "python+requests")
    measured: dict[str, dict[str, Attempt]] = {}
    for scenario in SCENARIOS:
        target = Target("127.0.0.1", servers.ports[scenario], cacert=servers.cacert)
        row: dict[str, Attempt] = {}
        for program_id in INSTALLED:
            result = attempt(programs[program_id], target, timeout=TIMEOUT, cancel=cancel)
            assert result.how == "ran"
            row[program_id] = result
            if program_id == "python":
                assert result.requests is not None
                row["python+requests"] = result.requests
        measured[scenario] = row
    header = "| server | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    lines += [
        f"| {s} | " + " | ".join(_cell(measured[s][c]) for c in columns) + " |" for s in SCENARIOS
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        for scenario in SCENARIOS:
            for program_id in columns:
                print(f"  {scenario:15} {program_id:16} {measured[scenario][program_id].detail}")
    wrong = {
        (s, c): (_cell(measured[s][c]), EXPECTED[s][c])
        for s in SCENARIOS
        for c in columns
        if (measured[s][c].result, measured[s][c].reason) != EXPECTED[s][c]
    }
    assert wrong == {}


def test_a_pinned_address_is_used_and_wget_says_it_cannot_pin(
    servers: Servers, programs: dict[str, Program]
) -> None:
    # "lab.invalid" resolves nowhere: only the pinned address reaches the server, and the
    # certificate (IP SAN only) then fails the name check, which shows the name was used.
    target = Target("lab.invalid", servers.ports["healthy"], "127.0.0.1", servers.cacert)
    cancel = threading.Event()
    for program_id in ("curl", "python", "node", "java", "git", "openssl"):
        result = attempt(programs[program_id], target, timeout=TIMEOUT, cancel=cancel)
        assert (result.result, result.reason) == ("refuses", "name"), (program_id, result)
    wget = attempt(programs["wget"], target, timeout=TIMEOUT, cancel=cancel)
    assert wget.result == "unknown"
    assert "address" in wget.detail


def test_a_missing_program_is_unknown(servers: Servers) -> None:
    ghost = Program("curl", "curl", None, "/nonexistent/curl", None, "os", None, {}, True)
    target = Target("127.0.0.1", servers.ports["healthy"], cacert=servers.cacert)
    result = attempt(ghost, target, timeout=TIMEOUT, cancel=threading.Event())
    assert result.result == "unknown"
    assert "not found" in result.detail


def test_node_extra_ca_certs_makes_node_trust_a_root(
    servers: Servers, programs: dict[str, Program]
) -> None:
    target = Target("127.0.0.1", servers.ports["healthy"])
    cancel = threading.Event()
    plain = attempt(
        programs["node"], target, timeout=TIMEOUT, cancel=cancel, environ=_clean_environ()
    )
    extra = {**_clean_environ(), "NODE_EXTRA_CA_CERTS": str(servers.cacert)}
    given = attempt(programs["node"], target, timeout=TIMEOUT, cancel=cancel, environ=extra)
    assert (plain.result, plain.reason) == ("refuses", "trust")
    assert given.result == "connects", given


# Runs attempt() for curl, Node and Python in the namespace and prints the results as JSON.
_SNIPPET = """
import json, sys, threading
from checks.lib.programs import Target, attempt, discover
cancel = threading.Event()
found = {p.id: p for p in discover(timeout=20, cancel=cancel)}
target = Target("127.0.0.1", int(sys.argv[1]))
out = {}
for pid in ("curl", "node", "python", "openssl"):
    a = attempt(found[pid], target, timeout=5, cancel=cancel)
    out[pid] = [a.result, a.reason, a.detail]
    if a.requests is not None:
        out["python+requests"] = [a.requests.result, a.requests.reason, a.requests.detail]
out["certifi"] = found["python"].certifi_path
print(json.dumps(out))
"""


def _in_os_store_only(folder: Path, port: int) -> dict[str, object]:
    """Run `_SNIPPET` in a private mount namespace whose /etc/ssl/certs holds Mozilla's roots
    and the lab root (see tests/lab/clean_machine.py), with no variable changing trust."""
    mounts = [f"mount --bind {shlex.quote(str(folder / 'ssl-certs'))} /etc/ssl/certs"]
    mounts += [
        f"if [ -d {anchors} ]; then mount --bind {shlex.quote(str(folder / 'empty'))} {anchors}; fi"
        for anchors in clean_machine.LOCAL_ANCHORS
    ]
    command = [sys.executable, "-c", _SNIPPET, str(port)]
    script = " && ".join([*mounts, "exec " + shlex.join(command)])
    env = _clean_environ()
    env.update(HOME=str(folder / "home"), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(answer, dict)
    return answer


def test_a_root_only_in_the_os_store_reaches_curl_but_not_node_or_certifi(
    servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "os-roots.pem"
    store.write_bytes(Path(certifi.where()).read_bytes() + servers.cacert.read_bytes())
    clean_machine.prepare(tmp_path, store)
    answer = _in_os_store_only(tmp_path, servers.ports["healthy"])
    with capsys.disabled():
        print("\nroot only in the OS store:", json.dumps(answer, indent=1))
    assert answer["curl"][:2] == ["connects", None]  # type: ignore[index]
    assert answer["openssl"][:2] == ["connects", None]  # type: ignore[index]
    assert answer["python"][:2] == ["connects", None]  # type: ignore[index]
    assert answer["node"][:2] == ["refuses", "trust"]  # type: ignore[index]
    # requests and pip use certifi's bundle, unless the distribution's certifi is the OS bundle.
    distro_certifi = str(answer["certifi"] or "").startswith(("/etc/", "/usr/share/ca-cert"))
    expected = ["connects", None] if distro_certifi else ["refuses", "trust"]
    assert answer["python+requests"][:2] == expected  # type: ignore[index]


# --- mail, directory and database servers -----------------------------------------------------

# The programs that speak these protocols; CI installs every one (psql and the MariaDB client
# too), so a missing one fails here.
SPEAKERS = ("curl", "openssl", "python", "psql", "mysql")
CERTS = ("healthy", "expired", "wrong_host")
# (service, protocol, starttls) -> the programs run; ldap+starttls gets curl only when this
# curl does LDAP StartTLS (7.87-8.5 break it; Debian 12's 7.88.1 is not tried).
SERVICES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "smtp": ("smtp", "smtp", ("curl", "openssl", "python")),
    "imap": ("imap", "imap", ("curl", "openssl", "python")),
    "imaps": ("imap", None, ("curl", "openssl", "python")),
    "pop3": ("pop3", "pop3", ("curl", "openssl", "python")),
    "pop3s": ("pop3", None, ("curl", "openssl", "python")),
    "postgres": ("postgres", "postgres", ("psql", "openssl")),
    "mysql": ("mysql", "mysql", ("mysql", "openssl")),
    "ldap": ("ldap", "ldap", ("openssl",)),
    "ldaps": ("ldap", None, ("curl", "openssl")),
}
# libpq names no verification error but "certificate verify failed": its reason is "trust".
REASON_FOR = {"expired": "expired", "wrong_host": "name"}
OWN_WORDS = {("psql", "expired"): "trust"}


@dataclass(frozen=True)
class MailServers:
    ports: dict[tuple[str, str], int]
    cacert: Path
    healthy: tuple[Path, Path]


@pytest.fixture(scope="module")
def mail_servers(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServers]:
    """Real dovecot, PostgreSQL and slapd, and the SMTP and MySQL stand-ins, once per
    certificate: healthy, expired and for another name (all on 127.0.0.1)."""
    starttls_servers.require_starttls_daemons()
    folder = tmp_path_factory.mktemp("mail")
    inter, ip, past = lab.intermediate, "127.0.0.1", pki.NOW - pki.DAY
    chains = {
        "healthy": [pki.leaf(ip, inter), inter],
        "expired": [pki.leaf(ip, inter, not_before=past - 30 * pki.DAY, not_after=past), inter],
        "wrong_host": [pki.leaf("wrong.example", inter), inter],
    }
    ports: dict[tuple[str, str], int] = {}
    with contextlib.ExitStack() as stack:
        for name, chain in chains.items():
            cert, key = pki.write_chain(folder, name, chain)
            smtp = stack.enter_context(starttls_servers.SmtpServer(cert, key))
            dovecot = stack.enter_context(starttls_servers.Dovecot(cert, key))
            postgres = stack.enter_context(starttls_servers.Postgres(cert, key))
            mysql = stack.enter_context(starttls_servers.MysqlServer(cert, key))
            slapd = stack.enter_context(starttls_servers.Slapd(cert, key))
            assert dovecot.implicit_port
            assert dovecot.pop3_implicit_port
            assert slapd.implicit_port
            ports.update({
                ("smtp", name): smtp.port, ("imap", name): dovecot.port,
                ("imaps", name): dovecot.implicit_port, ("pop3", name): dovecot.pop3_port,
                ("pop3s", name): dovecot.pop3_implicit_port, ("postgres", name): postgres.port,
                ("mysql", name): mysql.port, ("ldap", name): slapd.port,
                ("ldaps", name): slapd.implicit_port,
            })  # fmt: skip
        healthy = (folder / "healthy.pem", folder / "healthy.key")
        yield MailServers(ports, lab.root_pem, healthy)


@pytest.fixture(scope="module")
def speakers(programs: dict[str, Program]) -> dict[str, Program]:
    missing = [p for p in SPEAKERS if p not in programs]
    assert not missing, f"not installed (packaging/install-system-packages.sh test): {missing}"
    return programs


def _runs(service: str, curl: Program) -> tuple[str, ...]:
    run = SERVICES[service][2]
    if service == "ldap" and "ldap-starttls" in curl.protocols:
        return ("curl", *run)
    return run


def test_programs_that_speak_mail_directory_and_database_protocols(
    mail_servers: MailServers, speakers: dict[str, Program], capsys: pytest.CaptureFixture[str]
) -> None:
    cancel = threading.Event()
    wrong: dict[tuple[str, str, str], tuple[str, str | None, str]] = {}
    lines = []
    for service, (protocol, starttls, _) in SERVICES.items():
        tried = _runs(service, speakers["curl"])
        for cert in CERTS:
            port = mail_servers.ports[(service, cert)]
            target = Target("127.0.0.1", port, None, mail_servers.cacert, protocol, starttls)
            # Exactly the programs that speak it are tried; wget, git, Node, Java are not.
            assert {p for p, found in speakers.items() if speaks(found, target)} == set(tried)
            for program_id in tried:
                got = attempt(speakers[program_id], target, timeout=TIMEOUT, cancel=cancel)
                assert got.how == "ran"
                lines.append(f"  {service:9} {cert:11} {program_id:8} {_cell(got):18} {got.detail}")
                expected = ("connects", None)
                if cert != "healthy":
                    own = OWN_WORDS.get((program_id, cert), REASON_FOR[cert])
                    expected = ("refuses", own)
                if (got.result, got.reason) != expected:
                    wrong[(service, cert, program_id)] = (got.result, got.reason, got.detail)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert wrong == {}


def test_ldap_starttls_with_this_curl(
    mail_servers: MailServers, speakers: dict[str, Program]
) -> None:
    """curl 7.87 to 8.5 send StartTLS and then break the handshake: with such a curl it is
    not tried (not applicable); with any other it must connect."""
    curl = speakers["curl"]
    port = mail_servers.ports[("ldap", "healthy")]
    target = Target("127.0.0.1", port, None, mail_servers.cacert, "ldap", "ldap")
    if "ldap-starttls" in curl.protocols:
        assert attempt(curl, target, timeout=TIMEOUT, cancel=threading.Event()).result == (
            "connects"
        )
        return
    assert not speaks(curl, target)
    left_out = attempt(curl, target, timeout=TIMEOUT, cancel=threading.Event())
    assert (left_out.result, left_out.reason) == ("unknown", None)
    assert "LDAP StartTLS" in left_out.detail


def test_a_server_that_offers_no_starttls_is_refused_for_that(
    mail_servers: MailServers, speakers: dict[str, Program]
) -> None:
    cert, key = mail_servers.healthy
    cancel = threading.Event()
    with starttls_servers.SmtpServer(cert, key, mode="no_starttls") as smtp:
        target = Target("127.0.0.1", smtp.port, None, mail_servers.cacert, "smtp", "smtp")
        for program_id in ("curl", "openssl", "python"):
            got = attempt(speakers[program_id], target, timeout=TIMEOUT, cancel=cancel)
            assert (got.result, got.reason) == ("refuses", "other"), (program_id, got)
            assert "STARTTLS" in got.detail, got
    with starttls_servers.Postgres(cert, key, ssl=False) as postgres:
        target = Target(
            "127.0.0.1", postgres.port, None, mail_servers.cacert, "postgres", "postgres"
        )
        got = attempt(speakers["psql"], target, timeout=TIMEOUT, cancel=cancel)
        assert (got.result, got.reason) == ("refuses", "other"), got
        assert "does not support SSL" in got.detail


def test_psql_without_a_cacert_says_what_its_libpq_trusts(
    mail_servers: MailServers, speakers: dict[str, Program], tmp_path: Path
) -> None:
    """No --cacert and no ~/.postgresql/root.crt: libpq 16+ is given sslrootcert=system (the
    OS store, which lacks the lab root); libpq 15 knows no "system" and cannot verify at all."""
    psql = dataclasses.replace(speakers["psql"], trust_store_path=str(tmp_path / "root.crt"))
    port = mail_servers.ports[("postgres", "healthy")]
    target = Target("127.0.0.1", port, protocol="postgres", starttls="postgres")
    got = attempt(psql, target, timeout=TIMEOUT, cancel=threading.Event())
    major = int((psql.version or "0").split(".")[0])
    if major < 16:
        assert (got.result, got.reason) == ("unknown", None), got
        assert "root.crt" in got.detail
    else:
        assert (got.result, got.reason) == ("refuses", "trust"), got
    (tmp_path / "root.crt").write_bytes(mail_servers.cacert.read_bytes())
    own = attempt(psql, target, timeout=TIMEOUT, cancel=threading.Event())
    assert own.result == "connects", own
