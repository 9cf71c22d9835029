"""Enumerates the server's protocol versions and cipher suites and compares them with ours."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from checks.core import policy
from checks.core.check import Cancelled, Check, Context
from checks.core.facts.client_policy import ClientPolicyFacts
from checks.core.facts.protocols import DhGroup, ProtocolsFacts
from checks.core.facts.tcp import TcpFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import Finding, Outcome, Status
from checks.lib import cipher_suites, clients, dhgroups, net, starttls, tlswire
from checks.lib.cipher_suites import VERSIONS, Suite
from checks.lib.clients import display

AttemptKind = Literal["accepted", "refused", "unsupported", "error"]
TLS_VERSIONS = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")
ALERT_PROTOCOL_VERSION = 70
_STRENGTH_RANK = {s: i for i, s in enumerate(reversed(cipher_suites.STRENGTHS))}
# Marks for the version x suite table (also shown when colour is off).
STRENGTH_MARKS = {"recommended": "✔✔", "secure": "✔", "weak": "▲", "insecure": "✖"}
NO_COMMON_VERSION_VARIANTS = ("server_too_old", "client_too_old")


@dataclass(frozen=True)
class Attempt:
    """One handshake: what the server answered and how we read it."""

    kind: AttemptKind
    reply: tlswire.Reply | None = None
    detail: str = ""


@dataclass
class VersionScan:
    """What the enumeration found for one protocol version."""

    version: str
    supported: bool = False
    suites: list[int] = field(default_factory=list)
    # Per DHE suite accepted: its ServerKeyExchange values, then (after the scan) their judgement.
    dh_params: dict[int, tlswire.DhParams] = field(default_factory=dict)
    dh: dict[int, dhgroups.DhAssessment] = field(default_factory=dict)
    ecdhe_groups: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def dh_bits(self) -> list[int]:
        return [params.p.bit_length() for params in self.dh_params.values()]

    def assess_dh(self) -> None:
        """Judge each DHE suite's group: apart from the handshakes, as primality tests take
        CPU time that would hold up the other scanning thread."""
        self.dh = {c: dhgroups.assess(k.p, k.g, k.ys) for c, k in self.dh_params.items()}


def classify(version: str, offered: Iterable[int], reply: tlswire.Reply | None) -> Attempt:
    """Whether `reply` accepts one of `offered` at exactly `version`."""
    if reply is None:
        return Attempt("refused", None, "closed without an answer")
    if reply.kind == "alert":
        kind: AttemptKind = "unsupported" if reply.alert == ALERT_PROTOCOL_VERSION else "refused"
        return Attempt(kind, reply, f"alert {reply.alert}")
    if reply.kind in ("sslv2", "sslv2_error"):
        if version == "SSLv2" and reply.kind == "sslv2":
            return Attempt("accepted", reply)
        return Attempt("refused", reply, f"SSLv2 {reply.kind}")
    if version == "SSLv2":
        return Attempt("unsupported", reply, "answered in TLS")
    if reply.version != tlswire.VERSION_CODES[version]:
        chosen = tlswire.VERSION_NAMES.get(reply.version or 0, "?")
        return Attempt("unsupported", reply, f"server chose {chosen}")
    if reply.cipher not in set(offered):
        return Attempt("error", reply, f"server chose suite 0x{reply.cipher or 0:04x} not offered")
    return Attempt("accepted", reply)


class Scanner:
    """Hand-built handshakes against one address, at most `policy` connections at a time."""

    def __init__(
        self,
        address: str,
        port: int,
        *,
        sni: str | None,
        timeout: Callable[[], float],
        cancel: threading.Event,
        max_connections: int = policy.PROTOCOL_MAX_CONNECTIONS,
        max_handshakes: int = policy.PROTOCOL_MAX_HANDSHAKES,
        opening: starttls.Opening | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self.sni = sni
        self.timeout = timeout
        self.cancel = cancel
        self.max_handshakes = max_handshakes
        self.opening = opening
        self.handshakes = 0
        self.shares = tlswire.key_shares()
        self.registry = cipher_suites.registry()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()

    def attempt(self, version: str, hello: bytes, offered: Sequence[int], **kw: bool) -> Attempt:
        """One handshake over a fresh connection; a timeout or broken reply is an `error`."""
        with self._lock:
            if self.handshakes >= self.max_handshakes:
                return Attempt("error", None, f"stopped after {self.max_handshakes} handshakes")
            self.handshakes += 1
        with self._slots:
            if self.cancel.is_set():
                raise Cancelled
            timeout = self.timeout()
            try:
                sock = starttls.connect(
                    self.address, self.port, self.opening, timeout=timeout, cancel=self.cancel
                )
            except net.ConnectError as exc:
                return Attempt("error", None, f"connect: {exc}")
            except starttls.UpgradeFailed as exc:
                return Attempt("error", None, str(exc))
            with sock:
                try:
                    reply = tlswire.exchange(sock, hello, timeout=timeout, cancel=self.cancel, **kw)
                except tlswire.WireError as exc:
                    return Attempt("refused", None, f"malformed reply: {exc}")
                except TimeoutError as exc:
                    return Attempt("error", None, str(exc))
        return classify(version, offered, reply)

    def hello(
        self,
        version: str,
        suites: Sequence[int],
        *,
        groups: Sequence[int] = tlswire.ALL_GROUPS,
        shares: Mapping[int, bytes] | None = None,
    ) -> bytes:
        if version == "TLSv1.3" and shares is None:
            shares = self.shares
        return tlswire.client_hello(version, suites, sni=self.sni, groups=groups, shares=shares)

    def candidates(self, version: str) -> list[int]:
        """Every suite defined for `version`, the likely ones (strong first) at the front."""
        suites = sorted(
            self.registry.for_version(version), key=lambda s: _STRENGTH_RANK[s.strength]
        )
        return [s.code for s in suites]

    def scan_version(self, version: str) -> VersionScan:
        """Offer every suite not yet found, note the server's pick, drop it, and repeat."""
        scan = VersionScan(version)
        if version == "SSLv2":
            attempt = self.attempt(version, tlswire.sslv2_client_hello(), ())
            if attempt.kind == "accepted" and attempt.reply is not None:
                scan.supported = True
                scan.suites = list(attempt.reply.sslv2_kinds)
            elif attempt.kind == "error" and "connect" in attempt.detail:
                # Silence is no error here: an SSLv2 server answers at once, while TLS servers
                # may wait for the rest of what they take for a partial record.
                scan.error = attempt.detail
            return scan
        remaining = self.candidates(version)
        while remaining:
            offer = remaining[: tlswire.MAX_SUITES_PER_HELLO]
            attempt = self.attempt(
                version,
                self.hello(version, offer),
                offer,
                key_exchange=version != "TLSv1.3",
            )
            reply = attempt.reply
            if attempt.kind == "accepted" and reply is not None and reply.cipher is not None:
                scan.supported = True
                scan.suites.append(reply.cipher)
                remaining.remove(reply.cipher)
                self._key_exchange(scan, reply)
            elif attempt.kind == "refused":
                remaining = remaining[len(offer) :]
            elif attempt.kind == "unsupported":
                break
            else:
                scan.error = attempt.detail
                break
        return scan

    def _key_exchange(self, scan: VersionScan, reply: tlswire.Reply) -> None:
        suite = self.registry.by_code.get(reply.cipher or -1)
        if suite is None or reply.key_exchange is None:
            return
        try:
            if suite.kx == "DHE":
                scan.dh_params[suite.code] = tlswire.dh_params(reply.key_exchange)
            elif suite.kx == "ECDHE":
                scan.ecdhe_groups.append(tlswire.ecdhe_group(reply.key_exchange))
        except tlswire.WireError:
            return

    def preference(self, version: str, found: Sequence[int]) -> str | None:
        """`server` when the server picks by its own order, `client` when it takes our first."""
        if len(found) < 2:
            return None
        picks = []
        for order in (list(found), list(reversed(found))):
            attempt = self.attempt(version, self.hello(version, order), order)
            if attempt.kind != "accepted" or attempt.reply is None:
                return None
            picks.append(attempt.reply.cipher)
        if picks[0] == picks[1]:
            return "server"
        return "client" if picks == [found[0], found[-1]] else "server"

    def groups(self, tls13_suites: Sequence[int]) -> list[int]:
        """TLS 1.3 groups: offer them with no key share; each HelloRetryRequest names one."""
        remaining = list(tlswire.ALL_GROUPS)
        found: list[int] = []
        while remaining and tls13_suites:
            hello = self.hello("TLSv1.3", tls13_suites, groups=remaining, shares={})
            attempt = self.attempt("TLSv1.3", hello, tls13_suites)
            reply = attempt.reply
            if (
                attempt.kind != "accepted"
                or reply is None
                or reply.kind != "hello_retry"
                or reply.group not in remaining
            ):
                break
            found.append(reply.group)
            remaining.remove(reply.group)
        return found


