"""Colon commands: a registry of name -> syntax, help text and handler.

Each handler's docstring is its help: the first line is the summary that
``:help`` lists, the rest is what ``:help NAME`` adds.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from smtpshell.protocol import codes
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display
from smtpshell.transcript.display import Marks

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

Handler = Callable[["Shell", str], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class CommandSpec:
    name: str
    syntax: str
    handler: Handler | str  # or "module:function", imported when first used (a faster start)
    in_data: bool = False  # also a command (not message content) inside DATA
    example: str = ""  # what :help NAME shows as an example (alternatives separated by "  |  ")
    options: tuple[str, ...] = ()  # the --options it takes: what :help lists and Tab completes

    @functools.cached_property
    def function(self) -> Handler:
        """The handler itself (imported now if it was named as a string)."""
        if not isinstance(self.handler, str):
            return self.handler
        module, _, function = self.handler.partition(":")
        return getattr(importlib.import_module(module), function)

    @property
    def summary(self) -> str:
        return (self.function.__doc__ or "").strip().splitlines()[0]

    @property
    def help(self) -> str:
        lines = (self.function.__doc__ or "").strip().splitlines()
        return "\n".join(line.strip() for line in lines[1:]).strip()

    async def run(self, shell: "Shell", arg: str) -> None:
        await self.function(shell, arg)


# ----- the commands ----------------------------------------------------------


async def cmd_help(shell: "Shell", arg: str) -> None:
    """Show the commands, or one command's help.

    Anything that does not start with ':' is sent to the server as typed,
    with CRLF. After 354 lines are the message until a lone '.'.
    """
    name = arg.strip().lstrip(":").lower()
    if name:
        spec = shell.commands.get(name)
        if spec is None:
            import difflib

            close = difflib.get_close_matches(name, shell.commands, n=2, cutoff=0.6)
            shell.usage_error(f"no command :{name}" + (f" — did you mean {' or '.join(':' + c for c in close)}?" if close else
                                                  " (:help lists them)"))
            return
        lines = [display.note_line(f"{spec.syntax}  —  {spec.summary}")]
        lines += [display.note_line(f"  {text}") for text in spec.help.splitlines() if text]
        if spec.options:
            lines.append(display.note_line("  options: " + " ".join(spec.options)))
        if spec.in_data:
            lines.append(display.note_line("  works at the data> prompt too (after 354)"))
        for number, example in enumerate(spec.example.split("  |  ")):
            lines.append(display.hint_line(f"{'example: ' if number == 0 else '         '}{example}"))
        shell.emit(*lines)
        return
    width = max(len(spec.syntax) for spec in shell.commands.values())
    lines = [display.note_line("type SMTP commands as in telnet (EHLO, MAIL FROM:<a@b>, …); colon commands:")]
    for spec in shell.commands.values():
        lines.append(display.note_line(f"  {spec.syntax:<{width}}  {spec.summary}"))
    lines.append(display.hint_line(":help NAME shows a command's options and an example (:help send)"))
    lines.append(display.hint_line("keys: Ctrl-C cancels the line or the wait; Ctrl-D at an empty prompt sends QUIT and exits"))
    shell.emit(*lines)


async def cmd_auth(shell: "Shell", arg: str) -> None:
    """Authenticate: base64 and every 334 answered for you, the password asked unseen.

    :auth [MECH] [USER] [PASSWORD] [--initial|--no-initial] [--authzid ID]
    MECH: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER;
    without it, the strongest the server offered. A first word that is
    almost a mechanism (PLAN) or in capitals with a - (SCRAM-SHA-512) is
    taken as one when more words follow (any word, when two follow): one
    :auth does not speak is an error and nothing is sent; a user name like
    that goes after its mechanism (:auth LOGIN LOGAN). USER defaults to
    the user the shell was started with (--user). Without PASSWORD it
    is asked for with hidden input (a token for XOAUTH2 and OAUTHBEARER);
    scripts use SMTPSHELL_PASSWORD or a password file (see smtpshell --help).
    Each challenge is decoded, each answer shown with its secret masked.
    --initial sends LOGIN's user with the AUTH line (RFC 4954); --no-initial
    makes PLAIN wait for the empty 334. :set explain-auth on shows the steps.
    """
    from smtpshell.shell.auth import run_auth

    await run_auth(shell, arg)


async def cmd_quit(shell: "Shell", arg: str) -> None:
    """Send QUIT, wait briefly for 221, and leave the shell."""
    await shell.quit()


async def cmd_record(shell: "Shell", arg: str) -> None:
    """Record the session from here on, as JSON Lines written as it happens.

    :record FILE     start (credentials masked unless --show-secrets)
    :record stop     stop and close the file
    :record          say whether a recording runs
    A FILE that is not empty is replaced only after a yes (in a script, only
    with --overwrite after FILE).
    """
    from smtpshell.shell import recording

    parsed = _path_words(shell, arg, ":record FILE [--overwrite] | :record stop", ("--overwrite",))
    if parsed is None:
        return
    words, flags = parsed
    if not words:
        if shell.recorder is None:
            shell.note("not recording (:record FILE starts)")
        else:
            shell.note(f"recording to {shell.recorder.path}")
        return
    if words == ["stop"]:
        recording.stop(shell)
        return
    if shell.recorder is None and not await recording.may_write(shell, words[0], overwrite="--overwrite" in flags):
        return
    recording.start(shell, words[0])


async def cmd_save(shell: "Shell", arg: str) -> None:
    """Write the session so far to FILE: .jsonl (native), .txt (telnet-style), .html, .cast.

    Credentials stay masked unless the shell was started with --show-secrets.
    A FILE that is not empty is replaced only after a yes (in a script, only
    with --overwrite after FILE).
    """
    from smtpshell.shell import recording

    parsed = _path_words(shell, arg, ":save FILE [--overwrite]", ("--overwrite",))
    if parsed is None:
        return
    words, flags = parsed
    if not words:
        shell.usage_error("usage: :save FILE [--overwrite]")
        return
    if await recording.may_write(shell, words[0], overwrite="--overwrite" in flags):
        recording.save(shell, words[0])


def _path_words(shell: "Shell", arg: str, usage: str,
                flags: tuple[str, ...] = ()) -> tuple[list[str], set[str]] | None:
    """ARG as shell words (quotes for paths with spaces): at most one word, and which of
    ``flags`` were given; None after an error (said)."""
    import shlex

    try:
        words = shlex.split(arg)
    except ValueError as exc:
        shell.usage_error(f"{exc}; usage: {usage}")
        return None
    given = {w for w in words if w in flags}
    words = [w for w in words if w not in flags]
    if len(words) > 1:
        shell.usage_error(f"usage: {usage}")
        return None
    return words, given


async def cmd_close(shell: "Shell", arg: str) -> None:
    """Send QUIT and close the connection, staying in the shell."""
    await shell.quit()
    shell.quitting = False


async def cmd_connect(shell: "Shell", arg: str) -> None:
    """Connect to another server (closing the current connection).

    :connect HOST [PORT] [--tls]    HOST may be HOST:PORT or [v6addr]:PORT.
    """
    from smtpshell.net.address import parse_target
    from smtpshell.shell.core import Target

    words = arg.split()
    implicit = "--tls" in words
    words = [w for w in words if w != "--tls"]
    if not words or len(words) > 2:
        shell.usage_error("usage: :connect HOST [PORT] [--tls]")
        return
    try:
        host, port = parse_target(words[0], words[1] if len(words) > 1 else None)
    except ValueError as exc:
        shell.usage_error(str(exc))
        return
    if port is None:
        port = 465 if implicit else (24 if shell.settings.lmtp else 25)
    if shell.connected:
        await shell.quit()
    shell.quitting = False
    if not await shell.connect(Target(host=host, port=port, implicit_tls=implicit)):
        _connect_failed(shell)


def _connect_failed(shell: "Shell") -> None:
    """In a script, a :connect or :reconnect that failed (it said why) stops it with exit 3."""
    from smtpshell.shell.core import raise_if_script

    raise_if_script(shell, "could not connect", ExitStatus.CONNECTION)


async def cmd_reconnect(shell: "Shell", arg: str) -> None:
    """Connect again to the same server, with the same options."""
    if shell.target is None:
        shell.usage_error("nothing to reconnect to: :connect HOST [PORT]")
        return
    if shell.connected:
        await shell.quit()
    shell.quitting = False
    if not await shell.connect(shell.target):
        _connect_failed(shell)


async def cmd_starttls(shell: "Shell", arg: str) -> None:
    """Start TLS: EHLO if needed, STARTTLS, then EHLO again.

    Typing STARTTLS yourself works too: the shell upgrades the connection
    when the server says 220 (then send EHLO again).
    In a script, a :starttls that does not end in TLS stops the script (exit 3):
    what follows (AUTH, the message) must not go out in plain text. To test a
    refusal on purpose, type STARTTLS and :expect the code.
    """
    if await shell.starttls() or not shell.connected or shell.session.tls:
        return
    from smtpshell.shell.core import raise_if_script

    if not shell.interactive:
        shell.error("the script stops here: TLS did not start, and the lines after :starttls must not go in "
                    "plain text (exit 3)")
    raise_if_script(shell, ":starttls failed", ExitStatus.CONNECTION)


async def cmd_ehlo(shell: "Shell", arg: str) -> None:
    """Send EHLO (LHLO with --lmtp) with NAME or this machine's name."""
    await shell.ehlo(arg.strip() or None)


