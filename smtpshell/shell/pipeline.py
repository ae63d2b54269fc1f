"""``:pipeline`` … ``:end``: queue commands and send them in one write (PIPELINING, RFC 2920).

Rules
-----
- Between ``:pipeline`` and ``:end`` every line is queued, not sent, and the prompt is
  ``pipe>``. ``:end`` (or Ctrl-D in the shell) sends the group in one write;
  ``:pipeline cancel`` drops it. Colon commands that do not touch the connection
  (:help, :caps, :explain, :b64, :unb64, :set) still work; any other is refused, since
  it would overtake the queued commands.
- Queueing a command after one that must end a group (EHLO, DATA, AUTH, STARTTLS, QUIT,
  NOOP, …; :mod:`smtpshell.protocol.pipelining`) warns at once; the group still goes out as
  typed. Sending warns first when the server did not advertise PIPELINING.
- Replies are shown as they arrive; the session pairs each with its command in order.
  Then one table: command → reply, with how many reads the replies came in (a server that
  supports pipelining well answers a group at once).
- Scripts with ``--pipeline`` (:func:`auto_groups`): runs of consecutive SMTP command lines
  go out as groups, as swaks ``--pipeline`` sends MAIL, RCPT and DATA together. A group ends
  after a command that must be last, and before a colon command or message content; a run
  of one command is sent as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator

from smtpshell.highlight import tokens as tok
from smtpshell.net import connection as net
from smtpshell.protocol.pipelining import advertised_warning, must_be_last, order_warning
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.protocol.replies import Reply
    from smtpshell.protocol.session import Command
    from smtpshell.shell.core import Shell

# Colon commands that may run while a group is queued: none of them writes to the server.
LOCAL_COMMANDS = frozenset({"help", "caps", "explain", "b64", "unb64", "set"})
COMMAND_COLUMN = 40  # the table's command column is at most this wide


@dataclass
class Group:
    """The commands queued since ``:pipeline``."""

    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Row:
    command: "Command"
    reply: "Reply | None"
    latency: float | None = None
    missing: str = ""  # why there is no reply: "timeout", "closed"


# ----- the colon commands ------------------------------------------------------


async def cmd_pipeline(shell: "Shell", arg: str) -> None:
    """Queue commands and send them together at :end, in one write (PIPELINING).

    :pipeline          start queueing: the prompt becomes pipe>
    :end               send the queued commands in one write (Ctrl-D too)
    :pipeline cancel   drop what is queued
    Replies are paired with commands in order and shown side by side.
    A command that must end a group (EHLO, DATA, AUTH, STARTTLS, QUIT, NOOP,
    VRFY, EXPN; RFC 2920 3.1) is warned about when something follows it, and
    a server that did not advertise PIPELINING gets the group anyway, after a
    warning. In scripts, --pipeline groups MAIL, RCPT and DATA by itself.
    """
    word = arg.strip().lower()
    if word == "cancel":
        shell.error("no :pipeline group to cancel")
        return
    if word:
        shell.error("usage: :pipeline, then the commands, then :end (:pipeline cancel drops them)")
        _fail_script(shell, "bad :pipeline", ExitStatus.USAGE)
        return
    shell.pipeline = Group()
    if shell.interactive and shell.view.hints:
        shell.emit(display.hint_line("queueing: type the commands, one per line; :end sends them in one write, "
                                     ":pipeline cancel drops them"))


async def cmd_end(shell: "Shell", arg: str) -> None:
    """Send the commands queued since :pipeline, in one write (see :help pipeline)."""
    # While a group is open, take_line() handles :end; here there is none.
    shell.error("no :pipeline group is open (:pipeline starts one)")
    _fail_script(shell, ":end without :pipeline", ExitStatus.USAGE)


async def take_line(shell: "Shell", line: str) -> None:
    """One line typed while a group is open: queue it, or run :end / :pipeline cancel."""
    group = shell.pipeline
    stripped = line.strip()
    if stripped.startswith(":"):
        name, _, rest = stripped[1:].partition(" ")
        name = name.lower()
        if name == "end":
            await send_group(shell)
        elif name == "pipeline" and rest.strip().lower() == "cancel":
            shell.pipeline = None
            count = len(group.lines)
            shell.note(f"dropped {count} queued command{'s' * (count != 1)}; nothing was sent")
        elif name == "pipeline":
            shell.note(f"already queueing ({len(group.lines)} so far): :end sends them, :pipeline cancel drops them")
        elif name in LOCAL_COMMANDS and name in shell.commands:
            await shell.commands[name].run(shell, rest.strip())
        else:
            shell.error(f":{name} cannot run while commands are queued (it would overtake them): "
                        ":end sends the group first, :pipeline cancel drops it")
            _fail_script(shell, f":{name} inside :pipeline", ExitStatus.USAGE)
        return
    if not stripped:
        return
    if "\r" in line or "\n" in line:
        shell.error("a command line cannot contain CR or LF; use :raw to send exact bytes (not queued)")
        return
    if group.lines:
        warning = order_warning(group.lines[-1])
        if warning:
            shell.warn(warning)
    group.lines.append(line)


# ----- sending a group ---------------------------------------------------------


class _Latencies:
    """A listener that keeps each reply's latency, for the table."""

    def __init__(self) -> None:
        self.latency: dict[object, float | None] = {}

    def __call__(self, event) -> None:
        if isinstance(event, net.Received) and event.event.command is not None:
            self.latency[event.event.command] = event.latency


