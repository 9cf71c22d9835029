"""The STARTTLS lab servers behave like real ones: real clients reach TLS and see the lab chain.

Clients: openssl s_client -starttls, curl, psql, ldapsearch and the mysql (MariaDB) client, all
on loopback under a timeout. The certificate is a lab leaf for mail.lab.test (also
chat.lab.test, localhost and 127.0.0.1) under an intermediate that the servers send.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import pki
from tests.lab.starttls_servers import (
    Dovecot,
    FtpServer,
    MysqlServer,
    Postgres,
    Slapd,
    SmtpServer,
    XmppServer,
    listening_ports,
    require_starttls_daemons,
)

pytestmark = pytest.mark.lab

TIMEOUT = 15.0
# Clients and the Debian packages they come in; CI installs them, so each one must be found.
CLIENTS = {
    "openssl": "openssl",
    "curl": "curl",
    "psql": "postgresql-client",
    "ldapsearch": "ldap-utils",
    "mysql": "default-mysql-client",
}
STANDARD_PORTS = {110, 143, 389, 636, 993, 995, 5432}
STARTTLS_OID = "1.3.6.1.4.1.1466.20037"


@dataclass(frozen=True)
class Certs:
    chain: Path
    key: Path
    root: Path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    missing = [f"{name} ({package})" for name, package in CLIENTS.items() if not shutil.which(name)]
    if missing:
        pytest.fail(
            f"clients missing: {', '.join(missing)}: run packaging/install-system-packages.sh test",
            pytrace=False,
        )
    folder = tmp_path_factory.mktemp("starttls-pki")
    root = pki.root("STARTTLS Lab Root")
    intermediate = pki.intermediate("STARTTLS Lab Intermediate", root)
    names = ("mail.lab.test", "chat.lab.test", "localhost", "127.0.0.1")
    leaf = pki.leaf("mail.lab.test", intermediate, sans=names)
    chain, key = pki.write_chain(folder, "mail", [leaf, intermediate])
    return Certs(chain, key, pki.write_certs(folder / "root.pem", [root]))


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=None if env is None else {**os.environ, **env},
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def s_client(certs: Certs, port: int, starttls: str | None, *extra: str) -> str:
    """`openssl s_client` verifying the lab chain for mail.lab.test; its whole output."""
    command = ["openssl", "s_client", "-brief", "-CAfile", str(certs.root)]
    command += ["-verify_hostname", "mail.lab.test", "-connect", f"127.0.0.1:{port}"]
    if starttls:
        command += ["-starttls", starttls]
    return output(run(*command, *extra))


def verified(text: str) -> bool:
    """Whether s_client finished a handshake and verified our leaf through the intermediate."""
    return "Peer certificate: CN = mail.lab.test" in text and "Verification: OK" in text


def chat(port: int, *steps: tuple[bytes, bytes], wait: float = 5.0) -> bytes:
    """Plain-text talk: for each (send, expect) send the bytes, then read until `expect`."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        for send, expect in steps:
            if send:
                conn.sendall(send)
            mark = len(received)
            while expect not in received[mark:]:
                chunk = conn.recv(4096)
                if not chunk:
                    return received
                received += chunk
    return received


def listen_for(port: int, seconds: float) -> tuple[bytes, bool]:
    """What a silent client receives in `seconds`, and whether the connection is still open."""
    received = b""
    deadline = time.monotonic() + seconds
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                return received, True
            if not chunk:
                return received, False
            received += chunk
    return received, True


# Real daemons, each started once for the module.


@pytest.fixture(scope="module")
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    require_starttls_daemons()
    with Dovecot(certs.chain, certs.key) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot_plain(certs: Certs) -> Iterator[Dovecot]:
    require_starttls_daemons()
    with Dovecot(certs.chain, certs.key, starttls=False) as server:
        yield server