async def cmd_expect(shell: "Shell", arg: str) -> None:
    """Fail the script unless the last reply's code matches: 250, 25x or 2xx.

    In the REPL it only says whether it matched.
    """
    spec = arg.strip()
    if not (len(spec) == 3 and all(c.isdigit() or c in "xX" for c in spec)):
        shell.error("usage: :expect CODE   (like 250, 25x, 2xx)")
        from smtpshell.shell.core import raise_if_script

        raise_if_script(shell, "bad :expect", ExitStatus.USAGE)
        return
    if shell.expect(spec):
        if shell.interactive:
            shell.note(f"expectation met: {shell.last_reply.code} matches {spec}")
        return
    got = "no reply" if shell.last_reply is None else f"{shell.last_reply.code}"
    shell.error(f"expected {spec}, got {got}")
    shell.expect_failed = True
    from smtpshell.shell.core import raise_if_script

    raise_if_script(shell, f"expected {spec}, got {got}", ExitStatus.EXPECT_FAILED)


_SETTABLE = {
    "hints": "on|off",
    "explain-auth": "on|off",
    "timestamps": "on|off",
    "marks": "bare|sc|swaks",
    "style": "NAME (a pygments style)",
}


async def cmd_set(shell: "Shell", arg: str) -> None:
    """Change a setting: hints, explain-auth, timestamps, marks, style.

    :set hints on|off       explanations under replies
    :set explain-auth on|off  the steps of CRAM-MD5, DIGEST-MD5 and SCRAM, secrets masked
    :set timestamps on|off  time since connect and per-reply latency
    :set marks bare|sc|swaks  how lines are marked
    :set style NAME         any pygments style
    """
    from dataclasses import replace

    words = arg.split()
    if len(words) != 2 or words[0] not in _SETTABLE:
        shell.usage_error("usage: :set " + " | ".join(f"{k} {v}" for k, v in _SETTABLE.items()))
        return
    name, value = words[0], words[1]
    if name == "explain-auth":
        if value not in ("on", "off"):
            shell.usage_error("usage: :set explain-auth on|off")
            return
        shell.explain_auth = value == "on"
    elif name in ("hints", "timestamps"):
        if value not in ("on", "off"):
            shell.usage_error(f"usage: :set {name} on|off")
            return
        shell.view = replace(shell.view, **{name: value == "on"})
    elif name == "marks":
        try:
            shell.view = replace(shell.view, marks=Marks(value))
        except ValueError:
            shell.usage_error("usage: :set marks bare|sc|swaks")
            return
    elif name == "style":
        from pygments.util import ClassNotFound

        from smtpshell.highlight.style import style_for

        try:
            style_for(value)
        except ClassNotFound:
            shell.usage_error(f"no pygments style named {value!r}")
            return
        shell.style_name = value
        restyle = getattr(shell.output, "set_style", None)
        if restyle:
            restyle(value)
    shell.note(f"{name} = {value}")


