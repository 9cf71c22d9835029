"""CT timestamps: read from a certificate, a stapled OCSP response and TLS, and counted."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtensionOID

from checks.lib import revocation, sct
from tests.lab import pki
from tests.lab.pki import der, der_body, der_items

NOW = pki.NOW
DAY = pki.DAY
ISSUER = pki.intermediate("SCT Test CA", pki.root("SCT Test Root"))
LOG_A = bytes(range(32))
LOG_B = bytes(range(100, 132))
STAMP_A = dt.datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
STAMP_B = dt.datetime(2025, 3, 1, 12, 0, 5, tzinfo=dt.UTC)


def tls_vector(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def one_sct(log_id: bytes, stamp: dt.datetime) -> bytes:
    """A v1 SCT as RFC 6962 3.2 lays it out; its signature is filler, never verified here."""
    millis = int(stamp.timestamp() * 1000)
    signature = b"\x04\x03" + tls_vector(b"\x30\x06\x02\x01\x01\x02\x01\x01")  # sha256, ecdsa
    return b"\x00" + log_id + millis.to_bytes(8, "big") + tls_vector(b"") + signature


def sct_list(*scts: bytes) -> bytes:
    return tls_vector(b"".join(tls_vector(item) for item in scts))


TWO = sct_list(one_sct(LOG_A, STAMP_A), one_sct(LOG_B, STAMP_B))


def with_embedded(scts: bytes, *, days: int = 90) -> x509.Certificate:
    extension = x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, der(0x04, scts)
    )
    return pki.leaf(
        "ct.test",
        ISSUER,
        not_before=NOW - DAY,
        not_after=NOW - DAY + days * DAY,
        extensions=[(extension, False)],
    ).cert


def test_embedded_scts_are_read_with_log_ids_and_times() -> None:
    found = sct.embedded(with_embedded(TWO))
    assert [item.log_id for item in found] == [LOG_A.hex(), LOG_B.hex()]
    assert [item.timestamp for item in found] == [STAMP_A, STAMP_B]
    assert {(item.entry_type, item.source, item.version) for item in found} == {
        ("precert", "embedded", 0)
    }
    assert sct.distinct_logs(found) == 2


def test_the_same_log_twice_counts_once() -> None:
    found = sct.embedded(with_embedded(sct_list(one_sct(LOG_A, STAMP_A), one_sct(LOG_A, STAMP_B))))
    assert len(found) == 2
    assert sct.distinct_logs(found) == 1


def test_a_certificate_without_scts_has_none() -> None:
    assert sct.embedded(pki.leaf("plain.test", ISSUER, scts=0).cert) == ()


def test_a_malformed_sct_list_reads_as_none() -> None:
    assert sct.embedded(with_embedded(b"\x00\x05abc")) == ()


def test_the_tls_extension_list_is_parsed_by_hand() -> None:
    found = sct.parse_list(TWO)
    assert [(item.log_id, item.timestamp, item.source) for item in found] == [
        (LOG_A.hex(), STAMP_A, "tls"),
        (LOG_B.hex(), STAMP_B, "tls"),
    ]
    assert {item.entry_type for item in found} == {"x509"}
    assert sct.parse_list(TWO[:-3]) == ()
    assert sct.parse_list(b"") == ()


def test_required_follows_chromes_policy() -> None:
    short = with_embedded(TWO, days=90)
    limit = with_embedded(TWO, days=180)
    long = with_embedded(TWO, days=398)
    assert (sct.required(short), sct.required(limit), sct.required(long)) == (2, 2, 3)
    assert sct.required(long, source="tls") == 2
    assert sct.required(long, source="ocsp") == 2


# --- SCTs in a stapled OCSP response --------------------------------------------------------


def _rebuild(element: bytes, items: list[bytes]) -> bytes:
    return der(element[0], b"".join(items))


def ocsp_with_scts(leaf: pki.Issued, scts: bytes) -> bytes:
    """A good OCSP response whose single response carries the SCT extension (cryptography's
    builder cannot add single extensions, so it is spliced in and the response signed again)."""
    built = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=ISSUER.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - DAY,
            next_update=NOW + DAY,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ISSUER.cert)
        .sign(ISSUER.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    status, wrapper = der_items(der_body(built))
    response_bytes = der_items(der_body(wrapper))[0]
    kind, octets = der_items(der_body(response_bytes))
    basic = der_body(octets)
    tbs, algorithm, _signature = der_items(der_body(basic))
    tbs_items = der_items(der_body(tbs))
    responses = tbs_items[2]
    single = der_items(der_body(responses))[0]
    oid = der(0x06, bytes.fromhex("2b06010401d679020405"))  # 1.3.6.1.4.1.11129.2.4.5
    extension = der(0x30, oid + der(0x04, der(0x04, scts)))
    single = _rebuild(single, [*der_items(der_body(single)), der(0xA1, der(0x30, extension))])
    tbs_items[2] = der(0x30, single)
    tbs = _rebuild(tbs, tbs_items)
    assert isinstance(ISSUER.key, ec.EllipticCurvePrivateKey)
    signature = ISSUER.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    basic = der(0x30, tbs + algorithm + der(0x03, b"\x00" + signature))
    response_bytes = der(0x30, kind + der(0x04, basic))
    return der(0x30, status + der(0xA0, response_bytes))


def test_scts_in_a_stapled_ocsp_response_are_read_and_judged() -> None:
    leaf = pki.leaf("stapled.test", ISSUER)
    response = ocsp_with_scts(leaf, TWO)
    found = sct.from_ocsp(response)
    assert [(item.log_id, item.timestamp, item.source) for item in found] == [
        (LOG_A.hex(), STAMP_A, "ocsp"),
        (LOG_B.hex(), STAMP_B, "ocsp"),
    ]
    judged = revocation.judge_ocsp_response(response, leaf.cert, ISSUER.cert, now=NOW)
    assert judged.outcome == "good"
    assert judged.scts == found


def test_an_ocsp_response_without_scts_or_unreadable_has_none() -> None:
    assert sct.from_ocsp(b"garbage") == ()
    failed = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    assert sct.from_ocsp(failed) == ()
