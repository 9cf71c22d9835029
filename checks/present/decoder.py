"""Decodes pasted TLS error messages into likely causes and the findings that confirm each."""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from checks.core.schemes import STARTTLS_SCHEMES, TLS_PROTOCOL
from checks.core.target import TargetError, parse
from checks.present import catalogue

Likelihood = Literal["certain", "likely", "possible"]
LIKELIHOODS: tuple[Likelihood, ...] = ("certain", "likely", "possible")
RUN_LOCAL = "handshake-doctor check"
RUN_SITE = "handshake-doctor check HOST"
DATA_FILE = "error_messages.toml"
GENERIC_SOURCE = "generic"

# Only the start and the end of a long paste are examined: an error sits at one end of a log,
# and a bounded input keeps every search fast however much is piped in.
HEAD_CHARS = 32 * 1024
TAIL_CHARS = 32 * 1024

# How many look-alike names per wording `find_host` tries before giving up.
MAX_HOST_CANDIDATES = 20

# The general checklist, in the order a helpdesk would walk through it.
CHECKLIST_STEPS = ("clock", "other_site", "other_network", "security_software", "proxy", "run")


class DataError(ValueError):
    """The error-message data file is malformed; the message names the entry."""


@dataclass(frozen=True)
class EntryCause:
    """One cause as the data file states it: the confirming finding and its likelihood."""

    finding: str
    likelihood: Likelihood
    run: str


@dataclass(frozen=True)
class Entry:
    """One recognisable message of the data file.

    Attributes:
        id: stable id such as `chrome.err_cert_date_invalid`, keying the `why` texts.
        source: the program that prints it (`Chrome`, `curl` ...), or `generic`.
        patterns: compiled expressions, in lower case, searched in the normalised (lower-cased)
            text, which makes them case-insensitive.
        example: the message as users see it.
        more_examples: other wordings the patterns cover.
        fallback: a catch-all that only wins when no specific entry matches.
        causes: most likely first.
        ambiguous: the findings this message cannot tell apart (empty when it can): only a
            check of the site settles which one it is.
        scheme: for a mail, directory or database program's message, the scheme that makes
            a bare server name its target (`smtp`: `smtp://mail.example.com`), else None.
    """

    id: str
    source: str
    patterns: tuple[re.Pattern[str], ...]
    example: str
    more_examples: tuple[str, ...]
    fallback: bool
    causes: tuple[EntryCause, ...]
    ambiguous: tuple[str, ...] = ()
    scheme: str | None = None


@dataclass(frozen=True)
class Cause:
    """A likely cause of the message, in the user's language.

    Attributes:
        finding: the finding id whose presence confirms this cause.
        likelihood: `certain`, `likely` or `possible`.
        why: one or two sentences on how this cause produces such a message.
        run: the command that looks for the finding.
    """

    finding: str
    likelihood: Likelihood
    why: str
    run: str


@dataclass(frozen=True)
class Explanation:
    """What a pasted message means.

    Attributes:
        recognised: the text matched an entry; when False `causes` is empty and `checklist`
            holds the general steps instead: an unknown message gets no invented answer.
        entry: the matched entry id, or None.
        source: the program that prints the message (`generic` for catch-alls), or None.
        meaning: what the message says, in the user's language; empty when not recognised.
        causes: the entry's causes, most likely first.
        checklist: the general checklist, only when not recognised.
        host: the site named in the message (`host` or `host:port`), or None.
        matched: the part of the normalised text that was recognised.
        lang: the language of the texts.
        ambiguous: the message cannot tell `candidates` apart, so the first cause is no
            more than one of them; `settle` is the check that decides.
        candidates: the findings the message cannot tell apart, in the entry's order.
        check: `handshake-doctor check HOST` for the site the message names, or None.
    """

    recognised: bool
    entry: str | None
    source: str | None
    meaning: str
    causes: tuple[Cause, ...]
    checklist: tuple[str, ...]
    host: str | None
    matched: str
    lang: str
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()
    check: str | None = None


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    """Compile a data pattern; it must be lower case, because the text is lower-cased instead of
    searched with IGNORECASE, which would forgo the fast literal-prefix search."""
    letters = re.sub(r"\\.", "", pattern)
    if letters != letters.lower():
        raise DataError(f"{where}: write the pattern {pattern!r} in lower case")
    return re.compile(pattern)


