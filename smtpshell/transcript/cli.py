"""``smtpshell convert`` and ``smtpshell replay`` (offline): argv in, exit status out.

Both read FILE (``-`` for standard input) in any notation the readers know;
a file that cannot be read or is not a transcript is one clear line on
standard error and exit status 2.
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


def _read_transcript(path: str, notation: str | None, stdin) -> Transcript:
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
        return read_bytes(data, notation=notation)
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
    return p


def convert_main(argv: list[str], *, stdin=None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> int:
    """``smtpshell convert FILE --to FORMAT [-o OUT] [--from NOTATION] [--redact]``."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def body() -> int:
        from smtpshell.transcript.writers import write

        args = _convert_parser().parse_args(argv)
        _check_style(args.style)
        transcript = _read_transcript(args.file, args.notation, stdin)
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


def _replay_parser() -> _Parser:
    p = _Parser(
        prog="smtpshell replay",
        description="Show a recorded or imported session as the shell would have shown it.",
    )
    p.add_argument("file", metavar="FILE", help="the transcript, in any known notation (- for standard input)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_speed, default=1.0, metavar="X", help="X times the recorded pace")
    pace.add_argument("--instant", action="store_true", help="show everything at once")
    pace.add_argument("--step", action="store_true", help="one exchange per key press (q quits)")
    p.add_argument("--max-pause", type=_speed, default=5.0, metavar="SECONDS",
                   help="shorten longer recorded pauses to this (default 5)")
    p.add_argument("--from", dest="notation", choices=_NOTATIONS, metavar="NOTATION",
                   help="the notation of FILE, when detection guesses wrong")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour: auto (terminals only; NO_COLOR honoured), always, never")
    p.add_argument("--style", metavar="NAME", help="any pygments style")
    p.add_argument("--marks", choices=("bare", "sc", "swaks"), default="bare",
                   help="how lines are marked: bare (telnet-like), sc (S:/C:), swaks (arrows)")
    p.add_argument("--timestamps", action="store_true", help="show the recorded times and latencies")
    p.add_argument("--no-hints", action="store_true", help="leave out the hints")
    p.add_argument("--to", nargs="+", metavar="HOST", help="replay live against HOST [PORT]")
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
                read_key: Callable[[], str] | None = None) -> int:
    """``smtpshell replay FILE [--speed X | --instant | --step] [--color ...] [--marks ...]``."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin if stdin is not None else sys.stdin
    env = os.environ if env is None else env

    def body() -> int:
        from smtpshell.shell.display import Marks, View
        from smtpshell.transcript.replay import replay_offline

        args = _replay_parser().parse_args(argv)
        if args.to:
            raise _Fail("live replay: not available yet")
        _check_style(args.style)
        if args.step and args.file == "-" and read_key is None:
            raise _Fail("--step reads key presses from standard input: give a FILE, not -")
        transcript = _read_transcript(args.file, args.notation, stdin)
        try:
            is_tty = stdout.isatty()
        except (AttributeError, ValueError):
            is_tty = False
        color = args.color == "always" or (args.color == "auto" and is_tty and not env.get("NO_COLOR"))
        view = View(marks=Marks(args.marks), hints=not args.no_hints, timestamps=args.timestamps)
        try:
            replay_offline(
                transcript, stdout, color=color, style=args.style, view=view,
                speed=args.speed, instant=args.instant, step=args.step,
                read_key=read_key or (_tty_read_key(stdin) if args.step else None),
                max_pause=args.max_pause,
            )
        except KeyboardInterrupt:
            return ExitStatus.INTERRUPTED
        return ExitStatus.OK

    return _run("smtpshell replay", body, stderr)
