"""The proxy check: parsers on recorded OS outputs, Python-style proxy choice, CONNECT tunnels."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from checks import proxy
from checks.core.facts.proxy import RouteTaken
from checks.core.models import Status
from checks.lib import proxies
from checks.lib.system import CommandResult
from tests.lab.servers import CannedServer, closed_port

# --- Recorded outputs --------------------------------------------------------------------------

# The Internet Settings key of a Windows 11 user, as `winreg.EnumValue` returns its values
# (DWORDs are ints, REG_SZ str, REG_BINARY bytes): the same in every language of Windows.
WININET_VALUES: dict[str, object] = {
    "DisableCachingOfSSLPages": 0,
    "IE5_UA_Backup_Flag": "5.0",
    "PrivacyAdvanced": 1,
    "SecureProtocols": 0xA80,
    "User Agent": "Mozilla/4.0 (compatible; MSIE 8.0; Win32)",
    "CertificateRevocation": 1,
    "ZonesSecurityUpgrade": bytes.fromhex("E0B3ADBF2E46D801"),
    "ProxyEnable": 1,
    "ProxyServer": "http=proxy.corp.example:8080;https=proxy.corp.example:8080",
    "ProxyOverride": "<local>;*.corp.example",
    "AutoConfigURL": "http://wpad.corp.example/proxy.pac",
    "AutoDetect": 0,
    "MigrateProxy": 1,
    "EnableNegotiate": 1,
}
WININET_VALUES_DIRECT: dict[str, object] = {
    "CertificateRevocation": 1,
    "ProxyEnable": 0,
    "ProxyServer": "old-proxy.example:3128",
}
# What WinHttpGetDefaultProxyConfiguration answers (access type, proxy, bypass) after
# `netsh winhttp set proxy proxy.corp.example:8080 "<local>;*.corp.example"`, and a direct
# access answer that still carries a proxy list (the access type decides, not the list).
# Access type 3 is WINHTTP_ACCESS_TYPE_NAMED_PROXY, 1 WINHTTP_ACCESS_TYPE_NO_PROXY.
WINHTTP_NAMED = (3, "proxy.corp.example:8080", "<local>;*.corp.example")
WINHTTP_NO_PROXY = (1, "proxy.corp.example:8080", None)
# `netsh winhttp show proxy` worded as a German and a Chinese Windows word it (the labels are
# translated; not byte-exact recordings): tests give it to every command to prove that no
# command's text is read any more.
NETSH_WINHTTP_GERMAN = """
Aktuelle WinHTTP-Proxyeinstellungen:

    Proxyserver         :  proxy.corp.example:8080
    Umgehungsliste      :  <local>;*.corp.example

"""
NETSH_WINHTTP_CHINESE = """
当前的 WinHTTP 代理服务器设置:

    代理服务器:  proxy.corp.example:8080
    绕过列表     :  <local>;*.corp.example