async def cmd_b64(shell: "Shell", arg: str) -> None:
    """Base64-encode TEXT (UTF-8); \\0 stands for a NUL byte, as AUTH PLAIN needs."""
    raw = arg.replace("\\0", "\x00").encode("utf-8", "surrogateescape")
    shell.emit(display.note_line(base64.b64encode(raw).decode("ascii")))


async def cmd_unb64(shell: "Shell", arg: str) -> None:
    """Decode base64 TEXT and show it (non-printable bytes shown visibly)."""
    try:
        raw = base64.b64decode(arg.strip(), validate=True)
    except (binascii.Error, ValueError):
        shell.error("not base64")
        return
    shell.emit(display.note_line(raw.decode("utf-8", "surrogateescape")))


def unescape(text: str) -> bytes:
    """``:raw`` escapes: \\r \\n \\t \\0 \\\\ \\xHH; everything else as UTF-8."""
    out = bytearray()
    i = 0
    simple = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\x00", "\\": b"\\"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in simple:
                out += simple[nxt]
                i += 2
                continue
            hex_digits = text[i + 2:i + 4]
            if nxt == "x" and len(hex_digits) == 2 and all(c in string.hexdigits for c in hex_digits):
                out.append(int(hex_digits, 16))
                i += 4
                continue
            raise ValueError(f"unknown escape \\{nxt} (use \\r \\n \\t \\0 \\\\ \\xHH)")
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return bytes(out)


