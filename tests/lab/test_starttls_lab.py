"""Mail, directory, database and chat servers diagnosed whole, local checks on, as a helpdesk
meets them: real dovecot (IMAP, POP3), PostgreSQL and slapd started privately, and Python
stand-ins for SMTP, FTP, XMPP and MySQL (tests/lab/starttls_standins.py says why each is one).

For each protocol: a healthy certificate, an expired one, a wrong host, and a server that does
not offer or refuses the upgrade; then the wrong-port mistakes of mail settings both ways."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab import pki
from tests.lab.conftest import CliRunner
from tests.lab.scenarios import Lab
from tests.lab.starttls_servers import Dovecot, Postgres, Slapd
from tests.lab.starttls_standins import FtpServer, MysqlServer, SmtpServer, XmppServer

pytestmark = pytest.mark.lab

HOST = "mail.lab.test"
NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Certs:
    """Chain and key files for each case, issued by the lab root the clean machine trusts."""

    healthy: tuple[Path, Path]
    expired: tuple[Path, Path]
    wrong_host: tuple[Path, Path]


@pytest.fixture(scope="module")
def certs(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("starttls-certs")
    inter = pki.intermediate("STARTTLS Lab CA", lab.root)
    expired = pki.leaf(
        HOST,
        inter,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=10),
    )
    return Certs(
        healthy=pki.write_chain(folder, "healthy", [pki.leaf(HOST, inter), inter]),
        expired=pki.write_chain(folder, "expired", [expired, inter]),
        wrong_host=pki.write_chain(folder, "wrong", [pki.leaf("other.lab.test", inter), inter]),
    )


@pytest.fixture(scope="module")
def options(lab: Lab, loopback: list[str]) -> list[str]:
    """A whole diagnosis, local checks included, kept on loopback, trusting the lab root."""
    return ["--cacert", str(lab.root_pem), *loopback, "--connect-timeout", "2", "--json"]


Diagnose = Callable[..., dict[str, Any]]


@pytest.fixture
def diagnose(clean_cli: CliRunner, options: list[str]) -> Diagnose:
    def run(target: str, port: int, *extra: str) -> dict[str, Any]:
        _, report, stderr = clean_cli(
            [target, "--resolve", f"{HOST}:{port}:127.0.0.1", *extra, *options]
        )
        assert isinstance(report, dict), stderr
        return report

    return run


def findings(report: dict[str, Any], check_id: str) -> dict[str, dict[str, Any]]:
    check = next((c for c in report["checks"] if c["id"] == check_id), None)
    assert check is not None, [c["id"] for c in report["checks"]]
    return {f["id"]: f for f in check["findings"]}


# protocol -> (how to start its server for a chain and a case, the target for a port).
Start = Callable[[contextlib.ExitStack, tuple[Path, Path], str], int]


def _dovecot(kind: str) -> Start:
    def start(stack: contextlib.ExitStack, chain: tuple[Path, Path], case: str) -> int:
        server = stack.enter_context(Dovecot(*chain, starttls=case != "refuses"))
        return server.port if kind == "imap" else server.pop3_port

    return start


def _postgres(stack: contextlib.ExitStack, chain: tuple[Path, Path], case: str) -> int:
    return stack.enter_context(Postgres(*chain, ssl=case != "refuses")).port


def _slapd(stack: contextlib.ExitStack, chain: tuple[Path, Path], case: str) -> int:
    return stack.enter_context(Slapd(*chain, tls=case != "refuses")).port


def _standin(kind: type[Any], refusal: str, **options: object) -> Start:
    def start(stack: contextlib.ExitStack, chain: tuple[Path, Path], case: str) -> int:
        mode = refusal if case == "refuses" else "starttls"
        return stack.enter_context(kind(*chain, mode=mode, **options)).port

    return start


PROTOCOLS: dict[str, tuple[Start, str, str]] = {
    # protocol: (server, scheme, the finding for a server without the upgrade)
    "smtp": (_standin(SmtpServer, "no_starttls"), "smtp", "starttls.not_offered"),
    "imap": (_dovecot("imap"), "imap", "starttls.not_offered"),
    "pop3": (_dovecot("pop3"), "pop3", "starttls.not_offered"),
    "ldap": (_slapd, "ldap", "starttls.not_offered"),
    "postgres": (_postgres, "postgresql", "starttls.not_offered"),
    "ftp": (_standin(FtpServer, "refuse"), "ftp", "starttls.refused"),
    "xmpp": (_standin(XmppServer, "no_starttls", domain=HOST), "xmpp", "starttls.not_offered"),
    "mysql": (_standin(MysqlServer, "no_starttls"), "mysql", "starttls.not_offered"),
}
CASES = ("healthy", "expired", "wrong_host", "refuses")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_each_protocol_end_to_end(
    protocol: str, case: str, certs: Certs, diagnose: Diagnose
) -> None:
    start, scheme, refusal = PROTOCOLS[protocol]
    chain = getattr(certs, "healthy" if case == "refuses" else case)
    with contextlib.ExitStack() as stack:
        port = start(stack, chain, case)
        report = diagnose(f"{scheme}://{HOST}:{port}", port)
    assert report["target"]["starttls"] == protocol
    verdict = report["verdict"]
    upgrade = findings(report, "starttls")
    if case == "refuses":
        assert verdict["finding"] == refusal, verdict
        assert verdict["confidence"] == "certain"
        assert refusal in upgrade
        if refusal == "starttls.not_offered":
            assert upgrade[refusal]["params"]["variant"] == protocol
        assert next(c for c in report["checks"] if c["id"] == "tls")["status"] == "skip"
        return
    assert "starttls.ok" in upgrade, upgrade
    if case == "healthy":
        assert verdict["status"] == "pass", verdict
        assert verdict["connects"] is True
        assert "cert.valid" in findings(report, "cert")
    elif case == "expired":
        assert verdict["finding"] == "cert.expired", verdict
    else:
        assert verdict["finding"] == "cert.hostname_mismatch", verdict
    # The protocol check ran over the same upgrade: it found the versions the server speaks.
    assert "protocol.no_common_version" not in findings(report, "protocols")


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as running:
        yield running


def test_starttls_settings_on_the_smtps_port(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    """The classic: STARTTLS chosen for the port that speaks TLS at once."""
    server = stack.enter_context(SmtpServer(*certs.healthy, mode="implicit"))
    report = diagnose(f"smtp://{HOST}:{server.port}", server.port)
    verdict = report["verdict"]
    assert verdict["finding"] == "starttls.implicit_tls", verdict
    finding = findings(report, "starttls")["starttls.implicit_tls"]
    assert finding["params"]["variant"] == "smtp"
    assert finding["params"]["upgrade_port"] == 587
    steps = " ".join(finding["fix"])
    for program in ("Thunderbird", "Outlook", "Apple Mail"):
        assert program in steps


def test_starttls_settings_on_the_imaps_port_of_real_dovecot(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    server = stack.enter_context(Dovecot(*certs.healthy))
    report = diagnose(f"imap://{HOST}:{server.implicit_port}", server.implicit_port)
    assert report["verdict"]["finding"] == "starttls.implicit_tls", report["verdict"]
    facts = next(c for c in report["checks"] if c["id"] == "starttls")["facts"]
    assert facts["outcome"] in ("silent", "tls")
    assert facts["direct_tls"] is True


def test_ssl_tls_settings_on_the_starttls_port_of_real_dovecot(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    """The other way round: imaps:// on port 143's kind of port; the greeting says IMAP."""
    server = stack.enter_context(Dovecot(*certs.healthy))
    report = diagnose(f"imaps://{HOST}:{server.port}", server.port)
    verdict = report["verdict"]
    assert verdict["finding"] == "tls.not_tls", verdict
    assert findings(report, "tls")["tls.not_tls"]["params"]["variant"] == "imap"
    assert report["target"]["starttls"] is None


