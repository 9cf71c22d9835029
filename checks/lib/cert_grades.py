"""Grades the certificates of a chain one by one: names, dates, signature, key, known-bad keys."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cryptography import x509

from checks.core import policy
from checks.core.facts.certificate import Position
from checks.core.models import Finding, Status
from checks.lib.certinfo import (
    common_name_matches,
    common_names,
    display_name,
    dns_names,
    host_matches,
    ip_names,
    is_self_signed,
    iso,
    key_strength,
    signature_hash,
    spki_sha256,
    www_alternative,
)
from checks.lib.trust import KnownBadList

DAY = timedelta(days=1)


def listed(names: Sequence[str]) -> list[str]:
    shown = list(names[: policy.MAX_LISTED_NAMES])
    if len(names) > len(shown):
        # Language-neutral so the list reads the same in every translation.
        shown.append(f"… (+{len(names) - len(shown)})")
    return shown


def sent_index(index: int | None) -> dict[str, object]:
    """The `index` param naming the certificate a finding is about; none for a store's root."""
    return {} if index is None else {"index": index}


def check_hostname(cert: x509.Certificate, host: str, *, is_ip: bool) -> Finding | None:
    """`cert.hostname_mismatch` or `cert.no_san` when the server's certificate does not cover
    `host`."""
    if host_matches(cert, host, is_ip=is_ip):
        return None
    sans = dns_names(cert) + ip_names(cert)
    cns = common_names(cert)
    if not sans and common_name_matches(cert, host, is_ip=is_ip):
        return Finding("cert.no_san", Status.FAIL, {"index": 0, "host": host, "cn": ", ".join(cns)})
    names = sans or cns
    params: dict[str, object] = {
        "index": 0,
        "host": host,
        "names": listed(names),
        "names_total": len(names),
        "suggestion": None,
    }
    if is_ip:
        # By address no site name (SNI) is sent: a shared host answers with its default site.
        params["variant"] = "by_address"
    else:
        alternative = www_alternative(host)
        if host_matches(cert, alternative, is_ip=False):
            params.update(suggestion=alternative, variant="www")
    return Finding("cert.hostname_mismatch", Status.FAIL, params)


def check_validity(
    cert: x509.Certificate,
    *,
    index: int,
    position: Position,
    now: datetime,
    soon_days: int = policy.EXPIRES_SOON_DAYS,
) -> list[Finding]:
    """Expired, not yet valid, or expiring within `soon_days` days (urgent within
    `policy.EXPIRES_URGENT_DAYS`)."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    params: dict[str, object] = {
        "index": index,
        "which": position,
        "position": position,
        "subject": display_name(cert.subject),
        "not_before": iso(not_before),
        "not_after": iso(not_after),
    }
    if position == "intermediate":
        params["variant"] = "intermediate"
    if now < not_before:
        days = math.ceil((not_before - now) / DAY)
        return [Finding("cert.not_yet_valid", Status.FAIL, {**params, "days": days})]
    if now > not_after:
        days = (now - not_after) // DAY
        return [Finding("cert.expired", Status.FAIL, {**params, "days": days})]
    left = not_after - now
    if left < timedelta(days=soon_days):
        params.pop("variant", None)
        params["days"] = left // DAY
        if left < timedelta(days=policy.EXPIRES_URGENT_DAYS):
            params["variant"] = "urgent"
        return [Finding("cert.expires_soon", Status.WARN, params)]
    return []


def check_signature(cert: x509.Certificate, *, index: int, position: Position) -> Finding | None:
    """`cert.weak_signature` for an MD5 or SHA-1 signature (not to be used on roots)."""
    algorithm = signature_hash(cert)
    if algorithm not in policy.WEAK_SIGNATURE_HASHES:
        return None
    params = {
        "index": index,
        "subject": display_name(cert.subject),
        "position": position,
        "algorithm": algorithm,
    }
    return Finding("cert.weak_signature", Status.FAIL, params)


def check_key(cert: x509.Certificate, *, index: int | None, position: Position) -> Finding | None:
    """`cert.weak_key` for RSA or EC keys under the policy minimum and for any DSA key."""
    key_type, bits = key_strength(cert)
    minimum = {"RSA": policy.MIN_RSA_BITS, "EC": policy.MIN_EC_BITS}.get(key_type)
    params: dict[str, object] = {
        **sent_index(index),
        "subject": display_name(cert.subject),
        "position": position,
        "key_type": key_type,
        "bits": bits,
        "minimum": minimum,
    }
    if key_type == "DSA" and not policy.DSA_ALLOWED:
        return Finding("cert.weak_key", Status.FAIL, {**params, "variant": "dsa"})
    if minimum is not None and bits is not None and bits < minimum:
        return Finding("cert.weak_key", Status.FAIL, params)
    return None


def check_known_bad(
    cert: x509.Certificate, *, index: int | None, position: Position, known_bad: KnownBadList
) -> Finding | None:
    """`cert.known_bad_root` when the certificate's key is on the known-bad list."""
    entry = known_bad.entries.get(spki_sha256(cert))
    if entry is None:
        return None
    params = {
        **sent_index(index),
        "name": entry.name,
        "subject": display_name(cert.subject),
        "position": position,
        "spki_sha256": entry.spki_sha256,
        "reason": entry.reason,
    }
    if position == "leaf":
        # A server certificate whose key was published: nothing to remove from a store.
        params["variant"] = "leaf"
    return Finding("cert.known_bad_root", Status.FAIL, params)