@pytest.fixture(scope="module")
def postgres(certs: Certs) -> Iterator[Postgres]:
    require_starttls_daemons()
    with Postgres(certs.chain, certs.key) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_plain(certs: Certs) -> Iterator[Postgres]:
    require_starttls_daemons()
    with Postgres(certs.chain, certs.key, ssl=False) as server:
        yield server


@pytest.fixture(scope="module")
def slapd(certs: Certs) -> Iterator[Slapd]:
    require_starttls_daemons()
    with Slapd(certs.chain, certs.key) as server:
        yield server


@pytest.fixture(scope="module")
def slapd_plain(certs: Certs) -> Iterator[Slapd]:
    require_starttls_daemons()
    with Slapd(certs.chain, certs.key, tls=False) as server:
        yield server


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_dovecot_starttls_and_implicit_tls_serve_the_chain(
    dovecot: Dovecot, certs: Certs, protocol: str
) -> None:
    plain, implicit = (
        (dovecot.port, dovecot.implicit_port)
        if protocol == "imap"
        else (dovecot.pop3_port, dovecot.pop3_implicit_port)
    )
    assert implicit is not None
    assert verified(s_client(certs, plain, protocol))
    assert verified(s_client(certs, implicit, None))


def test_dovecot_lets_curl_log_in_after_starttls(dovecot: Dovecot) -> None:
    imap = run(
        "curl", "-sS", "--ssl-reqd", "-k", "-u", "lab:lab", f"imap://127.0.0.1:{dovecot.port}/"
    )
    assert imap.returncode == 0, output(imap)
    assert "INBOX" in imap.stdout
    pop3 = run(
        "curl", "-sS", "--ssl-reqd", "-k", "-u", "lab:lab", f"pop3://127.0.0.1:{dovecot.pop3_port}/"
    )
    assert pop3.returncode == 0, output(pop3)
    assert "method=PLAIN" in dovecot.log_text()


def test_dovecot_offers_starttls_in_plain_text(dovecot: Dovecot) -> None:
    imap = chat(
        dovecot.port, (b"", b"\r\n"), (b"a CAPABILITY\r\n", b"a OK"), (b"b STARTTLS\r\n", b"b OK")
    )
    assert b"* CAPABILITY IMAP4rev1" in imap
    assert b" STARTTLS" in imap
    assert b"b OK Begin TLS negotiation now." in imap
    pop3 = chat(
        dovecot.pop3_port, (b"", b"\r\n"), (b"CAPA\r\n", b"\r\n.\r\n"), (b"STLS\r\n", b"\r\n")
    )
    assert b"\r\nSTLS\r\n" in pop3
    assert pop3.endswith(b"+OK Begin TLS negotiation now.\r\n")


def test_dovecot_without_starttls_answers_like_dovecot(
    dovecot_plain: Dovecot, certs: Certs
) -> None:
    server = dovecot_plain
    assert server.implicit_port is None
    assert server.pop3_implicit_port is None
    imap = chat(
        server.port, (b"", b"\r\n"), (b"a CAPABILITY\r\n", b"a OK"), (b"b STARTTLS\r\n", b"\r\n")
    )
    assert b"STARTTLS" not in imap.split(b"b BAD")[0]
    assert imap.endswith(b"b BAD TLS support isn't enabled.\r\n")
    pop3 = chat(
        server.pop3_port, (b"", b"\r\n"), (b"CAPA\r\n", b"\r\n.\r\n"), (b"STLS\r\n", b"\r\n")
    )
    assert b"STLS\r\n" not in pop3.split(b"-ERR")[0]
    assert pop3.endswith(b"-ERR TLS support isn't enabled.\r\n")
    text = s_client(certs, server.port, "imap")
    assert "Didn't find STARTTLS in server response" in text
    assert not verified(text)
    curl = run(
        "curl", "-sS", "--ssl-reqd", "-k", "-u", "lab:lab", f"imap://127.0.0.1:{server.port}/"
    )
    assert curl.returncode == 64, output(curl)
    assert "STARTTLS not available" in curl.stderr
    curl = run(
        "curl", "-sS", "--ssl-reqd", "-k", "-u", "lab:lab", f"pop3://127.0.0.1:{server.pop3_port}/"
    )
    assert curl.returncode == 64, output(curl)
    assert "STLS not supported" in curl.stderr