def raw_bytes(arg: str) -> bytes:
    """``:raw``'s argument: TEXT with escapes, or ``--hex HEX`` (``2e0d0a``, ``2e 0d 0a``, ``2e:0d:0a``)."""
    words = arg.split(None, 1)
    if not words or words[0] != "--hex":
        return unescape(arg)
    digits = "".join((words[1] if len(words) > 1 else "").replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"--hex wants pairs of hex digits (like 2e0d0a), not {digits!r}") from None


async def cmd_raw(shell: "Shell", arg: str) -> None:
    """Send exactly these bytes, no CRLF added: escapes \\r \\n \\t \\0 \\\\ \\xHH.

    :raw --hex 2e0d0a   the bytes in hex (spaces or colons between bytes allowed)
    For line-ending tests against your own servers. If the bytes end with a
    line feed the shell waits for a reply, as for a command. Bare CR, bare LF
    and NUL coming back are drawn as ␍ ␊ ␀, with a note saying what they are.
    After 354 the bytes join the message as they are (no dot-stuffing).
    <CRLF>.<CRLF> in them ends the message: the shell waits for the reply and
    sends what follows as commands. A reply to other bytes (a bare-LF dot
    line) means the server took them as the end of data: the shell leaves
    DATA and says so (smuggling tests by hand; :smuggle-check runs the known ones).
    """
    try:
        data = raw_bytes(arg)
    except ValueError as exc:
        shell.usage_error(str(exc))
        return
    if not data:
        shell.usage_error("usage: :raw TEXT | :raw --hex HEX   (e.g. :raw NOOP\\r\\n, :raw --hex 4e4f4f500d0a)")
        return
    if not shell.connected:
        shell.error("not connected")
        return
    if shell.bdat_owed:
        await shell.bdat_content(data)  # the typed BDAT's chunk: exact bytes, counted
        return
    in_data = shell.in_data
    if in_data:
        await shell._flush_data()  # the message lines typed before go first
        joined = shell.data_tail + data  # the tail: an end of data may begin in an earlier :raw
        found = joined.find(b"\r\n.\r\n")
        if found >= 0:
            # <CRLF>.<CRLF> in the bytes ends the message, as it does for the server: the shell
            # goes out of DATA with it and waits for the reply; what follows is commands.
            dot = found + 2 - len(shell.data_tail)  # where its dot is, in data (< 0: sent before)
            head, after = data[:dot + 3], data[dot + 3:]
            shell.note(f"sending {len(head)} raw bytes inside the message: {head!r}; the <CRLF>.<CRLF> "
                       f"{'in them' if dot >= 0 else 'they finish'} ends it")
            if dot >= 0:
                reply = await shell.end_data(content=head[:dot])  # head[:dot] + ".\r\n" is head
            else:
                reply = await shell.end_data(content=head, terminated=True)  # the dot went before
            if after and reply is not None:
                out = await shell.conn.send_raw(after, expects_reply=after.endswith(b"\n"))
                shell.note(f"sent {len(after)} raw bytes after the message: {after!r}")
                if after.endswith(b"\n"):
                    await shell.wait_reply(out.command)
            return
        shell.raw_in_data, shell.data_tail = True, joined[-4:]
    expects = data.endswith(b"\n") and not in_data  # in DATA only an end of data brings a reply
    out = await shell.conn.send_raw(data, expects_reply=expects)
    shell.note(f"sent {len(data)} raw bytes{' inside the message' if in_data else ''}: {data!r}")
    if expects:
        await shell.wait_reply(out.command)