async def send_group(shell: "Shell", lines: list[str] | None = None) -> None:
    """Send the open group (or ``lines``) in one write, wait for every reply, show the table."""
    if lines is None:
        lines = shell.pipeline.lines if shell.pipeline is not None else []
        shell.pipeline = None
    if not lines:
        shell.note("nothing was queued; nothing sent")
        return
    count = len(lines)
    if any("\r" in line or "\n" in line for line in lines):
        shell.error("a command line cannot contain CR or LF; use :raw to send exact bytes: the group was NOT sent")
        _fail_script(shell, "CR or LF in a pipelined command", ExitStatus.USAGE)
        return
    if not shell.connected:
        shell.error(f"not connected: the {count} queued command{'s were' if count != 1 else ' was'} NOT sent")
        _fail_script(shell, "not connected", ExitStatus.CONNECTION)
        return
    session = shell.session
    warning = advertised_warning(session.capabilities, session.greeted)
    if warning:
        shell.warn(warning)
    conn = shell.conn
    latencies = _Latencies()
    shell.listeners.append(latencies)
    reads_before = conn.reads
    rows: list[Row] = []
    try:
        try:
            outs = conn.send_lines(lines)
        except net.NotConnected as exc:
            shell.error(f"{exc}: the queued commands were NOT sent")
            _fail_script(shell, "not connected", ExitStatus.CONNECTION)
            return
        size = sum(len(out.data) for out in outs)
        missing = ""
        for out in outs:
            if not missing:
                try:
                    reply = await conn.reply_to(out.command)
                except net.ReplyTimeout:
                    missing = "timeout"
                except net.ConnectionClosed:
                    missing = "closed"
                else:
                    rows.append(Row(command=out.command, reply=reply, latency=latencies.latency.get(out.command)))
                    continue
            rows.append(Row(command=out.command, reply=None, missing=missing))
    finally:
        if latencies in shell.listeners:
            shell.listeners.remove(latencies)
    reads = conn.reads - reads_before
    shell.emit(*group_table(rows, shell.view, size=size, reads=reads, tls=bool(session.tls)))
    if missing == "timeout":
        shell.error(f"no reply within {conn.timeout:g} s to the rest of the group; replies will be shown if they come")
        _fail_script(shell, "pipelined group: reply timeout", ExitStatus.CONNECTION)
    elif missing == "closed":
        _fail_script(shell, "the connection closed during a pipelined group", ExitStatus.CONNECTION)


def group_table(rows: list[Row], view: display.View, *, size: int, reads: int, tls: bool = False) -> list[display.Line]:
    """The group after its replies: one line per command, its reply beside it."""
    answered = sum(row.reply is not None for row in rows)
    head = (f"pipelined {len(rows)} command{'s' * (len(rows) != 1)} in one write ({size} bytes); "
            f"{answered} repl{'ies' if answered != 1 else 'y'}")
    if answered:
        head += f" in {reads} read{'s' * (reads != 1)}"
    out = [display.note_line(head + ":")]
    quiet = display.View(marks=display.Marks.BARE, hints=False, timestamps=False)
    commands = [display.client_line(row.command, quiet, tls=tls) for row in rows]
    widths = [sum(len(text) for _, text in line) for line in commands]
    column = min(max(widths), COMMAND_COLUMN)
    for row, command, width in zip(rows, commands, widths):
        frags: display.Line = [(tok.NOTE, "    "), *command, (tok.PLAIN, " " * max(0, column - width)),
                               (tok.NOTE, " → ")]
        reply = row.reply
        if reply is None:
            why = {"timeout": "no reply (timeout)", "closed": "no reply (connection closed)"}.get(row.missing, "no reply")
            frags.append((tok.ERROR, why))
        else:
            first = reply.lines[0] if reply.lines else None
            if reply.code is not None:
                frags.append((tok.code_token(reply.code), str(reply.code)))
            if first is not None:
                frags.append((tok.reply_text_token(reply.code), " "))
                frags.extend(display.visible(first.text, tok.reply_text_token(reply.code)))
            if len(reply.lines) > 1:
                frags.append((tok.HINT, f"  (+{len(reply.lines) - 1} lines)"))
            if view.timestamps and row.latency is not None:
                frags.append((tok.TIME, f"  ({row.latency * 1000:.1f} ms)"))
        out.append(frags)
    return out


# ----- --pipeline: groups made from script lines -----------------------------


def _queueable(shell: "Shell", line: str) -> bool:
    """An SMTP command line that --pipeline may hold back for a group."""
    return (shell.pipeline is None and not shell.in_data and not shell.awaiting_sasl
            and bool(line.strip()) and not line.strip().startswith(":"))


async def auto_groups(shell: "Shell", lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Script lines for ``--pipeline``: runs of SMTP commands are sent here as groups; every
    other line (and a run of one command) is passed on, to be handled as usual."""
    held: list[str] = []
    async for line in lines:
        queueable = _queueable(shell, line)
        if queueable:
            held.append(line)
            if must_be_last(line) is None:
                continue  # the group may go on
        async for passed in _release(shell, held):
            yield passed
        if not queueable:
            yield line
    async for passed in _release(shell, held):
        yield passed


async def _release(shell: "Shell", held: list[str]) -> AsyncIterator[str]:
    """Send what is held as a group, or pass a lone command on; empties ``held``."""
    group = held[:]
    held.clear()
    if len(group) == 1:
        yield group[0]
    elif group:
        await send_group(shell, group)


def _fail_script(shell: "Shell", message: str, status: ExitStatus) -> None:
    from smtpshell.shell.core import raise_if_script

    raise_if_script(shell, message, status)
