"""Looks for running programs of products known to intercept HTTPS, as supporting evidence."""

from __future__ import annotations

import psutil

from checks.core import policy
from checks.core.check import Cancelled, Check, Context
from checks.core.facts.security_software import SecuritySoftwareFacts
from checks.core.models import Finding, Outcome, Status
from checks.core.platform import OSName, current_os
from checks.lib import net, products


def process_names() -> list[str]:
    """The names of the processes this user may see (others' are skipped, never an error)."""
    names: list[str] = []
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if isinstance(name, str) and name:
            names.append(name)
    return names


def analyse(names: list[str], catalogue: products.Catalogue, os_name: OSName) -> Finding:
    """security_software.present (never a verdict by itself: a running product may not be
    intercepting at all), or security_software.none."""
    found = catalogue.running(names, os_name)
    if not found:
        return Finding("security_software.none", Status.PASS, {})
    known = [p for p in catalogue.products if p.id in found]
    params = {
        "products": ", ".join(p.name for p in known),
        "product_ids": [p.id for p in known],
        "processes": ", ".join(sorted({n for names in found.values() for n in names})),
    }
    return Finding("security_software.present", Status.PASS, params)


def run(ctx: Context) -> Outcome:
    try:
        names = net.in_thread(
            process_names,
            timeout=min(policy.PROCESS_SCAN_TIMEOUT_S, ctx.timeout()),
            cancel=ctx.cancel,
            name="process-scan",
        )
    except Cancelled:
        raise
    except (OSError, psutil.Error) as exc:
        detail = f"{type(exc).__name__}: {exc}"
        finding = Finding("security_software.not_checked", Status.PASS, {"detail": detail})
        return Outcome((finding,), SecuritySoftwareFacts(error=detail))
    catalogue = products.load()
    finding = analyse(names, catalogue, current_os())
    facts = SecuritySoftwareFacts(processes_seen=len(names), catalogue_version=catalogue.version)
    return Outcome((finding,), facts)


CHECK = Check(
    id="security_software",
    scope="local",
    run=run,
    findings={
        "security_software.present": (),
        "security_software.none": (),
        "security_software.not_checked": (),
    },
)
