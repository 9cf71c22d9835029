"""The headless command line: `handshake-doctor check`, printing text or JSON, writing reports."""

from __future__ import annotations

import argparse
import contextlib
import gc
import ipaddress
import json
import os
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from checks.core import policy
from checks.core.config import Resolve, Settings
from checks.core.models import CheckResult, Status
from checks.core.redact import redact
from checks.core.schemes import STARTTLS_PROTOCOLS
from checks.core.target import Target, TargetError, parse
from checks.core.version import __version__
from checks.present import catalogue

EXIT_OK, EXIT_WARN, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_CANCELLED = 0, 1, 2, 3, 4, 130

DESCRIPTION = """\
Handshake Doctor finds out why this computer cannot make a secure (TLS/SSL) connection,
and tells you what to do about it.

Run it with no arguments to open the window. Use "check" to diagnose from a terminal:
it checks this computer (clock, trusted certificates, interception) and, if you name a
site, the connection to that site (name lookup, connection, handshake, certificate)."""

EXAMPLES = """\
examples:
  handshake-doctor check                      check this computer only
  handshake-doctor check example.com          check this computer and https://example.com
  handshake-doctor check https://intranet.corp:8443/login
  handshake-doctor check mail.example.com:993 --json > result.json
  handshake-doctor check smtp://mail.example.com:587      STARTTLS, as a mail program does
  handshake-doctor check postgresql://db.example.com:5432 also imap:// pop3:// ldap:// ftp://
  handshake-doctor check dc.example.com:3890 --starttls ldap   a protocol on another port
  handshake-doctor check example.com --output report.html   (also .md or .json)
  handshake-doctor check example.com --resolve example.com:443:10.0.0.5
  handshake-doctor check example.com --lang zh_CN
  handshake-doctor explain "NET::ERR_CERT_DATE_INVALID"   what an error message means

exit codes:
  0 everything passed   1 warnings only   2 at least one problem found
  3 the input or an option was wrong      4 Handshake Doctor itself failed"""


EXPLAIN_EXAMPLES = """\
examples:
  handshake-doctor explain "x509: certificate signed by unknown authority"
  handshake-doctor explain "SEC_ERROR_UNKNOWN_ISSUER" --lang zh_CN
  tail -n 200 /var/log/nginx/error.log | handshake-doctor explain -
  handshake-doctor explain "PKIX path building failed" --json
  handshake-doctor explain --check "curl: (60) ... https://example.com/"   then diagnose that site

exit codes:
  0 the message was recognised   1 it was not recognised (the general checklist is shown)
  3 no message was given, or --check found no site in it
  with --check, the exit code of the diagnosis (as for check)"""
INSPECT_EXAMPLES = """\
examples:
  handshake-doctor inspect server.pem
  handshake-doctor inspect fullchain.pem --host www.example.com
  handshake-doctor inspect certificate.pfx            (asks for the password on a terminal)
  printf '%s' "$PASSWORD" | handshake-doctor inspect certificate.p12 --password-stdin --json

exit codes:
  0 no problem   1 warnings only   2 a problem found   3 the file could not be read"""


