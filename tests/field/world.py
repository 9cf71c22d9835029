"""The network a user is in, built inside a private network and mount namespace: names and
routes, this machine's trust store, the outside world's servers and the intranet's sites.

Everything here runs inside `unshare --net --mount` (see `run_env`): loopback addresses of
127.0.0.0/8 are private to the namespace, and bind mounts over /etc/hosts, /etc/resolv.conf and
/etc/ssl/certs are seen by nothing outside it. Nothing here touches another address than
loopback and a dummy interface of the namespace's own, where packets vanish.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import certifi

from tests.lab import pki
from tests.lab.servers import NO_CONTENT, REDIRECT, CannedServer, LoopbackServer, TLSServer
from tests.lab.starttls_standins import SmtpServer

ROOT = Path(__file__).resolve().parents[2]

# The target faults, each an intranet site of its own.
FAULTS = (
    "healthy",
    "expired",
    "not_yet_valid",
    "wrong_host",
    "self_signed",
    "untrusted_root",
    "incomplete_chain",
    "tls10_only",
    "closed_port",
    "filtered_port",
    "client_cert_required",
    # Mail: a healthy server reached with STARTTLS on 587, and STARTTLS chosen for port 465,
    # which speaks TLS at once (the commonest mail setting mix-up).
    "mail_starttls",
    "mail_wrong_port",
)
# The mail faults' ports and the way their SMTP stand-in behaves.
MAIL = {"mail_starttls": (587, "starttls"), "mail_wrong_port": (465, "implicit")}
ENVIRONMENTS = (
    "online",
    "offline",
    "intranet_silent",
    "intranet_refused",
    "intranet_unresolved",
    "proxy_env",
    "proxy_pac",
    "clock_behind",
    "clock_ahead",
    "interception",
    "portal",
)

# The product's own defaults: nothing in the field passes --ntp-server, --canary or a probe.
NTP_NAMES = ("time.cloudflare.com", "time.google.com", "time.apple.com", "time.windows.com")
CANARY_NAMES = ("www.google.com", "www.cloudflare.com", "www.microsoft.com", "www.apple.com")
PROBE_NAMES = ("connectivitycheck.gstatic.com", "captive.apple.com")

NTP_ADDRESS = "127.0.2.1"
CANARY_ADDRESS = "127.0.3.1"
PROBE_ADDRESS = "127.0.4.1"
PROXY_ADDRESS, PROXY_PORT = "127.0.5.1", 3128
PAC_ADDRESS = "127.0.6.1"
REFUSING_ADDRESS = "127.0.9.1"  # nothing listens here
SILENT_NETWORK = "10.66.0.1/24"  # one end of a veth pair: what is sent there vanishes
SILENT_ADDRESS = "10.66.0.2"
FILTERED_ADDRESS = "10.66.0.9"
PROXY_NAME, PAC_NAME = "proxy.corp.test", "wpad.corp.test"
PROXY_URL = f"http://{PROXY_NAME}:{PROXY_PORT}"
CONNECT_TIMEOUT_S = 2.0
CHRONYD = "/usr/sbin/chronyd"
MITMDUMP = "/usr/bin/mitmdump"
YEAR = 365 * pki.DAY


def target_host(fault: str) -> str:
    return f"{fault.replace('_', '-')}.corp.test"


def target(fault: str) -> str:
    """What the user types for the site of `fault`: its name, or a mail server's smtp:// URL."""
    if fault in MAIL:
        return f"smtp://{target_host(fault)}:{MAIL[fault][0]}"
    return target_host(fault)


def target_address(fault: str) -> str:
    if fault == "filtered_port":
        return FILTERED_ADDRESS
    return f"127.0.1.{FAULTS.index(fault) + 1}"


@dataclass(frozen=True)
class Pki:
    """The certificates of the field: a public CA the world trusts, a private one it does not."""

    public_root: pki.Issued
    public_inter: pki.Issued
    private_root: pki.Issued
    private_inter: pki.Issued
    public_root_pem: Path


def make_pki(folder: Path) -> Pki:
    # Long-lived CAs as real ones are, so that a clock years off still finds them valid.
    ca_dates = {"not_before": pki.NOW - 10 * YEAR, "not_after": pki.NOW + 10 * YEAR}
    public_root = pki.root("Field Public Root CA", **ca_dates)  # type: ignore[arg-type]
    public_inter = pki.intermediate("Field Public Issuing CA", public_root, **ca_dates)  # type: ignore[arg-type]
    private_root = pki.root("Corp Private Root CA", **ca_dates)  # type: ignore[arg-type]
    private_inter = pki.intermediate("Corp Private Issuing CA", private_root, **ca_dates)  # type: ignore[arg-type]
    # The public set is Mozilla's, as shipped, with the field's public root joining it.
    path = folder / "public-roots.pem"
    path.write_bytes(Path(certifi.where()).read_bytes() + public_root.pem)
    return Pki(public_root, public_inter, private_root, private_inter, path)


