"""This machine's TLS client policy: the pure parsers of each platform's settings, and the check."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from checks import client_policy
from checks.core.check import Context
from checks.core.config import Settings
from checks.core.facts.client_policy import ClientPolicyFacts
from checks.core.models import Status
from checks.core.redact import plain
from checks.lib import clients
from checks.lib.clients import Stack
from checks.present import catalogue

DEBIAN_CNF = """\
HOME = .
openssl_conf = default_conf   # the init section

[default_conf]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MinProtocol = TLSv1.2
CipherString = DEFAULT@SECLEVEL=2
"""

FEDORA_CNF = """\
openssl_conf = openssl_init
[ openssl_init ]
ssl_conf = ssl_module
[ ssl_module ]
system_default = crypto_policy
[ crypto_policy ]
.include = /etc/crypto-policies/back-ends/opensslcnf.config
"""

FEDORA_BACKEND = """\
CipherString = @SECLEVEL=2:kEECDH:kRSA:kEDH:kPSK:-aDSS:-3DES:!DES:!RC4:!RC2:!IDEA:-SEED:!eNULL
Ciphersuites = TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256
TLS.MinProtocol = TLSv1.2
TLS.MaxProtocol = TLSv1.3
DTLS.MinProtocol = DTLSv1.2
"""

JAVA_SECURITY = """\
# comment
! another comment
jdk.tls.disabledAlgorithms=SSLv3, TLSv1, RC4, DES, \\
    MD5withRSA, DH keySize < 1024, \\
    include jdk.disabled.namedCurves
