"""A private PKI for the lab: roots, intermediates and leaves for every certificate scenario."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


@functools.cache
def _rsa(bits: int, slot: int) -> rsa.RSAPrivateKey:
    # RSA generation is slow; tests reuse a few keys per size, told apart by `slot`.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


_slots: dict[int, int] = {}


def new_key(kind: str = "ec256") -> PrivateKey:
    """A fresh key: `ec256`, `ec384`, or `rsa1024` / `rsa2048` / `rsa3072` (from a small pool)."""
    if kind.startswith("ec"):
        curve = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1()}[kind]
        return ec.generate_private_key(curve)
    bits = int(kind.removeprefix("rsa"))
    _slots[bits] = _slots.get(bits, -1) + 1
    return _rsa(bits, _slots[bits] % 8)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def subject_cn(self) -> str:
        return str(self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attributes)


def _general_name(san: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(san))
    except ValueError:
        return x509.DNSName(san)


def der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


def der_items(body: bytes) -> list[bytes]:
    """Split concatenated DER elements (whole tag-length-value each)."""
    items, at = [], 0
    while at < len(body):
        size, header = body[at + 1], 2
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(body[at + 2 : at + 2 + count], "big")
            header += count
        items.append(body[at : at + header + size])
        at += header + size
    return items


def der_body(element: bytes) -> bytes:
    size = element[1]
    return element[2 + (size & 0x7F if size & 0x80 else 0) :]


# AlgorithmIdentifier DER for SHA-1 signatures: RSA has NULL parameters, ECDSA has none.
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
_SHA1_ECDSA = bytes.fromhex("300906072a8648ce3d0401")


def _sign_sha1(builder: x509.CertificateBuilder, issuer_key: PrivateKey) -> x509.Certificate:
    # cryptography refuses SHA-1 certificate signatures, yet the lab must serve one: sign with
    # SHA-256, swap the algorithm inside the to-be-signed part, and sign that with SHA-1 by hand.
    draft = builder.sign(issuer_key, hashes.SHA256())
    algorithm = _SHA1_RSA if isinstance(issuer_key, rsa.RSAPrivateKey) else _SHA1_ECDSA
    fields = der_items(der_body(draft.tbs_certificate_bytes))
    fields[2] = algorithm  # after [0] version and the serial number
    tbs = der(0x30, b"".join(fields))
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    else:
        signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    signed = der(0x30, tbs + algorithm + der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(signed)


def _sign(
    builder: x509.CertificateBuilder, issuer_key: PrivateKey, hash_alg: hashes.HashAlgorithm
) -> x509.Certificate:
    if isinstance(hash_alg, hashes.SHA1):
        return _sign_sha1(builder, issuer_key)
    return builder.sign(issuer_key, hash_alg)


# RFC 6962 3.2 / RFC 5246 7.4.1.4.1: the SCT signature's hash (sha256) and signature (ecdsa).
_SCT_HASH_SHA256 = 4
_SCT_SIG_ECDSA = 3


def lab_log_id(number: int) -> bytes:
    """The 32-byte log id of lab log `number` (1, 2, ...): sha256 of "lab log N"."""
    return hashlib.sha256(f"lab log {number}".encode()).digest()


def _fake_ecdsa_signature(seed: bytes) -> bytes:
    # Shaped like an ECDSA-Sig-Value (SEQUENCE of two positive INTEGERs); no log can verify it.
    r, s = hashlib.sha256(b"r" + seed).digest(), hashlib.sha256(b"s" + seed).digest()
    return der(0x30, der(0x02, b"\x00" + r) + der(0x02, b"\x00" + s))


def sct_list(count: int, *, timestamp: dt.datetime | None = None) -> bytes:
    """A TLS-encoded SignedCertificateTimestampList (RFC 6962 3.3) of `count` fake v1 SCTs.

    SCT i (from 1) comes from `lab_log_id(i)`, at `timestamp` (default NOW - 1 day) + i - 1 ms.
    """
    base = timestamp or NOW - DAY
    base_ms = int(base.timestamp() * 1000)
    items = b""
    for number in range(1, count + 1):
        log_id = lab_log_id(number)
        moment = base_ms + number - 1
        signature = _fake_ecdsa_signature(log_id + moment.to_bytes(8, "big"))
        sct = (
            b"\x00"  # version v1
            + log_id
            + moment.to_bytes(8, "big")
            + (0).to_bytes(2, "big")  # no CtExtensions
            + bytes([_SCT_HASH_SHA256, _SCT_SIG_ECDSA])
            + len(signature).to_bytes(2, "big")
            + signature
        )
        items += len(sct).to_bytes(2, "big") + sct
    return len(items).to_bytes(2, "big") + items


def sct_list_extension(
    count: int, *, timestamp: dt.datetime | None = None
) -> x509.UnrecognizedExtension:
    """The embedded-SCT extension (1.3.6.1.4.1.11129.2.4.2) with `count` fake SCTs: its value is
    an OCTET STRING wrapping the TLS-encoded list, as CAs embed it."""
    value = der(0x04, sct_list(count, timestamp=timestamp))
    oid = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
    return x509.UnrecognizedExtension(oid, value)


def issue(
    cn: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    path_length: int | None = None,
    sans: Sequence[str] = (),
    org: str | None = None,
    key: str | PrivateKey = "ec256",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    aia_ca_issuers: str | None = None,
    extended_key_usage: bool = True,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    authority_key_id: bytes | None = None,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
    must_staple: bool = False,
    scts: int = 0,
) -> Issued:
    """Issue one certificate; `issuer=None` makes it self-signed (a root, or a self-signed leaf).

    `extensions` are added as given (extension, critical), for chains that break a rule.
    `ocsp_url` and `aia_ca_issuers` go into one AuthorityInformationAccess extension;
    `crl_url` makes a CRLDistributionPoints extension; `must_staple` adds the TLS feature
    status_request (RFC 7633); `scts` embeds that many fake SCTs (see `sct_list`).
    """
    private_key = new_key(key) if isinstance(key, str) else key
    subject = _name(cn, org)
    signer_key = issuer.key if issuer else private_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - 30 * DAY)
        .not_valid_after(not_after or NOW + 300 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
    )
    if authority_key_id is not None:
        # An issuer's own key identifier, when it is not the hash of its key.
        identifier = x509.AuthorityKeyIdentifier(authority_key_id, None, None)
        builder = builder.add_extension(identifier, critical=False)
    elif issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False
            )
        if extended_key_usage:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    access = []
    if ocsp_url:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    if aia_ca_issuers:
        access.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(aia_ca_issuers),
            )
        )
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if must_staple:
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
        )
    if scts:
        builder = builder.add_extension(sct_list_extension(scts), critical=False)
    return Issued(_sign(builder, signer_key, hash_alg or hashes.SHA256()), private_key)


def root(cn: str = "Handshake Doctor Lab Root", **options: object) -> Issued:
    """A self-signed CA certificate."""
    return issue(cn, ca=True, **options)  # type: ignore[arg-type]


def intermediate(cn: str, issuer: Issued, **options: object) -> Issued:
    """A CA certificate signed by `issuer`."""
    return issue(cn, issuer=issuer, ca=True, path_length=0, **options)  # type: ignore[arg-type]


def leaf(host: str, issuer: Issued | None, **options: object) -> Issued:
    """A server certificate for `host` (also its SAN unless `sans` is given). One a CA issues
    carries three embedded SCTs unless `scts` says otherwise, as every public certificate has
    since 2018 (Chrome refuses a publicly trusted one without)."""
    options.setdefault("sans", (host,))
    extensions = options.get("extensions") or ()
    sct_oid = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
    own_list = any(ext.oid == sct_oid for ext, _ in extensions)  # type: ignore[attr-defined]
    if issuer is not None and not own_list:
        options.setdefault("scts", 3)
    return issue(host, issuer=issuer, **options)  # type: ignore[arg-type]


def write_chain(folder: Path, name: str, chain: Sequence[Issued]) -> tuple[Path, Path]:
    """Write `chain` (leaf first) as `<name>.pem` and the leaf's key as `<name>.key`."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path = folder / f"{name}.pem"
    key_path = folder / f"{name}.key"
    cert_path.write_bytes(b"".join(item.pem for item in chain))
    key_path.write_bytes(chain[0].key_pem)
    return cert_path, key_path


def write_certs(path: Path, certs: Sequence[Issued]) -> Path:
    """Write certificates (no keys) to one PEM file, for --cacert and --known-roots."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(item.pem for item in certs))
    return path
