"""A private nginx on loopback ports, with its own prefix, config and logs in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

NGINX = Path("/usr/sbin/nginx")
MISSING_MESSAGE = "nginx is not installed: run packaging/install-system-packages.sh test"
ALLOW_MISSING_ENV = "HD_ALLOW_MISSING_NGINX"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

ConfigBuilder = Callable[[Sequence[int]], str]


def nginx_available() -> bool:
    """Whether the Debian nginx binary is installed."""
    return NGINX.is_file() and os.access(NGINX, os.X_OK)


def require_nginx() -> None:
    """Fail the calling test when nginx is missing (skip only if HD_ALLOW_MISSING_NGINX=1)."""
    if nginx_available():
        return
    import pytest

    if os.environ.get(ALLOW_MISSING_ENV) == "1":
        pytest.skip(MISSING_MESSAGE)
    pytest.fail(MISSING_MESSAGE, pytrace=False)


def end_process(process: subprocess.Popen[bytes] | None, stop_signal: int, grace: float) -> None:
    """Send a daemon `stop_signal`, then SIGKILL its whole process group after `grace`
    seconds; always waits for it (a daemon started with start_new_session)."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, stop_signal)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tls_server_block(
    port: int,
    *,
    server_name: str = "_",
    certificate: Path | None = None,
    key: Path | None = None,
    default: bool = False,
    reject_handshake: bool = False,
    extra: str = "",
) -> str:
    """One `server { }` block listening with TLS on 127.0.0.1:`port`, answering 200 "ok"."""
    lines = [
        "server {",
        f"    listen 127.0.0.1:{port} ssl{' default_server' if default else ''};",
        f"    server_name {server_name};",
    ]
    if reject_handshake:
        lines.append("    ssl_reject_handshake on;")
    if certificate is not None and key is not None:
        lines += [f"    ssl_certificate {certificate};", f"    ssl_certificate_key {key};"]
    if extra:
        lines.append(f"    {extra}")
    lines += ['    location / { return 200 "ok\\n"; }', "}"]
    return "\n".join(lines) + "\n"


class Nginx:
    """nginx in the foreground on `ports` free loopback ports; `build(ports)` writes its servers.

    `build` returns the `server { }` blocks for the http context; the main configuration
    (pid, logs, temporary paths, one worker) is written here so nothing touches /etc or /var.
    """

    def __init__(
        self, build: ConfigBuilder, *, ports: int = 1, workdir: Path | None = None
    ) -> None:
        self.build = build
        self.port_count = ports
        self.workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.ports: list[int] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.host = "127.0.0.1"
        self.address = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def prefix(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("nginx has not been started")
        return self.workdir

    def config_text(self, ports: Sequence[int]) -> str:
        prefix = self.prefix
        # Workers run as `nobody` unless told otherwise when the master is root; `user` is
        # only allowed (and only needed) when running as root.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(
            f"    {kind}_temp_path {prefix / 'temp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}"
            "daemon off;\n"
            "master_process on;\n"
            "worker_processes 1;\n"
            f"pid {prefix / 'nginx.pid'};\n"
            f"lock_file {prefix / 'nginx.lock'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log {prefix / 'access.log'};\n"
            f"{temp_paths}"
            "    default_type text/plain;\n"
            "    keepalive_timeout 0;\n"
            "    client_header_timeout 5s;\n"
            "    send_timeout 5s;\n"
            f"{self.build(ports)}"
            "}\n"
        )

    def start(self) -> Self:
        if not nginx_available():
            raise RuntimeError(MISSING_MESSAGE)
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hd-nginx-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "temp").mkdir(exist_ok=True)
        try:
            # A port picked as free can be taken before nginx binds it; then try fresh ones.
            for _ in range(3):
                self.ports = [free_port() for _ in range(self.port_count)]
                conf = self.workdir / "nginx.conf"
                conf.write_text(self.config_text(self.ports), encoding="utf-8")
                with contextlib.suppress(FileNotFoundError):
                    self.error_log.unlink()
                if self._launch(conf):
                    return self
            raise RuntimeError(f"nginx found no free port in 3 tries:\n{self.log_text()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, conf: Path) -> bool:
        self.process = subprocess.Popen(
            [str(NGINX), "-p", f"{self.prefix}/", "-c", str(conf), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group, so the workers can be killed with the master if need be.
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_text()
                self.process = None
                if "Address already in use" in log:
                    return False
                raise RuntimeError(f"nginx exited at start:\n{log}")
            if all(_accepts(port) for port in self.ports):
                return True
            time.sleep(0.05)
        log = self.log_text()
        raise RuntimeError(f"nginx did not listen within {START_TIMEOUT:.0f} s:\n{log}")

    def log_text(self) -> str:
        try:
            return self.error_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no error log)"

    def stop(self) -> None:
        """Graceful quit (SIGQUIT), then SIGKILL to the whole group after 5 s; always waits."""
        process, self.process = self.process, None
        try:
            end_process(process, signal.SIGQUIT, STOP_TIMEOUT)
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