class UsageError(Exception):
    """A wrong option value; the message is one sentence for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"handshake-doctor: {message}\n")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError("the timeout must be between 0 and 300 seconds")
    return value


def _expiry_days(text: str) -> int:
    low, high = policy.EXPIRES_SOON_RANGE
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise argparse.ArgumentTypeError(f"the expiry warning is a number of days, {low} to {high}")
    return int(text)


def _resolve_pin(text: str) -> Resolve:
    host, sep, rest = text.partition(":")
    port_text, sep2, address = rest.partition(":")
    address = address.strip("[]")
    try:
        port = int(port_text) if port_text != "*" else 0
        ipaddress.ip_address(address)
    except ValueError:
        port = -1
    if not (sep and sep2 and host and 0 <= port <= 65535):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST:PORT:ADDRESS (for example example.com:443:10.0.0.5)"
        )
    return Resolve(host.lower().rstrip("."), port, address)


def _host_port(text: str) -> str:
    try:
        parse(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(catalogue.input_error(exc)) from None
    return text.strip()


def _http_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme != "http" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain http:// address")
    return text.strip()


def _language(text: str) -> str:
    try:
        return catalogue.normalise_language(text)
    except ValueError:
        raise argparse.ArgumentTypeError("choose en or zh_CN") from None


def _readable_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be read (permission denied)")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="handshake-doctor",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"handshake-doctor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="diagnose from the terminal (no window)",
        description="Diagnose this computer and, optionally, the connection to TARGET.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="a site: example.com, example.com:8443, a pasted https:// address, a mail, "
        "directory or database server (smtp://mail.example.com:587, imaps://…, ldap://…, "
        "postgresql://…, mysql://…), or an 'openssl s_client -connect host:port' line (quote it)",
    )
    output = check.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the JSON report (schema 1)")
    output.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="for every check also why, what to do, the evidence and what was measured",
    )
    output.add_argument(
        "--output", "-o", metavar="FILE", type=Path, help="also write a report: .html, .md or .json"
    )
    output.add_argument("--lang", type=_language, metavar="en|zh_CN", help="language of the text")
    scope = check.add_argument_group("what to check")
    scope.add_argument(
        "--only", choices=("local", "target"), help="only this computer, or only the target"
    )
    scope.add_argument("--offline", action="store_true", help="contact nothing but the target")
    connection = check.add_argument_group("connection (curl's option names)")
    connection.add_argument(
        "--connect-timeout",
        type=_positive_seconds,
        default=Settings.connect_timeout,
        metavar="SECONDS",
        help="give up on each connection after this long (default %(default)s)",
    )
    connection.add_argument(
        "--resolve",
        type=_resolve_pin,
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT, still using HOST as the server name",
    )
    connection.add_argument(
        "--starttls",
        metavar="PROTOCOL",
        help="speak PROTOCOL in plain text and upgrade to TLS first, as openssl s_client "
        "-starttls does: "
        + ", ".join(STARTTLS_PROTOCOLS)
        + "; none for TLS at once (default: from the scheme or the port)",
    )
    connection.add_argument(
        "--cacert",
        type=_readable_file,
        metavar="FILE",
        help="trust only the root certificates in FILE for the target",
    )
    scope.add_argument(
        "--expiry-warning",
        type=_expiry_days,
        default=Settings.expires_soon_days,
        metavar="DAYS",
        help="warn when a certificate of the target ends within DAYS days "
        "(default %(default)s; 0: never)",
    )
    references = check.add_argument_group("reference points")
    references.add_argument(
        "--known-roots",
        type=_readable_file,
        metavar="FILE",
        help="the public root set to compare with (default: Mozilla's, from certifi)",
    )
    references.add_argument(
        "--ntp-server",
        type=_host_port,
        action="append",
        metavar="HOST[:PORT]",
        help="a network time server to compare the clock with (repeatable)",
    )
    references.add_argument(
        "--canary",
        type=_host_port,
        action="append",
        metavar="HOST[:PORT]",
        help="a well-known HTTPS site used to detect interception (repeatable)",
    )
    references.add_argument(
        "--portal-probe",
        type=_http_url,
        action="append",
        metavar="URL",
        help="a plain http:// URL used to detect a captive portal (repeatable)",
    )
    explain = commands.add_parser(
        "explain",
        help="explain an error message from a browser, a tool or a server log",
        description="Recognise an error message and name its likely causes, most likely first, "
        "with the check that confirms each.",
        epilog=EXPLAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument(
        "text",
        metavar="ERROR_TEXT",
        help="the message, in quotes; - reads it from standard input (a piped log)",
    )
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")
    explain.add_argument("--lang", type=_language, metavar="en|zh_CN", help="language of the text")
    explain.add_argument(
        "--check",
        action="store_true",
        help="then diagnose the site the message names, as `handshake-doctor check HOST` does",
    )
    inspect = commands.add_parser(
        "inspect",
        help="judge a certificate file (PEM, DER, PKCS#7, PKCS#12) without connecting anywhere",
        description="Judge the certificates in FILE as a server's chain would be judged: dates, "
        "names, strength and the path to a trusted root. Nothing is contacted.",
        epilog=INSPECT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("file", metavar="FILE", type=Path, help="the certificate file")
    inspect.add_argument(
        "--host",
        metavar="NAME",
        type=_host_port,
        help="check the server certificate against this name (default: its own first name)",
    )
    inspect.add_argument(
        "--password-stdin",
        action="store_true",
        help="read a PKCS#12 file's password from standard input (it is never stored)",
    )
    inspect.add_argument("--json", action="store_true", help="print the JSON report (schema 1)")
    inspect.add_argument("--lang", type=_language, metavar="en|zh_CN", help="language of the text")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The run's settings from parsed `check` options."""
    defaults = Settings()
    return Settings(
        connect_timeout=args.connect_timeout,
        cacert=args.cacert,
        known_roots=args.known_roots,
        resolve=tuple(args.resolve),
        ntp_servers=tuple(args.ntp_server or defaults.ntp_servers),
        canaries=tuple(args.canary or defaults.canaries),
        portal_probes=tuple(args.portal_probe or defaults.portal_probes),
        offline=args.offline,
        only=args.only,
        lang=args.lang,
        expires_soon_days=args.expiry_warning,
    )