jdk.tls.legacyAlgorithms=NULL, anon
"""


def test_debian_system_default_is_followed_from_openssl_conf() -> None:
    settings = clients.openssl_system_default(DEBIAN_CNF)
    assert settings == {"MinProtocol": "TLSv1.2", "CipherString": "DEFAULT@SECLEVEL=2"}
    assert clients.security_level(settings["CipherString"]) == 2
    versions = clients.openssl_versions(settings["MinProtocol"], None, 2)
    assert versions == ("TLSv1.2", "TLSv1.3")


def test_a_config_without_system_default_sets_nothing() -> None:
    assert clients.openssl_system_default("openssl_conf = x\n[x]\nfoo = bar\n") == {}
    assert clients.openssl_system_default("[broken\n=\n") == {}


def test_fedora_include_and_tls_prefixes_are_read() -> None:
    includes = {"/etc/crypto-policies/back-ends/opensslcnf.config": FEDORA_BACKEND}
    settings = clients.openssl_system_default(FEDORA_CNF, includes.get)
    assert settings["MinProtocol"] == "TLSv1.2"
    assert settings["MaxProtocol"] == "TLSv1.3"
    assert "DTLS.MinProtocol" not in settings
    assert clients.crypto_policy_settings(FEDORA_BACKEND) == settings
    assert clients.crypto_policy_name("# set by admin\nLEGACY\n") == "LEGACY"


def test_openssl_3_needs_security_level_0_for_old_versions() -> None:
    assert clients.openssl_versions("TLSv1", None, 1) == ("TLSv1.2", "TLSv1.3")
    assert clients.openssl_versions("TLSv1", None, 0) == (
        "TLSv1.0",
        "TLSv1.1",
        "TLSv1.2",
        "TLSv1.3",
    )
    assert clients.openssl_versions("SSLv3", "TLSv1.1", 0, openssl_major=1) == (
        "SSLv3",
        "TLSv1.0",
        "TLSv1.1",
    )


def test_schannel_states_and_versions() -> None:
    values = {
        "SSL 3.0": {"Enabled": 0},
        "TLS 1.0": {"Enabled": 1, "DisabledByDefault": 0},
        "TLS 1.1": {"DisabledByDefault": 1},
        "TLS 1.2": {"Enabled": 0xFFFFFFFF},
    }
    states = clients.schannel_states(values)
    assert states == {
        "SSLv2": "default",
        "SSLv3": "disabled",
        "TLSv1.0": "enabled",
        "TLSv1.1": "off_by_default",
        "TLSv1.2": "enabled",
        "TLSv1.3": "default",
    }
    assert clients.schannel_versions(states, build=19045) == ("TLSv1.0", "TLSv1.2")
    assert clients.schannel_versions(states, build=22631) == (
        "TLSv1.0",
        "TLSv1.2",
        "TLSv1.3",
    )
    off = clients.schannel_states({"TLS 1.2": {"Enabled": 0}})
    assert clients.schannel_versions(off, build=17763) == ()


def test_dotnet_strong_crypto() -> None:
    values = {"64-bit": {"SchUseStrongCrypto": 1}, "32-bit": {"SystemDefaultTlsVersions": 0}}
    assert clients.dotnet_strong_crypto(values) == {"64-bit": True, "32-bit": False}
    assert clients.dotnet_strong_crypto({}) == {"64-bit": False, "32-bit": False}


def test_java_security_continuations_and_versions() -> None:
    properties = clients.parse_java_security(JAVA_SECURITY)
    disabled = properties["jdk.tls.disabledAlgorithms"]
    assert disabled.startswith("SSLv3, TLSv1, RC4, DES, MD5withRSA")
    assert disabled.endswith("include jdk.disabled.namedCurves")
    assert properties["jdk.tls.legacyAlgorithms"] == "NULL, anon"
    assert clients.java_versions(disabled) == ("TLSv1.1", "TLSv1.2", "TLSv1.3")


def test_java_home_is_read(tmp_path: Path) -> None:
    security = tmp_path / "conf" / "security"
    security.mkdir(parents=True)
    (security / "java.security").write_text(JAVA_SECURITY, encoding="utf-8")
    stack = clients.java_stack(tmp_path)
    assert stack is not None
    assert stack.versions == ("TLSv1.1", "TLSv1.2", "TLSv1.3")
    assert clients.java_stack(tmp_path / "missing") is None


def test_findings_warn_on_legacy_and_cut_off_stacks_and_dotnet() -> None:
    python = Stack("python", "Python", ("TLSv1.2", "TLSv1.3"), ("TLS_AES_128_GCM_SHA256",))
    java = Stack("java", "Java", ("TLSv1.1", "TLSv1.2"), source="java.security")
    schannel = Stack("schannel", "Windows SCHANNEL", ("TLSv1.0",))
    dotnet = Stack(
        "dotnet", ".NET", None, settings={"strong_crypto": {"64-bit": True, "32-bit": False}}
    )
    findings = {f.id: f for f in client_policy.findings_for([python, java, schannel, dotnet])}
    assert findings["client.tls_policy"].params["versions"] == ["TLS 1.2", "TLS 1.3"]
    assert findings["client.tls_policy"].params["suites"] == 1
    legacy = findings["client.legacy_allowed"]
    assert legacy.status is Status.WARN
    assert legacy.params["versions"] == ["TLS 1.0", "TLS 1.1"]
    assert legacy.params["stacks"] == ["Java", "Windows SCHANNEL"]
    assert findings["client.modern_disabled"].params["stacks"] == ["Windows SCHANNEL"]
    assert findings["client.dotnet_strong_crypto_off"].params["views"] == ["32-bit"]
    text = catalogue.render(legacy, lang="en", os_name="windows")
    assert "TLS 1.0, TLS 1.1" in text.title
    assert any("SCHANNEL" in step for step in text.fix)
    only = client_policy.findings_for([python])
    assert [f.id for f in only] == ["client.tls_policy"]


def test_the_check_reads_this_machine_without_failing() -> None:
    ctx = Context(
        settings=Settings(),
        target=None,
        cancel=threading.Event(),
        results={},
        deadline=time.monotonic() + 30,
    )
    outcome = client_policy.run(ctx)
    facts = outcome.facts
    assert isinstance(facts, ClientPolicyFacts)
    assert "python" in facts.stacks
    assert facts.versions
    assert facts.versions == facts.stacks["python"].versions
    written = plain(facts)
    assert isinstance(written, dict)
    assert list(written) == ["versions", "suites", "stacks"]
    stacks = written["stacks"]
    assert isinstance(stacks, dict)
    python = stacks["python"]
    assert isinstance(python, dict)
    assert list(python) == ["name", "versions", "suites", "settings", "source"]
    assert isinstance(python["versions"], list)
    assert outcome.findings[0].id == "client.tls_policy"
    assert client_policy.CHECK.scope == "local"