@dataclass(frozen=True)
class ScanResult:
    """The whole enumeration of one server."""

    scans: Mapping[str, VersionScan]
    preference: Mapping[str, str | None]
    groups: tuple[str, ...] | None
    handshakes: int

    @property
    def versions(self) -> list[str]:
        return [v for v in VERSIONS if self.scans[v].supported]

    def names(self, version: str) -> list[str]:
        scan = self.scans[version]
        registry = cipher_suites.registry()
        if version == "SSLv2":
            return [registry.sslv2.get(k, f"0x{k:06X}") for k in scan.suites]
        return [registry.name(code) for code in scan.suites]

    @property
    def dh_bits(self) -> int | None:
        bits = [b for scan in self.scans.values() for b in scan.dh_bits]
        return min(bits) if bits else None

    @property
    def errors(self) -> dict[str, str]:
        return {v: s.error for v, s in self.scans.items() if s.error}

    def dh_groups(self) -> list[dhgroups.GroupUse]:
        """Each distinct DH group the server used, with the suites that used it."""
        registry = cipher_suites.registry()
        return dhgroups.by_group(
            (registry.name(code), assessment)
            for v in VERSIONS
            for code, assessment in self.scans[v].dh.items()
        )


def scan(scanner: Scanner) -> ScanResult:
    """Every version (two at a time), then the preference per version and the TLS 1.3 groups."""
    order = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3", "SSLv2")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="protocols") as pool:
        scans = dict(zip(order, pool.map(scanner.scan_version, order), strict=True))
        for version_scan in scans.values():
            version_scan.assess_dh()
        preference = {
            v: scanner.preference(v, scans[v].suites) for v in TLS_VERSIONS if scans[v].supported
        }
        group_codes: list[int] | None = None
        if scans["TLSv1.3"].supported:
            group_codes = scanner.groups(scans["TLSv1.3"].suites)
        elif any(s.ecdhe_groups for s in scans.values()):
            group_codes = list(dict.fromkeys(g for s in scans.values() for g in s.ecdhe_groups))
    groups = (
        tuple(cipher_suites.GROUP_NAMES.get(g, f"0x{g:04x}") for g in group_codes)
        if group_codes is not None
        else None
    )
    return ScanResult({v: scans[v] for v in VERSIONS}, preference, groups, scanner.handshakes)


