"""Command line: argparse -> Settings -> interactive shell, script, or a subcommand.

Imports stay light here: prompt_toolkit is imported only for the REPL, the
practice server only for --demo and ``serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from smtpshell import __version__
from smtpshell.net.address import parse_target
from smtpshell.settings import EXIT_STATUS_HELP, ExitStatus, Settings

SUBCOMMANDS = ("serve", "replay", "convert", "explain")

USAGE = """smtpshell HOST [PORT] [options]     interactive shell (HOST may be HOST:PORT or [v6addr]:PORT)
       smtpshell --demo [options]          start the practice server on 127.0.0.1 and connect to it
       smtpshell --mx DOMAIN [PORT]        connect to DOMAIN's first MX host that answers
       smtpshell --socket PATH [options]   connect to a UNIX domain socket (LMTP with --lmtp)
       smtpshell serve [...]               run the practice server alone (for a classroom)
       smtpshell replay FILE [...]         play a recorded session back
       smtpshell convert FILE [...]        convert a transcript between notations
       smtpshell explain TEXT              explain a reply code, enhanced status code or EHLO keyword"""

EPILOG = f"""scripting:
  -c LINE (repeatable) or -f FILE run shell lines; when standard input is not a
  terminal, lines are read from it. Each command waits for its reply; after a
  354 the lines are the message until a lone '.'; colon commands work as in the
  shell (:expect 250, :starttls, ...). A script never prompts. QUIT is sent at
  the end if the script did not send it.

pipelining:
  --pipeline groups a script's consecutive SMTP command lines (-c, -f or
  standard input) and sends each group in one write, as swaks --pipeline does:
  -c 'EHLO me' -c 'MAIL FROM:<a@example.com>' -c 'RCPT TO:<b@example.com>' -c DATA
  sends EHLO alone, then MAIL, RCPT and DATA together. A group ends after a
  command that must be last (EHLO, DATA, AUTH, STARTTLS, QUIT, NOOP, VRFY, EXPN;
  RFC 2920 3.1), and before a colon command or message content. Replies are
  matched to the commands in order and shown side by side; a server that did not
  advertise PIPELINING gets the group anyway, after a warning. Lines between
  ':pipeline' and ':end' are grouped by hand, in scripts and in the shell.

{EXIT_STATUS_HELP}

