"""Revocation, certificate-transparency and expiry lab on loopback: OCSP responders, CRL servers,
an nginx that staples, and TLS servers for each scenario.

The OCSP responder is OpenSSL's own (`openssl ocsp -index ... -CA ... -rsigner ... -rkey ...`),
asked once per HTTP request with `-reqin`/`-respout` behind a Python listener on 127.0.0.1:
in OpenSSL 3.0 `openssl ocsp -port N` takes a bare port number and listens on every interface
([::]:N), which the lab never does. The response is built and signed by the same OpenSSL code
as in daemon mode, and the index file is read afresh each time, so `revoke()` takes effect at
once. Nothing here needs the internet.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.lab import pki
from tests.lab.nginx import Nginx, nginx_available, tls_server_block
from tests.lab.servers import CannedServer, LoopbackServer, SilentServer, TLSServer, closed_port

OPENSSL = "openssl"
INSTALL_HINT = "run packaging/install-system-packages.sh test"
# One `openssl ocsp` run takes ~25 ms; this only bounds a wedged one.
OPENSSL_TIMEOUT = 10.0
# Minutes until the responder's nextUpdate (`-nmin`).
NEXT_UPDATE_MINUTES = 10
STAPLE_TIMEOUT = 10.0
DOMAIN = "rev.test"
OCSP_CONTENT_TYPE = "application/ocsp-response"
CRL_CONTENT_TYPE = "application/pkix-crl"

# cryptography's reason flags -> the names `openssl ca` writes into index.txt.
OPENSSL_REASONS = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "keyCompromise",
    x509.ReasonFlags.ca_compromise: "CACompromise",
    x509.ReasonFlags.affiliation_changed: "affiliationChanged",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    x509.ReasonFlags.certificate_hold: "certificateHold",
    x509.ReasonFlags.remove_from_crl: "removeFromCRL",
}

CertLike = x509.Certificate | pki.Issued


def require_tools(*names: str) -> None:
    """Fail the calling test (never skip) when a command-line tool is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        import pytest

        pytest.fail(f"not installed: {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)


def _cert(item: CertLike) -> x509.Certificate:
    return item.cert if isinstance(item, pki.Issued) else item


def http_url(server: LoopbackServer, path: str = "/") -> str:
    """The plain-HTTP URL of a loopback server."""
    return f"http://127.0.0.1:{server.port}{path}"


def down_url(path: str = "/") -> str:
    """A responder URL on which nothing listens (connection refused)."""
    return f"http://127.0.0.1:{closed_port()}{path}"


# --- index.txt -----------------------------------------------------------------------------------


def _index_time(moment: dt.datetime) -> str:
    # ASN.1 time as `openssl ca` writes it: UTCTime before 2050, GeneralizedTime after.
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%y%m%d%H%M%SZ" if moment.year < 2050 else "%Y%m%d%H%M%SZ")


def serial_hex(serial: int) -> str:
    """A serial number as OpenSSL's index keys it (BN_bn2hex: upper case, whole bytes)."""
    text = format(serial, "X")
    return text.zfill(len(text) + len(text) % 2)


def _oneline(name: x509.Name) -> str:
    return "".join(
        f"/{attribute.rfc4514_attribute_name}={attribute.value!s}"
        for rdn in name.rdns
        for attribute in rdn
    )


def index_line(
    cert: CertLike,
    *,
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
) -> str:
    """One line of an `openssl ca` index: status, expiry, revocation[,reason], serial, file, DN.

    `V` (valid) unless `revoked_at` is given (`R`). A serial absent from the index is answered
    "unknown" by `openssl ocsp`.
    """
    certificate = _cert(cert)
    revocation = ""
    if revoked_at is not None:
        revocation = _index_time(revoked_at)
        if reason is not None:
            revocation += f",{OPENSSL_REASONS[reason]}"
    fields = [
        "R" if revoked_at is not None else "V",
        _index_time(certificate.not_valid_after_utc),
        revocation,
        serial_hex(certificate.serial_number),
        "unknown",
        _oneline(certificate.subject),
    ]
    return "\t".join(fields) + "\n"


# --- tiny HTTP servers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


def _http_response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _read_request(conn: socket.socket) -> HttpRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return HttpRequest(method.upper(), path, headers, body[:length])


class _HttpServer(LoopbackServer):
    """One HTTP/1.0 request per connection; subclasses answer it. Records every request."""

    def __init__(self) -> None:
        super().__init__(host="127.0.0.1")
        self.requests: list[HttpRequest] = []

    def url(self, path: str = "/") -> str:
        return http_url(self, path)

    def handle(self, conn: socket.socket) -> None:
        request = _read_request(conn)
        if request is None:
            return
        with self._lock:
            self.requests.append(request)
        conn.sendall(self.respond(request))
        conn.shutdown(socket.SHUT_WR)

    def respond(self, request: HttpRequest) -> bytes:
        raise NotImplementedError


# --- OCSP ----------------------------------------------------------------------------------------


def delegated_signer(ca: pki.Issued, cn: str | None = None) -> pki.Issued:
    """A delegated OCSP responder certificate for `ca` (EKU OCSPSigning, id-pkix-ocsp-nocheck)."""
    return pki.issue(
        cn or f"{ca.subject_cn} OCSP Responder",
        issuer=ca,
        extended_key_usage=False,
        extensions=[
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
            (x509.OCSPNoCheck(), False),
        ],
    )


class OcspResponder(_HttpServer):
    """OpenSSL's OCSP responder for one CA, on 127.0.0.1 (`url`), by POST or GET (RFC 6960 A.1).

    Certificates given in `certs` or `add()`ed are "good", `revoke()`d ones "revoked", any
    other serial "unknown". `signer` is a delegated responder (see `delegated_signer`); the CA
    signs by default. Requests that OpenSSL cannot read get a malformedRequest response.
    """

    def __init__(
        self,
        ca: pki.Issued,
        *,
        certs: Iterable[CertLike] = (),
        signer: pki.Issued | None = None,
        folder: Path | None = None,
        next_update_minutes: int = NEXT_UPDATE_MINUTES,
    ) -> None:
        super().__init__()
        self.ca = ca
        self.signer = signer or ca
        self.next_update_minutes = next_update_minutes
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hd-ocsp-")
            folder = Path(self._tmp.name)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_path = self.folder / "ca.pem"
        self.signer_path = self.folder / "signer.pem"
        self.signer_key_path = self.folder / "signer.key"
        self.index_path = self.folder / "index.txt"
        self.ca_path.write_bytes(ca.pem)
        self.signer_path.write_bytes(self.signer.pem)
        self.signer_key_path.write_bytes(self.signer.key_pem)
        self.signer_key_path.chmod(0o600)
        self._entries: dict[int, str] = {}
        self._counter = itertools.count()
        self.errors: list[str] = []
        for cert in certs:
            self.add(cert)
        self._write_index()

    def _write_index(self) -> None:
        with self._lock:
            text = "".join(self._entries.values())
            draft = self.index_path.with_suffix(".new")
            draft.write_text(text, encoding="utf-8")
            os.replace(draft, self.index_path)

    def add(self, *certs: CertLike) -> OcspResponder:
        """Make the responder know `certs` as valid ("good")."""
        for cert in certs:
            self._entries[_cert(cert).serial_number] = index_line(cert)
        self._write_index()
        return self

    def revoke(
        self,
        cert: CertLike,
        *,
        reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
        when: dt.datetime | None = None,
    ) -> OcspResponder:
        """Mark `cert` revoked at `when` (default two days ago) for `reason`."""
        revoked_at = when or pki.NOW - 2 * pki.DAY
        line = index_line(cert, revoked_at=revoked_at, reason=reason)
        self._entries[_cert(cert).serial_number] = line
        self._write_index()
        return self

    def command(self, request_path: Path, response_path: Path) -> list[str]:
        """The `openssl ocsp` command line answering one DER request file."""
        return [
            *(OPENSSL, "ocsp", "-index", str(self.index_path), "-CA", str(self.ca_path)),
            *("-rsigner", str(self.signer_path), "-rkey", str(self.signer_key_path)),
            *("-nmin", str(self.next_update_minutes)),
            *("-reqin", str(request_path), "-respout", str(response_path)),
        ]

    def answer(self, request_der: bytes) -> bytes:
        """OpenSSL's DER response to one DER OCSP request."""
        number = next(self._counter)
        request_path = self.folder / f"request-{number}.der"
        response_path = self.folder / f"response-{number}.der"
        request_path.write_bytes(request_der)
        try:
            run = subprocess.run(
                self.command(request_path, response_path),
                capture_output=True,
                timeout=OPENSSL_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
            if run.returncode == 0 and response_path.is_file():
                return response_path.read_bytes()
            with self._lock:
                self.errors.append(run.stderr.decode("utf-8", "replace"))
        finally:
            for path in (request_path, response_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        malformed = ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        )
        return malformed.public_bytes(serialization.Encoding.DER)

    def respond(self, request: HttpRequest) -> bytes:
        if request.method == "POST":
            der = request.body
        elif request.method == "GET":
            encoded = urllib.parse.unquote(request.path.rsplit("/", 1)[-1])
            try:
                der = base64.b64decode(encoded, validate=False)
            except ValueError:
                der = b""
        else:
            return _http_response("405 Method Not Allowed", "text/plain", b"")
        return _http_response("200 OK", OCSP_CONTENT_TYPE, self.answer(der))

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None


def silent_responder() -> SilentServer:
    """An OCSP "responder" that accepts the connection and never answers (not started)."""
    return SilentServer(host="127.0.0.1")


def garbage_responder(size: int = 64) -> CannedServer:
    """A responder answering HTTP 200, application/ocsp-response, with random bytes (never
    starting with 0x30, so no reader can take them for the start of a DER SEQUENCE)."""
    body = os.urandom(size)
    if body[0] == 0x30:
        body = b"\x31" + body[1:]
    head = (
        f"HTTP/1.0 200 OK\r\nContent-Type: {OCSP_CONTENT_TYPE}\r\n"
        f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
    )
    return CannedServer(head.encode("ascii") + body, host="127.0.0.1")


def ocsp_response(
    cert: CertLike,
    issuer: pki.Issued,
    *,
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    unknown: bool = False,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    signer: pki.Issued | None = None,
) -> bytes:
    """A DER OCSP response for `cert`, signed by `issuer` (or a delegated `signer`): good
    unless `revoked_at` (revoked) or `unknown`; this_update now, next_update +7 days."""
    this_update = this_update or dt.datetime.now(dt.UTC).replace(microsecond=0)
    next_update = next_update or this_update + 7 * pki.DAY
    status = ocsp.OCSPCertStatus.GOOD
    if unknown:
        status = ocsp.OCSPCertStatus.UNKNOWN
    elif revoked_at is not None:
        status = ocsp.OCSPCertStatus.REVOKED
    responder = signer or issuer
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=_cert(cert),
            issuer=issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=revoked_at if status is ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=reason if status is ocsp.OCSPCertStatus.REVOKED else None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
    )
    if signer is not None:
        builder = builder.certificates([signer.cert])
    response = builder.sign(responder.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def ocsp_response_file(path: Path, cert: CertLike, issuer: pki.Issued, **options: object) -> Path:
    """Write `ocsp_response(cert, issuer, **options)` to `path` (for ssl_stapling_file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ocsp_response(cert, issuer, **options))  # type: ignore[arg-type]
    return path


def stapling_directives(response_file: Path) -> str:
    """nginx directives that staple a fixed response: no resolver or responder is needed."""
    return f"ssl_stapling on; ssl_stapling_file {response_file};"


def s_client_status(port: int, host: str, *, timeout: float = 5.0) -> str:
    """`openssl s_client -status` output (stdout and stderr) for 127.0.0.1:`port`, SNI `host`."""
    run = subprocess.run(
        [
            *(OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", host),
            "-status",
        ],
        input=b"",
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return (run.stdout + run.stderr).decode("utf-8", "replace")


STAPLED = "OCSP Response Status: successful"


def wait_for_staple(port: int, host: str, *, timeout: float = STAPLE_TIMEOUT) -> int:
    """Connect with `openssl s_client -status` until the staple arrives; the attempts it took."""
    deadline = time.monotonic() + timeout
    for attempt in itertools.count(1):
        output = s_client_status(port, host)
        if STAPLED in output:
            return attempt
        if time.monotonic() > deadline:
            raise RuntimeError(f"no OCSP staple from 127.0.0.1:{port} in {timeout} s:\n{output}")
        time.sleep(0.1)
    raise AssertionError("unreachable")


# --- CRL -----------------------------------------------------------------------------------------

RevokedEntry = tuple[int | CertLike, dt.datetime, x509.ReasonFlags | None]


def make_crl(
    ca: pki.Issued,
    revoked: Iterable[RevokedEntry] = (),
    *,
    last_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    number: int = 1,
) -> bytes:
    """A DER CRL signed by `ca` listing (serial or certificate, revocation date, reason|None);
    last_update a day ago, next_update in 7 days, with CRL number and authority key id."""
    last_update = last_update or pki.NOW - pki.DAY
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(last_update)
        .next_update(next_update or pki.NOW + 7 * pki.DAY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    for item, when, reason in revoked:
        serial = item if isinstance(item, int) else _cert(item).serial_number
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


class CrlServer(_HttpServer):
    """Plain HTTP on 127.0.0.1 serving DER CRLs by path ("/inter.crl"); 404 for anything else.

    `crls` may be changed while running.
    """

    def __init__(self, crls: Mapping[str, bytes] | None = None) -> None:
        super().__init__()
        self.crls: dict[str, bytes] = dict(crls or {})

    def respond(self, request: HttpRequest) -> bytes:
        body = self.crls.get(urllib.parse.urlsplit(request.path).path)
        if request.method not in ("GET", "HEAD") or body is None:
            return _http_response("404 Not Found", "text/plain", b"")
        return _http_response("200 OK", CRL_CONTENT_TYPE, b"" if request.method == "HEAD" else body)


# --- scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One TLS server of the revocation lab and what it is expected to show."""

    name: str
    host: str
    port: int
    chain_pem: Path  # leaf first, then its intermediate
    key: Path
    leaf: pki.Issued
    issuer: pki.Issued
    ocsp_url: str | None
    crl_url: str | None
    info: Mapping[str, object] = field(default_factory=dict)

    @property
    def args(self) -> list[str]:
        """`host:port --resolve host:port:127.0.0.1`, as the CLI takes it."""
        return [f"{self.host}:{self.port}", "--resolve", f"{self.host}:{self.port}:127.0.0.1"]

    def __iter__(self) -> Iterator[object]:
        # Unpacks as (chain_pem_path, key_path, host name, extra info).
        return iter((self.chain_pem, self.key, self.host, self.info))


@dataclass
class RevocationLab(Mapping[str, Scenario]):
    """Running revocation scenarios by name, with the servers behind them."""

    folder: Path
    root: pki.Issued
    intermediate: pki.Issued
    revoked_intermediate: pki.Issued
    root_pem: Path  # the lab root alone: --cacert / -CAfile
    responders: dict[str, OcspResponder]  # "root", "intermediate", "revoked_intermediate"
    crl_server: CrlServer
    silent: SilentServer
    garbage: CannedServer
    down_url: str
    staple_file: Path
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    tls_servers: dict[str, TLSServer] = field(default_factory=dict)
    nginx: Nginx | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Scenario:
        return self.scenarios[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)

    def pem(self, issued: pki.Issued) -> Path:
        """`issued`'s certificate alone in a PEM file of the lab folder (written once)."""
        slug = issued.subject_cn.replace(" ", "-").replace("*", "star")
        path = self.folder / "pem" / f"{slug}-{serial_hex(issued.cert.serial_number)[:8]}.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(issued.pem)
        return path

    def issuer_pem(self, name: str) -> Path:
        """The issuing CA's certificate of scenario `name` (for `openssl ocsp -issuer`)."""
        return self.pem(self.scenarios[name].issuer)


SCENARIOS = (
    "good",
    "revoked",
    "revoked_intermediate",
    "responder_down",
    "responder_silent",
    "responder_garbage",
    "must_staple_no_staple",
    "nginx_stapled",
    "sct_3",
    "sct_none",
    "expires_3d",
    "expires_20d",
)
HOSTS = {
    "good": "good",
    "revoked": "revoked",
    "revoked_intermediate": "revoked-inter",
    "responder_down": "down",
    "responder_silent": "silent",
    "responder_garbage": "garbage",
    "must_staple_no_staple": "must-staple",
    "nginx_stapled": "stapled",
    "sct_3": "sct3",
    "sct_none": "sct0",
    "expires_3d": "expires-3d",
    "expires_20d": "expires-20d",
}
LEAF_REVOKED_REASON = x509.ReasonFlags.key_compromise
CA_REVOKED_REASON = x509.ReasonFlags.ca_compromise


def host_of(name: str) -> str:
    return f"{HOSTS[name]}.{DOMAIN}"


@contextlib.contextmanager
def revocation_scenarios(
    folder: Path, *, with_nginx: bool | None = None, root: pki.Issued | None = None
) -> Iterator[RevocationLab]:
    """Start every revocation scenario (see SCENARIOS) under `folder`; stop all on exit.

    A lab root signs "Revocation Lab CA" (good) and "Revoked Intermediate CA" (revoked by the
    root's OCSP responder and CRL). Each leaf has an OCSP URL and a CRL URL on loopback.
    `with_nginx=None` starts the nginx scenario when nginx is installed. `root` replaces the
    lab root (the product's lab tests pass the root their clean machine trusts).
    """
    if shutil.which(OPENSSL) is None:
        raise RuntimeError(f"not installed: openssl: {INSTALL_HINT}")
    if with_nginx is None:
        with_nginx = nginx_available()
    began = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    leaf_revoked_at = now - 2 * pki.DAY
    ca_revoked_at = now - 5 * pki.DAY
    with contextlib.ExitStack() as stack:
        crl_server = stack.enter_context(CrlServer())
        silent = stack.enter_context(silent_responder())
        garbage = stack.enter_context(garbage_responder())
        closed = down_url()

        root = root or pki.root("Revocation Lab Root")
        root_responder = stack.enter_context(OcspResponder(root, folder=folder / "ocsp-root"))
        intermediate = pki.intermediate(
            "Revocation Lab CA",
            root,
            ocsp_url=root_responder.url(),
            crl_url=crl_server.url("/root.crl"),
        )
        revoked_intermediate = pki.intermediate(
            "Revoked Intermediate CA",
            root,
            ocsp_url=root_responder.url(),
            crl_url=crl_server.url("/root.crl"),
        )
        root_responder.add(intermediate)
        root_responder.revoke(revoked_intermediate, reason=CA_REVOKED_REASON, when=ca_revoked_at)
        inter_responder = stack.enter_context(
            OcspResponder(intermediate, folder=folder / "ocsp-intermediate")
        )
        revoked_inter_responder = stack.enter_context(
            OcspResponder(revoked_intermediate, folder=folder / "ocsp-revoked-intermediate")
        )
        crl_server.crls["/root.crl"] = make_crl(
            root, [(revoked_intermediate, ca_revoked_at, CA_REVOKED_REASON)]
        )

        root_pem = pki.write_certs(folder / "root.pem", [root])
        staple_file = folder / "stapled.ocsp.der"
        lab = RevocationLab(
            folder=folder,
            root=root,
            intermediate=intermediate,
            revoked_intermediate=revoked_intermediate,
            root_pem=root_pem,
            responders={
                "root": root_responder,
                "intermediate": inter_responder,
                "revoked_intermediate": revoked_inter_responder,
            },
            crl_server=crl_server,
            silent=silent,
            garbage=garbage,
            down_url=closed,
            staple_file=staple_file,
        )

        inter_crl = crl_server.url("/intermediate.crl")
        ocsp_urls = {
            "responder_down": closed,
            "responder_silent": http_url(silent),
            "responder_garbage": http_url(garbage),
            "revoked_intermediate": revoked_inter_responder.url(),
        }
        options: dict[str, dict[str, object]] = {
            "must_staple_no_staple": {"must_staple": True},
            "nginx_stapled": {"must_staple": True},
            "sct_3": {"scts": 3},
            "sct_none": {"scts": 0},
            "expires_3d": {"not_after": now + 3 * pki.DAY},
            "expires_20d": {"not_after": now + 20 * pki.DAY},
        }
        infos: dict[str, dict[str, object]] = {
            "good": {"ocsp": "good", "crl": "not listed"},
            "revoked": {
                "ocsp": "revoked",
                "crl": "listed",
                "reason": LEAF_REVOKED_REASON,
                "revoked_at": leaf_revoked_at,
            },
            "revoked_intermediate": {
                "ocsp": "good",
                "crl": "not listed",
                "revoked_ca": revoked_intermediate.subject_cn,
                "ca_ocsp": "revoked",
                "ca_crl": "listed",
                "reason": CA_REVOKED_REASON,
                "revoked_at": ca_revoked_at,
            },
            "responder_down": {"ocsp": "down", "crl": "not listed"},
            "responder_silent": {"ocsp": "never answers", "crl": "not listed"},
            "responder_garbage": {"ocsp": "garbage", "crl": "not listed"},
            "must_staple_no_staple": {"ocsp": "good", "must_staple": True, "stapled": False},
            "nginx_stapled": {
                "ocsp": "good",
                "must_staple": True,
                "stapled": True,
                "staple": staple_file,
            },
            "sct_3": {"ocsp": "good", "scts": 3, "log_ids": [pki.lab_log_id(i) for i in (1, 2, 3)]},
            "sct_none": {"ocsp": "good", "scts": 0},
            "expires_3d": {"ocsp": "good", "days_left": 3, "not_after": now + 3 * pki.DAY},
            "expires_20d": {"ocsp": "good", "days_left": 20, "not_after": now + 20 * pki.DAY},
        }

        leaves: dict[str, tuple[pki.Issued, pki.Issued, str, str]] = {}
        for name in SCENARIOS:
            issuer = revoked_intermediate if name == "revoked_intermediate" else intermediate
            ocsp_url = ocsp_urls.get(name, inter_responder.url())
            crl_url = (
                crl_server.url("/revoked-intermediate.crl")
                if name == "revoked_intermediate"
                else inter_crl
            )
            made = pki.leaf(
                host_of(name), issuer, ocsp_url=ocsp_url, crl_url=crl_url, **options.get(name, {})
            )
            leaves[name] = (made, issuer, ocsp_url, crl_url)
            if name == "revoked_intermediate":
                revoked_inter_responder.add(made)
            elif name == "revoked":
                inter_responder.revoke(made, reason=LEAF_REVOKED_REASON, when=leaf_revoked_at)
            else:
                inter_responder.add(made)
        crl_server.crls["/intermediate.crl"] = make_crl(
            intermediate, [(leaves["revoked"][0], leaf_revoked_at, LEAF_REVOKED_REASON)]
        )
        crl_server.crls["/revoked-intermediate.crl"] = make_crl(revoked_intermediate)

        ports: dict[str, int] = {}
        files: dict[str, tuple[Path, Path]] = {}
        for name, (made, issuer, _, _) in leaves.items():
            files[name] = pki.write_chain(folder / "certs", name, [made, issuer])
            if name == "nginx_stapled":
                continue
            server = stack.enter_context(TLSServer(*files[name], host="127.0.0.1"))
            lab.tls_servers[name] = server
            ports[name] = server.port
        lab.timings["servers"] = time.monotonic() - began

        if with_nginx:
            stapled_leaf = leaves["nginx_stapled"][0]
            ocsp_response_file(staple_file, stapled_leaf, intermediate)
            cert_path, key_path = files["nginx_stapled"]
            host = host_of("nginx_stapled")

            def build(nginx_ports: Sequence[int]) -> str:
                return tls_server_block(
                    nginx_ports[0],
                    server_name=host,
                    certificate=cert_path,
                    key=key_path,
                    extra=stapling_directives(staple_file),
                )

            started = time.monotonic()
            nginx = stack.enter_context(Nginx(build, ports=1, workdir=folder / "nginx"))
            lab.nginx = nginx
            ports["nginx_stapled"] = nginx.port
            lab.timings["nginx_start"] = time.monotonic() - started
            started = time.monotonic()
            lab.timings["staple_attempts"] = wait_for_staple(nginx.port, host)
            lab.timings["staple_wait"] = time.monotonic() - started

        for name, (made, issuer, ocsp_url, crl_url) in leaves.items():
            if name not in ports:
                continue
            chain, key = files[name]
            lab.scenarios[name] = Scenario(
                name=name,
                host=host_of(name),
                port=ports[name],
                chain_pem=chain,
                key=key,
                leaf=made,
                issuer=issuer,
                ocsp_url=ocsp_url,
                crl_url=crl_url,
                info=MappingProxyType(infos[name]),
            )
        lab.timings["total"] = time.monotonic() - began
        yield lab


__all__ = [
    "SCENARIOS",
    "CrlServer",
    "HttpRequest",
    "OcspResponder",
    "RevocationLab",
    "Scenario",
    "delegated_signer",
    "down_url",
    "garbage_responder",
    "http_url",
    "index_line",
    "make_crl",
    "ocsp_response",
    "ocsp_response_file",
    "require_tools",
    "revocation_scenarios",
    "s_client_status",
    "serial_hex",
    "silent_responder",
    "stapling_directives",
    "wait_for_staple",
]
