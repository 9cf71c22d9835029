"""Hand-built but realistic reports (all green, clock wrong, interception, expired certificate)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from checks import certificate, clock, diagnosis
from checks.core.facts import NO_FACTS, Facts
from checks.core.facts.client_policy import ClientPolicyFacts, StackPolicy
from checks.core.facts.clock import ClockFacts, TimeZone
from checks.core.facts.dns import DnsFacts
from checks.core.facts.protocols import ProtocolsFacts
from checks.core.facts.tls import TlsFacts
from checks.core.models import CheckResult, Finding, Report, Status
from checks.core.target import parse
from checks.core.version import __version__
from checks.lib import certinfo, http_date, ntp, products, timesync, trust
from tests.lab import pki

HOST = "shop.example.com"
NOW = pki.NOW
THREE_YEARS_S = 94_608_000
CANARIES = ["www.google.com", "www.cloudflare.com", "www.microsoft.com", "www.apple.com"]
NTP = ["time.cloudflare.com", "time.google.com", "time.apple.com"]
SUITES_12 = [
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
]
SUITES_13 = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
STRENGTH = {
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "recommended",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "recommended",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "recommended",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "secure",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "weak",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "insecure",
    "TLS_AES_256_GCM_SHA384": "recommended",
    "TLS_CHACHA20_POLY1305_SHA256": "recommended",
    "TLS_AES_128_GCM_SHA256": "recommended",
}


def _ok(
    check_id: str, finding_id: str, params: Mapping[str, object], facts: Facts = NO_FACTS
) -> CheckResult:
    finding = Finding(finding_id, Status.PASS, params)
    return CheckResult(check_id, Status.PASS, (finding,), facts, duration_s=0.12)


def _result(check_id: str, *findings: Finding, facts: Facts = NO_FACTS) -> CheckResult:
    status = Status.worst(f.status for f in findings)
    return CheckResult(check_id, status, findings, facts, duration_s=0.34)


UTC_ZONE = TimeZone(
    name="Etc/UTC", abbreviation="UTC", utc_offset="+00:00", utc_offset_s=0, dst=False
)


def _clock(offset_s: float, lang: str) -> CheckResult:
    measured = http_date.Measurement("ntp", offset_s, 0.05, tuple(NTP), 4)
    local_now = NOW - dt.timedelta(seconds=offset_s)
    sync = timesync.empty_sync()
    finding = clock.grade(measured, zone=UTC_ZONE, sync=sync, now=local_now)
    answers = [ntp.NtpSample(h, 123, None, offset_s=offset_s, uncertainty_s=0.05) for h in NTP]
    facts = ClockFacts(
        source="ntp",
        offset_s=offset_s,
        uncertainty_s=0.05,
        agreed=len(NTP),
        agreed_servers=tuple(NTP),
        queried=4,
        servers=tuple(a.fact() for a in answers),
        local_time=timesync.iso(local_now),
        network_time=timesync.iso(NOW),
        timezone=UTC_ZONE,
        sync=sync,
        bounds=timesync.offline_bounds().fact(),
        offline=False,
    )
    return _result("clock", finding, facts=facts)


def _policy() -> CheckResult:
    params = {"versions": ["TLS 1.2", "TLS 1.3"], "suites": 17, "stacks": ["Python 3.11"]}
    versions, suites = ("TLSv1.2", "TLSv1.3"), (*SUITES_13, *SUITES_12[:4])
    python = StackPolicy(
        name="Python 3.11",
        versions=versions,
        suites=suites,
        settings={},
        source="ssl.create_default_context()",
    )
    facts = ClientPolicyFacts(versions=versions, suites=suites, stacks={"python": python})
    finding = Finding("client.tls_policy", Status.PASS, params)
    return CheckResult("client_policy", Status.PASS, (finding,), facts, duration_s=0.12)


def local_results(lang: str, *, clock_offset: float = 0.02) -> list[CheckResult]:
    """This computer, healthy: no portal, right clock, Mozilla-like roots, no proxy."""
    return [
        _ok("captive_portal", "captive_portal.none", {}),
        _clock(clock_offset, lang),
        _ok("trust_store", "truststore.ok", {"count": 146}),
        _ok("proxy", "proxy.none", {}),
        _ok("interception", "interception.none", {"count": 4, "canaries": CANARIES}),
        _ok("security_software", "security_software.none", {}),
        _policy(),
    ]


def _chain(expired: bool, issuer_org: str | None = None) -> tuple[pki.Issued, ...]:
    root = pki.root("Example Root CA R2", org=issuer_org or "Example Trust Services")
    inter = pki.intermediate("Example TLS Issuing CA 2025", root)
    if expired:
        leaf = pki.leaf(HOST, inter, not_before=NOW - 400 * pki.DAY, not_after=NOW - 12 * pki.DAY)
    else:
        leaf = pki.leaf(HOST, inter, not_before=NOW - 30 * pki.DAY, not_after=NOW + 60 * pki.DAY)
    return leaf, inter, root


def target_results(
    chain: tuple[pki.Issued, ...], *, now: dt.datetime = NOW, extra: tuple[Finding, ...] = ()
) -> list[CheckResult]:
    """DNS, TCP, TLS, certificate and protocols of `HOST`, with the certificate judged for real."""
    sent = chain[:-1]  # the root stays in the trust store, as a well-configured server does
    pems = [c.pem.decode("ascii") for c in sent]
    store = trust.TrustStore([chain[-1].cert], name="mozilla")
    analysis = certificate.analyse(
        certinfo.load_chain(pems), host=HOST, is_ip=False, now=now, mozilla=store
    )
    findings = analysis.findings + extra
    address = "203.0.113.10"
    tls_params = {"host": HOST, "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"}
    protocols_params = {
        "host": HOST,
        "versions": ["TLS 1.2", "TLS 1.3"],
        "suites": 9,
        "recommended": 6,
        "secure": 1,
        "weak": 1,
        "insecure": 1,
        "handshakes": 32,
        "variant": "strong",
    }
    return [
        _ok(
            "dns",
            "dns.resolved",
            {"host": HOST, "addresses": [address]},
            DnsFacts(host=HOST, addresses=(address,)),
        ),
        _ok("tcp", "tcp.connected", {"host": HOST, "port": 443, "addresses": [address]}),
        _ok(
            "tls",
            "tls.ok",
            tls_params,
            TlsFacts(
                address=address,
                port=443,
                sni=HOST,
                outcome="ok",
                version="TLSv1.3",
                cipher="TLS_AES_256_GCM_SHA384",
                alert=None,
                chain_pem=tuple(pems),
                client_cert_requested=False,
                client_ca_names=(),
            ),
        ),
        CheckResult(
            "cert",
            Status.worst(f.status for f in findings),
            findings,
            analysis.facts,
            duration_s=0.41,
        ),
        CheckResult(
            "protocols",
            Status.PASS,
            (Finding("protocol.summary", Status.PASS, protocols_params),),
            ProtocolsFacts(
                address=address,
                port=443,
                sni=HOST,
                versions={
                    "SSLv2": False,
                    "SSLv3": False,
                    "TLSv1.0": False,
                    "TLSv1.1": False,
                    "TLSv1.2": True,
                    "TLSv1.3": True,
                },
                suites={"TLSv1.2": tuple(SUITES_12), "TLSv1.3": tuple(SUITES_13)},
                strength=STRENGTH,
                preference={"TLSv1.2": "server", "TLSv1.3": "client"},
                groups=("x25519", "secp256r1"),
                dh_bits=None,
                handshakes=32,
                errors={},
            ),
            duration_s=0.12,
        ),
    ]


def _report(results: list[CheckResult]) -> Report:
    return Report(
        version=__version__,
        target=parse(HOST),
        started_at=NOW,
        duration_s=2.7,
        verdict=diagnosis.verdict(results),
        results=tuple(results),
    )


def all_green(lang: str = "en") -> Report:
    return _report(local_results(lang) + target_results(_chain(expired=False)))


def clock_wrong(lang: str = "en") -> Report:
    """This computer's clock is three years behind: the site's certificate looks not yet valid."""
    local = local_results(lang, clock_offset=THREE_YEARS_S)
    now = NOW - dt.timedelta(seconds=THREE_YEARS_S)
    return _report(local + target_results(_chain(expired=False), now=now))


def interception(lang: str = "en") -> Report:
    """Kaspersky re-signs HTTPS: its root is trusted here, and every site shows its certificate."""
    product = products.load().by_id("kaspersky")
    assert product is not None
    issuer = "Kaspersky Anti-Virus Personal Root Certificate"
    detected = Finding(
        "interception.detected",
        Status.FAIL,
        {
            "product": product.name,
            "product_id": product.id,
            "issuer": issuer,
            "interceptor": product.name,
            "canaries": CANARIES[:3],
            "clean": [],
            "count": 3,
            "trusted": True,
            "variant": "product",
        },
        tuple(f"{c}: issued by {issuer}" for c in CANARIES[:3]),
    )
    running = Finding(
        "security_software.present",
        Status.WARN,
        {"products": product.name, "product_ids": [product.id], "processes": "avp.exe"},
    )
    local_root = Finding(
        "truststore.local_root",
        Status.WARN,
        {
            "count": 1,
            "roots": [{"subject": issuer, "sha256": "9f" * 32, "product": product.name}],
            "roots_text": f"{issuer} (SHA-256 9f9f9f9f9f9f9f9f…)",
            "products": product.name,
            "variant": "product",
        },
    )
    local = local_results(lang)
    swapped = {
        "trust_store": _result("trust_store", local_root),
        "interception": _result("interception", detected),
        "security_software": _result("security_software", running),
    }
    local = [swapped.get(r.check_id, r) for r in local]
    chain = _chain(expired=False, issuer_org="AO Kaspersky Lab")
    return _report(local + target_results(chain))


def expired_certificate(lang: str = "en") -> Report:
    return _report(local_results(lang) + target_results(_chain(expired=True)))


SAMPLES: dict[str, Callable[[str], Report]] = {
    "all_green": all_green,
    "clock_wrong": clock_wrong,
    "interception": interception,
    "expired_certificate": expired_certificate,
}