examples:
  smtpshell --demo
  smtpshell mail.example.com 25 --starttls
  smtpshell smtp.example.com:465 --tls
  smtpshell mx.example.com -c 'EHLO me' -c ':expect 250' -c QUIT
  smtpshell --mx example.com                 (the first MX host that answers, port 25)
  smtpshell --lmtp --socket /var/run/dovecot/lmtp
  smtpshell mail.example.com --proxy 192.0.2.7:40000 198.51.100.1:25
  smtpshell mx.example.com --starttls --send --from me@example.com --to you@example.com --subject hi
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smtpshell",
        usage=USAGE,
        description="An interactive SMTP shell: type SMTP as in telnet; it does the framing (CRLF, "
        "STARTTLS, dot-stuffing), colours and explains replies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("host", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("port", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=f"smtpshell {__version__}")
    p.add_argument("--demo", action="store_true", help="start the practice server on 127.0.0.1 and connect to it")
    p.add_argument("--demo-mode", action="append", default=[], metavar="MODE[,MODE...]",
                   help="with --demo: make the practice server misbehave, as `smtpshell serve --mode`")

    connection = p.add_argument_group("connection")
    add_connection_options(connection)
    add_route_options(connection)

    o = p.add_argument_group("output")
    o.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour: auto (terminals only; NO_COLOR honoured), always, never")
    o.add_argument("--style", metavar="NAME", help="a pygments style for the colours")
    o.add_argument("--marks", choices=("bare", "sc", "swaks"), default="bare",
                   help="line marks: bare (as telnet), sc (S:/C:), swaks (<- ->)")
    o.add_argument("--timestamps", action="store_true", help="show time since connect and reply latency")
    o.add_argument("--no-hints", dest="hints", action="store_false", help="no explanations under replies")

    a = p.add_argument_group("authentication")
    a.add_argument("--user", metavar="USER", help="authenticate as USER after connecting (and STARTTLS)")
    a.add_argument("--auth", metavar="MECH", type=str.upper,
                   help="SASL mechanism for --user (default: the strongest the server offers)")
    a.add_argument("--password-file", metavar="FILE",
                   help="read the password (or token) from FILE's first line; SMTPSHELL_PASSWORD works too. "
                   "Interactively the password is asked for, unseen; a script never prompts")

    s = p.add_argument_group("scripting")
    s.add_argument("-c", dest="commands", metavar="LINE", action="append", default=[],
                   help="run LINE (repeatable) instead of the interactive shell")
    s.add_argument("-f", dest="script_file", metavar="FILE", help="run the lines in FILE")
    s.add_argument("--pipeline", action="store_true",
                   help="send runs of SMTP command lines together in one write (PIPELINING), as swaks "
                   "--pipeline does: MAIL, RCPT and DATA go out at once (see 'pipelining' below)")
    s.add_argument("--no-history", dest="history", action="store_false",
                   help="do not read or write the history file")

    from smtpshell.shell.send import add_send_options

    one = p.add_argument_group("one-shot send", "smtpshell HOST --send --from A --to B [...]: one whole "
                               "transaction (as :send in the shell), then QUIT; exit status 0 when it is accepted")
    one.add_argument("--send", action="store_true", help="send one message and leave (the options below)")
    add_send_options(one, prefix="send_")

    r = p.add_argument_group("recording")
    r.add_argument("--record", metavar="FILE",
                   help="record the session to FILE (JSON Lines, written as it happens; "
                   "smtpshell replay/convert read it)")
    r.add_argument("--overwrite", action="store_true",
                   help="let --record replace a file that is not empty (it refuses otherwise: a recording is "
                   "never lost by a mistyped name)")
    r.add_argument("--show-secrets", action="store_true",
                   help="keep passwords and tokens unmasked in recordings and :save (masked by default)")
    return p


def add_connection_options(group, *, session: bool = True) -> None:
    """The connection options, on a parser or argument group (``smtpshell replay --to`` shares them).

    ``session=False`` leaves out --starttls, --lmtp and --ehlo, which decide what is said rather
    than how to connect.
    """
    group.add_argument("--tls", action="store_true", help="implicit TLS (port 465 by default)")
    if session:
        group.add_argument("--starttls", action="store_true", help="EHLO then STARTTLS at once; fail if not offered")
        group.add_argument("--lmtp", action="store_true", help="speak LMTP (LHLO, port 24)")
        group.add_argument("--ehlo", metavar="NAME", help="the name for EHLO/LHLO (default: this host's name)")
    group.add_argument("--timeout", metavar="SECONDS", type=_positive_float, default=30.0,
                       help="connect, reply, handshake and write timeout (default 30)")
    fam = group.add_mutually_exclusive_group()
    fam.add_argument("-4", dest="family", action="store_const", const=socket.AF_INET, help="IPv4 only")
    fam.add_argument("-6", dest="family", action="store_const", const=socket.AF_INET6, help="IPv6 only")
    group.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    group.add_argument("--cafile", metavar="FILE", help="trust the CA certificates in FILE (PEM)")
    group.add_argument("--cert", metavar="FILE", help="client certificate (PEM)")
    group.add_argument("--key", metavar="FILE", help="client certificate's private key (PEM)")
    group.add_argument("--sni", metavar="NAME", help="server name to send and verify (default: HOST)")
    group.add_argument("--tls-min", choices=("1.2", "1.3"), help="lowest TLS version to accept")


