"""A code-signing certificate and an RFC 3161 timestamp server on loopback, to sign installers."""

from __future__ import annotations

import datetime
import http.server
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = "lab signing password"


@dataclass(frozen=True)
class SigningLab:
    pfx: Path  # the code-signing certificate and key, PKCS#12 with PASSWORD
    trust: Path  # the lab root, PEM: it issued both the signing and the timestamp certificate
    timestamp_url: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), critical=True)
    )
    if usage is not None:
        # RFC 3161 wants the timestamping usage alone and critical; code signing as usual.
        critical = usage == ExtendedKeyUsageOID.TIME_STAMPING
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=critical)
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(path: Path, *items: x509.Certificate | ec.EllipticCurvePrivateKey) -> Path:
    data = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            data += item.public_bytes(serialization.Encoding.PEM)
        else:
            data += item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
    path.write_bytes(data)
    return path


def _tsa_config(folder: Path) -> Path:
    (folder / "serial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(
        "[ tsa ]\n"
        "default_tsa = lab\n"
        "[ lab ]\n"
        f"serial = {folder / 'serial'}\n"
        f"signer_cert = {folder / 'tsa.pem'}\n"
        f"certs = {folder / 'root.pem'}\n"
        f"signer_key = {folder / 'tsa.key'}\n"
        "signer_digest = sha256\n"
        "default_policy = 1.3.6.1.4.1.4146.2.3\n"
        "digests = sha1, sha256, sha384, sha512\n"
        "accuracy = secs:1\n"
        "ordering = yes\n"
        "tsa_name = yes\n"
        "ess_cert_id_chain = no\n"
        "ess_cert_id_alg = sha256\n"
    )
    return config


def _timestamp_handler(folder: Path, config: Path) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock, tempfile.TemporaryDirectory(dir=folder) as work:
                request, reply = Path(work) / "q.tsq", Path(work) / "r.tsr"
                request.write_bytes(query)
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(config), "-queryfile",
                     str(request), "-out", str(reply)],
                    capture_output=True,
                    check=False,
                )  # fmt: skip
                answer = reply.read_bytes() if done.returncode == 0 else b""
            if not answer:
                self.send_error(500, done.stderr.decode(errors="replace")[-200:])
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def signing_lab(folder: Path) -> Iterator[SigningLab]:
    """A root, a code-signing certificate (PKCS#12) and a timestamp server on 127.0.0.1."""
    root_key, signer_key, tsa_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _issue("Handshake Doctor lab code-signing root", root_key, None, None)
    signer = _issue("Handshake Doctor lab publisher", signer_key, (root, root_key),
                    ExtendedKeyUsageOID.CODE_SIGNING)  # fmt: skip
    tsa = _issue("Handshake Doctor lab timestamps", tsa_key, (root, root_key),
                 ExtendedKeyUsageOID.TIME_STAMPING)  # fmt: skip
    pfx = folder / "signing.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"publisher",
            signer_key,
            signer,
            [root],
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        )
    )
    trust = _pem(folder / "root.pem", root)
    _pem(folder / "tsa.pem", tsa)
    _pem(folder / "tsa.key", tsa_key)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), _timestamp_handler(folder, _tsa_config(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SigningLab(pfx, trust, f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
