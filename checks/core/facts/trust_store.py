"""What the trust store check measured: the roots this computer trusts, compared with the public
set, what each operating system's store holds, and the bundles programs are pointed at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from checks.core.facts import Facts, absent_when_none
from checks.core.facts.certificate import StoreRecord
from checks.core.platform import OSName

# Why a root is listed: added by an intercepting product, added and not public, known to be
# compromised, a public root many sites need that is missing or distrusted here, or expired.
Why = Literal[
    "interception_product", "not_public", "known_bad", "missing_public", "distrusted", "expired"
]


@dataclass(frozen=True, kw_only=True)
class AnchorFile:
    """A root an administrator dropped into a Linux anchors folder, and the command that adds
    it to the bundle."""

    file: str
    update_command: str


@dataclass(frozen=True, kw_only=True)
class PendingAnchor:
    """A root in an anchors folder that the bundle does not hold yet (the update command was
    not run since); `file` is the path as the distribution names it."""

    subject: str
    file: str


@dataclass(frozen=True, kw_only=True)
class StoreDetails:
    """What only one operating system's store tells; every field is None on the others.

    Attributes:
        bundles_found: Linux: every known bundle path that exists, the one read first.
        bundle, family: Linux: the bundle read and the distribution family it belongs to.
        local_anchor_files: Linux: the roots found in the local anchors folders.
        anchors_not_in_bundle: Linux: those of them the bundle lacks.
        keychains: macOS: certificates per keychain (`system_roots`, `system`, `login`).
        trust_settings: macOS: certificates with a trust setting per domain (`user`, `admin`).
        trust_settings_unreadable: macOS: the domains whose export could not be read.
        in_keychain_but_not_trusted: macOS: CA roots in a keychain with no trust setting.
        root_store, intermediate_store, disallowed_store: Windows: certificates per store.
        authroot_entries: Windows: roots on the list Windows Update maintains.
        disable_root_auto_update, protected_roots_flags: Windows: the policy values as the
            registry holds them, None when not set.
    """

    bundles_found: tuple[str, ...] | None = None
    bundle: str | None = None
    family: str | None = None
    local_anchor_files: tuple[AnchorFile, ...] | None = None
    anchors_not_in_bundle: tuple[PendingAnchor, ...] | None = None
    keychains: Mapping[str, int] | None = None
    trust_settings: Mapping[str, int] | None = None
    trust_settings_unreadable: tuple[str, ...] | None = None
    in_keychain_but_not_trusted: tuple[str, ...] | None = None
    root_store: int | None = None
    intermediate_store: int | None = None
    disallowed_store: int | None = None
    authroot_entries: int | None = None
    disable_root_auto_update: int | str | None = None
    protected_roots_flags: int | str | None = None


@dataclass(frozen=True, kw_only=True)
class RootRecord:
    """A root that differs from the public set, or a public root that is missing here.

    A must-have root that the public set itself lacks is known only by its name and public
    key: it has no `subject_dn` or `not_after`, and `sha256` is empty. `name` and `reason`
    come from the known-bad list, for `known_bad` roots only.
    """

    subject: str
    subject_dn: str | None = absent_when_none()
    sha256: str
    spki_sha256: str
    not_after: str | None = absent_when_none()
    product: str | None
    why: Why
    name: str | None = absent_when_none()
    reason: str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class ExpiredRoot:
    """A trusted root past its end date."""

    subject: str
    sha256: str


# How a bundle's certificate was found on the known-bad list: its own public key, or the key
# identifier and name of the root that issued it.
MatchedBy = Literal["key", "issuer"]


@dataclass(frozen=True, kw_only=True)
class BundleKnownBad:
    """A certificate in a bundle named by a variable whose key, or whose issuer, is on the
    known-bad list; `name` is the list's name for that root."""

    subject: str
    sha256: str
    name: str
    matched_by: MatchedBy


