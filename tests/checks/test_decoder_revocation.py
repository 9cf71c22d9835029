"""The error decoder knows what browsers, Schannel, curl, OpenSSL, Java and .NET say when a
certificate is revoked, its revocation cannot be checked, or its stapling or transparency is
missing."""

from __future__ import annotations

import re

import pytest

from checks.present import catalogue, decoder

CJK = re.compile(r"[\u4e00-\u9fff]")

CURL_SCHANNEL_NO_CHECK = (
    "curl: (35) schannel: next InitializeSecurityContext failed: Unknown error (0x80092012) - "
    "The revocation function was unable to check revocation for the certificate."
)
GIT_SCHANNEL_OFFLINE = (
    "fatal: unable to access 'https://git.example.com/team/app.git/': schannel: next "
    "InitializeSecurityContext failed: CRYPT_E_REVOCATION_OFFLINE (0x80092013) - The revocation "
    "function was unable to check revocation because the revocation server was offline."
)
CHROME_REVOKED = (
    "Your connection is not private. Attackers might be trying to steal your information from "
    "revoked.example.com (for example, passwords, messages, or credit cards). NET::ERR_CERT_REVOKED"
)
FIREFOX_MUST_STAPLE = (
    "Secure Connection Failed An error occurred during a connection to shop.example.com. A "
    "required TLS feature is missing. Error code: MOZILLA_PKIX_ERROR_REQUIRED_TLS_FEATURE_MISSING"
)
CHROME_CT = (
    "Your connection is not private. Attackers might be trying to steal your information from "
    "new.example.com (for example, passwords, messages, or credit cards). "
    "NET::ERR_CERTIFICATE_TRANSPARENCY_REQUIRED"
)
JAVA_REVOKED = (
    "javax.net.ssl.SSLHandshakeException: PKIX path validation failed: "
    "java.security.cert.CertPathValidatorException: Certificate has been revoked, reason: "
    "KEY_COMPROMISE, revocation date: Mon May 13 10:00:00 UTC 2024, authority: CN=R3, "
    "O=Let's Encrypt, C=US, extension OIDs: []"
)

CASES = [
    (CURL_SCHANNEL_NO_CHECK, "windows.crypt_e_revocation_check", "cert.revocation_unreachable"),
    (GIT_SCHANNEL_OFFLINE, "windows.crypt_e_revocation_check", "cert.revocation_unreachable"),
    (CHROME_REVOKED, "chrome.err_cert_revoked", "cert.revoked"),
    (
        FIREFOX_MUST_STAPLE,
        "firefox.mozilla_pkix_error_required_tls_feature_missing",
        "cert.must_staple_missing",
    ),
    (CHROME_CT, "chrome.err_certificate_transparency_required", "cert.no_sct"),
    (JAVA_REVOKED, "java.certificate_revoked", "cert.revoked"),
    (
        "NET::ERR_CERT_UNABLE_TO_CHECK_REVOCATION",
        "chrome.err_cert_unable_to_check_revocation",
        "cert.revocation_unreachable",
    ),
    (
        "An error occurred during a connection to a.example.com. Peer's Certificate has been "
        "revoked. Error code: SEC_ERROR_REVOKED_CERTIFICATE",
        "firefox.sec_error_revoked_certificate",
        "cert.revoked",
    ),
    (
        "Error code: SEC_ERROR_OCSP_UNKNOWN_CERT",
        "firefox.sec_error_ocsp_unknown_cert",
        "cert.revocation_unknown",
    ),
    (
        "Error code: SEC_ERROR_OCSP_INVALID_SIGNING_CERT",
        "firefox.sec_error_ocsp_invalid_response",
        "cert.revocation_invalid",
    ),
    (
        "curl: (35) schannel: next InitializeSecurityContext failed: CRYPT_E_REVOKED "
        "(0x80092010) - The certificate is revoked.",
        "windows.crypt_e_revoked",
        "cert.revoked",
    ),
    (
        "System.Security.Authentication.AuthenticationException: The remote certificate is invalid "
        "because of errors in the certificate chain: RevocationStatusUnknown, OfflineRevocation",
        "dotnet.chain_revocation_unknown",
        "cert.revocation_unreachable",
    ),
    (
        "curl: (60) SSL certificate problem: certificate revoked",
        "curl.60_certificate_revoked",
        "cert.revoked",
    ),
    (
        "curl: (91) SSL certificate revocation reason: keyCompromise (1)",
        "curl.91_revoked",
        "cert.revoked",
    ),
    (
        "curl: (91) No OCSP response received",
        "curl.91_no_ocsp_response",
        "cert.must_staple_missing",
    ),
    (
        "curl: (91) OCSP response has expired",
        "curl.91_ocsp_response_expired",
        "cert.revocation_invalid",
    ),
    (
        "depth=0 CN = revoked.example.com verify error:num=23:certificate revoked",
        "openssl.verify_23_certificate_revoked",
        "cert.revoked",
    ),
    (
        "java.security.cert.CertPathValidatorException: Could not determine revocation status",
        "java.revocation_status_undetermined",
        "cert.revocation_unreachable",
    ),
]


