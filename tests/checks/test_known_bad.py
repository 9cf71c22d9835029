"""The known-bad list recognises a compromised root by its key, or as a certificate's issuer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from checks.lib import certinfo, trust

NOW = dt.datetime.now(dt.UTC)
SHIPPED = trust.load_known_bad()
SUPERFISH = next(e for e in SHIPPED.entries.values() if e.name == "Superfish, Inc.")
EDELL = next(e for e in SHIPPED.entries.values() if e.name == "eDellRoot (Dell)")


def _cert(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ski: bytes | None = None,
    aki: bytes | None = None,
    ca: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ski is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    if aki is not None:
        identifier = x509.AuthorityKeyIdentifier(aki, None, None)
        builder = builder.add_extension(identifier, critical=False)
    return builder.sign(signer, hashes.SHA256())


def _impostor_and_leaf(
    entry: trust.KnownBad, *, aki: bytes | None = None
) -> tuple[x509.Certificate, x509.Certificate]:
    """A root with the entry's subject and SKI but a new key, and a leaf it issued whose AKI is
    `aki` (the root's SKI by default)."""
    assert entry.subject is not None
    name = x509.Name.from_rfc4514_string(entry.subject)
    ski = bytes.fromhex(entry.ski) if entry.ski else None
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(name, name, root_key, root_key, ski=ski, aki=ski, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "www.example.test")])
    leaf = _cert(leaf_name, name, leaf_key, root_key, aki=aki if aki is not None else ski)
    return root, leaf


def test_every_shipped_certificate_entry_has_a_parsable_subject() -> None:
    assert SHIPPED.version >= 2
    with_subject = [e for e in SHIPPED.entries.values() if e.subject]
    assert len(with_subject) >= 12
    for entry in with_subject:
        assert x509.Name.from_rfc4514_string(entry.subject or "").rfc4514_string()
    assert SUPERFISH.subject == "CN=Superfish\\, Inc.,C=US,ST=CA,L=SF,O=Superfish\\, Inc."
    assert SUPERFISH.ski == "fb98b3537f14442ee8eed5099a5e0e5686a83588"
    assert not SUPERFISH.subject_unique


def test_a_leaf_issued_under_a_root_with_a_listed_subject_and_ski_is_recognised() -> None:
    root, leaf = _impostor_and_leaf(SUPERFISH)
    # The root's key is new: the SPKI lookup cannot know it, the issuer lookup does.
    assert SHIPPED.spki_match(root) is None
    assert SHIPPED.issuer_match(leaf) == SUPERFISH
    assert SHIPPED.issuer_match(root) == SUPERFISH
    assert trust.authority_key_id(leaf) == SUPERFISH.ski


def test_the_same_issuer_dn_with_another_key_identifier_is_not_recognised() -> None:
    _, leaf = _impostor_and_leaf(SUPERFISH, aki=b"\x01" * 20)
    assert SHIPPED.issuer_match(leaf) is None
    # Without an Authority Key Identifier the DN alone does not decide for a non-unique entry.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string(SUPERFISH.subject or "")
    bare = _cert(x509.Name.from_rfc4514_string("CN=leaf"), name, key, key)
    assert trust.authority_key_id(bare) is None
    assert SHIPPED.issuer_match(bare) is None


def test_a_unique_subject_is_recognised_by_the_issuer_dn_alone() -> None:
    assert EDELL.subject == "CN=eDellRoot"
    assert EDELL.ski is None
    assert EDELL.subject_unique
    _, leaf = _impostor_and_leaf(EDELL, aki=b"\x02" * 20)
    assert SHIPPED.issuer_match(leaf) == EDELL


def test_the_issuer_dn_is_compared_as_rfc_5280_does_case_and_spaces_folded() -> None:
    text = (
        'version = 3\n[[roots]]\nname = "Folded"\nspki_sha256 = "'
        + "ab" * 32
        + '"\nsubject = "CN=Some  Bad Root,O=Bad"\nski = "AA:BB"\n'
    )
    known = trust.parse_known_bad(text)
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name.from_rfc4514_string("CN=some bad  root,O=BAD")
    leaf_name = x509.Name.from_rfc4514_string("CN=leaf")
    leaf = _cert(leaf_name, issuer, key, key, aki=bytes.fromhex("aabb"))
    assert known.issuer_match(leaf) is not None


def test_the_spki_lookup_still_finds_a_listed_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=Leaked Test Root")
    root = _cert(name, name, key, key, ca=True)
    listed = tmp_path / "bad.toml"
    listed.write_text(
        f'version = 7\n[[roots]]\nname = "Leaked"\nspki_sha256 = "{certinfo.spki_sha256(root)}"\n',
        encoding="utf-8",
    )
    known = trust.load_known_bad(listed)
    assert known.spki_match(root) is not None
    assert known.entries[certinfo.spki_sha256(root)].name == "Leaked"
    # An entry without a subject is never matched by issuer.
    assert known.issuer_match(root) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('subject = "not a name"\n', "not an RFC 4514 name"),
        ('subject = "CN=x"\nski = "xyz"\n', "bad ski"),
        ("subject_unique = true\n", "subject_unique needs"),
        ('subject = "CN=x"\nsubject_unique = "yes"\n', "subject_unique needs"),
    ],
)
def test_malformed_subject_fields_are_rejected(extra: str, message: str) -> None:
    text = f'version = 1\n[[roots]]\nname = "x"\nspki_sha256 = "{"cd" * 32}"\n{extra}'
    with pytest.raises(ValueError, match=message):
        trust.parse_known_bad(text)
