"""The error decoder: every known message is recognised, in noise too; the unknown is admitted."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from checks.present import catalogue, decoder

ROOT = Path(__file__).resolve().parents[2]

# Finding ids announced for checks that are still being written. The data may already name them;
# remove an id from this list as soon as docs/findings.md lists it, so typos cannot hide here.
UPCOMING_FINDINGS = frozenset(
    {
        "clock.skew",
        "clock.timezone",
        "clock.not_synced",
        "clock.unverified",
        "truststore.local_root",
        "truststore.known_bad_root",
        "truststore.missing_root",
        "truststore.env_override",
        "proxy.configured",
        "interception.detected",
        "security_software.present",
        "captive_portal.detected",
        "protocol.no_common_version",
        "protocol.legacy_only",
        "protocol.legacy_enabled",
        "protocol.ssl_enabled",
        "cipher.no_common_suite",
        "cipher.weak_enabled",
    }
)
# Findings about this computer, checked without naming a site.
LOCAL_AREAS = (
    "clock",
    "truststore",
    "proxy",
    "interception",
    "security_software",
    "captive_portal",
)

UNRELATED = (
    "Connection refused",
    "curl: (6) Could not resolve host: example.invalid",
    "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Couldn't connect to server",
    "fatal: repository 'https://github.com/example/missing.git/' not found",
    "Permission denied (publickey).",
    "ssh: connect to host example.com port 22: Connection timed out",
    "npm ERR! code E404",
    "ModuleNotFoundError: No module named 'requests'",
    'java.lang.NullPointerException: Cannot invoke "String.length()" because "s" is null',
    "Segmentation fault (core dumped)",
    "HTTP/1.1 500 Internal Server Error",
    "502 Bad Gateway nginx/1.24.0",
    "Error 1020 Access denied",
    "This site can't be reached. example.com's server IP address could not be found. "
    "DNS_PROBE_FINISHED_NXDOMAIN",
    "TypeError: Cannot read properties of undefined (reading 'map')",
    "x509 certificates are described in RFC 5280",
    "Your password has expired. Please choose a new one.",
    "The certificate of completion was sent to your e-mail address.",
    "docker: Error response from daemon: pull access denied for example/app, repository does "
    "not exist or may require 'docker login'.",
    "无法连接到服务器，请稍后再试。",
)

CASES = [
    pytest.param(entry.id, message, id=f"{entry.id}#{number}")
    for entry in decoder.entries()
    for number, message in enumerate((entry.example, *entry.more_examples))
]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _noisy(message: str) -> str:
    """The message as it turns up in a log: timestamp, prefix, colour, other case and spacing."""
    spacing = ("  ", "\n", "\t", " \r\n  ")
    words = message.swapcase().split(" ")
    mangled = words[0] + "".join(spacing[i % 4] + word for i, word in enumerate(words[1:]))
    return (
        f"2024-05-17T09:12:44.120Z ERROR [worker-7] app.net: \x1b[31m{mangled}\x1b[0m (retry 3/5)\n"
    )


def _in_a_log(message: str) -> str:
    return "\n".join((*UNRELATED[:4], _noisy(message), *UNRELATED[4:8]))


def _findings_in_docs() -> set[str]:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, flags=re.MULTILINE))


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks", "explain", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


# --------------------------------------------------------------------------- the data file


def test_the_data_covers_at_least_sixty_messages_from_the_promised_sources() -> None:
    entries = decoder.entries()
    assert len(entries) >= 60
    sources = {e.source for e in entries}
    for source in ("Chrome", "Firefox", "Safari", "curl", "OpenSSL", "Java", ".NET", "Python"):
        assert source in sources
    for source in ("Node.js", "Git", "Go", "Cloudflare", "nginx", "Apache"):
        assert source in sources
    for entry in entries:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", entry.id), entry.id


def test_every_finding_the_data_names_exists_or_is_announced() -> None:
    known = _findings_in_docs() | UPCOMING_FINDINGS
    named = {c.finding for e in decoder.entries() for c in e.causes}
    assert named - known == set()


def test_causes_are_ordered_and_checked_where_the_finding_lives() -> None:
    order = {likelihood: rank for rank, likelihood in enumerate(decoder.LIKELIHOODS)}
    for entry in decoder.entries():
        ranks = [order[c.likelihood] for c in entry.causes]
        assert ranks == sorted(ranks), f"{entry.id}: causes are not most likely first"
        findings = [c.finding for c in entry.causes]
        assert len(findings) == len(set(findings)), f"{entry.id} repeats a finding"
        for cause in entry.causes:
            local = cause.finding.split(".")[0] in LOCAL_AREAS
            expected = decoder.RUN_LOCAL if local else decoder.RUN_SITE
            assert cause.run == expected, f"{entry.id}: {cause.finding} runs {cause.run!r}"


def _pattern_problems(node: object, inside_repeat: bool = False) -> list[str]:
    # re._parser is private, but it is the parser `re` itself uses: reading its tree is the only
    # way to check the shape of the expressions rather than trusting a timing test alone.
    import re._constants as c  # type: ignore[import-not-found]

    problems: list[str] = []
    for op, av in node:  # type: ignore[attr-defined]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            _low, high, body = av
            if high == c.MAXREPEAT:
                problems.append("unbounded repetition")
            if inside_repeat and high > 1:
                problems.append("repetition inside a repetition")
            problems += _pattern_problems(body, inside_repeat or high > 1)
        elif op is c.SUBPATTERN:
            problems += _pattern_problems(av[-1], inside_repeat)
        elif op is c.BRANCH:
            for branch in av[1]:
                problems += _pattern_problems(branch, inside_repeat)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            problems += _pattern_problems(av[1], inside_repeat)
    return problems


def test_patterns_cannot_backtrack_catastrophically_and_start_with_text() -> None:
    import re._constants as c  # type: ignore[import-not-found]
    import re._parser as parser  # type: ignore[import-not-found]

    for entry in decoder.entries():
        for pattern in entry.patterns:
            tree = parser.parse(pattern.pattern)
            assert not _pattern_problems(tree), (entry.id, pattern.pattern)
            assert tree[0][0] is c.LITERAL, f"{entry.id}: {pattern.pattern!r} starts with no text"


@pytest.mark.parametrize("lang", catalogue.LANGUAGES)
def test_every_entry_and_cause_has_words_in_every_language(lang: str) -> None:
    texts = catalogue.ui_texts(lang)
    for entry in decoder.entries():
        assert texts.get(f"decoder.why.{entry.id}"), f"{entry.id} has no {lang} why"
        for cause in entry.causes:
            assert texts.get(f"decoder.cause.{cause.finding}"), f"{cause.finding} ({lang})"
    for step in decoder.CHECKLIST_STEPS:
        assert texts.get(f"decoder.checklist.{step}")


def test_the_why_texts_have_no_entries_the_data_lacks() -> None:
    ids = {e.id for e in decoder.entries()}
    findings = {c.finding for e in decoder.entries() for c in e.causes}
    for lang in catalogue.LANGUAGES:
        keys = catalogue.ui_texts(lang)
        assert {k.removeprefix("decoder.why.") for k in keys if k.startswith("decoder.why.")} == ids
        causes = {k.removeprefix("decoder.cause.") for k in keys if k.startswith("decoder.cause.")}
        assert causes == findings


# --------------------------------------------------------------------------- recognising


@pytest.mark.parametrize(("entry_id", "message"), CASES)
def test_every_message_is_recognised_alone_in_noise_and_in_a_log(
    entry_id: str, message: str
) -> None:
    plain = decoder.explain(message)
    assert plain.recognised
    assert plain.entry == entry_id
    assert plain.causes
    assert plain.checklist == ()
    noisy = decoder.explain(_noisy(message))
    assert noisy.entry == entry_id
    assert noisy.host == plain.host
    assert decoder.explain(_in_a_log(message)).entry == entry_id


@pytest.mark.parametrize("message", UNRELATED)
def test_unrelated_messages_are_not_recognised_and_get_the_checklist(message: str) -> None:
    explanation = decoder.explain(message)
    assert not explanation.recognised
    assert explanation.entry is None
    assert explanation.causes == ()
    assert len(explanation.checklist) == len(decoder.CHECKLIST_STEPS)
    assert decoder.explain("\n".join(UNRELATED)).recognised is False


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\r\n", "\u200b\ufeff", "\x1b[31m\x1b[0m"])
def test_blank_input_is_not_recognised_and_normalises_to_nothing(blank: str) -> None:
    assert decoder.normalise(blank) == ""
    assert not decoder.explain(blank).recognised


def test_the_most_specific_entry_wins() -> None:
    curl = "curl: (60) SSL certificate problem: unable to get local issuer certificate"
    assert decoder.explain(curl).entry == "curl.60_unable_to_get_local_issuer"
    assert decoder.explain("unable to get local issuer certificate").entry == (
        "openssl.verify_20_unable_to_get_local_issuer"
    )
    # A catch-all loses even to a shorter specific match elsewhere in the text.
    both = "javax.net.ssl.SSLHandshakeException: Received fatal alert: protocol_version"
    assert decoder.explain(both).entry == "java.fatal_alert_protocol_version"
    assert decoder.explain("error: certificate verify failed").entry == (
        "openssl.certificate_verify_failed"
    )


def test_chinese_system_messages_and_full_width_punctuation_are_understood() -> None:
    assert decoder.explain("请求被中止: 未能创建 SSL/TLS 安全通道。").entry == (
        "dotnet.could_not_create_secure_channel"
    )
    assert (
        decoder.explain("NET：：ERR＿CERT＿DATE＿INVALID").entry == "chrome.err_cert_date_invalid"
    )
    typographic = "Safari can’t open the page because Safari can’t establish a secure connection"
    assert decoder.explain(typographic).entry == "safari.cant_establish_secure_connection"


@pytest.mark.parametrize(
    ("message", "site"),
    [
        (
            "curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to example.com:443",
            "example.com",
        ),
        (
            "fatal: unable to access 'https://git.corp.example:8443/x.git/': "
            "SSL certificate problem: unable to get local issuer certificate",
            "git.corp.example:8443",
        ),
        (
            "requests.exceptions.SSLError: HTTPSConnectionPool(host='api.example.com', port=8443): "
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            "api.example.com:8443",
        ),
        (
            "x509: cannot validate certificate for 10.0.0.5 because it doesn't contain any IP SANs",
            "10.0.0.5",
        ),
        (
            "Hostname/IP does not match certificate's altnames: "
            "Host: WWW.Example.COM. is not in the cert's altnames: DNS:example.net",
            "www.example.com",
        ),
        (
            "[ssl:warn] AH01909: www.example.com:443:0 server certificate does NOT include an ID "
            "which matches the server name",
            "www.example.com",
        ),
        (
            'Get "https://[2001:db8::1]:8443/": x509: certificate signed by unknown authority',
            "[2001:db8::1]:8443",
        ),
    ],
)
def test_the_site_named_in_the_message_fills_the_command(message: str, site: str) -> None:
    explanation = decoder.explain(message)
    assert explanation.host == site
    site_causes = [c for c in explanation.causes if c.finding.split(".")[0] not in LOCAL_AREAS]
    assert site_causes
    assert all(c.run == f"handshake-doctor check {site}" for c in site_causes)


@pytest.mark.parametrize(
    "message",
    [
        "curl: (60) SSL certificate problem: unable to get local issuer certificate More details "
        "here: https://curl.se/docs/sslcerts.html",
        '2024/05/17 [error] 1#0: *1 no "ssl_certificate" is defined in server listening on SSL '
        "port while SSL handshaking, client: 175.9.181.35, server: 0.0.0.0:443",
        "verify error:num=20:unable to get local issuer certificate (see _ssl.c:1006)",
    ],
)
def test_documentation_links_and_listening_addresses_are_not_taken_for_the_site(
    message: str,
) -> None:
    explanation = decoder.explain(message)
    assert explanation.recognised
    assert explanation.host is None
    assert {c.run for c in explanation.causes} == {decoder.RUN_LOCAL}
    assert "handshake-doctor check example.com" in decoder.to_text(explanation)


def test_the_start_and_the_end_of_a_huge_log_are_examined() -> None:
    filler = "INFO request served in 3 ms\n" * 40_000
    assert decoder.explain("NET::ERR_CERT_DATE_INVALID\n" + filler).recognised
    assert decoder.explain(filler + "SEC_ERROR_UNKNOWN_ISSUER\n").entry == (
        "firefox.sec_error_unknown_issuer"
    )


def test_a_piped_log_is_read_in_bounded_memory_and_bad_bytes_are_tolerated() -> None:
    log = b"\xff\xfe noise\n" * 100_000 + b"x509: certificate signed by unknown authority\n"
    text = decoder.read_capped(io.BytesIO(log))
    assert len(text) <= decoder.HEAD_CHARS + decoder.TAIL_CHARS + 1
    assert decoder.explain(text).entry == "go.unknown_authority"
    short = decoder.read_capped(io.BytesIO("证书 expired".encode()))
    assert short == "证书 expired"


# --------------------------------------------------------------------------- languages and output


def test_chinese_output_explains_every_entry_in_chinese() -> None:
    for entry in decoder.entries():
        explanation = decoder.explain(entry.example, lang="zh_CN")
        assert explanation.lang == "zh_CN"
        assert CJK.search(explanation.meaning), entry.id
        for cause in explanation.causes:
            assert CJK.search(cause.why), (entry.id, cause.finding)
    unknown = decoder.explain("something else entirely", lang="zh-CN")
    assert all(CJK.search(step) for step in unknown.checklist)
    assert CJK.search(decoder.to_text(unknown))


def test_json_has_exactly_the_promised_shape() -> None:
    recognised = decoder.to_json(decoder.explain("SEC_ERROR_UNKNOWN_ISSUER"))
    assert set(recognised) == {
        "recognised",
        "causes",
        "entry",
        "source",
        "meaning",
        "ambiguous",
        "candidates",
        "host",
        "check",
    }
    assert recognised["ambiguous"] is False
    assert recognised["candidates"] == []
    assert recognised["host"] is None
    assert recognised["check"] is None
    assert recognised["recognised"] is True
    assert recognised["entry"] == "firefox.sec_error_unknown_issuer"
    assert recognised["source"] == "Firefox"
    for cause in recognised["causes"]:
        assert set(cause) == {"finding", "likelihood", "why", "run"}
        assert cause["likelihood"] in decoder.LIKELIHOODS
        assert all(isinstance(value, str) and value for value in cause.values())
    unknown = decoder.to_json(decoder.explain("Segmentation fault"))
    assert unknown == {
        "recognised": False,
        "causes": [],
        "checklist": list(decoder.checklist("en")),
    }
    json.dumps(recognised, allow_nan=False)


def test_text_output_names_the_source_the_causes_and_the_commands() -> None:
    message = (
        "curl: (51) SSL: no alternative certificate subject name matches target host name "
        "'www.example.com'"
    )
    text = decoder.to_text(decoder.explain(message))
    assert "curl" in text
    assert "curl.51_name_mismatch" in text
    assert "handshake-doctor check www.example.com" in text
    assert "cert.hostname_mismatch" in text
    generic = decoder.to_text(decoder.explain("TLS handshake failed"))
    assert catalogue.ui("decoder.source_generic") in generic
    assert "generic" not in generic.split("(")[0]


# --------------------------------------------------------------------------- robustness

FRAGMENTS = sorted(
    {word for entry in decoder.entries() for word in entry.example.split()}
    | {"\\x16\\x03", "'", '"', "(", ")", "https://", "host: ", " is not", "é", "证书", "\x1b["}
)


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=3000) | st.lists(st.sampled_from(FRAGMENTS), max_size=400).map(" ".join))
@example("\x00" * 10_000)
@example("https://" + "a." * 3000)
@example("Host: " + "a" * 5000 + " is not")
def test_any_text_is_explained_quickly_and_never_raises(text: str) -> None:
    started = time.perf_counter()
    explanation = decoder.explain(text, lang="zh_CN")
    assert time.perf_counter() - started < 1.0
    assert explanation.recognised == bool(explanation.causes)
    assert explanation.recognised != bool(explanation.checklist)
    decoder.to_text(explanation)
    json.dumps(decoder.to_json(explanation))


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,
        "unable to verify the first certificate " * 30_000,
        "self-signed certificate " * 50_000,
        "SSL_do_handshake() failed " * 50_000,
        "https://" * 150_000,
        "is valid for x " * 80_000,
        "AH02039: Certificate Verification: Error (20): " * 25_000,
        "a uses an unsupported protocol " * 40_000,
        "NET::ERR_CERT_DATE_INVALID " + "https://x " * 100_000,
        "SEC_ERROR_UNKNOWN_ISSUER " + "in connection to a.b:99999 " * 40_000,
    ],
    ids=lambda text: f"{text[:24]!r}x{len(text)}",
)
def test_a_megabyte_of_adversarial_text_takes_well_under_a_second(text: str) -> None:
    started = time.perf_counter()
    decoder.explain(text)
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- the command line


def test_cli_explains_a_known_message_and_exits_0() -> None:
    done = _cli("SEC_ERROR_UNKNOWN_ISSUER")
    assert done.returncode == 0, done.stderr
    assert "firefox.sec_error_unknown_issuer" in done.stdout
    assert "interception.detected" in done.stdout


def test_cli_admits_an_unknown_message_with_the_checklist_and_exits_1() -> None:
    done = _cli("Segmentation fault (core dumped)")
    assert done.returncode == 1
    assert catalogue.ui("decoder.checklist_heading") in done.stdout
    assert catalogue.ui("decoder.checklist.clock") in done.stdout


@pytest.mark.parametrize("args", [[""], ["   "], ["\n\t"]])
def test_cli_without_a_message_is_a_usage_error(args: list[str]) -> None:
    done = _cli(*args)
    assert done.returncode == 3
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_cli_reads_a_piped_log_from_standard_input() -> None:
    log = "\n".join((*UNRELATED, "x509: certificate signed by unknown authority", "done"))
    done = _cli("-", "--json", stdin=log)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["entry"] == "go.unknown_authority"
    assert data["recognised"] is True
    empty = _cli("-", stdin="")
    assert empty.returncode == 3


def test_cli_json_and_chinese_output() -> None:
    done = _cli(
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed",
        "--json",
        "--lang",
        "zh_CN",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["entry"] == "java.pkix_path_building_failed"
    assert all(CJK.search(cause["why"]) for cause in data["causes"])
    unknown = json.loads(_cli("Segmentation fault", "--json").stdout)
    assert unknown["recognised"] is False
    assert unknown["causes"] == []
    assert unknown["checklist"]


def test_cli_help_shows_examples_and_exit_codes() -> None:
    done = _cli("--help")
    assert done.returncode == 0
    assert "handshake-doctor explain" in done.stdout
    assert "exit codes:" in done.stdout
    top = subprocess.run(
        [sys.executable, "-m", "checks", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "explain" in top.stdout


# --------------------------------------------------------------------------- ambiguity and the site

GIT_GNUTLS = "unable to access 'https://g.example.com/': server certificate verification failed."
AMBIGUOUS = [
    (
        "curl: (60) SSL certificate problem: unable to get local issuer certificate",
        "cert.incomplete_chain",
    ),
    ("verify error:num=20:unable to get local issuer certificate", "cert.untrusted_root"),
    (
        "SSLHandshakeException: PKIX path building failed: sun.security.provider...",
        "cert.self_signed",
    ),
    (f"{GIT_GNUTLS} CAfile: /etc/ssl/certs/ca-certificates.crt CRLfile: none", "cert.expired"),
    ("ERROR: The certificate of 'example.com' doesn't have a known issuer.", "cert.self_signed"),
]


@pytest.mark.parametrize(("message", "candidate"), AMBIGUOUS)
def test_a_message_that_cannot_tell_its_causes_apart_says_so(message: str, candidate: str) -> None:
    explanation = decoder.explain(message)
    assert explanation.ambiguous
    assert candidate in explanation.candidates
    assert set(explanation.candidates) <= {c.finding for c in explanation.causes}
    words = decoder.ambiguity_text(explanation)
    assert candidate in words
    assert "handshake-doctor check" in words
    assert words in decoder.to_text(explanation)
    chinese = decoder.ambiguity_text(decoder.explain(message, lang="zh_CN"))
    assert CJK.search(chinese)
    assert candidate in chinese
    data = decoder.to_json(explanation)
    assert data["ambiguous"] is True
    assert candidate in data["candidates"]
    assert data["settle"] == words
    clear = decoder.explain("curl: (60) SSL certificate problem: certificate has expired")
    assert (clear.ambiguous, clear.candidates, decoder.ambiguity_text(clear)) == (False, (), "")


@pytest.mark.parametrize("lang", catalogue.LANGUAGES)
def test_every_ambiguous_candidate_has_words_and_is_a_cause(lang: str) -> None:
    texts = catalogue.ui_texts(lang)
    for entry in decoder.entries():
        assert set(entry.ambiguous) <= {c.finding for c in entry.causes}
        for finding in entry.ambiguous:
            assert texts.get(f"decoder.candidate.{finding}"), f"{entry.id}: {finding} ({lang})"
    raw = {"id": "x.y", "source": "x", "patterns": ["abc"], "example": "abc"}
    raw["causes"] = [{"finding": "cert.expired", "likelihood": "likely", "run": decoder.RUN_SITE}]
    for wrong in (["cert.expired", "cert.self_signed"], ["cert.expired"]):
        with pytest.raises(decoder.DataError, match="ambiguous"):
            decoder._entry_from({**raw, "ambiguous": wrong}, 0)


@pytest.mark.parametrize(
    ("message", "site"),
    [
        (
            "ERROR: The certificate of \u2018files.example.org\u2019 has expired.",
            "files.example.org",
        ),
        ("The certificate's owner does not match hostname \u2018127.0.0.1\u2019", "127.0.0.1"),
        (
            "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's "
            "altnames: Host: a.example.com. is not in the cert's altnames: DNS:o",
            "a.example.com",
        ),
        (
            "unable to access 'https://g.example.com:8443/': SSL: certificate subject name (o) "
            "does not match target host name 'g.example.com'",
            "g.example.com:8443",
        ),
    ],
)
def test_a_named_site_gets_its_check_command(message: str, site: str) -> None:
    explanation = decoder.explain(message)
    assert explanation.host == site
    assert explanation.check == f"handshake-doctor check {site}"
    assert decoder.site_text(explanation) in decoder.to_text(explanation)
    assert f"handshake-doctor check {site}" in decoder.site_text(explanation)
    assert decoder.to_json(explanation)["check"] == f"handshake-doctor check {site}"


def test_cli_check_diagnoses_the_site_the_message_names() -> None:
    # Port 9 on loopback is closed: the diagnosis ends fast with the TCP problem (exit 2).
    message = "curl: (60) SSL certificate problem: certificate has expired https://127.0.0.1:9/"
    done = _cli("--check", message, "--lang", "en")
    assert done.returncode == 2, done.stderr
    assert "Running: handshake-doctor check 127.0.0.1:9" in done.stdout
    assert "Handshake Doctor report: 127.0.0.1:9" in done.stdout
    done = _cli("--check", "curl: (60) SSL certificate problem: certificate has expired")
    assert done.returncode == 3
    assert "names no site" in done.stderr
    assert "curl.60_certificate_expired" in done.stdout
    done = _cli("--check", "--json", "curl: (60) x https://example.com/")
    assert done.returncode == 3
    assert "--json" in done.stderr
