"""The error decoder knows what mail, directory and database programs say when STARTTLS fails."""

from __future__ import annotations

import re

import pytest

from checks.core.target import parse
from checks.present import catalogue, decoder

CJK = re.compile(r"[\u4e00-\u9fff]")

OUTLOOK_ENCRYPTION = (
    "Send test e-mail message: Your server does not support the connection encryption type you "
    "have specified. Try changing the encryption method. Contact your mail server administrator "
    "or Internet service provider (ISP) for additional assistance."
)
PSQL_NO_SSL = (
    'psql: error: connection to server at "db.example.com" (203.0.113.10), port 5432 failed: '
    "server does not support SSL, but SSL was required"
)
THUNDERBIRD_NO_STARTTLS = (
    "Sending of the message failed. An error occurred while sending mail: Unable to establish a "
    "secure link with Outgoing server (SMTP) mail.example.com using STARTTLS since it doesn't "
    "advertise that feature. Switch off STARTTLS for that server or contact your service provider."
)
LDAP_NO_STARTTLS = (
    "ldap_start_tls: Protocol error (2)\n\tadditional info: unsupported extended operation"
)
OPENSSL_NO_STARTTLS = (
    "CONNECTED(00000003)\nDidn't find STARTTLS in server response, trying anyway...\n"
    "40C7F4D2C17F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:"
    "../ssl/record/ssl3_record.c:354:"
)
POSTFIX_LOG = "\n".join(
    (
        "May 17 09:12:44 mx postfix/smtpd[2301]: connect from client.example.net[198.51.100.7]",
        "May 17 09:12:44 mx postfix/smtpd[2301]: SSL_accept error from "
        "client.example.net[198.51.100.7]: -1",
        "May 17 09:12:44 mx postfix/smtpd[2301]: warning: TLS library problem: "
        "error:0A000418:SSL routines::tlsv1 alert unknown ca:ssl/record/rec_layer_s3.c:1586:"
        "SSL alert number 48:",
        "May 17 09:12:44 mx postfix/smtpd[2301]: lost connection after STARTTLS from "
        "client.example.net[198.51.100.7]",
    )
)


@pytest.mark.parametrize(
    ("message", "entry", "first_cause"),
    [
        (OUTLOOK_ENCRYPTION, "outlook.encryption_type_not_supported", "starttls.implicit_tls"),
        (PSQL_NO_SSL, "libpq.ssl_not_supported", "starttls.not_offered"),
        (THUNDERBIRD_NO_STARTTLS, "thunderbird.starttls_not_advertised", "starttls.not_offered"),
        (LDAP_NO_STARTTLS, "openldap.start_tls_not_supported", "starttls.not_offered"),
        (OPENSSL_NO_STARTTLS, "openssl.starttls_not_found", "starttls.not_offered"),
        (
            "org.postgresql.util.PSQLException: The server does not support SSL.",
            "pgjdbc.ssl_not_supported",
            "starttls.not_offered",
        ),
        (
            "ERROR 2026 (HY000): SSL connection error: SSL is required but the server doesn't "
            "support it",
            "mysql.ssl_required_not_supported",
            "starttls.not_offered",
        ),
        (
            "status=deferred (TLS is required, but was not offered by host "
            "mx.example.org[203.0.113.25])",
            "postfix.tls_required_not_offered",
            "starttls.not_offered",
        ),
        (
            "status=deferred (TLS is required, but host mx.example.org[203.0.113.25] refused to "
            "start TLS: 454 4.7.0 TLS not available due to local problem)",
            "postfix.tls_refused_by_host",
            "starttls.refused",
        ),
        (
            'connection to server at "mysql" (172.18.0.3), port 3306 failed: received invalid '
            "response to SSL negotiation: J",
            "libpq.invalid_ssl_response",
            "starttls.other_protocol",
        ),
        (
            "curl: (64) STARTTLS not supported.",
            "curl.64_starttls_not_supported",
            "starttls.not_offered",
        ),
    ],
    ids=lambda value: value if "." in value and " " not in value else None,
)
def test_a_starttls_message_decodes_to_its_entry_and_first_cause(
    message: str, entry: str, first_cause: str
) -> None:
    explanation = decoder.explain(message)
    assert explanation.recognised
    assert explanation.entry == entry
    assert explanation.causes[0].finding == first_cause


