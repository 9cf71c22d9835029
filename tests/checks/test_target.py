"""Tests for `checks.target.parse`: accepted forms, refusals, secrecy of credentials and texts."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from checks.core.models import Status
from checks.core.target import Target, TargetError, parse, to_ascii
from checks.present import catalogue

TARGET_SOURCE = Path(__file__).resolve().parents[2] / "checks" / "core" / "target.py"

VALID = [
    # text, host, port, sni, is_ip, note ids
    ("example.com", "example.com", 443, "example.com", False, ()),
    ("example.com:8443", "example.com", 8443, "example.com", False, ()),
    ("https://example.com/path?q=1#frag", "example.com", 443, "example.com", False, ()),
    ("https://example.com:8443/", "example.com", 8443, "example.com", False, ()),
    ("HTTPS://Example.COM", "example.com", 443, "example.com", False, ()),
    ("wss://example.com/socket", "example.com", 443, "example.com", False, ()),
    ("//example.com/x", "example.com", 443, "example.com", False, ()),
    ("example.com/login", "example.com", 443, "example.com", False, ()),
    ("[2001:db8::1]:443", "2001:db8::1", 443, None, True, ()),
    ("[2001:DB8:0::1]:8443", "2001:db8::1", 8443, None, True, ()),
    ("[2001:db8::1]", "2001:db8::1", 443, None, True, ()),
    ("https://[2001:db8::1]:8443/x", "2001:db8::1", 8443, None, True, ()),
    ("2001:db8::1", "2001:db8::1", 443, None, True, ()),
    ("::1", "::1", 443, None, True, ()),
    ("192.0.2.1", "192.0.2.1", 443, None, True, ()),
    ("192.0.2.1:8443", "192.0.2.1", 8443, None, True, ()),
    ("192.0.2.1.", "192.0.2.1", 443, None, True, ()),
    ("bücher.example", "xn--bcher-kva.example", 443, "xn--bcher-kva.example", False, ()),
    ("BÜCHER.example:8443", "xn--bcher-kva.example", 8443, "xn--bcher-kva.example", False, ()),
    ("例子。测试", "xn--fsqu00a.xn--0zwm56d", 443, "xn--fsqu00a.xn--0zwm56d", False, ()),
    ("ｅｘａｍｐｌｅ．ｃｏｍ：８４４３", "example.com", 8443, "example.com", False, ()),
    # UTS 46, non-transitional, as browsers: `ß`, `ς` and joiners in their context are kept
    # (IDNA 2003 made `faß.de` into `fass.de`, another host); case and width still fold.
    ("faß.de", "xn--fa-hia.de", 443, "xn--fa-hia.de", False, ()),
    ("FAß.DE", "xn--fa-hia.de", 443, "xn--fa-hia.de", False, ()),
    ("ｆａß．ｄｅ", "xn--fa-hia.de", 443, "xn--fa-hia.de", False, ()),
    (
        "https://ΣΟΦΟΣ.ςς.example",
        "xn--0xaakcn.xn--3xaa.example",
        443,
        "xn--0xaakcn.xn--3xaa.example",
        False,
        (),
    ),
    ("क्\u200dष.example", "xn--11b2ezcw70k.example", 443, "xn--11b2ezcw70k.example", False, ()),
    (
        "نامه\u200cای.example",
        "xn--mgba3gch31f060k.example",
        443,
        "xn--mgba3gch31f060k.example",
        False,
        (),
    ),
    # Emoji are outside IDNA 2008 but browsers accept them (UTS 46): so do we.
    ("i❤ß.ws", "xn--i-qfa6960a.ws", 443, "xn--i-qfa6960a.ws", False, ()),
    ("EXAMPLE.COM.", "example.com", 443, "example.com", False, ()),
    ("  example.com \n", "example.com", 443, "example.com", False, ()),
    ("\texample.com:00443\t", "example.com", 443, "example.com", False, ()),
    ("localhost", "localhost", 443, "localhost", False, ()),
    ("_dmarc.example.com", "_dmarc.example.com", 443, "_dmarc.example.com", False, ()),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", 443, "xn--bcher-kva.example", False, ()),
    ("news:8443", "news", 8443, "news", False, ()),
    (
        "openssl s_client -connect example.com:8443",
        "example.com",
        8443,
        "example.com",
        False,
        (),
    ),
    ("openssl s_client example.com:8443", "example.com", 8443, "example.com", False, ()),
    ("s_client -connect example.com:443", "example.com", 443, "example.com", False, ()),
    (
        "openssl s_client -connect example.com:443 -servername Example.com",
        "example.com",
        443,
        "example.com",
        False,
        (),
    ),
    (
        "openssl s_client -connect origin.example:443 -servername www.example.com -showcerts",
        "origin.example",
        443,
        "www.example.com",
        False,
        ("input.servername_differs",),
    ),
    (
        "openssl s_client -servername www.example.com -connect 192.0.2.1:443",
        "192.0.2.1",
        443,
        "www.example.com",
        True,
        ("input.servername_differs",),
    ),
    (
        "openssl s_client -connect 192.0.2.1:443 -servername 192.0.2.1",
        "192.0.2.1",
        443,
        None,
        True,
        (),
    ),
    (
        "echo | openssl s_client -connect example.com:443 2>/dev/null | openssl x509 -noout",
        "example.com",
        443,
        "example.com",
        False,
        (),
    ),
    (
        "$ /usr/bin/openssl s_client -CAfile ca.pem -verify 2 [2001:db8::1]:993 </dev/null",
        "2001:db8::1",
        993,
        None,
        True,
        (),
    ),
    (
        r'"C:\Program Files\OpenSSL\bin\openssl.exe" s_client -connect example.com:443',
        "example.com",
        443,
        "example.com",
        False,
        (),
    ),
    ("imaps://mail.example", "mail.example", 993, "mail.example", False, ("input.port_assumed",)),
    ("imaps://mail.example:1993", "mail.example", 1993, "mail.example", False, ()),
    ("pop3s://mail.example", "mail.example", 995, "mail.example", False, ("input.port_assumed",)),
    ("smtps://mail.example", "mail.example", 465, "mail.example", False, ("input.port_assumed",)),
    ("ldaps://dc.example", "dc.example", 636, "dc.example", False, ("input.port_assumed",)),
    ("ftps://files.example", "files.example", 990, "files.example", False, ("input.port_assumed",)),
    ("nntps://news.example", "news.example", 563, "news.example", False, ("input.port_assumed",)),
    ("ircs://irc.example", "irc.example", 6697, "irc.example", False, ("input.port_assumed",)),
    ("mqtts://mq.example", "mq.example", 8883, "mq.example", False, ("input.port_assumed",)),
    ("amqps://mq.example", "mq.example", 5671, "mq.example", False, ("input.port_assumed",)),
    ("davs://dav.example", "dav.example", 443, "dav.example", False, ("input.port_assumed",)),
    ("xmpps://chat.example", "chat.example", 5223, "chat.example", False, ("input.port_assumed",)),
    ("http://example.com", "example.com", 443, "example.com", False, ("input.http_upgraded",)),
    ("http://example.com:80/", "example.com", 443, "example.com", False, ("input.http_upgraded",)),
    (
        "http://example.com:8080",
        "example.com",
        8080,
        "example.com",
        False,
        ("input.http_upgraded",),
    ),
    (
        "https://bob:s3cr3t@example.com/",
        "example.com",
        443,
        "example.com",
        False,
        ("input.credentials_removed",),
    ),
    (
        "bob@example.com:8443",
        "example.com",
        8443,
        "example.com",
        False,
        ("input.credentials_removed",),
    ),
    (
        "imaps://bob:s3cr3t@mail.example",
        "mail.example",
        993,
        "mail.example",
        False,
        ("input.credentials_removed", "input.port_assumed"),
    ),
    ("https://@example.com", "example.com", 443, "example.com", False, ()),
]


@pytest.mark.parametrize(("text", "host", "port", "sni", "is_ip", "note_ids"), VALID)
def test_accepted_forms(
    *, text: str, host: str, port: int, sni: str | None, is_ip: bool, note_ids: tuple[str, ...]
) -> None:
    target = parse(text)
    assert (target.host, target.port, target.sni, target.is_ip) == (host, port, sni, is_ip)
    assert tuple(note.id for note in target.notes) == note_ids
    assert target.input == target.input.strip()
    assert 1 <= target.port <= 65535


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("  https://example.com/path?q=1  ", "https://example.com"),
        ("https://bob:s3cr3t@example.com:8443/x", "https://example.com:8443"),
        ("bob@example.com", "example.com"),
        (
            "echo | openssl s_client -connect bob:s3cr3t@example.com:443 -pass pass:hunter2 | cat",
            "openssl s_client -connect example.com:443 -pass ***",
        ),
    ],
)
def test_input_is_trimmed_and_cleaned(text: str, shown: str) -> None:
    assert parse(text).input == shown


@pytest.mark.parametrize(
    ("text", "display"),
    [("example.com", "example.com:443"), ("2001:db8::1", "[2001:db8::1]:443")],
)
def test_display(text: str, display: str) -> None:
    assert parse(text).display == display


def test_notes_carry_status_and_params() -> None:
    (assumed,) = parse("imaps://mail.example").notes
    assert assumed.status is Status.PASS
    assert dict(assumed.params) == {"scheme": "imaps", "port": 993}
    (upgraded,) = parse("http://example.com").notes
    assert upgraded.status is Status.PASS
    assert dict(upgraded.params) == {"port": 443}
    (removed,) = parse("bob:pw@example.com").notes
    assert removed.status is Status.WARN
    assert dict(removed.params) == {}
    (differs,) = parse("openssl s_client -connect a.example:443 -servername b.example").notes
    assert dict(differs.params) == {"sni": "b.example", "host": "a.example"}


INVALID = [
    ("", "empty"),
    ("   \n\t", "empty"),
    ("example .com", "space"),
    ("example.com is down", "space"),
    ("example.com:0", "port_range"),
    ("example.com:65536", "port_range"),
    ("example.com:99999999999999999999999999", "port_range"),
    ("example.com:-1", "port_invalid"),
    ("example.com:https", "port_invalid"),
    ("example.com:４４３x", "port_invalid"),
    ("example.com:", "port_missing"),
    ("[2001:db8::1]:", "port_missing"),
    ("a" * 64 + ".example", "label_too_long"),
    (".".join(["a" * 63] * 4), "name_too_long"),
    ("a..b", "empty_label"),
    (".example.com", "empty_label"),
    ("example.com..", "empty_label"),
    ("exa$mple.com", "bad_character"),
    ("<script>", "bad_character"),
    ("*.example.com", "bad_character"),
    ("exa%6Dple.com", "bad_character"),
    ("example.com\x00", "bad_character"),
    ("-example.com", "hyphen"),
    ("example-.com", "hyphen"),
    ("[::1", "ipv6_bracket"),
    ("[::1]x", "ipv6_bracket"),
    ("::1]:443", "ipv6_bracket"),
    ("[zz::1]", "ipv6_invalid"),
    ("[192.0.2.1]:443", "ipv6_invalid"),
    ("1:2:3:4:5:6:7:8:9", "ipv6_invalid"),
    ("example.com:443:443", "colons"),
    ("fe80::1%eth0", "zone_id"),
    ("[fe80::1%25eth0]:443", "zone_id"),
    ("999.1.1.1", "ipv4_invalid"),
    ("192.0.2", "ipv4_invalid"),
    ("192.0.2.01", "ipv4_invalid"),
    ("xn--bücher.example", "idna_invalid"),
    ("\u00ad.example", "idna_invalid"),
    ("ab\u05d0.example", "idna_invalid"),
    # A joiner where no script needs one is refused, never silently dropped (IDNA 2003 did).
    ("a\u200db.example", "idna_invalid"),
    ("exa\u200cmple.com", "idna_invalid"),
    ("https://", "host_missing"),
    (":443", "host_missing"),
    (".", "host_missing"),
    ("[]:443", "host_missing"),
    ("bob@", "host_missing"),
    ("nntp://news.example", "scheme_plaintext"),
    ("mqtt://broker.example", "scheme_plaintext"),
    ("irc://irc.example", "scheme_plaintext"),
    ("ws://example.com", "scheme_plaintext"),
    ("ssh://example.com", "scheme_not_tls"),
    ("telnet://example.com", "scheme_not_tls"),
    ("file:///etc/passwd", "scheme_not_tls"),
    ("mailto:bob@example.com", "scheme_not_tls"),
    ("javascript:alert(1)", "scheme_not_tls"),
    ("gopher://example.com", "scheme_not_tls"),
    ("x" * 200 + "://example.com", "scheme_not_tls"),
    ("openssl s_client", "openssl_no_target"),
    ("openssl s_client -connect mail.example:25 -starttls gopher", "starttls_unknown"),
    ("openssl s_client -connect", "openssl_no_target"),
    ("openssl s_client -showcerts -CAfile ca.pem | cat", "openssl_no_target"),
    ("openssl s_client -connect exa$mple.com:443", "bad_character"),
    ("openssl s_client -connect example.com:443 -servername bad_name$", "bad_character"),
    ("https://bob:s3cr3t/x@example.com", "credentials_unclear"),
]


@pytest.mark.parametrize(("text", "key"), INVALID)
def test_refused_forms(text: str, key: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse(text)
    error = caught.value
    assert error.key == key
    message = catalogue.input_error(error)
    assert "\n" not in message
    assert message.strip() == message
    assert len(message) <= 120
    assert message == catalogue.ui(f"input_error.{key}", lang="en", **error.params)
    assert error.__context__ is None
    assert error.__cause__ is None


def test_names_from_elsewhere_get_the_ascii_form_parse_gives() -> None:
    # SNI, the ClientHello and CONNECT use this: the name on the wire is the browser's.
    for name, wire in [
        ("faß.de", "xn--fa-hia.de"),
        ("क्\u200dष.example", "xn--11b2ezcw70k.example"),
        ("Bücher.example.", "xn--bcher-kva.example."),
        ("例子。测试", "xn--fsqu00a.xn--0zwm56d"),
    ]:
        assert to_ascii(name) == wire
        assert parse(name).host == wire.rstrip(".")
    for unchanged in ("Example.COM", "2001:db8::1", "192.0.2.1"):
        assert to_ascii(unchanged) == unchanged


def test_a_name_without_an_ascii_form_is_refused_with_the_parsers_key() -> None:
    with pytest.raises(TargetError) as caught:
        to_ascii("a\u200db.example")
    assert caught.value.key == "idna_invalid"
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    ("text", "key", "params"),
    [
        ("nntp://news.example", "scheme_plaintext", {"tls_scheme": "nntps", "port": 563}),
        ("example.com:https", "port_invalid", {"port": "https"}),
        ("exa$mple.com", "bad_character", {"char": "$"}),
        ("exa\x07mple.com", "bad_character", {"char": "U+0007"}),
    ],
)
def test_refusals_quote_what_was_wrong(text: str, key: str, params: dict[str, object]) -> None:
    with pytest.raises(TargetError) as caught:
        parse(text)
    assert caught.value.key == key
    assert params.items() <= caught.value.params.items()
    for value in params.values():
        assert str(value) in catalogue.input_error(caught.value)


SECRET, USER = "s3cr3t", "bob"


def assert_secret_free(text: str) -> None:
    assert SECRET not in text
    assert USER not in text


@pytest.mark.parametrize(
    "text",
    [
        "https://bob:s3cr3t@example.com",
        "bob:s3cr3t@example.com:8443",
        "bob@example.com",
        "bob:s3cr3t:s3cr3t@example.com",
        "imaps://bob:s3cr3t@mail.example/INBOX",
        "http://bob:s3cr3t@[2001:db8::1]:8443",
        "openssl s_client -connect bob:s3cr3t@example.com:443",
        "openssl s_client -connect example.com:443 -proxy bob:s3cr3t@proxy.example:3128",
        "openssl s_client -connect example.com:443 -proxy_user bob -proxy_pass s3cr3t",
        "openssl s_client -connect example.com:443 -pass pass:s3cr3t -srpuser bob",
    ],
)
def test_credentials_never_kept(text: str) -> None:
    target = parse(text)
    assert_secret_free(repr(target))
    assert_secret_free(target.input)
    for note in target.notes:
        assert_secret_free(repr(note))
        for value in note.params.values():
            assert_secret_free(str(value))
        for lang in catalogue.LANGUAGES:
            rendered = catalogue.render(note, lang=lang)
            assert_secret_free(repr(rendered))
    # Secret option values are masked in `input` silently; only an address's userinfo is noted.
    removed = "input.credentials_removed" in {note.id for note in target.notes}
    assert removed == ("@" in text)


@pytest.mark.parametrize(
    "text",
    [
        "https://bob:s3cr3t@exa mple.com",
        "https://bob:s3cr3t@example.com:99999",
        "https://bob:s3cr3t@example.com:port",
        "bob:s3cr3t@exa$mple.com",
        "bob:s3cr3t@",
        "https://bob:s3cr3t@",
        "ftp://bob:s3cr3t@files.example:99999",
        "ssh://bob:s3cr3t@example.com",
        "https://bob:s3cr3t/x@example.com",
        "bob:s3cr3t?x@example.com",
        "https://bob:s3cr3t#x@example.com",
        "s3cr3t:s3cr3t@example.com:s3cr3t",
        "https://bob:s3cr3t@[2001:db8::1",
        "https://bob:s3cr3t@fe80::1%eth0",
        "https://bob:s3cr3t@" + "a" * 64 + ".example",
        "openssl s_client -connect bob:s3cr3t@example.com:0",
        "openssl s_client -connect bob:s3cr3t/x@example.com:443",
    ],
)
def test_credentials_never_in_errors(text: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse(text)
    error = caught.value
    assert_secret_free(str(error))
    assert_secret_free(repr(error.args))
    assert_secret_free(repr(error.params))
    assert error.__context__ is None
    for lang in catalogue.LANGUAGES:
        assert_secret_free(catalogue.ui(f"input_error.{error.key}", lang=lang, **error.params))


def check_outcome(text: str) -> Target | TargetError:
    """Parse, allowing only `TargetError`, and check the invariants of either outcome."""
    try:
        target = parse(text)
    except TargetError as caught:
        error = caught
    else:
        check_target(target)
        return target
    message = str(error)
    assert message
    assert "\n" not in message
    assert len(message) <= 120
    assert error.key in raised_keys()
    assert error.__context__ is None
    return error


def check_target(target: Target) -> None:
    assert 1 <= target.port <= 65535
    assert target.host
    assert target.host.isascii()
    assert target.host == target.host.lower()
    assert not target.host.endswith(".")
    if target.is_ip:
        chosen = any(note.id == "input.servername_differs" for note in target.notes)
        assert (target.sni is not None) == chosen
    else:
        assert target.sni
    assert "\n" not in target.input


@given(st.text())
@example("openssl s_client -connect '")
@example("[")
@example("0" * 5000)
@example("a:" + "9" * 5000)
def test_any_text_raises_only_target_error(text: str) -> None:
    check_outcome(text)


SCHEMES = st.sampled_from(
    ["", "https://", "http://", "imaps://", "ftp://", "ssh://", "HTTPS://", "//", "mailto:"]
) | st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,8}://", fullmatch=True)
HOSTS = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com.",
        "bücher.example",
        "192.0.2.1",
        "[2001:db8::1]",
        "2001:db8::1",
        "[::1",
        "a..b",
        "exa$mple.com",
        "",
        "fe80::1%eth0",
    ]
) | st.text(max_size=20)
PORTS = st.one_of(
    st.just(""),
    st.integers(min_value=-5, max_value=70000).map(lambda port: f":{port}"),
    st.text(max_size=6).map(lambda port: f":{port}"),
)
PATHS = st.sampled_from(["", "/", "/path?q=1#frag", "?a=b@c", "#x", "/@user"])
PASSWORDS = st.text(
    alphabet="abcdefXYZ0123456789!$&'()*+,;=:%~-._/?#@[]", min_size=4, max_size=12
).map(lambda tail: "Pw9" + tail)


@given(
    scheme=SCHEMES,
    user=st.sampled_from(["", "alice", "u"]),
    password=st.none() | PASSWORDS,
    host=HOSTS,
    port=PORTS,
    path=PATHS,
    openssl=st.booleans(),
)
def test_url_like_text_raises_only_target_error(
    *, scheme: str, user: str, password: str | None, host: str, port: str, path: str, openssl: bool
) -> None:
    userinfo = "" if password is None else f"{user}:{password}@"
    text = f"{scheme}{userinfo}{host}{port}{path}"
    if openssl:
        text = f"openssl s_client -connect {text} -servername example.org"
    if password is not None:
        assume(password not in f"{scheme}{host}{port}{path}")
    outcome = check_outcome(text)
    if password is None:
        return
    if isinstance(outcome, TargetError):
        assert password not in catalogue.input_error(outcome)
        assert password not in repr(outcome.params)
    else:
        assert password not in repr(outcome)


def _calls(name: str) -> list[ast.Call]:
    tree = ast.parse(TARGET_SOURCE.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called == name:
                found.append(node)
    return found


def _literal(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


@functools.cache
def _error_calls() -> dict[str, set[frozenset[str]]]:
    """Error key -> the sets of keyword params given where checks/core/target.py raises it."""
    keys: dict[str, set[frozenset[str]]] = {}
    for call in _calls("_fail") + _calls("fail"):
        key = _literal(call)
        if key is None:
            continue
        params = frozenset(kw.arg for kw in call.keywords if kw.arg is not None)
        keys.setdefault(key, set()).add(params)
    return keys


def raised_keys() -> set[str]:
    return set(_error_calls())


def test_error_keys_found() -> None:
    keys = raised_keys()
    assert {"empty", "space", "port_range", "scheme_plaintext", "credentials_unclear"} <= keys
    assert {key for _, key in INVALID} <= keys, "every key raised in INVALID is found in source"
    assert keys <= {key for _, key in INVALID}, "every key in source has a refusal test"


@pytest.mark.parametrize("key", sorted(_error_calls()))
def test_every_error_key_has_text_in_every_language(key: str) -> None:
    english = catalogue.ui_texts("en").get(f"input_error.{key}")
    assert english, f"input_error.{key} missing from resources/ui/en/input.toml"
    expected = catalogue.placeholders(english)
    for params in _error_calls()[key]:
        assert set(params) == expected, f"{key}: raised with {set(params)}, text uses {expected}"
    for lang in catalogue.LANGUAGES:
        text = catalogue.ui_texts(lang).get(f"input_error.{key}")
        assert text, f"input_error.{key} missing for {lang}"
        assert catalogue.placeholders(text) == expected, f"{lang} placeholders differ for {key}"
        assert "\n" not in text


def test_no_orphan_error_texts() -> None:
    for lang in catalogue.LANGUAGES:
        keys = {
            key.removeprefix("input_error.")
            for key in catalogue.ui_texts(lang)
            if key.startswith("input_error.")
        }
        assert keys == raised_keys(), lang


def _note_calls() -> dict[str, set[str]]:
    """Finding id -> the param names target.py gives it (from the dict literal, if any)."""
    notes: dict[str, set[str]] = {}
    for call in _calls("Finding"):
        finding_id = _literal(call)
        assert finding_id is not None, "finding ids in target.py are literals"
        params: set[str] = set()
        if len(call.args) >= 3 and isinstance(call.args[2], ast.Dict):
            params = {
                k.value
                for k in call.args[2].keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
        notes.setdefault(finding_id, set()).update(params)
    return notes


def test_note_ids_found() -> None:
    assert set(_note_calls()) == {
        "input.credentials_removed",
        "input.port_assumed",
        "input.http_upgraded",
        "input.starttls_assumed",
        "input.servername_differs",
    }


@pytest.mark.parametrize("finding_id", sorted(_note_calls()))
def test_every_note_has_text_in_every_language(finding_id: str) -> None:
    params = _note_calls()[finding_id]
    english = catalogue.finding_texts("en")[finding_id]
    for lang in catalogue.LANGUAGES:
        table = catalogue.finding_texts(lang).get(finding_id)
        assert table, f"{finding_id} missing for {lang}"
        for field in ("title", "explanation", "fix"):
            assert table[field], f"{finding_id}.{field} empty for {lang}"
        for field in ("title", "explanation"):
            assert catalogue.placeholders(table[field]) == catalogue.placeholders(english[field])
            assert catalogue.placeholders(table[field]) <= params
        for field in ("fix", "fix_admin"):
            steps = table.get(field, [])
            assert len(steps) == len(english.get(field, []))
            for step, english_step in zip(steps, english.get(field, []), strict=True):
                assert catalogue.placeholders(step) == catalogue.placeholders(english_step)
                assert catalogue.placeholders(step) <= params


# What mail, directory, database and chat targets carry, as users paste them:
# (text, port, protocol, starttls, note ids).
UPGRADES = [
    ("smtp://mail.example:587", 587, "smtp", "smtp", ()),
    ("smtp://mail.example", 25, "smtp", "smtp", ("input.port_assumed",)),
    ("submission://mail.example", 587, "smtp", "smtp", ("input.port_assumed",)),
    ("smtps://mail.example", 465, "smtp", None, ("input.port_assumed",)),
    ("imap://mail.example", 143, "imap", "imap", ("input.port_assumed",)),
    ("imaps://mail.example:993", 993, "imap", None, ()),
    ("pop3://mail.example", 110, "pop3", "pop3", ("input.port_assumed",)),
    ("ldap://dc.example", 389, "ldap", "ldap", ("input.port_assumed",)),
    ("ldaps://dc.example:636", 636, "ldap", None, ()),
    ("ftp://files.example", 21, "ftp", "ftp", ("input.port_assumed",)),
    ("xmpp://chat.example", 5222, "xmpp", "xmpp", ("input.port_assumed",)),
    ("postgresql://db.example:5432/x", 5432, "postgres", "postgres", ()),
    ("postgres://db.example", 5432, "postgres", "postgres", ("input.port_assumed",)),
    ("mysql://db.example", 3306, "mysql", "mysql", ("input.port_assumed",)),
    ("mariadb://db.example:3307", 3307, "mysql", "mysql", ()),
    # A well-known port alone says the protocol, and a note says it was assumed.
    ("mail.example:587", 587, "smtp", "smtp", ("input.starttls_assumed",)),
    ("mail.example:143", 143, "imap", "imap", ("input.starttls_assumed",)),
    ("db.example:5432", 5432, "postgres", "postgres", ("input.starttls_assumed",)),
    ("mail.example:993", 993, "imap", None, ()),
    ("example.com", 443, "https", None, ()),
    ("example.com:8443", 8443, "https", None, ()),
    ("openssl s_client -connect mail.example:25 -starttls smtp", 25, "smtp", "smtp", ()),
    ("openssl s_client -starttls ldap -connect dc.example:3890", 3890, "ldap", "ldap", ()),
]


@pytest.mark.parametrize(("text", "port", "protocol", "starttls", "notes"), UPGRADES)
def test_protocol_and_upgrade(
    text: str, port: int, protocol: str, starttls: str | None, notes: tuple[str, ...]
) -> None:
    target = parse(text)
    assert (target.port, target.protocol, target.starttls) == (port, protocol, starttls)
    assert tuple(note.id for note in target.notes) == notes


def test_database_credentials_are_removed_with_a_warning() -> None:
    target = parse("postgresql://app:s3cr3t@db.example:5432/orders")
    assert (target.host, target.port, target.starttls) == ("db.example", 5432, "postgres")
    assert "s3cr3t" not in target.input
    assert "app" not in target.input
    assert [note.id for note in target.notes] == ["input.credentials_removed"]


@pytest.mark.parametrize(
    ("text", "choice", "port", "protocol", "starttls"),
    [
        ("mail.example", "smtp", 25, "smtp", "smtp"),
        ("mail.example:2525", "SMTP", 2525, "smtp", "smtp"),
        ("db.example", "postgresql", 5432, "postgres", "postgres"),
        ("mail.example:587", "none", 587, "smtp", None),
        ("smtp://mail.example:465", "none", 465, "smtp", None),
        ("imaps://mail.example:993", "imap", 993, "imap", "imap"),
        ("openssl s_client -connect mail.example:2525", "smtp", 2525, "smtp", "smtp"),
    ],
)
def test_starttls_choice_overrides_scheme_and_port(
    text: str, choice: str, port: int, protocol: str, starttls: str | None
) -> None:
    target = parse(text, starttls=choice)
    assert (target.port, target.protocol, target.starttls) == (port, protocol, starttls)
    assert "input.starttls_assumed" not in [note.id for note in target.notes]


def test_unknown_starttls_choice_names_the_known_ones() -> None:
    with pytest.raises(TargetError) as caught:
        parse("mail.example", starttls="gopher")
    assert caught.value.key == "starttls_unknown"
    message = catalogue.input_error(caught.value)
    assert "gopher" in message
    assert "smtp" in message
    assert "mysql" in message
