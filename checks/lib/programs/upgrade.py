"""Mail, directory, database and chat targets: which programs speak each protocol, and how
curl, openssl and Python reach TLS there as their users would (a plain-text upgrade first,
or TLS at once), ending right after TLS and the protocol's greeting."""

from __future__ import annotations

import dataclasses
import re

from checks.core.schemes import protocol_name
from checks.lib.programs import classify, probes
from checks.lib.programs.common import (
    Run,
    connects,
    curl_base_argv,
    did_not_run,
    probe_attempt,
    refuses,
)
from checks.lib.programs.models import Attempt, Program, Reason, Target

# The protocols curl speaks besides HTTP, with the scheme of TLS at once for each.
CURL_IMPLICIT = {"smtp": "smtps", "imap": "imaps", "pop3": "pop3s", "ftp": "ftps", "ldap": "ldaps"}
# A command that ends right after TLS and the greeting: nothing is sent, read or changed.
# curl logs in to IMAP, POP3 and SMTP only when given a user (-u), so these run before any
# login: SMTP NOOP (EHLO, STARTTLS, EHLO, NOOP, QUIT: no MAIL FROM, no recipient), IMAP
# CAPABILITY and POP3 CAPA (both allowed before authentication). FTP always logs in: -I
# (no body) makes it the anonymous login every FTP client tries by default, with no data
# connection and no listing. LDAP reads the root DSE anonymously (the URL names no entry).
_CURL_COMMAND = {
    "smtp": ["-X", "NOOP"],
    "imap": ["-X", "CAPABILITY"],
    "pop3": ["-X", "CAPA"],
    "ftp": ["-I"],
    "ldap": [],
}
# curl exit codes that say the TLS layer itself failed; any other code after curl said it
# verified the certificate comes from the protocol on top (8 weird reply, 9 or 67 login
# denied, 56 the server closed, 78 no such file).
_CURL_TLS_FAILURES = {35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91}
_CURL_NETWORK: dict[int, Reason] = {5: "network", 6: "network", 7: "network", 28: "timeout"}
# What curl -v prints once the certificate and name are verified (OpenSSL and GnuTLS builds;
# OpenSSL checks the name first, then prints this).
_CURL_VERIFIED = re.compile(r"SSL certificate verify ok|server certificate verification OK")
# openssl s_client's -starttls names, by our protocol names (OpenSSL 1.1.1 and later);
# LibreSSL's s_client knows only the first five.
OPENSSL_STARTTLS = {
    "smtp": "smtp", "pop3": "pop3", "imap": "imap", "ftp": "ftp", "xmpp": "xmpp",
    "ldap": "ldap", "postgres": "postgres", "mysql": "mysql",
}  # fmt: skip
_LIBRESSL_STARTTLS = ("smtp", "pop3", "imap", "ftp", "xmpp")
# The standard library's clients: smtplib, imaplib, poplib and ftplib (ftplib cannot start
# with TLS, so implicit FTPS is not among them).
PYTHON_MODULES = {"smtp": "smtplib", "imap": "imaplib", "pop3": "poplib", "ftp": "ftplib"}
_PYTHON_STARTTLS = ("smtp", "imap", "pop3", "ftp")
_PYTHON_IMPLICIT = ("smtp", "imap", "pop3")
# Programs that speak only HTTPS (browsers, wget, git, Node and Java as our probes run them).
_HTTPS_ONLY = ("wget", "node", "java", "git", "chrome", "edge", "firefox", "safari", "chromium")


def named_for(program: Program, target: Target) -> Program:
    """`program` named for what it does with `target`: Python by the module that connects
    (`Python 3.11 (smtplib)`), since urllib speaks only HTTPS."""
    module = PYTHON_MODULES.get(target.protocol) if program.id == "python" else None
    if module is None:
        return program
    return dataclasses.replace(program, name=program.name.replace("(urllib)", f"({module})"))


def _mode(target: Target) -> str:
    name = protocol_name(target.protocol)
    return f"{name} with STARTTLS" if target.starttls else f"{name} over TLS at once"


def covers(program: Program, target: Target) -> str | None:
    """None when `program` speaks what `target` needs (its protocol, with or without the
    plain-text upgrade), else why it does not, as one sentence: such a program is not tried."""
    protocol, upgrade = target.protocol, target.starttls
    if program.id in ("psql", "mysql"):
        wanted = "postgres" if program.id == "psql" else "mysql"
        if upgrade == wanted:
            return None
        return f"{program.name} speaks only {protocol_name(wanted)}, not {_mode(target)}"
    if protocol == "https":
        return None
    if program.id == "curl":
        return _curl_covers(program, protocol, upgrade)
    if program.id == "openssl":
        if upgrade is None:
            return None
        libressl = "LibreSSL" in (program.tls_library or "")
        if upgrade in (_LIBRESSL_STARTTLS if libressl else OPENSSL_STARTTLS):
            return None
        return f"this openssl s_client has no -starttls {upgrade}"
    if program.id == "python":
        names = _PYTHON_STARTTLS if upgrade else _PYTHON_IMPLICIT
        if protocol in names:
            return None
        return f"Python's standard library has no client for {_mode(target)}"
    if program.id in _HTTPS_ONLY or program.id in ("dotnet", "powershell"):
        return f"{program.name} does not speak {protocol_name(protocol)}"
    return f"{program.name} is not tried with {_mode(target)}"


