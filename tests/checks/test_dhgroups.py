"""The DH group judge: its primality test, safe primes, and every well-known group checked
against OpenSSL's own copy."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import shutil
import subprocess
import time

import pytest

from checks.lib import dhgroups
from checks.lib.dhgroups import assess, is_probable_prime, primality

OPENSSL = "openssl"
LIMIT = 20_000
# OpenSSL's own copies of the groups come from Debian's OpenSSL 3, through its program and its
# library; the other systems have neither (the tests below that use them are skipped there).
needs_openssl_3_program = pytest.mark.linux_only(
    "runs OpenSSL 3's `openssl genpkey -pkeyopt group:…`; macOS has LibreSSL's openssl, "
    "without those groups, and Windows has no openssl of its own"
)


def _sieve(limit: int) -> list[bool]:
    flags = [False, False] + [True] * (limit - 2)
    for n in range(2, int(limit**0.5) + 1):
        if flags[n]:
            flags[n * n :: n] = [False] * len(flags[n * n :: n])
    return flags


SIEVE = _sieve(LIMIT)


def test_primality_agrees_with_a_sieve() -> None:
    assert [n for n in range(-3, LIMIT) if is_probable_prime(n)] == [
        n for n in range(LIMIT) if SIEVE[n]
    ]


def test_safe_primes_agree_with_a_sieve() -> None:
    for p in range(LIMIT):
        safe = SIEVE[p] and p >= 5 and SIEVE[(p - 1) // 2]
        assert primality(p) == (SIEVE[p], safe), p


# Carmichael numbers fool the Fermat test for every base prime to them.
CARMICHAEL = (561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265, 321197185, 5394826801)
# Chernick: (6k+1)(12k+1)(18k+1) is a Carmichael number when all three factors are prime; this
# k gives a 101-bit one, past the bound where the fixed bases alone decide.
CHERNICK_K = 1_073_742_435


def _trial_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def test_carmichael_numbers_are_composite() -> None:
    for n in CARMICHAEL:
        assert not is_probable_prime(n), n
    factors = [6 * CHERNICK_K + 1, 12 * CHERNICK_K + 1, 18 * CHERNICK_K + 1]
    assert all(_trial_prime(f) for f in factors)
    n = factors[0] * factors[1] * factors[2]
    assert n > dhgroups.DETERMINISTIC_BELOW
    # Korselt's criterion: every prime factor f has f - 1 dividing n - 1.
    assert all((n - 1) % (f - 1) == 0 for f in factors)
    assert not is_probable_prime(n)


# (n, its factors): strong pseudoprimes to the first 4, 9, 12 and 13 prime bases.
STRONG_PSEUDOPRIMES = (
    (3_215_031_751, (151, 751, 28351)),
    (3_825_123_056_546_413_051, (149491, 747451, 34233211)),
    (318_665_857_834_031_151_167_461, (399165290221, 798330580441)),
    (3_317_044_064_679_887_385_961_981, (1287836182261, 2575672364521)),
)


def _passes_fixed_bases(n: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    return all(dhgroups._miller_rabin_round(n, b, d, s) for b in dhgroups.FIXED_BASES)


def test_strong_pseudoprimes_are_caught() -> None:
    for n, factors in STRONG_PSEUDOPRIMES:
        product = 1
        for f in factors:
            product *= f
        assert product == n
        assert not is_probable_prime(n), n
    # The last one passes every fixed base: only the bases drawn from its hash catch it.
    worst = STRONG_PSEUDOPRIMES[-1][0]
    assert worst == dhgroups.DETERMINISTIC_BELOW
    assert _passes_fixed_bases(worst)


MERSENNE_EXPONENTS = (61, 89, 107, 127, 521, 607, 1279, 2203)


def test_large_known_primes_and_composites() -> None:
    for e in MERSENNE_EXPONENTS:
        assert is_probable_prime(2**e - 1), e
    for e in (67, 101, 257, 1277):  # Mersenne numbers known to be composite
        assert not is_probable_prime(2**e - 1), e
    assert not is_probable_prime((2**521 - 1) * (2**607 - 1))
    assert not is_probable_prime(2**128 + 1)
    assert primality(2**521 - 1) == (True, False)


# openssl's option for each group, and the name we give it.
OPENSSL_GROUPS = {
    "group:modp_1536": "MODP group 5 (RFC 3526)",
    "group:modp_2048": "MODP group 14 (RFC 3526)",
    "group:modp_3072": "MODP group 15 (RFC 3526)",
    "group:modp_4096": "MODP group 16 (RFC 3526)",
    "group:modp_6144": "MODP group 17 (RFC 3526)",
    "group:modp_8192": "MODP group 18 (RFC 3526)",
    "group:ffdhe2048": "ffdhe2048 (RFC 7919)",
    "group:ffdhe3072": "ffdhe3072 (RFC 7919)",
    "group:ffdhe4096": "ffdhe4096 (RFC 7919)",
    "group:ffdhe6144": "ffdhe6144 (RFC 7919)",
    "group:ffdhe8192": "ffdhe8192 (RFC 7919)",
    "dh_rfc5114:1": "RFC 5114 group 22 (1024/160)",
    "dh_rfc5114:2": "RFC 5114 group 23 (2048/224)",
    "dh_rfc5114:3": "RFC 5114 group 24 (2048/256)",
}
# OpenSSL 3 no longer names the RFC 2409 groups on its command line; libcrypto still has them.
LIBCRYPTO_GROUPS = {
    "BN_get_rfc2409_prime_768": "Oakley group 1 (RFC 2409)",
    "BN_get_rfc2409_prime_1024": "Oakley group 2 (RFC 2409)",
}


def der_integers(der: bytes) -> list[int]:
    """The INTEGERs of a DER SEQUENCE (DHParameter or X9.42 DomainParameters)."""

    def length(at: int) -> tuple[int, int]:
        first = der[at]
        if first < 0x80:
            return first, at + 1
        count = first & 0x7F
        return int.from_bytes(der[at + 1 : at + 1 + count], "big"), at + 1 + count

    assert der[0] == 0x30
    _, at = length(1)
    found = []
    while at < len(der):
        tag = der[at]
        size, start = length(at + 1)
        if tag == 0x02:
            found.append(int.from_bytes(der[start : start + size], "big"))
        at = start + size
    return found


def openssl_group(option: str) -> tuple[int, int]:
    """(p, g) of a named group, as `openssl genpkey -genparam` writes it."""
    if shutil.which(OPENSSL) is None:
        pytest.skip("no openssl binary")
    pem = subprocess.run(
        [OPENSSL, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", option],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    p, g, *_ = der_integers(base64.b64decode(body))
    return p, g


def libcrypto_prime(function: str) -> int:
    name = ctypes.util.find_library("crypto")
    if name is None:
        pytest.skip("no libcrypto")
    lib = ctypes.CDLL(name)
    get = getattr(lib, function)
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    to_hex = lib.BN_bn2hex
    to_hex.restype, to_hex.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    bignum = get(None)
    text = ctypes.string_at(to_hex(bignum)).decode()
    lib.BN_free.argtypes = [ctypes.c_void_p]
    lib.BN_free(bignum)
    return int(text, 16)


@needs_openssl_3_program
@pytest.mark.parametrize("option", list(OPENSSL_GROUPS))
def test_each_group_openssl_knows_is_recognised(option: str) -> None:
    p, g = openssl_group(option)
    found = assess(p, g, 2)
    assert found.known == OPENSSL_GROUPS[option]
    assert found.bits == p.bit_length()
    rfc5114 = option.startswith("dh_rfc5114")
    assert found.not_safe_prime is rfc5114
    assert found.weak_known is (option == "dh_rfc5114:1")
    assert not found.composite
    assert not found.invalid


@pytest.mark.linux_only(
    "loads libcrypto with ctypes: macOS aborts a process that loads its unversioned "
    "/usr/lib/libcrypto.dylib, and Windows has no libcrypto to find"
)
@pytest.mark.parametrize("function", list(LIBCRYPTO_GROUPS))
def test_the_rfc_2409_groups_match_libcrypto(function: str) -> None:
    found = assess(libcrypto_prime(function), 2, 2)
    assert found.known == LIBCRYPTO_GROUPS[function]
    assert found.weak_known
    assert found.problems(2048)[0] == "known_weak"


def test_every_well_known_group_is_covered_and_the_formula_groups_are_safe_primes() -> None:
    groups = dhgroups.known_groups()
    names = {group.name for group in groups.values()}
    assert names == set(OPENSSL_GROUPS.values()) | set(LIBCRYPTO_GROUPS.values())
    for p, group in groups.items():
        assert group.bits == p.bit_length()
        if group.bits <= 2048:  # larger ones cost seconds; openssl vouches for them above
            assert primality(p) == (True, group.safe), group.name


def test_known_groups_are_built_quickly_and_once() -> None:
    dhgroups.known_groups.cache_clear()
    dhgroups._pi_scaled.cache_clear()
    dhgroups._e_scaled.cache_clear()
    started = time.perf_counter()
    groups = dhgroups.known_groups()
    # About 5 ms on a laptop; generous for a loaded CI machine.
    assert time.perf_counter() - started < 0.5
    assert dhgroups.known_groups() is groups


@needs_openssl_3_program
def test_out_of_range_values_are_invalid() -> None:
    p, _ = openssl_group("group:ffdhe2048")
    assert assess(p, 2, 12345).problems(2048) == ()
    for g, ys, bad in ((1, 5, ("g",)), (2, 1, ("Ys",)), (2, p - 1, ("Ys",)), (p, 0, ("g", "Ys"))):
        found = assess(p, g, ys)
        assert found.invalid == bad
        assert found.problems(2048) == ("invalid",)


def test_problems_are_named_gravest_first() -> None:
    composite = (2**521 - 1) * (2**607 - 1)
    found = assess(composite, 2, 3)
    assert (found.composite, found.not_safe_prime, found.known) == (True, True, None)
    assert found.problems(2048) == ("composite", "small")
    # A DSA-style prime: p - 1 has a large prime factor q, but (p - 1) / 2 is not prime.
    q = 2**127 - 1
    k = next(k for k in range(4, 10**6, 2) if is_probable_prime(k * q + 1))
    dsa_style = assess(k * q + 1, 2, 3)
    assert dsa_style.problems(128) == ("not_safe_prime",)
    assert dsa_style.problems(2048) == ("small", "not_safe_prime")
    safe = assess(7, 2, 3)
    assert safe.problems(2) == ()


def test_groups_too_large_to_test_are_left_untested() -> None:
    huge = 2**5000 + 1
    started = time.perf_counter()
    found = assess(huge, 2, 3)
    assert time.perf_counter() - started < 0.5
    assert (found.tested, found.composite, found.not_safe_prime) == (False, False, False)
    assert found.problems(2048) == ()


@needs_openssl_3_program
def test_uses_are_gathered_per_group_and_merge_their_out_of_range_values() -> None:
    p, _ = openssl_group("group:ffdhe2048")
    uses = dhgroups.by_group(
        [
            ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", assess(p, 2, 3)),
            ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", assess(p, 2, 1)),
            ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", assess(2**127 - 1, 2, 3)),
        ]
    )
    assert [u.suites for u in uses] == [
        ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
        ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA",),
    ]
    assert uses[0].assessment.invalid == ("Ys",)
    assert uses[0].assessment.known == "ffdhe2048 (RFC 7919)"