def test_daemons_listen_only_on_their_own_loopback_ports(
    dovecot: Dovecot, dovecot_plain: Dovecot, postgres: Postgres, slapd: Slapd, slapd_plain: Slapd
) -> None:
    for daemon in (dovecot, dovecot_plain, postgres, slapd, slapd_plain):
        assert daemon.process is not None
        held = listening_ports(daemon.process.pid)
        assert held == set(daemon.ports), daemon
        assert not held & STANDARD_PORTS
        assert daemon.startup_seconds is not None
        assert daemon.startup_seconds < 5, daemon


def test_postgres_answers_sslrequest_and_serves_the_chain(postgres: Postgres, certs: Certs) -> None:
    ssl_request = bytes.fromhex("0000000804d2162f")
    assert chat(postgres.port, (ssl_request, b"S")) == b"S"
    assert verified(s_client(certs, postgres.port, "postgres"))
    dsn = (
        f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres "
        f"sslmode=verify-full sslrootcert={certs.root}"
    )
    query = "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()"
    result = run("psql", dsn, "-XAtc", query)
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() in ("t|TLSv1.3", "t|TLSv1.2")


def test_postgres_without_ssl_answers_n(postgres_plain: Postgres, certs: Certs) -> None:
    port = postgres_plain.port
    assert chat(port, (bytes.fromhex("0000000804d2162f"), b"N")) == b"N"
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    refused = run("psql", f"{dsn} sslmode=require", "-XAtc", "select 1")
    assert refused.returncode == 2
    assert "server does not support SSL, but SSL was required" in refused.stderr
    plain = run("psql", f"{dsn} sslmode=disable", "-XAtc", "select 1")
    assert plain.returncode == 0, output(plain)
    assert not verified(s_client(certs, port, "postgres"))


def test_slapd_starttls_and_ldaps_serve_the_chain(slapd: Slapd, certs: Certs) -> None:
    assert slapd.implicit_port is not None
    assert verified(s_client(certs, slapd.port, "ldap"))
    assert verified(s_client(certs, slapd.implicit_port, None))
    trusted = {"LDAPTLS_CACERT": str(certs.root), "LDAPTLS_REQCERT": "demand"}
    search = ("-x", "-b", "", "-s", "base", "supportedExtension")
    result = run("ldapsearch", "-ZZ", "-H", f"ldap://127.0.0.1:{slapd.port}", *search, env=trusted)
    assert result.returncode == 0, output(result)
    assert f"supportedExtension: {STARTTLS_OID}" in result.stdout
    assert "TLS established" in slapd.log_text()
    lax = run(
        "ldapsearch",
        "-ZZ",
        "-H",
        f"ldap://127.0.0.1:{slapd.port}",
        *search,
        env={"LDAPTLS_REQCERT": "never"},
    )
    assert lax.returncode == 0, output(lax)
    ldaps = run("curl", "-sS", "-k", f"ldaps://127.0.0.1:{slapd.implicit_port}/??base")
    assert ldaps.returncode == 0, output(ldaps)
    assert "OpenLDAProotDSE" in ldaps.stdout