def _entry_from(raw: Mapping[str, Any], index: int) -> Entry:
    entry_id = raw.get("id")
    where = f"{DATA_FILE} entry {index} ({entry_id})"
    try:
        causes = tuple(
            EntryCause(str(c["finding"]), c["likelihood"], str(c["run"])) for c in raw["causes"]
        )
        entry = Entry(
            id=str(entry_id),
            source=str(raw["source"]),
            patterns=tuple(_compile(str(p), where) for p in raw["patterns"]),
            example=str(raw["example"]),
            more_examples=tuple(str(e) for e in raw.get("more_examples", ())),
            fallback=bool(raw.get("fallback", False)),
            causes=causes,
            ambiguous=tuple(str(f) for f in raw.get("ambiguous", ())),
            scheme=str(raw["scheme"]) if "scheme" in raw else None,
        )
    except (KeyError, TypeError, re.error) as exc:
        raise DataError(f"{where}: {type(exc).__name__}: {exc}") from None
    if not entry_id or not entry.patterns or not entry.causes:
        raise DataError(f"{where}: needs an id, patterns and causes")
    if entry.scheme is not None and entry.scheme not in SITE_SCHEMES:
        raise DataError(f"{where}: scheme must be one of {', '.join(SITE_SCHEMES)}")
    for cause in causes:
        if cause.likelihood not in LIKELIHOODS or cause.run not in (RUN_LOCAL, RUN_SITE):
            raise DataError(f"{where}: bad cause {cause}")
    # Only causes the entry names can be the ones it cannot tell apart, and it takes two.
    if entry.ambiguous and (
        len(entry.ambiguous) < 2 or not set(entry.ambiguous) <= {c.finding for c in causes}
    ):
        raise DataError(f"{where}: ambiguous must list two or more of its causes' findings")
    return entry


@functools.cache
def entries() -> tuple[Entry, ...]:
    """Every entry of `resources/error_messages.toml`, in file order."""
    text = importlib.resources.files("resources").joinpath(DATA_FILE).read_text(encoding="utf-8")
    table = tomllib.loads(text)
    loaded = tuple(_entry_from(raw, i) for i, raw in enumerate(table.get("entry", [])))
    ids = [e.id for e in loaded]
    if len(set(ids)) != len(ids):
        raise DataError(f"{DATA_FILE} repeats an entry id")
    return loaded


# --------------------------------------------------------------------------- normalising

_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]")
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)


