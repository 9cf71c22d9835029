"""Learns how each TLS client on this computer (browsers, curl, Java, ...) treats a server."""

from __future__ import annotations

from checks.core.schemes import protocol_name
from checks.lib.programs.attempt import attempt, speaks
from checks.lib.programs.discover import discover
from checks.lib.programs.models import (
    BROWSERS,
    POLICY_KEYS,
    PROGRAM_IDS,
    REASONS,
    TRUST_STORES,
    Attempt,
    Observed,
    Program,
    Target,
    TrustGap,
)
from checks.lib.programs.policy import BROWSER_POLICY, judge_by_policy
from checks.lib.programs.trustgap import trust_gaps
from checks.lib.programs.upgrade import named_for

__all__ = [
    "BROWSERS",
    "BROWSER_POLICY",
    "POLICY_KEYS",
    "PROGRAM_IDS",
    "REASONS",
    "TRUST_STORES",
    "Attempt",
    "Observed",
    "Program",
    "Target",
    "TrustGap",
    "attempt",
    "discover",
    "judge_by_policy",
    "named_for",
    "protocol_name",
    "speaks",
    "trust_gaps",
]
