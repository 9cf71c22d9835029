"""Parses what people paste (host, URL, `host:port`, an openssl line) into a `Target`."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shlex
import unicodedata
from dataclasses import dataclass
from typing import NoReturn

# The one package core uses besides the standard library: pure Python, Unicode tables only.
import idna

from checks.core.models import Finding, Status
from checks.core.schemes import (
    IMPLICIT_TLS_PORTS,
    OBVIOUS_PORT,
    STARTTLS_DEFAULT_PORT,
    STARTTLS_PORTS,
    STARTTLS_PROTOCOLS,
    STARTTLS_SCHEMES,
    TLS_PORTS,
    TLS_PROTOCOL,
    TLS_VARIANT,
    protocol_name,
)


class TargetError(ValueError):
    """Input that names no usable target; `key` and `params` select the catalogue sentence
    (`input_error.<key>`) that says why, in the user's language."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Target:
    """A host and port to diagnose.

    Attributes:
        input: what the user typed, trimmed, with any credentials removed.
        host: lowercase ASCII (IDNA) name without trailing dot, or an IP literal without brackets.
        port: TCP port, 1..65535.
        sni: the server name to send: `host` for names, None for IP addresses, unless an
            openssl line chose another with `-servername`.
        is_ip: `host` is an IPv4 or IPv6 literal.
        notes: warnings about the input (credentials removed, port assumed from the scheme).
        protocol: what the connection carries once TLS is up: `https`, or a mail, directory,
            database or chat protocol (`smtp`, `imap`, ...), from the scheme or the port.
        starttls: the protocol whose plain-text upgrade comes before the handshake (one of
            `STARTTLS_PROTOCOLS`), or None when TLS starts at once.
    """

    input: str
    host: str
    port: int
    sni: str | None
    is_ip: bool
    notes: tuple[Finding, ...] = ()
    protocol: str = "https"
    starttls: str | None = None

    @property
    def display(self) -> str:
        """`host:port`, with brackets around IPv6 literals."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


DEFAULT_PORT = 443

# Schemes written without `//`; without this list `mailto:bob@example.com` would read as
# user "mailto:bob" at example.com.
_OPAQUE_SCHEMES = frozenset(
    {"mailto", "tel", "sms", "urn", "data", "javascript", "about", "file", "news", "magnet"}
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_OPAQUE_SCHEME = re.compile(r"([A-Za-z]+):")
_PORT_ONLY = re.compile(r"[0-9]*(?:[/?#\\].*)?", re.DOTALL)
# Where the authority ends, as browsers read URLs (WHATWG treats `\` like `/`).
_AUTHORITY_END = re.compile(r"[/?#\\]")
# IDNA label separators: the ASCII dot and the ideographic full stops Chinese input methods type.
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
# Underscores are allowed: real DNS names use them (`_dmarc`, some intranet hosts) and a
# certificate check later explains any mismatch better than a refusal here.
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX_IP_CHARS = frozenset("0123456789abcdefABCDEF:.")
_MAX_LABEL = 63
_MAX_NAME = 253
_QUOTE_LIMIT = 30

# openssl s_client options that consume the next word; the rest are flags.
_OPENSSL_ARG_OPTIONS = frozenset(
    {
        "-connect", "-servername", "-host", "-port", "-bind", "-proxy", "-proxy_user",
        "-proxy_pass", "-unix", "-cert", "-certform", "-cert_chain", "-key", "-keyform",
        "-pass", "-cafile", "-capath", "-castore", "-chaincafile", "-chaincapath",
        "-chaincastore", "-verifycafile", "-verifycapath", "-verifycastore", "-requestcafile",
        "-crl", "-crlform", "-verify", "-verify_depth", "-verify_hostname", "-verify_ip",
        "-verify_email", "-verify_name", "-purpose", "-attime", "-auth_level", "-policy",
        "-cipher", "-ciphersuites", "-curves", "-groups", "-sigalgs", "-client_sigalgs",
        "-named_curve", "-alpn", "-nextprotoneg", "-starttls", "-xmpphost", "-name",
        "-sess_out", "-sess_in", "-keylogfile", "-msgfile", "-psk", "-psk_identity",
        "-psk_session", "-srpuser", "-srppass", "-srp_strength", "-dane_tlsa_domain",
        "-dane_tlsa_rrdata", "-ctlogfile", "-early_data", "-keymatexport",
        "-keymatexportlen", "-maxfraglen", "-max_send_frag", "-split_send_frag",
        "-max_pipelines", "-read_buf", "-use_srtp", "-serverinfo", "-engine", "-provider",
        "-provider-path", "-propquery", "-rand", "-writerand", "-ssl_config", "-xkey",
        "-xcert", "-xchain", "-xcertform", "-xkeyform", "-ssl_client_engine", "-mtu",
    }
)  # fmt: skip
# Option values that are secrets; `Target.input` shows them as `***`.
_OPENSSL_SECRET_OPTIONS = frozenset(
    {"-pass", "-proxy_user", "-proxy_pass", "-srpuser", "-srppass", "-psk", "-psk_identity"}
)
_OPENSSL = re.compile(r"(?:.*[/\\])?openssl(?:\.exe)?", re.IGNORECASE)
_SHELL_OPERATOR = re.compile(r"[|;&<>]|[0-9]+[<>]")


def _fail(key: str, **params: object) -> NoReturn:
    """Raise `TargetError`; the catalogue words it at display time."""
    raise TargetError(key, **params)


def _short(text: str) -> str:
    """Text short enough to quote in a one-line message."""
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def _show_char(char: str) -> str:
    """A character as it can be quoted: itself if visible, else its code point."""
    if char.isprintable() and not char.isspace():
        return char
    return f"U+{ord(char):04X}"


@dataclass(frozen=True)
class _Spec:
    """One `host[:port]` or URL, parsed; `shown` is its scheme and authority without userinfo."""

    shown: str
    host: str
    port: int
    is_ip: bool
    notes: tuple[Finding, ...]
    protocol: str = "https"
    starttls: str | None = None
    port_given: bool = True


class _Reader:
    """Reads host and port, never quoting text that may belong to a user name or password.

    `suspect` is everything before the last `@`. Normally that is the userinfo, which is cut off
    before anything is quoted; but a password holding an unescaped `/`, `?` or `#` ends the
    authority early (as in browsers), and then the "host" or "port" quoted would be part of it.
    """

    def __init__(self, suspect: str) -> None:
        self._suspect = suspect

    def fail(self, key: str, **params: object) -> NoReturn:
        if self._suspect:
            for value in params.values():
                shown = str(value).removesuffix("…")
                if shown and shown in self._suspect:
                    _fail("credentials_unclear")
        _fail(key, **params)

    def host_port(self, authority: str) -> tuple[str, int | None, bool]:
        """Split `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port None if absent."""
        if not authority:
            _fail("host_missing")
        if any(char.isspace() for char in authority):
            _fail("space")
        if authority.startswith("["):
            close = authority.find("]")
            if close < 0:
                _fail("ipv6_bracket")
            after = authority[close + 1 :]
            if after and not after.startswith(":"):
                _fail("ipv6_bracket")
            host = self.ipv6(authority[1:close], bracketed=True)
            return host, self.port(after[1:]) if after else None, True
        if authority.count(":") >= 2:
            if "[" in authority or "]" in authority:
                _fail("ipv6_bracket")
            return self.ipv6(authority, bracketed=False), None, True
        name, colon, port_text = authority.partition(":")
        host, is_ip = self.name(name)
        return host, self.port(port_text) if colon else None, is_ip

    def port(self, text: str) -> int:
        if not text:
            _fail("port_missing")
        if not (text.isascii() and text.isdigit()):
            self.fail("port_invalid", port=_short(text))
        # Checking the length first keeps int() away from absurdly long digit strings.
        digits = text.lstrip("0")
        if len(digits) > 5 or not 1 <= int(digits or "0") <= 65535:
            self.fail("port_range", port=_short(text))
        return int(digits)

    def ipv6(self, text: str, *, bracketed: bool) -> str:
        if not text:
            _fail("host_missing")
        address, percent, _ = text.partition("%")
        hex_only = set(address) <= _HEX_IP_CHARS
        if percent and hex_only:
            # Zone ids only mean something on the local link and differ per machine; refusing
            # them is clearer than diagnosing an address the report cannot name portably.
            _fail("zone_id")
        if not hex_only and not bracketed:
            self.fail("colons", value=_short(text))
        parsed = _ip_address(text, version=6)
        if parsed is None:
            self.fail("ipv6_invalid", address=_short(text))
        return parsed

    def name(self, text: str) -> tuple[str, bool]:
        """A host name as lowercase ASCII, or an IPv4 literal; `(host, is_ip)`."""
        trimmed = text[:-1] if text and _DOTS.fullmatch(text[-1]) else text
        if not trimmed:
            _fail("host_missing")
        labels = _DOTS.split(trimmed)
        if not all(labels):
            _fail("empty_label")
        if all(label.isascii() and label.isdigit() for label in labels):
            # No top-level domain is numeric, so digits and dots can only mean IPv4.
            parsed = _ip_address(".".join(labels), version=4)
            if parsed is None:
                self.fail("ipv4_invalid", address=_short(trimmed))
            return parsed, True
        host = ".".join(self.label(label, trimmed) for label in labels)
        if len(host) > _MAX_NAME:
            _fail("name_too_long", length=len(host))
        return host, False

    def label(self, label: str, name: str) -> str:
        ascii_label = label.lower() if label.isascii() else _to_ascii(label)
        if ascii_label is None:
            self.fail("idna_invalid", host=_short(name))
        bad = next((char for char in ascii_label if char not in _LABEL_CHARS), None)
        if bad is not None:
            self.fail("bad_character", char=_show_char(bad))
        if ascii_label.startswith("-") or ascii_label.endswith("-"):
            self.fail("hyphen", label=_short(label))
        if len(ascii_label) > _MAX_LABEL:
            self.fail("label_too_long", label=_short(label), length=len(ascii_label))
        return ascii_label


def _ip_address(text: str, *, version: int) -> str | None:
    """The canonical form of an IP literal, or None; no exception escapes to chain onto ours."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.compressed if address.version == version else None


def _to_ascii(label: str) -> str | None:
    """UTS 46 ToASCII of one non-ASCII label, non-transitional as in Chrome and Firefox.

    Case is folded and compatibility forms (full-width letters) are mapped, but `ß`, `ς` and the
    zero-width joiners are kept: IDNA 2003 (Python's "idna" codec) turned `faß.de` into
    `fass.de` and dropped joiners, so the tool checked another host than the browser visits.
    A joiner outside the context that allows it makes the label invalid, never silently gone.
    idna 3.20 processes UTS 46 non-transitionally always (its `transitional` flag is
    deprecated), so none is passed.
    """
    try:
        ascii_label = idna.encode(label, uts46=True).decode("ascii")
    except idna.InvalidCodepoint as error:
        # IDNA 2008 refuses symbols and emoji that UTS 46, and so every browser, accepts.
        if error.code != "disallowed_codepoint":
            return None
        ascii_label = _symbol_label(label) or ""
    except (UnicodeError, ValueError):
        # IDNAError is a UnicodeError; ValueError: a character newer than this Python's tables.
        return None
    # Mapping can empty a label (a lone soft hyphen) or yield a dot: not a usable label.
    if not ascii_label or "." in ascii_label:
        return None
    return ascii_label


def _symbol_label(label: str) -> str | None:
    """UTS 46 ToASCII of a label IDNA 2008 refuses only for a code point outside its repertoire
    (`i❤`, `x_ü`): the UTS 46 mapping and validity rules (hyphens, leading mark, joiner context,
    bidi) without IDNA 2008's list of allowed code points, as the WHATWG URL standard does."""
    try:
        mapped = idna.uts46_remap(label, std3_rules=False)
        if not mapped or "." in mapped:
            return None
        if mapped.isascii():
            return mapped
        idna.check_hyphen_ok(mapped)
        idna.check_initial_combiner(mapped)
        joiners = (pos for pos, char in enumerate(mapped) if char in "\u200c\u200d")
        if not all(idna.valid_contextj(mapped, pos) for pos in joiners):
            return None
        idna.check_bidi(mapped)
        return "xn--" + mapped.encode("punycode").decode("ascii")
    except (UnicodeError, ValueError):
        return None


def to_ascii(name: str) -> str:
    """A host name as the ASCII (A-label) form it has on the wire, mapped as browsers map it.

    For code that takes names from elsewhere than `parse` (which already gives ASCII); ASCII
    names and IP literals come back unchanged. Raises `TargetError` ("idna_invalid") for a name
    that has no ASCII form.
    """
    if name.isascii():
        return name
    labels = _DOTS.split(name)
    # A trailing dot (the root) stays: it has no label of its own to encode.
    converted = [_to_ascii(label) if label and not label.isascii() else label for label in labels]
    if any(label is None for label in converted):
        _fail("idna_invalid", host=_short(name))
    return ".".join(label or "" for label in converted)


def _split_scheme(text: str) -> tuple[str | None, int]:
    """The lowercased scheme, if any, and where the authority starts."""
    match = _SCHEME.match(text)
    if match:
        return match.group(1).lower(), match.end()
    if text.startswith("//"):
        return None, 2
    match = _OPAQUE_SCHEME.match(text)
    # `news:8443` is the host "news" on port 8443, not a news: URL.
    if (
        match
        and match.group(1).lower() in _OPAQUE_SCHEMES
        and not _PORT_ONLY.fullmatch(text, match.end())
    ):
        return match.group(1).lower(), match.end()
    return None, 0


def _scheme_port(scheme: str | None, port: int | None) -> tuple[int, tuple[Finding, ...]]:
    """The port to check and the notes explaining what the scheme made us assume."""
    if scheme is None:
        return port or DEFAULT_PORT, ()
    if scheme == "http":
        # Port 80 is http's plain-text port; nothing there speaks TLS.
        checked = DEFAULT_PORT if port in (None, 80) else port
        return checked, (Finding("input.http_upgraded", Status.PASS, {"port": checked}),)
    if port is not None:
        return port, ()
    default = TLS_PORTS[scheme] if scheme in TLS_PORTS else STARTTLS_SCHEMES[scheme][1]
    if scheme in OBVIOUS_PORT:
        return default, ()
    note = Finding("input.port_assumed", Status.PASS, {"scheme": scheme, "port": default})
    return default, (note,)


def _check_scheme(scheme: str | None) -> None:
    if scheme is None or scheme == "http" or scheme in TLS_PORTS or scheme in STARTTLS_SCHEMES:
        return
    variant = TLS_VARIANT.get(scheme)
    if variant is not None:
        _fail("scheme_plaintext", scheme=scheme, tls_scheme=variant, port=TLS_PORTS[variant])
    _fail("scheme_not_tls", scheme=_short(scheme))


def _parse_spec(text: str) -> _Spec:
    """Parse a URL or `[userinfo@]host[:port]`; path, query and fragment are ignored."""
    scheme, start = _split_scheme(text)
    _check_scheme(scheme)
    rest = text[start:]
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    at = rest.rfind("@")
    reader = _Reader(rest[:at] if at >= 0 else "")
    notes: tuple[Finding, ...] = ()
    userinfo_end = authority.rfind("@")
    if userinfo_end >= 0:
        if userinfo_end > 0:
            notes = (Finding("input.credentials_removed", Status.WARN),)
        authority = authority[userinfo_end + 1 :]
    host, port, is_ip = reader.host_port(authority)
    checked, scheme_notes = _scheme_port(scheme, port)
    protocol, starttls, port_notes = _protocol(scheme, checked)
    return _Spec(
        text[:start] + authority,
        host,
        checked,
        is_ip,
        notes + scheme_notes + port_notes,
        protocol,
        starttls,
        port_given=port is not None,
    )


def _protocol(scheme: str | None, port: int) -> tuple[str, str | None, tuple[Finding, ...]]:
    """What the connection carries and whether it starts in plain text: from the scheme, else
    from a well-known port (which a note states, as the user did not say it)."""
    if scheme in STARTTLS_SCHEMES:
        protocol = STARTTLS_SCHEMES[scheme][0]
        return protocol, protocol, ()
    if scheme is not None:
        return TLS_PROTOCOL.get(scheme, "https"), None, ()
    if port in STARTTLS_PORTS:
        protocol = STARTTLS_PORTS[port]
        note = Finding(
            "input.starttls_assumed",
            Status.PASS,
            {"protocol": protocol, "protocol_name": protocol_name(protocol), "port": port},
        )
        return protocol, protocol, (note,)
    return IMPLICIT_TLS_PORTS.get(port, "https"), None, ()


def _with_upgrade(spec: _Spec, starttls: str | None) -> _Spec:
    """`spec` with the upgrade the user chose (`--starttls`, openssl's `-starttls`): a protocol
    name, or `none` for TLS at once. The port the protocol implies is used when none was given
    and the scheme implied none either."""
    if starttls is None:
        return spec
    choice = starttls.lower()
    notes = tuple(n for n in spec.notes if n.id != "input.starttls_assumed")
    if choice == "none":
        protocol = spec.protocol if spec.starttls is None else IMPLICIT_TLS_PORTS.get(spec.port)
        return dataclasses.replace(
            spec, protocol=protocol or spec.protocol, starttls=None, notes=notes
        )
    protocol = {"postgresql": "postgres", "mariadb": "mysql", "pop": "pop3"}.get(choice, choice)
    if protocol not in STARTTLS_PROTOCOLS:
        _fail("starttls_unknown", protocol=_short(starttls), known=", ".join(STARTTLS_PROTOCOLS))
    port = spec.port
    if not spec.port_given:
        port = STARTTLS_DEFAULT_PORT[protocol]
        assumed = Finding("input.port_assumed", Status.PASS, {"scheme": protocol, "port": port})
        notes = (*(n for n in notes if n.id != "input.port_assumed"), assumed)
    return dataclasses.replace(spec, port=port, protocol=protocol, starttls=protocol, notes=notes)


def _openssl_args(text: str) -> list[str] | None:
    """The words after `s_client` when `text` is an openssl command line, up to any shell pipe."""
    words = list(re.finditer(r"\S+", text))
    for index, word in enumerate(words):
        if word.group().lower() != "s_client":
            continue
        if index and not _OPENSSL.fullmatch(words[index - 1].group().strip("\"'")):
            continue
        rest = text[word.end() :]
        lexer = shlex.shlex(rest, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        # Backslashes are Windows path separators far more often than shell escapes here.
        lexer.escape = ""
        try:
            tokens = list(lexer)
        except ValueError:
            tokens = rest.split()
        args: list[str] = []
        for token in tokens:
            if _SHELL_OPERATOR.match(token):
                # `2>/dev/null` tokenises as `2`, `>`, ...; the `2` is no argument.
                if token[0] in "<>" and args and args[-1].isdigit():
                    args.pop()
                break
            args.append(token)
        return args
    return None


def _parse_openssl(args: list[str]) -> Target:
    """`openssl s_client -connect host:port [-servername name]` or `s_client host:port`."""
    shown = list(args)
    target_index: int | None = None
    positional: int | None = None
    servername: str | None = None
    starttls: str | None = None
    removed = False
    index = 0
    while index < len(args):
        option = args[index].lower()
        if option.startswith("--"):
            option = option[1:]
        if option in _OPENSSL_ARG_OPTIONS:
            value = index + 1
            if value < len(args):
                if option == "-connect":
                    target_index = value
                elif option == "-servername":
                    servername = args[value]
                elif option == "-starttls":
                    starttls = args[value]
                elif option in _OPENSSL_SECRET_OPTIONS:
                    shown[value] = "***"
                elif option == "-proxy" and "@" in args[value]:
                    shown[value] = args[value].rpartition("@")[2]
                    removed = True
            index += 2
            continue
        if positional is None and not option.startswith("-"):
            positional = index
        index += 1
    target_index = positional if target_index is None else target_index
    if target_index is None:
        _fail("openssl_no_target")
    spec = _with_upgrade(_parse_spec(args[target_index]), starttls)
    shown[target_index] = spec.shown
    notes = list(spec.notes)
    if removed and not any(note.id == "input.credentials_removed" for note in notes):
        notes.insert(0, Finding("input.credentials_removed", Status.WARN))
    sni = None if spec.is_ip else spec.host
    if servername is not None:
        name = _servername(servername)
        if name is not None and name != sni:
            sni = name
            notes.append(
                Finding("input.servername_differs", Status.PASS, {"sni": name, "host": spec.host})
            )
    words = [shlex.quote(word) if any(c.isspace() for c in word) else word for word in shown]
    return Target(
        input=" ".join(["openssl", "s_client", *words]),
        host=spec.host,
        port=spec.port,
        sni=sni,
        is_ip=spec.is_ip,
        notes=tuple(notes),
        protocol=spec.protocol,
        starttls=spec.starttls,
    )


def _servername(text: str) -> str | None:
    """The `-servername` value as a host name; None for an IP, which SNI cannot carry."""
    at = text.rfind("@")
    host, is_ip = _Reader(text[:at] if at >= 0 else "").name(text)
    return None if is_ip else host


def parse(text: str, *, starttls: str | None = None) -> Target:
    """Parse user input into a `Target`; raise `TargetError` with one clear sentence otherwise.

    Accepts `host`, `host:port`, URLs (path, query and fragment ignored), IPv4, IPv6 with or
    without brackets, internationalised names and `openssl s_client` lines. The text is NFKC
    normalised first, so full-width characters from Chinese input methods work. User names and
    passwords are dropped with a warning note and never quoted; IPv6 zone ids are refused.

    Mail, directory, database and chat servers are recognised by scheme (`smtp://`, `imaps://`,
    `postgresql://`) or well-known port; `starttls` overrides that choice: a protocol of
    `STARTTLS_PROTOCOLS`, or `none` for TLS from the first byte (as `--starttls` on the CLI).
    """
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        _fail("empty")
    args = _openssl_args(cleaned)
    if args is not None:
        target = _parse_openssl(args)
        if starttls is None:
            return target
        spec = _with_upgrade(
            _Spec(
                "",
                target.host,
                target.port,
                target.is_ip,
                target.notes,
                target.protocol,
                target.starttls,
            ),
            starttls,
        )
        return dataclasses.replace(
            target, port=spec.port, notes=spec.notes, protocol=spec.protocol,
            starttls=spec.starttls,
        )  # fmt: skip
    spec = _with_upgrade(_parse_spec(cleaned), starttls)
    return Target(
        input=spec.shown,
        host=spec.host,
        port=spec.port,
        sni=None if spec.is_ip else spec.host,
        is_ip=spec.is_ip,
        notes=spec.notes,
        protocol=spec.protocol,
        starttls=spec.starttls,
    )
