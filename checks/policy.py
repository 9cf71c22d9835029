"""The thresholds every check judges by, kept in this one module so that policy changes once."""

from __future__ import annotations

# Certificates: keys below these sizes are breakable or refused by current clients
# (CA/Browser Forum Baseline Requirements 6.1.5; NIST SP 800-57 part 1).
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
# DSA is refused by every current browser whatever its size.
DSA_ALLOWED = False

# Signature hashes with practical collision attacks (MD5: 2008 rogue CA; SHA-1: SHAttered 2017).
WEAK_SIGNATURE_HASHES = frozenset({"md5", "sha1"})

# A certificate this close to its end is a warning: renewal has probably failed.
EXPIRES_SOON_DAYS = 14

# Path building against hostile or broken chains: at most this many certificates on one path
# and this many issuer candidates tried in total, so cross-signed cycles always end.
MAX_CHAIN_DEPTH = 10
MAX_CHAIN_CANDIDATES = 200

# Names listed in one finding before the rest is summarised as "+N".
MAX_LISTED_NAMES = 20