async def cmd_file(shell: "Shell", arg: str) -> None:
    """In DATA: send a message file (CRLF-normalised, dot-stuffed) and end the message."""
    if not shell.in_data:
        shell.error(":file works after DATA got 354")
        return
    parsed = _path_words(shell, arg, ":file PATH")
    if parsed is None:
        return
    words, _ = parsed
    if not words:
        shell.usage_error("usage: :file PATH   (quote a path with spaces)")
        return
    await shell.send_file(words[0])


async def cmd_explain(shell: "Shell", arg: str) -> None:
    """Explain a reply code (550), an enhanced code (5.7.1), a reply line or an EHLO keyword."""
    from smtpshell.shell.core import raise_if_script
    from smtpshell.shell.explain import explain_text

    text = arg.strip()
    if not text:
        shell.usage_error("usage: :explain 550 | 5.7.1 | \"550 5.7.1 Relay denied\" | PIPELINING")
        return
    result = explain_text(text)
    if result.known:
        shell.emit(*(display.note_line(line) for line in result.lines))
        return
    first, *rest = result.lines  # nothing matched: said as an error, as smtpshell explain does (exit 2)
    shell.error(first)
    shell.emit(*(display.note_line(line) for line in rest))
    raise_if_script(shell, f"nothing to explain in {text!r}", ExitStatus.USAGE)


