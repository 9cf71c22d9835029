"""Loads and matches the catalogue of products that intercept HTTPS, kept in resources/."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from checks.core import compiled
from checks.core.platform import OS_NAMES, OSName

KINDS = ("antivirus", "enterprise", "firewall", "debugging")


@dataclass(frozen=True)
class Product:
    """One product that re-signs HTTPS traffic with a root of its own.

    Attributes:
        id: stable lowercase key (`avast`), used in params and tests.
        name: what users call it (`Avast`).
        kind: `antivirus`, `enterprise` (a company's inspection service), `firewall` or
            `debugging` (a developer's proxy).
        issuer_cn: regular expressions that must match a whole issuer common name.
        issuer_o: regular expressions that must match a whole issuer organisation.
        processes: executable names per OS, compared without case.
    """

    id: str
    name: str
    kind: str
    issuer_cn: tuple[re.Pattern[str], ...]
    issuer_o: tuple[re.Pattern[str], ...]
    processes: Mapping[OSName, tuple[str, ...]] = field(default_factory=dict)

    def matches(self, common_names: Iterable[str], organisations: Iterable[str]) -> bool:
        """Whether any of the names is fully matched by one of this product's patterns."""
        if any(p.fullmatch(cn) for cn in common_names for p in self.issuer_cn):
            return True
        return any(p.fullmatch(org) for org in organisations for p in self.issuer_o)


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


@dataclass(frozen=True)
class Catalogue:
    """Every known intercepting product, and the version of the list they came from."""

    version: int
    products: tuple[Product, ...]

    def by_id(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def match_name(self, name: x509.Name) -> Product | None:
        """The product whose patterns match this distinguished name (its CN or O)."""
        cns = _values(name, NameOID.COMMON_NAME)
        orgs = _values(name, NameOID.ORGANIZATION_NAME)
        return next((p for p in self.products if p.matches(cns, orgs)), None)

    def match_certificate(self, cert: x509.Certificate) -> Product | None:
        """The product that issued `cert` or that `cert` (a root of its own) belongs to."""
        return self.match_name(cert.issuer) or self.match_name(cert.subject)

    def match_chain(self, chain: Sequence[x509.Certificate]) -> Product | None:
        """The product named anywhere in a chain, looked for from the top (root end) down."""
        for cert in reversed(chain):
            found = self.match_certificate(cert)
            if found is not None:
                return found
        return None

    def running(self, names: Iterable[str], os_name: OSName) -> dict[str, list[str]]:
        """Product id -> the process names among `names` that belong to it on `os_name`."""
        seen = {n.casefold(): n for n in names if n}
        found: dict[str, list[str]] = {}
        for product in self.products:
            for wanted in product.processes.get(os_name, ()):
                actual = seen.get(wanted.casefold())
                if actual is not None:
                    found.setdefault(product.id, []).append(actual)
        return found


def _patterns(raw: object, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise ValueError(f"{where} must be a list of regular expressions")
    try:
        return tuple(re.compile(r) for r in raw)
    except re.error as exc:
        raise ValueError(f"{where}: {exc}") from exc


def parse(text: str) -> Catalogue:
    """Parse the catalogue's TOML; raise `ValueError` when it is malformed."""
    return from_data(tomllib.loads(text))


def from_data(data: Mapping[str, Any]) -> Catalogue:
    """The catalogue from its parsed tables; raise `ValueError` when they are malformed."""
    version = data.get("version")
    if not isinstance(version, int):
        raise ValueError("the product catalogue has no integer `version`")
    products: list[Product] = []
    for raw in data.get("products", []):
        product_id = str(raw.get("id", ""))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", product_id):
            raise ValueError(f"bad product id {product_id!r}")
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"{product_id}: kind {kind!r} is not one of {KINDS}")
        cn = _patterns(raw.get("issuer_cn", []), f"{product_id}.issuer_cn")
        org = _patterns(raw.get("issuer_o", []), f"{product_id}.issuer_o")
        if not cn and not org:
            raise ValueError(f"{product_id} has neither issuer_cn nor issuer_o patterns")
        processes_raw = raw.get("processes", {})
        processes = {
            os_name: tuple(str(n) for n in processes_raw.get(os_name, ())) for os_name in OS_NAMES
        }
        products.append(Product(product_id, str(raw["name"]), kind, cn, org, processes))
    ids = [p.id for p in products]
    if len(ids) != len(set(ids)):
        raise ValueError("product ids repeat")
    return Catalogue(version, tuple(products))


@functools.cache
def load() -> Catalogue:
    """The catalogue shipped in resources/ (read once)."""
    return from_data(compiled.load_toml("interception_products.toml"))


__all__ = ["KINDS", "Catalogue", "Product", "load", "parse"]
