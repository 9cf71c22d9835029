"""PyInstaller runtime hook that points the bundled OpenSSL at this Linux machine's trust store."""

# The OpenSSL inside a frozen app keeps the default CA paths of the machine that built it (its
# OPENSSLDIR, e.g. /usr/lib/ssl on Debian), which may not exist on the user's machine (Fedora,
# SUSE...): Python's `ssl` would then trust nothing. This hook runs before the app. When those
# defaults are missing and the user has set neither SSL_CERT_FILE nor SSL_CERT_DIR, it sets them
# to the distribution's real bundle and folder, plus HANDSHAKE_DOCTOR_CA_FROM_RUNTIME_HOOK=1 so
# that the trust store check can tell these values from ones the user set (with the marker set,
# every SSL_CERT_* variable present came from here).

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, MutableMapping

# The compiled bundle of each Linux family, in the order tried.
KNOWN_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Alpine, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL, Fedora, CentOS
    "/etc/ssl/ca-bundle.pem",  # openSUSE, SLES
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # RHEL, Fedora (the extracted source)
    "/etc/ssl/cert.pem",  # Alpine, OpenSSL's own default
)
KNOWN_CA_DIRS = ("/etc/ssl/certs",)
MARKER = "HANDSHAKE_DOCTOR_CA_FROM_RUNTIME_HOOK"


def choose(
    environ: Mapping[str, str],
    openssl_cafile: str | None,
    openssl_capath: str | None,
    *,
    is_file: Callable[[str], bool] = os.path.isfile,
    is_dir: Callable[[str], bool] = os.path.isdir,
) -> dict[str, str]:
    """The variables to set: none when the user set either one, none for a default that exists."""
    chosen: dict[str, str] = {}
    if environ.get("SSL_CERT_FILE") or environ.get("SSL_CERT_DIR"):
        return chosen
    if not (openssl_cafile and is_file(openssl_cafile)):
        found = next((path for path in KNOWN_CA_FILES if is_file(path)), None)
        if found:
            chosen["SSL_CERT_FILE"] = found
    if not (openssl_capath and is_dir(openssl_capath)):
        folder = next((path for path in KNOWN_CA_DIRS if is_dir(path)), None)
        if folder:
            chosen["SSL_CERT_DIR"] = folder
    return chosen


def openssl_defaults() -> tuple[str, str]:
    """OpenSSL's compiled-in CA file and folder, as `ssl.get_default_verify_paths()` gives them
    (read from `_ssl` directly: importing `ssl` here would cost the window's start 25 ms)."""
    import _ssl

    _, cafile, _, capath = _ssl.get_default_verify_paths()
    return cafile, capath


def apply(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set the chosen variables (and the marker) in `environ`; returns what was set."""
    cafile, capath = openssl_defaults()
    chosen = choose(environ, cafile, capath)
    if chosen:
        environ.update(chosen)
        environ[MARKER] = "1"
    return chosen


if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    apply(os.environ)
