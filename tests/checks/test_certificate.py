"""The certificate check: every finding from lab chains, trust judges, and the OS verifier."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa

from checks import certificate as cert_check
from checks.core import policy
from checks.core.check import Context
from checks.core.config import Settings
from checks.core.facts.certificate import (
    Judgement,
    Judgements,
    ServerCertificateFacts,
)
from checks.core.facts.tls import TlsFacts
from checks.core.models import CheckResult, Finding, Status
from checks.core.redact import plain
from checks.core.target import Target
from checks.lib import cert_grades, certinfo, osverify, trust
from checks.present import catalogue
from tests.checks.test_known_bad import SUPERFISH, _impostor_and_leaf
from tests.lab import pki

NOW = pki.NOW
DAY = pki.DAY
EMPTY = trust.TrustStore((), name="mozilla")

# One PKI for the whole module: root -> intermediate -> leaf for a.test.
ROOT = pki.root("Cert Check Root")
INTERMEDIATE = pki.intermediate("Cert Check Intermediate", ROOT)
LEAF = pki.leaf("a.test", INTERMEDIATE)
MOZILLA = trust.TrustStore([ROOT.cert], name="mozilla")


def analyse(
    chain: Sequence[x509.Certificate | certinfo.Unparsable],
    host: str = "a.test",
    *,
    is_ip: bool = False,
    mozilla: trust.TrustStore = MOZILLA,
    **options: object,
) -> cert_check.Analysis:
    return cert_check.analyse(
        chain,
        host=host,
        is_ip=is_ip,
        mozilla=mozilla,
        now=options.pop("now", NOW),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def trusted_by(result: cert_check.Analysis, verifier: str) -> bool | None:
    """What `verifier` (`os`, `mozilla`, `cacert`) said of the chain; it must have been asked."""
    judgement = getattr(result.facts.judgements, verifier)
    assert isinstance(judgement, Judgement), verifier
    return judgement.trusted


def path_of(result: cert_check.Analysis) -> tuple[tuple[int, ...], str]:
    """The sent indices on the issuing path, and how the path ended."""
    path = result.facts.path
    assert path is not None
    return path.indices, path.end


def ids(result: cert_check.Analysis) -> list[str]:
    return [f.id for f in result.findings]


def only(result: cert_check.Analysis, finding_id: str) -> Finding:
    found = [f for f in result.findings if f.id == finding_id]
    assert len(found) == 1, ids(result)
    return found[0]


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


_SHA256_RSA = bytes.fromhex("2a864886f70d01010b")
_WEAK_RSA = {
    "sha1": (bytes.fromhex("2a864886f70d010105"), hashes.SHA1()),
    "md5": (bytes.fromhex("2a864886f70d010104"), hashes.MD5()),
}


def resign(cert: x509.Certificate, issuer: pki.Issued, algorithm: str) -> x509.Certificate:
    """`cert` signed again by its RSA issuer with MD5 or SHA-1, which cryptography refuses."""
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    oid, hash_alg = _WEAK_RSA[algorithm]
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, oid)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), hash_alg)
    algorithm_id = _der(0x30, _der(0x06, oid) + b"\x05\x00")
    der = _der(0x30, tbs + algorithm_id + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def base64_garbage() -> str:
    return "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def test_a_healthy_chain_gives_only_valid() -> None:
    result = analyse([LEAF.cert, INTERMEDIATE.cert])
    assert ids(result) == ["cert.valid"]
    valid = result.findings[0]
    assert valid.status is Status.PASS
    assert valid.params["subject"] == "a.test"
    assert valid.params["issuer"] == "Cert Check Intermediate"
    assert valid.params["days_left"] == 300
    assert str(valid.params["not_after"]).endswith("Z")
    assert result.facts.judgements == Judgements(
        os=Judgement(trusted=None, detail="the operating system was not asked"),
        mozilla=Judgement(trusted=True, detail="trusted: ends in Cert Check Root"),
        cacert=None,
    )
    assert [(c.index, c.position, c.subject) for c in result.facts.certificates] == [
        (0, "leaf", "a.test"),
        (1, "intermediate", "Cert Check Intermediate"),
    ]
    assert result.facts.decided_by == "mozilla"
    json.dumps(plain(result.facts))


def test_load_chain_reads_pem_text_as_the_tls_check_sends_it() -> None:
    pems = [LEAF.pem.decode(), INTERMEDIATE.pem.decode()]
    chain = certinfo.load_chain(pems)
    assert chain == [LEAF.cert, INTERMEDIATE.cert]


def test_expired_leaf() -> None:
    old = pki.leaf("a.test", INTERMEDIATE, not_after=NOW - 3 * DAY)
    finding = only(analyse([old.cert, INTERMEDIATE.cert]), "cert.expired")
    assert finding.status is Status.FAIL
    assert finding.params["which"] == "leaf"
    assert finding.params["days"] == 3
    assert finding.params["not_after"] == certinfo.iso(NOW - 3 * DAY)
    assert "variant" not in finding.params


def test_expired_intermediate_has_its_own_variant() -> None:
    stale = pki.intermediate("Stale Intermediate", ROOT, not_after=NOW - 10 * DAY)
    leaf = pki.leaf("a.test", stale)
    finding = only(analyse([leaf.cert, stale.cert]), "cert.expired")
    assert finding.params["which"] == "intermediate"
    assert finding.params["subject"] == "Stale Intermediate"
    assert finding.params["variant"] == "intermediate"
    assert finding.params["days"] == 10


def test_not_yet_valid_leaf() -> None:
    early = pki.leaf("a.test", INTERMEDIATE, not_before=NOW + 2 * DAY)
    finding = only(analyse([early.cert, INTERMEDIATE.cert]), "cert.not_yet_valid")
    assert finding.status is Status.FAIL
    assert finding.params["days"] == 2
    assert finding.params["not_before"] == certinfo.iso(NOW + 2 * DAY)


def test_expires_soon_is_a_warning() -> None:
    short = pki.leaf("a.test", INTERMEDIATE, not_after=NOW + 5 * DAY)
    result = analyse([short.cert, INTERMEDIATE.cert])
    finding = only(result, "cert.expires_soon")
    assert finding.status is Status.WARN
    assert finding.params["days"] == 5
    assert "cert.valid" not in ids(result)


def test_within_a_week_the_expiry_warning_is_urgent_and_leads_the_verdict() -> None:
    from checks import diagnosis
    from checks.core.models import CheckResult, Effect

    three = only(analyse([pki.leaf("a.test", INTERMEDIATE, not_after=NOW + 3 * DAY).cert,
                          INTERMEDIATE.cert]), "cert.expires_soon")  # fmt: skip
    twenty = only(analyse([pki.leaf("a.test", INTERMEDIATE, not_after=NOW + 20 * DAY).cert,
                           INTERMEDIATE.cert]), "cert.expires_soon")  # fmt: skip
    assert (three.params["days"], three.params.get("variant")) == (3, "urgent")
    assert (twenty.params["days"], twenty.params.get("variant")) == (20, None)
    assert diagnosis.effect(three) is Effect.UNSAFE
    assert diagnosis.effect(twenty) is Effect.HYGIENE
    tls = CheckResult("tls", Status.PASS, (Finding("tls.ok", Status.PASS),))
    urgent = diagnosis.verdict((tls, CheckResult("cert", Status.WARN, (three,))))
    assert urgent.finding is three
    assert urgent.connects is True
    later = diagnosis.verdict((tls, CheckResult("cert", Status.WARN, (twenty,))))
    assert later.finding is None
    assert [p.finding.id for p in later.left] == ["cert.expires_soon"]


def test_the_expiry_warning_is_a_setting() -> None:
    twenty = pki.leaf("a.test", INTERMEDIATE, not_after=NOW + 20 * DAY)
    chain = [twenty.cert, INTERMEDIATE.cert]
    assert ids(analyse(chain, soon_days=10)) == ["cert.valid"]
    assert ids(analyse(chain, soon_days=0)) == ["cert.valid"]
    assert ids(analyse(chain, soon_days=60)) == ["cert.expires_soon"]


def test_the_expiry_warning_starts_at_the_policy_threshold() -> None:
    days = policy.EXPIRES_SOON_DAYS
    later = pki.leaf("a.test", INTERMEDIATE, not_after=NOW + days * DAY + DAY)
    assert ids(analyse([later.cert, INTERMEDIATE.cert])) == ["cert.valid"]
    sooner = pki.leaf("a.test", INTERMEDIATE, not_after=NOW + days * DAY - DAY)
    assert ids(analyse([sooner.cert, INTERMEDIATE.cert])) == ["cert.expires_soon"]


def test_now_is_a_parameter_so_the_clock_check_can_reanalyse() -> None:
    chain = [LEAF.cert, INTERMEDIATE.cert]
    assert ids(analyse(chain, now=NOW)) == ["cert.valid"]
    later = analyse(chain, now=NOW + 400 * DAY)
    assert ids(later).count("cert.expired") == 2  # the leaf and the intermediate
    early = analyse(chain, now=NOW - 60 * DAY)
    assert [f.params["days"] for f in early.findings if f.id == "cert.not_yet_valid"] == [30, 30]


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("a.test", "a.test", True),
        ("A.Test", "a.TEST", True),
        ("a.test.", "a.test", True),
        ("*.a.test", "x.a.test", True),
        ("*.a.test", "X.A.TEST", True),
        ("*.a.test", "a.test", False),
        ("*.a.test", "x.y.a.test", False),
        ("*.a.test", ".a.test", False),
        ("x*.a.test", "xy.a.test", False),
        ("a.*.test", "a.b.test", False),
        ("*.test", "a.test", False),
        ("*", "a", False),
        ("b.test", "a.test", False),
    ],
)
def test_wildcard_and_name_rules(pattern: str, host: str, expected: bool) -> None:
    assert certinfo.name_matches(pattern, host) is expected


def test_wildcard_certificate_in_a_chain() -> None:
    wild = pki.leaf("*.a.test", INTERMEDIATE)
    assert ids(analyse([wild.cert, INTERMEDIATE.cert], "x.a.test")) == ["cert.valid"]
    for host in ("a.test", "x.y.a.test"):
        result = analyse([wild.cert, INTERMEDIATE.cert], host)
        assert ids(result) == ["cert.hostname_mismatch"]


def test_hostname_mismatch_lists_the_names_it_is_valid_for() -> None:
    finding = only(analyse([LEAF.cert, INTERMEDIATE.cert], "b.test"), "cert.hostname_mismatch")
    assert finding.status is Status.FAIL
    assert finding.params["host"] == "b.test"
    assert finding.params["names"] == ["a.test"]
    assert finding.params["suggestion"] is None
    assert "variant" not in finding.params


def test_long_name_lists_are_cut_at_the_policy_limit() -> None:
    sans = [f"n{i}.a.test" for i in range(policy.MAX_LISTED_NAMES + 5)]
    many = pki.leaf("n0.a.test", INTERMEDIATE, sans=sans)
    finding = only(analyse([many.cert, INTERMEDIATE.cert], "b.test"), "cert.hostname_mismatch")
    names = list(finding.params["names"])  # type: ignore[call-overload]
    assert names[: policy.MAX_LISTED_NAMES] == sans[: policy.MAX_LISTED_NAMES]
    assert names[-1] == "… (+5)"
    assert finding.params["names_total"] == len(sans)


@pytest.mark.parametrize(
    ("sans", "host", "suggestion"),
    [
        (("www.example.test",), "example.test", "www.example.test"),
        (("example.test",), "www.example.test", "example.test"),
        (("*.example.test",), "example.test", "www.example.test"),
    ],
)
def test_www_suggestion(sans: tuple[str, ...], host: str, suggestion: str) -> None:
    issued = pki.leaf(sans[0], INTERMEDIATE, sans=sans)
    finding = only(analyse([issued.cert, INTERMEDIATE.cert], host), "cert.hostname_mismatch")
    assert finding.params["suggestion"] == suggestion
    assert finding.params["variant"] == "www"


def test_ip_targets_match_ip_sans_only() -> None:
    issued = pki.leaf("ip", INTERMEDIATE, sans=("192.0.2.7", "2001:db8::1", "198.51.100.1.test"))
    chain = [issued.cert, INTERMEDIATE.cert]
    assert ids(analyse(chain, "192.0.2.7", is_ip=True)) == ["cert.valid"]
    assert ids(analyse(chain, "2001:DB8:0:0::1", is_ip=True)) == ["cert.valid"]
    mismatch = only(analyse(chain, "192.0.2.8", is_ip=True), "cert.hostname_mismatch")
    assert mismatch.params["names"] == ["198.51.100.1.test", "192.0.2.7", "2001:db8::1"]
    assert mismatch.params["suggestion"] is None
    # By address no name is sent: the text says why a shared host shows another certificate.
    assert mismatch.params["variant"] == "by_address"


def _leaf_with(
    names: Sequence[x509.GeneralName], issuer: pki.Issued = INTERMEDIATE
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=custom"))
        .issuer_name(issuer.cert.subject)
        .public_key(pki.new_key().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 100 * DAY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    return builder.sign(issuer.key, hashes.SHA256())


def test_a_dns_san_spelling_an_ip_or_a_wildcard_never_matches_an_ip_target() -> None:
    spelt = _leaf_with([x509.DNSName("192.0.2.7"), x509.DNSName("*.0.2.7")])
    assert not certinfo.host_matches(spelt, "192.0.2.7", is_ip=True)
    assert ids(analyse([spelt, INTERMEDIATE.cert], "192.0.2.7", is_ip=True)) == [
        "cert.hostname_mismatch"
    ]


def test_name_only_in_the_common_name_is_no_san_not_a_mismatch() -> None:
    legacy = pki.leaf("a.test", INTERMEDIATE, sans=())
    result = analyse([legacy.cert, INTERMEDIATE.cert])
    finding = only(result, "cert.no_san")
    assert finding.params == {"index": 0, "host": "a.test", "cn": "a.test"}
    assert "cert.hostname_mismatch" not in ids(result)
    other = analyse([legacy.cert, INTERMEDIATE.cert], "b.test")
    assert ids(other) == ["cert.hostname_mismatch"]
    assert only(other, "cert.hostname_mismatch").params["names"] == ["a.test"]


def test_self_signed_leaf() -> None:
    alone = pki.leaf("a.test", None)
    finding = only(analyse([alone.cert]), "cert.self_signed")
    assert finding.status is Status.FAIL
    assert finding.params["fingerprint"] == certinfo.fingerprint(alone.cert)
    assert "cert.untrusted_root" not in ids(analyse([alone.cert]))


def test_a_self_signed_leaf_in_the_cacert_file_is_trusted() -> None:
    alone = pki.leaf("a.test", None)
    cacert = trust.TrustStore([alone.cert], name="cacert")
    assert ids(analyse([alone.cert], cacert=cacert)) == ["cert.valid"]


def test_untrusted_root_sent_by_the_server() -> None:
    result = analyse([LEAF.cert, INTERMEDIATE.cert, ROOT.cert], mozilla=EMPTY)
    assert ids(result) == ["cert.untrusted_root"]
    finding = result.findings[0]
    assert finding.params == {
        "index": 2,
        "root": "Cert Check Root",
        "fingerprint": certinfo.fingerprint(ROOT.cert),
    }
    assert trusted_by(result, "mozilla") is False


def test_incomplete_chain_names_the_missing_intermediate_and_its_url() -> None:
    url = "http://ca.test/intermediate.cer"
    leaf = pki.leaf("a.test", INTERMEDIATE, aia_ca_issuers=url)
    result = analyse([leaf.cert])
    assert ids(result) == ["cert.incomplete_chain"]
    finding = result.findings[0]
    assert finding.status is Status.FAIL
    assert finding.params["missing_issuer"] == "Cert Check Intermediate"
    assert finding.params["missing_issuer_dn"] == "CN=Cert Check Intermediate"
    assert finding.params["aia_url"] == url
    assert finding.params["subject"] == "a.test"


def test_an_issuer_nobody_sent_or_holds_is_not_called_a_root() -> None:
    # Only a self-signed certificate proves a root: a leaf whose issuer nobody sent, with no
    # address to fetch it from, most likely lacks its intermediate (a private CA second).
    finding = only(analyse([LEAF.cert]), "cert.incomplete_chain")
    assert finding.params["missing_issuer"] == "Cert Check Intermediate"
    assert finding.params["variant"] == "unknown_issuer"
    assert finding.params["likely"] is True


def test_an_intermediate_that_is_not_a_ca_breaks_the_chain() -> None:
    # Linked by name and signature the path reaches the root; no browser accepts it.
    not_ca = pki.issue("Not A CA", issuer=ROOT, ca=False, extended_key_usage=False)
    result = analyse([pki.leaf("a.test", not_ca).cert, not_ca.cert])
    finding = only(result, "cert.not_a_ca")
    assert finding.params["subject"] == "Not A CA"
    assert finding.params["index"] == 1
    assert "basicConstraints" in str(finding.params["reason"])
    assert result.facts.judgements.mozilla is not None
    assert result.facts.judgements.mozilla.trusted is False


def test_an_intermediate_for_code_signing_only_breaks_the_chain() -> None:
    usage = x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING])
    signer = pki.intermediate("Code Signing CA", ROOT, extensions=[(usage, False)])
    finding = only(analyse([pki.leaf("a.test", signer).cert, signer.cert]), "cert.wrong_usage")
    assert finding.params["subject"] == "Code Signing CA"
    assert finding.params["usages"] == ["codeSigning"]


def test_a_leaf_for_clients_only_is_the_wrong_usage() -> None:
    usage = x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH])
    leaf = pki.leaf("a.test", INTERMEDIATE, extended_key_usage=False, extensions=[(usage, False)])
    finding = only(analyse([leaf.cert, INTERMEDIATE.cert]), "cert.wrong_usage")
    assert finding.params["position"] == "leaf"


def test_a_ca_constrained_away_from_the_host_breaks_the_chain() -> None:
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("corp.example")], excluded_subtrees=None
    )
    corp = pki.intermediate("Corp Only CA", ROOT, extensions=[(constraints, True)])
    finding = only(analyse([pki.leaf("a.test", corp).cert, corp.cert]), "cert.name_constraints")
    assert finding.params["subject"] == "Corp Only CA"
    inside = pki.leaf("www.corp.example", corp)
    assert "cert.name_constraints" not in ids(analyse([inside.cert, corp.cert], "www.corp.example"))


def test_a_leaf_under_a_compromised_root_not_sent_is_named_and_never_trusted() -> None:
    # Superfish's name and key identifier, a new key: recognised as the issuer, not by key.
    _root, leaf = _impostor_and_leaf(SUPERFISH)
    result = analyse([leaf], "www.example.test", known_bad=trust.load_known_bad())
    finding = only(result, "cert.known_bad_root")
    assert finding.params["variant"] == "issuer"
    assert finding.params["name"] == "Superfish, Inc."
    # Nothing advises installing, trusting or fetching the root.
    assert not {"cert.untrusted_root", "cert.incomplete_chain"} & set(ids(result))


def test_a_reversed_chain_is_named_with_the_right_order() -> None:
    result = analyse([ROOT.cert, INTERMEDIATE.cert, LEAF.cert], mozilla=EMPTY)
    finding = result.findings[0]
    assert (finding.id, finding.status, finding.params["variant"]) == (
        "cert.chain_order",
        Status.FAIL,
        "leaf_not_first",
    )
    assert finding.params["sent"] == ["Cert Check Root", "Cert Check Intermediate", "a.test"]
    assert finding.params["expected"] == ["a.test", "Cert Check Intermediate", "Cert Check Root"]
    # The chain is judged as it should have been sent: the leaf's name matches.
    assert "cert.hostname_mismatch" not in ids(result)


def test_a_root_missing_from_cacert_is_untrusted_root_not_incomplete() -> None:
    # Mozilla knows the issuer as a root, so the --cacert file lacks a root, not the server
    # an intermediate.
    other = pki.root("Some Other Root")
    cacert = trust.TrustStore([other.cert], name="cacert")
    result = analyse([LEAF.cert, INTERMEDIATE.cert], cacert=cacert)
    finding = only(result, "cert.untrusted_root")
    assert finding.params["variant"] == "cacert"
    assert finding.params["root"] == "Cert Check Root"
    assert finding.params["fingerprint"] == certinfo.fingerprint(ROOT.cert)
    assert result.facts.decided_by == "cacert"


def test_chain_out_of_issuing_order() -> None:
    lower = pki.intermediate("Lower Intermediate", INTERMEDIATE)
    leaf = pki.leaf("a.test", lower)
    result = analyse([leaf.cert, INTERMEDIATE.cert, lower.cert])
    finding = only(result, "cert.chain_order")
    assert finding.status is Status.WARN
    assert finding.params["variant"] == "order"
    assert finding.params["expected"] == ["a.test", "Lower Intermediate", "Cert Check Intermediate"]
    assert path_of(result) == ((0, 2, 1), "anchored")


def test_a_sent_root_is_unneeded_but_harmless() -> None:
    result = analyse([LEAF.cert, INTERMEDIATE.cert, ROOT.cert])
    finding = only(result, "cert.chain_order")
    assert finding.status is Status.WARN
    assert finding.params["variant"] == "unneeded"
    assert finding.params["unneeded"] == ["Cert Check Root"]
    assert finding.params["root_sent"] is True
    assert trusted_by(result, "mozilla") is True


def test_a_root_sent_before_its_intermediate_is_out_of_order_and_unneeded() -> None:
    result = analyse([LEAF.cert, ROOT.cert, INTERMEDIATE.cert])
    variants = {f.params["variant"]: f for f in result.findings if f.id == "cert.chain_order"}
    assert set(variants) == {"order", "unneeded"}
    assert variants["order"].params["expected"] == [
        "a.test",
        "Cert Check Intermediate",
        "Cert Check Root",
    ]
    assert ids(result) == ["cert.chain_order", "cert.chain_order"]


def test_unrelated_extra_certificates_are_unneeded() -> None:
    stranger = pki.leaf("stranger.test", pki.root("Stranger Root"))
    finding = only(analyse([LEAF.cert, stranger.cert, INTERMEDIATE.cert]), "cert.chain_order")
    assert finding.params["unneeded"] == ["stranger.test"]
    assert finding.params["indices"] == [1]
    assert finding.params["root_sent"] is False


RSA_ROOT = pki.root("RSA Root", key="rsa2048")
RSA_INTERMEDIATE = pki.intermediate("RSA Intermediate", RSA_ROOT, key="rsa2048")
RSA_MOZILLA = trust.TrustStore([RSA_ROOT.cert], name="mozilla")


def test_sha1_signed_leaf_is_a_weak_signature() -> None:
    leaf = resign(pki.leaf("a.test", RSA_INTERMEDIATE).cert, RSA_INTERMEDIATE, "sha1")
    result = analyse([leaf, RSA_INTERMEDIATE.cert], mozilla=RSA_MOZILLA)
    finding = only(result, "cert.weak_signature")
    assert finding.params == {
        "index": 0,
        "subject": "a.test",
        "position": "leaf",
        "algorithm": "sha1",
    }
    assert trusted_by(result, "mozilla") is True


def test_md5_signed_intermediate_is_a_weak_signature() -> None:
    weak = resign(RSA_INTERMEDIATE.cert, RSA_ROOT, "md5")
    leaf = pki.leaf("a.test", RSA_INTERMEDIATE)
    finding = only(analyse([leaf.cert, weak], mozilla=RSA_MOZILLA), "cert.weak_signature")
    assert finding.params["position"] == "intermediate"
    assert finding.params["algorithm"] == "md5"


def test_a_roots_own_sha1_self_signature_does_not_matter() -> None:
    old_root_cert = resign(RSA_ROOT.cert, RSA_ROOT, "sha1")
    leaf = pki.leaf("a.test", RSA_INTERMEDIATE)
    store = trust.TrustStore([old_root_cert], name="mozilla")
    result = analyse([leaf.cert, RSA_INTERMEDIATE.cert, old_root_cert], mozilla=store)
    assert "cert.weak_signature" not in ids(result)
    assert trusted_by(result, "mozilla") is True


def test_pss_signatures_link_the_chain() -> None:
    leaf_key = pki.new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=a.test"))
        .issuer_name(RSA_INTERMEDIATE.cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 100 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("a.test")]), critical=False)
    )
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    leaf = builder.sign(RSA_INTERMEDIATE.key, hashes.SHA256(), rsa_padding=pss)
    assert certinfo.signed_by(leaf, RSA_INTERMEDIATE.cert) is True
    assert certinfo.signed_by(leaf, RSA_ROOT.cert) is False
    assert ids(analyse([leaf, RSA_INTERMEDIATE.cert], mozilla=RSA_MOZILLA)) == ["cert.valid"]


def test_short_rsa_key_is_weak() -> None:
    small = pki.leaf("a.test", INTERMEDIATE, key="rsa1024")
    finding = only(analyse([small.cert, INTERMEDIATE.cert]), "cert.weak_key")
    assert finding.params == {
        "index": 0,
        "subject": "a.test",
        "position": "leaf",
        "key_type": "RSA",
        "bits": 1024,
        "minimum": policy.MIN_RSA_BITS,
    }


def test_any_dsa_key_is_weak() -> None:
    leaf = pki.leaf("a.test", INTERMEDIATE, key=dsa.generate_private_key(2048))
    finding = only(analyse([leaf.cert, INTERMEDIATE.cert]), "cert.weak_key")
    assert finding.params["variant"] == "dsa"
    assert finding.params["key_type"] == "DSA"


def test_a_weak_root_key_in_the_store_counts_too() -> None:
    weak_root = pki.root("Weak Root", key="rsa1024")
    intermediate = pki.intermediate("Under Weak Root", weak_root)
    leaf = pki.leaf("a.test", intermediate)
    store = trust.TrustStore([weak_root.cert], name="mozilla")
    finding = only(analyse([leaf.cert, intermediate.cert], mozilla=store), "cert.weak_key")
    assert finding.params["position"] == "root"
    assert finding.params["subject"] == "Weak Root"


def test_p256_and_rsa2048_are_strong() -> None:
    assert ids(analyse([LEAF.cert, INTERMEDIATE.cert])) == ["cert.valid"]
    rsa_leaf = pki.leaf("a.test", RSA_INTERMEDIATE, key="rsa2048")
    assert ids(analyse([rsa_leaf.cert, RSA_INTERMEDIATE.cert], mozilla=RSA_MOZILLA)) == [
        "cert.valid"
    ]


def test_every_problem_is_reported_at_once() -> None:
    bad = pki.leaf("a.test", INTERMEDIATE, key="rsa1024", not_after=NOW - DAY)
    result = analyse([bad.cert, INTERMEDIATE.cert, ROOT.cert], "b.test")
    assert sorted(ids(result)) == [
        "cert.chain_order",
        "cert.expired",
        "cert.hostname_mismatch",
        "cert.weak_key",
    ]
    assert Status.worst(f.status for f in result.findings) is Status.FAIL


def _cross_signed() -> tuple[pki.Issued, pki.Issued, x509.Certificate, x509.Certificate]:
    first, second = pki.root("Cross A"), pki.root("Cross B")
    a_by_b = pki.issue("Cross A", issuer=second, ca=True, key=first.key).cert
    b_by_a = pki.issue("Cross B", issuer=first, ca=True, key=second.key).cert
    return first, second, a_by_b, b_by_a


def test_two_cross_signed_cas_do_not_loop() -> None:
    first, second, a_by_b, b_by_a = _cross_signed()
    leaf = pki.leaf("a.test", first)
    started = time.monotonic()
    result = analyse([leaf.cert, a_by_b, b_by_a], mozilla=EMPTY)
    assert time.monotonic() - started < 2
    assert path_of(result)[1] == "loop"
    assert "cert.untrusted_root" in ids(result)
    trusting_b = trust.TrustStore([second.cert], name="mozilla")
    via_b = analyse([leaf.cert, a_by_b, b_by_a], mozilla=trusting_b)
    assert path_of(via_b)[0] == (0, 1)
    assert only(via_b, "cert.chain_order").params["unneeded"] == ["Cross B"]


def test_a_mesh_of_cross_signatures_stays_within_the_candidate_budget() -> None:
    keys = [pki.new_key() for _ in range(8)]
    cas = [pki.issue(f"Mesh {i}", ca=True, key=k) for i, k in enumerate(keys)]
    mesh = [
        pki.issue(f"Mesh {i}", issuer=cas[j], ca=True, key=keys[i]).cert
        for i in range(len(cas))
        for j in range(len(cas))
        if i != j
    ]
    leaf = pki.leaf("a.test", cas[0])
    started = time.monotonic()
    result = analyse([leaf.cert, *mesh], mozilla=EMPTY)
    assert time.monotonic() - started < 5
    indices, end = path_of(result)
    assert len(indices) <= policy.MAX_CHAIN_DEPTH
    assert end in ("loop", "too_long")


PRIVATE_ROOT = pki.root("Private Root")
PRIVATE_LEAF = pki.leaf("a.test", PRIVATE_ROOT)
PRIVATE_CACERT = trust.TrustStore([PRIVATE_ROOT.cert], name="cacert")
TRUSTED = Judgement(trusted=True, detail="trusted by the operating system (TLSv1.3)")
REFUSED = Judgement(
    trusted=False, detail="not trusted by the operating system: unable to get issuer"
)
UNKNOWN = Judgement(trusted=None, detail="could not ask the operating system: refused")


def test_cacert_alone_decides_and_mozilla_is_only_shown() -> None:
    result = analyse([PRIVATE_LEAF.cert], cacert=PRIVATE_CACERT, os_judgement=REFUSED)
    assert ids(result) == ["cert.valid"]
    assert trusted_by(result, "cacert") is True
    assert trusted_by(result, "mozilla") is False
    assert result.facts.judgements.os == REFUSED
    assert result.facts.decided_by == "cacert"


def test_cacert_refuses_what_mozilla_and_the_os_trust() -> None:
    result = analyse([LEAF.cert, INTERMEDIATE.cert], cacert=PRIVATE_CACERT, os_judgement=TRUSTED)
    assert ids(result) == ["cert.untrusted_root"]
    assert result.findings[0].params["variant"] == "cacert"


def test_os_trusts_a_root_mozilla_lacks_is_trusted_locally_only() -> None:
    result = analyse([PRIVATE_LEAF.cert, PRIVATE_ROOT.cert], os_judgement=TRUSTED)
    assert ids(result) == ["cert.trusted_locally_only"]
    finding = result.findings[0]
    assert finding.status is Status.WARN
    assert finding.params == {
        "index": 1,
        "root": "Private Root",
        "fingerprint": certinfo.fingerprint(PRIVATE_ROOT.cert),
    }
    assert result.facts.decided_by == "os"


def test_os_trusting_a_self_signed_leaf_is_trusted_locally_only() -> None:
    alone = pki.leaf("a.test", None)
    assert ids(analyse([alone.cert], os_judgement=TRUSTED)) == ["cert.trusted_locally_only"]


def test_os_refusing_a_root_mozilla_trusts_is_a_missing_root() -> None:
    result = analyse([LEAF.cert, INTERMEDIATE.cert], os_judgement=REFUSED)
    assert ids(result) == ["cert.os_store_missing_root"]
    finding = result.findings[0]
    assert finding.status is Status.FAIL
    assert finding.params["root"] == "Cert Check Root"
    assert finding.params["fingerprint"] == certinfo.fingerprint(ROOT.cert)
    assert finding.params["detail"] == REFUSED.detail


def test_an_os_refusal_already_explained_is_no_missing_root() -> None:
    old = pki.leaf("a.test", INTERMEDIATE, not_after=NOW - DAY)
    result = analyse([old.cert, INTERMEDIATE.cert], os_judgement=REFUSED)
    assert ids(result) == ["cert.expired"]


def test_both_refusing_reports_why() -> None:
    result = analyse([PRIVATE_LEAF.cert, PRIVATE_ROOT.cert], os_judgement=REFUSED)
    assert ids(result) == ["cert.untrusted_root"]


def test_os_that_could_not_be_asked_leaves_the_verdict_to_mozilla() -> None:
    result = analyse([PRIVATE_LEAF.cert, PRIVATE_ROOT.cert], os_judgement=UNKNOWN)
    assert ids(result) == ["cert.untrusted_root"]
    assert result.facts.decided_by == "mozilla"
    healthy = analyse([LEAF.cert, INTERMEDIATE.cert], os_judgement=UNKNOWN)
    assert healthy.facts.decided_by == "mozilla"


def test_os_that_fetched_a_missing_intermediate_still_gets_a_warning() -> None:
    leaf = pki.leaf("a.test", INTERMEDIATE, aia_ca_issuers="http://ca.test/i.cer")
    finding = only(analyse([leaf.cert], os_judgement=TRUSTED), "cert.incomplete_chain")
    assert finding.status is Status.WARN
    assert finding.params["variant"] == "os_fetched"


def _known_bad_file(tmp_path: Path, *certs: x509.Certificate) -> Path:
    entries = "".join(
        f'[[roots]]\nname = "Lab {i}"\nspki_sha256 = "{certinfo.spki_sha256(c).upper()}"\n'
        f'reason = "Its key is in the test."\nsource = "tests"\n\n'
        for i, c in enumerate(certs)
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "known_bad.toml"
    path.write_text(f"version = 7\n\n{entries}", encoding="utf-8")
    return path


def test_a_server_certificate_whose_key_was_published_is_named_as_such(tmp_path: Path) -> None:
    known_bad = trust.load_known_bad(_known_bad_file(tmp_path, LEAF.cert))
    finding = only(
        analyse([LEAF.cert, INTERMEDIATE.cert], known_bad=known_bad), "cert.known_bad_root"
    )
    assert (finding.params["variant"], finding.params["position"]) == ("leaf", "leaf")


def test_known_bad_root_in_the_chain_or_as_the_anchor(tmp_path: Path) -> None:
    known_bad = trust.load_known_bad(_known_bad_file(tmp_path, ROOT.cert))
    assert known_bad.version == 7
    as_anchor = analyse([LEAF.cert, INTERMEDIATE.cert], known_bad=known_bad)
    finding = only(as_anchor, "cert.known_bad_root")
    assert finding.params["name"] == "Lab 0"
    assert finding.params["position"] == "root"
    assert finding.params["spki_sha256"] == certinfo.spki_sha256(ROOT.cert)
    assert finding.status is Status.FAIL
    sent = analyse([LEAF.cert, INTERMEDIATE.cert, ROOT.cert], mozilla=EMPTY, known_bad=known_bad)
    assert ids(sent).count("cert.known_bad_root") == 1


def test_known_bad_intermediate_key(tmp_path: Path) -> None:
    known_bad = trust.load_known_bad(_known_bad_file(tmp_path, INTERMEDIATE.cert))
    finding = only(
        analyse([LEAF.cert, INTERMEDIATE.cert], known_bad=known_bad), "cert.known_bad_root"
    )
    assert finding.params["position"] == "intermediate"


def test_the_shipped_known_bad_list_is_well_formed() -> None:
    shipped = trust.load_known_bad()
    assert shipped.version >= 1
    assert len(shipped.entries) >= 10
    superfish = "4bb8f35ba1e126f8dde1b0c420625ed86dce61a7bddadbdea9aba578ff13145e"
    assert shipped.entries[superfish].name.startswith("Superfish")
    for digest, entry in shipped.entries.items():
        assert digest == entry.spki_sha256
        assert entry.reason
        assert entry.source.startswith("https://")


def test_a_malformed_known_bad_list_is_refused() -> None:
    with pytest.raises(ValueError, match="spki_sha256"):
        trust.parse_known_bad('version = 1\n[[roots]]\nname = "x"\nspki_sha256 = "abc"\n')
    with pytest.raises(ValueError, match="version"):
        trust.parse_known_bad("[[roots]]\n")


def test_an_unparsable_certificate_among_good_ones() -> None:
    pems = [
        LEAF.pem.decode(),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----",
    ]
    pems.append(INTERMEDIATE.pem.decode())
    chain = certinfo.load_chain(pems)
    assert isinstance(chain[1], certinfo.Unparsable)
    result = analyse(chain)
    finding = only(result, "cert.unparsable")
    assert finding.params["index"] == 1
    assert finding.status is Status.FAIL
    assert trusted_by(result, "mozilla") is True
    assert path_of(result) == ((0, 2), "anchored")


def test_a_finding_about_an_intermediate_names_it_by_its_sent_index() -> None:
    stale = pki.intermediate("Stale Intermediate", ROOT, not_after=NOW - 10 * DAY)
    leaf = pki.leaf("a.test", stale)
    result = analyse([leaf.cert, ROOT.cert, stale.cert])
    expired = only(result, "cert.expired")
    assert expired.params["index"] == 2
    assert expired.params["position"] == "intermediate"
    named = result.facts.certificate(2)
    assert named is not None
    assert named.subject == expired.params["subject"] == "Stale Intermediate"
    order = [f for f in result.findings if f.id == "cert.chain_order"]
    assert order
    assert all("index" not in f.params for f in order)  # about the whole chain


def test_a_weak_key_of_the_stores_own_root_names_no_sent_certificate() -> None:
    weak_root = pki.root("Weak Root", key="rsa1024")
    intermediate = pki.intermediate("Under Weak Root", weak_root)
    leaf = pki.leaf("a.test", intermediate)
    store = trust.TrustStore([weak_root.cert], name="mozilla")
    finding = only(analyse([leaf.cert, intermediate.cert], mozilla=store), "cert.weak_key")
    assert "index" not in finding.params


# Findings about one sent certificate; `cert.weak_key` and `cert.known_bad_root` may also be
# about the trust store's root, which was not sent.
_ABOUT_ONE_SENT = frozenset(
    {
        "cert.unparsable",
        "cert.expired",
        "cert.not_yet_valid",
        "cert.expires_soon",
        "cert.hostname_mismatch",
        "cert.no_san",
        "cert.self_signed",
        "cert.untrusted_root",
        "cert.incomplete_chain",
        "cert.weak_signature",
        "cert.trusted_locally_only",
        "cert.os_store_missing_root",
    }
)


def test_every_finding_about_one_certificate_carries_its_sent_index(tmp_path: Path) -> None:
    findings = _scenario_findings(tmp_path)
    assert {f.id for f in findings} >= _ABOUT_ONE_SENT
    for finding in findings:
        if finding.id in _ABOUT_ONE_SENT:
            assert isinstance(finding.params.get("index"), int), finding


def test_an_unparsable_leaf_still_grades_the_rest() -> None:
    stale = pki.intermediate("Stale", ROOT, not_after=NOW - DAY)
    garbage = base64_garbage()
    result = analyse(certinfo.load_chain([garbage, stale.pem.decode()]))
    assert sorted(ids(result)) == ["cert.expired", "cert.unparsable"]
    assert only(result, "cert.unparsable").params["position"] == "leaf"


def test_no_certificate_at_all() -> None:
    finding = only(analyse([]), "cert.unparsable")
    assert finding.params["variant"] == "missing"


def test_certifi_store_loads_every_root_without_warnings() -> None:
    # Some Mozilla roots have serial number 0, which cryptography warns about; the tests turn
    # warnings into errors, so this also proves the warning is kept out.
    store = trust.TrustStore.from_file(Path(certifi.where()), name="mozilla")
    assert len(store) > 100
    assert store.skipped == 0
    assert store.error is None


def test_store_files_skip_garbage_and_report_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_bytes(ROOT.pem + base64_garbage().encode() + INTERMEDIATE.pem)
    store = trust.TrustStore.from_file(path, name="cacert")
    assert len(store) == 2
    assert store.skipped == 1
    missing = trust.TrustStore.from_file(tmp_path / "absent.pem", name="cacert")
    assert len(missing) == 0
    assert missing.error is not None
    result = analyse([LEAF.cert, INTERMEDIATE.cert], cacert=missing)
    cacert = result.facts.judgements.cacert
    assert cacert is not None
    assert "could not be read" in cacert.detail


@pytest.mark.parametrize("lang", catalogue.LANGUAGES)
def test_every_declared_id_and_variant_has_text(lang: str) -> None:
    english = catalogue.finding_texts("en")
    table = catalogue.finding_texts(lang)
    for finding_id, variants in cert_check.CHECK.findings.items():
        assert finding_id in table, finding_id
        for variant in (None, *variants):
            entry = catalogue.entry(finding_id, lang, variant)
            base = catalogue.entry(finding_id, "en", variant)
            assert entry is not None
            assert base is not None
            assert entry["title"], (finding_id, variant)
            if variant is not None:
                assert variant in table[finding_id]["variants"]
            for key in ("title", "explanation"):
                assert catalogue.placeholders(entry[key]) == catalogue.placeholders(base[key])
            if finding_id != "cert.valid":
                assert entry.get("fix") or entry.get("fix_admin"), (finding_id, variant)
        assert finding_id in english


def _scenario_findings(tmp_path: Path) -> list[Finding]:
    known_bad = trust.load_known_bad(_known_bad_file(tmp_path, ROOT.cert))
    runs = [
        analyse([LEAF.cert, INTERMEDIATE.cert]),
        analyse([pki.leaf("a.test", INTERMEDIATE, not_after=NOW - DAY).cert, LEAF.cert], "b"),
        analyse([pki.leaf("a.test", INTERMEDIATE, not_before=NOW + DAY).cert]),
        analyse([pki.leaf("a.test", INTERMEDIATE, not_after=NOW + DAY).cert, INTERMEDIATE.cert]),
        analyse([pki.leaf("www.a.test", INTERMEDIATE).cert, INTERMEDIATE.cert]),
        analyse([pki.leaf("a.test", INTERMEDIATE, sans=()).cert, INTERMEDIATE.cert]),
        analyse([pki.leaf("a.test", None).cert]),
        analyse([pki.leaf("a.test", None).cert], cacert=PRIVATE_CACERT),
        analyse([LEAF.cert, INTERMEDIATE.cert, ROOT.cert], mozilla=EMPTY, known_bad=known_bad),
        analyse([LEAF.cert, INTERMEDIATE.cert], cacert=PRIVATE_CACERT),
        analyse([LEAF.cert, ROOT.cert, INTERMEDIATE.cert], mozilla=EMPTY),
        analyse([pki.leaf("a.test", INTERMEDIATE, key="rsa1024").cert, INTERMEDIATE.cert]),
        analyse([pki.leaf("a.test", INTERMEDIATE, key=dsa.generate_private_key(2048)).cert]),
        analyse([resign(pki.leaf("a.test", RSA_ROOT).cert, RSA_ROOT, "sha1")]),
        analyse([PRIVATE_LEAF.cert], os_judgement=TRUSTED),
        analyse([LEAF.cert, INTERMEDIATE.cert], os_judgement=REFUSED),
        analyse(
            [pki.leaf("a.test", INTERMEDIATE, aia_ca_issuers="http://x").cert], os_judgement=TRUSTED
        ),
        analyse(certinfo.load_chain([base64_garbage()])),
        analyse([]),
        analyse(_long_chain(policy.MAX_CHAIN_DEPTH + 2)),
        analyse([LEAF.cert]),
        analyse([ROOT.cert, INTERMEDIATE.cert, LEAF.cert], mozilla=EMPTY),
        analyse([pki.leaf("a.test", NOT_CA).cert, NOT_CA.cert]),
        analyse([pki.leaf("a.test", CODE_SIGNING).cert, CODE_SIGNING.cert]),
        analyse([pki.leaf("a.test", CORP_ONLY).cert, CORP_ONLY.cert]),
        analyse([_impostor_and_leaf(SUPERFISH)[1]], known_bad=trust.load_known_bad()),
        analyse([LEAF.cert, INTERMEDIATE.cert], "192.0.2.9", is_ip=True),
        analyse(
            [LEAF.cert, INTERMEDIATE.cert],
            known_bad=trust.load_known_bad(_known_bad_file(tmp_path / "leaf", LEAF.cert)),
        ),
    ]
    kaspersky = pki.root("Kaspersky Anti-Virus Personal Root Certificate")
    intercepted = analyse([pki.leaf("a.test", kaspersky).cert, kaspersky.cert], mozilla=EMPTY)
    named = cert_check._name_interceptor(
        intercepted.findings, [pki.leaf("a.test", kaspersky).cert, kaspersky.cert], host="a.test"
    )
    return [f for result in runs for f in result.findings] + list(named)


NOT_CA = pki.issue("Not A CA", issuer=ROOT, ca=False, extended_key_usage=False)
CODE_SIGNING = pki.intermediate(
    "Code Signing CA",
    ROOT,
    extensions=[(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]), False)],
)
CORP_ONLY = pki.intermediate(
    "Corp Only CA",
    ROOT,
    extensions=[(x509.NameConstraints([x509.DNSName("corp.example")], None), True)],
)


def _long_chain(length: int) -> list[x509.Certificate]:
    issuers = [pki.root("Long Root")]
    for level in range(length):
        issuers.append(pki.issue(f"Long CA {level}", issuer=issuers[-1], ca=True))
    return [pki.leaf("a.test", issuers[-1]).cert, *(i.cert for i in reversed(issuers[1:]))]


def test_every_placeholder_of_every_emitted_finding_is_filled(tmp_path: Path) -> None:
    findings = _scenario_findings(tmp_path)
    emitted = {(f.id, f.params.get("variant")) for f in findings}
    declared = {(i, v) for i, vs in cert_check.CHECK.findings.items() for v in (None, *vs)}
    assert emitted <= declared
    assert {i for i, _ in emitted} == set(cert_check.CHECK.findings)
    for finding in findings:
        json.dumps(dict(finding.params))
        for lang in catalogue.LANGUAGES:
            entry = catalogue.entry(finding.id, lang, finding.params.get("variant"))
            assert entry is not None
            texts = [entry["title"], entry.get("explanation", "")]
            texts += [s for k, v in entry.items() if k.startswith("fix") for s in v]
            used = set().union(*map(catalogue.placeholders, texts))
            assert used <= set(finding.params), (finding.id, lang, used - set(finding.params))
            for os_name in catalogue.OS_NAMES:
                catalogue.render(finding, lang=lang, os_name=os_name)


@contextlib.contextmanager
def tls_server(chain: Sequence[pki.Issued], folder: Path) -> Iterator[int]:
    """A stdlib TLS server on 127.0.0.1 that serves `chain` to every client until closed."""
    cert_path, key_path = pki.write_chain(folder, "server", chain)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                # The client hangs up once it has judged the chain; any error is expected.
                with (
                    contextlib.suppress(OSError),
                    context.wrap_socket(conn, server_side=True) as tls,
                ):
                    tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True, name="test-tls-server")
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


LOOPBACK_LEAF = pki.leaf("localhost", INTERMEDIATE, sans=("localhost", "127.0.0.1"))


@pytest.mark.lab
def test_the_os_does_not_trust_a_lab_root(tmp_path: Path) -> None:
    timeout = 3.0
    with tls_server([LOOPBACK_LEAF, INTERMEDIATE], tmp_path) as port:
        started = time.monotonic()
        judgement = osverify.ask_os(
            "127.0.0.1",
            port,
            server_hostname="localhost",
            timeout=timeout,
            cancel=threading.Event(),
        )
        elapsed = time.monotonic() - started
    assert judgement.trusted is False
    assert judgement.detail.startswith("not trusted by the operating system: ")
    assert elapsed < timeout


@pytest.mark.lab
def test_an_os_that_cannot_be_asked_is_unknown_not_an_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    judgement = osverify.ask_os(
        "127.0.0.1", port, server_hostname="localhost", timeout=1.0, cancel=threading.Event()
    )
    assert judgement.trusted is None
    assert judgement.detail.startswith("could not ask the operating system")


@pytest.mark.lab
def test_an_os_judge_facing_a_silent_server_gives_up_in_time() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.listen()
        started = time.monotonic()
        judgement = osverify.ask_os(
            "127.0.0.1",
            silent.getsockname()[1],
            server_hostname="localhost",
            timeout=0.5,
            cancel=threading.Event(),
        )
        assert time.monotonic() - started < 0.5 + 1.5
    assert judgement.trusted is None


def _context(settings: Settings, port: int, chain: Sequence[pki.Issued]) -> Context:
    target = Target(input="127.0.0.1", host="127.0.0.1", port=port, sni=None, is_ip=True)
    facts = TlsFacts(
        address="127.0.0.1",
        port=port,
        sni=None,
        outcome="ok",
        version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        alert=None,
        chain_pem=tuple(item.pem.decode() for item in chain),
        client_cert_requested=False,
        client_ca_names=(),
    )
    return Context(
        settings=settings,
        target=target,
        cancel=threading.Event(),
        results={"tls": CheckResult("tls", Status.PASS, facts=facts)},
        deadline=time.monotonic() + 20,
    )


@pytest.mark.lab
def test_run_wires_the_judges_together(tmp_path: Path) -> None:
    roots = pki.write_certs(tmp_path / "roots.pem", [ROOT])
    chain = [LOOPBACK_LEAF, INTERMEDIATE]
    with tls_server(chain, tmp_path) as port:
        # Mozilla's place taken by the lab root: the OS refuses what "Mozilla" trusts.
        known = Settings(connect_timeout=3, known_roots=roots)
        outcome = cert_check.run(_context(known, port, chain))
        assert [f.id for f in outcome.findings] == ["cert.os_store_missing_root"]
        assert isinstance(outcome.facts, ServerCertificateFacts)
        assert outcome.facts.decided_by == "os"
        # With --cacert the file alone decides.
        curl_like = Settings(connect_timeout=3, cacert=roots)
        outcome = cert_check.run(_context(curl_like, port, chain))
        assert [f.id for f in outcome.findings] == ["cert.valid"]
    facts = outcome.facts
    assert isinstance(facts, ServerCertificateFacts)
    judgements = facts.judgements
    assert judgements.cacert is not None
    assert judgements.cacert.trusted is True
    assert judgements.mozilla is not None
    assert judgements.mozilla.trusted is False
    assert judgements.os.trusted is False
    assert (facts.known_bad_list.entries or 0) >= 10
    assert facts.stores.cacert is not None
    assert facts.stores.cacert.roots == 1
    assert facts.clock is None  # the clock check did not run
    json.dumps(plain(facts))


def test_date_findings_say_whether_the_certificate_is_valid_at_network_time() -> None:
    root = pki.root("Clock Root")
    leaf = pki.leaf("future.test", root, not_before=NOW + 30 * DAY)
    store = trust.TrustStore([root.cert], name="cacert")

    def at(now: datetime) -> cert_check.Analysis:
        return cert_check.analyse(
            [leaf.cert], host="future.test", is_ip=False, now=now, mozilla=store, cacert=store
        )

    local = at(NOW)
    assert [f.id for f in local.findings] == ["cert.not_yet_valid"]
    findings, fact = cert_check._at_network_time(local.findings, 40 * 86400.0, at)
    assert findings[0].params["valid_at_network_time"] is True
    assert fact is not None
    assert fact.dates_valid_at_network_time is True
    assert fact.dates_valid_at_local_time is False
    findings, fact = cert_check._at_network_time(local.findings, 0.2, at)
    assert findings[0].params["valid_at_network_time"] is False
    assert cert_check._at_network_time(local.findings, None, at) == (local.findings, None)


def test_a_certificate_wrong_at_network_time_too_is_judged_at_network_time() -> None:
    # The clock is 90 days behind and, at network time, the certificate expired a month ago:
    # by this computer's clock it looks "not yet valid", but the truth is "expired".
    root = pki.root("Clock Root", not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
    leaf = pki.leaf("old.test", root, not_before=NOW + 30 * DAY, not_after=NOW + 60 * DAY)
    store = trust.TrustStore([root.cert], name="cacert")

    def at(now: datetime) -> cert_check.Analysis:
        return cert_check.analyse(
            [leaf.cert], host="old.test", is_ip=False, now=now, mozilla=store, cacert=store
        )

    local = at(NOW)
    assert [f.id for f in local.findings] == ["cert.not_yet_valid"]
    behind = (90 * DAY).total_seconds()
    findings, fact = cert_check._at_network_time(local.findings, behind, at)
    assert [(f.id, f.params["valid_at_network_time"]) for f in findings] == [
        ("cert.expired", False)
    ]
    assert fact is not None
    assert fact.dates_valid_at_network_time is False


def test_a_chain_made_by_a_known_interception_product_names_the_product() -> None:
    root = pki.root("Kaspersky Anti-Virus Personal Root Certificate", org="AO Kaspersky Lab")
    leaf = pki.leaf("bank.example", root)
    untrusted = Finding("cert.untrusted_root", Status.FAIL, {"root": "x", "fingerprint": "y"})
    mismatch = Finding("cert.expires_soon", Status.WARN, {})
    named = cert_check._name_interceptor(
        (untrusted, mismatch), [leaf.cert, root.cert], host="bank.example"
    )
    assert [f.id for f in named] == ["cert.intercepted", "cert.expires_soon"]
    assert named[0].params["product"] == "Kaspersky"
    assert named[0].status is Status.FAIL
    plain = cert_check._name_interceptor(
        (untrusted,), [LEAF.cert, INTERMEDIATE.cert], host="a.test"
    )
    assert plain == (untrusted,)


@pytest.mark.parametrize(
    ("key", "level", "refused"),
    [("rsa1024", 1, False), ("rsa1024", 2, True), ("rsa2048", 3, True), ("rsa2048", 2, False)],
)
def test_a_weak_key_is_refused_at_the_security_levels_that_forbid_it(
    key: str, level: int, refused: bool
) -> None:
    weak = Finding(
        "cert.weak_key", Status.FAIL, {"key_type": "RSA", "bits": int(key.removeprefix("rsa"))}
    )
    assert cert_grades.refused_at_level(weak, level) is refused
    sha1 = Finding("cert.weak_signature", Status.FAIL, {"algorithm": "sha1"})
    assert cert_grades.refused_at_level(sha1, 0) is False
    assert cert_grades.refused_at_level(sha1, 1) is True
