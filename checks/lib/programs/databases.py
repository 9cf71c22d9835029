"""psql (libpq) and the mysql/mariadb client against a database server: TLS with the server's
certificate and name verified, then a login as a user that does not exist and no password,
which the server refuses; TLS worked when the refusal came from the server."""

from __future__ import annotations

import os
import re
import socket

from checks.lib.programs import classify, parse
from checks.lib.programs.common import Run, connects, did_not_run, refuses, secs, unknown
from checks.lib.programs.models import Attempt, Program, Reason

# The user both clients ask for: no server has it, so no login ever succeeds.
USER = "handshake_doctor"
# libpq's own words before the server's message ("connection to server at ... failed: ").
_LIBPQ_PREFIX = re.compile(r"^psql: error: (?:connection to server (?:at|on) [^:]*failed: )?")
# What only the server says, after libpq verified its certificate (sslmode=verify-full never
# falls back to plain text): FATAL messages, and libpq's answer to a password request.
_PSQL_AFTER_TLS = re.compile(
    r"FATAL:|fe_sendauth|password authentication failed|no password supplied", re.I
)
# libpq before 16 knows no sslrootcert=system and names it as a missing file.
_PSQL_NO_SYSTEM = re.compile(r'root certificate file "system" does not exist', re.I)
_PSQL_NO_ROOT = re.compile(r"root certificate file .* does not exist", re.I)
# The mysql client's errors that come from the server once TLS is up: 1045 access denied,
# 1044/1049 no such database, 1130 host not allowed, 1251 the authentication method.
_MYSQL_AFTER_TLS = re.compile(r"ERROR (1045|1044|1049|1130|1251|1698)\b")
_MYSQL_NETWORK: dict[str, Reason] = {"2002": "network", "2003": "network", "2005": "network"}
# MariaDB's Connector/C says this when the name check fails (chain problems come in
# OpenSSL's words: "certificate has expired", "unable to get local issuer certificate").
_MYSQL_NAME = re.compile(r"Validation of SSL server certificate failed", re.I)
_MYSQL_ERROR = re.compile(r"ERROR (\d+) \([^)]*\)(?: at line \d+)?: (.*)")


def _value(text: str) -> str:
    """A libpq connection-string value, quoted (backslash and quote escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def psql_conninfo(r: Run, rootcert: str | None) -> str:
    """The connection string: the name checked is `host`; `hostaddr` pins the address."""
    params = {"host": r.host}
    if r.address and r.address != r.host:
        params["hostaddr"] = r.address
    params.update(port=str(r.port), sslmode="verify-full")
    if rootcert:
        params["sslrootcert"] = rootcert
    params.update(
        user=USER, dbname="postgres", connect_timeout=secs(r.timeout),
        application_name="handshake-doctor",
    )  # fmt: skip
    return " ".join(f"{key}={_value(value)}" for key, value in params.items())


def psql_rootcert(program: Program, r: Run) -> str:
    """What sslrootcert to give: the --cacert file; else the user's own root file
    (PGSSLROOTCERT or ~/.postgresql/root.crt, what libpq reads by default) when it exists;
    else "system", libpq 16's word for the OS store (older libpq reads it as a missing file)."""
    if r.cacert:
        return r.cacert
    own = program.trust_store_path
    if own and os.path.exists(own):
        return own
    return "system"


def psql_argv(program: Program, r: Run) -> list[str]:
    conninfo = psql_conninfo(r, psql_rootcert(program, r))
    # -X: no ~/.psqlrc; -w: never ask for a password; -c "": nothing to run if let in.
    return [program.path or "psql", "-X", "-w", "-q", "-d", conninfo, "-c", ""]


def _psql_environ(r: Run) -> dict[str, str]:
    # No password from the environment or ~/.pgpass: only TLS is in question.
    env = {k: v for k, v in r.environ.items() if k not in ("PGPASSWORD", "PGSERVICE")}
    env["PGPASSFILE"] = str(r.folder / "no-pgpass")
    return env


def psql(program: Program, r: Run) -> Attempt:
    done = r.go(program, psql_argv(program, r), _psql_environ(r))
    if (failed := did_not_run(program, done)) is not None:
        return failed
    return read_psql(program, done.returncode, done.stderr)