def test_slapd_without_tls_refuses_starttls(slapd_plain: Slapd, certs: Certs) -> None:
    port = slapd_plain.port
    assert slapd_plain.implicit_port is None
    search = ("-x", "-b", "", "-s", "base", "supportedExtension")
    env = {"LDAPTLS_REQCERT": "never"}
    refused = run("ldapsearch", "-ZZ", "-H", f"ldap://127.0.0.1:{port}", *search, env=env)
    assert refused.returncode != 0
    assert "ldap_start_tls: Protocol error (2)" in refused.stderr
    assert "unsupported extended operation" in refused.stderr
    # -Z only tries StartTLS and goes on in plain text: the root DSE lacks the StartTLS OID.
    tried = run("ldapsearch", "-Z", "-H", f"ldap://127.0.0.1:{port}", *search, env=env)
    assert tried.returncode == 0, output(tried)
    assert STARTTLS_OID not in tried.stdout
    assert "STARTTLS failed, LDAP Result Code: 2" in s_client(certs, port, "ldap")
    # curl (7.88) speaks plain LDAP to it; its ldap:// StartTLS is no test of a server: it
    # fails even against slapd with TLS, after slapd has accepted the StartTLS request.
    curl = run("curl", "-sS", f"ldap://127.0.0.1:{port}/??base")
    assert curl.returncode == 0, output(curl)
    assert "OpenLDAProotDSE" in curl.stdout


# Python stand-ins.


def test_smtp_starttls_with_openssl_and_curl(certs: Certs) -> None:
    with SmtpServer(certs.chain, certs.key) as server:
        assert verified(s_client(certs, server.port, "smtp"))
        curl = run("curl", "-sSv", "--ssl-reqd", "-k", f"smtp://127.0.0.1:{server.port}/")
        assert curl.returncode == 0, output(curl)
        before, _, after = curl.stderr.partition("< 220 2.0.0 Ready to start TLS")
        assert "< 250-STARTTLS" in before
        assert "< 250-AUTH PLAIN LOGIN" in after
        assert "< 250-STARTTLS" not in after
        assert len(server.tls_versions) == 2


@pytest.mark.parametrize(
    ("mode", "reply", "curl_says"),
    [
        ("no_starttls", b"502 5.5.1 command not implemented", "STARTTLS not supported."),
        (
            "refuse",
            b"454 4.7.0 TLS not available due to local problem",
            "STARTTLS denied, code 454",
        ),
        ("after_auth", b"530 5.7.0 Must issue an AUTH command first", "STARTTLS not supported."),
    ],
)
def test_smtp_without_upgrade(certs: Certs, mode: str, reply: bytes, curl_says: str) -> None:
    with SmtpServer(certs.chain, certs.key, mode=mode) as server:
        talk = chat(
            server.port, (b"", b"\r\n"), (b"EHLO client\r\n", b"250 "), (b"STARTTLS\r\n", b"\r\n")
        )
        ehlo = talk.split(b"\r\n")[1:-2]
        assert (b"250-STARTTLS" in ehlo) == (mode == "refuse")
        assert (b"250-AUTH PLAIN LOGIN" in ehlo) == (mode == "after_auth")
        assert talk.endswith(reply + b"\r\n")
        text = s_client(certs, server.port, "smtp")
        assert not verified(text)
        assert ("Didn't find STARTTLS in server response" in text) == (mode != "refuse")
        curl = run("curl", "-sS", "--ssl-reqd", "-k", f"smtp://127.0.0.1:{server.port}/")
        assert curl.returncode == 64, output(curl)
        assert curl_says in curl.stderr
        assert server.handshakes == []


def test_smtp_implicit_tls_on_a_starttls_port(certs: Certs) -> None:
    with SmtpServer(certs.chain, certs.key, mode="implicit") as server:
        assert verified(s_client(certs, server.port, None))
        curl = run("curl", "-sS", "-k", f"smtps://127.0.0.1:{server.port}/")
        assert curl.returncode == 0, output(curl)
        # A plain-text client hears no greeting; its EHLO breaks the server's handshake.
        assert listen_for(server.port, 0.5) == (b"", True)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(b"EHLO client\r\n")
            answer = conn.recv(4096)
        assert not answer.startswith(b"220")
        assert server.handshakes[-1].startswith("error: [SSL: WRONG_VERSION_NUMBER]")


