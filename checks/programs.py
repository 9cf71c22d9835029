"""Finds the programs here that make TLS connections and tells which of them reach the target."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import certifi
from cryptography import x509

from checks.core.check import Check, Context
from checks.core.facts.certificate import CertificateFacts
from checks.core.facts.programs import ProgramRecord, ProgramsFacts
from checks.core.facts.protocols import ProtocolsFacts
from checks.core.facts.tcp import TcpFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import programs as lib
from checks.lib.certinfo import display_name
from checks.lib.roots import enumerate_os
from checks.lib.trust import TrustStore

# Programs run at the same time: each is a process of its own (Java's takes a second to start).
_PARALLEL = 4
# Stores that are not the operating system's: a root added to the OS store does not reach them.
_OWN_STORES = ("node_bundled", "certifi", "java_cacerts", "nss", "file", "chrome_root_store")


def _label(program: lib.Program) -> str:
    # Some names carry their version already ("Node.js 20.20.2", "Python 3.11 (urllib)").
    if program.version and program.version.split(".")[0] not in program.name:
        return f"{program.name} {program.version}"
    return program.name


def _names(programs: Sequence[lib.Program]) -> list[str]:
    return [_label(p) for p in programs]


def _observed(ctx: Context) -> lib.Observed | None:
    """What our own probes saw of the target, for the programs that cannot be run."""
    protocols = ctx.facts(ProtocolsFacts)
    cert = ctx.facts(CertificateFacts)
    if protocols is None or cert is None or not cert.certificates:
        return None
    leaf = cert.certificates[0]
    problems = {f.id for f in (ctx.results["cert"].findings if "cert" in ctx.results else ())}
    judged = cert.judgements
    return lib.Observed(
        versions=tuple(v for v, on in protocols.versions.items() if on),
        suites=tuple(name for names in protocols.suites.values() for name in names),
        dh_bits=protocols.dh_bits,
        leaf_key=(leaf.key_type, leaf.key_bits),
        sha1_signed=any(
            c.signature_hash in ("sha1", "md5") and c.position != "root" for c in cert.certificates
        ),
        chain_trusted={
            "os": judged.os.trusted,
            "mozilla": judged.mozilla.trusted if judged.mozilla else None,
            "cacert": judged.cacert.trusted if judged.cacert else None,
        },
        name_matches=not problems & {"cert.hostname_mismatch", "cert.no_san"},
        dates_valid=not problems & {"cert.expired", "cert.not_yet_valid"},
    )


def _speaks_tls(ctx: Context) -> bool:
    """Whether the target sent us a certificate: a port that is closed, silent or not TLS
    stops every program alike, and the other checks say so already."""
    tls = ctx.facts(TlsFacts)
    return tls is not None and bool(tls.chain_pem)


def _target(ctx: Context) -> lib.Target:
    assert ctx.target is not None
    target = ctx.target
    pinned = ctx.settings.pinned_address(target.host, target.port)
    if pinned is None and target.is_ip:
        pinned = target.host
    if pinned is None:
        # Where the name did not resolve for us, a program will not resolve it either; the
        # address the connection check used keeps every program on the same server.
        tcp = ctx.facts(TcpFacts)
        pinned = tcp.connected[0] if tcp is not None and tcp.connected else None
    return lib.Target(
        host=target.sni or target.host,
        port=target.port,
        address=pinned,
        cacert=ctx.settings.cacert,
        protocol=target.protocol,
        starttls=target.starttls,
    )


# Stores that are a program's own copy of the public set (Mozilla's, or a vendor's like it).
_PUBLIC_COPIES = ("node_bundled", "certifi", "java_cacerts", "nss", "chrome_root_store")


def _as_seen_by(program: lib.Program, target: lib.Target, ctx: Context) -> lib.Target:
    """`--known-roots` names the public set; a program that carries its own copy of that set
    trusts it instead of its copy, as the certificate check compares with it."""
    public = ctx.settings.known_roots
    if target.cacert is not None or public is None or program.trust_store not in _PUBLIC_COPIES:
        return target
    return dataclasses.replace(target, cacert=public)


def _attempts(
    ctx: Context, found: Sequence[lib.Program], target: lib.Target
) -> dict[str, lib.Attempt]:
    """How each program that speaks the target's protocol fares; the others are left out."""
    observed = _observed(ctx)
    results: dict[str, lib.Attempt] = {}
    found = [p for p in found if lib.speaks(p, target)]
    runnable = [p for p in found if p.runnable]
    with ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="programs") as pool:
        futures = {
            p.id: pool.submit(
                lib.attempt,
                p,
                _as_seen_by(p, target, ctx),
                timeout=ctx.timeout(),
                cancel=ctx.cancel,
            )
            for p in runnable
        }
        for program_id, future in futures.items():
            results[program_id] = future.result()
    ctx.raise_if_cancelled()
    for program in found:
        if program.runnable:
            continue
        if observed is None:
            detail = "our own probes could not see the server's protocols and certificate"
            results[program.id] = lib.Attempt(program.id, "unknown", None, detail, "policy")
        else:
            results[program.id] = lib.judge_by_policy(program, observed)
    return results


