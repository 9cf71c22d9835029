"""Judges what a program that cannot be run (a browser) would do, from its published policy."""

from __future__ import annotations

from collections.abc import Mapping

from checks.core.platform import OSName, current_os
from checks.lib.cipher_suites import VERSIONS
from checks.lib.programs.models import Attempt, Observed, Program, Reason, Result

# What each browser accepts. Sources:
# - Chrome/Edge/Chromium (BoringSSL): TLS 1.0/1.1 removed in Chrome 84 (2020, "Remove TLS 1.0
#   and 1.1", chromestatus 5759116003770368); DHE suites removed in Chrome 53 (2016, "Remove
#   DHE-based ciphers", chromestatus 5128908798164992); SHA-1 certificates distrusted in Chrome
#   56 (2017, security.googleblog.com "The end of SHA-1 on the Public Web"); RSA keys under 1024
#   bits refused (ERR_CERT_WEAK_KEY, net/cert/cert_verify_proc.cc). Edge follows Chromium.
# - Firefox (NSS): TLS 1.0/1.1 off since Firefox 78 (security.tls.version.min = 3); DHE suites
#   removed in Firefox 78 (bugzilla 1496639); SHA-1 distrusted since Firefox 52 (2017); RSA
#   under 1024 bits refused (mozilla::pkix, MINIMUM_NON_ECC_BITS = 1024 in the pkix trust domain).
# - Safari (Apple): TLS 1.0/1.1 deprecated in 2020 and refused by Safari 15+ (WebKit blog
#   "Deprecation of Legacy TLS 1.0 and 1.1 Versions"); SHA-1 and RSA under 2048 bits refused
#   since macOS 10.15 (Apple support HT210176, "Requirements for trusted certificates"). Apple
#   publishes nothing about DHE, so DHE is not judged for Safari.
BROWSER_POLICY: Mapping[str, Mapping[str, object]] = {
    "chrome": {"min_version": "TLSv1.2", "max_version": "TLSv1.3", "dhe": False,
               "sha1_signatures": False, "rsa_min_bits": 1024},
    "firefox": {"min_version": "TLSv1.2", "max_version": "TLSv1.3", "dhe": False,
                "sha1_signatures": False, "rsa_min_bits": 1024},
    "safari": {"min_version": "TLSv1.2", "max_version": "TLSv1.3", "sha1_signatures": False,
               "rsa_min_bits": 2048},
}  # fmt: skip
BROWSER_POLICY = {**BROWSER_POLICY, "edge": BROWSER_POLICY["chrome"]}
BROWSER_POLICY = {**BROWSER_POLICY, "chromium": BROWSER_POLICY["chrome"]}

# OpenSSL's security levels: the smallest RSA key and DH group each accepts (SSL_CTX_set_security
# _level(3)); from level 1 on, OpenSSL 3 also refuses SHA-1 signatures.
_LEVEL_BITS = {1: 1024, 2: 2048, 3: 3072, 4: 7680, 5: 15360}


def openssl_policy(
    level: int | None, min_version: str | None = None, max_version: str | None = None
) -> dict[str, object]:
    """The policy keys an OpenSSL 3 client at `level` gets (unknown keys are left out)."""
    policy: dict[str, object] = {}
    if min_version:
        policy["min_version"] = min_version
    if max_version:
        policy["max_version"] = max_version
    if level is not None:
        policy["security_level"] = level
        bits = _LEVEL_BITS.get(level)
        if bits is not None:
            policy["dh_min_bits"] = policy["rsa_min_bits"] = bits
        policy["sha1_signatures"] = level < 1
    return policy


def _family(program_id: str) -> str:
    return "chrome" if program_id in ("chrome", "edge", "chromium") else program_id


def _allowed_versions(policy: Mapping[str, object]) -> list[str]:
    low, high = policy.get("min_version"), policy.get("max_version")
    start = VERSIONS.index(low) if isinstance(low, str) and low in VERSIONS else 0
    end = VERSIONS.index(high) if isinstance(high, str) and high in VERSIONS else len(VERSIONS) - 1
    return list(VERSIONS[start : end + 1])


def _is_dhe(suite: str) -> bool:
    return "_DHE_" in suite or suite.startswith("TLS_DHE_")