"""
# `scutil --proxy` on macOS 14 with a manual proxy and a PAC file (keys are sorted; the
# per-interface copy sits under __SCOPED__).
SCUTIL_PROXY = """<dictionary> {
  ExceptionsList : <array> {
    0 : *.local
    1 : 169.254/16
  }
  FTPPassive : 1
  HTTPEnable : 1
  HTTPPort : 3128
  HTTPProxy : proxy.corp.example
  HTTPSEnable : 1
  HTTPSPort : 3128
  HTTPSProxy : proxy.corp.example
  ProxyAutoConfigEnable : 1
  ProxyAutoConfigURLString : http://wpad.corp.example/wpad.dat
  SOCKSEnable : 0
  __SCOPED__ : <dictionary> {
    en0 : <dictionary> {
      ExceptionsList : <array> {
        0 : *.local
      }
      HTTPEnable : 1
      HTTPPort : 9999
      HTTPProxy : scoped.example
    }
  }
}
"""
SCUTIL_DIRECT = """<dictionary> {
  ExceptionsList : <array> {
    0 : *.local
    1 : 169.254/16
  }
  FTPPassive : 1
  HTTPEnable : 0
  HTTPSEnable : 0
  ProxyAutoConfigEnable : 0
  ProxyAutoDiscoveryEnable : 0
  SOCKSEnable : 0
}
"""
# `gsettings list-recursively org.gnome.system.proxy` (GNOME 43), with a stored password.
GSETTINGS_MANUAL = """\
org.gnome.system.proxy autoconfig-url ''
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1']
org.gnome.system.proxy mode 'manual'
org.gnome.system.proxy use-same-proxy true
org.gnome.system.proxy.ftp host ''
org.gnome.system.proxy.ftp port 0
org.gnome.system.proxy.http authentication-password 'hunter2'
org.gnome.system.proxy.http authentication-user 'alice'
org.gnome.system.proxy.http enabled false
org.gnome.system.proxy.http host 'proxy.corp.example'
org.gnome.system.proxy.http port 3128
org.gnome.system.proxy.http use-authentication true
org.gnome.system.proxy.https host 'proxy.corp.example'
org.gnome.system.proxy.https port 3128
org.gnome.system.proxy.socks host ''
org.gnome.system.proxy.socks port 0
"""
GSETTINGS_AUTO = """\
org.gnome.system.proxy autoconfig-url 'http://wpad.corp.example/wpad.dat'
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1']
org.gnome.system.proxy mode 'auto'
"""
GSETTINGS_NONE = "org.gnome.system.proxy mode 'none'\norg.gnome.system.proxy.http host ''\n"
# ~/.config/kioslaverc written by KDE Plasma 5.27's proxy settings page.
KIOSLAVERC_MANUAL = """\
[$Version]
update_info=kioslave.upd:kde4.1