def read_psql(program: Program, code: int | None, stderr: str) -> Attempt:
    """psql's verdict from its exit code and messages (libpq's, in the C locale)."""
    text = stderr.strip()
    lines = [_LIBPQ_PREFIX.sub("", line).strip() for line in text.splitlines()]
    message = "\n".join(line for line in lines if line)
    if code == 0:
        return connects(program.id, "the server let it in over verified TLS")
    if _PSQL_AFTER_TLS.search(text):
        said = classify.first_meaningful(message, "FATAL:", "fe_sendauth")
        return connects(program.id, f"TLS verified, then the server said: {said}")
    if _PSQL_NO_SYSTEM.search(text):
        return unknown(
            program,
            "this libpq (before 16) verifies only against ~/.postgresql/root.crt or "
            "PGSSLROOTCERT, and neither exists here: with sslmode=verify-full it stops before "
            "connecting, and its default sslmode=prefer checks no certificate at all",
        )
    if _PSQL_NO_ROOT.search(text):
        return unknown(program, classify.first_meaningful(text, "root certificate"))
    reason: Reason | None = None
    if "timeout expired" in message:
        reason = "timeout"
    # libpq names no verification error but the generic one: an expired or untrusted
    # certificate both read "certificate verify failed" (reason "trust").
    return refuses(program.id, message or f"psql exit {code}", reason)


def _resolves_to(host: str, address: str, port: int) -> bool:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(info[4][0] == address for info in found)


def mysql_argv(program: Program, r: Run) -> list[str]:
    """The client as a user asks for a verified connection: MariaDB's with --ssl and
    --ssl-verify-server-cert, Oracle's with --ssl-mode=VERIFY_IDENTITY."""
    # --no-defaults first: no option file, so no stored user or password is sent.
    argv = [program.path or "mysql", "--no-defaults", "--protocol=TCP", "-h", r.host]
    argv += ["-P", str(r.port), f"--connect-timeout={secs(r.timeout)}", "-u", USER]
    if mariadb(program):
        argv += ["--ssl", "--ssl-verify-server-cert"]
    else:
        argv.append("--ssl-mode=VERIFY_IDENTITY")
    if r.cacert:
        argv.append(f"--ssl-ca={r.cacert}")
    return [*argv, "-e", ""]


def mariadb(program: Program) -> bool:
    return "MariaDB" in program.name


def mysql(program: Program, r: Run) -> Attempt:
    if r.address and r.address != r.host and not _resolves_to(r.host, r.address, r.port):
        return unknown(program, f"{program.name} cannot be told which address to use")
    if not r.cacert and not mariadb(program):
        return unknown(
            program, "the MySQL client verifies only against --ssl-ca, and none is given"
        )
    done = r.go(program, mysql_argv(program, r))
    if (failed := did_not_run(program, done)) is not None:
        return failed
    return read_mysql(program.id, done.returncode, done.stderr)


def read_mysql(program_id: str, code: int | None, stderr: str) -> Attempt:
    """The client's verdict: the server's own refusal (access denied) comes after TLS."""
    text = stderr.strip()
    if code == 0:
        return connects(program_id, "the server let it in over verified TLS")
    if _MYSQL_AFTER_TLS.search(text):
        said = classify.first_meaningful(text, "ERROR")
        return connects(program_id, f"TLS verified, then the server said: {said}")
    match = _MYSQL_ERROR.search(text)
    if match is None:
        return refuses(program_id, text or f"mysql exit {code}")
    number, message = match.groups()
    reason = _MYSQL_NETWORK.get(number)
    if _MYSQL_NAME.search(message):
        reason = "name"
    if reason is None and "timeout" in message.lower():
        reason = "timeout"
    return refuses(program_id, f"{message} (error {number})", reason)


def version_banner(text: str) -> tuple[str, str | None]:
    """`mysql --version` -> (its name, the server line's version): "MariaDB client" or
    "MySQL client", with MariaDB's own version ("Distrib 10.11.19-MariaDB")."""
    match = re.search(r"Distrib ([\d.]+)-MariaDB", text)
    if match is not None:
        return "MariaDB client", match.group(1)
    if "mariadb" in text.lower():
        return "MariaDB client", parse.first_version(text)
    match = re.search(r"Ver ([\d.]+)", text)
    return "MySQL client", match.group(1) if match else None