def exit_code(results: Sequence[CheckResult], *, cancelled: bool) -> int:
    """0 all pass, 1 warnings only, 2 any failure, 4 a check broke, 130 cancelled."""
    if cancelled:
        return EXIT_CANCELLED
    statuses = {r.status for r in results} | {f.status for r in results for f in r.findings}
    if Status.FAIL in statuses:
        return EXIT_FAIL
    if Status.ERROR in statuses:
        return EXIT_INTERNAL
    return EXIT_WARN if Status.WARN in statuses else EXIT_OK


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _progress(result: CheckResult, *, lang: str, stream: TextIO) -> None:
    word = catalogue.ui(f"status.{result.status.value}", lang=lang)
    symbol = catalogue.ui(f"status_symbol.{result.status.value}", lang=lang)
    name = catalogue.ui(f"check_name.{result.check_id}", lang=lang)
    stream.write(f"  {symbol} {word:<5} {name}\n")
    stream.flush()


@contextlib.contextmanager
def _importing(own_process: bool) -> Iterator[None]:
    """Pause the garbage collector while the checks are imported in the command's own process.

    All that the imports create lives to the end of the run, so the collector's passes over
    it (some 60, 5-7 ms of a 0.2 s check) would find nothing; `gc.freeze` then keeps it out
    of every later pass. A caller that goes on living (a test) keeps its collector as it was.
    """
    if not own_process or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def run_check(args: argparse.Namespace, *, own_process: bool = False) -> int:
    settings = settings_from(args)
    lang = catalogue.normalise_language(settings.lang)
    target: Target | None = None
    if args.target is not None:
        try:
            target = parse(args.target, starttls=args.starttls)
        except TargetError as exc:
            message = catalogue.input_error(exc, lang=lang)
            sys.stderr.write(f"handshake-doctor: {message}\n")
            return EXIT_USAGE
    if settings.only == "target" and target is None:
        sys.stderr.write("handshake-doctor: --only target needs a TARGET to check.\n")
        return EXIT_USAGE
    with _importing(own_process):
        # The checks pull in OpenSSL, cryptography and friends: the plan imports only the
        # ones it runs, and only when a check runs, so that `--help` answers at once.
        from checks import registry
        from checks.engine import diagnose

        plan = registry.plan(settings, target)
    cancel = threading.Event()
    show_progress = sys.stderr.isatty() and not args.json
    try:
        result = diagnose(
            plan,
            settings=settings,
            target=target,
            version=__version__,
            cancel=cancel,
            on_result=(lambda r: _progress(r, lang=lang, stream=sys.stderr))
            if show_progress
            else None,
        )
    except KeyboardInterrupt:
        cancel.set()
        sys.stderr.write("handshake-doctor: cancelled.\n")
        return EXIT_CANCELLED
    if args.json:
        from checks.present.document import to_json  # not the text, Markdown and HTML renderers

        sys.stdout.write(to_json(result, lang=lang))
    else:
        from checks.present.text import to_text

        text = to_text(result, color=use_color(sys.stdout), lang=lang, verbose=args.verbose)
        sys.stdout.write(text)
    if args.output is not None:
        from checks.present import report

        try:
            report.write(result, args.output, lang=lang)
        except (ValueError, OSError) as exc:
            sys.stderr.write(f"handshake-doctor: could not write {args.output}: {exc}\n")
            return EXIT_USAGE
    return exit_code(result.results, cancelled=result.cancelled)