def _curl_covers(program: Program, protocol: str, upgrade: str | None) -> str | None:
    scheme = CURL_IMPLICIT.get(protocol)
    if scheme is None:
        return f"curl does not speak {protocol_name(protocol)}"
    wanted = protocol if upgrade else scheme
    if program.protocols and wanted not in program.protocols:
        return f"this curl was built without {wanted}://"
    if upgrade == "ldap" and "ldap-starttls" not in program.protocols:
        # Only the OpenLDAP back-end does StartTLS, and only curl 7.81-7.86 and 8.6+ do it
        # right (see parse.curl_protocols); the other back-end refuses --ssl-reqd for ldap://.
        return "this curl cannot do LDAP StartTLS (OpenLDAP's, in curl 7.81-7.86 or 8.6+)"
    return None


def curl_argv(program: Program, r: Run) -> list[str]:
    """curl as a user reaches a mail, directory or file server: smtp://, imap://, pop3://,
    ftp:// or ldap:// with --ssl-reqd for the upgrade, smtps:// and the like for TLS at once."""
    # -v: curl says when it verified the certificate.
    argv = curl_base_argv(program, r, "-v")
    scheme = r.protocol
    if r.starttls:
        argv.append("--ssl-reqd")
    else:
        scheme = CURL_IMPLICIT[r.protocol]
    argv += _CURL_COMMAND[r.protocol]
    return [*argv, f"{scheme}://{r.authority()}/"]


def curl(program: Program, r: Run) -> Attempt:
    done = r.go(program, curl_argv(program, r))
    if (failed := did_not_run(program, done)) is not None:
        return failed
    return read_curl(program.id, done.returncode, done.stderr)


def read_curl(program_id: str, code: int | None, stderr: str) -> Attempt:
    """curl's verdict on a mail, directory or file server, from its exit code and -v output."""
    verified = _CURL_VERIFIED.search(stderr) is not None
    if code == 0 or (verified and code not in _CURL_TLS_FAILURES):
        after = classify.first_meaningful(stderr, "curl: (") if code else ""
        said = f": then {after}" if after and after.startswith("curl: (") else ""
        return connects(program_id, f"exit {code}: the TLS connection worked{said}")
    line = classify.first_meaningful(stderr, "curl: (") or f"curl exit {code}"
    return refuses(program_id, line, _CURL_NETWORK.get(code or 0))


def openssl_args(r: Run) -> list[str]:
    """What `openssl s_client` needs besides -connect for the target's upgrade, if any."""
    if r.starttls is None:
        return []
    args = ["-starttls", OPENSSL_STARTTLS[r.starttls]]
    if r.starttls == "xmpp":
        # The stream's `to`: the domain the server hosts, not necessarily the dialled address.
        args += ["-xmpphost", r.host]
    return args


def openssl_refusal(stdout: str, stderr: str) -> str | None:
    """Why `openssl s_client -starttls` got no TLS, when the server did not upgrade: it did
    not offer the upgrade (s_client then tries anyway), refused it and went on in plain text
    (the handshake reads text: "wrong version number"), or said no (PostgreSQL's `N`, MySQL's
    missing SSL flag); None when the failure came later, in TLS itself."""
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    if any("Didn't find STARTTLS" in line for line in said):
        return "the server did not offer STARTTLS (openssl: Didn't find STARTTLS in the reply)"
    if any("wrong version number" in line for line in said):
        return "the server did not switch to TLS: it answered the handshake in plain text"
    library = [line for line in said if re.match(r"[0-9A-F]+:error:", line)]
    if library or "no peer certificate available" not in stdout:
        return None
    return f"the server did not start TLS: {said[0]}" if said else "the server did not start TLS"


def python_argv(python: str, r: Run) -> list[str]:
    return [
        python, "-c", probes.PYTHON_UPGRADE, r.protocol, r.starttls or "", r.host, str(r.port),
        r.address or "", r.cacert or "", str(r.timeout),
    ]  # fmt: skip


def python(program: Program, r: Run) -> Attempt:
    """smtplib, imaplib, poplib or ftplib with ssl.create_default_context() (over the
    --cacert file when given), as their documentation advises."""
    done = r.go(program, python_argv(program.executable or program.path or "python3", r))
    return probe_attempt(program, done, "Python")
