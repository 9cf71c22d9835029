"""The small scripts run inside other runtimes (Python, Node, Java) to describe them or connect."""

from __future__ import annotations

# Each script prints one JSON object on one line and never writes a file.

# Run by the user's python3: what urllib would use, and where requests/pip find their roots.
PYTHON_INFO = """
import json, platform, ssl, sys
ctx = ssl.create_default_context()
paths = ssl.get_default_verify_paths()
info = {"version": platform.python_version(), "executable": sys.executable,
        "openssl": ssl.OPENSSL_VERSION, "min": ctx.minimum_version.name,
        "max": ctx.maximum_version.name, "cafile": paths.cafile, "capath": paths.capath,
        "dhe": any(c["name"].startswith("DHE-") for c in ctx.get_ciphers()),
        "certifi": None, "requests": None}
try:
    import certifi
    info["certifi"] = certifi.where()
except Exception:
    pass
try:
    from importlib import metadata
    info["requests"] = metadata.version("requests")
except Exception:
    pass
print(json.dumps(info))
"""

# argv: host port address cafile timeout. urllib's context is ssl.create_default_context();
# requests and pip build the same kind of context over certifi's bundle (or REQUESTS_CA_BUNDLE /
# CURL_CA_BUNDLE, which requests reads itself), with no OS roots.
PYTHON_ATTEMPT = """
import json, os, socket, ssl, sys
host, port, address, cafile, timeout = sys.argv[1:6]
port, timeout, address, cafile = int(port), float(timeout), address or host, cafile or None
def attempt(bundle):
    try:
        ctx = ssl.create_default_context(cafile=bundle)
        with socket.create_connection((address, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return {"ok": True, "version": tls.version()}
    except ssl.SSLCertVerificationError as exc:
        return {"ok": False, "stage": "tls", "message": exc.verify_message or str(exc)}
    except ssl.SSLError as exc:
        return {"ok": False, "stage": "tls", "message": str(exc)}
    except socket.timeout as exc:
        return {"ok": False, "stage": "network", "message": "timed out: " + str(exc)}
    except OSError as exc:
        return {"ok": False, "stage": "network", "message": str(exc)}
out = {"urllib": attempt(cafile)}
if cafile:
    out["requests"], out["bundle"] = out["urllib"], "cacert"
else:
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    source = "environment"
    if not bundle:
        try:
            import certifi
            bundle, source = certifi.where(), "certifi"
        except Exception:
            bundle = None
    if bundle:
        out["requests"], out["bundle"] = attempt(bundle), source
print(json.dumps(out))
"""

# `node -p`: the version, its OpenSSL, its defaults and whether it was built to use the OS store.
NODE_INFO = (
    "const tls = require('tls'); JSON.stringify({node: process.version, "
    "openssl: process.versions.openssl, "
    "useOpensslCa: !!process.config.variables.node_use_openssl_ca, "
    "min: tls.DEFAULT_MIN_VERSION, max: tls.DEFAULT_MAX_VERSION, "
    "dhe: /(^|:)DHE-/.test(tls.DEFAULT_CIPHERS), roots: tls.rootCertificates.length})"
)

# `node -p`: Node's bundled roots (what NODE_EXTRA_CA_CERTS adds to is separate).
NODE_ROOTS = "require('tls').rootCertificates.join('\\n')"

# argv: host port address cafile timeout. An IP is never sent as SNI (RFC 6066; Node warns);
# the name is checked against `host` whatever address is dialled.
NODE_ATTEMPT = """
const tls = require('tls'), net = require('net'), fs = require('fs');
const [host, port, address, cafile, timeout] = process.argv.slice(1);
let done = false;
const finish = (o) => { if (!done) { done = true; process.stdout.write(JSON.stringify(o) + '\\n');
  process.exit(0); } };
const opts = {host: address || host, port: Number(port),
  checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert)};
if (!net.isIP(host)) opts.servername = host;
try { if (cafile) opts.ca = fs.readFileSync(cafile); } catch (e) {
  finish({ok: false, stage: 'setup', code: e.code || '', message: e.message}); }
const sock = tls.connect(opts, () => finish({ok: true, version: sock.getProtocol()}));
sock.setTimeout(Number(timeout) * 1000, () =>
  finish({ok: false, stage: 'network', code: 'ETIMEDOUT', message: 'timed out'}));
sock.on('error', (e) => finish({ok: false, stage: 'tls', code: e.code || '', message: e.message}));
"""