# --- judging -------------------------------------------------------------------------------


def _best(suites: Iterable[Suite]) -> Suite | None:
    return min(suites, key=lambda s: _STRENGTH_RANK[s.strength], default=None)


def _server_auth(result: ScanResult) -> set[str]:
    registry = cipher_suites.registry()
    return {
        suite.auth
        for v in TLS_VERSIONS
        for code in result.scans[v].suites
        if (suite := registry.by_code.get(code)) and suite.auth != "any"
    }


def _suite_label(suite: Suite) -> str:
    return f"{suite.name} ({suite.openssl})" if suite.openssl else suite.name


def compare(result: ScanResult, stacks: Sequence[clients.Stack], host: str) -> list[Finding]:
    """The findings that need both sides, no shared version or no shared suite, judged for this
    machine's default client (what curl, git and most programs use); which other programs
    refuse is theirs to tell."""
    server_versions = [v for v in result.versions if v != "SSLv2"]
    stack = clients.default_stack(stacks)
    if not server_versions or stack.versions is None:
        return []
    common = [v for v in server_versions if v in stack.versions]
    if not common:
        return [_no_common_version(server_versions, stack, host)]
    if stack.suites is None:
        return []
    client_suites = set(stack.suites)
    if any(name in client_suites for v in common for name in result.names(v)):
        return []
    registry = cipher_suites.registry()
    server_suites = [
        s for v in common for c in result.scans[v].suites if (s := registry.by_code.get(c))
    ]
    auth = _server_auth(result)
    usable = [
        s
        for name in stack.suites
        if (s := registry.by_name.get(name))
        and any(s.usable_in(v) for v in common)
        and (s.auth in auth or s.auth == "any" or not auth)
    ]
    nearest_client, nearest_server = _best(server_suites), _best(usable)
    params = {
        "host": host,
        "client": stack.name,
        "versions": [display(v) for v in common],
        "server_suites": sorted({s.name for s in server_suites}),
        "client_fix": _suite_label(nearest_client) if nearest_client else "—",
        "server_fix": _suite_label(nearest_server) if nearest_server else "—",
    }
    return [Finding("cipher.no_common_suite", Status.FAIL, params)]


