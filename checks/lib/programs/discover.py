"""Finds the command-line TLS clients installed here and asks each its version, library, trust."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from checks.core.check import Cancelled
from checks.core.platform import OSName, current_os
from checks.lib import bundles, default_client
from checks.lib.programs import browsers, databases, parse, probes
from checks.lib.programs.models import PROGRAM_IDS, Program
from checks.lib.programs.policy import openssl_policy
from checks.lib.programs.runner import english, run, which
from checks.lib.system import CommandResult

Ask = Callable[..., CommandResult]
# The most of git-remote-https read to find which libcurl it links (its strings sit early on).
_MAX_BINARY = 16 * 1024 * 1024
# Java's default trust store password: public, documented, the same on every JDK.
_JAVA_SECURITY = ("conf/security/java.security", "lib/security/java.security")


def _asker(environ: Mapping[str, str], timeout: float, cancel: threading.Event) -> Ask:
    def ask(*argv: str, cwd: Path | None = None) -> CommandResult:
        return run(argv, timeout=timeout, cancel=cancel, environ=english(environ), cwd=cwd)

    return ask


def _openssl_level(library: str | None) -> dict[str, object]:
    """The system OpenSSL policy, when `library` is the OpenSSL this process loads too (the
    programs of one distribution share one libssl and one openssl.cnf)."""
    live = default_client.system_policy()
    if live is None or not library or library.split()[-1] not in live.library:
        return {}
    return openssl_policy(live.security_level, live.min_version, live.max_version)


def _file_trust(environ: Mapping[str, str], *names: str) -> tuple[str, str | None]:
    path = parse.env_lookup(environ, *names)
    return ("file", path) if path else ("os", None)


def _curl(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    banner = ask(path, "-V").stdout
    version, library = parse.curl_version(banner)
    # The curl tool reads CURL_CA_BUNDLE, then SSL_CERT_DIR / SSL_CERT_FILE (tool_operate.c).
    store, store_path = _file_trust(environ, "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
    policy = _openssl_level(library) if library and library.startswith("OpenSSL") else {}
    notes = ("curl trusts the bundle in CURL_CA_BUNDLE",) if store == "file" else ()
    return Program(
        "curl", "curl", version, path, library, store, store_path, policy, True, notes,
        protocols=parse.curl_protocols(banner),
    )  # fmt: skip


def _wget(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    version, library = parse.wget_version(ask(path, "--version").stdout)
    store, store_path = "os", None
    if library == "OpenSSL":
        store, store_path = _file_trust(environ, "SSL_CERT_FILE", "SSL_CERT_DIR")
    notes = ("wget cannot be told which address to use: with --resolve it is not run",)
    return Program("wget", "wget", version, path, library, store, store_path, {}, True, notes)


def _python(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    info = parse.json_object(ask(path, "-c", probes.PYTHON_INFO).stdout)
    version = str(info["version"]) if info.get("version") else None
    short = ".".join((version or "").split(".")[:2])
    name = f"Python {short} (urllib)" if short else "Python (urllib)"
    _, library = parse.openssl_version(str(info.get("openssl") or ""))
    policy = _openssl_level(library)
    for key, field in (("min_version", "min"), ("max_version", "max")):
        value = parse.tls_version(info.get(field))
        if value:
            policy[key] = value
    if isinstance(info.get("dhe"), bool):
        policy["dhe"] = info["dhe"]
    store, store_path = _file_trust(environ, "SSL_CERT_FILE", "SSL_CERT_DIR")
    if store == "os" and os_name == "macos" and info.get("cafile"):
        # python.org's macOS builds read their own cert.pem, not the Keychain.
        store, store_path = "file", str(info["cafile"])
    certifi_path = str(info["certifi"]) if info.get("certifi") else None
    notes: list[str] = []
    requests_bundle = parse.env_lookup(environ, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    if requests_bundle:
        notes.append(f"requests trusts the bundle in REQUESTS_CA_BUNDLE ({requests_bundle})")
    elif certifi_path and not certifi_path.startswith("/etc/"):
        notes.append("pip and requests use certifi, not the OS store")
    elif certifi_path:
        notes.append("this Python's certifi is the distribution's: it points at the OS bundle")
    executable = str(info["executable"]) if info.get("executable") else None
    return Program(
        "python", name, version, path, library, store, store_path, policy, True, tuple(notes),
        executable=executable, certifi_path=certifi_path,
    )  # fmt: skip


def _node(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    info = parse.json_object(ask(path, "-p", probes.NODE_INFO).stdout)
    version = str(info["node"]).lstrip("v") if info.get("node") else None
    library = f"OpenSSL {info['openssl']}" if info.get("openssl") else None
    # Node's tls.connect refuses DH groups under minDHSize, 1024 bits by default (Node docs).
    policy: dict[str, object] = {"dh_min_bits": 1024}
    for key, field in (("min_version", "min"), ("max_version", "max")):
        value = parse.tls_version(info.get(field))
        if value:
            policy[key] = value
    if isinstance(info.get("dhe"), bool):
        policy["dhe"] = info["dhe"]
    store = "node_bundled"
    if info.get("useOpensslCa") or parse.node_options_trust(environ.get("NODE_OPTIONS", "")):
        store = "os"
    notes: list[str] = []
    if store == "node_bundled":
        notes.append("Node trusts its own copy of Mozilla's roots, not the OS store")
    extra = parse.env_lookup(environ, "NODE_EXTRA_CA_CERTS")
    if extra:
        notes.append(f"Node also trusts NODE_EXTRA_CA_CERTS ({extra})")
    return Program(
        "node", f"Node.js {version or ''}".strip(), version, path, library, store, None, policy,
        True, tuple(notes),
    )  # fmt: skip


def _java(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    # -XX:-UsePerfData: asking leaves no hsperfdata file in the system's temporary folder.
    done = ask(path, "-XX:-UsePerfData", "-XshowSettings:properties", "-version")
    properties = parse.java_properties(done.stderr + done.stdout)
    version = properties.get("java.version")
    home = Path(properties["java.home"]) if properties.get("java.home") else None
    policy: dict[str, object] = {}
    notes: list[str] = []
    for relative in _JAVA_SECURITY if home else ():
        try:
            text = (home / relative).read_text(encoding="utf-8", errors="replace")  # type: ignore[operator]
        except OSError:
            continue
        policy = parse.java_policy(text)
        notes.append(f"jdk.tls.disabledAlgorithms = {parse.java_tls_disabled(text)}")
        break
    store, store_path = "java_cacerts", str(home / "lib/security/cacerts") if home else None
    options = environ.get("JAVA_TOOL_OPTIONS", "")
    if "trustStoreType=Windows-ROOT" in options or "trustStoreType=KeychainStore" in options:
        store, store_path = "os", None
    elif (named := bundles.java_truststore(options)) is not None:
        store, store_path = "file", named[0]
        notes.append("JAVA_TOOL_OPTIONS names the trust store")
    if store_path and os.path.realpath(store_path).startswith("/etc/ssl/certs/java"):
        notes.append("cacerts is rebuilt from the OS store by update-ca-certificates")
    library = f"JSSE (Java {version})" if version else "JSSE"
    return Program(
        "java", f"Java {version or ''}".strip(), version, path, library, store, store_path, policy,
        True, tuple(notes),
    )  # fmt: skip


def _git(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    env = {k: v for k, v in environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    with tempfile.TemporaryDirectory(prefix="hd-git-") as folder:
        # Outside any repository, so that only the user's and the system's settings are read.
        version = parse.git_version(ask(path, "--version", cwd=Path(folder)).stdout)
        backend = ask(path, "config", "--get", "http.sslBackend", cwd=Path(folder)).stdout.strip()
        cainfo = ask(path, "config", "--get", "http.sslCAInfo", cwd=Path(folder)).stdout.strip()
        exec_path = ask(path, "--exec-path", cwd=Path(folder)).stdout.strip()
    binary: bytes | None = None
    suffix = ".exe" if os_name == "windows" else ""
    if exec_path:
        try:
            with open(Path(exec_path) / f"git-remote-https{suffix}", "rb") as handle:
                binary = handle.read(_MAX_BINARY)
        except OSError:
            binary = None
    library = parse.git_backend(backend or None, binary)
    store, store_path = "os", None
    named = parse.env_lookup(env, "GIT_SSL_CAINFO") or cainfo or None
    if named:
        store, store_path = "file", named
    notes: list[str] = []
    if library == "GnuTLS":
        notes.append("this git uses libcurl with GnuTLS, not curl's OpenSSL")
    if parse.env_lookup(env, "GIT_SSL_CAINFO"):
        notes.append("GIT_SSL_CAINFO overrides http.sslCAInfo")
    return Program("git", "git", version, path, library, store, store_path, {}, True, tuple(notes))


def _openssl(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    version, library = parse.openssl_version(ask(path, "version").stdout)
    store, store_path = _file_trust(environ, "SSL_CERT_FILE", "SSL_CERT_DIR")
    policy = _openssl_level(library)
    return Program(
        "openssl", "openssl s_client", version, path, library, store, store_path, policy, True
    )


def _home(environ: Mapping[str, str]) -> Path | None:
    home = environ.get("HOME")
    if home:
        return Path(home)
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return None


def _system_openssl(environ: Mapping[str, str], ask: Ask) -> str | None:
    """The OpenSSL the system's libraries link (libpq, MariaDB's client): `openssl version`."""
    tool = which("openssl", environ)
    return parse.openssl_version(ask(tool, "version").stdout)[1] if tool else None


def _psql(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    version = parse.psql_version(ask(path, "--version").stdout)
    # libpq verifies against PGSSLROOTCERT, else ~/.postgresql/root.crt (only sslrootcert=system
    # in libpq 16 and later means the OS store); without the file, sslmode=verify-full fails
    # and the default sslmode=prefer checks no certificate.
    named = parse.env_lookup(environ, "PGSSLROOTCERT")
    home = _home(environ)
    default = str(home / ".postgresql" / "root.crt") if home else None
    store_path = named or default
    notes = ["psql checks certificates only with sslmode=verify-ca or verify-full"]
    if store_path and not os.path.exists(store_path):
        notes.append(f"{store_path} does not exist: psql has no roots of its own to verify with")
    library = _system_openssl(environ, ask) if os_name == "linux" else None
    return Program(
        "psql", "psql", version, path, f"{library} (libpq)" if library else "libpq", "file",
        store_path, {}, True, tuple(notes),
    )  # fmt: skip


def _mysql(path: str, ask: Ask, environ: Mapping[str, str], os_name: OSName) -> Program:
    name, version = databases.version_banner(ask(path, "--version").stdout)
    library = _system_openssl(environ, ask) if os_name == "linux" else None
    if name.startswith("MariaDB"):
        # MariaDB's Connector/C verifies against OpenSSL's default roots unless --ssl-ca.
        store, notes = "os", ("MariaDB's client checks certificates only with "
                              "--ssl-verify-server-cert (the default from 11.4)",)  # fmt: skip
    else:
        store, notes = "file", ("the MySQL client verifies only against --ssl-ca",)
    return Program("mysql", name, version, path, library, store, None, {}, True, notes)


_TOOLS: dict[str, tuple[tuple[str, ...], Callable[..., Program]]] = {
    "curl": (("curl",), _curl),
    "wget": (("wget",), _wget),
    "python": (("python3", "python"), _python),
    "node": (("node", "nodejs"), _node),
    "java": (("java",), _java),
    "git": (("git",), _git),
    "openssl": (("openssl",), _openssl),
    "psql": (("psql",), _psql),
    "mysql": (("mysql", "mariadb"), _mysql),
}


def _locate(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    for name in names:
        found = which(name, environ)
        if found:
            return found
    return None


def discover(
    *,
    timeout: float,
    cancel: threading.Event,
    environ: Mapping[str, str] | None = None,
    os_name: OSName | None = None,
) -> tuple[Program, ...]:
    """The TLS clients installed on this computer, in PROGRAM_IDS order.

    Every command is bounded by `timeout` and stops on `cancel` (raising `Cancelled`); a
    program that cannot be asked is still listed when it is found, with what is known.
    """
    env = dict(os.environ if environ is None else environ)
    os_name = os_name or current_os()
    ask = _asker(env, timeout, cancel)
    found: list[Program] = []
    for program_id, (names, describe) in _TOOLS.items():
        path = _locate(names, env)
        if path is None:
            continue
        if cancel.is_set():
            raise Cancelled
        try:
            found.append(describe(path, ask, env, os_name))
        except Cancelled:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # One odd installation must not hide the others: list it with what is known.
            note = f"could not be asked: {type(exc).__name__}"
            found.append(
                Program(program_id, program_id, None, path, None, "os", None, {}, True, (note,))
            )
    found += browsers.find(env, ask, os_name)
    return tuple(sorted(found, key=lambda p: PROGRAM_IDS.index(p.id)))
