"""Removes credentials and the user's home directory from anything a report may show or share."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TypeAlias

from checks.core.facts import json_fields

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"

MASK = "***"

# The userinfo may itself contain "@" (unencoded passwords do), so the greedy run backtracks to
# the last "@" before the host; "/", "?", "#" and whitespace end the authority part of a URL.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#\"'<>]+@(?=[^\s@/])")

# Without a scheme only `user:password@host` is taken as credentials: a bare `name@host` is far
# more often an e-mail address, which users expect to see in their report.
_BARE_USERINFO = re.compile(
    r"(?:^|(?<=[\s=\"'(,;]))[^\s/?#@:=,;\"'<>()]+:[^\s/?#\"'<>]*@(?=[A-Za-z0-9\[])"
)


def _strip_credentials(text: str) -> str:
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    return _BARE_USERINFO.sub(f"{MASK}@", text)


# Where Path.home() looks, on every OS: the candidates change only when these do.
_HOME_VARIABLES = ("HOME", "USERPROFILE", "HOMEDRIVE", "HOMEPATH")


def _home_candidates() -> tuple[tuple[str, bool], ...]:
    """Every spelling of the home directory a report might contain, and whether it is Windows'."""
    return _candidates_for(tuple(os.environ.get(name) for name in _HOME_VARIABLES))


@functools.lru_cache(maxsize=8)
def _candidates_for(environment: tuple[str | None, ...]) -> tuple[tuple[str, bool], ...]:
    # A report redacts hundreds of strings: the home is worked out once per environment.
    raw: list[str] = []
    with contextlib.suppress(RuntimeError):
        raw.append(str(Path.home()))
    home, profile = environment[:2]  # HOME, USERPROFILE
    raw.extend((home or "", profile or ""))
    spellings: set[tuple[str, bool]] = set()
    for spelled in raw:
        home = spelled.rstrip("/\\")
        # A home of "/" or "C:\" would turn every absolute path into nonsense.
        if len(home.lstrip("/\\")) < 2 or re.fullmatch(r"[A-Za-z]:", home):
            continue
        windows = "\\" in home or re.match(r"[A-Za-z]:", home) is not None
        # Both slash styles, plus the doubled backslashes of a repr() or an escaped string.
        slashed = home.replace("\\", "/")
        variants = (home, slashed, slashed.replace("/", "\\"), slashed.replace("/", "\\\\"))
        spellings.update((variant, windows) for variant in variants)
    # Longest first, so a home that is a prefix of another cannot cut it in half.
    return tuple(sorted(spellings, key=lambda s: (-len(s[0]), s)))


@functools.lru_cache(maxsize=8)
def _home_pattern(candidates: tuple[tuple[str, bool], ...]) -> re.Pattern[str] | None:
    if not candidates:
        return None
    # Windows paths compare case-insensitively; POSIX ones do not.
    alternatives = "|".join(
        f"(?i:{re.escape(path)})" if windows else re.escape(path) for path, windows in candidates
    )
    # Path boundaries: `/home/al` must leave `/home/alice` and `/srv/home/al` alone.
    return re.compile(rf"(?<![\w.\-])(?:{alternatives})(?![\w.\-])")


def _strip_home(text: str) -> str:
    pattern = _home_pattern(_home_candidates())
    return pattern.sub("~", text) if pattern else text


def redact(text: str) -> str:
    """`text` without URL or proxy credentials (`***@`) and with the home directory as `~`."""
    return _strip_home(_strip_credentials(text))


def plain(obj: object) -> JSONValue:
    """`obj` as plain JSON types: tuples and sets become lists, mappings dicts, the rest text."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        # NaN and infinities are not JSON; strict parsers reject the file.
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, enum.Enum):
        return plain(obj.value)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: plain(value) for name, value in json_fields(obj)}
    if isinstance(obj, Mapping):
        return {str(key): plain(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(item) for item in obj]
    if isinstance(obj, set | frozenset):
        return [plain(item) for item in sorted(obj, key=repr)]
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    return str(obj)


def _redact_plain(value: JSONValue) -> JSONValue:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_plain(item) for item in value]
    if isinstance(value, dict):
        return {redact(key): _redact_plain(item) for key, item in value.items()}
    return value


def redact_data(obj: object) -> JSONValue:
    """`obj` converted to plain JSON types with `redact` applied to every key and string."""
    return _redact_plain(plain(obj))


__all__ = ["MASK", "JSONValue", "plain", "redact", "redact_data"]