def test_implicit_tls_ports_of_real_dovecot_are_healthy(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    server = stack.enter_context(Dovecot(*certs.healthy))
    for scheme, port in (("imaps", server.implicit_port), ("pop3s", server.pop3_implicit_port)):
        report = diagnose(f"{scheme}://{HOST}:{port}", port)
        assert report["verdict"]["status"] == "pass", (scheme, report["verdict"])
        assert report["target"]["protocol"] == scheme.removesuffix("s")


def test_ldaps_of_real_slapd_is_healthy(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    server = stack.enter_context(Slapd(*certs.healthy))
    report = diagnose(f"ldaps://{HOST}:{server.implicit_port}", server.implicit_port)
    assert report["verdict"]["status"] == "pass", report["verdict"]


@pytest.mark.parametrize(
    ("mode", "variant"),
    [("silent", "silent"), ("stalled_greeting", "stalled"), ("endless_greeting", "stalled")],
)
def test_a_greeting_that_never_ends_is_a_finding_not_a_hang(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack, mode: str, variant: str
) -> None:
    server = stack.enter_context(SmtpServer(*certs.healthy, mode=mode))
    report = diagnose(f"smtp://{HOST}:{server.port}", server.port)
    assert report["verdict"]["finding"] == "starttls.no_greeting", report["verdict"]
    finding = findings(report, "starttls")["starttls.no_greeting"]
    assert finding["params"]["variant"] == variant


def test_a_login_before_the_upgrade_is_named(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    server = stack.enter_context(SmtpServer(*certs.healthy, mode="after_auth"))
    report = diagnose(f"smtp://{HOST}:{server.port}", server.port)
    assert report["verdict"]["finding"] == "starttls.after_auth", report["verdict"]
    reply = findings(report, "starttls")["starttls.after_auth"]["params"]["reply"]
    assert reply.startswith("530")


def test_a_well_known_port_alone_and_an_openssl_line(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    server = stack.enter_context(SmtpServer(*certs.healthy))
    line = f"openssl s_client -connect {HOST}:{server.port} -starttls smtp"
    report = diagnose(line, server.port)
    assert report["verdict"]["status"] == "pass", report["verdict"]
    assert report["target"]["starttls"] == "smtp"
    chosen = diagnose(f"{HOST}:{server.port}", server.port, "--starttls", "smtp")
    assert chosen["verdict"]["status"] == "pass", chosen["verdict"]


@pytest.mark.parametrize("protocol", ["ldap", "postgres", "mysql", "xmpp"])
def test_tls_from_the_first_byte_on_a_port_that_wants_the_upgrade(
    protocol: str, certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack
) -> None:
    """The other way round: ldaps:// on the StartTLS port, `--starttls none` on a database or
    chat port. The port's own upgrade works, so the finding names it and the right setting."""
    start, scheme, _ = PROTOCOLS[protocol]
    port = start(stack, certs.healthy, "healthy")
    if protocol == "ldap":
        report = diagnose(f"ldaps://{HOST}:{port}", port)
    else:
        report = diagnose(f"{scheme}://{HOST}:{port}", port, "--starttls", "none")
    assert report["target"]["starttls"] is None
    assert report["verdict"]["finding"] == "tls.not_tls", report["verdict"]
    finding = findings(report, "tls")["tls.not_tls"]
    assert finding["params"]["variant"] == protocol
    assert f"{scheme}://{HOST}:{port}" in " ".join(finding["fix"])


# mode -> (check, finding, variant): what a server that ignores the upgrade is named.
IGNORED = {
    "ignore_upgrade": ("tls", "tls.not_tls", "after_upgrade"),
    "unanswered": ("starttls", "starttls.refused", "unanswered"),
}


@pytest.mark.parametrize("mode", list(IGNORED))
def test_a_server_that_ignores_the_upgrade(
    certs: Certs, diagnose: Diagnose, stack: contextlib.ExitStack, mode: str
) -> None:
    check_id, finding, variant = IGNORED[mode]
    server = stack.enter_context(SmtpServer(*certs.healthy, mode=mode))
    report = diagnose(f"smtp://{HOST}:{server.port}", server.port)
    assert report["verdict"]["finding"] == finding, report["verdict"]
    assert findings(report, check_id)[finding]["params"]["variant"] == variant