# `java Probe.java host port address millis` (Java 11+ runs a source file directly, compiling
# it in memory). The default SSLSocketFactory is what most Java programs use: it honours
# JAVA_TOOL_OPTIONS and -Djavax.net.ssl.trustStore; "HTTPS" identification checks the name.
JAVA_PROBE = """
import java.net.*;
import java.util.*;
import javax.net.ssl.*;

public class Probe {
    public static void main(String[] a) {
        String host = a[0];
        int port = Integer.parseInt(a[1]);
        String address = a[2].isEmpty() ? host : a[2];
        int millis = Integer.parseInt(a[3]);
        String stage = "network";
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(InetAddress.getByName(address), port), millis);
            raw.setSoTimeout(millis);
            stage = "tls";
            SSLSocketFactory factory = (SSLSocketFactory) SSLSocketFactory.getDefault();
            try (SSLSocket tls = (SSLSocket) factory.createSocket(raw, host, port, false)) {
                SSLParameters params = tls.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                if (!host.matches("[0-9.]+|.*:.*")) {
                    params.setServerNames(List.of(new SNIHostName(host)));
                }
                tls.setSSLParameters(params);
                tls.startHandshake();
                String version = tls.getSession().getProtocol();
                System.out.println("{\\"ok\\":true,\\"version\\":" + quote(version) + "}");
            }
        } catch (Throwable e) {
            StringBuilder causes = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (causes.length() > 0) causes.append(" <- ");
                causes.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
            }
            System.out.println("{\\"ok\\":false,\\"stage\\":" + quote(stage) + ",\\"message\\":"
                + quote(String.valueOf(e.getMessage())) + ",\\"causes\\":"
                + quote(causes.toString()) + "}");
        }
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\\\') b.append('\\\\').append(c);
            else if (c < 0x20) b.append(' ');
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
"""

# argv: protocol starttls host port address cafile timeout. The standard library's clients as a
# careful user calls them: with ssl.create_default_context() (without a context, smtplib,
# imaplib, poplib and ftplib do not check the certificate at all). A pinned address is dialled
# in place of the name, which stays the one TLS checks. Nothing is logged in to or sent beyond
# the greeting, the upgrade and QUIT/LOGOUT.
PYTHON_UPGRADE = """
import json, socket, ssl, sys
proto, upgrade, host, port, address, cafile, timeout = sys.argv[1:8]
port, timeout, cafile = int(port), float(timeout), cafile or None
if address and address != host:
    dial = socket.create_connection
    def pinned(where, *args, **kwargs):
        return dial((address, where[1]) if where[0] == host else where, *args, **kwargs)
    socket.create_connection = pinned
stage, client = "network", None
def connect(ctx):
    global stage, client
    if proto == "smtp":
        import smtplib
        if not upgrade:
            stage = "tls"
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ctx)
            return
        client = smtplib.SMTP(host, port, timeout=timeout)
        stage = "upgrade"
        client.starttls(context=ctx)
    elif proto == "imap":
        import imaplib
        if not upgrade:
            stage = "tls"
            client = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=timeout)
            return
        client = imaplib.IMAP4(host, port, timeout=timeout)
        stage = "upgrade"
        client.starttls(ssl_context=ctx)
    elif proto == "pop3":
        import poplib
        if not upgrade:
            stage = "tls"
            client = poplib.POP3_SSL(host, port, timeout=timeout, context=ctx)
            return
        client = poplib.POP3(host, port, timeout=timeout)
        stage = "upgrade"
        client.stls(context=ctx)
    elif proto == "ftp":
        import ftplib
        client = ftplib.FTP_TLS(context=ctx, timeout=timeout)
        client.connect(host, port)
        stage = "upgrade"
        client.auth()
    else:
        raise ValueError("no client for " + proto)
def attempt():
    global stage
    try:
        ctx = ssl.create_default_context(cafile=cafile)
        connect(ctx)
        stage = "done"
        sock = getattr(client, "sock", None)
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        return {"ok": True, "version": version}
    except ssl.SSLCertVerificationError as exc:
        return {"ok": False, "stage": "tls", "message": exc.verify_message or str(exc)}
    except ssl.SSLError as exc:
        return {"ok": False, "stage": "tls", "message": str(exc)}
    except socket.timeout as exc:
        return {"ok": False, "stage": stage, "message": "timed out: " + str(exc)}
    except Exception as exc:
        message = type(exc).__name__ + ": " + str(exc)
        # smtplib's errors are OSErrors too: the module tells the protocol's own from others.
        if type(exc).__module__ not in ("smtplib", "imaplib", "poplib", "ftplib"):
            return {"ok": False, "stage": "network", "message": message}
        # The protocol's own error: before the upgrade it refused TLS; once TLS was up (the
        # greeting of a server that starts with TLS comes after it) TLS itself worked.
        if stage == "tls":
            return {"ok": True, "version": None, "detail": "TLS worked, then " + message}
        return {"ok": False, "stage": stage, "message": message}
def close():
    for name in ("quit", "logout"):
        if hasattr(client, name):
            try:
                getattr(client, name)()
            except Exception:
                pass
            return
answer = attempt()
close()
print(json.dumps(answer))
"""
