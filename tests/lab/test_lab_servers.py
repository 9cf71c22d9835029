"""The lab itself works: each scenario serves exactly what it claims, whatever the product does."""

from __future__ import annotations

import _ssl
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.lab import pki, scenarios
from tests.lab.nginx import Nginx, require_nginx, tls_server_block
from tests.lab.scenarios import Lab
from tests.lab.servers import (
    HTTP_BAD_REQUEST,
    IMAP_BANNER,
    SMTP_BANNER,
    SSH_BANNER,
    AbortServer,
    BannerServer,
    SilentServer,
    TLSServer,
    closed_port,
    ipv6_loopback_available,
)

pytestmark = pytest.mark.lab

TIMEOUT = 5.0
REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"
TLS_NAMES = scenarios.names(kind="tls") + scenarios.names(kind="nginx")


def _inspecting_context(**options: object) -> ssl.SSLContext:
    """A client that accepts anything (even SHA-1 and 1024-bit RSA) so the chain can be read."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    for name, value in options.items():
        setattr(ctx, name, value)
    return ctx


def _verifying_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def _connect(port: int, ctx: ssl.SSLContext, sni: str | None) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


def _served_chain(port: int, sni: str | None) -> list[bytes]:
    with _connect(port, _inspecting_context(), sni) as tls:
        # Public as SSLSocket.get_unverified_chain from Python 3.13; private before.
        chain = tls._sslobj.get_unverified_chain()  # type: ignore[union-attr]
        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in chain]


def _der(chain: tuple[pki.Issued, ...]) -> list[bytes]:
    return [item.cert.public_bytes(pki.serialization.Encoding.DER) for item in chain]


def _http_get(tls: ssl.SSLSocket) -> bytes:
    tls.sendall(REQUEST)
    response = b""
    while chunk := tls.recv(4096):
        response += chunk
    return response


def _client_hello(sni: str) -> bytes:
    """The bytes of a genuine TLS ClientHello, made without any network."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("name", TLS_NAMES)
def test_each_tls_scenario_serves_exactly_its_chain(lab: Lab, name: str) -> None:
    scenario = lab[name]
    served = _served_chain(scenario.port, scenario.host)
    assert served[0] == _der(scenario.chain)[0], "wrong leaf"
    assert served == _der(scenario.chain)


@pytest.mark.parametrize("name", scenarios.names(healthy=True))
def test_healthy_scenarios_pass_a_strict_client_trusting_only_the_lab_root(
    lab: Lab, name: str
) -> None:
    scenario = lab[name]
    with _connect(scenario.port, _verifying_context(lab.root_pem), scenario.host) as tls:
        assert _http_get(tls).startswith(b"HTTP/1.1 200 OK")


# What OpenSSL itself says about each broken certificate, as proof that the lab is broken.
VERIFY_ERRORS = {
    "expired": "certificate has expired",
    "expired_intermediate": "certificate has expired",
    "not_yet_valid": "certificate is not yet valid",
    "wrong_host": "Hostname mismatch",
    "www_only": "Hostname mismatch",
    "self_signed": "self-signed certificate",
    "untrusted_root": "self-signed certificate in certificate chain",
    "incomplete_chain": "unable to get local issuer certificate",
    "weak_signature": "CA signature digest algorithm too weak",
    "weak_key": "EE certificate key too weak",
}


@pytest.mark.parametrize("name", sorted(VERIFY_ERRORS))
def test_broken_certificates_fail_a_strict_client(lab: Lab, name: str) -> None:
    scenario = lab[name]
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        _connect(scenario.port, _verifying_context(lab.root_pem), scenario.host).close()
    assert VERIFY_ERRORS[name] in str(failure.value.verify_message)


def test_cn_only_has_its_name_in_the_subject_and_no_san(lab: Lab) -> None:
    leaf = lab["cn_only"].leaf
    assert leaf.subject_cn == "cn-only.lab.test"
    with pytest.raises(pki.x509.ExtensionNotFound):
        leaf.cert.extensions.get_extension_for_class(pki.x509.SubjectAlternativeName)


def test_wrong_order_sends_the_root_before_the_intermediate(lab: Lab) -> None:
    chain = lab["wrong_order"].chain
    assert [c.subject_cn for c in chain] == [
        "wrong-order.lab.test",
        scenarios.LAB_ROOT_CN,
        "Handshake Doctor Lab Intermediate",
    ]


def test_weak_scenarios_really_are_sha1_and_rsa_1024(lab: Lab) -> None:
    assert lab["weak_signature"].leaf.cert.signature_hash_algorithm.name == "sha1"
    assert lab["weak_key"].leaf.key.key_size == 1024  # type: ignore[union-attr]