def _trust(
    program: Program, chain_trusted: Mapping[str, bool | None], os_name: OSName
) -> tuple[bool | None, str]:
    """Whether the program trusts the chain, and the rule used."""
    if "cacert" in chain_trusted:
        return chain_trusted["cacert"], "trusts the --cacert file alone"
    mozilla, system = chain_trusted.get("mozilla"), chain_trusted.get("os")
    store = program.trust_store
    if store == "os":
        return system, "uses the operating system's roots"
    if store == "nss":
        enterprise = bool(program.policy.get("enterprise_roots")) and os_name != "linux"
        if enterprise and (system or mozilla):
            return True, "Mozilla's roots plus the OS roots (security.enterprise_roots.enabled)"
        if mozilla is None:
            return None, "Mozilla's roots"
        return mozilla, "Mozilla's roots" + (" plus the OS roots" if enterprise else "")
    if store == "chrome_root_store":
        # The Chrome Root Store holds about Mozilla's set of public CAs here; roots the user or
        # an administrator added come from the OS store on Windows and macOS, but on Linux from
        # the NSS database (~/.pki/nssdb), which our probes do not read.
        if mozilla:
            return True, "the Chrome Root Store (about Mozilla's public roots)"
        if system and os_name != "linux":
            return True, "a root added to the operating system's store"
        if system:
            return None, "trusted only by /etc/ssl/certs, which Chrome on Linux does not read"
        if mozilla is None or system is None:
            return None, "the Chrome Root Store"
        return False, "neither the Chrome Root Store nor the OS store holds the root"
    return None, f"its {store} store was not compared"


def judge_by_policy(
    program: Program, observed: Observed, *, os_name: OSName | None = None
) -> Attempt:
    """What `program` would do with a server like `observed`, by its published policy.

    The handshake rules come first (versions, suites, the DH group), then the certificate's
    (trust, signatures, key size, dates, name), as the browsers check them.
    """
    os_name = os_name or current_os()
    defaults = BROWSER_POLICY.get(_family(program.id), {})
    policy = {**defaults, **program.policy}

    def verdict(result: Result, reason: Reason | None, detail: str) -> Attempt:
        return Attempt(program.id, result, reason, f"{program.name}: {detail}", "policy")

    allowed = _allowed_versions(policy)
    common = [v for v in observed.versions if v in allowed]
    if observed.versions and not common:
        offered = ", ".join(observed.versions)
        return verdict(
            "refuses", "protocol", f"speaks {allowed[0]} or newer; the server only {offered}"
        )
    legacy_suites = [s for s in observed.suites if not s.startswith("TLS_AES_")]
    tls13 = "TLSv1.3" in common
    only_dhe = bool(legacy_suites) and all(_is_dhe(s) for s in legacy_suites) and not tls13
    if only_dhe and policy.get("dhe") is False:
        return verdict(
            "refuses", "cipher", "offers no DHE suites, and the server offers only DHE suites"
        )
    dh_min = policy.get("dh_min_bits")
    if only_dhe and observed.dh_bits and isinstance(dh_min, int) and observed.dh_bits < dh_min:
        return verdict(
            "refuses",
            "dh",
            f"needs a DH group of {dh_min} bits; the server's has {observed.dh_bits}",
        )
    trusted, rule = _trust(program, observed.chain_trusted, os_name)
    if trusted is False:
        return verdict("refuses", "trust", f"does not trust the chain: {rule}")
    if observed.sha1_signed and policy.get("sha1_signatures") is False:
        return verdict("refuses", "signature", "refuses SHA-1 and MD5 signatures in the chain")
    rsa_min = policy.get("rsa_min_bits")
    if observed.leaf_key and observed.leaf_key[0].upper() == "RSA" and isinstance(rsa_min, int):
        bits = observed.leaf_key[1]
        if bits is not None and bits < rsa_min:
            return verdict(
                "refuses", "key", f"needs RSA keys of {rsa_min} bits; the server's has {bits}"
            )
    if not observed.dates_valid:
        return verdict("refuses", "expired", "the certificate is outside its validity dates")
    if not observed.name_matches:
        return verdict("refuses", "name", "the certificate does not name the host")
    if trusted is None:
        return verdict("unknown", "trust", f"whether it trusts the chain is not known: {rule}")
    return verdict("connects", None, f"allows this server ({rule})")