def _examined(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return f"{text[:HEAD_CHARS]}\n{text[-TAIL_CHARS:]}"


def normalise(text: str) -> str:
    """The text as patterns see it: capped, colour codes and typographic quotes removed, NFKC
    (full-width punctuation from Chinese input becomes ASCII), whitespace collapsed, lower case."""
    text = _ANSI.sub("", _examined(text))
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip().lower()


def read_capped(stream: BinaryIO, *, chunk_size: int = 64 * 1024) -> str:
    """Read a byte stream (a piped log) keeping only what `explain` examines, in bounded memory."""
    head = bytearray()
    tail = bytearray()
    dropped = False
    while block := stream.read(chunk_size):
        if len(head) < HEAD_CHARS:
            room = HEAD_CHARS - len(head)
            head += block[:room]
            block = block[room:]
        tail += block
        if len(tail) > TAIL_CHARS:
            del tail[: len(tail) - TAIL_CHARS]
            dropped = True
    separator = b"\n" if dropped else b""
    return bytes(head + separator + tail).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- matching


def _best_match(text: str) -> tuple[Entry, str] | None:
    """The most specific entry: specific beats fallback, then the longest match, then file order."""
    best: tuple[Entry, str] | None = None
    best_rank: tuple[bool, int, int] | None = None
    for index, entry in enumerate(entries()):
        matched = ""
        for pattern in entry.patterns:
            found = pattern.search(text)
            if found is not None and len(found.group()) > len(matched):
                matched = found.group()
        if not matched:
            continue
        rank = (not entry.fallback, len(matched), -index)
        if best_rank is None or rank > best_rank:
            best, best_rank = (entry, matched), rank
    return best


# --------------------------------------------------------------------------- the site in the text

_NAME = r"[a-z0-9][a-z0-9.-]{0,252}"
# Schemes a site may be written with besides https (longest first: `smtps` before `smtp`).
SITE_SCHEMES = tuple(sorted((*STARTTLS_SCHEMES, *TLS_PROTOCOL), key=len, reverse=True))
_SCHEMES = "|".join(SITE_SCHEMES)
_PORT = r"(?::(?P<port>\d{1,5}))?"
_HOST_AFTER = tuple(
    re.compile(pattern)
    for pattern in (
        rf"in connection to (?P<host>{_NAME}){_PORT}",
        rf"target host name '(?P<host>{_NAME})'",
        rf"host='(?P<host>{_NAME})', port=(?P<port>\d{{1,5}})",
        rf"certificate is not valid for '(?P<host>{_NAME})'",
        rf"no subject alternative dns name matching (?P<host>{_NAME}) found",
        rf"no name matching (?P<host>{_NAME}) found",
        rf"matching ip address (?P<host>{_NAME}) found",
        rf"but wanted to match (?P<host>{_NAME})",
        rf"is valid for \S.{{0,2000}}?, not (?P<host>{_NAME})",
        rf"cannot validate certificate for (?P<host>{_NAME}) because",
        rf"host: (?P<host>{_NAME}) is not (?:in )?the cert",
        rf'upstream ssl certificate does not match "(?P<host>{_NAME})"',
        rf"does not match for hostname (?P<host>{_NAME})",
        rf"certificate configured for (?P<host>{_NAME}){_PORT}",
        rf"hostname (?P<host>{_NAME}) provided via sni",
        rf"in handshake \(server (?P<host>{_NAME}){_PORT}\)",
        rf'pretending to be "(?P<host>{_NAME})"',
        rf'impersonating "(?P<host>{_NAME})"',
        rf'to the server "(?P<host>{_NAME})"',
        rf'the website "(?P<host>{_NAME})"',
        rf"steal your information from (?P<host>{_NAME}) \(",
        rf"private connection to (?P<host>{_NAME}) can't be established",
        rf"could not prove that it is (?P<host>{_NAME});",
        rf"did not continue to (?P<host>{_NAME})",
        rf"an error occurred during a connection to (?P<host>{_NAME}){_PORT}",
        rf"connect to (?P<host>{_NAME}):(?P<port>\d{{1,5}}) \[",
        # psql/libpq, the Postfix SMTP client, Outlook's connection log.
        rf'connection to server at "(?P<host>{_NAME})"(?: \([0-9a-f.:]{{2,45}}\))?'
        rf", port (?P<port>\d{{1,5}})",
        rf"relay=(?P<host>{_NAME})\[[0-9a-f.:]{{2,45}}\]:(?P<port>\d{{1,5}})",
        rf"server: '(?P<host>{_NAME})', protocol: (?:smtp|pop3|imap), port: (?P<port>\d{{1,5}})",
        rf"host (?P<host>{_NAME})\[[0-9a-f.:]{{2,45}}\] said",
        rf"outgoing server \(smtp\) (?P<host>{_NAME})",
        rf"https://(?:[^\s/@'\"]{{0,256}}@)?(?P<host>{_NAME}|\[[0-9a-f:.]{{2,45}}\]){_PORT}",
        rf"wss://(?:[^\s/@'\"]{{0,256}}@)?(?P<host>{_NAME}|\[[0-9a-f:.]{{2,45}}\]){_PORT}",
        # Mail, directory and database URLs keep their scheme: it says the protocol.
        rf"(?P<scheme>{_SCHEMES})://(?:[^\s/@'\"]{{0,256}}@)?"
        rf"(?P<host>{_NAME}|\[[0-9a-f:.]{{2,45}}\]){_PORT}",
        # GnuTLS wordings (wget, Debian's git) name the host without the port: after the URL.
        rf"the certificate of '(?P<host>{_NAME})'",
        rf"does not match (?:target )?host ?name '(?P<host>{_NAME})'",
    )
)
_URL = next(p for p in _HOST_AFTER if p.pattern.startswith("https://"))
# Phrases that follow the name; searching for the phrase first avoids trying a name at
# every position of a long text.
_HOST_BEFORE = (
    " | 525: ssl handshake failed",
    " | 526: invalid ssl certificate",
    " uses an unsupported protocol",
    " sent an invalid response",
    " didn't accept your login certificate",
    " uses an invalid security certificate",
    " server certificate does not include an id",
)
_NAME_AT_END = re.compile(rf"(?P<host>{_NAME}){_PORT}(?::\d{{1,5}})?$")
# Hosts of documentation links that error messages print about themselves.
_DOC_HOSTS = frozenset(
    {
        "aka.ms",
        "cloudflare.com",
        "curl.haxx.se",
        "curl.se",
        "developers.cloudflare.com",
        "docs.microsoft.com",
        "docs.oracle.com",
        "docs.python.org",
        "everything.curl.dev",
        "g.co",
        "go.dev",
        "go.microsoft.com",
        "golang.org",
        "httpd.apache.org",
        "learn.microsoft.com",
        "nginx.org",
        "nodejs.org",
        "openssl.org",
        "pkg.go.dev",
        "support.google.com",
        "support.mozilla.org",
        "urllib3.readthedocs.io",
        "www.cloudflare.com",
        "www.openssl.org",
    }
)


def _site(host: str, port: str | None, scheme: str | None = None) -> str | None:
    """`host`, `host:port` or `scheme://host[:port]` as `handshake-doctor check` takes it, or
    None if it is no site."""
    host = host.rstrip(".-").lower()
    if not host or host in _DOC_HOSTS:
        return None
    authority = f"{host}:{port}" if port else host
    try:
        target = parse(f"{scheme}://{authority}" if scheme else authority)
    except TargetError:
        return None
    if scheme is not None and not target.is_ip and "." not in target.host:
        return None
    if scheme is not None:
        return f"{scheme}://{target.display if port else authority}"
    if target.is_ip:
        if target.host in ("0.0.0.0", "::"):
            return None
    elif "." not in target.host and target.host != "localhost":
        return None
    if target.port != 443:
        return target.display
    return f"[{target.host}]" if ":" in target.host else target.host


def find_host(text: str) -> str | None:
    """The site a message names, from its wording or a URL; `text` must be `normalise`d."""
    site = _find_host(text)
    if site is not None and ":" not in site:
        # Wordings name the host alone; the message's URL for that host also has its port.
        for found in itertools.islice(_URL.finditer(text), MAX_HOST_CANDIDATES):
            if found.group("host") == site and found.group("port"):
                return _site(site, found.group("port"))
    return site


def _find_host(text: str) -> str | None:
    for pattern in _HOST_AFTER:
        # The real site comes early; a text full of look-alikes must not cost a parse each.
        for found in itertools.islice(pattern.finditer(text), MAX_HOST_CANDIDATES):
            port = found.group("port") if "port" in pattern.groupindex else None
            scheme = found.group("scheme") if "scheme" in pattern.groupindex else None
            if (site := _site(found.group("host"), port, scheme)) is not None:
                return site
    for phrase in _HOST_BEFORE:
        at = text.find(phrase)
        if at > 0:
            before = _NAME_AT_END.search(text[max(0, at - 270) : at])
            if before is not None and (site := _site(before.group("host"), before.group("port"))):
                return site
    return None


# --------------------------------------------------------------------------- explaining


def _run(command: str, host: str | None) -> str:
    if command == RUN_SITE:
        return f"{RUN_LOCAL} {host}" if host else RUN_LOCAL
    return command


def checklist(lang: str) -> tuple[str, ...]:
    """The general steps offered for a message that is not recognised."""
    return tuple(catalogue.ui(f"decoder.checklist.{step}", lang=lang) for step in CHECKLIST_STEPS)


def explain(text: str, *, lang: str | None = "en") -> Explanation:
    """Explain a pasted error message; never raises, and never guesses at unknown text."""
    language = catalogue.normalise_language(lang)
    normalised = normalise(text)
    best = _best_match(normalised) if normalised else None
    if best is None:
        return Explanation(False, None, None, "", (), checklist(language), None, "", language)
    entry, matched = best
    host = find_host(normalised)
    if host is not None and entry.scheme is not None and ":" not in host:
        # A bare server name in a mail or database program's message: its protocol's target.
        host = f"{entry.scheme}://{host}"
    causes = tuple(
        Cause(
            finding=c.finding,
            likelihood=c.likelihood,
            why=catalogue.ui(f"decoder.cause.{c.finding}", lang=language),
            run=_run(c.run, host),
        )
        for c in entry.causes
    )
    return Explanation(
        recognised=True,
        entry=entry.id,
        source=entry.source,
        meaning=catalogue.ui(f"decoder.why.{entry.id}", lang=language),
        causes=causes,
        checklist=(),
        host=host,
        matched=matched,
        lang=language,
        ambiguous=bool(entry.ambiguous),
        candidates=entry.ambiguous,
        check=f"{RUN_LOCAL} {host}" if host else None,
    )


def to_json(explanation: Explanation) -> dict[str, Any]:
    """`{"recognised", "causes": [{"finding", "likelihood", "why", "run"}]}`, plus `entry`,
    `source`, `meaning`, `ambiguous`, `candidates`, `host` and `check` when recognised, or
    `checklist` when not."""
    data: dict[str, Any] = {
        "recognised": explanation.recognised,
        "causes": [
            {"finding": c.finding, "likelihood": c.likelihood, "why": c.why, "run": c.run}
            for c in explanation.causes
        ],
    }
    if explanation.recognised:
        data["entry"] = explanation.entry
        data["source"] = explanation.source
        data["meaning"] = explanation.meaning
        data["ambiguous"] = explanation.ambiguous
        data["candidates"] = list(explanation.candidates)
        if explanation.ambiguous:
            data["settle"] = ambiguity_text(explanation)
        data["host"] = explanation.host
        data["check"] = explanation.check
    else:
        data["checklist"] = list(explanation.checklist)
    return data


def source_name(source: str | None, lang: str) -> str:
    """The program's name as shown; the catch-all source gets words in `lang`."""
    if source is None or source == GENERIC_SOURCE:
        return catalogue.ui("decoder.source_generic", lang=lang)
    return source


def ambiguity_text(explanation: Explanation) -> str:
    """Words saying which findings the message cannot tell apart and the check that settles it;
    empty when the message is not ambiguous."""
    if not explanation.ambiguous:
        return ""
    lang = explanation.lang
    separator = catalogue.ui("decoder.list_separator", lang=lang)
    names = separator.join(
        catalogue.ui(f"decoder.candidate.{finding}", lang=lang)
        for finding in explanation.candidates
    )
    command = explanation.check or RUN_SITE
    return catalogue.ui("decoder.ambiguous", lang=lang, candidates=names, command=command)


def site_text(explanation: Explanation) -> str:
    """Words naming the site the message names and the command that checks it, or empty."""
    if explanation.host is None or explanation.check is None:
        return ""
    return catalogue.ui(
        "decoder.names_site",
        lang=explanation.lang,
        host=explanation.host,
        command=explanation.check,
    )


def _names_site(entry_id: str | None) -> bool:
    """Whether some cause of the entry is checked on the site, which the message did not name."""
    entry = next((e for e in entries() if e.id == entry_id), None)
    return entry is not None and any(c.run == RUN_SITE for c in entry.causes)


def _numbered(lines: Sequence[str]) -> list[str]:
    return [f"  {number}. {line}" for number, line in enumerate(lines, start=1)]


def to_text(explanation: Explanation) -> str:
    """The explanation for a terminal, in the explanation's language."""
    lang = explanation.lang

    def ui(key: str, **params: object) -> str:
        return catalogue.ui(f"decoder.{key}", lang=lang, **params)

    if not explanation.recognised:
        lines = [
            ui("not_recognised"),
            "",
            ui("checklist_heading"),
            *_numbered(explanation.checklist),
        ]
        return "\n".join(lines) + "\n"
    source = source_name(explanation.source, lang)
    lines = [ui("recognised", source=source, entry=explanation.entry), explanation.meaning, ""]
    if explanation.ambiguous:
        lines += [ambiguity_text(explanation), ""]
    lines.append(ui("causes_heading"))
    for number, cause in enumerate(explanation.causes, start=1):
        likelihood = catalogue.ui(f"confidence.{cause.likelihood}", lang=lang)
        lines.append(f"  {number}. [{likelihood}] {cause.why}")
        lines.append(f"     {ui('confirm', command=cause.run, finding=cause.finding)}")
    if explanation.host is not None:
        lines += ["", site_text(explanation)]
    elif _names_site(explanation.entry):
        scheme = next((e.scheme for e in entries() if e.id == explanation.entry), None)
        lines += ["", ui("add_server", scheme=scheme) if scheme else ui("add_site")]
    return "\n".join(lines) + "\n"