def add_route_options(group) -> None:
    """Where else to connect, and what a proxy would say first (shell/launch.py, shell/mx.py)."""
    group.add_argument("--socket", metavar="PATH", help="connect to the UNIX domain socket PATH instead of HOST "
                       "(LMTP with --lmtp, or SMTP)")
    group.add_argument("--mx", metavar="DOMAIN", help="look up DOMAIN's MX hosts and connect to the first that "
                       "answers (DOMAIN:PORT or a PORT after it for another port than 25)")
    group.add_argument("--proxy", nargs=2, metavar=("SRC:PORT", "DST:PORT"),
                       help="send a PROXY protocol header first, as a proxy would for client SRC connecting to DST")
    group.add_argument("--proxy-version", type=int, choices=(1, 2), help="PROXY header version: 1 (text, the "
                       "default) or 2 (binary)")


def _route_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[str | None, int | None]:
    """Check --socket, --mx and --proxy; for --mx, (DOMAIN, PORT) with a positional PORT taken in."""
    if args.socket and (args.host or args.demo or args.mx):
        parser.error("--socket PATH names where to connect: give no HOST, --demo or --mx with it")
    if args.proxy_version is not None and not args.proxy:
        parser.error("--proxy-version goes with --proxy")
    if args.proxy:
        from smtpshell.protocol.proxy import header_for

        try:
            header_for(*args.proxy, version=args.proxy_version or 1)
        except ValueError as exc:
            parser.error(f"--proxy: {exc}")
    if not args.mx:
        return None, None
    if args.demo or args.port or (args.host and not args.host.isdigit()):
        parser.error("--mx DOMAIN names where to connect: give no HOST or --demo with it (a PORT may follow)")
    try:
        domain, port = parse_target(args.mx, args.host)
    except ValueError as exc:
        parser.error(f"--mx: {exc}")
    args.host = None
    return domain, port


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Settings:
    mx, mx_port = _route_args(args, parser)
    if args.demo and args.host:
        parser.error("--demo connects to its own practice server: give no HOST")
    if args.record and not args.overwrite:
        from smtpshell.shell.recording import occupied

        held = occupied(args.record)
        if held:
            parser.error(f"--record: {held}: not replaced; add --overwrite to replace it, or pick another name")
    if not args.demo and not args.host and not (mx or args.socket):
        parser.error("give a HOST to connect to (or --demo for the practice server)")
    demo_modes: tuple[str, ...] = ()
    if args.demo_mode:
        from smtpshell.server.modes import parse_modes

        if not args.demo:
            parser.error("--demo-mode goes with --demo")
        try:
            demo_modes = tuple(sorted(parse_modes(args.demo_mode)))
        except ValueError as exc:
            parser.error(f"--demo-mode: {exc}")
    host, port = None, None
    if args.host:
        try:
            host, port = parse_target(args.host, args.port)
        except ValueError as exc:
            parser.error(str(exc))
    if args.key and not args.cert:
        parser.error("--key needs --cert")
    if args.cafile or args.cert:  # a bad file is said now, naming it, not after connecting
        from smtpshell.net.tls import TLSOptions, TLSSetupError, key_is_encrypted, make_context

        # An encrypted key is loaded once, at the handshake: OpenSSL asks its passphrase there.
        chain = not key_is_encrypted(args.key or args.cert)
        try:
            make_context(TLSOptions(cafile=args.cafile, certfile=args.cert if chain else None,
                                    keyfile=args.key if chain else None))
        except TLSSetupError as exc:
            parser.error(str(exc))
    if args.auth:
        from smtpshell.protocol.auth import SUPPORTED

        if args.auth not in SUPPORTED:
            parser.error(f"--auth {args.auth}: not a mechanism I know ({', '.join(SUPPORTED)})")
    if args.password_file and not args.user:
        parser.error("--password-file goes with --user")
    if args.style:
        from pygments.util import ClassNotFound

        from smtpshell.highlight.style import style_for

        try:
            style_for(args.style)
        except ClassNotFound:
            parser.error(f"no pygments style named {args.style!r}")
    return Settings(
        host=host, port=mx_port if mx else port, tls=args.tls, starttls=args.starttls, lmtp=args.lmtp,
        socket=args.socket, mx=mx, proxy=tuple(args.proxy) if args.proxy else None,
        proxy_version=args.proxy_version or 1,
        ehlo=args.ehlo, timeout=args.timeout, family=args.family or 0,
        insecure=args.insecure, cafile=args.cafile, certfile=args.cert, keyfile=args.key,
        sni=args.sni, tls_min=args.tls_min, color=args.color, style=args.style,
        marks=args.marks, timestamps=args.timestamps, hints=args.hints,
        commands=tuple(args.commands) + _send_commands(args, parser), script_file=args.script_file, demo=args.demo,
        demo_modes=demo_modes,
        history=args.history, record=args.record, show_secrets=args.show_secrets,
        user=args.user, auth_mechanism=args.auth,
        password_file=args.password_file, pipeline=args.pipeline,
    )


