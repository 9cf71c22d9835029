"""Private STARTTLS servers on loopback: real Debian dovecot, PostgreSQL and slapd, and stand-ins.

Each daemon runs from a temporary folder of its own (configuration, data, pid and log files) on
free 127.0.0.1 ports: no system configuration is read (slapd only includes the stock
core.schema), nothing under /etc or /var is written, and no standard port (143, 993, 110, 995,
389, 636, 5432) is opened. As root, dovecot and PostgreSQL drop to their Debian system users;
as anyone else every process runs as that user. The Python stand-ins for SMTP, FTP, XMPP and
MySQL live in `starttls_standins` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from tests.lab.nginx import _accepts, end_process, free_port
from tests.lab.starttls_standins import FtpServer, MysqlServer, SmtpServer, XmppServer

__all__ = [
    "Dovecot",
    "FtpServer",
    "MysqlServer",
    "Postgres",
    "Slapd",
    "SmtpServer",
    "XmppServer",
    "listening_ports",
    "require_starttls_daemons",
]

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_LIBEXEC = Path("/usr/lib/dovecot")
SLAPD = Path("/usr/sbin/slapd")
CORE_SCHEMA = Path("/etc/ldap/schema/core.schema")
ALLOW_MISSING_ENV = "HD_ALLOW_MISSING_DAEMONS"
INSTALL_HINT = "run packaging/install-system-packages.sh test"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# The account dovecot's passwd-file knows, so that IMAP and POP3 clients can log in after TLS.
LAB_USER = "lab"
LAB_PASSWORD = "lab"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def missing_daemons() -> list[str]:
    """The Debian packages whose daemons (or system users) are missing here."""
    missing = []
    if not DOVECOT.is_file() or (_root() and not _user_exists("dovenull")):
        missing.append("dovecot-core")
    for protocol in ("imap", "pop3"):
        if not (DOVECOT_LIBEXEC / f"{protocol}-login").is_file():
            missing.append(f"dovecot-{protocol}d")
    if not SLAPD.is_file() or not CORE_SCHEMA.is_file():
        missing.append("slapd")
    if postgres_bin() is None or (_root() and not _user_exists("postgres")):
        missing.append("postgresql")
    return missing


def require_starttls_daemons() -> None:
    """Fail the calling test when a daemon is missing (skip only if HD_ALLOW_MISSING_DAEMONS=1)."""
    missing = missing_daemons()
    if not missing:
        return
    import pytest

    message = f"not installed: {', '.join(missing)}: {INSTALL_HINT}"
    if os.environ.get(ALLOW_MISSING_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _root() -> bool:
    return os.geteuid() == 0


def _me() -> str:
    # pwd and grp are imported where used: Windows has neither, and the lab's modules must
    # still import there for its tests to be collected and skipped (tests/conftest.py).
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def listening_ports(pgid: int) -> set[int]:
    """The TCP ports on which any process of process group `pgid` listens (read from /proc)."""
    inodes = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(stat, encoding="utf-8", errors="replace") as file:
                # After the command name in parentheses: state, ppid, pgrp.
                fields = file.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            folder = Path(stat).parent / "fd"
            for fd in os.listdir(folder):
                with contextlib.suppress(OSError):
                    target = os.readlink(folder / fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                # st 0A is LISTEN; field 9 is the socket's inode.
                if fields[3] == "0A" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class _Daemon:
    """A real daemon in the foreground with private files; subclasses write its configuration."""

    name: ClassVar[str]
    # What makes the daemon shut down promptly.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    # How long the daemon gets to stop on its own before its process group is killed.
    stop_grace: ClassVar[float] = STOP_TIMEOUT

    def __init__(self, chain_pem_path: Path, key_path: Path) -> None:
        self.chain_pem_path = Path(chain_pem_path)
        self.key_path = Path(key_path)
        self.host = "127.0.0.1"
        self.port = 0
        self.implicit_port: int | None = None
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        # Seconds from start() until every port accepted (initdb and the like included).
        self.startup_seconds: float | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(127.0.0.1:{self.port})"

    @property
    def ports(self) -> list[int]:
        """Every port the daemon listens on."""
        raise NotImplementedError

    @property
    def folder(self) -> Path:
        if self.workdir is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.workdir

    @property
    def output_path(self) -> Path:
        return self.folder / "output.log"

    def _pick_ports(self) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        """One-off work before the first launch (copying keys, creating a cluster)."""

    def _command(self) -> list[str]:
        """Write the configuration for the current ports and return the command line."""
        raise NotImplementedError

    def _ready(self) -> bool:
        return True

    def _popen_user(self) -> str | None:
        """The system user to run the daemon as (only when started as root)."""
        return None

    def start(self) -> Self:
        missing = missing_daemons()
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)}: {INSTALL_HINT}")
        began = time.monotonic()
        self._tmp = tempfile.TemporaryDirectory(prefix=f"hd-{self.name}-")
        self.workdir = Path(self._tmp.name)
        # The daemons' unprivileged helpers (dovenull, postgres) must reach files in here.
        self.workdir.chmod(0o755)
        try:
            self._prepare()
            # A port picked as free can be taken before the daemon binds it; then try fresh ones.
            for _ in range(3):
                self._pick_ports()
                if self._launch():
                    self.startup_seconds = time.monotonic() - began
                    return self
            raise RuntimeError(f"{self.name} found no free port in 3 tries:\n{self.log_text()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> bool:
        command = self._command()
        user = self._popen_user()
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                log = self.log_text()
                if "Address already in use" in log:
                    return False
                raise RuntimeError(f"{self.name} exited at start:\n{log}")
            if self._ready() and all(_accepts(port) for port in self.ports):
                return True
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not listen within {START_TIMEOUT:.0f} s:\n{self.log_text()}"
        )

    def log_files(self) -> Sequence[Path]:
        return [self.output_path]

    def log_text(self) -> str:
        """Everything the daemon wrote, for failure messages."""
        parts = []
        for path in self.log_files():
            with contextlib.suppress(OSError):
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts) or "(no log)"

    def stop(self) -> None:
        """Ask the daemon to shut down, SIGKILL its whole group after `stop_grace`; always waits."""
        process, self.process = self.process, None
        try:
            end_process(process, self.stop_signal, self.stop_grace)
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None
                self.workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Dovecot(_Daemon):
    """Debian's dovecot: IMAP on `port`, IMAPS on `implicit_port`, POP3 and POP3S beside them.

    `starttls=False` writes `ssl = no`: CAPABILITY and CAPA then lack STARTTLS and STLS, the
    commands are answered `BAD TLS support isn't enabled.` and `-ERR TLS support isn't
    enabled.`, and dovecot drops the `ssl = yes` listeners, so `implicit_port` and
    `pop3_implicit_port` are None. User `lab`, password `lab`, can log in (after TLS: plain-text
    logins are refused), with an empty Maildir in the temporary folder.
    """

    name = "dovecot"
    # The master waits for login processes that may still be starting (one per connection);
    # nothing in the temporary folder needs a clean shutdown.
    stop_grace = 1.5

    def __init__(self, chain_pem_path: Path, key_path: Path, *, starttls: bool = True) -> None:
        super().__init__(chain_pem_path, key_path)
        self.starttls = starttls
        self.pop3_port = 0
        self.pop3_implicit_port: int | None = None

    @property
    def ports(self) -> list[int]:
        optional = [self.implicit_port, self.pop3_implicit_port]
        return [self.port, self.pop3_port, *(port for port in optional if port is not None)]

    def _pick_ports(self) -> None:
        self.port, self.pop3_port = free_port(), free_port()
        if self.starttls:
            self.implicit_port, self.pop3_implicit_port = free_port(), free_port()

    def _prepare(self) -> None:
        folder = self.folder
        (folder / "passwd").write_text(f"{LAB_USER}:{{PLAIN}}{LAB_PASSWORD}\n", encoding="ascii")
        # Mail processes run as the mail user and create the lab user's home in here.
        home = folder / "home"
        home.mkdir()
        if _root():
            shutil.chown(home, "dovecot", "dovecot")

    def _listener(self, name: str, port: int | None, ssl: bool) -> str:
        if port is None:
            return ""
        secure = "    ssl = yes\n" if ssl else ""
        return (
            f"  inet_listener {name} {{\n    address = 127.0.0.1\n    port = {port}\n{secure}  }}\n"
        )

    def _command(self) -> list[str]:
        folder = self.folder
        for sub in ("run", "state"):
            shutil.rmtree(folder / sub, ignore_errors=True)
        ssl = (
            f"ssl = yes\nssl_cert = <{self.chain_pem_path}\nssl_key = <{self.key_path}\n"
            if self.starttls
            else "ssl = no\n"
        )
        import grp
        import pwd

        # As root: the package's users, and login processes chrooted as usual. Otherwise every
        # process runs as the current user, and chroot (which needs root) is turned off.
        internal, login = ("dovecot", "dovenull") if _root() else (_me(), _me())
        group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
        chroot = "" if _root() else "  chroot =\n"
        uid, gid = pwd.getpwnam(internal).pw_uid, pwd.getpwnam(internal).pw_gid
        config = (
            f"base_dir = {folder / 'run'}\n"
            f"state_dir = {folder / 'state'}\n"
            f"log_path = {folder / 'dovecot.log'}\n"
            "instance_name = hd-lab-dovecot\n"
            # No statistics: processes then never wait on the stats process when stopping.
            "stats_writer_socket_path =\n"
            "protocols = imap pop3\n"
            "listen = 127.0.0.1\n"
            f"default_internal_user = {internal}\n"
            f"default_internal_group = {group}\n"
            f"default_login_user = {login}\n"
            f"{ssl}"
            "disable_plaintext_auth = yes\n"
            "auth_mechanisms = plain login\n"
            f"passdb {{\n  driver = passwd-file\n  args = {folder / 'passwd'}\n}}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid={uid} gid={gid} home={folder / 'home'}/%u\n}}\n"
            f"first_valid_uid = {uid}\n"
            "mail_location = maildir:~/Maildir\n"
            # Only these listeners exist: the config includes nothing from /etc/dovecot.
            f"service anvil {{\n{chroot}}}\n"
            "service imap-login {\n"
            f"{chroot}"
            f"{self._listener('imap', self.port, False)}"
            f"{self._listener('imaps', self.implicit_port, True)}"
            "}\n"
            "service pop3-login {\n"
            f"{chroot}"
            f"{self._listener('pop3', self.pop3_port, False)}"
            f"{self._listener('pop3s', self.pop3_implicit_port, True)}"
            "}\n"
        )
        conf = folder / "dovecot.conf"
        conf.write_text(config, encoding="utf-8")
        return [str(DOVECOT), "-F", "-c", str(conf)]

    def _ready(self) -> bool:
        # Greeted on both plain ports: the login processes are up and talk to auth (stopping
        # before that leaves them waiting 5 s for the stats process that is already gone).
        for port in (self.port, self.pop3_port):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    if not probe.recv(256).startswith((b"* OK", b"+OK")):
                        return False
            except OSError:
                return False
        return True

    def log_files(self) -> Sequence[Path]:
        return [self.output_path, self.folder / "dovecot.log"]


class Postgres(_Daemon):
    """A temporary PostgreSQL cluster (initdb -A trust); as root, run as the `postgres` user.

    `ssl=False` starts it with `ssl = off`: the SSLRequest is answered with the single byte
    'N' and the client may go on in plain text. The certificate and key are copied into the
    data folder, owned by the server's user with mode 0600, as the server insists. The
    database superuser is `postgres` either way, with trust authentication.
    """

    name = "postgres"
    # Fast shutdown: ends the sessions and stops at once (SIGTERM waits for clients).
    stop_signal = signal.SIGINT

    def __init__(self, chain_pem_path: Path, key_path: Path, *, ssl: bool = True) -> None:
        super().__init__(chain_pem_path, key_path)
        self.ssl = ssl
        self.bin = Path("/usr/lib/postgresql/15/bin")

    @property
    def ports(self) -> list[int]:
        return [self.port]

    @property
    def data(self) -> Path:
        return self.folder / "pg" / "data"

    def _popen_user(self) -> str | None:
        # PostgreSQL refuses to run as root; as anyone else it runs as that user.
        return "postgres" if _root() else None

    def _pick_ports(self) -> None:
        self.port = free_port()

    def _prepare(self) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError(f"not installed: postgresql: {INSTALL_HINT}")
        self.bin = binaries
        user = self._popen_user()
        owned = self.folder / "pg"
        owned.mkdir()
        (owned / "sockets").mkdir()
        if user:
            shutil.chown(owned, user, user)
            shutil.chown(owned / "sockets", user, user)
        # No fsync and trust for local users: a throwaway cluster in about half a second.
        initdb = [str(binaries / "initdb"), "-D", str(self.data), "-A", "trust", "--no-sync"]
        initdb += ["-U", "postgres", "-E", "UTF8", "--locale=C"]
        result = subprocess.run(
            initdb,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=owned,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        for source, name in ((self.chain_pem_path, "server.pem"), (self.key_path, "server.key")):
            target = self.data / name
            shutil.copyfile(source, target)
            if user:
                shutil.chown(target, user, user)
            target.chmod(0o600)

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder / "pg" / "sockets"),
            "ssl": "on" if self.ssl else "off",
            "ssl_cert_file": str(self.data / "server.pem"),
            "ssl_key_file": str(self.data / "server.key"),
            "fsync": "off",
            "logging_collector": "off",
            "log_connections": "on",
        }
        command = [str(self.bin / "postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        return command

    def _ready(self) -> bool:
        # It accepts connections before recovery ends ("the database system is starting up").
        return "ready to accept connections" in self.log_text()


class Slapd(_Daemon):
    """Debian's OpenLDAP slapd with no database at all: the root DSE, StartTLS and LDAPS.

    `port` is ldap:// (StartTLS extended operation 1.3.6.1.4.1.1466.20037), `implicit_port`
    ldaps://. With `tls=False` there is no TLS setting: the root DSE no longer lists the
    StartTLS OID, StartTLS is answered resultCode 2 (protocolError) "unsupported extended
    operation", and no ldaps:// listener is opened (`implicit_port` is None; slapd itself
    would accept there and close the connection at the ClientHello).
    """

    name = "slapd"
    stop_signal = signal.SIGINT

    def __init__(self, chain_pem_path: Path, key_path: Path, *, tls: bool = True) -> None:
        super().__init__(chain_pem_path, key_path)
        self.tls = tls

    @property
    def ports(self) -> list[int]:
        return [self.port] + ([self.implicit_port] if self.implicit_port else [])

    def _pick_ports(self) -> None:
        self.port = free_port()
        if self.tls:
            self.implicit_port = free_port()

    def _command(self) -> list[str]:
        folder = self.folder
        config = (
            f"include {CORE_SCHEMA}\n"
            f"pidfile {folder / 'slapd.pid'}\n"
            f"argsfile {folder / 'slapd.args'}\n"
        )
        if self.tls:
            config += (
                f"TLSCertificateFile {self.chain_pem_path}\nTLSCertificateKeyFile {self.key_path}\n"
            )
        conf = folder / "slapd.conf"
        conf.write_text(config, encoding="utf-8")
        urls = f"ldap://127.0.0.1:{self.port}/"
        if self.implicit_port:
            urls += f" ldaps://127.0.0.1:{self.implicit_port}/"
        # Any -d keeps slapd in the foreground; "stats" logs connections and operations.
        return [str(SLAPD), "-d", "stats", "-h", urls, "-f", str(conf)]
