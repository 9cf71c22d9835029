"""A certificate file given to `inspect`, what the certificate check concluded about it, and why
a file cannot be read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from checks.core.models import CheckResult


class CertFileError(Exception):
    """A file that cannot be analysed; `key` and `params` pick the sentence (`cert_file.<key>`)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class CertFile:
    """A certificate file and what the certificate check concluded about it.

    Attributes:
        path: the file, as given.
        display: the file's path for people, with the home directory as ~.
        pems: each certificate as PEM, in file order (None where a block could not be read).
        host: the name the server certificate was checked against.
        result: findings and facts, as the `cert` check would report them.
        kind: `pem`, `der`, `pkcs7` or `pkcs12`.
    """

    path: Path
    display: str
    pems: tuple[str | None, ...]
    host: str
    result: CheckResult
    kind: str = "pem"
