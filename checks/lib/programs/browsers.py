"""Finds browsers and Windows' .NET and PowerShell, from paths, registry keys and app bundles."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from checks.core.platform import OSName
from checks.lib.programs import parse
from checks.lib.programs.models import Program
from checks.lib.programs.policy import BROWSER_POLICY
from checks.lib.programs.runner import which
from checks.lib.system import CommandResult

Ask = Callable[..., CommandResult]

NAMES = {
    "chrome": "Google Chrome", "chromium": "Chromium", "edge": "Microsoft Edge",
    "firefox": "Mozilla Firefox", "safari": "Safari",
}  # fmt: skip
LIBRARIES = {
    "chrome": "BoringSSL", "chromium": "BoringSSL", "edge": "BoringSSL", "firefox": "NSS",
    "safari": "Apple TLS (Network.framework)",
}  # fmt: skip

# Linux: commands on PATH, then where the vendors' packages and snaps put them.
LINUX = {
    "chrome": ("google-chrome", "google-chrome-stable", "/opt/google/chrome/chrome"),
    "chromium": (
        "chromium", "chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium",
    ),
    "edge": ("microsoft-edge", "microsoft-edge-stable", "/opt/microsoft/msedge/msedge"),
    "firefox": ("firefox", "firefox-esr", "/usr/lib/firefox/firefox", "/snap/bin/firefox"),
}  # fmt: skip
# Windows: the installers' folders ({VAR} is an environment variable) and the registry values
# their updaters keep the version in (Chrome's and Edge's BLBeacon, Firefox's CurrentVersion).
WINDOWS = {
    "chrome": (
        (r"{ProgramFiles}\Google\Chrome\Application\chrome.exe",
         r"{ProgramFiles(x86)}\Google\Chrome\Application\chrome.exe",
         r"{LOCALAPPDATA}\Google\Chrome\Application\chrome.exe"),
        (r"HKCU\Software\Google\Chrome\BLBeacon", "version"),
    ),
    "edge": (
        (r"{ProgramFiles(x86)}\Microsoft\Edge\Application\msedge.exe",
         r"{ProgramFiles}\Microsoft\Edge\Application\msedge.exe"),
        (r"HKCU\Software\Microsoft\Edge\BLBeacon", "version"),
    ),
    "firefox": (
        (r"{ProgramFiles}\Mozilla Firefox\firefox.exe",
         r"{ProgramFiles(x86)}\Mozilla Firefox\firefox.exe"),
        (r"HKLM\SOFTWARE\Mozilla\Mozilla Firefox", "CurrentVersion"),
    ),
    "chromium": ((r"{LOCALAPPDATA}\Chromium\Application\chrome.exe",), None),
}  # fmt: skip
# macOS: app bundles; the version is read from Contents/Info.plist, nothing is run.
MACOS = {
    "chrome": "/Applications/Google Chrome.app",
    "chromium": "/Applications/Chromium.app",
    "edge": "/Applications/Microsoft Edge.app",
    "firefox": "/Applications/Firefox.app",
    "safari": "/Applications/Safari.app",
}
# Where Firefox keeps profiles.ini, relative to the home folder (Windows: %APPDATA%).
FIREFOX_PROFILES = {
    "linux": (".mozilla/firefox", "snap/firefox/common/.mozilla/firefox"),
    "macos": ("Library/Application Support/Firefox",),
    "windows": ("Mozilla/Firefox",),
}
TRUST = {
    "chrome": "chrome_root_store", "chromium": "chrome_root_store", "edge": "chrome_root_store",
    "firefox": "nss", "safari": "os",
}  # fmt: skip


def _expand(template: str, environ: Mapping[str, str]) -> str | None:
    for name in ("ProgramFiles(x86)", "ProgramFiles", "LOCALAPPDATA", "APPDATA"):
        token = "{" + name + "}"
        if token in template:
            value = environ.get(name)
            if not value:
                return None
            template = template.replace(token, value)
    # Backslashes are Windows' separator; elsewhere (tests of these tables) the native one.
    return template.replace("\\", os.sep)


def _notes(program_id: str, os_name: OSName) -> tuple[str, ...]:
    if program_id in ("chrome", "chromium", "edge") and os_name == "linux":
        return (
            "on Linux it trusts roots added to its NSS database (~/.pki/nssdb), "
            "not those added to /etc/ssl/certs",
        )
    if program_id in ("chrome", "chromium", "edge"):
        return ("trusts the Chrome Root Store plus roots added to the OS store",)
    return ()


def firefox_profile(environ: Mapping[str, str], os_name: OSName) -> Path | None:
    """The default Firefox profile folder, when one exists."""
    base = environ.get("APPDATA") if os_name == "windows" else environ.get("HOME")
    if not base:
        return None
    for relative in FIREFOX_PROFILES[os_name]:
        folder = Path(base) / relative
        try:
            text = (folder / "profiles.ini").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        profile = parse.firefox_default_profile(text)
        if profile:
            path = Path(profile)
            return path if path.is_absolute() else folder / path
    return None


def firefox_enterprise_roots(
    profile: Path | None, install_dir: Path | None, os_name: OSName
) -> tuple[bool, str]:
    """Whether Firefox adds the OS roots, and why: policies.json wins over the profile's
    pref; Firefox 120+ turns it on by default on Windows and macOS; Linux has no such import."""
    if os_name == "linux":
        return False, "Firefox on Linux never imports the OS roots"
    if install_dir is not None:
        for relative in (
            "distribution/policies.json",
            "Contents/Resources/distribution/policies.json",
        ):
            try:
                text = (install_dir / relative).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            value = parse.firefox_policies_enterprise_roots(text)
            if value is not None:
                return value, "set by policies.json (Certificates.ImportEnterpriseRoots)"
    if profile is not None:
        prefs: dict[str, object] = {}
        for name in ("prefs.js", "user.js"):
            try:
                prefs.update(parse.firefox_prefs((profile / name).read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
        pref = prefs.get("security.enterprise_roots.enabled")
        if isinstance(pref, bool):
            return pref, "set in the profile (security.enterprise_roots.enabled)"
    return True, "Firefox 120+ imports the OS roots by default"


def _browser(
    program_id: str, path: str, version: str | None, environ: Mapping[str, str], os_name: OSName
) -> Program:
    policy: dict[str, object] = dict(BROWSER_POLICY[program_id])
    notes = list(_notes(program_id, os_name))
    store_path: str | None = None
    if program_id == "firefox":
        profile = firefox_profile(environ, os_name)
        store_path = str(profile) if profile else None
        install = Path(path) if os_name == "macos" else Path(path).parent
        enabled, why = firefox_enterprise_roots(profile, install, os_name)
        policy["enterprise_roots"] = enabled
        notes.append(("adds the OS roots: " if enabled else "only Mozilla's roots: ") + why)
    return Program(
        program_id, NAMES[program_id], version, path, LIBRARIES[program_id], TRUST[program_id],
        store_path, policy, False, tuple(notes),
    )  # fmt: skip


def _first(candidates: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    for candidate in candidates:
        if os.path.isabs(candidate):
            if os.path.exists(candidate):
                return candidate
        elif (found := which(candidate, environ)) is not None:
            return found
    return None


def _linux(environ: Mapping[str, str], ask: Ask) -> list[Program]:
    found: list[Program] = []
    for program_id, candidates in LINUX.items():
        path = _first(candidates, environ)
        if path is None:
            continue
        # `--version` prints one line and opens no window on Linux (not so on Windows).
        version = parse.first_version(ask(path, "--version").stdout)
        found.append(_browser(program_id, path, version, environ, "linux"))
    return found


def _windows(environ: Mapping[str, str], ask: Ask) -> list[Program]:
    found: list[Program] = []
    for program_id, (templates, registry) in WINDOWS.items():
        paths = [p for t in templates if (p := _expand(t, environ)) and os.path.exists(p)]
        if not paths:
            continue
        version = None
        if registry is not None:
            done = ask("reg", "query", registry[0], "/v", registry[1])
            version = parse.registry_version(done.stdout, registry[1]) if done.ok else None
        found.append(_browser(program_id, paths[0], version, environ, "windows"))
    found += _windows_runtimes(environ, ask)
    return found


def _windows_runtimes(environ: Mapping[str, str], ask: Ask) -> list[Program]:
    """.NET and Windows PowerShell use Schannel and the Windows store; they are not run."""
    found: list[Program] = []
    dotnet = which("dotnet", environ)
    if dotnet:
        version = parse.dotnet_runtimes(ask(dotnet, "--list-runtimes").stdout)
        found.append(Program("dotnet", ".NET", version, dotnet, "Schannel", "os", None, {}, False))
    powershell = which("powershell", environ) or which("pwsh", environ)
    if powershell:
        done = ask(
            powershell, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command",
            "$PSVersionTable.PSVersion.ToString()",
        )  # fmt: skip
        version = parse.first_version(done.stdout)
        notes = (
            ("Windows PowerShell 5.1 offers TLS 1.0 and 1.1 unless .NET's strong crypto is on",)
            if version and version.startswith("5.")
            else ()
        )
        found.append(
            Program("powershell", "PowerShell", version, powershell, "Schannel", "os", None, {},
                    False, notes)
        )  # fmt: skip
    return found


def _macos(environ: Mapping[str, str]) -> list[Program]:
    found: list[Program] = []
    for program_id, bundle in MACOS.items():
        info = Path(bundle) / "Contents" / "Info.plist"
        try:
            data = info.read_bytes()
        except OSError:
            continue
        found.append(_browser(program_id, bundle, parse.plist_version(data), environ, "macos"))
    return found


def find(environ: Mapping[str, str], ask: Ask, os_name: OSName) -> list[Program]:
    """The browsers (and, on Windows, .NET and PowerShell) installed for this OS."""
    if os_name == "windows":
        return _windows(environ, ask)
    if os_name == "macos":
        return _macos(environ)
    return _linux(environ, ask)