@pytest.mark.parametrize(("message", "entry", "first_cause"), CASES)
def test_a_revocation_message_decodes_to_its_entry_and_first_cause(
    message: str, entry: str, first_cause: str
) -> None:
    explanation = decoder.explain(message)
    assert explanation.recognised
    assert explanation.entry == entry
    assert explanation.causes[0].finding == first_cause


@pytest.mark.parametrize(
    ("message", "site"),
    [
        (CHROME_REVOKED, "revoked.example.com"),
        (GIT_SCHANNEL_OFFLINE, "git.example.com"),
        (FIREFOX_MUST_STAPLE, "shop.example.com"),
    ],
)
def test_the_revocation_fetch_is_checked_on_the_site_the_message_names(
    message: str, site: str
) -> None:
    explanation = decoder.explain(message)
    assert explanation.host == site
    assert explanation.causes[0].run == f"handshake-doctor check {site}"


def test_a_revocation_check_that_fails_is_checked_from_this_computer_for_the_site() -> None:
    # The revocation fetch runs from this computer, but for the site's certificate: its check
    # names the site, while the proxy and interception causes are about this computer alone.
    entry = next(e for e in decoder.entries() if e.id == "windows.crypt_e_revocation_check")
    runs = {c.finding: c.run for c in entry.causes}
    assert runs["cert.revocation_unreachable"] == decoder.RUN_SITE
    assert runs["proxy.configured"] == decoder.RUN_LOCAL


@pytest.mark.parametrize(
    "message",
    [
        "schannel: next InitializeSecurityContext failed: Unknown error (0x80092013) - "
        "由于吊销服务器已脱机，吊销功能无法检查吊销。",
        "curl: (35) schannel: next InitializeSecurityContext failed: Unknown error (0x80092013) -",
    ],
)
def test_chinese_and_cut_off_schannel_wordings_beat_curls_catch_all(message: str) -> None:
    assert decoder.explain(message).entry == "windows.crypt_e_revocation_check"


def test_an_untrusted_root_listed_first_stays_an_untrusted_root() -> None:
    message = (
        "The remote certificate is invalid because of errors in the certificate chain: "
        "UntrustedRoot, RevocationStatusUnknown, OfflineRevocation"
    )
    assert decoder.explain(message).entry == "dotnet.chain_untrusted_root"


@pytest.mark.parametrize(("message", "entry", "first_cause"), CASES)
def test_chinese_output_explains_the_revocation_messages(
    message: str, entry: str, first_cause: str
) -> None:
    explanation = decoder.explain(message, lang="zh_CN")
    assert explanation.lang == "zh_CN"
    assert explanation.entry == entry
    assert CJK.search(explanation.meaning)
    assert all(CJK.search(cause.why) for cause in explanation.causes)
    text = decoder.to_text(explanation)
    assert first_cause in text
    assert CJK.search(text)


def test_the_new_causes_have_their_own_words_in_every_language() -> None:
    findings = (
        "cert.revoked",
        "cert.revocation_unreachable",
        "cert.revocation_unknown",
        "cert.revocation_invalid",
        "cert.must_staple_missing",
        "cert.no_sct",
    )
    for lang in catalogue.LANGUAGES:
        texts = catalogue.ui_texts(lang)
        words = [texts.get(f"decoder.cause.{finding}") for finding in findings]
        assert all(words), lang
        assert len(set(words)) == len(words), lang