def _send_commands(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    from smtpshell.shell.send import send_commands

    return send_commands(args, parser)


def _explain_main(argv: list[str], *, stdout=None, stderr=None, env=None) -> int:
    import os

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(prog="smtpshell explain",
                                description="Explain a reply code (550), an enhanced status code "
                                "(5.7.1), a whole reply line, or an EHLO keyword (PIPELINING).",
                                epilog="exit status: 0 explained, 2 usage error "
                                "(no TEXT, or TEXT is nothing smtpshell knows)")
    p.add_argument("text", nargs="+", metavar="TEXT",
                   help='a code (550), an enhanced code (5.7.1), a reply line ("550 5.7.1 Relaying denied") '
                   "or an EHLO keyword (PIPELINING, SIZE 10240000)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour: auto (terminals only; NO_COLOR honoured), always, never")
    p.add_argument("--style", metavar="NAME", help="a pygments style for the colours")
    args = p.parse_args(argv)
    text = " ".join(args.text)
    if not text.strip():
        p.error("TEXT is empty: give a code (550), an enhanced code (5.7.1), a reply line or an EHLO keyword")
    from pygments.util import ClassNotFound

    from smtpshell.highlight.ansi import AnsiRenderer
    from smtpshell.highlight.style import style_for
    from smtpshell.shell.explain import explain_text, styled

    try:
        style_cls = style_for(args.style)
    except ClassNotFound:
        p.error(f"no pygments style named {args.style!r}")
    explanation = explain_text(text)
    stream = stdout if explanation.known else stderr
    is_tty = getattr(stream, "isatty", lambda: False)()
    color = args.color == "always" or (args.color == "auto" and is_tty and not env.get("NO_COLOR"))
    stream.write(AnsiRenderer(style_cls, color=color).lines(styled(explanation)))
    stream.flush()
    return ExitStatus.OK if explanation.known else ExitStatus.USAGE


def _replay_main(argv: list[str]) -> int:
    from smtpshell.cli_transcripts import replay_main

    return replay_main(argv)


def _convert_main(argv: list[str]) -> int:
    from smtpshell.cli_transcripts import convert_main

    return convert_main(argv)


def _serve_main(argv: list[str]) -> int:
    from smtpshell.server.practice import serve_main

    return serve_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        runner = {
            "serve": _serve_main,
            "explain": _explain_main,
            "replay": _replay_main,
            "convert": _convert_main,
        }[argv[0]]
        try:
            return int(runner(argv[1:]))
        except KeyboardInterrupt:
            return ExitStatus.INTERRUPTED
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from_args(args, parser)
    scripted = bool(settings.commands or settings.script_file) or not sys.stdin.isatty()
    if settings.script_file:
        try:
            open(settings.script_file, "rb").close()
        except OSError as exc:
            parser.error(f"cannot read script {settings.script_file}: {exc.strerror}")
    try:
        if scripted:
            from smtpshell.shell.script import run_script_main

            return int(asyncio.run(run_script_main(settings)))
        from smtpshell.repl.app import run_repl_main

        return int(asyncio.run(run_repl_main(settings)))
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