[Proxy Settings]
AuthMode=0
NoProxyFor=localhost,127.0.0.1,.corp.example
Proxy Config Script=
ProxyType=1
ReversedException=false
ftpProxy=
httpProxy=http://proxy.corp.example 3128
httpsProxy=http://proxy.corp.example 3128
socksProxy=
"""
KIOSLAVERC_PAC = """\
[Proxy Settings]
Proxy Config Script=http://wpad.corp.example/wpad.dat
ProxyType=2
"""


def _no_commands(argv: Sequence[str]) -> CommandResult:
    raise AssertionError(f"no command should run to read Windows proxies: {list(argv)}")


def test_wininet_is_read_from_the_registry_values() -> None:
    asked: list[str] = []

    def user_registry(path: str) -> dict[str, object]:
        asked.append(path)
        return WININET_VALUES

    found = proxies.system_settings(
        "windows",
        _no_commands,
        home=Path("/nonexistent"),
        user_registry=user_registry,
        winhttp=lambda: None,
    )
    assert asked == [r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"]
    assert len(found) == 1
    setting = found[0]
    assert setting.source == "wininet"
    assert setting.servers == {
        "http": "proxy.corp.example:8080",
        "https": "proxy.corp.example:8080",
    }
    assert setting.pac_url == "http://wpad.corp.example/proxy.pac"
    assert setting.bypass == ("<local>", "*.corp.example")
    # ProxyEnable 0: a ProxyServer left behind is not in use.
    assert proxies.parse_wininet(WININET_VALUES_DIRECT) is None


def test_winhttp_from_the_api_answer() -> None:
    setting = proxies.parse_winhttp(WINHTTP_NAMED)
    assert setting == proxies.ProxySetting(
        "winhttp", {"all": "proxy.corp.example:8080"}, None, ("<local>", "*.corp.example")
    )
    per_scheme = proxies.parse_winhttp((3, "http=p1.example:80 https=p2.example:443", None))
    assert per_scheme is not None
    assert per_scheme.servers == {"http": "p1.example:80", "https": "p2.example:443"}
    assert per_scheme.bypass == ()
    assert proxies.parse_winhttp(WINHTTP_NO_PROXY) is None
    assert proxies.parse_winhttp((3, "", None)) is None
    assert proxies.parse_winhttp(None) is None  # the call failed


@pytest.mark.parametrize(
    "netsh_output", [NETSH_WINHTTP_GERMAN, NETSH_WINHTTP_CHINESE], ids=["german", "chinese"]
)
def test_winhttp_needs_no_english_output(tmp_path: Path, netsh_output: str) -> None:
    # Every command answers in German or Chinese, as on such a Windows; nothing may run.
    calls: list[list[str]] = []

    def run(argv: Sequence[str]) -> CommandResult:
        calls.append(list(argv))
        return CommandResult(0, netsh_output)

    found = proxies.system_settings(
        "windows",
        run,
        home=tmp_path,
        user_registry=lambda path: WININET_VALUES,
        winhttp=lambda: WINHTTP_NAMED,
    )
    assert calls == []
    assert [s.source for s in found] == ["wininet", "winhttp"]
    assert found[1].servers == {"all": "proxy.corp.example:8080"}
    assert found[1].bypass == ("<local>", "*.corp.example")


@pytest.mark.skipif(sys.platform == "win32", reason="off Windows there is no WinHTTP to ask")
def test_the_windows_readers_do_nothing_off_windows(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: Sequence[str]) -> CommandResult:
        calls.append(list(argv))
        return CommandResult(0, NETSH_WINHTTP_GERMAN)

    assert proxies.winhttp_default_proxy() is None
    assert proxies.system_settings("windows", run, home=tmp_path) == []
    assert calls == []


def test_scutil_from_recorded_output_ignores_the_scoped_copies() -> None:
    setting = proxies.parse_scutil(SCUTIL_PROXY)
    assert setting is not None
    assert setting.servers == {
        "http": "proxy.corp.example:3128",
        "https": "proxy.corp.example:3128",
    }
    assert setting.pac_url == "http://wpad.corp.example/wpad.dat"
    assert setting.bypass == ("*.local", "169.254/16")
    assert proxies.parse_scutil(SCUTIL_DIRECT) is None


def test_gsettings_from_recorded_output_never_reads_the_password() -> None:
    setting = proxies.parse_gsettings(GSETTINGS_MANUAL)
    assert setting is not None
    assert setting.servers == {
        "http": "proxy.corp.example:3128",
        "https": "proxy.corp.example:3128",
    }
    assert setting.bypass == ("localhost", "127.0.0.0/8", "::1")
    assert "hunter2" not in repr(setting.fact())
    findings = proxy.analyse(None, [setting])
    assert "hunter2" not in repr([f.params for f in findings])
    auto = proxies.parse_gsettings(GSETTINGS_AUTO)
    assert auto is not None
    assert auto.pac_url == "http://wpad.corp.example/wpad.dat"
    assert proxies.parse_gsettings(GSETTINGS_NONE) is None


def test_kioslaverc_from_recorded_file() -> None:
    setting = proxies.parse_kioslaverc(KIOSLAVERC_MANUAL)
    assert setting is not None
    assert setting.servers == {
        "http": "http://proxy.corp.example:3128",
        "https": "http://proxy.corp.example:3128",
    }
    assert setting.bypass == ("localhost", "127.0.0.1", ".corp.example")
    pac = proxies.parse_kioslaverc(KIOSLAVERC_PAC)
    assert pac is not None
    assert pac.pac_url == "http://wpad.corp.example/wpad.dat"
    assert proxies.parse_kioslaverc("[Proxy Settings]\nProxyType=0\n") is None
    assert proxies.parse_kioslaverc("garbage without sections = \x00") is None


def test_environment_proxies_without_credentials() -> None:
    environ = {
        "HTTPS_PROXY": "http://alice:s3cret@proxy.corp.example:8080",
        "https_proxy": "http://bob:pa55@proxy2.corp.example:8080",
        "no_proxy": "localhost,.corp.example",
        "PATH": "/usr/bin",
    }
    setting = proxies.environment_proxies(environ)
    assert setting is not None
    assert setting.variables == ("HTTPS_PROXY", "https_proxy", "no_proxy")
    # Lowercase wins, as in Python's urllib.
    assert setting.servers == {"https": "http://***@proxy2.corp.example:8080"}
    assert setting.bypass == ("localhost", ".corp.example")
    text = repr(setting.fact()) + repr([f.params for f in proxy.analyse(setting, [])])
    assert "s3cret" not in text
    assert "pa55" not in text
    assert proxies.environment_proxies({"PATH": "/usr/bin"}) is None


def test_system_settings_per_os_through_the_command_boundary(tmp_path: Path) -> None:
    outputs = {
        ("scutil", "--proxy"): CommandResult(0, SCUTIL_PROXY),
        ("gsettings", "list-recursively"): CommandResult(0, GSETTINGS_MANUAL),
    }

    def run(argv: Sequence[str]) -> CommandResult:
        return outputs[(argv[0], argv[1])]

    windows = proxies.system_settings(
        "windows",
        run,
        home=tmp_path,
        user_registry=lambda path: WININET_VALUES,
        winhttp=lambda: WINHTTP_NAMED,
    )
    assert [s.source for s in windows] == ["wininet", "winhttp"]
    assert [s.source for s in proxies.system_settings("macos", run, home=tmp_path)] == ["macos"]
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "kioslaverc").write_text(KIOSLAVERC_MANUAL)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("XDG_CONFIG_HOME", raising=False)
        linux = proxies.system_settings("linux", run, home=tmp_path)
    assert [s.source for s in linux] == ["gnome", "kde"]


def test_a_missing_desktop_tool_means_no_setting(tmp_path: Path) -> None:
    def run(argv: Sequence[str]) -> CommandResult:
        return CommandResult(None, "", "", "FileNotFoundError: gsettings")

    assert proxies.system_settings("linux", run, home=tmp_path) == []


def test_findings_none_configured_pac_and_environment_override() -> None:
    assert [f.id for f in proxy.analyse(None, [])] == ["proxy.none"]
    env = proxies.environment_proxies({"HTTPS_PROXY": "http://127.0.0.1:3128"})
    system = proxies.parse_scutil(SCUTIL_PROXY)
    assert env is not None
    assert system is not None
    findings = proxy.analyse(env, [system])
    by_variant = {f.params.get("variant"): f for f in findings if f.id == "proxy.configured"}
    assert by_variant["env"].status is Status.PASS
    assert by_variant["pac"].status is Status.WARN  # command-line tools cannot run PAC files
    assert by_variant["pac"].params["pac_url"] == "http://wpad.corp.example/wpad.dat"
    override = next(f for f in findings if f.id == "proxy.env_overrides_system")
    assert override.status is Status.WARN
    assert override.params["variables"] == "HTTPS_PROXY"
    assert "macOS network settings" in str(override.params["system"])
    only_system = proxy.analyse(None, [proxies.parse_winhttp(WINHTTP_NAMED)])  # type: ignore[list-item]
    assert only_system[0].params["variant"] == "system"


# --- Choosing the proxy Python-style -----------------------------------------------------------


def test_proxy_for_follows_https_then_all_and_honours_bypass() -> None:
    table = {"https": "http://p1:8080", "all": "http://p2:8080"}
    assert proxies.proxy_for("example.com", proxies=table, bypass=lambda h: False) == table["https"]
    assert proxies.proxy_for(
        "example.com", proxies={"all": "http://p2:8080"}, bypass=lambda h: False
    ) == ("http://p2:8080")
    assert proxies.proxy_for("intranet", proxies=table, bypass=lambda h: h == "intranet") is None
    assert proxies.proxy_for("example.com", proxies={}, bypass=lambda h: False) is None


def test_proxy_for_reads_the_environment_like_urllib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in __import__("os").environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "skip.example")
    assert proxies.proxy_for("www.example.com") == "http://127.0.0.1:3128"
    assert proxies.proxy_for("skip.example") is None


def test_parse_proxy_keeps_credentials_out_of_its_display_form() -> None:
    address = proxies.parse_proxy("http://al%40ice:p%3Ass@proxy.example:3128")
    assert (address.host, address.port, address.username, address.password) == (
        "proxy.example",
        3128,
        "al@ice",
        "p:ss",
    )
    assert address.shown == "http://proxy.example:3128"
    assert "p:ss" not in repr(address)
    assert proxies.parse_proxy("proxy.example:8080").scheme == "http"
    with pytest.raises(ValueError, match="no host"):
        proxies.parse_proxy("http://:8080")


# --- CONNECT tunnels against loopback proxies --------------------------------------------------


def scripted_proxy(reply: bytes) -> CannedServer:
    """A proxy that reads one request head and answers `reply` (plus tunnelled bytes on 200)."""
    tunnelled = b"tunnelled" if reply.startswith(b"HTTP/1.1 200") else b""
    return CannedServer(reply + tunnelled)


def test_a_tunnel_is_opened_with_basic_credentials_from_the_url() -> None:
    with scripted_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n") as server:
        sock = proxies.open_tunnel(
            f"http://alice:s3cret@127.0.0.1:{server.port}",
            "www.example.com",
            443,
            timeout=3,
            cancel=threading.Event(),
        )
        with sock:
            assert sock.recv(100) == b"tunnelled"
    request = server.requests[0].decode()
    assert request.startswith("CONNECT www.example.com:443 HTTP/1.1\r\n")
    assert "Host: www.example.com:443" in request
    assert "Proxy-Authorization: Basic YWxpY2U6czNjcmV0" in request


def test_a_407_is_data_with_the_offered_schemes_and_no_password() -> None:
    reply = (
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b'Proxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic realm="corp"\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    with scripted_proxy(reply) as server, pytest.raises(proxies.TunnelError) as caught:
        proxies.open_tunnel(
            f"http://alice:s3cret@127.0.0.1:{server.port}",
            "www.example.com",
            443,
            timeout=3,
            cancel=threading.Event(),
        )
    assert caught.value.kind == "auth_required"
    assert caught.value.status == 407
    assert caught.value.schemes == ("NTLM", "Basic")
    assert "s3cret" not in str(caught.value)


def test_a_refused_connect_and_a_closed_proxy_port_are_data() -> None:
    forbidden = scripted_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n")
    with forbidden, pytest.raises(proxies.TunnelError) as caught:
        proxies.open_tunnel(
            f"127.0.0.1:{forbidden.port}",
            "blocked.example",
            443,
            timeout=3,
            cancel=threading.Event(),
        )
    assert (caught.value.kind, caught.value.status) == ("rejected", 403)
    with pytest.raises(proxies.TunnelError) as closed:
        proxies.open_tunnel(
            f"http://127.0.0.1:{closed_port()}",
            "x.example",
            443,
            timeout=3,
            cancel=threading.Event(),
        )
    assert closed.value.kind == "refused"
    ssh = scripted_proxy(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    with ssh, pytest.raises(proxies.TunnelError) as garbage:
        proxies.open_tunnel(
            f"127.0.0.1:{ssh.port}", "x.example", 443, timeout=3, cancel=threading.Event()
        )
    assert garbage.value.kind == "bad_reply"
    with pytest.raises(proxies.TunnelError) as socks:
        proxies.open_tunnel(
            "socks5://127.0.0.1:1080", "x.example", 443, timeout=1, cancel=threading.Event()
        )
    assert socks.value.kind == "unsupported"


@pytest.mark.parametrize(
    ("reply", "finding", "variant"),
    [
        (b"HTTP/1.1 200 Connection established\r\n\r\n", None, None),
        (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "proxy.auth_required", None),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", "proxy.rejected", None),
        (None, "proxy.unreachable", "refused"),
    ],
)
def test_the_proxy_check_tries_the_tunnel_a_program_here_would_take(
    monkeypatch: pytest.MonkeyPatch, reply: bytes | None, finding: str | None, variant: str | None
) -> None:
    from checks.core.config import Settings

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(canaries=("www.example.test", "www.example.org"))
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(scripted_proxy(reply)).port if reply else closed_port()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        environment = proxies.environment_proxies(os.environ)
        found, _, _ = proxy.routes(settings, environment, [], timeout=2, cancel=threading.Event())
        assert [r.fact() for r in found] == [
            RouteTaken(site=s, via=f"http://127.0.0.1:{port}", by="environment")
            for s in ("www.example.test:443", "www.example.org:443")
        ]
        failure, fact = proxy.try_tunnel(settings, found[0], timeout=2, cancel=threading.Event())
    assert fact is not None
    assert fact.proxy == f"http://127.0.0.1:{port}"
    assert fact.site == "www.example.test:443"
    assert (failure.id if failure else None) == finding
    if failure is not None:
        assert failure.status is Status.FAIL
        assert failure.params.get("variant") == variant
    else:
        assert fact.result == "open"
    offline = proxy.try_tunnel(
        Settings(offline=True), found[0], timeout=2, cancel=threading.Event()
    )
    assert offline == (None, None)


def test_the_proxy_check_runs_on_this_machine_without_error() -> None:
    from checks.core.check import Context
    from checks.core.config import Settings

    ctx = Context(Settings(), None, threading.Event(), {}, deadline=1e12)
    outcome = proxy.run(ctx)
    assert outcome.findings
    assert {f.id for f in outcome.findings} <= set(proxy.CHECK.findings)