def test_smtp_greetings_that_never_end(certs: Certs) -> None:
    with SmtpServer(certs.chain, certs.key, mode="stalled_greeting") as stalled:
        assert listen_for(stalled.port, 0.5) == (b"220-mail.lab.test ESMTP\r\n220-please wa", True)
        curl = run("curl", "-sS", "--max-time", "1", f"smtp://127.0.0.1:{stalled.port}/")
        assert curl.returncode == 28, output(curl)
    with SmtpServer(certs.chain, certs.key, mode="endless_greeting") as endless:
        received, still_open = listen_for(endless.port, 0.5)
        lines = received.split(b"\r\n")
        assert still_open
        assert len(lines) >= 5
        assert all(line.startswith(b"220-") for line in lines[:-1])
    with SmtpServer(certs.chain, certs.key, mode="silent") as silent:
        assert listen_for(silent.port, 0.5) == (b"", True)


def test_stand_ins_stop_within_two_seconds_with_clients_connected(certs: Certs) -> None:
    servers = [
        SmtpServer(certs.chain, certs.key, mode=mode).start()
        for mode in ("endless_greeting", "stalled_greeting", "silent", "starttls")
    ]
    clients = [socket.create_connection(("127.0.0.1", s.port), timeout=2) for s in servers]
    try:
        tls_client = ssl.create_default_context(cafile=str(certs.root))
        plain = clients[-1]
        plain.recv(4096)
        plain.sendall(b"STARTTLS\r\n")
        plain.recv(4096)
        clients[-1] = tls_client.wrap_socket(plain, server_hostname="mail.lab.test")
        time.sleep(0.2)
        began = time.monotonic()
        for server in servers:
            server.stop()
        assert time.monotonic() - began < 2
    finally:
        for client in clients:
            client.close()


def test_ftp_auth_tls(certs: Certs) -> None:
    with FtpServer(certs.chain, certs.key) as server:
        assert verified(s_client(certs, server.port, "ftp"))
        curl = run(
            "curl", "-sS", "-I", "--ssl-reqd", "-k", f"ftp://127.0.0.1:{server.port}/lab.txt"
        )
        assert curl.returncode == 0, output(curl)
        assert "Content-Length: 3" in curl.stdout
        assert len(server.tls_versions) == 2


@pytest.mark.parametrize(
    ("mode", "reply"),
    [
        ("no_starttls", b"500 Unknown command."),
        ("refuse", b"534 Request denied for policy reasons."),
    ],
)
def test_ftp_without_auth_tls(certs: Certs, mode: str, reply: bytes) -> None:
    with FtpServer(certs.chain, certs.key, mode=mode) as server:
        talk = chat(
            server.port, (b"", b"\r\n"), (b"FEAT\r\n", b"211 End\r\n"), (b"AUTH TLS\r\n", b"\r\n")
        )
        assert (b" AUTH TLS\r\n" in talk) == (mode == "refuse")
        assert talk.endswith(reply + b"\r\n")
        assert not verified(s_client(certs, server.port, "ftp"))
        curl = run(
            "curl", "-sS", "-I", "--ssl-reqd", "-k", f"ftp://127.0.0.1:{server.port}/lab.txt"
        )
        assert curl.returncode == 64, output(curl)
        assert server.handshakes == []


STREAM = (
    b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    b"xmlns='jabber:client' to='%s' version='1.0'>"
)
STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def test_xmpp_starttls(certs: Certs) -> None:
    with XmppServer(certs.chain, certs.key, domain="chat.lab.test") as server:
        assert verified(s_client(certs, server.port, "xmpp", "-xmpphost", "chat.lab.test"))
        # A whole client stream in Python: STARTTLS, a fresh stream inside TLS, a failed SASL.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(STREAM % b"chat.lab.test")
            received = b""
            while b"</stream:features>" not in received:
                received += conn.recv(4096)
            assert (
                b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
                in received
            )
            conn.sendall(STARTTLS)
            assert conn.recv(4096) == b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
            context = ssl.create_default_context(cafile=str(certs.root))
            with context.wrap_socket(conn, server_hostname="chat.lab.test") as tls:
                tls.sendall(STREAM % b"chat.lab.test")
                received = b""
                while b"</stream:features>" not in received:
                    received += tls.recv(4096)
                assert b"<mechanism>PLAIN</mechanism>" in received
                tls.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>")
                tls.sendall(b"AGxhYgBsYWI=</auth>")
                assert b"<not-authorized/>" in tls.recv(4096)
                tls.sendall(b"</stream:stream>")
                assert tls.recv(4096) == b"</stream:stream>"
        assert server.requested_domains == ["chat.lab.test"] * 3
        assert len(server.tls_versions) == 2


