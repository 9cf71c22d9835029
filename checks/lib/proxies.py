"""Reads the proxy settings programs here follow and opens HTTP CONNECT tunnels through them."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from checks.core import policy
from checks.core.facts.proxy import ProxySource, RouteTaken
from checks.core.platform import OSName
from checks.core.redact import redact
from checks.core.target import to_ascii
from checks.lib import net
from checks.lib.system import Runner, registry_values

# Under HKEY_CURRENT_USER: the per-user Internet Options (WinINET) settings.
WININET_PATH = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"

# WINHTTP_PROXY_INFO.dwAccessType values (winhttp.h).
WINHTTP_ACCESS_TYPE_NO_PROXY = 1
WINHTTP_ACCESS_TYPE_NAMED_PROXY = 3

# What WinHttpGetDefaultProxyConfiguration reports: access type, proxy list, bypass list.
WinHttpProxyInfo = tuple[int, str | None, str | None]


SOURCE_LABELS = {
    "environment": "environment variables",
    "wininet": "Windows Internet Options (WinINET)",
    "winhttp": "Windows WinHTTP (netsh winhttp)",
    "macos": "macOS network settings",
    "gnome": "GNOME proxy settings",
    "kde": "KDE proxy settings",
}


@dataclass(frozen=True)
class ProxySetting:
    """One place that tells programs to use a proxy.

    Attributes:
        source: `environment`, `wininet`, `winhttp`, `macos`, `gnome` or `kde`.
        servers: scheme (`http`, `https`, `socks`, `all`) -> proxy address, credentials removed.
        pac_url: the proxy auto-configuration script's address (evaluated for the well-known
            sites when no proxy is set otherwise);
            `auto` when the script is to be discovered (WPAD).
        bypass: hosts the proxy is not used for.
        variables: for `environment`, the names of the variables that are set.
    """

    source: str
    servers: Mapping[str, str] = field(default_factory=dict)
    pac_url: str | None = None
    bypass: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    def describe(self) -> str:
        """`https: http://proxy:8080, http: ...` (already without credentials)."""
        parts = [f"{scheme}: {address}" for scheme, address in self.servers.items()]
        if self.pac_url:
            parts.append(f"PAC: {self.pac_url}")
        return ", ".join(parts) or "—"

    def fact(self) -> ProxySource:
        return ProxySource(
            source=self.source,
            servers=dict(self.servers),
            pac_url=self.pac_url,
            bypass=self.bypass,
            variables=self.variables,
        )


def _clean(value: str) -> str:
    return redact(value.strip())


def environment_proxies(environ: Mapping[str, str]) -> ProxySetting | None:
    """Every `*_proxy` variable, as Python reads them (lowercase wins over uppercase)."""
    names = sorted(k for k in environ if k.lower().endswith("_proxy"))
    if not names:
        return None
    servers: dict[str, str] = {}
    bypass: tuple[str, ...] = ()
    for name in sorted(names, key=lambda n: n.islower()):  # lowercase last: it wins
        value = environ[name].strip()
        scheme = name[: -len("_proxy")].lower()
        if scheme == "no":
            bypass = tuple(p.strip() for p in value.split(",") if p.strip())
        elif value:
            servers[scheme] = _clean(value)
    return ProxySetting("environment", servers, None, bypass, tuple(names))


def _server_list(text: str) -> dict[str, str]:
    """`host:port` for every scheme, or `http=h:p;https=h:p;socks=h:p` (WinINET's syntax)."""
    servers: dict[str, str] = {}
    for part in re.split(r"[;\s]+", text.strip()):
        if not part:
            continue
        scheme, sep, address = part.partition("=")
        if sep:
            servers[scheme.strip().lower()] = _clean(address)
        else:
            servers["all"] = _clean(part)
    return servers


def parse_wininet(values: Mapping[str, object]) -> ProxySetting | None:
    """The per-user Internet Options proxy from the registry values of `WININET_PATH`:
    ProxyEnable/ProxyServer/ProxyOverride, AutoConfigURL."""
    enabled = values.get("ProxyEnable") in (1, "1")
    server = str(values.get("ProxyServer", "")) if enabled else ""
    pac = str(values.get("AutoConfigURL", "")).strip()
    bypass = tuple(p for p in str(values.get("ProxyOverride", "")).split(";") if p and enabled)
    servers = _server_list(server) if server else {}
    if not servers and not pac:
        return None
    return ProxySetting("wininet", servers, _clean(pac) if pac else None, bypass)


def parse_winhttp(info: WinHttpProxyInfo | None) -> ProxySetting | None:
    """WinHTTP's machine proxy (what `netsh winhttp set proxy` stores), as
    WinHttpGetDefaultProxyConfiguration reports it; None for direct access."""
    if info is None:
        return None
    access_type, proxy, bypass = info
    servers = _server_list(proxy or "")
    if access_type != WINHTTP_ACCESS_TYPE_NAMED_PROXY or not servers:
        return None
    hosts = tuple(p for p in re.split(r"[;\s]+", bypass or "") if p)
    return ProxySetting("winhttp", servers, None, hosts)


def winhttp_default_proxy() -> WinHttpProxyInfo | None:
    """Call WinHttpGetDefaultProxyConfiguration; None off Windows or when the call fails.

    Its answer is data, not text, so it reads the same on a Windows in any language.
    """
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    class ProxyInfo(ctypes.Structure):
        # The strings stay raw pointers: WinHTTP allocated them and they must go back to
        # GlobalFree, which a c_wchar_p field would lose track of.
        _fields_ = (
            ("dwAccessType", wintypes.DWORD),
            ("lpszProxy", ctypes.c_void_p),
            ("lpszProxyBypass", ctypes.c_void_p),
        )

    try:
        winhttp = ctypes.WinDLL("winhttp.dll", use_last_error=True)
        kernel32 = ctypes.WinDLL("kernel32.dll", use_last_error=True)
    except OSError:
        return None
    get_config = winhttp.WinHttpGetDefaultProxyConfiguration
    get_config.argtypes = (ctypes.POINTER(ProxyInfo),)
    get_config.restype = wintypes.BOOL
    global_free = kernel32.GlobalFree
    global_free.argtypes = (ctypes.c_void_p,)
    global_free.restype = ctypes.c_void_p
    info = ProxyInfo()
    if not get_config(ctypes.byref(info)):
        return None
    try:
        proxy = ctypes.wstring_at(info.lpszProxy) if info.lpszProxy else None
        bypass = ctypes.wstring_at(info.lpszProxyBypass) if info.lpszProxyBypass else None
    finally:
        for pointer in (info.lpszProxy, info.lpszProxyBypass):
            if pointer:
                global_free(pointer)
    return int(info.dwAccessType), proxy, bypass


def _user_registry(path: str) -> Mapping[str, object]:
    return registry_values(path, hive="HKCU")


def parse_scutil(text: str) -> ProxySetting | None:
    """`scutil --proxy`: the proxies of the primary network service (the per-interface copies
    under __SCOPED__ are nested deeper and ignored)."""
    values: dict[str, str] = {}
    exceptions: list[str] = []
    depth = 0
    in_exceptions = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("}"):
            depth -= 1
            in_exceptions = in_exceptions and depth >= 2
            continue
        key, sep, value = line.partition(" : ")
        key, value = key.strip(), value.strip()
        if in_exceptions and depth == 2 and sep:
            exceptions.append(value)
        elif depth == 1 and sep and not value.endswith("{"):
            values[key] = value
        if line.endswith("{"):
            depth += 1
            in_exceptions = depth == 2 and key == "ExceptionsList"
    servers: dict[str, str] = {}
    for scheme, prefix in (("http", "HTTP"), ("https", "HTTPS"), ("socks", "SOCKS")):
        host = values.get(f"{prefix}Proxy")
        if values.get(f"{prefix}Enable") == "1" and host:
            port = values.get(f"{prefix}Port")
            servers[scheme] = _clean(f"{host}:{port}" if port else host)
    pac = None
    if values.get("ProxyAutoConfigEnable") == "1":
        pac = _clean(values.get("ProxyAutoConfigURLString", "")) or None
    if pac is None and values.get("ProxyAutoDiscoveryEnable") == "1":
        pac = "auto"
    if not servers and not pac:
        return None
    return ProxySetting("macos", servers, pac, tuple(e for e in exceptions if e))


_GVARIANT_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _gvariant(value: str) -> str:
    match = _GVARIANT_STRING.fullmatch(value.strip())
    return match.group(1) if match else value.strip()


def parse_gsettings(text: str) -> ProxySetting | None:
    """`gsettings list-recursively org.gnome.system.proxy`; the authentication keys are never
    read, so a stored password cannot reach a report."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].startswith("org.gnome.system.proxy"):
            schema = parts[0].removeprefix("org.gnome.system.proxy").lstrip(".")
            key = f"{schema}.{parts[1]}" if schema else parts[1]
            if "authentication" not in key:
                values[key] = parts[2]
    mode = _gvariant(values.get("mode", "'none'"))
    bypass = tuple(_GVARIANT_STRING.findall(values.get("ignore-hosts", "")))
    if mode == "auto":
        pac = _gvariant(values.get("autoconfig-url", "''")) or "auto"
        return ProxySetting("gnome", {}, _clean(pac), bypass)
    if mode != "manual":
        return None
    servers: dict[str, str] = {}
    for scheme in ("http", "https", "socks"):
        host = _gvariant(values.get(f"{scheme}.host", "''"))
        port = values.get(f"{scheme}.port", "0").strip()
        if host:
            servers[scheme] = _clean(f"{host}:{port}" if port not in ("", "0") else host)
    return ProxySetting("gnome", servers, None, bypass) if servers else None


def parse_kioslaverc(text: str) -> ProxySetting | None:
    """KDE's `kioslaverc` [Proxy Settings]: ProxyType 1 manual, 2 PAC, 3 WPAD, 4 environment."""
    values: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep and section == "Proxy Settings":
            values[re.sub(r"\[\$[a-z]+\]$", "", key.strip())] = value.strip()
    kind = values.get("ProxyType", "0")
    bypass = tuple(p.strip() for p in values.get("NoProxyFor", "").split(",") if p.strip())
    if kind == "2":
        pac = values.get("Proxy Config Script", "")
        return ProxySetting("kde", {}, _clean(pac) or "auto", bypass)
    if kind == "3":
        return ProxySetting("kde", {}, "auto", bypass)
    if kind != "1":
        return None
    servers: dict[str, str] = {}
    for scheme, key in (("http", "httpProxy"), ("https", "httpsProxy"), ("socks", "socksProxy")):
        # KDE writes "http://host 8080": a space between host and port.
        value = values.get(key, "").strip()
        if value:
            servers[scheme] = _clean(re.sub(r"\s+(\d+)$", r":\1", value))
    return ProxySetting("kde", servers, None, bypass) if servers else None


def system_settings(
    os_name: OSName,
    run: Runner,
    *,
    home: Path,
    user_registry: Callable[[str], Mapping[str, object]] = _user_registry,
    winhttp: Callable[[], WinHttpProxyInfo | None] = winhttp_default_proxy,
) -> list[ProxySetting]:
    """The OS's own proxy settings (the environment is read separately); on Windows they come
    from the registry and WinHTTP's API (`user_registry` and `winhttp` let tests stand in)."""
    found: list[ProxySetting | None] = []
    if os_name == "windows":
        found.append(parse_wininet(user_registry(WININET_PATH)))
        found.append(parse_winhttp(winhttp()))
    elif os_name == "macos":
        done = run(["scutil", "--proxy"])
        found.append(parse_scutil(done.stdout) if done.ok else None)
    else:
        done = run(["gsettings", "list-recursively", "org.gnome.system.proxy"])
        found.append(parse_gsettings(done.stdout) if done.ok else None)
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kioslaverc"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found.append(parse_kioslaverc(config.read_text(encoding="utf-8")))
    return [setting for setting in found if setting is not None]


@dataclass(frozen=True)
class Route:
    """How a program that follows this computer's proxy settings reaches one site.

    Attributes:
        site: the well-known site, `host:port`.
        via: the proxy's address, or None for a direct connection.
        by: what chose it: `environment` or `system` settings, a `pac` script, or `none`.
    """

    site: str
    via: str | None
    by: Literal["environment", "system", "pac", "none"]

    def fact(self) -> RouteTaken:
        shown = parse_proxy(self.via).shown if self.via else "direct"
        return RouteTaken(site=self.site, via=shown, by=self.by)


TunnelFailure = Literal[
    "refused",
    "timeout",
    "unreachable",
    "error",
    "auth_required",
    "rejected",
    "bad_reply",
    "unsupported",
]


class TunnelError(OSError):
    """A CONNECT tunnel could not be opened; `kind` says why, as data for a finding."""

    def __init__(
        self,
        kind: TunnelFailure,
        detail: str,
        *,
        status: int | None = None,
        schemes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status
        self.schemes = schemes


@dataclass(frozen=True)
class ProxyAddress:
    """A parsed proxy URL; `shown` is the form without credentials."""

    scheme: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


_DEFAULT_PORTS = {"http": 80, "https": 443, "socks4": 1080, "socks5": 1080, "socks5h": 1080}


def parse_proxy(url: str) -> ProxyAddress:
    """`http://user:pw@host:3128`, `host:3128` ... ; raise `ValueError` when unusable."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise ValueError(f"no host in proxy address {redact(url)!r}")
    port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
    user = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return ProxyAddress(scheme, parts.hostname, port, user, password)


def proxy_for(
    host: str,
    *,
    proxies: Mapping[str, str] | None = None,
    bypass: Callable[[str], bool] | None = None,
) -> str | None:
    """The proxy an HTTPS request to `host` takes, chosen as Python does: environment variables
    if any `*_proxy` is set, else the OS settings (`urllib.request.getproxies`), minus bypasses."""
    try:
        table = urllib.request.getproxies() if proxies is None else proxies
        url = table.get("https") or table.get("all")
        if not url:
            return None
        skip = urllib.request.proxy_bypass if bypass is None else bypass
        return None if skip(host) else url
    except Exception:  # a broken OS proxy setting means no proxy, as in urllib itself
        return None


def _address(host: str, port: int, *, timeout: float, cancel: threading.Event) -> str:
    try:
        return net.first_address(host, port, timeout=timeout, cancel=cancel)
    except (OSError, UnicodeError) as exc:
        raise TunnelError("unreachable", f"cannot look up the proxy {host}: {exc}") from exc


def _read_head(sock: socket.socket, *, timeout: float, cancel: threading.Event) -> bytes:
    head = b""
    end = time.monotonic() + timeout
    while not head.endswith(b"\r\n\r\n"):
        try:
            # One byte at a time: whatever follows the reply's head belongs to the tunnel.
            chunk = net.recv(sock, 1, timeout=max(0.0, end - time.monotonic()), cancel=cancel)
        except TimeoutError as exc:
            raise TunnelError("timeout", f"the proxy did not answer within {timeout:g} s") from exc
        except OSError as exc:
            raise TunnelError("bad_reply", f"the proxy closed the connection: {exc}") from exc
        if not chunk:
            raise TunnelError("bad_reply", "the proxy closed the connection without an answer")
        head += chunk
        if len(head) > policy.MAX_PROXY_REPLY_BYTES:
            raise TunnelError("bad_reply", "the proxy's answer is too long")
    return head


def parse_connect_reply(head: bytes) -> tuple[int, str, tuple[str, ...]]:
    """Status, reason and the Proxy-Authenticate schemes of a CONNECT reply."""
    text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = text.split("\r\n")
    match = re.match(r"^HTTP/\d(?:\.\d)?\s+(\d{3})\s*(.*)$", lines[0])
    if match is None:
        raise TunnelError("bad_reply", f"not an HTTP answer: {lines[0][:60]!r}")
    schemes = tuple(
        value.strip().split(None, 1)[0]
        for name, _, value in (line.partition(":") for line in lines[1:])
        if name.strip().lower() == "proxy-authenticate" and value.strip()
    )
    return int(match.group(1)), match.group(2).strip(), schemes


def open_tunnel(
    proxy: str | ProxyAddress, host: str, port: int, *, timeout: float, cancel: threading.Event
) -> socket.socket:
    """A socket tunnelled to `host:port` through an HTTP proxy (CONNECT); the proxy resolves
    `host`. Raises `TunnelError` (refused, 407 authentication, other refusals) or `Cancelled`."""
    address = parse_proxy(proxy) if isinstance(proxy, str) else proxy
    if address.scheme != "http":
        raise TunnelError("unsupported", f"{address.scheme} proxies cannot be tested yet")
    ip = _address(address.host, address.port, timeout=timeout, cancel=cancel)
    try:
        sock = net.connect(ip, address.port, timeout=timeout, cancel=cancel)
    except net.ConnectError as exc:
        raise TunnelError(exc.kind, f"{address.shown}: {exc}") from exc
    try:
        name = to_ascii(host)
        authority = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        if address.username is not None:
            # Python's urllib sends the URL's credentials the same way; they never leave here.
            token = f"{address.username}:{address.password or ''}".encode()
            request += f"Proxy-Authorization: Basic {base64.b64encode(token).decode()}\r\n"
        try:
            sock.sendall(f"{request}\r\n".encode("ascii"))
        except OSError as exc:
            raise TunnelError("bad_reply", f"{address.shown} closed the connection") from exc
        head = _read_head(sock, timeout=timeout, cancel=cancel)
        status, reason, schemes = parse_connect_reply(head)
        if status == 407:
            detail = f"{address.shown} answered 407 {reason}".strip()
            raise TunnelError("auth_required", detail, status=status, schemes=schemes)
        if not 200 <= status < 300:
            detail = f"{address.shown} answered {status} {reason}".strip()
            raise TunnelError("rejected", detail, status=status)
        return sock
    except BaseException:
        sock.close()
        raise
