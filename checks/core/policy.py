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

# A certificate this close to its end is a warning: renewal has probably failed (certbot and
# most ACME clients renew 30 days ahead; seed 000 recommends an alert 30 days before).
EXPIRES_SOON_DAYS = 30
# This close, connections fail within the week: the warning leads the verdict.
EXPIRES_URGENT_DAYS = 7
# The range the settings accept for the warning (0 turns it off).
EXPIRES_SOON_RANGE = (0, 365)

# Path building against hostile or broken chains: at most this many certificates on one path
# and this many issuer candidates tried in total, so cross-signed cycles always end.
MAX_CHAIN_DEPTH = 10
MAX_CHAIN_CANDIDATES = 200

# Names listed in one finding before the rest is summarised as "+N".
MAX_LISTED_NAMES = 20

# Trust store and interception
#
# Roots much of the web depends on: one missing from this computer's store is a failure (except
# on Windows, which fetches roots on demand). Matched by SubjectPublicKeyInfo SHA-256, so a
# re-issued or cross-signed copy of the same root counts; hashes computed from certifi 2026.10.18.
MUST_HAVE_ROOTS: tuple[tuple[str, str], ...] = (
    ("ISRG Root X1", "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3"),
    ("ISRG Root X2", "762195c225586ee6c0237456e2107dc54f1efc21f61a792ebd515913cce68332"),
    ("DigiCert Global Root G2", "8bb593a93be1d0e8a822bb887c547890c3e706aad2dab76254f97fb36b82fc26"),
    ("DigiCert Global Root G3", "b94c198300cec5c057ad0727b70bbe91816992256439a7b32f4598119dda9c97"),
    (
        "USERTrust RSA Certification Authority",
        "c784333d20bcd742b9fdc3236f4e509b8937070e73067e254dd3bf9c45bf4dde",
    ),
    (
        "USERTrust ECC Certification Authority",
        "2021917e98263945c859c43f1d73cb4139053c414fa03ca3bc7ee88614298f3b",
    ),
    ("GTS Root R1", "871a9194f4eed5b312ff40c84c1d524aed2f778bbff25f138cf81f680a7adc67"),
    ("GTS Root R4", "9847e5653e5e9e847516e5cb818606aa7544a19be67fd7366d506988e8d84347"),
    ("Amazon Root CA 1", "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"),
    (
        "GlobalSign Root CA - R3",
        "706bb1017c855c59169bad5c1781cf597f12d2cad2f63d1a4aa37493800ffb80",
    ),
    (
        "Go Daddy Root Certificate Authority - G2",
        "2a8f2d8af0eb123898f74c866ac3fa669054e23c17bc7a95bd0234192dc635d0",
    ),
    (
        "Microsoft RSA Root Certificate Authority 2017",
        "b2f7298b52bf2c3cac4ddfe72de4d682ac58957595982f2b62301af597c699c5",
    ),
)
# Variables that change which roots some programs trust (a missing or empty file is a classic
# failure). The first six are what OpenSSL, requests, curl, Node and the AWS tools read.
TRUST_ENV_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "AWS_CA_BUNDLE",
    "PIP_CERT",
    "GIT_SSL_CAINFO",
)
# Microsoft's own roots in every Windows ROOT store (timestamping and legacy code signing) that
# are not in Mozilla's set and not in the AuthRoot list; never "added locally".
WINDOWS_BUILTIN_ROOT_NAMES = frozenset(
    {
        "Microsoft Root Authority",
        "Microsoft Root Certificate Authority",
        "Microsoft Root Certificate Authority 2010",
        "Microsoft Root Certificate Authority 2011",
        "Copyright (c) 1997 Microsoft Corp.",
        "Microsoft Authenticode(tm) Root Authority",
        "Symantec Enterprise Mobile Root for Microsoft",
        "Thawte Timestamping CA",
        "NO LIABILITY ACCEPTED, (c)97 VeriSign, Inc.",
    }
)
# Roots listed one by one in a finding; the facts keep them all.
MAX_LISTED_ROOTS = 20
# An SSL_CERT_DIR is read up to this many files (a hashed directory can hold thousands).
MAX_CERT_DIR_FILES = 500
# Interception: at most this many canaries, fetched this many at a time; a canary's name
# lookup gets at most this long, as in the DNS check.
MAX_CANARIES = 8
MAX_PARALLEL_CANARIES = 4
CANARY_LOOKUP_TIMEOUT_S = 3.0
# A proxy's answer to CONNECT longer than this is not a proxy's answer.
MAX_PROXY_REPLY_BYTES = 64 * 1024
# Captive portal probes: all of them together take about this long at most (they run in
# parallel), and no more of a reply is read than this.
PORTAL_PROBE_TIMEOUT_S = 3.0
MAX_PORTAL_REPLY_BYTES = 64 * 1024
# Listing running processes must not hold up a run on a machine with thousands of them.
PROCESS_SCAN_TIMEOUT_S = 5.0

# Protocols and ciphers
# Protocol enumeration is gentle: at most this many connections to the target at once, and at
# most this many handshakes in one scan (a full scan of a broad legacy server needs about 100).
PROTOCOL_MAX_CONNECTIONS = 2
PROTOCOL_MAX_HANDSHAKES = 400
# Diffie-Hellman groups below 2048 bits are within reach of well-funded attackers (Logjam,
# 2015; NIST SP 800-57 part 1 deprecates them) and refused by current browsers.
MIN_DH_BITS = 2048

# Clock
# Chrome calls a clock wrong from 5 minutes off; we fail only when it is off by that much even
# after granting the whole measurement uncertainty, and warn from one minute, where sign-in
# codes (TOTP, 30 s steps) and Kerberos (5 minutes, but tight on many networks) start to fail.
CLOCK_WARN_S = 60.0
CLOCK_FAIL_S = 300.0
# A clock this far behind gets the dead-CMOS-battery hint ("falls back years at each boot").
CLOCK_YEARS_S = 365 * 86400
# Every time zone is a whole multiple of 15 minutes from UTC, and zones span UTC-12 to UTC+14:
# an offset within 90 s (the time it takes to set a clock by hand) of a non-zero multiple, and
# no larger than 26 hours, is a wrong zone or daylight saving rule, not a wrong clock.
CLOCK_ZONE_STEP_S = 900
CLOCK_ZONE_TOLERANCE_S = 90.0
CLOCK_ZONE_MAX_S = 26 * 3600
# Chrome's offline bounds: a clock earlier than the build minus 2 days is certainly wrong; one
# later than the build plus 365 days probably is (or this copy is old, hence only a warning).
CLOCK_BUILD_BEFORE_S = 2 * 86400
CLOCK_BUILD_AFTER_S = 365 * 86400
# NTP servers agree when within 1 s (plus their own uncertainty) of the median; HTTP Date
# headers, with one-second resolution and slow paths, when within 5 s.
CLOCK_NTP_AGREEMENT_S = 1.0
CLOCK_HTTP_DATE_AGREEMENT_S = 5.0
# An offline machine must get its clock answer within about 3 seconds: each NTP name lookup
# and each NTP query (all in parallel) and the HTTP Date fallback get at most this long.
CLOCK_NTP_LOOKUP_TIMEOUT_S = 1.0
CLOCK_NTP_TIMEOUT_S = 1.5
CLOCK_HTTP_DATE_TIMEOUT_S = 2.0
# Addresses asked per NTP server and family: enough to see that a family works, few packets.
CLOCK_NTP_ADDRESSES_PER_FAMILY = 2