def _outcome_findings(
    host: str,
    found: Sequence[lib.Program],
    attempts: dict[str, lib.Attempt],
    target: lib.Target,
) -> list[Finding]:
    """All connect, some refuse or none connect, among the programs tried; with a mail,
    directory, database or chat server, the programs that do not speak it are named apart."""
    if not attempts:
        return []
    by_id = {p.id: p for p in found}
    refusing = [by_id[i] for i, a in attempts.items() if a.result == "refuses"]
    connecting = [by_id[i] for i, a in attempts.items() if a.result == "connects"]
    unknown = [by_id[i] for i, a in attempts.items() if a.result == "unknown"]
    reasons = sorted({a.reason or "other" for a in attempts.values() if a.result == "refuses"})
    params: dict[str, object] = {
        "host": host,
        "refusing": _names(refusing),
        "connecting": _names(connecting),
        "unknown": _names(unknown),
        "reasons": reasons,
        "why": [
            f"{_label(by_id[i])}: {a.detail}" for i, a in attempts.items() if a.result == "refuses"
        ],
    }
    evidence = tuple(
        f"{_label(by_id[i])}: {a.result}{f' ({a.detail})' if a.detail else ''} [{a.how}]"
        for i, a in attempts.items()
    )
    if target.protocol != "https":
        params["variant"] = "protocol"
        params["protocol"] = lib.protocol_name(target.protocol)
        params["not_tried"] = _names([p for p in found if p.id not in attempts]) or ["—"]
    if not refusing:
        return [Finding("programs.all_connect", Status.PASS, params, evidence)]
    if not connecting:
        return [Finding("programs.none_connect", Status.FAIL, params, evidence)]
    return [Finding("programs.some_refuse", Status.FAIL, params, evidence)]


def _local_roots(os_roots: Sequence[x509.Certificate], public: TrustStore) -> list[str]:
    """The roots this computer trusts that are not public: added by a company, a proxy or
    security software; the ones a program with a store of its own lacks."""
    return [display_name(r.subject) for r in os_roots if public.find(r) is None]


def _trust_findings(
    found: Sequence[lib.Program], os_roots: Sequence[x509.Certificate], public: TrustStore
) -> list[Finding]:
    local = set(_local_roots(os_roots, public))
    findings: list[Finding] = []
    if not local:
        return findings
    for program in found:
        if program.trust_store not in _OWN_STORES:
            continue
        gap = lib.trust_gaps(program, os_roots)
        missing = [name for name in gap.missing if name in local]
        if not gap.readable or not missing:
            continue
        params: dict[str, object] = {
            "program": _label(program),
            "roots": missing[:5],
            "count": len(missing),
            "store": program.trust_store_path or program.trust_store,
            "variant": program.trust_store,
        }
        findings.append(Finding("programs.trust_gap", Status.WARN, params))
    return findings


def _record(
    program: lib.Program, attempt: lib.Attempt | None, target: lib.Target | None
) -> ProgramRecord:
    """One row of the table; a program that does not speak the target's protocol has no
    result, and says so in `detail`."""
    if attempt is None and target is not None and not lib.speaks(program, target):
        why = f"not tried: it does not speak {lib.protocol_name(target.protocol)}"
        return dataclasses.replace(_record(program, None, None), detail=why)
    return ProgramRecord(
        name=program.id,
        label=_label(program),
        version=program.version,
        path=program.path,
        tls_library=program.tls_library,
        trust_store=program.trust_store,
        trust_store_path=program.trust_store_path,
        result=attempt.result if attempt else None,
        reason=attempt.reason if attempt else None,
        detail=attempt.detail if attempt else None,
        how=attempt.how if attempt else None,
    )


def _public_roots(ctx: Context) -> TrustStore:
    return TrustStore.from_file(ctx.settings.known_roots or Path(certifi.where()), name="mozilla")


def run(ctx: Context) -> Outcome:
    found = lib.discover(timeout=ctx.timeout(), cancel=ctx.cancel)
    ctx.raise_if_cancelled()
    summary = {
        "count": len(found),
        "programs": [
            f"{_label(p)} ({p.tls_library})" if p.tls_library else _label(p) for p in found
        ],
    }
    findings = [Finding("programs.found", Status.PASS, summary)]
    os_roots = enumerate_os(timeout=ctx.timeout(), cancel=ctx.cancel).trusted
    findings += _trust_findings(found, os_roots, _public_roots(ctx))
    attempts: dict[str, lib.Attempt] = {}
    target: lib.Target | None = None
    if ctx.target is not None and found and _speaks_tls(ctx):
        target = _target(ctx)
        found = tuple(lib.named_for(p, target) for p in found)
        attempts = _attempts(ctx, found, target)
        findings += _outcome_findings(ctx.target.host, found, attempts, target)
    records = tuple(_record(p, attempts.get(p.id), target) for p in found)
    facts = ProgramsFacts(programs=records)
    return Outcome(tuple(findings), facts)


CHECK = Check(
    id="programs",
    scope="local",
    run=run,
    # With a target, the programs that cannot be run are judged on what these checks saw.
    after=("tls", "cert", "protocols"),
    findings={
        "programs.found": (),
        "programs.trust_gap": _OWN_STORES,
        # "protocol": a mail, directory, database or chat server, which some programs do
        # not speak: they are named apart, not counted.
        "programs.all_connect": ("protocol",),
        "programs.some_refuse": ("protocol",),
        "programs.none_connect": ("protocol",),
    },
)