def test_outlook_cannot_tell_which_way_the_port_and_the_setting_are_mixed_up() -> None:
    explanation = decoder.explain(OUTLOOK_ENCRYPTION)
    assert explanation.ambiguous
    assert set(explanation.candidates) == {"starttls.implicit_tls", "tls.not_tls"}
    assert "starttls.implicit_tls" in decoder.ambiguity_text(explanation)
    chinese = decoder.ambiguity_text(decoder.explain(OUTLOOK_ENCRYPTION, lang="zh_CN"))
    assert CJK.search(chinese)
    assert "tls.not_tls" in chinese


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        # The program's own wording beats the library's catch-all inside it.
        (
            "ERROR 2026 (HY000): SSL connection error: error:0A000086:SSL routines::certificate "
            "verify failed",
            "mysql.certificate_verify_failed",
        ),
        (
            'connection to server at "db.example.com", port 5432 failed: SSL error: certificate '
            "verify failed",
            "libpq.certificate_verify_failed",
        ),
        # What openssl printed first explains what follows: the missing STARTTLS.
        (OPENSSL_NO_STARTTLS, "openssl.starttls_not_found"),
        # Outlook's warning quotes the Windows reason; the warning as a whole is more specific.
        (
            "The server you are connected to is using a security certificate that cannot be "
            "verified. The certificate chain was issued by an authority that is not trusted.",
            "outlook.certificate_cannot_be_verified",
        ),
        (
            "The server you are connected to is using a security certificate that cannot be "
            "verified. The target principal name is incorrect.",
            "outlook.certificate_name_mismatch",
        ),
        (
            "ldap_start_tls: Connect error (-11)\n\tadditional info: TLS: hostname does not match "
            "CN in peer certificate",
            "openldap.hostname_mismatch",
        ),
        # In a mail log, the client's refusal of the certificate explains the SSL_accept error.
        (POSTFIX_LOG, "postfix.client_rejected_certificate"),
    ],
)
def test_the_most_specific_mail_directory_or_database_wording_wins(
    message: str, entry: str
) -> None:
    assert decoder.explain(message).entry == entry


def test_chinese_messages_and_output() -> None:
    jdbc = decoder.explain(
        "org.postgresql.util.PSQLException: 服务器不支援 SSL 连线。", lang="zh_CN"
    )
    assert jdbc.entry == "pgjdbc.ssl_not_supported"
    assert CJK.search(jdbc.meaning)
    assert all(CJK.search(cause.why) for cause in jdbc.causes)
    text = decoder.to_text(decoder.explain(THUNDERBIRD_NO_STARTTLS, lang="zh_CN"))
    assert "thunderbird.starttls_not_advertised" in text
    assert catalogue.ui("decoder.cause.starttls.not_offered", lang="zh_CN") in text


STARTTLS_ENTRIES = [
    entry
    for entry in decoder.entries()
    if any(c.finding.startswith("starttls.") for c in entry.causes)
]


@pytest.mark.parametrize("entry", STARTTLS_ENTRIES, ids=lambda entry: entry.id)
def test_a_mail_or_database_message_never_sends_the_check_to_the_web_port(
    entry: decoder.Entry,
) -> None:
    # `handshake-doctor check mail.example.com` would check HTTPS on 443: a site taken from a
    # STARTTLS message is only good with the port that selects the protocol.
    for message in (entry.example, *entry.more_examples):
        explanation = decoder.explain(message)
        assert explanation.entry == entry.id
        assert explanation.host is None or ":" in explanation.host, (entry.id, explanation.host)


def test_every_starttls_finding_the_decoder_names_is_a_real_finding_with_words() -> None:
    from checks import registry

    emitted = registry.emitted_findings()
    named = {c.finding for e in decoder.entries() for c in e.causes}
    starttls = {finding for finding in named if finding.startswith("starttls.")}
    assert starttls >= {"starttls.not_offered", "starttls.refused", "starttls.implicit_tls"}
    for finding in starttls:
        assert finding in emitted
        for lang in catalogue.LANGUAGES:
            assert catalogue.ui(f"decoder.cause.{finding}", lang=lang)


@pytest.mark.parametrize(
    ("message", "site"),
    [
        (PSQL_NO_SSL, "db.example.com:5432"),
        (THUNDERBIRD_NO_STARTTLS, "submission://mail.example.com"),
        (
            "jdbc:postgresql://db.corp.example:6432/app "
            "org.postgresql.util.PSQLException: The server does not support SSL.",
            "postgresql://db.corp.example:6432",
        ),
        (
            "postfix/smtp[8812]: 4F00A1: to=<a@b.example>, relay=mx.b.example[192.0.2.7]:25, "
            "delay=1, status=deferred (TLS is required, but was not offered by host "
            "mx.b.example[192.0.2.7])",
            "mx.b.example:25",
        ),
    ],
)
def test_the_server_a_message_names_is_checked_with_its_protocol(message: str, site: str) -> None:
    explanation = decoder.explain(message)
    assert explanation.host == site
    assert explanation.check == f"handshake-doctor check {site}"
    target = parse(site)
    assert target.starttls is not None


def test_a_message_without_a_server_asks_for_one_with_the_protocols_scheme() -> None:
    text = decoder.to_text(decoder.explain(LDAP_NO_STARTTLS))
    assert "handshake-doctor check ldap://server.example.com" in text
    chinese = decoder.to_text(decoder.explain(LDAP_NO_STARTTLS, lang="zh_CN"))
    assert "ldap://server.example.com" in chinese


def test_an_entry_scheme_must_be_one_a_target_takes() -> None:
    raw = {
        "id": "x.y",
        "source": "X",
        "patterns": ["x y z"],
        "example": "x y z",
        "scheme": "gopher",
        "causes": [{"finding": "cert.expired", "likelihood": "likely", "run": decoder.RUN_SITE}],
    }
    with pytest.raises(decoder.DataError, match="scheme"):
        decoder._entry_from(raw, 0)
