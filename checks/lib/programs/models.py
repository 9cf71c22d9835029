"""The values the programs library passes around: programs, targets, attempts and trust gaps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PROGRAM_IDS = (
    "chrome", "edge", "firefox", "safari", "chromium", "curl", "wget", "python", "node", "java",
    "git", "openssl", "psql", "mysql", "dotnet", "powershell",
)  # fmt: skip
BROWSERS = ("chrome", "edge", "firefox", "safari", "chromium")
TRUST_STORES = ("os", "certifi", "node_bundled", "java_cacerts", "nss", "chrome_root_store", "file")
REASONS = (
    "protocol", "cipher", "dh", "signature", "key", "trust", "name", "expired", "not_yet_valid",
    "client_certificate", "network", "timeout", "other",
)  # fmt: skip
# The policy keys a program may carry (any may be missing when it is not known).
POLICY_KEYS = (
    "min_version", "max_version", "security_level", "dh_min_bits", "rsa_min_bits",
    "sha1_signatures", "dhe",
)  # fmt: skip

Result = Literal["connects", "refuses", "unknown"]
Reason = Literal[
    "protocol",
    "cipher",
    "dh",
    "signature",
    "key",
    "trust",
    "name",
    "expired",
    "not_yet_valid",
    "client_certificate",
    "network",
    "timeout",
    "other",
]
How = Literal["ran", "policy"]


@dataclass(frozen=True)
class Program:
    """One TLS client installed on this computer, as far as it could be learned without using it.

    Attributes:
        id: one of PROGRAM_IDS.
        name: for people ("curl", "Google Chrome", "Python 3.11 (urllib)").
        version: the program's own version, when it said.
        path: the executable (or the app bundle on macOS).
        tls_library: "OpenSSL 3.0.19", "GnuTLS", "BoringSSL", "NSS", "JSSE (Java 17.0.15)", ...
        trust_store: one of TRUST_STORES: where its trusted roots come from.
        trust_store_path: the bundle, keystore or profile it reads, when it reads one.
        policy: what it accepts, under POLICY_KEYS, for the keys that are known.
        runnable: whether `attempt()` runs the real program (False for browsers).
        notes: short sentences for people about how it differs from the others.
    """

    id: str
    name: str
    version: str | None
    path: str | None
    tls_library: str | None
    trust_store: str
    trust_store_path: str | None
    policy: Mapping[str, object]
    runnable: bool
    notes: tuple[str, ...] = ()
    # The interpreter or runtime to run, when it differs from `path` (a pyenv shim's target).
    executable: str | None = None
    # Python only: where requests and pip find their roots (certifi's bundle), when importable.
    certifi_path: str | None = None
    # What it says it speaks: curl's `Protocols:` line (lowercase), plus "ldap-starttls" when
    # its LDAP is OpenLDAP's and new enough for StartTLS (7.81+); empty when not known.
    protocols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """The server every program is asked to reach.

    Attributes:
        host: the name as the user gave it (for SNI and the name check).
        port: the TCP port.
        address: a pinned address (the CLI's --resolve); None lets the program resolve `host`.
        cacert: when given, every program trusts exactly this file, as if it had been passed to
            each (curl --cacert, Python cafile=, Node ca:, a Java trust store, ...).
        protocol: what the connection carries once TLS is up: "https", or "smtp", "imap",
            "pop3", "ldap", "ftp", "xmpp", "postgres", "mysql", "nntp", ...
        starttls: the protocol whose plain-text upgrade comes before the handshake, or None
            when TLS starts at once.
    """

    host: str
    port: int
    address: str | None = None
    cacert: Path | None = None
    protocol: str = "https"
    starttls: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What one program did (or, for a browser, would do) with the target.

    Attributes:
        program_id: the Program's id.
        result: "connects"; "refuses" when the program did not get a working TLS connection
            (whatever the reason, network ones included); "unknown" when it could not be run,
            could not be asked in this setting, or said something we cannot interpret.
        reason: one of REASONS; None when it connects.
        detail: the program's own message as one trimmed line, or the policy rule applied.
        how: "ran" (the real program ran) or "policy" (judged from its known policy).
        requests: Python only: the same connection made as requests and pip make it (certifi's
            bundle, or REQUESTS_CA_BUNDLE), when that Python has requests or certifi.
    """

    program_id: str
    result: Result
    reason: Reason | None
    detail: str
    how: How
    requests: Attempt | None = None


@dataclass(frozen=True)
class Observed:
    """What our own probes saw of the server, for programs that cannot be run (browsers).

    Attributes:
        versions: the TLS versions the server accepts ("TLSv1.2", ...).
        suites: the server's cipher suites, IANA names.
        dh_bits: the size of its DHE group, when it offers DHE.
        leaf_key: ("RSA", 2048), ("EC", 256), ...
        sha1_signed: a SHA-1 or MD5 signature in the chain below the root.
        chain_trusted: {"os": ..., "mozilla": ..., "cacert": ...}; None where it is not known.
        name_matches: the certificate names the host.
        dates_valid: now is within every certificate's validity.
    """

    versions: tuple[str, ...]
    suites: tuple[str, ...]
    dh_bits: int | None
    leaf_key: tuple[str, int | None] | None
    sha1_signed: bool
    chain_trusted: Mapping[str, bool | None]
    name_matches: bool
    dates_valid: bool


@dataclass(frozen=True)
class TrustGap:
    """How one program's roots differ from the operating system's.

    Attributes:
        program_id: the Program's id.
        store: as Program.trust_store.
        missing: subjects of roots the OS trusts and this program does not; the locally added
            ones (not in Mozilla's public set) come first.
        extra: subjects of roots this program trusts and the OS does not.
        readable: False when its store could not be read (`detail` says why).
        detail: how the store was read, or why it could not be.
    """

    program_id: str
    store: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    readable: bool
    detail: str = ""
    locally_added_missing: tuple[str, ...] = field(default=())
