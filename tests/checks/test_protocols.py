"""The protocols check against scripted loopback servers: enumeration, cost, limits and findings."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from checks import protocols
from checks.core.check import Cancelled, Context
from checks.core.config import Settings
from checks.core.facts import NO_FACTS
from checks.core.facts.client_policy import ClientPolicyFacts, StackPolicy
from checks.core.facts.protocols import DhGroup, ProtocolsFacts
from checks.core.facts.tcp import Attempt, TcpFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import CheckResult, Finding, Status
from checks.core.redact import plain
from checks.core.target import parse
from checks.lib import cipher_suites, clients, dhgroups, tlswire
from checks.present import catalogue
from tests.checks.test_tlswire import (
    handshake,
    parse_client_hello,
    record,
    server_hello,
    sslv2_server_hello,
)

ECDHE_GCM = 0xC02F
ECDHE_GCM_256 = 0xC030
RSA_CBC = 0x002F
RSA_3DES = 0x000A
RSA_RC4 = 0x0005
DHE_GCM = 0x009E
DHE_GCM_256 = 0x009F
DHE_SUITES = (DHE_GCM, DHE_GCM_256)
KNOWN_PRIMES = {group.name: p for p, group in dhgroups.known_groups().items()}
FFDHE2048 = KNOWN_PRIMES["ffdhe2048 (RFC 7919)"]
OAKLEY2 = KNOWN_PRIMES["Oakley group 2 (RFC 2409)"]
AES128 = 0x1301
AES256 = 0x1302
CHACHA = 0x1303


@dataclass
class ServerPolicy:
    """What a scripted server accepts: per version its suites, in its order of preference."""

    suites: Mapping[str, Sequence[int]]
    server_order: bool = True
    sslv2: Sequence[int] = ()
    groups: Sequence[int] = (0x001D, 0x0017)
    dh_prime: int = FFDHE2048
    dh_generator: int = 2
    dh_public: int = 3
    silent: bool = False


@dataclass
class FakeServer:
    """Answers each ClientHello with a canned ServerHello, HRR or alert, like a real server."""

    policy: ServerPolicy
    connections: int = 0
    peak: int = 0
    _open: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open += 1
            self.peak = max(self.peak, self._open)
        try:
            with conn:
                conn.settimeout(3)
                data = conn.recv(65536)
                if self.policy.silent:
                    self._stop.wait(3)
                    with self._lock:
                        self._open -= 1
                    return
                time.sleep(0.01)  # so that overlapping connections would be seen
                reply = self.answer(data)
                with self._lock:
                    self._open -= 1
                conn.sendall(reply)
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_WR)
                    conn.recv(100)
        except OSError:
            pass

    def answer(self, data: bytes) -> bytes:
        alert = record(21, b"\x02\x28")
        if data[0] & 0x80:
            if not self.policy.sslv2:
                return record(21, b"\x02\x46")
            return sslv2_server_hello(list(self.policy.sslv2))
        hello = parse_client_hello(data)
        extensions = hello["extensions"]
        assert isinstance(extensions, dict)
        offered = hello["suites"]
        assert isinstance(offered, list)
        if tlswire.EXT_SUPPORTED_VERSIONS in extensions:
            version = "TLSv1.3"
        else:
            version = tlswire.VERSION_NAMES[int(str(hello["version"]))]
        accepted = self.policy.suites.get(version)
        if not accepted:
            return record(21, b"\x02\x46")
        if self.policy.server_order:
            pick = next((s for s in accepted if s in offered), None)
        else:
            pick = next((s for s in offered if s in accepted), None)
        if pick is None:
            return alert
        if version == "TLSv1.3":
            offered_groups = _groups(extensions[tlswire.EXT_SUPPORTED_GROUPS])
            shares = _share_groups(extensions[tlswire.EXT_KEY_SHARE])
            group = next((g for g in self.policy.groups if g in shares), None)
            if group is not None:
                share = struct.pack("!HH", group, 32) + b"k" * 32
                ext = [(43, b"\x03\x04"), (51, share)]
                return record(22, server_hello(0x0303, pick, extensions=ext))
            group = next((g for g in self.policy.groups if g in offered_groups), None)
            if group is None:
                return alert
            ext = [(43, b"\x03\x04"), (51, struct.pack("!H", group))]
            return record(22, server_hello(0x0303, pick, random=tlswire.HRR_RANDOM, extensions=ext))
        code = tlswire.VERSION_CODES[version]
        flight = server_hello(code, pick) + handshake(11, b"\x00\x00\x00")
        if pick in DHE_SUITES:
            flight += handshake(12, dh_key_exchange(self.policy))
        flight += handshake(14, b"")
        return record(22, flight, version=code)


def _vec16(value: int) -> bytes:
    data = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return struct.pack("!H", len(data)) + data


def dh_key_exchange(policy: ServerPolicy) -> bytes:
    """A DHE ServerKeyExchange: p, g, Ys, then a (fake) rsa_pkcs1_sha256 signature."""
    values = (policy.dh_prime, policy.dh_generator, policy.dh_public)
    return b"".join(_vec16(v) for v in values) + b"\x04\x01" + struct.pack("!H", 4) + b"sign"


def _groups(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(2, len(data), 2)]


def _share_groups(data: bytes) -> list[int]:
    groups, at = [], 2
    while at < len(data):
        groups.append(int.from_bytes(data[at : at + 2], "big"))
        at += 4 + int.from_bytes(data[at + 2 : at + 4], "big")
    return groups


@contextlib.contextmanager
def fake(policy: ServerPolicy) -> Iterator[FakeServer]:
    server = FakeServer(policy)
    try:
        yield server
    finally:
        server.close()


def scan(server: FakeServer, cancel: threading.Event | None = None) -> protocols.ScanResult:
    scanner = protocols.Scanner(
        "127.0.0.1",
        server.port,
        sni="lab.test",
        timeout=lambda: 2.0,
        cancel=cancel or threading.Event(),
    )
    return protocols.scan(scanner)


MODERN = ServerPolicy(
    {"TLSv1.3": [AES256, AES128, CHACHA], "TLSv1.2": [ECDHE_GCM_256, ECDHE_GCM, DHE_GCM]}
)


def test_enumerates_versions_suites_preference_and_groups() -> None:
    with fake(MODERN) as server:
        result = scan(server)
        assert server.peak <= 2
    assert result.versions == ["TLSv1.2", "TLSv1.3"]
    assert result.scans["TLSv1.3"].suites == [AES256, AES128, CHACHA]
    assert result.scans["TLSv1.2"].suites == [ECDHE_GCM_256, ECDHE_GCM, DHE_GCM]
    assert result.preference == {"TLSv1.3": "server", "TLSv1.2": "server"}
    assert result.groups == ("x25519", "secp256r1")
    assert result.dh_bits == 2048
    assert result.scans["TLSv1.2"].dh[DHE_GCM].known == "ffdhe2048 (RFC 7919)"
    assert not [f for f in protocols.judge(result, "good.test") if f.id == "cipher.weak_dh"]
    # Each suite found costs one handshake; refusals cost one per 128 suites offered.
    registry = cipher_suites.registry()
    chunks = sum(
        -(-len(registry.for_version(v)) // tlswire.MAX_SUITES_PER_HELLO) for v in ("TLSv1.2",)
    )
    enumeration = 6 + chunks + 1 + 3 + 1 + 1 + 1  # found, refusals, 1.3 end, 1.1/1.0/SSLv3/SSLv2
    assert result.handshakes <= enumeration + 4 + 3 + 2


def test_client_preference_is_recognised() -> None:
    policy = ServerPolicy({"TLSv1.2": [ECDHE_GCM, RSA_CBC]}, server_order=False)
    with fake(policy) as server:
        result = scan(server)
    assert result.preference == {"TLSv1.2": "client"}
    assert result.groups is None


def test_legacy_server_with_sslv2_and_weak_suites() -> None:
    policy = ServerPolicy(
        {"SSLv3": [RSA_RC4, RSA_3DES], "TLSv1.0": [RSA_RC4, RSA_3DES, RSA_CBC]},
        sslv2=[0x010080, 0x0700C0],
    )
    with fake(policy) as server:
        result = scan(server)
    assert result.versions == ["SSLv2", "SSLv3", "TLSv1.0"]
    assert result.names("SSLv2") == ["SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"]
    findings = {f.id: f for f in protocols.judge(result, "old.test")}
    assert findings["protocol.ssl_enabled"].params["variant"] == "sslv2"
    assert findings["protocol.legacy_only"].status is Status.FAIL
    weak = findings["cipher.weak_enabled"]
    assert weak.params["suites"] == [
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_RC4_128_SHA",
    ]
    facts = protocols.facts(result, "127.0.0.1", 443, None)
    assert facts.versions == {
        "SSLv2": True,
        "SSLv3": True,
        "TLSv1.0": True,
        "TLSv1.1": False,
        "TLSv1.2": False,
        "TLSv1.3": False,
    }
    assert set(facts.suites) == {"SSLv2", "SSLv3", "TLSv1.0"}
    assert facts.suites["TLSv1.0"] == (
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    )
    assert facts.strength["TLS_RSA_WITH_RC4_128_SHA"] == "insecure"
    # The JSON report (schema 1) keeps its keys, in this order, with lists for tuples.
    written = plain(facts)
    assert isinstance(written, dict)
    assert list(written) == [
        "address",
        "port",
        "sni",
        "versions",
        "suites",
        "strength",
        "preference",
        "groups",
        "dh_bits",
        "dh_groups",
        "handshakes",
        "errors",
    ]
    assert written["suites"] == {v: list(names) for v, names in facts.suites.items()}


def weak_dh(policy: ServerPolicy) -> tuple[list[Finding], ProtocolsFacts]:
    with fake(policy) as server:
        result = scan(server)
    findings = protocols.judge(result, "dh.test")
    assert all(f.id == "cipher.weak_dh" for f in findings)
    return findings, protocols.facts(result, "127.0.0.1", server.port, None)


def test_a_shared_1024_bit_group_is_one_finding_naming_every_suite() -> None:
    findings, facts = weak_dh(ServerPolicy({"TLSv1.2": [DHE_GCM, DHE_GCM_256]}, dh_prime=OAKLEY2))
    (finding,) = findings
    assert finding.status is Status.WARN
    assert finding.params == {
        "host": "dh.test",
        "suites": ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"],
        "bits": 1024,
        "group": "Oakley group 2 (RFC 2409)",
        "min_dh_bits": 2048,
        "variant": "known_weak",
    }
    assert finding.evidence == ("1024 bits · Oakley group 2 (RFC 2409) · known_weak · small",)
    (group,) = facts.dh_groups
    assert group == DhGroup(
        suites=("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
        bits=1024,
        name="Oakley group 2 (RFC 2409)",
        prime=True,
        safe_prime=True,
    )
    assert facts.dh_bits == 1024
    written = plain(facts)
    assert isinstance(written, dict)
    assert written["dh_groups"] == [
        {
            "suites": list(group.suites),
            "bits": 1024,
            "name": "Oakley group 2 (RFC 2409)",
            "prime": True,
            "safe_prime": True,
        }
    ]
    english = catalogue.render(finding, lang="en", os_name="linux")
    assert english.title == (
        "dh.test uses Oakley group 2 (RFC 2409), a widely shared Diffie-Hellman group of only "
        "1024 bits"
    )
    assert any("ffdhe2048" in step for step in english.fix_admin)
    assert "Oakley" in catalogue.render(finding, lang="zh_CN", os_name="linux").title


def test_a_small_group_of_the_servers_own_is_small() -> None:
    modp1536 = KNOWN_PRIMES["MODP group 5 (RFC 3526)"]
    (finding,) = weak_dh(ServerPolicy({"TLSv1.2": [DHE_GCM]}, dh_prime=modp1536))[0]
    assert (finding.params["variant"], finding.params["bits"]) == ("small", 1536)
    assert finding.params["group"] == "MODP group 5 (RFC 3526)"
    assert finding.status is Status.WARN


def test_a_composite_modulus_fails() -> None:
    composite = FFDHE2048 * 3  # odd, 2050 bits, and plainly not prime
    findings, facts = weak_dh(ServerPolicy({"TLSv1.2": [DHE_GCM]}, dh_prime=composite))
    (finding,) = findings
    assert (finding.id, finding.status) == ("cipher.weak_dh", Status.FAIL)
    assert finding.params["variant"] == "composite"
    assert finding.params["group"] is None
    assert (facts.dh_groups[0].prime, facts.dh_groups[0].safe_prime) == (False, False)
    title = catalogue.render(finding, lang="en", os_name="linux").title
    assert title == 'dh.test uses a Diffie-Hellman "prime" that is not prime (2050 bits)'


def test_a_public_value_out_of_range_fails() -> None:
    policy = ServerPolicy({"TLSv1.2": [DHE_GCM]}, dh_public=FFDHE2048 - 1)
    (finding,) = weak_dh(policy)[0]
    assert (finding.params["variant"], finding.status) == ("invalid", Status.FAIL)
    assert finding.evidence[-1] == "Ys ∉ [2, p−2]"


def test_an_rfc_5114_group_is_not_a_safe_prime() -> None:
    rfc5114 = KNOWN_PRIMES["RFC 5114 group 24 (2048/256)"]
    (finding,) = weak_dh(ServerPolicy({"TLSv1.2": [DHE_GCM]}, dh_prime=rfc5114))[0]
    assert (finding.params["variant"], finding.status) == ("not_safe_prime", Status.WARN)
    assert finding.params["group"] == "RFC 5114 group 24 (2048/256)"


def test_dh_problems_are_their_own_finding_not_a_weak_suite_variant() -> None:
    assert protocols.CHECK.findings["cipher.weak_enabled"] == ()
    assert protocols.CHECK.findings["cipher.weak_dh"] == (
        "composite",
        "invalid",
        "known_weak",
        "small",
        "not_safe_prime",
    )


def test_nothing_accepted_is_a_failure() -> None:
    with fake(ServerPolicy({})) as server:
        result = scan(server)
    assert [f.id for f in protocols.judge(result, "none.test")] == ["protocol.none_accepted"]


def test_cancel_stops_a_scan_of_a_silent_server_at_once() -> None:
    cancel = threading.Event()
    with fake(ServerPolicy({}, silent=True)) as server:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            scan(server, cancel)
        assert time.monotonic() - started < 1.5
        assert server.peak <= 2


def test_a_silent_server_costs_one_timeout_per_version_not_a_retry_storm() -> None:
    with fake(ServerPolicy({}, silent=True)) as server:
        scanner = protocols.Scanner(
            "127.0.0.1", server.port, sni=None, timeout=lambda: 0.3, cancel=threading.Event()
        )
        result = protocols.scan(scanner)
    assert result.handshakes == 6
    assert set(result.errors) == set(cipher_suites.VERSIONS) - {"SSLv2"}


def stack(name: str, versions: Sequence[str], suites: Sequence[str] | None) -> clients.Stack:
    return clients.Stack(name, name, tuple(versions), tuple(suites) if suites else None)


def test_no_common_version_names_the_nearest_fix_on_each_side() -> None:
    with fake(ServerPolicy({"TLSv1.0": [RSA_CBC]})) as server:
        result = scan(server)
    modern = stack("Python", ["TLSv1.2", "TLSv1.3"], ["TLS_AES_128_GCM_SHA256"])
    (finding,) = protocols.compare(result, [modern], "old.test")
    assert finding.id == "protocol.no_common_version"
    assert finding.params["variant"] == "server_too_old"
    assert finding.params["client_fix"] == "TLS 1.0"
    assert finding.params["server_fix"] == "TLS 1.2"
    with fake(ServerPolicy({"TLSv1.3": [AES128]})) as server:
        result = scan(server)
    old = stack("Java 6", ["TLSv1.0"], None)
    (finding,) = protocols.compare(result, [old], "new.test")
    assert finding.params["variant"] == "client_too_old"
    assert (finding.params["client_fix"], finding.params["server_fix"]) == ("TLS 1.3", "TLS 1.0")


def test_no_common_suite_names_the_nearest_fix_on_each_side() -> None:
    with fake(ServerPolicy({"TLSv1.2": [RSA_CBC, RSA_3DES]})) as server:
        result = scan(server)
    client = stack(
        "Python",
        ["TLSv1.2", "TLSv1.3"],
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ],
    )
    (finding,) = protocols.compare(result, [client], "rsa.test")
    assert finding.id == "cipher.no_common_suite"
    assert finding.params["client_fix"] == "TLS_RSA_WITH_AES_128_CBC_SHA (AES128-SHA)"
    # The server holds an RSA key, so the ECDSA suite would not help it.
    assert finding.params["server_fix"] == (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (ECDHE-RSA-AES256-GCM-SHA384)"
    )
    shared = stack("Python", ["TLSv1.2"], ["TLS_RSA_WITH_AES_128_CBC_SHA"])
    assert protocols.compare(result, [shared], "rsa.test") == []


def test_summary_title_is_compact_in_both_languages() -> None:
    with fake(MODERN) as server:
        result = scan(server)
    finding = protocols.summary(result, "good.test")
    english = catalogue.render(finding, lang="en", os_name="linux").title
    assert english == "good.test: TLS 1.2, TLS 1.3 · 6 cipher suites (all strong)"
    assert "6" in catalogue.render(finding, lang="zh_CN", os_name="linux").title
    assert finding.evidence[0].startswith("TLS 1.2: ✔✔ TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


def _tcp_facts(port: int, *connected: str) -> TcpFacts:
    """What the TCP check records after connecting to `connected` (loopback by default)."""
    addresses = connected or ("127.0.0.1",)
    attempts = tuple(
        Attempt(address=a, family="IPv4", result="connected", elapsed_ms=0.1) for a in addresses
    )
    return TcpFacts(port=port, attempts=attempts, connected=addresses)


def _context(target: str, results: Mapping[str, CheckResult]) -> Context:
    return Context(
        settings=Settings(connect_timeout=2),
        target=parse(target),
        cancel=threading.Event(),
        results=results,
        deadline=time.monotonic() + 30,
    )


def test_the_address_probed_is_the_one_the_handshake_used() -> None:
    tcp = CheckResult("tcp", Status.PASS, facts=_tcp_facts(443, "192.0.2.1", "192.0.2.2"))
    assert protocols._address(_context("192.0.2.9", {"tcp": tcp})) == "192.0.2.1"
    tls_facts = TlsFacts(
        address="192.0.2.2",
        port=443,
        sni=None,
        outcome="ok",
        version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        alert=None,
        chain_pem=(),
        client_cert_requested=False,
        client_ca_names=(),
    )
    tls = CheckResult("tls", Status.PASS, facts=tls_facts)
    assert protocols._address(_context("192.0.2.9", {"tcp": tcp, "tls": tls})) == "192.0.2.2"
    broken = CheckResult("tls", Status.ERROR, error="boom")
    assert protocols._address(_context("192.0.2.9", {"tcp": tcp, "tls": broken})) == "192.0.2.1"


def test_the_stacks_come_from_client_policy_when_it_ran() -> None:
    java = StackPolicy(
        name="Java",
        versions=("TLSv1.2",),
        suites=None,
        settings={"jdk.tls.disabledAlgorithms": "SSLv3"},
        source="java.security",
    )
    policy_facts = ClientPolicyFacts(versions=(), suites=(), stacks={"java": java})
    ran = CheckResult("client_policy", Status.PASS, facts=policy_facts)
    (read,) = protocols._stacks(_context("192.0.2.9", {"client_policy": ran}))
    assert read == clients.Stack(
        "java", "Java", ("TLSv1.2",), None, {"jdk.tls.disabledAlgorithms": "SSLv3"}, "java.security"
    )
    assert read.fact() == java
    broken = CheckResult("client_policy", Status.ERROR, error="boom")
    here = protocols._stacks(_context("192.0.2.9", {"client_policy": broken}))
    assert here[0].id == "python"


def test_run_reads_the_address_from_tcp_and_the_policy_from_client_policy() -> None:
    with fake(ServerPolicy({"TLSv1.0": [RSA_CBC]})) as server:
        python = StackPolicy(
            name="Python", versions=("TLSv1.2", "TLSv1.3"), suites=(), settings={}, source=""
        )
        policy_facts = ClientPolicyFacts(versions=(), suites=(), stacks={"python": python})
        policy_result = CheckResult("client_policy", Status.PASS, facts=policy_facts)
        tcp = CheckResult("tcp", Status.PASS, facts=_tcp_facts(server.port))
        ctx = _context(f"127.0.0.1:{server.port}", {"tcp": tcp, "client_policy": policy_result})
        outcome = protocols.run(ctx)
    ids = [f.id for f in outcome.findings]
    assert ids == ["protocol.summary", "protocol.legacy_only", "protocol.no_common_version"]
    assert outcome.status is Status.FAIL
    assert isinstance(outcome.facts, ProtocolsFacts)
    assert outcome.facts.address == "127.0.0.1"
    assert outcome.facts.handshakes == outcome.findings[0].params["handshakes"]
    assert protocols.CHECK.requires == ("tcp", "starttls")
    assert protocols.CHECK.after == ("client_policy", "tls")


def test_classify_rejects_a_suite_that_was_not_offered() -> None:
    reply = tlswire.parse_reply(record(22, server_hello(0x0303, RSA_RC4)))
    assert protocols.classify("TLSv1.2", [RSA_CBC], reply).kind == "error"
    assert protocols.classify("TLSv1.1", [RSA_RC4], reply).kind == "unsupported"
    assert protocols.classify("TLSv1.2", [RSA_RC4], reply).kind == "accepted"
    assert protocols.classify("TLSv1.2", [RSA_RC4], None).kind == "refused"


def test_registry_grades_follow_the_documented_rules() -> None:
    registry = cipher_suites.registry()
    assert len(registry.suites) >= 350
    for suite in registry.suites:
        assert suite.strength == cipher_suites.grade(suite.kx, suite.auth, suite.cipher, suite.mac)
    grades = {
        "TLS_NULL_WITH_NULL_NULL": "insecure",
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5": "insecure",
        "TLS_DH_anon_WITH_AES_128_GCM_SHA256": "insecure",
        "TLS_RSA_WITH_RC4_128_SHA": "insecure",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "weak",
        "TLS_RSA_WITH_AES_128_GCM_SHA256": "secure",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "secure",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8": "secure",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "recommended",
        "TLS_AES_128_GCM_SHA256": "recommended",
        "TLS_SHA256_SHA256": "insecure",
    }
    for name, grade in grades.items():
        assert registry.strength(name) == grade, name
    assert {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_8_SHA256",
    } <= {s.name for s in registry.for_version("TLSv1.3")}
    assert not any(s.tls13 for s in registry.for_version("TLSv1.2"))
    assert registry.by_openssl["ECDHE-RSA-AES128-GCM-SHA256"].code == 0xC02F


@pytest.mark.parametrize("moot", ["tls.not_tls", "tls.timeout"])
def test_probing_is_moot_when_the_port_does_not_speak_tls(moot: str) -> None:
    tls = CheckResult("tls", Status.FAIL, (Finding(moot, Status.FAIL, {}),))
    tcp = CheckResult("tcp", Status.PASS, facts=_tcp_facts(9))
    outcome = protocols.run(_context("127.0.0.1:9", {"tcp": tcp, "tls": tls}))
    assert outcome.status is Status.SKIP
    assert outcome.blocked_by == moot
    assert outcome.facts is NO_FACTS
    assert plain(outcome.facts) == {}
