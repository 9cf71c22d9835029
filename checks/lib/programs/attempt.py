"""Runs each real program against the target as a user's command would, and reads its verdict."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from checks.core.check import Cancelled
from checks.core.target import TargetError, to_ascii
from checks.lib.programs import classify, databases, parse, probes, upgrade
from checks.lib.programs.common import (
    Run,
    connects,
    curl_base_argv,
    did_not_run,
    probe_attempt,
    refuses,
    script_result,
    secs,
    unknown,
)
from checks.lib.programs.models import Attempt, Program, Reason, Target
from checks.lib.programs.runner import english
from checks.lib.roots import read_certs

# The password of the temporary Java trust store: it guards nothing (public certificates).
_STORE_PASSWORD = "changeit"
# curl exit codes that come after a working TLS connection (an HTTP-level problem):
# 8 weird server reply, 18 partial file, 22 HTTP error, 47 too many redirects, 52 empty reply,
# 92 HTTP/2 stream error.
_CURL_AFTER_TLS = {8, 18, 22, 47, 52, 92}
_CURL_NETWORK: dict[int, Reason] = {5: "network", 6: "network", 7: "network", 28: "timeout"}
# wget: 0 fine, 6 authentication needed, 8 an HTTP error answer: TLS worked in all three.
_WGET_AFTER_TLS = {0, 6, 8}


def _curl(program: Program, r: Run) -> Attempt:
    done = r.go(program, [*curl_base_argv(program, r, "-I"), r.url])
    if (failed := did_not_run(program, done)) is not None:
        return failed
    code = done.returncode
    if code == 0 or code in _CURL_AFTER_TLS:
        return connects(program.id, f"exit {code}: the TLS connection worked")
    text = done.stderr.strip() or f"curl exit {code}"
    reason = _CURL_NETWORK.get(code or 0)
    line = classify.first_meaningful(text, "curl: (")
    return refuses(program.id, line, reason)


def _wget(program: Program, r: Run) -> Attempt:
    if r.address and not r.host_is_ip:
        return unknown(program, "wget cannot be told which address to use (no --resolve)")
    # --no-config: no wgetrc (it may name output files); --no-hsts: no ~/.wget-hsts written.
    argv = [program.path or "wget", "--no-config", "-nv", "--spider", "--no-hsts", "--tries=1"]
    argv += [f"--timeout={secs(r.timeout)}", "--no-proxy", "--max-redirect=0"]
    if r.cacert:
        argv.append(f"--ca-certificate={r.cacert}")
    done = r.go(program, [*argv, r.url])
    if (failed := did_not_run(program, done)) is not None:
        return failed
    text = (done.stderr + "\n" + done.stdout).strip()
    if done.returncode in _WGET_AFTER_TLS:
        return connects(program.id, classify.first_meaningful(text, "URL:") or "exit 0")
    if done.returncode == 4 and not re.search(r"SSL|TLS|GnuTLS|certificate", text, re.I):
        # Exit 4 is any network failure; without a TLS word it never reached the handshake.
        reason: Reason = "timeout" if classify.reason_of(text) == "timeout" else "network"
        return refuses(program.id, text, reason)
    return refuses(program.id, text or f"wget exit {done.returncode}")


def _python(program: Program, r: Run) -> Attempt:
    python = program.executable or program.path or "python3"
    argv = [python, "-c", probes.PYTHON_ATTEMPT, r.host, str(r.port), r.address or ""]
    done = r.go(program, [*argv, r.cacert or "", str(r.timeout)])
    if (failed := did_not_run(program, done)) is not None:
        return failed
    answer = parse.json_object(done.stdout)
    urllib = answer.get("urllib")
    if not isinstance(urllib, dict):
        problem = classify.first_meaningful(done.stderr, "Error") or "no answer"
        return unknown(program, f"the Python probe failed: {problem}")
    result = script_result(program.id, urllib)
    requests = answer.get("requests")
    if isinstance(requests, dict):
        as_requests = script_result(program.id, requests)
        bundle = str(answer.get("bundle") or "")
        detail = classify.one_line(f"as requests ({bundle}): {as_requests.detail}")
        as_requests = Attempt(program.id, as_requests.result, as_requests.reason, detail, "ran")
        result = Attempt(result.program_id, result.result, result.reason, result.detail, "ran",
                         requests=as_requests)  # fmt: skip
    return result


def _node(program: Program, r: Run) -> Attempt:
    argv = [program.path or "node", "-e", probes.NODE_ATTEMPT, r.host, str(r.port)]
    done = r.go(program, [*argv, r.address or "", r.cacert or "", str(r.timeout)])
    return probe_attempt(program, done, "Node")


def _java_truststore(cacert: str, folder: Path) -> list[str]:
    """-D options naming a temporary PKCS#12 trust store that holds exactly `cacert`'s
    certificates as trusted entries (Java ignores key-less entries without that mark)."""
    certs = read_certs(Path(cacert))
    if not certs:
        raise ValueError(f"no certificate in {cacert}")
    store = folder / "truststore.p12"
    entries = [
        pkcs12.PKCS12Certificate(cert, f"cacert-{index}".encode())
        for index, cert in enumerate(certs)
    ]
    encryption = BestAvailableEncryption(_STORE_PASSWORD.encode())
    store.write_bytes(pkcs12.serialize_java_truststore(entries, encryption))
    return [
        f"-Djavax.net.ssl.trustStore={store}",
        f"-Djavax.net.ssl.trustStorePassword={_STORE_PASSWORD}",
        "-Djavax.net.ssl.trustStoreType=PKCS12",
    ]


def _java(program: Program, r: Run) -> Attempt:
    (r.folder / "Probe.java").write_text(probes.JAVA_PROBE, encoding="utf-8")
    # -XX:-UsePerfData: no hsperfdata file left in the temporary folder of the system.
    argv = [program.path or "java", "-XX:-UsePerfData"]
    if r.cacert:
        try:
            argv += _java_truststore(r.cacert, r.folder)
        except (OSError, ValueError) as exc:
            return unknown(
                program, f"could not make a Java trust store of the --cacert file: {exc}"
            )
    argv += ["Probe.java", r.host, str(r.port), r.address or "", str(int(r.timeout * 1000))]
    done = r.go(program, argv)
    if (failed := did_not_run(program, done)) is not None:
        return failed
    answer = parse.json_object(done.stdout)
    if not answer:
        problem = classify.first_meaningful(done.stderr, "error")
        if "jdk.compiler" in done.stderr or "module" in problem.lower():
            problem = "this Java cannot run a source file (Java 11+ with jdk.compiler needed)"
        return unknown(program, f"the Java probe failed: {problem or 'no answer'}")
    return script_result(program.id, answer)


def _git(program: Program, r: Run) -> Attempt:
    # No proxy, credential helper or prompt: the question is only whether TLS works.
    argv = [program.path or "git", "-c", "http.proxy=", "-c", "credential.helper=", "-c"]
    argv += [
        "core.askPass=",
        "-c",
        "http.lowSpeedLimit=1",
        "-c",
        f"http.lowSpeedTime={secs(r.timeout)}",
    ]
    if r.address and not r.host_is_ip:
        pinned = f"[{r.address}]" if ":" in r.address else r.address
        argv += ["-c", f"http.curloptResolve={r.host}:{r.port}:{pinned}"]
    drop = (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "SSH_ASKPASS",
        "GIT_ASKPASS",
        "GIT_TRACE",
        "GIT_CURL_VERBOSE",
    )
    env = {k: v for k, v in r.environ.items() if k not in drop}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if r.cacert:
        # GIT_SSL_CAINFO wins over http.sslCAInfo, so the file goes there.
        env["GIT_SSL_CAINFO"] = r.cacert
    done = r.go(program, [*argv, "ls-remote", r.url], env)
    if (failed := did_not_run(program, done)) is not None:
        return failed
    text = done.stderr.strip()
    match = re.search(r"unable to access '[^']*': (.*)", text)
    if done.returncode == 0 or match is None:
        # Any answer from the web server (not a repository, 404, authentication) came over a
        # working TLS connection.
        answer = classify.first_meaningful(text) or "exit 0"
        return connects(program.id, f"the server answered over TLS: {answer}")
    return refuses(program.id, match.group(1))


_OPENSSL_ERROR = re.compile(r"error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)")


def _openssl(program: Program, r: Run) -> Attempt:
    argv = [program.path or "openssl", "s_client", "-connect", r.authority(r.address)]
    argv += upgrade.openssl_args(r)
    if not r.host_is_ip:
        argv += ["-servername", r.host]
    argv += ["-verify_return_error", "-verify_ip" if r.host_is_ip else "-verify_hostname", r.host]
    if r.cacert:
        argv += ["-CAfile", r.cacert]
    done = r.go(program, argv)
    if (failed := did_not_run(program, done)) is not None:
        return failed
    text = done.stdout + "\n" + done.stderr
    verify = re.search(r"Verify return code: (\d+) \(([^)]*)\)", text)
    if done.returncode == 0 and verify and verify.group(1) == "0":
        protocol = re.search(r"Protocol\s*: (\S+)|New, (TLSv[\d.]+)", text)
        version = next((g for g in protocol.groups() if g), "TLS") if protocol else "TLS"
        return connects(program.id, f"Verify return code: 0 (ok), {version}")
    verify_error = re.search(r"verify error:num=\d+:(.*)", text)
    if verify_error:
        return refuses(program.id, verify_error.group(1).strip())
    if r.starttls and (no_upgrade := upgrade.openssl_refusal(done.stdout, done.stderr)):
        return refuses(program.id, no_upgrade, "other")
    library = _OPENSSL_ERROR.search(text)
    if library:
        return refuses(program.id, library.group(1).strip())
    line = classify.first_meaningful(text, "connect:", "error", "errno")
    return refuses(program.id, line or f"openssl exit {done.returncode}")


_ATTEMPTS: dict[str, Callable[[Program, Run], Attempt]] = {
    "curl": _curl, "wget": _wget, "python": _python, "node": _node, "java": _java, "git": _git,
    "openssl": _openssl, "psql": databases.psql, "mysql": databases.mysql,
}  # fmt: skip
# The same programs for any other protocol (see `upgrade.covers` for who speaks what).
_UPGRADED: dict[str, Callable[[Program, Run], Attempt]] = {
    "curl": upgrade.curl, "python": upgrade.python, "openssl": _openssl,
    "psql": databases.psql, "mysql": databases.mysql,
}  # fmt: skip


def _environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's environment (what changes trust stays: it is part of what each program does)
    in the C locale, without proxy variables: the programs go straight to the server, the
    same route as our own probes, and proxies are the proxy check's question."""
    return {k: v for k, v in english(environ).items() if not k.lower().endswith("_proxy")}