def test_incomplete_chain_points_to_its_issuer_on_loopback(lab: Lab) -> None:
    scenario = lab["incomplete_chain"]
    aia = scenario.leaf.cert.extensions.get_extension_for_class(pki.x509.AuthorityInformationAccess)
    assert [d.access_location.value for d in aia.value] == [scenarios.AIA_URL]
    assert (lab.folder / "lab-intermediate.der").read_bytes() == _der((lab.intermediate,))[0]


def test_root_pem_holds_only_the_lab_root(lab: Lab) -> None:
    certs = pki.x509.load_pem_x509_certificates(lab.root_pem.read_bytes())
    assert [c.subject.rfc4514_string() for c in certs] == [f"CN={scenarios.LAB_ROOT_CN}"]


def test_cli_args_pin_the_name_to_loopback_except_for_an_ip(lab: Lab) -> None:
    good = lab.cli_args("good")
    port = lab["good"].port
    assert good[:3] == [f"good.lab.test:{port}", "--resolve", f"good.lab.test:{port}:127.0.0.1"]
    root = str(lab.root_pem)
    assert good[3:] == [
        "--cacert",
        root,
        "--known-roots",
        root,
        "--connect-timeout",
        "2",
        "--only",
        "target",
        "--json",
    ]
    ip = lab.cli_args("ip_san")
    assert ip[0] == f"127.0.0.1:{lab['ip_san'].port}"
    assert "--resolve" not in ip


def test_every_scenario_is_running_or_explained(lab: Lab) -> None:
    assert set(lab.scenarios) | set(lab.unavailable) == set(scenarios.SPECS)


def test_client_cert_required_aborts_a_client_without_a_certificate(lab: Lab) -> None:
    scenario = lab["client_cert_required"]
    # TLS 1.3: the client finishes its side first; the server's refusal comes on first read.
    with _connect(scenario.port, _inspecting_context(), scenario.host) as tls:
        assert tls.version() == "TLSv1.3"
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            _http_get(tls)
    # TLS 1.2: the handshake itself fails.
    tls12 = _inspecting_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        _connect(scenario.port, tls12, scenario.host).close()


def test_client_cert_required_serves_a_client_with_a_lab_client_certificate(lab: Lab) -> None:
    scenario = lab["client_cert_required"]
    ctx = _inspecting_context()
    ctx.load_cert_chain(lab.client_cert_pem, lab.client_key_pem)
    with _connect(scenario.port, ctx, scenario.host) as tls:
        assert _http_get(tls).startswith(b"HTTP/1.1 200 OK")


def test_nginx_sni_default_cert_serves_another_name_without_sni(lab: Lab) -> None:
    scenario = lab["sni_default_cert"]
    assert scenario.chain_without_sni
    assert _served_chain(scenario.port, None) == _der(scenario.chain_without_sni)
    assert scenario.chain_without_sni[0].subject_cn == "default.lab.test"
    assert _served_chain(scenario.port, scenario.host) == _der(scenario.chain)


def test_nginx_sni_reject_refuses_a_client_without_sni_or_with_another_name(lab: Lab) -> None:
    scenario = lab["sni_required_reject"]
    for sni in (None, "unknown.lab.test"):
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            _connect(scenario.port, _inspecting_context(), sni).close()
    assert _served_chain(scenario.port, scenario.host) == _der(scenario.chain)


def test_tls_server_sni_contexts_and_reject(tmp_path: Path) -> None:
    root = pki.root("SNI Test Root")
    first = pki.write_chain(tmp_path, "a", [pki.leaf("a.lab.test", root)])
    second = pki.write_chain(tmp_path, "b", [pki.leaf("b.lab.test", root)])
    with TLSServer(*first, sni_contexts={"b.lab.test": second}, unknown_sni="reject") as server:
        for sni in (None, "c.lab.test"):
            with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
                _connect(server.port, _inspecting_context(), sni).close()
        served = _served_chain(server.port, "b.lab.test")
        assert served == [_pem_to_der(second[0])]
    assert [h.server_name for h in server.handshakes] == [None, "c.lab.test", "b.lab.test"]
    assert [h.error is None for h in server.handshakes] == [False, False, True]