def _no_common_version(server_versions: Sequence[str], stack: clients.Stack, host: str) -> Finding:
    client_versions = [v for v in VERSIONS if v in (stack.versions or ())]
    too_old = VERSIONS.index(server_versions[-1]) < VERSIONS.index(client_versions[0])
    # The nearest fix on each side: the version closest to the other side's set.
    client_fix = server_versions[-1] if too_old else server_versions[0]
    server_fix = client_versions[0] if too_old else client_versions[-1]
    params: dict[str, object] = {
        "host": host,
        "client": stack.name,
        "server_versions": [display(v) for v in server_versions],
        "client_versions": [display(v) for v in client_versions],
        "client_fix": display(client_fix),
        "server_fix": display(server_fix),
        "variant": "server_too_old" if too_old else "client_too_old",
    }
    return Finding("protocol.no_common_version", Status.FAIL, params)


def judge(result: ScanResult, host: str) -> list[Finding]:
    """The findings about the server alone."""
    registry = cipher_suites.registry()
    versions = result.versions
    findings: list[Finding] = []
    if not versions:
        none = {"host": host, "errors": [f"{v}: {e}" for v, e in result.errors.items()]}
        return [Finding("protocol.none_accepted", Status.FAIL, none)]
    ssl_versions = [v for v in versions if v in ("SSLv2", "SSLv3")]
    legacy = [v for v in versions if v in ("SSLv3", "TLSv1.0", "TLSv1.1")]
    modern = [v for v in versions if v in clients.MODERN]
    if ssl_versions:
        params: dict[str, object] = {"host": host, "versions": [display(v) for v in ssl_versions]}
        if "SSLv2" in ssl_versions:
            params["variant"] = "sslv2"
        findings.append(Finding("protocol.ssl_enabled", Status.FAIL, params))
    if not modern and legacy:
        params = {"host": host, "versions": [display(v) for v in versions]}
        findings.append(Finding("protocol.legacy_only", Status.FAIL, params))
    elif legacy and modern:
        params = {"host": host, "versions": [display(v) for v in legacy]}
        findings.append(Finding("protocol.legacy_enabled", Status.WARN, params))
    weak = sorted(
        {
            name
            for v in versions
            if v != "SSLv2"
            for name in result.names(v)
            if registry.strength(name) in ("weak", "insecure")
        }
    )
    if weak:
        params = {"host": host, "suites": weak, "count": len(weak)}
        evidence = tuple(f"{name}: {registry.strength(name)}" for name in weak)
        findings.append(Finding("cipher.weak_enabled", Status.WARN, params, evidence))
    findings += weak_dh(result, host)
    return findings


def weak_dh(result: ScanResult, host: str) -> list[Finding]:
    """One `cipher.weak_dh` per distinct DH group with a problem, named by its gravest one."""
    findings = []
    for use in result.dh_groups():
        group = use.assessment
        problems = group.problems(policy.MIN_DH_BITS)
        if not problems:
            continue
        params: dict[str, object] = {
            "host": host,
            "suites": list(use.suites),
            "bits": group.bits,
            "group": group.known,
            "min_dh_bits": policy.MIN_DH_BITS,
            "variant": problems[0],
        }
        status = Status.FAIL if problems[0] in dhgroups.FAIL_PROBLEMS else Status.WARN
        named = [group.known] if group.known else []
        evidence = (
            " · ".join([f"{group.bits} bits", *named, *problems]),
            *(f"{name} ∉ [2, p−2]" for name in group.invalid),
        )
        findings.append(Finding("cipher.weak_dh", status, params, evidence))
    return findings


def summary(result: ScanResult, host: str) -> Finding:
    """The PASS finding whose title is the compact summary: versions, suites, their strength."""
    registry = cipher_suites.registry()
    names = sorted({n for v in result.versions if v != "SSLv2" for n in result.names(v)})
    counts = cipher_suites.summarise(names)
    weak = counts["weak"] + counts["insecure"]
    params: dict[str, object] = {
        "host": host,
        "versions": [display(v) for v in result.versions],
        "suites": len(names),
        "recommended": counts["recommended"],
        "secure": counts["secure"],
        "weak": counts["weak"],
        "insecure": counts["insecure"],
        "handshakes": result.handshakes,
    }
    if weak == 0:
        params["variant"] = "strong"
    evidence = tuple(
        f"{display(v)}: "
        + ", ".join(
            f"{STRENGTH_MARKS[registry.strength(n) or 'secure']} {n}" for n in result.names(v)
        )
        for v in result.versions
    )
    return Finding("protocol.summary", Status.PASS, params, evidence)