def grade(
    cert: x509.Certificate,
    index: int,
    position: Position,
    now: datetime,
    *,
    dated: bool,
    soon_days: int = policy.EXPIRES_SOON_DAYS,
) -> list[Finding]:
    findings = (
        check_validity(cert, index=index, position=position, now=now, soon_days=soon_days)
        if dated
        else []
    )
    checks = [
        # A self-signature proves nothing, so its hash does not matter either.
        None if is_self_signed(cert) else check_signature(cert, index=index, position=position),
        check_key(cert, index=index, position=position),
    ]
    return findings + [f for f in checks if f is not None]


def known_bad_findings(
    certs: Iterable[tuple[x509.Certificate, int | None, Position]], known_bad: KnownBadList
) -> list[Finding]:
    """One finding per known-bad key, however many certificates carry it (`index` None: the
    store's root, not sent)."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for cert, index, position in certs:
        digest = spki_sha256(cert)
        if digest in seen:
            continue
        seen.add(digest)
        bad = check_known_bad(cert, index=index, position=position, known_bad=known_bad)
        if bad is not None:
            findings.append(bad)
    return findings


# The smallest RSA and EC keys OpenSSL accepts at each security level (SSL_CTX_set_security_level).
_LEVEL_RSA_BITS = {0: 0, 1: 1024, 2: 2048, 3: 3072, 4: 7680, 5: 15360}
_LEVEL_EC_BITS = {0: 0, 1: 160, 2: 224, 3: 256, 4: 384, 5: 512}


def refused_at_level(finding: Finding, level: int) -> bool:
    """Whether a client at OpenSSL security `level` refuses the chain for this weak key or
    signature: then it does not merely weaken the connection here, it stops it."""
    if finding.id == "cert.weak_signature":
        return level >= 1  # OpenSSL 3 refuses SHA-1 and MD5 signatures from level 1 up
    if finding.id != "cert.weak_key":
        return False
    bits = finding.params.get("bits")
    key_type = finding.params.get("key_type")
    if finding.params.get("variant") == "dsa":
        return level >= 1
    table = {"RSA": _LEVEL_RSA_BITS, "EC": _LEVEL_EC_BITS}.get(str(key_type))
    return table is not None and isinstance(bits, int) and bits < table.get(level, 0)