def _pem_to_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_tls_server_default_context_for_unknown_names_and_version_limits(tmp_path: Path) -> None:
    root = pki.root("Version Test Root")
    chain = pki.write_chain(tmp_path, "v", [pki.leaf("v.lab.test", root)])
    with TLSServer(*chain, maximum_version=ssl.TLSVersion.TLSv1_2) as server:
        with _connect(server.port, _inspecting_context(), "whatever.lab.test") as tls:
            assert tls.version() == "TLSv1.2"
            assert _http_get(tls).startswith(b"HTTP/1.1 200 OK")
        only13 = _inspecting_context(minimum_version=ssl.TLSVersion.TLSv1_3)
        with pytest.raises(ssl.SSLError):
            _connect(server.port, only13, "v.lab.test").close()


@pytest.mark.skipif(not ipv6_loopback_available(), reason="this machine has no ::1")
def test_tls_server_on_ipv6_loopback(tmp_path: Path) -> None:
    root = pki.root("IPv6 Test Root")
    chain = pki.write_chain(tmp_path, "six", [pki.leaf("::1", root)])
    with TLSServer(*chain, family=socket.AF_INET6) as server:
        assert (server.host, server.address) == ("::1", "::1")
        raw = socket.create_connection(("::1", server.port), timeout=TIMEOUT)
        with _inspecting_context().wrap_socket(raw) as tls:
            assert _http_get(tls).startswith(b"HTTP/1.1 200 OK")


def test_servers_refuse_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SilentServer(host="0.0.0.0")


def test_closed_port_refuses(lab: Lab) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", lab["closed"].port), timeout=TIMEOUT)


def test_silent_server_stays_silent_even_after_a_client_hello(lab: Lab) -> None:
    scenario = lab["silent"]
    with socket.create_connection(("127.0.0.1", scenario.port), timeout=TIMEOUT) as sock:
        sock.sendall(_client_hello(scenario.host))
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(1)


@pytest.mark.parametrize(
    ("name", "banner"), [("ssh_banner", SSH_BANNER), ("smtp_banner", SMTP_BANNER)]
)
def test_banner_servers_greet_first(lab: Lab, name: str, banner: bytes) -> None:
    with socket.create_connection(("127.0.0.1", lab[name].port), timeout=TIMEOUT) as s:
        received = b""
        while not received.endswith(b"\n"):
            received += s.recv(4096)
        assert received == banner
        s.sendall(_client_hello("x.lab.test"))


def test_banner_server_takes_any_banner() -> None:
    with (
        BannerServer(IMAP_BANNER) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock,
    ):
        assert sock.recv(4096) == IMAP_BANNER


def test_plain_http_server_answers_a_client_hello_with_400(lab: Lab) -> None:
    scenario = lab["plain_http"]
    with socket.create_connection(("127.0.0.1", scenario.port), timeout=TIMEOUT) as sock:
        sock.sendall(_client_hello(scenario.host))
        response = b""
        while chunk := sock.recv(4096):
            response += chunk
    assert response == HTTP_BAD_REQUEST


def test_abort_server_sends_one_fatal_alert(lab: Lab) -> None:
    scenario = lab["handshake_alert"]
    with socket.create_connection(("127.0.0.1", scenario.port), timeout=TIMEOUT) as sock:
        sock.sendall(_client_hello(scenario.host))
        response = b""
        while chunk := sock.recv(4096):
            response += chunk
    assert response == bytes.fromhex("15030300020228")
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        _connect(scenario.port, _inspecting_context(), scenario.host).close()


def test_abort_server_alert_is_a_parameter() -> None:
    protocol_version = 70
    with (
        AbortServer(alert=protocol_version) as server,
        pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"),
    ):
        _connect(server.port, _inspecting_context(), "x.lab.test").close()


def test_stop_closes_the_listener_and_open_connections_and_ends_every_thread() -> None:
    before = set(threading.enumerate())
    server = SilentServer().start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    time.sleep(0.05)  # let the server accept it, so stop() has a connection to close
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    with sock:
        assert sock.recv(1) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    assert set(threading.enumerate()) <= before


def test_closed_port_helper_finds_a_refusing_port() -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), timeout=TIMEOUT)


def test_nginx_stops_for_good_and_reports_a_bad_config(tmp_path: Path) -> None:
    require_nginx()
    root = pki.root("Nginx Test Root")
    cert, key = pki.write_chain(tmp_path / "certs", "n", [pki.leaf("n.lab.test", root)])
    nginx = Nginx(lambda ports: tls_server_block(ports[0], certificate=cert, key=key))
    with nginx:
        process = nginx.process
        assert process is not None
        assert _served_chain(nginx.port, "n.lab.test") == [_pem_to_der(cert)]
    assert process.poll() is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", nginx.port), timeout=TIMEOUT)
    with pytest.raises(RuntimeError, match="unknown directive"), Nginx(lambda ports: "nonsense;"):
        pass
