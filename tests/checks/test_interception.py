"""The interception check: judging fetched chains, naming products, and fetching through tunnels."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from checks import interception, security_software
from checks.core.check import Context
from checks.core.config import Canary, Settings, parse_canary
from checks.core.facts.interception import InterceptionFacts, InterceptionNotChecked
from checks.core.models import CheckResult, Finding, Status
from checks.core.redact import plain
from checks.interception import Fetched
from checks.lib import certinfo, products, trust
from checks.present import catalogue
from tests.lab import pki
from tests.lab.servers import LoopbackServer, TLSServer, closed_port

CATALOGUE = products.load()
PUBLIC_ROOT = pki.root("Lab Public Root")
PUBLIC_INTER = pki.intermediate("Lab Public Intermediate", PUBLIC_ROOT)
PUBLIC = trust.TrustStore([PUBLIC_ROOT.cert], name="public")


def _pems(*chain: pki.Issued) -> tuple[str, ...]:
    return tuple(item.pem.decode() for item in chain)


def _fetched(name: str, chain: tuple[str, ...], **values: object) -> Fetched:
    defaults: dict[str, object] = {"via": "direct", "address": "127.0.0.1", "detail": "ok"}
    defaults.update(values)
    return Fetched(canary=Canary(name, 443), chain_pem=chain, elapsed_ms=1.0, **defaults)  # type: ignore[arg-type]


# --- Parsing canaries --------------------------------------------------------------------------


def test_canaries_are_host_and_optional_port() -> None:
    assert parse_canary("www.example.com") == Canary("www.example.com", 443)
    assert parse_canary("Example.COM.:8443") == Canary("example.com", 8443)
    assert parse_canary("[::1]:4433") == Canary("::1", 4433)
    assert parse_canary("127.0.0.1:99").is_ip
    with pytest.raises(ValueError, match="not"):
        parse_canary("host:0")


# --- Judging a chain ---------------------------------------------------------------------------


def test_a_chain_anchored_in_the_public_set_is_not_interception() -> None:
    chain = _pems(pki.leaf("www.example.com", PUBLIC_INTER), PUBLIC_INTER)
    judged = interception.judge(chain, public=PUBLIC, trusted=PUBLIC, catalogue_=CATALOGUE)
    assert judged.verdict == "public"
    assert judged.issuer == "Lab Public Root"


def test_a_locally_trusted_product_root_is_interception_named_after_the_product() -> None:
    kaspersky = pki.root("Kaspersky Anti-Virus Personal Root Certificate", org="AO Kaspersky Lab")
    chain = _pems(pki.leaf("www.example.com", kaspersky))
    trusted = trust.TrustStore([PUBLIC_ROOT.cert, kaspersky.cert], name="here")
    judged = interception.judge(chain, public=PUBLIC, trusted=trusted, catalogue_=CATALOGUE)
    assert judged.verdict == "intercepted"
    assert judged.trusted is True
    assert judged.product is not None
    assert judged.product.name == "Kaspersky"
    assert judged.anchor == kaspersky.cert


def test_an_untrusted_product_chain_is_interception_not_an_untrusted_root() -> None:
    avast = pki.root("Avast Web/Mail Shield Untrusted Root")
    chain = _pems(pki.leaf("www.example.com", avast), avast)
    judged = interception.judge(chain, public=PUBLIC, trusted=PUBLIC, catalogue_=CATALOGUE)
    assert judged.verdict == "intercepted"
    assert judged.trusted is False
    assert judged.product is not None
    assert judged.product.id == "avast"
    assert interception.product_of_chain(chain) is not None


def test_an_unknown_local_root_is_interception_without_a_product() -> None:
    device = pki.root("Corporate Inspection CA 7")
    chain = _pems(pki.leaf("www.example.com", device))
    trusted = trust.TrustStore([device.cert], name="here")
    judged = interception.judge(chain, public=PUBLIC, trusted=trusted, catalogue_=CATALOGUE)
    assert (judged.verdict, judged.product, judged.issuer) == (
        "intercepted",
        None,
        "Corporate Inspection CA 7",
    )


def test_a_site_that_left_out_its_intermediate_is_no_evidence() -> None:
    leaf = pki.leaf("www.example.com", PUBLIC_INTER, aia_ca_issuers="http://aia.example/ca.der")
    judged = interception.judge(_pems(leaf), public=PUBLIC, trusted=None, catalogue_=CATALOGUE)
    assert judged.verdict == "incomplete"


def test_no_chain_is_failed() -> None:
    judged = interception.judge((), public=PUBLIC, trusted=None, catalogue_=CATALOGUE)
    assert judged.verdict == "failed"


# --- Findings ----------------------------------------------------------------------------------


def _analyse(fetched: Sequence[Fetched], trusted: trust.TrustStore | None):
    return interception.analyse(fetched, public=PUBLIC, trusted=trusted, catalogue_=CATALOGUE)


def test_interception_of_some_canaries_names_the_product_and_the_clean_ones() -> None:
    mitm = pki.root("mitmproxy", org="mitmproxy")
    trusted = trust.TrustStore([PUBLIC_ROOT.cert, mitm.cert], name="here")
    fetched = [
        _fetched("a.example", _pems(pki.leaf("a.example", mitm))),
        _fetched("b.example", _pems(pki.leaf("b.example", PUBLIC_INTER), PUBLIC_INTER)),
        _fetched("c.example", (), detail="connect: refused"),
    ]
    findings, facts = _analyse(fetched, trusted)
    detected = next(f for f in findings if f.id == "interception.detected")
    assert detected.status is Status.FAIL
    assert detected.params["variant"] == "product"
    assert detected.params["product"] == "mitmproxy"
    assert detected.params["canaries"] == ["a.example:443"]
    assert detected.params["clean"] == ["b.example:443"]
    assert any("mitmproxy" in step for step in catalogue.render(detected).fix)
    assert [p.verdict for p in facts] == ["intercepted", "public", "failed"]
    anchor = facts[0].anchor
    assert anchor is not None
    assert anchor.sha256 == certinfo.fingerprint(mitm.cert)


def test_the_vendor_fix_follows_the_language_the_text_is_shown_in() -> None:
    avast = pki.root("Avast Web/Mail Shield Root")
    trusted = trust.TrustStore([avast.cert], name="here")
    findings, _ = _analyse([_fetched("a.example", _pems(pki.leaf("a.example", avast)))], trusted)
    detected = findings[0]
    assert detected.params["product_id"] == "avast"
    assert any("HTTPS 扫描" in step for step in catalogue.render(detected, lang="zh_CN").fix)
    assert any("HTTPS scanning" in step for step in catalogue.render(detected, lang="en").fix)


def test_every_product_has_its_fix_in_every_language() -> None:
    for product in CATALOGUE.products:
        for lang in catalogue.LANGUAGES:
            assert f"vendor_fix.{product.id}" in catalogue.ui_texts(lang), (product.id, lang)


def test_nothing_intercepted_is_a_pass_and_nothing_reached_is_a_warning() -> None:
    clean = [_fetched("b.example", _pems(pki.leaf("b.example", PUBLIC_INTER), PUBLIC_INTER))]
    findings, _ = _analyse(clean, None)
    assert [(f.id, f.status) for f in findings] == [("interception.none", Status.PASS)]
    findings, _ = _analyse([_fetched("c.example", (), detail="lookup: no such name")], None)
    assert [(f.id, f.params["variant"]) for f in findings] == [
        ("interception.not_checked", "unreachable")
    ]
    assert findings[0].status is Status.WARN


def test_failed_tunnels_are_left_to_the_proxy_check() -> None:
    fetched = [
        _fetched("a.example", (), via="http://127.0.0.1:9", tunnel="refused", detail="refused"),
        _fetched("b.example", (), via="http://127.0.0.1:8", tunnel="auth_required", detail="407"),
    ]
    findings, _ = _analyse(fetched, None)
    assert [(f.id, f.params["variant"]) for f in findings] == [
        ("interception.not_checked", "unreachable")
    ]


@pytest.mark.parametrize("blocker", ["proxy.unreachable", "proxy.auth_required", "proxy.rejected"])
def test_a_proxy_that_opens_no_tunnel_blocks_the_check(blocker: str) -> None:
    broken = CheckResult(
        "proxy",
        Status.FAIL,
        (Finding("proxy.configured", Status.PASS), Finding(blocker, Status.FAIL)),
    )
    ctx = Context(Settings(), None, threading.Event(), {"proxy": broken}, deadline=1e12)
    outcome = interception.run(ctx)
    assert outcome.findings == ()
    assert outcome.blocked_by == blocker
    assert outcome.status is Status.SKIP
    assert outcome.facts == InterceptionNotChecked(invalid_canaries=())
    assert plain(outcome.facts) == {"invalid_canaries": []}


def test_offline_contacts_nothing_and_says_so() -> None:
    ctx = Context(Settings(offline=True), None, threading.Event(), {}, deadline=1e12)
    outcome = interception.run(ctx)
    assert [(f.id, f.params["variant"], f.status) for f in outcome.findings] == [
        ("interception.not_checked", "offline", Status.WARN)
    ]
    assert plain(outcome.facts) == {"offline": True, "invalid_canaries": []}


# --- Fetching for real over loopback -----------------------------------------------------------


class ForwardingProxy(LoopbackServer):
    """A minimal CONNECT proxy that may only reach loopback: enough to prove the tunnel path."""

    def __init__(self) -> None:
        super().__init__()
        self.connects: list[str] = []

    def handle(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(1)
            if not chunk:
                return
            head += chunk
        target = head.split()[1].decode()
        self.connects.append(target)
        host, _, port = target.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            pump = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
            pump.start()
            _pipe(conn, upstream)
            pump.join(5)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def loopback_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    folder: Path = tmp_path_factory.mktemp("canary")
    chain, key = pki.write_chain(
        folder, "site", [pki.leaf("127.0.0.1", PUBLIC_INTER), PUBLIC_INTER]
    )
    with TLSServer(chain, key) as server:
        yield server


def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)


def test_fetch_direct_and_through_a_connect_tunnel(
    loopback_site: TLSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    canary = Canary("127.0.0.1", loopback_site.port)
    direct = interception.fetch(canary, Settings(), timeout=3, cancel=threading.Event())
    assert direct.via == "direct"
    assert len(direct.chain_pem) == 2
    with ForwardingProxy() as tunnel:
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{tunnel.port}")
        proxied = interception.fetch(canary, Settings(), timeout=3, cancel=threading.Event())
    assert proxied.via == f"http://127.0.0.1:{tunnel.port}"
    assert proxied.chain_pem == direct.chain_pem
    assert tunnel.connects == [f"127.0.0.1:{loopback_site.port}"]
    assert "pw" not in proxied.via


def test_the_check_end_to_end_on_loopback(
    loopback_site: TLSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_proxy_env(monkeypatch)
    public = pki.write_certs(tmp_path / "public.pem", [PUBLIC_ROOT])
    settings = Settings(
        canaries=(f"127.0.0.1:{loopback_site.port}", f"127.0.0.1:{closed_port()}"),
        known_roots=public,
        cacert=public,
        connect_timeout=2,
    )
    outcome = interception.run(Context(settings, None, threading.Event(), {}, deadline=1e12))
    assert [f.id for f in outcome.findings] == ["interception.none"]
    assert isinstance(outcome.facts, InterceptionFacts)
    assert [p.verdict for p in outcome.facts.probes] == ["public", "failed"]
    report = plain(outcome.facts)
    assert isinstance(report, dict)
    assert list(report) == ["public_roots", "trusted_roots", "probes", "invalid_canaries"]
    assert list(report["probes"][0]) == [  # type: ignore[index]
        "canary",
        "via",
        "address",
        "verdict",
        "issuer",
        "anchor",
        "product",
        "trusted_here",
        "chain",
        "detail",
        "elapsed_ms",
    ]
    assert report["probes"][0]["anchor"] == {  # type: ignore[index]
        "subject": certinfo.display_name(PUBLIC_ROOT.cert.subject),
        "sha256": certinfo.fingerprint(PUBLIC_ROOT.cert),
    }


# --- Security software -------------------------------------------------------------------------


def test_running_catalogue_products_are_supporting_evidence_only() -> None:
    finding = security_software.analyse(
        ["systemd", "AvastSvc.exe", "avp.exe", "explorer.exe"], CATALOGUE, "windows"
    )
    assert finding.id == "security_software.present"
    assert finding.status is Status.PASS  # never a verdict by itself
    assert finding.params["products"] == "Avast, Kaspersky"
    assert finding.params["processes"] == "AvastSvc.exe, avp.exe"
    assert security_software.analyse(["bash"], CATALOGUE, "linux").id == "security_software.none"
    # Names are compared per OS, without case.
    assert security_software.analyse(["MITMDUMP"], CATALOGUE, "linux").params["products"] == (
        "mitmproxy"
    )


def test_the_process_scan_runs_here() -> None:
    names = security_software.process_names()
    assert names
    ctx = Context(Settings(), None, threading.Event(), {}, deadline=1e12)
    outcome = security_software.run(ctx)
    assert outcome.findings[0].id in security_software.CHECK.findings


# --- The catalogue -----------------------------------------------------------------------------


def test_the_catalogue_covers_chromiums_list_and_the_issues_additions() -> None:
    ids = {p.id for p in CATALOGUE.products}
    assert {
        "avast",
        "avg",
        "bitdefender",
        "cisco_umbrella",
        "contentkeeper",
        "cyberoam",
        "forcepoint",
        "fortinet",
        "kaspersky",
        "mcafee_web_gateway",
        "netspark",
        "smoothwall",
        "sonicwall",
        "sophos",
        "blue_coat",
        "trend_micro_iwss",
        "zscaler",
        "eset",
        "netskope",
        "norton",
        "palo_alto",
        "fiddler",
        "charles",
        "burp",
        "mitmproxy",
        "proxyman",
    } <= ids
    english, chinese = catalogue.ui_texts("en"), catalogue.ui_texts("zh_CN")
    for product in CATALOGUE.products:
        key = f"vendor_fix.{product.id}"
        assert english[key]
        assert chinese[key] != english[key], product.id


@pytest.mark.parametrize(
    ("cn", "org", "expected"),
    [
        ("Avast Web/Mail Shield Root", None, "avast"),
        ("avast! Web/Mail Shield Root", None, "avast"),
        ("AVG Web/Mail Shield Root", None, "avg"),
        ("Kaspersky Anti-Virus Personal Root Certificate", None, "kaspersky"),
        ("ESET SSL Filter CA", "ESET, spol. s r. o.", "eset"),
        ("Zscaler Root CA", "Zscaler Inc.", "zscaler"),
        ("DO_NOT_TRUST_FiddlerRoot", "DO_NOT_TRUST", "fiddler"),
        ("Charles Proxy CA (7 Mar 2023, MacBook-Pro.local)", None, "charles"),
        ("PortSwigger CA", "PortSwigger", "burp"),
        ("mitmproxy", "mitmproxy", "mitmproxy"),
        ("ca.acme.goskope.com", None, "netskope"),
        ("FortiGate CA", "Fortinet", "fortinet"),
        ("ISRG Root X1", "Internet Security Research Group", None),
        ("Avast Web/Mail Shield Root Extra", None, None),  # full match only
    ],
)
def test_catalogue_patterns_match_whole_names(
    cn: str, org: str | None, expected: str | None
) -> None:
    issuer = pki.root(cn, org=org).cert
    found = CATALOGUE.match_certificate(issuer)
    assert (found.id if found else None) == expected


def test_a_malformed_catalogue_is_rejected() -> None:
    with pytest.raises(ValueError, match="version"):
        products.parse("[[products]]\n")
    with pytest.raises(ValueError, match="neither"):
        products.parse(
            'version = 1\n[[products]]\nid = "x"\nname = "X"\nkind = "antivirus"\nfix.en = "f"\n'
        )
    with pytest.raises(ValueError, match="issuer_cn"):
        products.parse(
            'version = 1\n[[products]]\nid = "x"\nname = "X"\nkind = "antivirus"\n'
            'issuer_cn = ["("]\nfix.en = "f"\n'
        )
