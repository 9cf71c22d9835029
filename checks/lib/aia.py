"""Downloads the issuer certificate a certificate's AIA address names, small and bounded in time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from checks.lib import http_get

MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """What the AIA address gave: the certificates found there, or why there were none."""

    url: str
    certificates: tuple[x509.Certificate, ...] = ()
    error: str | None = None
    via_proxy: bool = False


def _certificates(body: bytes) -> tuple[x509.Certificate, ...]:
    """A certificate in DER or PEM, or a PKCS#7 bundle of them (`.p7c`)."""
    loaders: tuple[Callable[[bytes], Sequence[x509.Certificate]], ...] = (
        lambda data: [x509.load_der_x509_certificate(data)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            return tuple(load(body))
        except ValueError:
            continue
    return ()


def fetch(url: str, *, timeout: float, cancel: threading.Event) -> Fetched:
    """GET `url` (http only, as AIA addresses are) directly or through the HTTP proxy, at most
    `MAX_BYTES` and `timeout` seconds in all; raises `Cancelled` on cancel."""
    got = http_get.get(url, max_bytes=MAX_BYTES, timeout=timeout, cancel=cancel)
    if got.body is None:
        return Fetched(url, error=got.error or "no answer", via_proxy=got.via_proxy)
    found = _certificates(got.body)
    error = None if found else "no certificate in the answer"
    return Fetched(url, found, error, via_proxy=got.via_proxy)
