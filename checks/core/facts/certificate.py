"""What the certificate check measured: each certificate sent, the path to a root, who judged it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from checks.core.facts import Facts, absent_when_none

Position = Literal["leaf", "intermediate", "root"]
PathEnd = Literal["anchored", "self_signed", "missing_issuer", "loop", "too_long"]
Decider = Literal["cacert", "mozilla", "os"]


@dataclass(frozen=True, kw_only=True)
class CertificateRecord:
    """One certificate as read, dates in ISO 8601 UTC and fingerprints in lowercase hex.

    Attributes:
        index: its place in the chain as sent, 0 being the server's own certificate (None for
            a certificate that was not sent).
        position: `leaf`, `intermediate` or `root` (self-signed).
        subject: the short name shown for it (common name, else organisation, else the DN).
        subject_dn, issuer_dn: the whole distinguished names, RFC 4514.
        sha256: SHA-256 of the whole certificate; spki_sha256: of its public key.
        key_bits: None when the key's size is unknown.
        signature_hash: `sha256`, `sha1` ...; None for EdDSA.
        aia_ca_issuers: where the issuer's certificate can be downloaded, if the certificate says.
    """

    index: int | None
    position: Position
    subject: str
    subject_dn: str
    issuer_dn: str
    not_before: str
    not_after: str
    sha256: str
    spki_sha256: str
    key_type: str
    key_bits: int | None
    signature_hash: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    is_ca: bool
    self_signed: bool
    aia_ca_issuers: str | None


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """The trust store's root a path ends in."""

    subject: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class PathRecord:
    """The issuing path built from the server's certificate towards a root of `store`.

    Attributes:
        store: the store that decided (`mozilla` or `cacert`).
        indices: the sent certificates on the path, in issuing order, the server's own first.
        end: `anchored`, or why the path stopped (`self_signed`, `missing_issuer`, `loop`,
            `too_long`).
        anchor: the store's root the path ends in, None when it reached none.
        missing_issuer: for `missing_issuer`, the DN (RFC 4514) no certificate was found for.
    """

    store: str
    indices: tuple[int, ...]
    end: PathEnd
    anchor: Anchor | None
    missing_issuer: str | None


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """One verifier's verdict on the chain: trusted, not trusted, or None when it could not say."""

    trusted: bool | None
    detail: str


@dataclass(frozen=True, kw_only=True)
class Judgements:
    """What each verifier said: `mozilla` and `cacert` are None when they were not asked."""

    os: Judgement
    mozilla: Judgement | None
    cacert: Judgement | None


@dataclass(frozen=True, kw_only=True)
class StoreRecord:
    """A bundle of roots read from a file: where from, how many, how many unreadable, and why
    it could not be read at all (None when it could)."""

    source: str
    roots: int
    skipped: int
    error: str | None


@dataclass(frozen=True, kw_only=True)
class Stores:
    """The root stores used: Mozilla's (or `--known-roots`), and the `--cacert` file if given."""

    mozilla: StoreRecord
    cacert: StoreRecord | None


@dataclass(frozen=True, kw_only=True)
class KnownBadListRecord:
    """The known-bad key list used: its version and size, or why it could not be read."""

    version: int | None = absent_when_none()
    entries: int | None = absent_when_none()
    error: str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class NetworkTimeDates:
    """The certificates' dates judged again at network time (the clock check's offset)."""

    offset_s: float
    network_time: str
    dates_valid_at_local_time: bool
    dates_valid_at_network_time: bool


@dataclass(frozen=True, kw_only=True)
class CertificateFacts(Facts):
    """The chain judged, as a server sent it or a certificate file holds it.

    Attributes:
        host: the name the server's certificate was checked against.
        now: the moment the dates were judged at (this computer's clock).
        certificates: every certificate that could be read, in the order sent.
        unparsable: the sent indices of the certificates that could not be read.
        path: the issuing path; absent when there is no server certificate to start from.
        decided_by: the verifier whose verdict counts (`cacert`, `os` or `mozilla`); absent
            with `path`.
    """

    check_id = "cert"

    host: str
    now: str
    certificates: tuple[CertificateRecord, ...]
    unparsable: tuple[int, ...]
    judgements: Judgements
    # The default is None: ruff cannot see that the records are immutable.
    path: PathRecord | None = absent_when_none()
    decided_by: Decider | None = absent_when_none()

    def certificate(self, index: int) -> CertificateRecord | None:
        """The certificate sent at `index`, if it could be read."""
        return next((c for c in self.certificates if c.index == index), None)


@dataclass(frozen=True, kw_only=True)
class ServerCertificateFacts(CertificateFacts):
    """The chain a server sent, with the stores and lists it was judged by.

    Attributes:
        clock: the dates judged again at network time; None when the clock check measured none.
    """

    stores: Stores
    known_bad_list: KnownBadListRecord
    clock: NetworkTimeDates | None

    @classmethod
    def of_chain(
        cls,
        chain: CertificateFacts,
        *,
        stores: Stores,
        known_bad_list: KnownBadListRecord,
        clock: NetworkTimeDates | None,
    ) -> ServerCertificateFacts:
        """The facts of `chain` with what only a server's check adds."""
        judged = {
            spec.name: getattr(chain, spec.name) for spec in dataclasses.fields(CertificateFacts)
        }
        return cls(**judged, stores=stores, known_bad_list=known_bad_list, clock=clock)
