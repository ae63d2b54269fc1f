"""``smtpshell convert`` and ``smtpshell replay`` (offline): argv in, exit status out.

Both read FILE (``-`` for standard input) in any notation the readers know;
a file that cannot be read or is not a transcript is one clear line on
standard error and exit status 2. Credentials in FILE (AUTH responses) are
masked as the shell records them unless ``--show-secrets``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, TextIO

from smtpshell.settings import ExitStatus
from smtpshell.transcript.events import Transcript, TranscriptError

_NOTATIONS = ("jsonl", "text", "sc", "rfc821", "swaks", "exim", "sendmail")
_FORMATS = ("jsonl", "text", "sc", "swaks", "html", "asciicast")


class _Fail(Exception):
    """A one-line message for standard error, and an exit status."""

    def __init__(self, message: str, status: int = ExitStatus.USAGE) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _Fail(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _read_transcript(path: str, notation: str | None, stdin, *, show_secrets: bool = False) -> Transcript:
    """FILE read in any notation; credentials masked as the shell records them unless ``show_secrets``."""
    from smtpshell.transcript.readers import read_bytes

    if path == "-":
        source = stdin if stdin is not None else sys.stdin
        data = source.buffer.read() if hasattr(source, "buffer") else source.read()
        if isinstance(data, str):
            from smtpshell.transcript.events import to_bytes

            data = to_bytes(data)
        name = "standard input"
    else:
        name = path
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise _Fail(f"{path}: no such file") from None
        except IsADirectoryError:
            raise _Fail(f"{path}: is a directory, not a transcript") from None
        except OSError as exc:
            raise _Fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return read_bytes(data, notation=notation, show_secrets=show_secrets)
    except TranscriptError as exc:
        raise _Fail(f"{name}: not a transcript{f' in {notation} notation' if notation else ''}: {exc}") from None


def _run(prog: str, body: Callable[[], int], stderr: TextIO) -> int:
    try:
        return body()
    except _Fail as exc:
        stderr.write(f"{prog}: {exc}\n" if not str(exc).startswith(prog) else f"{exc}\n")
        return int(exc.status)
    except _Exit as exc:
        return exc.status


# ----- convert ------------------------------------------------------------------


def _convert_parser() -> _Parser:
    p = _Parser(
        prog="smtpshell convert",
        description="Read a transcript in any known notation and write it in another.",
        epilog=f"notations read: {', '.join(_NOTATIONS)} (detected unless --from)",
    )
    p.add_argument("file", metavar="FILE", help="the transcript (- for standard input)")
    p.add_argument("--to", dest="fmt", required=True, choices=_FORMATS, metavar="FORMAT",
                   help=f"the format to write: {', '.join(_FORMATS)}")
    p.add_argument("-o", "--output", metavar="OUT", help="write here (default: standard output)")
    p.add_argument("--from", dest="notation", choices=_NOTATIONS, metavar="NOTATION",
                   help="the notation of FILE, when detection guesses wrong")
    p.add_argument("--redact", action="store_true",
                   help="mask addresses, host names and credentials (consistently)")
    p.add_argument("--style", metavar="NAME", help="colours for html/asciicast (any pygments style)")
    p.add_argument("--show-secrets", action="store_true",
                   help="keep credentials in clear (AUTH responses are masked as *** by default, "
                   "as the shell records them)")
    return p


def convert_main(argv: list[str], *, stdin=None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """``smtpshell convert FILE --to FORMAT [-o OUT] [--from NOTATION] [--redact] [--show-secrets]``."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def body() -> int:
        from smtpshell.transcript.writers import write

        args = _convert_parser().parse_args(argv)
        _check_style(args.style)
        transcript = _read_transcript(args.file, args.notation, stdin, show_secrets=args.show_secrets)
        text = write(transcript, args.fmt, redact=args.redact, style=args.style)
        if args.output and args.output != "-":
            try:
                with open(args.output, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
            except OSError as exc:
                raise _Fail(f"{args.output}: cannot write: {exc.strerror or exc}") from None
        else:
            try:
                stdout.write(text)
                stdout.flush()
            except BrokenPipeError:
                pass
        return ExitStatus.OK

    return _run("smtpshell convert", body, stderr)


def _check_style(name: str | None) -> None:
    if not name:
        return
    from pygments.util import ClassNotFound

    from smtpshell.highlight.style import style_for

    try:
        style_for(name)
    except ClassNotFound:
        raise _Fail(f"--style {name}: no such pygments style") from None


# ----- replay (offline) ------------------------------------------------------------


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


_REPLAY_USAGE = """smtpshell replay FILE [--speed X | --instant | --step] [options]
       smtpshell replay FILE --to HOST [PORT] [--user USER] [--strict] [--json] [options]"""

_LIVE_EPILOG = """live replay (--to HOST [PORT]):
  The recorded client lines go to HOST, each after the reply to the one before
  (commands recorded as pipelined go in one write again), and every reply is
  compared with the recorded one, the greeting included. STARTTLS is done where
  the recording did it, with the TLS options given; if the server refuses it now,
  the replay stops there (what followed was said under TLS). Message content is
  sent as recorded. QUIT is sent at the end if the recording did not.

  AUTH: with --user, the recorded AUTH exchange (the AUTH line and its answers to
  334) is replaced by a fresh one with the same mechanism, and only its final
  reply is compared. The password comes from --password-file, SMTPSHELL_PASSWORD,
  or is asked for unseen when standard input is a terminal (never otherwise).
  Without --user, an exchange recorded in clear is sent as recorded (the report
  never shows its credentials); a masked one (***) is skipped:
  "skipped: credentials masked; give --user", a difference only with --strict.

  Differences: a reply of another class (2xx 3xx 4xx 5xx) than recorded, or no
  reply at all. With --strict also another code (250 -> 251) or another enhanced
  status code (5.7.1 -> 5.7.8) when both replies have one, and a skipped AUTH.
  EHLO capabilities added, removed or changed are shown, never counted.

exit status (live):
  0  no difference, every step replayed
  1  a difference counted (see above), or the replay stopped before the end
     with steps not replayed ("stopped: ...; N step(s) not replayed")
  2  usage error (bad option, unreadable FILE, no password without a terminal)
  3  connection or TLS failure, or the connection closed before the end
  130  interrupted"""

_OFFLINE_ONLY = {"speed": "--speed", "instant": "--instant", "step": "--step", "max_pause": "--max-pause",
                 "marks": "--marks", "timestamps": "--timestamps"}
_LIVE_ONLY = {"tls": "--tls", "insecure": "--insecure", "cafile": "--cafile", "cert": "--cert", "key": "--key",
              "sni": "--sni", "tls_min": "--tls-min", "family": "-4/-6", "ehlo": "--ehlo", "user": "--user",
              "password_file": "--password-file", "strict": "--strict", "json": "--json"}


def _replay_parser() -> _Parser:
    from smtpshell.cli import add_connection_options

    p = _Parser(
        prog="smtpshell replay",
        usage=_REPLAY_USAGE,
        description="Show a recorded or imported session as the shell would have shown it; "
        "with --to, send it to a server again and compare every reply with the recording.",
        epilog=_LIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the transcript, in any known notation (- for standard input)")
    p.add_argument("--from", dest="notation", choices=_NOTATIONS, metavar="NOTATION",
                   help="the notation of FILE, when detection guesses wrong")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour: auto (terminals only; NO_COLOR honoured), always, never")
    p.add_argument("--style", metavar="NAME", help="any pygments style")
    p.add_argument("--no-hints", action="store_true", help="leave out the hints")
    p.add_argument("--show-secrets", action="store_true",
                   help="show credentials read from FILE in clear (masked as *** by default)")
    off = p.add_argument_group("offline replay")
    pace = off.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_speed, metavar="X", help="X times the recorded pace")
    pace.add_argument("--instant", action="store_true", help="show everything at once")
    pace.add_argument("--step", action="store_true", help="one exchange per key press (q quits)")
    off.add_argument("--max-pause", type=_speed, metavar="SECONDS",
                     help="shorten longer recorded pauses to this (default 5)")
    off.add_argument("--marks", choices=("bare", "sc", "swaks"),
                     help="how lines are marked: bare (telnet-like, the default), sc (S:/C:), swaks (arrows)")
    off.add_argument("--timestamps", action="store_true", help="show the recorded times and latencies")
    live = p.add_argument_group("live replay")
    live.add_argument("--to", nargs="+", metavar=("HOST", "PORT"),
                      help="replay live against HOST [PORT] (HOST:PORT and [v6addr]:PORT work too; "
                      "PORT 25 by default, 465 with --tls)")
    add_connection_options(live, session=False)
    live.add_argument("--ehlo", metavar="NAME", help="send NAME in EHLO/HELO/LHLO instead of the recorded name")
    live.add_argument("--user", metavar="USER", help="redo each recorded AUTH exchange as USER (see below)")
    live.add_argument("--password-file", metavar="FILE",
                      help="the password (or token) for --user: FILE's first line; SMTPSHELL_PASSWORD works too")
    live.add_argument("--strict", action="store_true",
                      help="also count another reply code or enhanced status code, and a skipped AUTH")
    live.add_argument("--json", action="store_true", help="write the comparison as JSON to standard output")
    return p


def _tty_read_key(stdin) -> Callable[[], str]:
    """One key press from a terminal (cbreak mode), or a line from a pipe."""
    try:
        fd = stdin.fileno()
        interactive = os.isatty(fd)
    except (AttributeError, ValueError, OSError):
        interactive = False
    if not interactive:
        def read_line() -> str:
            line = stdin.readline()
            return (line.strip()[:1] or "\n") if line else ""

        return read_line

    def read_key() -> str:
        import termios
        import tty

        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            return os.read(fd, 1).decode("utf-8", "replace")
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return read_key


def replay_main(argv: list[str], *, stdin=None, stdout: TextIO | None = None,
                stderr: TextIO | None = None, env: dict[str, str] | None = None,
                read_key: Callable[[], str] | None = None,
                ask_secret: Callable[[str], str] | None = None) -> int:
    """``smtpshell replay FILE [--speed X | --instant | --step] [--color ...] [--marks ...]``,
    or live: ``smtpshell replay FILE --to HOST [PORT] [--user USER] [--strict] [--json] ...``.

    ``ask_secret`` asks for the password unseen (default: :func:`getpass.getpass`); it is
    used only when standard input is a terminal.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin if stdin is not None else sys.stdin
    env = os.environ if env is None else env

    def body() -> int:
        from smtpshell.transcript.display import Marks, View
        from smtpshell.transcript.replay import replay_offline

        args = _replay_parser().parse_args(argv)
        if args.to:
            return _live_main(args, stdin=stdin, stdout=stdout, env=env, ask_secret=ask_secret)
        for name, flag in _LIVE_ONLY.items():
            if getattr(args, name):
                raise _Fail(f"{flag} goes with --to HOST (live replay)")
        _check_style(args.style)
        if args.step and args.file == "-" and read_key is None:
            raise _Fail("--step reads key presses from standard input: give a FILE, not -")
        transcript = _read_transcript(args.file, args.notation, stdin, show_secrets=args.show_secrets)
        try:
            is_tty = stdout.isatty()
        except (AttributeError, ValueError):
            is_tty = False
        color = args.color == "always" or (args.color == "auto" and is_tty and not env.get("NO_COLOR"))
        view = View(marks=Marks(args.marks or "bare"), hints=not args.no_hints, timestamps=args.timestamps)
        try:
            replay_offline(
                transcript, stdout, color=color, style=args.style, view=view,
                speed=args.speed or 1.0, instant=args.instant, step=args.step,
                read_key=read_key or (_tty_read_key(stdin) if args.step else None),
                max_pause=args.max_pause or 5.0,
            )
        except KeyboardInterrupt:
            stdout.write("\n")  # the shell's prompt comes on a line of its own
            stdout.flush()
            return ExitStatus.INTERRUPTED
        return ExitStatus.OK

    return _run("smtpshell replay", body, stderr)


# ----- replay (live) ---------------------------------------------------------------


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _width(stdout, env) -> int:
    """Columns for the report: $COLUMNS, else the terminal's, else 80."""
    columns = env.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _is_tty(stdout):
        import shutil

        return shutil.get_terminal_size().columns
    return 80


def _password(args, env, stdin, ask_secret) -> str:
    """--password-file's first line, SMTPSHELL_PASSWORD, or asked unseen on a terminal (never otherwise)."""
    from smtpshell.shell.auth import AuthUsage, read_password

    try:
        password = read_password(args.password_file, env)
    except AuthUsage as exc:
        raise _Fail(str(exc)) from None
    if password is not None:
        return password
    if not _is_tty(stdin):
        raise _Fail(f"no password for --user {args.user}: standard input is not a terminal, so none is asked "
                    "for; set SMTPSHELL_PASSWORD or give --password-file")
    if ask_secret is None:
        import getpass

        ask_secret = getpass.getpass
    try:
        return ask_secret(f"password for {args.user}: ")
    except EOFError:
        raise _Fail("no password given") from None


def _live_main(args, *, stdin, stdout: TextIO, env, ask_secret) -> int:
    """``smtpshell replay FILE --to HOST [PORT] ...``: the report (or JSON) on stdout, an exit status."""
    import asyncio
    import json

    from smtpshell.net.address import parse_target
    from smtpshell.net.tls import TLSOptions
    from smtpshell.protocol.auth import Secret
    from smtpshell.shell import live_replay as live

    for name, flag in _OFFLINE_ONLY.items():
        if getattr(args, name):
            raise _Fail(f"{flag} is for offline replay, not with --to (a live replay goes at the server's pace)")
    if len(args.to) > 2:
        raise _Fail(f"--to HOST [PORT]: too many words ({' '.join(args.to)})")
    try:
        host, port = parse_target(*args.to)
    except ValueError as exc:
        raise _Fail(f"--to: {exc}") from None
    if args.key and not args.cert:
        raise _Fail("--key needs --cert")
    if args.password_file and not args.user:
        raise _Fail("--password-file goes with --user")
    _check_style(args.style)
    # Credentials read in clear are kept for the wire (an exchange recorded in clear is sent as
    # recorded); the report never shows them: AUTH lines as "AUTH MECH ***", answers not at all.
    transcript = _read_transcript(args.file, args.notation, stdin, show_secrets=True)
    the_plan = live.plan(transcript)
    notes: list[str] = []
    secret = None
    if args.user and the_plan.has_auth:
        secret = Secret(_password(args, env, stdin, ask_secret))
    elif args.user:
        notes.append(f"--user {args.user} not used: the recording has no AUTH")
    implicit = args.tls or the_plan.implicit_tls
    target = live.Target(host=host, port=port if port is not None else (465 if implicit else 25),
                         implicit_tls=args.tls, family=args.family or 0)
    options = live.Options(
        timeout=args.timeout, ehlo=args.ehlo, user=args.user, secret=secret, strict=args.strict,
        tls=TLSOptions(insecure=args.insecure, cafile=args.cafile, certfile=args.cert, keyfile=args.key,
                       sni=args.sni, min_version=args.tls_min),
    )
    from smtpshell.net.connection import format_hostport

    where = format_hostport(target.host, target.port)
    recorded = (format_hostport(transcript.header.host, transcript.header.port or 25)
                if transcript.header.host else "an unknown server")
    name = "standard input" if args.file == "-" else args.file
    about = {"file": name, "notation": transcript.notation,
             "recorded": {"host": transcript.header.host, "port": transcript.header.port},
             "target": {"host": target.host, "port": target.port, "implicit_tls": implicit}, "notes": notes}
    if args.json:
        try:
            report = asyncio.run(live.LiveReplay(the_plan, target, options).run())
        except KeyboardInterrupt:
            return ExitStatus.INTERRUPTED
        try:
            stdout.write(json.dumps(live.report_json(report, **about), ensure_ascii=False, indent=2) + "\n")
            stdout.flush()
        except BrokenPipeError:
            pass
        return report.exit_status

    from smtpshell.transcript import display
    from smtpshell.shell.output import StreamOutput

    color = args.color == "always" or (args.color == "auto" and _is_tty(stdout) and not env.get("NO_COLOR"))
    output = StreamOutput(stdout, color=color, style=args.style)
    width = _width(stdout, env)
    tls = " with implicit TLS" if implicit else ""
    output.emit([display.note_line(f"replaying {name} ({transcript.notation}, {len(the_plan.steps)} steps, "
                                   f"recorded against {recorded}) live against {where}{tls}")])
    output.emit([display.note_line(note) for note in notes])
    hints = not args.no_hints

    def on_step(result: live.StepResult) -> None:
        lines = live.step_lines(result, width=width)
        output.emit(lines if hints else [line for line in lines if not _is_hint(line)])

    try:
        report = asyncio.run(live.LiveReplay(the_plan, target, options, on_step=on_step).run())
    except KeyboardInterrupt:
        output.emit([display.error_line("interrupted")])
        return ExitStatus.INTERRUPTED
    output.emit(live.summary_lines(report))
    return report.exit_status


def _is_hint(line) -> bool:
    from smtpshell.highlight import tokens as tok

    return bool(line) and line[0][0] is tok.HINT and line[0][1].startswith("    ↳")