def facts(result: ScanResult, address: str, port: int, sni: str | None) -> ProtocolsFacts:
    """What the enumeration of `address` found, as the report records it."""
    registry = cipher_suites.registry()
    suites = {v: tuple(result.names(v)) for v in result.versions}
    strength = {
        name: registry.strength(name) or "insecure" for names in suites.values() for name in names
    }
    return ProtocolsFacts(
        address=address,
        port=port,
        sni=sni,
        versions={v: result.scans[v].supported for v in VERSIONS},
        suites=suites,
        strength=strength,
        preference={v: result.preference.get(v) for v in VERSIONS if result.scans[v].supported},
        groups=result.groups,
        dh_bits=result.dh_bits,
        dh_groups=tuple(
            DhGroup(
                suites=use.suites,
                bits=use.assessment.bits,
                name=use.assessment.known,
                prime=not use.assessment.composite if use.assessment.tested else None,
                safe_prime=not use.assessment.not_safe_prime if use.assessment.tested else None,
            )
            for use in result.dh_groups()
        ),
        handshakes=result.handshakes,
        errors=result.errors,
    )


def _stacks(ctx: Context) -> tuple[clients.Stack, ...]:
    """This machine's client stacks: from the client_policy check when it ran, else read now."""
    policy = ctx.facts(ClientPolicyFacts)
    if policy is not None and policy.stacks:
        return tuple(clients.Stack.from_fact(key, fact) for key, fact in policy.stacks.items())
    return clients.local_stacks()


def _address(ctx: Context) -> str:
    """The address the handshake check used, else the first one that accepted a connection."""
    tls = ctx.facts(TlsFacts)
    if tls is not None:
        return tls.address
    tcp = ctx.facts(TcpFacts)
    # The engine runs protocols only after tcp connected to at least one address.
    assert tcp is not None
    return tcp.connected[0]


# What the tls check already said that makes probing pointless (not TLS at all, or silent).
_MOOT = ("tls.not_tls", "tls.timeout")


def _tls_failure(ctx: Context) -> str | None:
    tls = ctx.results.get("tls")
    failed = tls.findings if tls is not None else ()
    return next((f.id for f in failed if f.id.startswith("tls.") and f.status is Status.FAIL), None)


def run(ctx: Context) -> Outcome:
    assert ctx.target is not None
    target = ctx.target
    tls_failure = _tls_failure(ctx)
    if tls_failure in _MOOT:
        return Outcome((), blocked_by=tls_failure)
    address = _address(ctx)
    scanner = Scanner(
        address,
        target.port,
        sni=target.sni,
        timeout=ctx.timeout,
        cancel=ctx.cancel,
        opening=starttls.opening(target),
    )
    result = scan(scanner)
    ctx.raise_if_cancelled()
    findings = judge(result, target.host)
    if not result.versions and tls_failure is not None:
        # Nothing accepted and the handshake check already named the refusal: one story.
        return Outcome((), facts(result, address, target.port, target.sni), blocked_by=tls_failure)
    if result.versions:
        findings = [summary(result, target.host), *findings]
        findings += compare(result, _stacks(ctx), target.host)
    if result.errors and result.versions:
        params = {"host": target.host, "errors": [f"{v}: {e}" for v, e in result.errors.items()]}
        findings.append(Finding("protocol.incomplete", Status.WARN, params))
    return Outcome(tuple(findings), facts(result, address, target.port, target.sni))


CHECK = Check(
    id="protocols",
    scope="target",
    run=run,
    requires=("tcp", "starttls"),
    after=("client_policy", "tls"),
    findings={
        "protocol.summary": ("strong",),
        "protocol.none_accepted": (),
        "protocol.incomplete": (),
        "protocol.no_common_version": NO_COMMON_VERSION_VARIANTS,
        "protocol.legacy_only": (),
        "protocol.legacy_enabled": (),
        "protocol.ssl_enabled": ("sslv2",),
        "cipher.no_common_suite": (),
        "cipher.weak_enabled": (),
        "cipher.weak_dh": dhgroups.PROBLEMS,
    },
)
