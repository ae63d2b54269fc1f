"""``:send``: a whole transaction in one step, and ``smtpshell HOST --send ...`` for one-shot use.

Rules
-----
- Each step goes out as if typed and its reply is shown: EHLO (when the session has not
  greeted), MAIL FROM, RCPT TO for every recipient, then DATA and the message (or BDAT
  chunks with ``--bdat`` when the server offers CHUNKING), and the final reply.
- Each reply is checked. A refusal before the message is complete stops the transaction
  with RSET, and says so; the refusal stays the "last reply" that ``:expect`` checks, and
  in a script an unchecked refusal gives the refused exit status.
- Parameters go on MAIL and RCPT as asked (``BODY=8BITMIME``, ``SMTPUTF8``, ``RET=``,
  ``ENVID=``, ``NOTIFY=``); one the server did not advertise is warned about and sent
  anyway. ``SIZE=`` is added when the server offers SIZE.
- The message is composed with the standard library's ``email`` package (the pure part is
  :func:`smtpshell.protocol.message.build_message`), with Date and Message-ID unless
  ``--header`` gives them; ``--file`` sends an existing message as it is.
- The options are one table, shared by ``:send`` and the command line's ``--send``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from smtpshell.protocol.replies import Reply
    from smtpshell.shell.core import Shell

USAGE = ":send --from A --to B [--to C] [--cc D] [--subject S] [--body TEXT | --file PATH] [...]"
DEFAULT_BODY = "This is a test message sent with smtpshell.\n"

# (option, dest, kind, metavar, help): kind is "value", "append" (repeatable) or "flag".
OPTIONS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("--from", "sender", "value", "ADDRESS", "envelope sender (MAIL FROM) and From: header"),
    ("--to", "to", "append", "ADDRESS", "recipient (RCPT TO) and To: header; repeatable"),
    ("--cc", "cc", "append", "ADDRESS", "recipient and Cc: header; repeatable"),
    ("--subject", "subject", "value", "TEXT", "the Subject: header"),
    ("--body", "body", "value", "TEXT", "the body; \\n starts a new line (the escapes of :raw)"),
    ("--file", "file", "value", "PATH", "send this message file as it is (CRLF-normalised, dot-stuffed) "
     "instead of composing one"),
    ("--attach", "attach", "append", "PATH", "attach a file (MIME); repeatable"),
    ("--header", "header", "append", "'NAME: VALUE'", "add a header (replaces a composed one of that "
     "name); repeatable"),
    ("--notify", "notify", "value", "WHEN", "DSN: NOTIFY= on each RCPT (NEVER, or SUCCESS,FAILURE,DELAY)"),
    ("--ret", "ret", "value", "FULL|HDRS", "DSN: RET= on MAIL (what a bounce returns)"),
    ("--envid", "envid", "value", "ID", "DSN: ENVID= on MAIL (xtext-encoded)"),
    ("--smtputf8", "smtputf8", "flag", None, "SMTPUTF8 on MAIL: UTF-8 addresses and headers"),
    ("--8bit", "eight_bit", "flag", None, "BODY=8BITMIME on MAIL: the body as 8-bit text"),
    ("--bdat", "bdat", "flag", None, "send the message with BDAT when the server offers CHUNKING"),
    ("--chunk-size", "chunk_size", "value", "BYTES", "with --bdat: chunks of this size (64k, 1M)"),
)
COMPOSING = ("subject", "body", "attach", "header")  # what --file does not go with


class SendUsage(ValueError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # never exit: the shell goes on
        raise SendUsage(message)


def add_send_options(container, *, prefix: str = "") -> None:
    """The :send options on a parser or argument group (``prefix`` for the command line's dests)."""
    for option, dest, kind, metavar, text in OPTIONS:
        if kind == "flag":
            container.add_argument(option, dest=prefix + dest, action="store_true", help=text)
        else:
            container.add_argument(option, dest=prefix + dest, metavar=metavar, help=text,
                                   action="append" if kind == "append" else "store")


def option_words(namespace: argparse.Namespace, *, prefix: str = "") -> list[str]:
    """The options found in ``namespace`` back as words (the command line's --send -> :send)."""
    words: list[str] = []
    for option, dest, kind, _, _ in OPTIONS:
        value = getattr(namespace, prefix + dest, None)
        if kind == "flag":
            words += [option] if value else []
        elif kind == "append":
            for item in value or ():
                words += [option, item]
        elif value is not None:
            words += [option, value]
    return words


def split_words(arg: str) -> list[str]:
    """Shell-like words, quotes honoured, backslashes kept (they are :send's own escapes)."""
    lexer = shlex.shlex(arg, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    return list(lexer)


@dataclass(frozen=True, kw_only=True)
class SendRequest:
    sender: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str | None = None
    body: str | None = None
    file: str | None = None
    attach: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    notify: str | None = None
    ret: str | None = None
    envid: str | None = None
    smtputf8: bool = False
    eight_bit: bool = False
    bdat: bool = False
    chunk_size: int | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc


def parse_send(arg: str | list[str]) -> SendRequest:
    """:send's argument (or words) -> SendRequest; SendUsage says what is wrong."""
    from smtpshell.shell.bdat import BdatUsage, parse_size

    parser = _Parser(prog=":send", add_help=False, allow_abbrev=False)
    add_send_options(parser)
    try:
        words = split_words(arg) if isinstance(arg, str) else arg
    except ValueError as exc:
        raise SendUsage(str(exc)) from None
    ns = parser.parse_args(words)
    if not ns.sender:
        raise SendUsage("--from ADDRESS is needed")
    if not (ns.to or ns.cc):
        raise SendUsage("at least one --to (or --cc) is needed")
    if ns.file is not None:
        given = [f"--{name}" for name in COMPOSING if getattr(ns, name)]
        if given:
            raise SendUsage(f"--file sends the file as it is; {', '.join(given)} compose a message "
                            "and do not go with it")
    if ns.chunk_size is not None and not ns.bdat:
        raise SendUsage("--chunk-size goes with --bdat")
    try:
        chunk_size = parse_size(ns.chunk_size) if ns.chunk_size is not None else None
    except BdatUsage as exc:
        raise SendUsage(str(exc)) from None
    return SendRequest(
        sender=ns.sender, to=tuple(ns.to or ()), cc=tuple(ns.cc or ()), subject=ns.subject,
        body=ns.body, file=ns.file, attach=tuple(ns.attach or ()), header=tuple(ns.header or ()),
        notify=ns.notify, ret=ns.ret, envid=ns.envid, smtputf8=ns.smtputf8, eight_bit=ns.eight_bit,
        bdat=ns.bdat, chunk_size=chunk_size,
    )


def send_commands(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """The command line's ``--send ...`` as the one script line it stands for (or nothing)."""
    words = option_words(args, prefix="send_")
    if not getattr(args, "send", False):
        if words:
            parser.error(f"{words[0]} goes with --send (smtpshell HOST --send --from A --to B ...)")
        return ()
    if args.commands or args.script_file:
        parser.error("--send is a whole session by itself: it does not go with -c or -f")
    try:
        request = parse_send(words)
    except SendUsage as exc:
        parser.error(f"--send: {exc}")
    for option, path in [("--file", request.file)] * bool(request.file) + [("--attach", a) for a in request.attach]:
        if not os.path.isfile(os.path.expanduser(path)) or not os.access(os.path.expanduser(path), os.R_OK):
            why = "no such file" if not os.path.exists(os.path.expanduser(path)) else "not a readable file"
            parser.error(f"--send {option} {path}: {why}")  # said before connecting, not after
    return (":send " + shlex.join(words),)


# ----- the transaction ---------------------------------------------------------


@dataclass
class _Content:
    """The message to send: a file handle (or bytes in one) and its size."""

    handle: object
    size: int
    name: str
    is_file: bool


async def cmd_send(shell: "Shell", arg: str) -> None:
    """Send a whole message: EHLO if needed, MAIL, RCPT…, DATA (or BDAT), each step shown.

    :send --from A --to B [--to C] [--cc D] [--subject S] [--body TEXT | --file PATH]
          [--attach PATH]... [--header "Name: value"]... [--notify SUCCESS,FAILURE]
          [--ret FULL|HDRS] [--envid ID] [--smtputf8] [--8bit] [--bdat [--chunk-size N]]
    Composes the message with Date and Message-ID (MIME when --attach is given);
    --file sends an existing message as it is. SIZE= is added when the server
    offers SIZE; a parameter it did not advertise is warned about and sent.
    A refusal stops the transaction with RSET. --body takes \\n for new lines.
    """
    try:
        request = parse_send(arg)
    except SendUsage as exc:
        shell.usage_error(f"{exc}; usage: {USAGE}")
        return
    if not shell.require_connection():
        return
    content = _prepare(shell, request)
    if content is None:
        return
    shell.sending = True
    try:
        with content.handle:
            await _transaction(shell, request, content)
    finally:
        shell.sending = False


def _prepare(shell: "Shell", request: SendRequest) -> _Content | None:
    """Open the file, or compose the message; None after saying why not."""
    import io

    from smtpshell.protocol.message import MessageError, header_names
    from smtpshell.shell.transfer import open_content

    if request.file is not None:
        opened = open_content(shell, request.file)
        if opened is None:
            return None
        handle, size = opened
        present = header_names(handle.read(64 * 1024))
        missing = [name for name in ("Date", "Message-ID") if name.lower() not in present]
        handle.seek(0)
        if missing:
            shell.warn(f"{request.file} has no {' and no '.join(n + ':' for n in missing)} header; it is sent "
                       "as it is (the server may add one)")
        return _Content(handle=handle, size=size, name=os.path.basename(request.file), is_file=True)
    try:
        message = compose(shell, request)
    except (MessageError, OSError, ValueError) as exc:
        text = f"cannot read {exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
        shell.usage_error(text)
        return None
    return _Content(handle=io.BytesIO(message), size=len(message), name="the message", is_file=False)


def compose(shell: "Shell", request: SendRequest) -> bytes:
    """The message as ``email`` composes it from the request (reads --attach files)."""
    import datetime
    import email.utils
    import mimetypes

    from smtpshell.protocol.message import Attachment, build_message, parse_header
    from smtpshell.shell.commands import unescape

    attachments = []
    for path in request.attach:
        path = os.path.expanduser(path)
        with open(path, "rb") as handle:
            data = handle.read()
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        attachments.append(Attachment(filename=os.path.basename(path), content_type=kind, data=data))
    body = DEFAULT_BODY if request.body is None else unescape(request.body).decode("utf-8")
    domain = request.sender.rpartition("@")[2] or shell.hello_name()
    return build_message(
        sender=request.sender, to=request.to, cc=request.cc,
        subject="smtpshell test" if request.subject is None else request.subject,
        body=body, headers=tuple(parse_header(h) for h in request.header),
        attachments=tuple(attachments),
        date=email.utils.format_datetime(datetime.datetime.now().astimezone()),
        message_id=email.utils.make_msgid(domain=domain.encode("idna").decode("ascii")
                                          if not domain.isascii() else domain),
        utf8=request.smtputf8, eight_bit=request.eight_bit,
    )


async def _transaction(shell: "Shell", request: SendRequest, content: _Content) -> None:
    from smtpshell.protocol.message import Envelope, mail_line, rcpt_line
    from smtpshell.shell.transfer import ChunkReader, crlf_size, send_bdat_chunks, send_data_content

    session = shell.session
    if not session.greeted:
        reply = await shell.ehlo()
        if not _ok(reply, 250):
            await _stop(shell, "EHLO", reply, rset=False)
            return
    caps = shell.session.capabilities
    offered = (lambda keyword: keyword in caps) if caps is not None else (lambda keyword: False)
    use_bdat = request.bdat and offered("CHUNKING")
    if request.bdat and not use_bdat:
        shell.warn("the server did not advertise CHUNKING: sending with DATA instead of BDAT")
    size = content.size
    if use_bdat and content.is_file:  # BDAT sizes are exact: the CRLF form of the file
        size, _ = crlf_size(content.handle, end_line=True)
        content.handle.seek(0)
    limit = caps.size_limit if caps is not None else None
    if limit and size > limit:
        shell.warn(f"the message is {size:,} bytes; the server's SIZE limit is {limit:,} (sending anyway)")
    envelope = Envelope(sender=request.sender, recipients=request.recipients, size=size,
                        eight_bit=request.eight_bit, smtputf8=request.smtputf8, ret=request.ret,
                        envid=request.envid, notify=request.notify)
    line, problems = mail_line(envelope, size_offered=offered("SIZE"))
    for problem in problems:
        shell.warn(problem)
    reply = await shell.send_command(line)
    if not _ok(reply, 250):
        await _stop(shell, "MAIL FROM", reply)
        return
    for recipient in request.recipients:
        line, problems = rcpt_line(recipient, notify=request.notify)
        for problem in problems:
            shell.warn(problem)
        reply = await shell.send_command(line)
        if not _ok(reply, 250, 251):
            await _stop(shell, f"RCPT TO:<{recipient}>", reply)
            return
    if use_bdat:
        reader = ChunkReader(content.handle, crlf=content.is_file, end_line=True)
        reply = await send_bdat_chunks(shell, reader.read, size, chunk_size=request.chunk_size,
                                       last=True, name=content.name)
        if reply is not None and reply.code != 250 and shell.connected:
            await _stop(shell, "BDAT", reply, said=True)
            return
    else:
        reply = await shell.send_command("DATA")
        if not _ok(reply, 354):
            await _stop(shell, "DATA", reply)
            return
        reply = await send_data_content(shell, content.handle, size=content.size, name=content.name,
                                        note=content.is_file)
        if reply is not None and reply.code != 250:
            shell.error(f"the message was refused: {reply.code} {reply.text}")
            return
    if reply is not None and reply.code == 250:
        count = len(request.recipients)
        shell.note(f"message accepted for {count} recipient{'s' * (count != 1)} ({size:,} bytes"
                   f"{', BDAT' if use_bdat else ''})")


def _ok(reply: "Reply | None", *codes: int) -> bool:
    return reply is not None and reply.code in codes


async def _stop(shell: "Shell", step: str, reply: "Reply | None", *, rset: bool = True, said: bool = False) -> None:
    """A step was refused (or got no reply): say so, RSET, keep the refusal as the last reply."""
    if reply is None:
        return  # a timeout or a closed connection, already reported
    if not shell.connected:
        shell.error(f"{step} refused: {reply.code} {reply.text}; the connection is closed")
        return
    if rset:
        if not said:
            shell.error(f"{step} refused: {reply.code} {reply.text}; stopping the transaction with RSET")
        else:
            shell.error("stopping the transaction with RSET")
        await shell.send_command("RSET")
    else:
        shell.error(f"{step} refused: {reply.code} {reply.text}; nothing sent")
    shell.last_reply = reply  # what :expect checks: the refusal, not RSET's 250
    if reply.code is not None and reply.code >= 400:
        shell.uncovered_failure = reply