def test_xmpp_without_starttls(certs: Certs) -> None:
    with XmppServer(certs.chain, certs.key, mode="no_starttls") as server:
        talk = chat(
            server.port,
            (STREAM % b"chat.lab.test", b"</stream:features>"),
            (STARTTLS, b"</stream:stream>"),
        )
        features = talk.split(b"<stream:features>")[1]
        assert b"starttls" not in features.split(b"</stream:features>")[0]
        assert b"<mechanism>PLAIN</mechanism>" in features
        assert talk.endswith(
            b"<stream:error><unsupported-stanza-type xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            b"</stream:error></stream:stream>"
        )


def test_xmpp_refusing_starttls_and_unknown_domains(certs: Certs) -> None:
    with XmppServer(certs.chain, certs.key, mode="refuse") as server:
        talk = chat(
            server.port,
            (STREAM % b"chat.lab.test", b"</stream:features>"),
            (STARTTLS, b"</stream:stream>"),
        )
        assert talk.endswith(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
        text = s_client(certs, server.port, "xmpp", "-xmpphost", "chat.lab.test")
        assert not verified(text)
        assert server.handshakes == []
    with XmppServer(certs.chain, certs.key) as server:
        talk = chat(server.port, (STREAM % b"other.test", b"</stream:stream>"))
        assert b"<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in talk
        assert server.requested_domains == ["other.test"]


def mysql(port: int, *options: str) -> subprocess.CompletedProcess[str]:
    command = ["mysql", "-h", "127.0.0.1", "-P", str(port), "-u", "lab", "--connect-timeout=5"]
    return run(*command, *options, "-e", "select 1")


def test_mysql_ssl_request(certs: Certs) -> None:
    with MysqlServer(certs.chain, certs.key) as server:
        assert verified(s_client(certs, server.port, "mysql"))
        # MariaDB's client verifies our chain (127.0.0.1 is in the leaf) and is denied in TLS.
        checked = mysql(server.port, "-plab", "--ssl-verify-server-cert", f"--ssl-ca={certs.root}")
        assert checked.returncode == 1
        assert checked.stderr.strip() == (
            "ERROR 1045 (28000): Access denied for user 'lab'@'localhost' (using password: YES)"
        )
        assert len(server.tls_versions) == 2


def test_mysql_without_ssl(certs: Certs) -> None:
    with MysqlServer(certs.chain, certs.key, mode="no_starttls") as server:
        assert "MySQL server does not support SSL." in s_client(certs, server.port, "mysql")
        checked = mysql(server.port, "--ssl-verify-server-cert", f"--ssl-ca={certs.root}")
        assert checked.returncode == 1
        assert (
            "ERROR 2026 (HY000): TLS/SSL error: SSL is required, but the server does not support it"
            in checked.stderr
        )
        # MariaDB's --ssl alone is opportunistic: without CLIENT_SSL it goes on in plain text.
        loose = mysql(server.port, "--ssl")
        assert "ERROR 1045 (28000): Access denied for user 'lab'@'localhost'" in loose.stderr
        assert server.handshakes == []


def test_stand_ins_reject_unknown_modes(certs: Certs) -> None:
    for kind in (SmtpServer, FtpServer, XmppServer, MysqlServer):
        with pytest.raises(ValueError, match="mode must be one of"):
            kind(certs.chain, certs.key, mode="sometimes")
