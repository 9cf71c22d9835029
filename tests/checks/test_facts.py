"""The typed facts: frozen, named after their check, written to JSON field by field."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import threading

import pytest

import checks.core.facts as facts_package
from checks import registry
from checks.core.check import Context
from checks.core.config import Settings
from checks.core.facts import NO_FACTS, Facts, absent_when_none, facts_of
from checks.core.facts.dns import DnsFacts
from checks.core.facts.tcp import Attempt, TcpFacts
from checks.core.models import CheckResult, Status
from checks.core.redact import plain


def _all_facts_classes() -> list[type[Facts]]:
    for module in pkgutil.iter_modules(facts_package.__path__, "checks.core.facts."):
        importlib.import_module(module.name)
    found: list[type[Facts]] = []
    pending = list(Facts.__subclasses__())
    while pending:
        kind = pending.pop()
        if kind.__module__.startswith("checks.core.facts."):
            found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def test_every_facts_class_is_frozen_and_names_a_registered_check() -> None:
    kinds = _all_facts_classes()
    ids = {check.id for check in registry.all_checks()}
    assert {kind.check_id for kind in kinds} == ids
    for kind in kinds:
        assert dataclasses.is_dataclass(kind)
        assert kind.__dataclass_params__.frozen, kind  # type: ignore[attr-defined]


def test_json_keeps_field_order_and_leaves_out_absent_fields() -> None:
    attempt = Attempt(address="::1", family="IPv6", result="connected", elapsed_ms=1.5)
    facts = TcpFacts(port=443, attempts=(attempt,), connected=("::1",))
    assert plain(facts) == {
        "port": 443,
        "attempts": [
            {"address": "::1", "family": "IPv6", "result": "connected", "elapsed_ms": 1.5}
        ],
        "connected": ["::1"],
    }
    failed = dataclasses.replace(attempt, result="refused", detail="refused")
    written = plain(failed)
    assert isinstance(written, dict)
    assert list(written) == ["address", "family", "result", "detail", "elapsed_ms"]
    assert plain(NO_FACTS) == {}


def test_a_none_without_the_marker_stays_in_the_json() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Example(Facts):
        kept: str | None
        dropped: str | None = absent_when_none()

    assert plain(Example(kept=None)) == {"kept": None}
    assert plain(Example(kept="a", dropped="b")) == {"kept": "a", "dropped": "b"}


def test_a_later_check_reads_an_earlier_ones_facts_by_type() -> None:
    dns = DnsFacts(host="example.test", addresses=("192.0.2.1",))
    results = {
        "dns": CheckResult("dns", Status.PASS, (), dns),
        "tls": CheckResult("tls", Status.SKIP),
    }
    ctx = Context(Settings(), None, threading.Event(), results, deadline=1e12)
    assert ctx.facts(DnsFacts) is dns
    assert ctx.facts(TcpFacts) is None
    assert facts_of(results.values(), DnsFacts) is dns


def test_facts_cannot_be_changed_after_the_check() -> None:
    dns = DnsFacts(host="example.test", addresses=())
    with pytest.raises(dataclasses.FrozenInstanceError):
        dns.host = "other.test"  # type: ignore[misc]