def _password(args: argparse.Namespace, lang: str, prompt_key: str) -> bytes | None:
    """The password from standard input (--password-stdin) or typed at a terminal prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n").encode("utf-8")
    if sys.stdin.isatty():
        import getpass

        label = catalogue.ui(prompt_key, lang=lang, path=redact(str(args.file)))
        return getpass.getpass(f"{label} ").encode("utf-8")
    return None


def run_inspect(args: argparse.Namespace) -> int:
    """Judge a certificate file offline; its report in text or JSON."""
    import time
    from datetime import UTC, datetime

    from checks import diagnosis, inspect
    from checks.core.certfile import CertFileError
    from checks.core.models import FileSubject, Report
    from checks.present import report

    lang = catalogue.normalise_language(args.lang)
    started_at, started = datetime.now(UTC), time.monotonic()
    host, is_ip = None, False
    if args.host:
        target = parse(args.host)
        host, is_ip = target.sni or target.host, target.sni is None and target.is_ip
    password = _password(args, lang, "cert_file.password_prompt") if args.password_stdin else None
    try:
        try:
            found = inspect.analyse(args.file, host=host, is_ip=is_ip, password=password)
        except CertFileError as exc:
            if exc.key != "password_needed" or not sys.stdin.isatty():
                raise
            password = _password(args, lang, "cert_file.password_prompt")
            found = inspect.analyse(args.file, host=host, is_ip=is_ip, password=password)
    except CertFileError as exc:
        sentence = catalogue.ui(f"cert_file.{exc.key}", lang=lang, **exc.params)
        sys.stderr.write(f"handshake-doctor: {sentence}\n")
        return EXIT_USAGE
    subject = FileSubject(found.display, found.kind, len(found.pems), found.host)
    results = (found.result,)
    result = Report(
        version=__version__,
        target=None,
        started_at=started_at,
        duration_s=time.monotonic() - started,
        verdict=diagnosis.verdict(results),
        results=results,
        file=subject,
    )
    if args.json:
        sys.stdout.write(report.to_json(result, lang=lang))
    else:
        # The details are the point of looking at a file: always shown.
        color = use_color(sys.stdout)
        sys.stdout.write(report.to_text(result, color=color, lang=lang, verbose=True))
    return exit_code(results, cancelled=False)


def run_explain(args: argparse.Namespace) -> int:
    from checks.present import decoder

    """0 when the message is recognised, 1 when not, 3 when there is no message."""
    lang = catalogue.normalise_language(args.lang)
    if args.text == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        text = decoder.read_capped(stdin) if stdin is not None else sys.stdin.read()
    else:
        text = args.text
    if not decoder.normalise(text):
        sys.stderr.write(f"handshake-doctor: {catalogue.ui('decoder.empty', lang=lang)}\n")
        return EXIT_USAGE
    if args.check and args.json:
        # Two JSON documents on one stream would be no JSON at all.
        sys.stderr.write(f"handshake-doctor: {catalogue.ui('decoder.check_json', lang=lang)}\n")
        return EXIT_USAGE
    explanation = decoder.explain(text, lang=lang)
    if args.json:
        data = decoder.to_json(explanation)
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(decoder.to_text(explanation))
    if args.check:
        if explanation.host is None or explanation.check is None:
            sys.stderr.write(f"handshake-doctor: {catalogue.ui('decoder.no_site', lang=lang)}\n")
            return EXIT_USAGE
        checking = catalogue.ui("decoder.checking", lang=lang, command=explanation.check)
        sys.stdout.write(f"\n{checking}\n\n")
        sys.stdout.flush()
        # The very path `handshake-doctor check HOST` takes, so both always agree.
        return main(["check", explanation.host, "--lang", lang])
    return EXIT_OK if explanation.recognised else EXIT_WARN


def write_utf8_when_redirected(*streams: TextIO) -> None:
    """Output that goes to a file or a pipe is UTF-8 on every system.

    Windows' Python writes redirected output in the ANSI code page (cp1252 on most machines):
    the JSON report would not be UTF-8, and a Chinese report or a status symbol would end the
    run with UnicodeEncodeError. A console gets Unicode either way.
    """
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or stream.isatty():
            continue
        if (stream.encoding or "").lower().replace("-", "").replace("_", "") != "utf8":
            reconfigure(encoding="utf-8")


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """Entry point of the headless CLI; returns the process exit code.

    `own_process`: the process ends when this returns (the `handshake-doctor` command), so
    the garbage collector may be spared work the exit makes pointless (see `_importing`).
    """
    write_utf8_when_redirected(sys.stdout, sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "explain":
            return run_explain(args)
        if args.command == "inspect":
            return run_inspect(args)
        return run_check(args, own_process=own_process)
    except Exception as exc:  # last resort: one line for the user, never a traceback
        sys.stderr.write(f"handshake-doctor: internal error: {type(exc).__name__}: {exc}\n")
        if os.environ.get("HANDSHAKE_DOCTOR_DEBUG"):
            raise
        return EXIT_INTERNAL
    finally:
        if own_process:
            # The interpreter's shutdown would walk every object again (about 20 ms of a
            # 0.2 s check) to free what the OS takes back anyway. Only garbage cycles go
            # unfinalized: the CLI leaves none that needs it (reports are written and closed,
            # standard output is flushed at exit as always).
            gc.freeze()