def attempt(
    program: Program,
    target: Target,
    *,
    timeout: float,
    cancel: threading.Event,
    environ: Mapping[str, str] | None = None,
) -> Attempt:
    """Run the real `program` against `target` and say whether it got a TLS connection.

    Never raises except `Cancelled`: a program that is missing, cannot be run here, does not
    speak the target's protocol (see `speaks`) or answers in a way we cannot read gives result
    "unknown" with the reason in `detail`.
    """
    table = _ATTEMPTS if target.protocol == "https" else _UPGRADED
    run_it = table.get(program.id)
    if (why := upgrade.covers(program, target)) is not None:
        return unknown(program, why)
    if not program.runnable or run_it is None:
        return unknown(program, f"{program.name} cannot be run here; judge it by its policy")
    if program.path is None:
        return unknown(program, f"{program.name} is not installed")
    try:
        host = to_ascii(target.host.strip("[]"))
    except TargetError:
        return unknown(program, f"{target.host!r} has no ASCII form to give {program.name}")
    env = _environment(os.environ if environ is None else environ)
    cacert = str(target.cacert) if target.cacert is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="hd-programs-") as folder:
            r = Run(
                host, target.port, target.address, cacert, timeout, cancel, env, Path(folder),
                target.protocol, target.starttls,
            )  # fmt: skip
            return run_it(program, r)
    except Cancelled:
        raise
    except (OSError, ValueError, UnicodeError) as exc:
        return unknown(program, f"could not run {program.name}: {type(exc).__name__}: {exc}")


def speaks(program: Program, target: Target) -> bool:
    """Whether `program` speaks what `target` carries (HTTPS, or a mail, directory, database
    or chat protocol, with its plain-text upgrade when it has one): the others are not tried
    (a browser, wget, git, Node or Java with an SMTP server, psql with a web server)."""
    return upgrade.covers(program, target) is None
