"""Judges a server's finite-field Diffie-Hellman group: size, primes, and well-known name."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

# Miller-Rabin with the first 13 primes as bases is a proof below this bound (Sorenson and
# Webster, 2015); the bound itself is the smallest composite that all 13 bases pass.
FIXED_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
DETERMINISTIC_BELOW = 3_317_044_064_679_887_385_961_981
# Past the bound, rounds with bases drawn from a hash of the number follow the fixed ones, so
# that a number built to pass the fixed bases meets bases its maker could not aim at. A random
# composite of 1024 bits or more passes even one round with odds under 2^-40, one of 4096 bits
# under 2^-100 (Damgard, Landrock, Pomerance 1993); a server that wants to be broken needs no
# forged prime, so careless generation is the case to cover, and these rounds cover it.
HASHED_ROUNDS = 3
# A 4096-bit prime costs about 0.1 s a round in pure Python; larger unknown groups would take
# seconds each, and a hostile server could send a 500,000-bit "prime" to hang us.
MAX_TESTED_BITS = 4096
SMALL_PRIMES = tuple(
    n for n in range(3, 2000, 2) if all(n % d for d in range(3, int(n**0.5) + 1, 2))
)

# The order in which one group's problems are named: the first is its finding's variant.
PROBLEMS = ("composite", "invalid", "known_weak", "small", "not_safe_prime")
FAIL_PROBLEMS = ("composite", "invalid")


def _miller_rabin_round(n: int, base: int, d: int, s: int) -> bool:
    """Whether `n` (odd, n - 1 = d * 2^s) passes one strong-probable-prime test to `base`."""
    x = pow(base, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def _hashed_bases(n: int, count: int) -> list[int]:
    seed = n.to_bytes((n.bit_length() + 7) // 8, "big")
    bases = []
    for i in range(count):
        digest = hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
        bases.append(2 + int.from_bytes(digest * 16, "big") % (n - 3))
    return bases


def is_probable_prime(n: int) -> bool:
    """Whether `n` is prime: exact below `DETERMINISTIC_BELOW`, Miller-Rabin beyond it."""
    if n < 2:
        return False
    for prime in (2, *SMALL_PRIMES):
        if n % prime == 0:
            return n == prime
    if n < SMALL_PRIMES[-1] ** 2:
        return True
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    bases: list[int] = list(FIXED_BASES)
    if n >= DETERMINISTIC_BELOW:
        bases += _hashed_bases(n, HASHED_ROUNDS)
    return all(_miller_rabin_round(n, base, d, s) for base in bases)


@functools.lru_cache(maxsize=32)
def primality(p: int) -> tuple[bool, bool]:
    """(p is prime, p is a safe prime: (p - 1) / 2 is prime too), for any p.

    Cached: a server sends the same group on every DHE handshake of a scan.
    """
    q = (p - 1) // 2
    if p >= 5 and p % 2 and p % 3 and is_probable_prime(q):
        # Pocklington: with q prime and q > sqrt(p), one Fermat witness proves p prime,
        # so a safe prime costs one round on p instead of all of them.
        prime = pow(2, p - 1, p) == 1
        return prime, prime
    return is_probable_prime(p), False


# --- well-known groups -----------------------------------------------------------------------

# The longest formula prime is 8192 bits, 130 below which pi and e are needed; extra bits keep
# the truncation errors of the series out of the bits that are kept.
_CONSTANT_BITS = 8192 - 130
_GUARD_BITS = 64


def _arctan_inverse(x: int, one: int) -> int:
    """arctan(1/x), scaled by `one`, by its Taylor series."""
    power = total = one // x
    square, n, sign = x * x, 1, -1
    while power:
        power //= square
        n += 2
        total += sign * (power // n)
        sign = -sign
    return total


@functools.cache
def _pi_scaled() -> int:
    one = 1 << (_CONSTANT_BITS + _GUARD_BITS)
    return 16 * _arctan_inverse(5, one) - 4 * _arctan_inverse(239, one)  # Machin's formula


@functools.cache
def _e_scaled() -> int:
    term, total, n = 1 << (_CONSTANT_BITS + _GUARD_BITS), 0, 0
    while term:
        total += term
        n += 1
        term //= n
    return total


def formula_prime(bits: int, constant: str, offset: int) -> int:
    """p = 2^b - 2^(b-64) - 1 + 2^64 * (floor(2^(b-130) * constant) + offset).

    RFC 2409 and RFC 3526 build their MODP primes from pi, RFC 7919 its ffdhe primes from e.
    """
    scaled = _pi_scaled() if constant == "pi" else _e_scaled()
    middle = scaled >> (_CONSTANT_BITS + _GUARD_BITS - (bits - 130))
    return (1 << bits) - (1 << (bits - 64)) - 1 + ((middle + offset) << 64)


@dataclass(frozen=True)
class KnownGroup:
    """A group published for everyone to use.

    Attributes:
        safe: whether its prime is a safe prime (RFC 5114's are not, and their generation
            was never explained).
        weak: a widely shared group of at most 1024 bits, within reach of precomputation
            (Logjam: one precomputation breaks every server that uses it).
    """

    name: str
    bits: int
    safe: bool
    weak: bool


# name, bits, constant, offset: RFC 2409 section 6, RFC 3526, RFC 7919 appendix A.
FORMULA_GROUPS: tuple[tuple[str, int, str, int], ...] = (
    ("Oakley group 1 (RFC 2409)", 768, "pi", 149686),
    ("Oakley group 2 (RFC 2409)", 1024, "pi", 129093),
    ("MODP group 5 (RFC 3526)", 1536, "pi", 741804),
    ("MODP group 14 (RFC 3526)", 2048, "pi", 124476),
    ("MODP group 15 (RFC 3526)", 3072, "pi", 1690314),
    ("MODP group 16 (RFC 3526)", 4096, "pi", 240904),
    ("MODP group 17 (RFC 3526)", 6144, "pi", 929484),
    ("MODP group 18 (RFC 3526)", 8192, "pi", 4743158),
    ("ffdhe2048 (RFC 7919)", 2048, "e", 560316),
    ("ffdhe3072 (RFC 7919)", 3072, "e", 2625351),
    ("ffdhe4096 (RFC 7919)", 4096, "e", 5736041),
    ("ffdhe6144 (RFC 7919)", 6144, "e", 15705020),
    ("ffdhe8192 (RFC 7919)", 8192, "e", 10965728),
)
# RFC 5114 section 2 has no formula; these are its primes as OpenSSL ships them (the tests
# compare them with `openssl genpkey -pkeyopt dh_rfc5114:N`).
RFC5114_PRIMES: Mapping[str, str] = {
    "RFC 5114 group 22 (1024/160)": (
        "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B61"
        "6073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BF"
        "ACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0"
        "A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371"
    ),
    "RFC 5114 group 23 (2048/224)": (
        "AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75"
        "E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A6"
        "6D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207"
        "C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836"
        "81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074"
        "15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8"
        "BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29"
        "E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F"
    ),
    "RFC 5114 group 24 (2048/256)": (
        "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00"
        "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C"
        "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
        "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76"
        "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
        "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
        "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103"
        "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"
    ),
}
# Precomputation for these is within reach of a nation state (Logjam, 2015).
_SHARED_WEAK = (
    "Oakley group 1 (RFC 2409)",
    "Oakley group 2 (RFC 2409)",
    "RFC 5114 group 22 (1024/160)",
)


@functools.cache
def known_groups() -> Mapping[int, KnownGroup]:
    """Every well-known prime mapped to its group; built on first use (a few milliseconds)."""
    primes = {name: formula_prime(b, c, o) for name, b, c, o in FORMULA_GROUPS}
    primes.update({name: int(text, 16) for name, text in RFC5114_PRIMES.items()})
    return {
        p: KnownGroup(name, p.bit_length(), name not in RFC5114_PRIMES, name in _SHARED_WEAK)
        for name, p in primes.items()
    }


# --- judging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DhAssessment:
    """What one group (and the server's public value in it) is worth.

    Attributes:
        bits: the size of p.
        composite: p is not prime: the "group" gives no security at all.
        not_safe_prime: (p - 1) / 2 is not prime: small subgroups may leak the server's key
            if it reuses it; True for a composite p too.
        known: the name of the well-known group whose prime p is, or None.
        weak_known: a widely shared group of at most 1024 bits (precomputation, Logjam).
        invalid: the values out of range ("g", "Ys"): each must lie in [2, p - 2].
        tested: False when p was too large to test and is no well-known group; `composite`
            and `not_safe_prime` are then False for want of an answer.
    """

    p: int = field(repr=False)
    g: int = field(repr=False)
    bits: int
    composite: bool
    not_safe_prime: bool
    known: str | None
    weak_known: bool
    invalid: tuple[str, ...]
    tested: bool = True

    def problems(self, min_bits: int) -> tuple[str, ...]:
        """The finding variants that apply, the gravest first (see `PROBLEMS`)."""
        found = {
            "composite": self.composite,
            "invalid": bool(self.invalid),
            "known_weak": self.weak_known,
            "small": self.bits < min_bits,
            "not_safe_prime": self.not_safe_prime and not self.composite,
        }
        return tuple(name for name in PROBLEMS if found[name])


def _out_of_range(value: int, p: int) -> bool:
    return not 2 <= value <= p - 2


def assess(p: int, g: int, ys: int) -> DhAssessment:
    """Judge the group (p, g) and the server's public value `ys` in it."""
    invalid = tuple(name for name, v in (("g", g), ("Ys", ys)) if _out_of_range(v, p))
    known = known_groups().get(p)
    if known is not None:
        return DhAssessment(
            p, g, known.bits, False, not known.safe, known.name, known.weak, invalid
        )
    bits = p.bit_length()
    if bits > MAX_TESTED_BITS:
        return DhAssessment(p, g, bits, False, False, None, False, invalid, tested=False)
    prime, safe = primality(p)
    return DhAssessment(p, g, bits, not prime, not safe, None, False, invalid)


@dataclass(frozen=True)
class GroupUse:
    """One group and every suite the server used it with; `assessment` merges their checks."""

    assessment: DhAssessment
    suites: tuple[str, ...]


def by_group(seen: Iterable[tuple[str, DhAssessment]]) -> list[GroupUse]:
    """(suite, assessment) pairs gathered per distinct group (p, g), in the order first seen.

    A public value out of range in any handshake marks the group's use as invalid.
    """
    merged: dict[tuple[int, int], tuple[DhAssessment, list[str]]] = {}
    for suite, assessment in seen:
        key = (assessment.p, assessment.g)
        if key not in merged:
            merged[key] = (assessment, [suite])
            continue
        first, suites = merged[key]
        if suite not in suites:
            suites.append(suite)
        invalid = tuple(dict.fromkeys((*first.invalid, *assessment.invalid)))
        if invalid != first.invalid:
            merged[key] = (replace(first, invalid=invalid), suites)
    return [GroupUse(assessment, tuple(suites)) for assessment, suites in merged.values()]
