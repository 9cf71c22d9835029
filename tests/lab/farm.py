"""A shared-host farm: one nginx serving every certificate scenario by name (SNI) on one port."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.lab import pki
from tests.lab.nginx import Nginx, tls_server_block
from tests.lab.scenarios import LOOPBACK, SPECS, WEAK_CIPHERS, Lab, _tls_chains, host_of, names

DOMAIN = "farm.test"
DEFAULT_HOST = f"default.{DOMAIN}"
LEGACY_DEFAULT_HOST = f"legacy-default.{DOMAIN}"

# Every certificate scenario that is reached by a name (ip_san is reached by address only).
CERT_SCENARIOS = tuple(name for name in names(kind="tls") if name != "ip_san")
# Extra healthy names, as on any shared host: its own certificate each.
EXTRA_HEALTHY = ("shop", "api", "mail", "static", "cdn", "blog")
SHARED_NAMES = (*CERT_SCENARIOS, *EXTRA_HEALTHY)
HEALTHY = tuple(name for name in SHARED_NAMES if SPECS.get(name) is None or SPECS[name].healthy)
FAULTY = tuple(name for name in SHARED_NAMES if name not in HEALTHY)
PROFILES = ("modern", "intermediate", "old")
PORTS = ("shared", "legacy", *PROFILES)
# Faults nginx refuses to load at OpenSSL's default security level (RSA-1024, SHA-1).
NEEDS_SECLEVEL_0 = ("weak_key", "weak_signature")

# The shared port: TLS 1.2 and 1.3 with nginx's default cipher list ("HIGH:!aNULL:!MD5"), close
# to Mozilla's intermediate profile. nginx 1.22 still enables TLS 1.0/1.1 by default (1.23.4
# dropped them), so the versions are set here. With SNI, the version and cipher list of the
# port's default server apply to every name; a name's block can only bring its certificate,
# its security level and its client-certificate settings.
SHARED = ("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_ciphers HIGH:!aNULL:!MD5;")
# The legacy port: TLS 1.2 only, CBC, static-RSA and DHE suites with a 1024-bit DH group (3DES
# too, where OpenSSL still has it: this Debian build has none), security level 0 so that weak
# certificates load. Like legacy hosts that kept old clients working, every healthy name with
# an ECDSA certificate also has an RSA one here, so the RSA-only suites are usable by name.
LEGACY = (
    "ssl_protocols TLSv1.2;",
    "ssl_ciphers "
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
    "DHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA:DHE-RSA-AES128-GCM-SHA256:"
    "AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "ECDHE-ECDSA-DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA:DES-CBC3-SHA:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0;",
    "ssl_prefer_server_ciphers on;",
    "ssl_dhparam {dhparam};",
)
_MOZILLA_SESSION = (
    "ssl_session_timeout 1d;",
    "ssl_session_cache shared:MozSSL:10m;",
    "ssl_session_tickets off;",
)
_MOZILLA_AEAD = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)
# Mozilla SSL Configuration Generator, nginx 1.22 / OpenSSL 3.0, guidelines 5.7 ("modern"):
# TLS 1.3 only, the TLS 1.3 suites of OpenSSL's default; ECDSA P-256 certificate.
# Left out: `listen ... http2`, OCSP stapling (no responder in the lab).
MODERN = (
    "ssl_protocols TLSv1.3;",
    "ssl_prefer_server_ciphers off;",
    *_MOZILLA_SESSION,
    'add_header Strict-Transport-Security "max-age=63072000" always;',
)
# Mozilla SSL Configuration Generator, nginx 1.22 / OpenSSL 3.0, guidelines 5.7
# ("intermediate"): TLS 1.2 + 1.3, ECDHE/DHE with AES-GCM or ChaCha20, RFC 7919 ffdhe2048;
# the certificate here is RSA 2048 so the DHE suites are usable too.
INTERMEDIATE = (
    "ssl_protocols TLSv1.2 TLSv1.3;",
    f"ssl_ciphers {_MOZILLA_AEAD};",
    "ssl_prefer_server_ciphers off;",
    "ssl_dhparam {dhparam};",
    *_MOZILLA_SESSION,
    'add_header Strict-Transport-Security "max-age=63072000" always;',
)
# Mozilla SSL Configuration Generator, nginx 1.22 / OpenSSL 3.0, guidelines 5.7 ("old"):
# TLS 1.0 - 1.3, CBC, static-RSA and 3DES suites, server order, a 1024-bit DH group
# (`openssl dhparam 1024`), RSA 2048 certificate; @SECLEVEL=0 so OpenSSL 3 allows TLS 1.0/1.1.
OLD = (
    "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;",
    f"ssl_ciphers {_MOZILLA_AEAD}:"
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
    "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:"
    "DES-CBC3-SHA:@SECLEVEL=0;",
    "ssl_prefer_server_ciphers on;",
    "ssl_dhparam {dhparam};",
    *_MOZILLA_SESSION,
    'add_header Strict-Transport-Security "max-age=63072000" always;',
)
PROFILE_SETTINGS = {"modern": MODERN, "intermediate": INTERMEDIATE, "old": OLD}
PROFILE_KEYS = {"modern": "ec256", "intermediate": "rsa2048", "old": "rsa2048"}


def farm_host(name: str) -> str:
    """The name a farm site is reached by: `good.farm.test`, `www.wild.farm.test`, ..."""
    return host_of(name, DOMAIN)


def _server_name(name: str) -> str:
    return f"*.wild.{DOMAIN}" if name == "wildcard" else farm_host(name)


@dataclass(frozen=True)
class Site:
    """One name served on one port of the farm, and the finding it must cause (None: healthy)."""

    name: str
    host: str
    port: int
    expected: str | None
    chain: tuple[pki.Issued, ...]
    address: str = LOOPBACK

    @property
    def healthy(self) -> bool:
        return self.expected is None

    @property
    def leaf(self) -> pki.Issued:
        return self.chain[0]

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def resolve(self) -> str:
        return f"{self.host}:{self.port}:{self.address}"


@dataclass
class Farm:
    """One nginx serving many names per port, as a CDN or shared host does."""

    root_pem: Path
    ports: dict[str, int]
    chains: dict[str, tuple[pki.Issued, ...]]
    default: tuple[pki.Issued, ...]
    legacy_default: tuple[pki.Issued, ...]
    server: Nginx
    on_port: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def site(self, name: str, port: str = "shared") -> Site:
        if name not in self.on_port[port]:
            raise LookupError(f"{name} is not served on the {port} port")
        spec = SPECS.get(name)
        return Site(
            name,
            farm_host(name),
            self.ports[port],
            spec.expected if spec else None,
            self.chains[name],
        )

    def __getitem__(self, name: str) -> Site:
        """A name on the shared port, or a Mozilla profile on its own port."""
        return self.site(name, name if name in PROFILES else "shared")

    def cli_args(
        self, name: str, port: str = "shared", *, only: str | None = "target"
    ) -> list[str]:
        """Arguments after `check` that diagnose `name` on `port` against the lab root only."""
        site = self.site(name, port)
        return [
            site.target,
            "--resolve",
            site.resolve,
            "--cacert",
            str(self.root_pem),
            "--known-roots",
            str(self.root_pem),
            "--connect-timeout",
            "2",
            *(["--only", only] if only else []),
            "--json",
        ]


def _block(
    port: int,
    files: tuple[Path, Path],
    settings: Sequence[str],
    *,
    server_name: str = "_",
    default: bool = False,
) -> str:
    cert, key = files
    extra = "\n    ".join(settings)
    return tls_server_block(
        port, server_name=server_name, certificate=cert, key=key, default=default, extra=extra
    )


def _site_settings(name: str, base: Sequence[str], client_ca: Path) -> list[str]:
    settings = list(base)
    if name in NEEDS_SECLEVEL_0 and not any("@SECLEVEL=0" in line for line in base):
        # Only the security level matters here: the cipher list is the default server's.
        settings = [line for line in settings if not line.startswith("ssl_ciphers ")]
        settings.append(f"ssl_ciphers {WEAK_CIPHERS};")
    if name == "client_cert_required":
        settings += ["ssl_verify_client on;", f"ssl_client_certificate {client_ca};"]
    return settings


def _dhparams(folder: Path) -> dict[str, Path]:
    ffdhe = folder / "ffdhe2048.pem"
    small = folder / "dh1024.pem"
    # RFC 7919 ffdhe2048, as Mozilla's intermediate profile serves it; a fresh 1024-bit group
    # (`openssl dhparam 1024`) for the old profile and the legacy port.
    ffdhe2048 = ["-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", str(ffdhe)]
    subprocess.run(["openssl", "genpkey", "-genparam", *ffdhe2048], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "dhparam", "-out", str(small), "1024"], check=True, capture_output=True
    )
    return {"intermediate": ffdhe, "old": small}


@contextlib.contextmanager
def running_farm(lab: Lab, folder: Path) -> Iterator[Farm]:
    """Issue the farm's certificates under the lab's root in `folder`, run nginx until exit."""
    certs = folder / "certs"
    inter = lab.intermediate
    chains = {
        name: chain
        for name, chain in _tls_chains(lab.root, inter, DOMAIN).items()
        if name in CERT_SCENARIOS
    }
    for name in EXTRA_HEALTHY:
        chains[name] = (pki.leaf(farm_host(name), inter), inter)
    for name in PROFILES:
        chains[name] = (pki.leaf(farm_host(name), inter, key=PROFILE_KEYS[name]), inter)
    default = (pki.leaf(DEFAULT_HOST, inter), inter)
    legacy_default = (pki.leaf(LEGACY_DEFAULT_HOST, inter), inter)
    files = {name: pki.write_chain(certs, name, chain) for name, chain in chains.items()}
    files["default"] = pki.write_chain(certs, "default", default)
    files["legacy_default"] = pki.write_chain(certs, "legacy-default", legacy_default)
    for name in HEALTHY:
        if not isinstance(chains[name][0].key, rsa.RSAPrivateKey):
            twin = (pki.leaf(_server_name(name), inter, key="rsa2048"), inter)
            files[f"{name}-rsa"] = pki.write_chain(certs, f"{name}-rsa", twin)
    dhparam = _dhparams(folder)
    legacy = [line.format(dhparam=dhparam["old"]) for line in LEGACY]

    def legacy_settings(name: str) -> list[str]:
        settings = _site_settings(name, legacy, lab.client_ca_pem)
        if f"{name}-rsa" in files:
            cert, key = files[f"{name}-rsa"]
            settings += [f"ssl_certificate {cert};", f"ssl_certificate_key {key};"]
        return settings

    def build(ports: Sequence[int]) -> str:
        port = dict(zip(PORTS, ports, strict=True))
        blocks = [
            _block(port["shared"], files["default"], SHARED, default=True),
            _block(port["legacy"], files["legacy_default"], legacy, default=True),
        ]
        for name in SHARED_NAMES:
            shared = _site_settings(name, SHARED, lab.client_ca_pem)
            blocks.append(
                _block(port["shared"], files[name], shared, server_name=_server_name(name))
            )
        for name in SHARED_NAMES:
            settings = legacy_settings(name)
            blocks.append(
                _block(port["legacy"], files[name], settings, server_name=_server_name(name))
            )
        for name in PROFILES:
            settings = [line.format(dhparam=dhparam.get(name)) for line in PROFILE_SETTINGS[name]]
            blocks.append(
                _block(port[name], files[name], settings, server_name=farm_host(name), default=True)
            )
        return "".join(blocks)

    with Nginx(build, ports=len(PORTS), workdir=folder / "nginx") as server:
        farm = Farm(
            root_pem=lab.root_pem,
            ports=dict(zip(PORTS, server.ports, strict=True)),
            chains=chains,
            default=default,
            legacy_default=legacy_default,
            server=server,
            on_port={
                "shared": SHARED_NAMES,
                "legacy": SHARED_NAMES,
                **{name: (name,) for name in PROFILES},
            },
        )
        yield farm