def _chain(fault: str, ca: Pki) -> Sequence[pki.Issued]:
    host = target_host(fault)
    inter = ca.public_inter
    if fault == "expired":
        dates = {"not_before": pki.NOW - 100 * pki.DAY, "not_after": pki.NOW - 10 * pki.DAY}
        return (pki.leaf(host, inter, **dates), inter)  # type: ignore[arg-type]
    if fault == "not_yet_valid":
        dates = {"not_before": pki.NOW + 10 * pki.DAY, "not_after": pki.NOW + 100 * pki.DAY}
        return (pki.leaf(host, inter, **dates), inter)  # type: ignore[arg-type]
    if fault == "wrong_host":
        return (pki.leaf("other.corp.test", inter), inter)
    if fault == "self_signed":
        return (pki.leaf(host, None),)
    if fault == "untrusted_root":
        return (pki.leaf(host, ca.private_inter), ca.private_inter)
    if fault == "incomplete_chain":
        # A public CA's leaf says where its issuer can be fetched; the server forgot to send it.
        aia = "http://aia.field.test/issuing-ca.crt"
        return (pki.leaf(host, inter, aia_ca_issuers=aia),)  # type: ignore[arg-type]
    return (pki.leaf(host, inter), inter)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def _bind(source: Path, target: str) -> None:
    _run("mount", "--bind", str(source), target)


def hosts_file(names: Mapping[str, str]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{name}" for name, address in names.items()]
    return "\n".join(lines) + "\n"


def outside_names(address: str | None = None) -> dict[str, str]:
    """The outside world's names, at their servers or all at `address`."""
    names = {n: address or NTP_ADDRESS for n in NTP_NAMES}
    names |= {n: address or CANARY_ADDRESS for n in CANARY_NAMES}
    names |= {n: address or PROBE_ADDRESS for n in PROBE_NAMES}
    return names


def intranet_names() -> dict[str, str]:
    names = {target_host(f): target_address(f) for f in FAULTS}
    return names | {PROXY_NAME: PROXY_ADDRESS, PAC_NAME: PAC_ADDRESS}


def product_names(env: str) -> dict[str, str]:
    """What this computer's resolver knows in `env`."""
    if env in ("offline", "intranet_unresolved", "proxy_env", "proxy_pac"):
        return intranet_names()
    if env == "intranet_silent":
        return intranet_names() | outside_names(SILENT_ADDRESS)
    if env == "intranet_refused":
        return intranet_names() | outside_names(REFUSING_ADDRESS)
    return intranet_names() | outside_names()


def build_network(env: str, folder: Path) -> None:
    """Loopback, a link where packets vanish, and this computer's name files."""
    _run("ip", "link", "set", "lo", "up")
    # A veth pair whose far end takes no traffic: frames for a fixed neighbour's address
    # arrive there and are dropped, so connections to these addresses time out silently, as
    # behind a firewall that drops rather than refuses.
    _run("ip", "link", "add", "hd-out", "type", "veth", "peer", "name", "hd-void")
    _run("ip", "addr", "add", SILENT_NETWORK, "dev", "hd-out")
    _run("ip", "link", "set", "hd-void", "up")
    _run("ip", "link", "set", "hd-out", "up")
    for address in (SILENT_ADDRESS, FILTERED_ADDRESS):
        _run("ip", "neigh", "add", address, "lladdr", "02:00:00:00:00:99", "dev", "hd-out",
             "nud", "permanent")  # fmt: skip
    hosts = folder / "hosts"
    hosts.write_text(hosts_file(product_names(env)), encoding="utf-8")
    _bind(hosts, "/etc/hosts")
    resolv = folder / "resolv.conf"
    # No name server listens here: a name outside the hosts file fails at once.
    resolv.write_text("nameserver 127.0.0.53\noptions timeout:1 attempts:1\n", encoding="utf-8")
    _bind(resolv, "/etc/resolv.conf")


def build_trust_store(folder: Path, roots: Sequence[bytes]) -> None:
    """This computer's store: the public root (and whatever else is given), nothing local."""
    certs = folder / "ssl-certs"
    certs.mkdir()
    (certs / "ca-certificates.crt").write_bytes(b"".join(roots))
    _bind(certs, "/etc/ssl/certs")
    local = folder / "local-anchors"
    local.mkdir()
    for anchors in ("/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors"):
        if Path(anchors).is_dir():
            _bind(local, anchors)


class _DatedTLSServer(TLSServer):
    """A well-known site: answers every HTTPS request with a Date header, as real ones do."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.response = _dated_reply


def _dated_reply() -> bytes:
    date = email.utils.formatdate(usegmt=True)
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        f"Date: {date}\r\nConnection: close\r\n\r\nok\n"
    ).encode()


def _wait_for_port(address: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} ended: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.3):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not listen: {log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def chrony(folder: Path) -> Iterator[None]:
    """A real chronyd answering NTP for the time servers' names, with its own clock (-x)."""
    home = folder / "chrony"
    home.mkdir()
    home.chmod(0o777)  # chronyd drops root for its own user
    config = home / "chrony.conf"
    config.write_text(
        f"port 123\nbindaddress {NTP_ADDRESS}\nallow 127.0.0.0/8\nlocal stratum 2\ncmdport 0\n"
        f"pidfile {home / 'chronyd.pid'}\ndriftfile {home / 'drift'}\n",
        encoding="utf-8",
    )
    log = home / "chronyd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CHRONYD, "-x", "-d", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_ntp(process, log)
        yield
    finally:
        _stop(process)


def _wait_for_ntp(process: subprocess.Popen[bytes], log: Path) -> None:
    request = b"\x23" + b"\x00" * 47  # version 4, client mode
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"chronyd ended: {log.read_text(errors='replace')}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            with contextlib.suppress(OSError):
                sock.sendto(request, (NTP_ADDRESS, 123))
                if len(sock.recv(512)) >= 48:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"chronyd did not answer: {log.read_text(errors='replace')}")


