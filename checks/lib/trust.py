"""Decides which roots vouch for a chain: trust stores, path building, known-bad roots."""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from checks.core import policy
from checks.core.facts.certificate import (
    Anchor,
    Judgement,
    KnownBadListRecord,
    PathEnd,
    PathRecord,
    StoreRecord,
)
from checks.lib.certinfo import (
    PEM_BLOCK,
    NameKey,
    display_name,
    fingerprint,
    identity,
    is_self_signed,
    load_der,
    load_pem,
    name_key,
    signed_by,
    spki_sha256,
)


class TrustStore:
    """A set of trust anchors (root certificates), indexed by subject for path building."""

    def __init__(
        self,
        certificates: Iterable[x509.Certificate],
        *,
        name: str,
        source: str = "",
        skipped: int = 0,
        error: str | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.skipped = skipped
        self.error = error
        self.certificates = tuple(certificates)
        self._by_subject: dict[NameKey, list[x509.Certificate]] = {}
        self._by_identity: dict[tuple[NameKey, bytes], x509.Certificate] = {}
        for cert in self.certificates:
            self._by_subject.setdefault(name_key(cert.subject), []).append(cert)
            self._by_identity.setdefault(identity(cert), cert)

    def __len__(self) -> int:
        return len(self.certificates)

    def named(self, name: x509.Name) -> Sequence[x509.Certificate]:
        """The anchors whose subject is `name`."""
        return self._by_subject.get(name_key(name), ())

    def find(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The store's copy of `cert` (same subject and key), if the store has it."""
        return self._by_identity.get(identity(cert))

    def record(self) -> StoreRecord:
        """Where the store came from and what it holds, as the certificate check reports it."""
        return StoreRecord(
            source=self.source, roots=len(self), skipped=self.skipped, error=self.error
        )

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str, source: str = "") -> TrustStore:
        """Every PEM certificate in `data` (a lone DER certificate also works)."""
        certificates: list[x509.Certificate] = []
        skipped = 0
        for block in PEM_BLOCK.finditer(data):
            try:
                certificates.append(load_pem(block.group(0)))
            except ValueError:
                skipped += 1
        if not certificates and not skipped and data:
            try:
                certificates.append(load_der(data))
            except ValueError:
                skipped += 1
        return cls(certificates, name=name, source=source, skipped=skipped)

    @classmethod
    def from_file(cls, path: Path, *, name: str) -> TrustStore:
        """The anchors in a PEM bundle; a file that cannot be read gives an empty store."""
        try:
            stat = path.stat()
            return _cached_store(str(path), stat.st_mtime_ns, stat.st_size, name)
        except OSError as exc:
            return cls((), name=name, source=str(path), error=f"{type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=8)
def _cached_store(path: str, mtime_ns: int, size: int, name: str) -> TrustStore:
    # Keyed by modification time and size so that an edited bundle is read again.
    return TrustStore.from_bytes(Path(path).read_bytes(), name=name, source=path)


@dataclass(frozen=True)
class ChainPath:
    """The issuing path found from the server's certificate towards a trust anchor.

    Attributes:
        indices: positions in the sent chain of the certificates on the path, leaf first.
        anchor: the trust store's certificate the path ends in; None when none was reached.
        end: `anchored`; `self_signed` (ends in a root the store lacks); `missing_issuer` (no
            certificate for the last issuer, sent or stored); `loop` (cross-signatures lead
            back into the path); `too_long` (the depth or candidate limit was reached).
        missing_issuer: the issuer name no certificate was found for.
    """

    indices: tuple[int, ...]
    anchor: x509.Certificate | None
    end: PathEnd
    missing_issuer: x509.Name | None = None

    @property
    def trusted(self) -> bool:
        return self.anchor is not None

    def record(self, store: TrustStore) -> PathRecord:
        """This path as the report shows it, built against `store`."""
        anchor = self.anchor
        return PathRecord(
            store=store.name,
            indices=self.indices,
            end=self.end,
            anchor=None
            if anchor is None
            else Anchor(subject=display_name(anchor.subject), sha256=fingerprint(anchor)),
            missing_issuer=None
            if self.missing_issuer is None
            else self.missing_issuer.rfc4514_string(),
        )


def build_path(sent: Mapping[int, x509.Certificate], store: TrustStore) -> ChainPath:
    """Find a path from `sent[0]` to an anchor of `store`, using the sent certificates as
    intermediates in any order; when there is none, the longest path found.

    Store certificates are tried before sent ones (a sent root is then left unused), and no
    subject-and-key appears twice on a path, so cross-signed cycles end. At most
    `policy.MAX_CHAIN_DEPTH` certificates per path and `policy.MAX_CHAIN_CANDIDATES` issuer
    candidates in all are tried.
    """
    budget = policy.MAX_CHAIN_CANDIDATES
    dead_ends: list[ChainPath] = []

    def walk(path: tuple[int, ...], seen: frozenset[tuple[NameKey, bytes]]) -> ChainPath | None:
        nonlocal budget
        cert = sent[path[-1]]
        own = store.find(cert)
        if own is not None:
            return ChainPath(path, own, "anchored")
        if is_self_signed(cert):
            dead_ends.append(ChainPath(path, None, "self_signed"))
            return None
        if len(path) >= policy.MAX_CHAIN_DEPTH:
            dead_ends.append(ChainPath(path, None, "too_long"))
            return None
        wanted = name_key(cert.issuer)
        candidates: list[tuple[x509.Certificate, int | None]] = [
            (anchor, None) for anchor in store.named(cert.issuer)
        ]
        candidates += [
            (other, index) for index, other in sent.items() if name_key(other.subject) == wanted
        ]
        linked = looped = exhausted = False
        for candidate, index in candidates:
            if budget <= 0:
                exhausted = True
                break
            budget -= 1
            key = identity(candidate)
            if key in seen:
                looped = True
                continue
            if signed_by(cert, candidate) is False:
                continue
            linked = True
            if index is None:
                return ChainPath(path, candidate, "anchored")
            found = walk((*path, index), seen | {key})
            if found is not None:
                return found
        if not linked:
            end: PathEnd = "too_long" if exhausted else "loop" if looped else "missing_issuer"
            missing = cert.issuer if end == "missing_issuer" else None
            dead_ends.append(ChainPath(path, None, end, missing))
        return None

    found = walk((0,), frozenset({identity(sent[0])}))
    if found is not None:
        return found
    # The longest dead end tells the most; ties go to the first found (store-first order).
    return max(dead_ends, key=lambda p: len(p.indices))


@dataclass(frozen=True)
class KnownBad:
    """A public key that must never be trusted (see resources/known_bad_roots.toml).

    Attributes:
        subject: the certificate's subject DN (RFC 4514, as `cryptography` prints it), when
            the entry is a certificate; None for an entry known only by its key.
        ski: the certificate's Subject Key Identifier, lowercase hex; None when it has none.
        subject_unique: whether the subject alone names this key (no other entry or known
            certificate shares it), so that an issuer without a matching key identifier counts.
    """

    name: str
    spki_sha256: str
    reason: str
    source: str
    subject: str | None = None
    ski: str | None = None
    subject_unique: bool = False


@dataclass(frozen=True)
class KnownBadList:
    """The known-bad keys by SPKI SHA-256, and the version of the list they came from."""

    version: int
    entries: Mapping[str, KnownBad]

    def spki_match(self, cert: x509.Certificate) -> KnownBad | None:
        """The entry for `cert`'s own public key, if it is on the list."""
        return self.entries.get(spki_sha256(cert))

    def issuer_match(self, cert: x509.Certificate) -> KnownBad | None:
        """The entry for the root that issued `cert`, judged without that root: `cert`'s
        issuer DN equals the entry's subject and its Authority Key Identifier equals the
        entry's SKI (or the entry's subject is marked unique)."""
        candidates = self._by_subject.get(name_key(cert.issuer), ())
        if not candidates:
            return None
        aki = authority_key_id(cert)
        for entry in candidates:
            if entry.ski is not None and aki is not None and aki == entry.ski:
                return entry
        for entry in candidates:
            if entry.subject_unique:
                return entry
        return None

    @functools.cached_property
    def _by_subject(self) -> Mapping[NameKey, tuple[KnownBad, ...]]:
        # Built once per list; cached_property writes to __dict__, which a frozen dataclass allows.
        index: dict[NameKey, list[KnownBad]] = {}
        for entry in self.entries.values():
            if entry.subject is not None:
                key = name_key(x509.Name.from_rfc4514_string(entry.subject))
                index.setdefault(key, []).append(entry)
        return {key: tuple(found) for key, found in index.items()}


def authority_key_id(cert: x509.Certificate) -> str | None:
    """The key identifier of `cert`'s Authority Key Identifier, lowercase hex; None without one."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        # ValueError: a malformed extension is as good as none for matching.
        return None
    return aki.key_identifier.hex() if aki.key_identifier else None


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX_ID = re.compile(r"^(?:[0-9a-f]{2})+$")


def _subject(raw: Mapping[str, object]) -> str | None:
    subject = raw.get("subject")
    if subject is None:
        return None
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"bad subject {subject!r}")
    try:
        x509.Name.from_rfc4514_string(subject)
    except ValueError as exc:
        raise ValueError(f"subject {subject!r} is not an RFC 4514 name: {exc}") from exc
    return subject


def _ski(raw: Mapping[str, object]) -> str | None:
    ski = raw.get("ski")
    if ski is None:
        return None
    text = str(ski).lower().replace(":", "")
    if not _HEX_ID.match(text):
        raise ValueError(f"bad ski {ski!r}")
    return text


def parse_known_bad(text: str) -> KnownBadList:
    """Parse the known-bad list's TOML; raise `ValueError` when it is malformed."""
    data = tomllib.loads(text)
    version = data.get("version")
    if not isinstance(version, int):
        raise ValueError("known-bad list has no integer `version`")
    entries: dict[str, KnownBad] = {}
    for raw in data.get("roots", []):
        digest = str(raw.get("spki_sha256", "")).lower().replace(":", "")
        if not _HEX64.match(digest):
            raise ValueError(f"bad spki_sha256 {raw.get('spki_sha256')!r}")
        subject = _subject(raw)
        unique = raw.get("subject_unique", False)
        if not isinstance(unique, bool) or (unique and subject is None):
            raise ValueError(f"{raw.get('name')!r}: subject_unique needs a subject and a boolean")
        entries[digest] = KnownBad(
            name=str(raw["name"]),
            spki_sha256=digest,
            reason=str(raw.get("reason", "")),
            source=str(raw.get("source", "")),
            subject=subject,
            ski=_ski(raw),
            subject_unique=unique,
        )
    return KnownBadList(version, entries)


def load_known_bad(path: Path | None = None) -> KnownBadList:
    """The known-bad list at `path`, or the one shipped in resources/; raises on a bad file."""
    if path is not None:
        return parse_known_bad(path.read_text(encoding="utf-8"))
    return _shipped_known_bad()


@functools.cache
def _shipped_known_bad() -> KnownBadList:
    resource = importlib.resources.files("resources").joinpath("known_bad_roots.toml")
    return parse_known_bad(resource.read_text(encoding="utf-8"))


def shipped_known_bad() -> tuple[KnownBadList, KnownBadListRecord]:
    """The shipped known-bad list and what the report says of it; an empty list when it
    cannot be read, with the reason."""
    try:
        known = load_known_bad()
    except (OSError, ValueError, KeyError) as exc:
        return KnownBadList(0, {}), KnownBadListRecord(error=f"{type(exc).__name__}: {exc}")
    return known, KnownBadListRecord(version=known.version, entries=len(known.entries))


def judge(path: ChainPath, sent: Mapping[int, x509.Certificate], store: TrustStore) -> Judgement:
    """A trust store's verdict from the path built against it."""
    if store.error:
        prefix = f"the store could not be read ({store.error}); "
    elif not len(store):
        prefix = "the store holds no certificates; "
    else:
        prefix = ""
    top = sent[path.indices[-1]]
    if path.anchor is not None:
        anchor = display_name(path.anchor.subject)
        return Judgement(trusted=True, detail=f"{prefix}trusted: ends in {anchor}")
    if path.end == "self_signed":
        what = "is self-signed" if len(path.indices) == 1 else "ends in a root"
        detail = f"the chain {what} ({display_name(top.subject)}) that is not in this store"
    elif path.end == "missing_issuer" and path.missing_issuer is not None:
        issuer = display_name(path.missing_issuer)
        detail = f"no certificate for the issuer {issuer} was sent or stored"
    else:
        detail = f"no path to a root ({path.end})"
    return Judgement(trusted=False, detail=f"{prefix}not trusted: {detail}")


def issuing_order(path: ChainPath, sent: Mapping[int, x509.Certificate]) -> list[int]:
    """The sent indices in the order the certificates issue one another: the path, then any
    sent copy of its anchor (unneeded, but where it was sent still shows disorder)."""
    issuing = list(path.indices)
    if path.anchor is not None:
        anchor = identity(path.anchor)
        issuing += [i for i in sorted(sent) if i not in issuing and identity(sent[i]) == anchor]
    return issuing


def top_root(
    path: ChainPath, sent: Mapping[int, x509.Certificate], reference: TrustStore | None
) -> tuple[str, str | None]:
    """Name and fingerprint of the root an untrusted path leads to, as far as it is known:
    the root of `reference` that issued a missing issuer, else the missing issuer's name, else
    the last certificate of the path."""
    top = sent[path.indices[-1]]
    if path.end == "missing_issuer" and path.missing_issuer is not None:
        for root in reference.named(path.missing_issuer) if reference is not None else ():
            if signed_by(top, root) is not False:
                return display_name(root.subject), fingerprint(root)
        return display_name(path.missing_issuer), None
    return display_name(top.subject), fingerprint(top)


def knows_issuer_of(
    path: ChainPath, sent: Mapping[int, x509.Certificate], store: TrustStore
) -> bool:
    """Whether `store` holds a root that issued the last certificate of a path whose issuer is
    missing: then a root is missing from the deciding store, not an intermediate from the chain."""
    if path.missing_issuer is None:
        return False
    top = sent[path.indices[-1]]
    return any(signed_by(top, root) is not False for root in store.named(path.missing_issuer))
