"""The typed measurements of every check: one frozen dataclass per check, read by attribute by
later checks and the window, and written to the JSON report field by field."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

# Field metadata: leave the key out of the JSON report while the value is None. Schema 1 has
# keys that exist only in some runs (`first_bytes` only for a port that is not TLS); this keeps
# them absent rather than null, so reports stay byte-compatible.
OMIT_NONE = "omit_none"


def absent_when_none(default: Any = None) -> Any:
    """A field that the JSON report leaves out while it is None."""
    return dataclasses.field(default=default, metadata={OMIT_NONE: True})


@dataclasses.dataclass(frozen=True)
class Facts:
    """The measurements of one check; `check_id` names the check that produces them.

    The base class itself stands for "nothing measured" (a skipped or broken check).
    """

    check_id: ClassVar[str] = ""


NO_FACTS = Facts()

F = TypeVar("F", bound=Facts)


def json_fields(record: Any) -> Iterable[tuple[str, object]]:
    """The (name, value) pairs of a dataclass as its JSON object holds them, in field order."""
    for spec in dataclasses.fields(record):
        value = getattr(record, spec.name)
        if value is None and spec.metadata.get(OMIT_NONE):
            continue
        yield spec.name, value


def facts_of(results: Iterable[Any], kind: type[F]) -> F | None:
    """The facts of type `kind` among check results, or None when that check did not measure."""
    for result in results:
        if isinstance(result.facts, kind):
            return result.facts
    return None