def build_registry() -> dict[str, CommandSpec]:
    """All colon commands, in the order :help lists them."""
    from smtpshell.shell.send import OPTIONS as SEND_OPTIONS  # the command line's parser loads it anyway

    specs = [
        CommandSpec(name="help", syntax=":help [NAME]", handler=cmd_help, in_data=True,
                    example=':help auth'),
        CommandSpec(name="starttls", syntax=":starttls", handler=cmd_starttls,
                    example=':starttls   (then :tls shows the certificate chain)'),
        CommandSpec(name="auth", syntax=":auth [MECH] [USER] [PASSWORD]", handler=cmd_auth,
                    options=("--initial", "--no-initial", "--authzid"),
                    example=':auth login alice   (asks for the password)  |  :auth plain alice wonderland'),
        CommandSpec(name="ehlo", syntax=":ehlo [NAME]", handler=cmd_ehlo,
                    example=':ehlo client.example.com'),
        CommandSpec(name="file", syntax=":file PATH", handler=cmd_file, in_data=True,
                    example='DATA, then at the data> prompt: :file ./message.eml'),
        CommandSpec(name="send", syntax=":send --from A --to B [...]", handler="smtpshell.shell.send:cmd_send",
                    options=tuple(option for option, *_ in SEND_OPTIONS),
                    example=':send --from alice@example.com --to bob@example.com --subject "Test" --body "Hello\\nBob" --attach ./report.pdf'),
        CommandSpec(name="bdat", syntax=":bdat PATH|TEXT [--last]", handler="smtpshell.shell.bdat:cmd_bdat",
                    options=("--last", "--chunk-size", "--crlf", "--text"),
                    example=':bdat ./message.eml --last  |  :bdat "Subject: hi\\r\\n\\r\\nhello\\r\\n" --last'),
        CommandSpec(name="raw", syntax=":raw TEXT | --hex HEX", handler=cmd_raw, in_data=True,
                    options=("--hex",),
                    example=':raw MAIL FROM:<a@example.com>\\n   (a bare LF line ending)  |  :raw --hex 4e4f4f500d0a'),
        CommandSpec(name="pipeline", syntax=":pipeline … :end", handler="smtpshell.shell.pipeline:cmd_pipeline",
                    example=':pipeline, MAIL FROM:<a@example.com>, RCPT TO:<b@example.com>, DATA, :end'),
        CommandSpec(name="end", syntax=":end", handler="smtpshell.shell.pipeline:cmd_end",
                    example=':end   (after :pipeline and the commands to queue)'),
        CommandSpec(name="smuggle-check", syntax=":smuggle-check --from A --to B", handler="smtpshell.shell.smuggle:cmd_smuggle_check",
                    options=("--from", "--to", "--variants", "--yes"),
                    example=':smuggle-check --from a@example.com --to postmaster@example.com --variants lf.lf,crlf.lf'),
        CommandSpec(name="caps", syntax=":caps", handler="smtpshell.shell.inspect:cmd_caps",
                    example='EHLO me, :caps, :starttls, :caps   (the second shows what changed)'),
        CommandSpec(name="tls", syntax=":tls", handler="smtpshell.shell.inspect:cmd_tls",
                    example=':starttls, then :tls'),
        CommandSpec(name="explain", syntax=":explain TEXT", handler=cmd_explain,
                    example=':explain 5.7.26  |  :explain "550 5.7.1 Relaying denied"  |  :explain PIPELINING'),
        CommandSpec(name="b64", syntax=":b64 TEXT", handler=cmd_b64,
                    example=':b64 \\0alice\\0wonderland   (an AUTH PLAIN answer)'),
        CommandSpec(name="unb64", syntax=":unb64 TEXT", handler=cmd_unb64,
                    example=':unb64 VXNlcm5hbWU6   (Username:)'),
        CommandSpec(name="expect", syntax=":expect CODE", handler=cmd_expect,
                    example='MAIL FROM:<a@example.com>, then :expect 250   (in a -f script: stop unless 250)'),
        CommandSpec(name="record", syntax=":record FILE [--overwrite] | :record stop", handler=cmd_record,
                    in_data=True, options=("--overwrite",), example=':record session.jsonl  …  :record stop'),
        CommandSpec(name="save", syntax=":save FILE [--overwrite]", handler=cmd_save, in_data=True,
                    options=("--overwrite",), example=':save session.html   (or .txt, .jsonl, .cast)'),
        CommandSpec(name="set", syntax=":set NAME VALUE", handler=cmd_set,
                    example=':set hints off  |  :set marks sc  |  :set style monokai'),
        CommandSpec(name="connect", syntax=":connect HOST [PORT] [--tls]", handler=cmd_connect,
                    options=("--tls",),
                    example=':connect mail.example.com 587  |  :connect [2001:db8::25]:25  |  :connect smtp.example.com 465 --tls'),
        CommandSpec(name="mx", syntax=":mx DOMAIN [PORT] [--tls] [--list]", handler="smtpshell.shell.mx:cmd_mx",
                    options=("--tls", "--list"),
                    example=':mx example.com --list  |  :mx example.com 25'),
        CommandSpec(name="xclient", syntax=":xclient NAME=VALUE ...", handler="smtpshell.shell.xclient:cmd_xclient",
                    example=':xclient ADDR=192.0.2.7 NAME=client.example HELO=client.example'),
        CommandSpec(name="reconnect", syntax=":reconnect", handler=cmd_reconnect,
                    example=':reconnect'),
        CommandSpec(name="close", syntax=":close", handler=cmd_close,
                    example=':close'),
        CommandSpec(name="quit", syntax=":quit", handler=cmd_quit,
                    example=':quit   (Ctrl-D at an empty prompt does the same)'),
    ]
    return {spec.name: spec for spec in specs}