@contextlib.contextmanager
def mitmdump(folder: Path, *, intercept: bool) -> Iterator[Path]:
    """mitmproxy on the proxy's name: reading every connection, or (not `intercept`) passing
    them through as a corporate forward proxy does. It sees the whole world's names, in a
    mount namespace of its own; this computer may only see the intranet's. Yields its CA."""
    confdir = folder / "mitmproxy"
    confdir.mkdir()
    hosts = folder / "proxy-hosts"
    hosts.write_text(hosts_file(intranet_names() | outside_names()), encoding="utf-8")
    options = ["--set", f"confdir={confdir}", "--set", "ssl_insecure=true", "-q"]
    if not intercept:
        options += ["--ignore-hosts", ".*"]
    command = [MITMDUMP, "--listen-host", PROXY_ADDRESS, "--listen-port", str(PROXY_PORT)]
    script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    log = confdir / "mitmdump.log"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with log.open("wb") as out:
        isolated = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        process = subprocess.Popen(
            [*isolated, str(hosts), *command, *options],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_for_port(PROXY_ADDRESS, PROXY_PORT, process, log)
        ca = confdir / "mitmproxy-ca-cert.pem"
        while not ca.is_file():
            time.sleep(0.1)
        yield ca
    finally:
        _stop(process)


def pac_script() -> bytes:
    """The intranet's proxy script: the intranet directly, everything else through the proxy."""
    return (
        "function FindProxyForURL(url, host) {\n"
        '  if (dnsDomainIs(host, ".corp.test") || isPlainHostName(host)) return "DIRECT";\n'
        f'  return "PROXY {PROXY_NAME}:{PROXY_PORT}; DIRECT";\n'
        "}\n"
    ).encode()


@dataclass(frozen=True)
class Product:
    """How the product is run in an environment: extra words before the command, and its
    environment variables."""

    prefix: tuple[str, ...]
    env: Mapping[str, str]
    known_roots: Path

    def command(self, target: str) -> list[str]:
        return [
            *self.prefix,
            sys.executable,
            "-m",
            "checks",
            "check",
            target,
            "--json",
            "--connect-timeout",
            str(CONNECT_TIMEOUT_S),
            "--known-roots",
            str(self.known_roots),
        ]


def product_env(env: str, folder: Path) -> dict[str, str]:
    """A user's environment: no variable that changes trust, proxies only where the network
    has them, a home of its own."""
    home = folder / "home"
    (home / ".config").mkdir(parents=True)
    cleared = {k: v for k, v in os.environ.items() if not changes_trust_or_route(k)}
    cleared.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        LANG="C.UTF-8",
        PYTHONPATH=str(ROOT),
    )
    if env in ("proxy_env", "interception"):
        cleared.update(HTTPS_PROXY=PROXY_URL, HTTP_PROXY=PROXY_URL, NO_PROXY=".corp.test")
    if env == "proxy_pac":
        # KDE's proxy page, set to "use proxy auto configuration URL".
        (home / ".config" / "kioslaverc").write_text(
            f"[Proxy Settings]\nProxy Config Script=http://{PAC_NAME}/proxy.pac\nProxyType=2\n",
            encoding="utf-8",
        )
    if env.startswith("clock_"):
        cleared["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    return cleared


def changes_trust_or_route(name: str) -> bool:
    upper = name.upper()
    return upper.endswith("_PROXY") or upper in (
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "AWS_CA_BUNDLE",
        "PIP_CERT",
        "JAVA_TOOL_OPTIONS",
        "DISPLAY",
        "WAYLAND_DISPLAY",
    )


def _target_servers(ca: Pki, folder: Path) -> list[LoopbackServer]:
    servers: list[LoopbackServer] = []
    client_ca = pki.write_certs(folder / "client-ca.pem", [ca.private_root])
    for fault in FAULTS:
        if fault in ("closed_port", "filtered_port"):
            continue
        cert, key = pki.write_chain(folder / "targets", fault, _chain(fault, ca))
        if fault in MAIL:
            port, mode = MAIL[fault]
            mail = SmtpServer(
                cert, key, mode=mode, hostname=target_host(fault), host=target_address(fault),
                port=port,
            )  # fmt: skip
            servers.append(mail.start())
            continue
        options: dict[str, object] = {}
        if fault == "tls10_only":
            options = {
                "minimum_version": ssl.TLSVersion.TLSv1,
                "maximum_version": ssl.TLSVersion.TLSv1,
                "ciphers": "DEFAULT:@SECLEVEL=0",
            }
        if fault == "client_cert_required":
            options = {"request_client_cert": "required", "client_ca_path": client_ca}
        server = TLSServer(cert, key, host=target_address(fault), port=443, **options)  # type: ignore[arg-type]
        servers.append(server.start())
    return servers


def _canaries(ca: Pki, folder: Path) -> LoopbackServer:
    chains = {
        name: pki.write_chain(
            folder / "canaries", name, (pki.leaf(name, ca.public_inter), ca.public_inter)
        )
        for name in CANARY_NAMES
    }
    first = chains[CANARY_NAMES[0]]
    server = _DatedTLSServer(
        *first, host=CANARY_ADDRESS, port=443, sni_contexts={n: c for n, c in chains.items()}
    )
    return server.start()


@contextlib.contextmanager
def world(env: str, folder: Path) -> Iterator[Product]:
    """Everything `env` needs, started; yields how to run the product in it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_pki(folder)
    build_network(env, folder)
    servers: list[LoopbackServer] = []
    with contextlib.ExitStack() as stack:
        roots = [ca.public_root_pem.read_bytes()]  # a machine that trusts the public set
        servers += _target_servers(ca, folder)
        if env not in ("offline", "intranet_silent", "intranet_refused", "intranet_unresolved"):
            stack.enter_context(chrony(folder))
            servers.append(_canaries(ca, folder))
            probe = REDIRECT if env == "portal" else NO_CONTENT
            servers.append(CannedServer(probe, host=PROBE_ADDRESS, port=80).start())
        if env in ("proxy_env", "proxy_pac", "interception"):
            mitm_ca = stack.enter_context(mitmdump(folder, intercept=env == "interception"))
            if env == "interception":
                roots.append(mitm_ca.read_bytes())  # installed in this computer's store
        if env == "proxy_pac":
            script = pac_script()
            reply = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n"
                + f"Content-Length: {len(script)}\r\nConnection: close\r\n\r\n".encode()
                + script
            )
            servers.append(CannedServer(reply, host=PAC_ADDRESS, port=80).start())
        build_trust_store(folder, roots)
        for server in servers:
            stack.callback(server.stop)
        prefix: tuple[str, ...] = ()
        if env == "clock_behind":
            prefix = (shutil.which("faketime") or "faketime", "-f", "-3y")
        elif env == "clock_ahead":
            prefix = (shutil.which("faketime") or "faketime", "-f", "+1y")
        yield Product(prefix, product_env(env, folder), ca.public_root_pem)