@dataclass(frozen=True, kw_only=True)
class EnvOverrideRecord:
    """A variable that changes which roots some programs trust (see `EnvOverride`).

    Attributes:
        state: `missing_file`, `empty_file`, `unreadable`, `adds`, `system_bundle`,
            `extra_roots` or `set`.
        setting: the option inside the variable that names the file
            (`javax.net.ssl.trustStore` in JAVA_TOOL_OPTIONS); absent for plain variables.
        certificates: how many the file (or directory) holds.
        lacking: names of roots this computer trusts that the file lacks.
        compared_with: what `lacking` and `added` are relative to: `system_roots` (the roots this
            computer trusts) or `public_set` (Mozilla's, when the system's could not be read).
        added_count, added: how many of the file's certificates the compared set lacks, and
            the names of the first of them.
        known_bad: the file's certificates on the known-bad list.
        error: why the file could not be read (`unreadable`), never with a password in it.
    """

    variable: str
    setting: str | None = absent_when_none()
    path: str
    state: str
    certificates: int
    lacking: tuple[str, ...]
    compared_with: str
    added_count: int
    added: tuple[str, ...]
    known_bad: tuple[BundleKnownBad, ...]
    error: str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class CertifiRecord:
    """certifi's bundle against the hash its installer recorded: `verified` is None when there
    is no record to compare with."""

    path: str
    verified: bool | None
    expected: str | None
    actual: str | None


@dataclass(frozen=True, kw_only=True)
class StoreEnumerated(Facts):
    """The roots this computer trusts, as read from its operating system.

    The fields from `bundles_found` to `protected_roots_flags` are those of `StoreDetails`:
    the report holds only those of the operating system the roots were read from (and of a
    Linux bundle only what was found before reading failed).

    Attributes:
        os: the operating system they were read from.
        sources: where they were read from (bundle paths, keychains, store names).
        trusted, distrusted: how many roots are trusted for websites, and explicitly not.
        public_set: the public roots compared with (Mozilla's, or `--known-roots`).
        env_overrides: every set variable that points programs at roots of their own.
        certifi: whether certifi's bundle is the one its package shipped.
        known_bad_list_version, catalogue_version: the versions of the lists compared with.
    """

    check_id = "trust_store"

    os: OSName
    sources: tuple[str, ...]
    trusted: int
    distrusted: int
    public_set: StoreRecord
    bundles_found: tuple[str, ...] | None = absent_when_none()
    bundle: str | None = absent_when_none()
    family: str | None = absent_when_none()
    local_anchor_files: tuple[AnchorFile, ...] | None = absent_when_none()
    anchors_not_in_bundle: tuple[PendingAnchor, ...] | None = absent_when_none()
    keychains: Mapping[str, int] | None = absent_when_none()
    trust_settings: Mapping[str, int] | None = absent_when_none()
    trust_settings_unreadable: tuple[str, ...] | None = absent_when_none()
    in_keychain_but_not_trusted: tuple[str, ...] | None = absent_when_none()
    root_store: int | None = absent_when_none()
    intermediate_store: int | None = absent_when_none()
    disallowed_store: int | None = absent_when_none()
    authroot_entries: int | None = absent_when_none()
    disable_root_auto_update: int | str | None = absent_when_none()
    protected_roots_flags: int | str | None = absent_when_none()


@dataclass(frozen=True, kw_only=True)
class TrustStoreFacts(StoreEnumerated):
    """The store was read and compared with the public set.

    Attributes:
        differing_roots: known-bad, then locally added, then distrusted and missing public roots.
        expired_roots: trusted roots past their end date.
        program_roots_not_in_public_set: roots the OS vendor ships that the public set dropped.
        auto_update_disabled: Windows: whether the on-demand root download is switched off;
            None elsewhere.
    """

    differing_roots: tuple[RootRecord, ...]
    expired_roots: tuple[ExpiredRoot, ...]
    program_roots_not_in_public_set: int
    auto_update_disabled: bool | None
    env_overrides: tuple[EnvOverrideRecord, ...]
    certifi: CertifiRecord
    known_bad_list_version: int
    catalogue_version: int


@dataclass(frozen=True, kw_only=True)
class WindowsTrustStoreFacts(TrustStoreFacts):
    """Windows' stores read and compared: its two policy values are reported even when they
    are not set (as null), where other systems leave them out. Redeclared fields keep their
    place in the report."""

    disable_root_auto_update: int | str | None = None
    protected_roots_flags: int | str | None = None


@dataclass(frozen=True, kw_only=True)
class TrustStoreUnreadable(StoreEnumerated):
    """The store could not be read (`error` says why): nothing was compared."""

    error: str
    env_overrides: tuple[EnvOverrideRecord, ...]
    certifi: CertifiRecord
    known_bad_list_version: int
    catalogue_version: int
