"""The application core: owns the connection, dispatches what the user types.

No prompt_toolkit here: the REPL and the script runner both drive a
:class:`Shell` through :meth:`Shell.handle` and show what it emits.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from smtpshell.net import connection as net
from smtpshell.net.tls import TLSOptions
from smtpshell.protocol.replies import Reply
from smtpshell.protocol.session import Command, LocalProtocolError, Phase
from smtpshell.settings import ExitStatus, Settings
from smtpshell.transcript import display
from smtpshell.transcript.display import Line, Marks, View
from smtpshell.shell.followup import followup_lines


class Output(Protocol):
    def emit(self, lines: list[Line]) -> None: ...


class ScriptError(Exception):
    """A script cannot go on; ``status`` is the exit status to use."""

    def __init__(self, message: str, status: ExitStatus) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Target:
    host: str  # a host name or address; with ``unix``, a socket path
    port: int
    implicit_tls: bool = False
    unix: bool = False  # host is the path of a UNIX domain socket (--socket)
    server_name: str | None = None  # the name TLS verifies when host is an address (an MX host)
    mx: str | None = None  # resolve this domain's MX hosts and connect to the first that answers


QUIT_WAIT = 5.0  # seconds to wait for 221 when leaving (more than the practice tarpit's 2 s)
CLOSE_WAIT = 1.0  # seconds to wait for the socket to be really gone (TLS close_notify)


def _bdat_size(line: str) -> int | None:
    """The chunk size of a typed ``BDAT n [LAST]`` line, or None."""
    words = line.split()
    if len(words) in (2, 3) and words[0].upper() == "BDAT" and words[1].isdigit() \
            and (len(words) == 2 or words[2].upper() == "LAST"):
        return int(words[1])
    return None


class Shell:
    """One interactive or scripted session."""

    def __init__(self, settings: Settings, output: Output, *, interactive: bool) -> None:
        self.settings = settings
        self.output = output
        self.interactive = interactive
        self.view = View(
            marks=Marks(settings.marks),
            hints=settings.hints,
            timestamps=settings.timestamps,
            echo_client=not interactive,
        )
        self.style_name = settings.style
        self.conn: net.Connection | None = None
        self.target: Target | None = None
        self.last_latency: float | None = None
        self.last_reply: Reply | None = None
        self.expect_failed = False
        self.uncovered_failure: Reply | None = None  # a 4xx/5xx no :expect looked at
        self.refused_data: Reply | None = None  # a script's DATA answered without 354 (its message is not sent)
        self.quitting = False
        self.connection_failed = False
        self.lost_connection = False  # closed by the server when nobody asked
        self._data: bytearray = bytearray()  # message content not yet written
        self._typed_starttls = False
        self._typing = False  # the line being sent is on screen already (the REPL's prompt)
        self.listeners: list[Callable[[net.NetEvent], None]] = []  # e.g. a recorder
        from smtpshell.shell.recording import SessionLog

        self.started = time.time()
        self.session_log = SessionLog(show_secrets=settings.show_secrets)  # what :save writes
        self.listeners.append(self.session_log)
        self.recorder = None  # the Recorder of --record / :record, while one runs
        self.bdat_owed = 0  # bytes of a typed BDAT's chunk still to send (typed lines go as its content)
        self._bdat_command: Command | None = None
        self.addresses: list[str] = []  # of the MAIL FROM / RCPT TO lines sent, most recent first (Tab)
        self._quit_answered = False
        self._closed_noted = False  # this connection's close was shown
        self.cancel_explained = False  # Ctrl-C's effect was already said (by the work it cut short)
        self.raw_in_data = False  # :raw bytes went into this message (a reply may then end it)
        self.data_tail = b"\r\n"  # the last bytes of the message so far (where a raw CRLF.CRLF starts)
        self._record_option_used = False
        # Asks for a password or token unseen (the REPL sets it); scripts never prompt.
        self.ask_secret: Callable[[str], Awaitable[str | None]] | None = None
        self.ask_confirm: Callable[[str], Awaitable[bool]] | None = None  # a y/N question (the REPL sets it)
        self.pipeline = None  # the commands queued since :pipeline (shell/pipeline.py Group)
        self.sasl_driving = False  # :auth is answering the 334s itself
        self.sending = False  # :send is writing the message itself (no "type the message" hint)
        # progress(label, total) -> context manager yielding update(done): the REPL's progress
        # bar for large content (shell/transfer.py uses it); None in scripts.
        self.progress: Callable[[str, int], object] | None = None
        self.explain_auth = False  # :set explain-auth on: the steps of CRAM-MD5 and SCRAM
        from smtpshell.shell.commands import build_registry

        self.commands = build_registry()

    # ----- output --------------------------------------------------------

    def emit(self, *lines: Line) -> None:
        self.output.emit(list(lines))

    def note(self, text: str) -> None:
        self.emit(display.note_line(text))

    def error(self, text: str) -> None:
        self.emit(display.error_line(text))

    def usage_error(self, text: str) -> None:
        """A colon command used wrongly: said; a script stops there with exit 2 (usage)."""
        self.error(text)
        raise_if_script(self, text, ExitStatus.USAGE)

    def warn(self, text: str) -> None:
        self.emit(display.warning_line(text))

    # ----- state for the prompt and toolbar --------------------------------

    @property
    def session(self):
        return self.conn.session if self.conn else None

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.closed

    @property
    def in_data(self) -> bool:
        return self.connected and self.session.phase is Phase.DATA

    @property
    def awaiting_sasl(self) -> bool:
        return self.connected and self.session.awaiting_sasl

    def prompt_name(self) -> str:
        if self.pipeline is not None:
            return "pipe"
        if self.in_data:
            return "data"
        if self.awaiting_sasl:
            return "auth"
        if self.bdat_owed:
            return "chunk"
        return "smtp"

    # ----- connection events -> screen -------------------------------------

    def _observe(self, event: net.NetEvent) -> None:
        handler = _EVENT_VIEWS.get(type(event))
        if handler is not None:
            handler(self, event)
        for listener in self.listeners:
            listener(event)

    def _on_connected(self, ev: net.Connected) -> None:
        where = net.format_hostport(ev.host, ev.port)
        peer = f" ({ev.peer})" if ev.peer != where else ""
        self.note(f"connected to {where}{peer}")
        if ev.preamble:
            from smtpshell.protocol.proxy import describe

            self.note(describe(ev.preamble))
        if ev.tls is not None:
            self.emit(*display.tls_lines(ev.tls, implicit=True))

    def _on_sent(self, ev: net.Sent) -> None:
        for text in ev.outgoing.warnings:
            self.warn(text)
        command = ev.outgoing.command
        if command is not None and command.verb in ("MAIL", "RCPT"):
            from smtpshell.shell.complete import remember_address

            remember_address(self.addresses, command.line)
        if (self.view.echo_client or not self._typing) and command is not None:
            self.emit(display.client_line(command, self.view, tls=self._tls, t=self._t(ev.t)))
        if command is None or self.sasl_driving or not self.view.hints:
            return  # :auth shows its own answers
        hint = None
        if command.verb == "SASL":  # a base64 answer to a 334, typed by hand
            from smtpshell.shell.auth import typed_response_hint

            hint = typed_response_hint(self.session, command.line)
        elif command.verb == "AUTH" and len(words := command.line.split()) > 2:
            from smtpshell.protocol.auth import describe_response

            hint = describe_response(words[1], words[2], 0)  # an initial response typed by hand
        if hint:
            self.emit(display.hint_line(f"decoded: {hint}"))

    def _on_sent_data(self, ev: net.SentData) -> None:
        if self.view.echo_client and ev.lines:
            self.emit(*(display.message_line(line, self.view, tls=self._tls) for line in ev.lines))

    def _on_received(self, ev: net.Received) -> None:
        reply, command = ev.event.reply, ev.event.command
        if command is not None and command.verb == "QUIT":
            self._quit_answered = True  # a QUIT typed or scripted: the shell must not send another
        if ev.latency is not None:
            self.last_latency = ev.latency
        self.last_reply = reply
        if command is None and reply.code is not None and self.in_data and self.raw_in_data:
            # After :raw bytes inside DATA: the server took them as the end of the message.
            self.session.data_ended_by_server()
            self._data.clear()
            self.note("the server answered inside DATA: it took the raw bytes as the end of the message "
                      "(the lines typed next are commands):")
        elif command is None and reply.code is not None:
            self.note("unsolicited reply (no command was waiting for one):")
        self.emit(*display.reply_lines(
            reply, self.view, command=command, tls=self._tls, t=self._t(ev.t), latency=ev.latency,
            shell_answers=self.sasl_driving,
        ))
        self.emit(*followup_lines(ev.event, self.view))  # LMTP's recipient, XCLIENT's new session
        if command is not None and command.verb == "DATA" and reply.code == 354:
            self.raw_in_data, self.data_tail = False, b"\r\n"  # the message starts at a line start
            hint = "type the message; a line with only . ends it (Ctrl-D too); :file PATH sends a file"
            if self.view.hints and self.interactive and not self.sending:
                self.emit(display.hint_line(hint))
        if (command is not None and command.verb == "DATA" and reply.code != 354 and not self.interactive
                and not self.sending):
            self.refused_data = reply  # the script's next lines are a message that must not become commands
        if reply.code is not None and reply.code >= 400 and (command is None or command.verb != "QUIT"):
            self.uncovered_failure = reply

    def _on_tls(self, ev: net.TLSStarted) -> None:
        self.emit(*display.tls_lines(ev.info))
        if self._typed_starttls and self.view.hints:
            self.emit(display.hint_line("the server forgets everything said before TLS: send EHLO again"))

    def _on_net_error(self, ev: net.NetError) -> None:
        self.error(ev.text)

    def _on_closed(self, ev: net.Closed) -> None:
        self._data.clear()
        self._closed_noted = True
        if ev.expected or self.quitting:
            self.note("connection closed")
            if self.interactive and not self.quitting:
                self.emit(display.hint_line(":reconnect to connect again, :quit or Ctrl-D to leave"))
            return
        self.lost_connection = True
        lost_message = self._lost_message(ev)
        if ev.explained:
            self.note(f"connection closed ({ev.reason})")
        elif lost_message:
            self.error(lost_message)
        elif not ev.mid_reply and self.session is not None and self.session.greeting in self.session.pending:
            whose = "its" if ev.reason == "the server closed the connection" else "the server's"
            self.error(f"{ev.reason} before {whose} greeting (no 220 came)")
        elif ev.mid_reply:
            self.error("the server closed the connection in the middle of a reply")
        else:
            self.error(ev.reason)
        if self.interactive:
            self.emit(display.hint_line(":reconnect to connect again, :quit or Ctrl-D to leave"))

    def _lost_message(self, ev: net.Closed) -> str | None:
        """What a close during DATA means for the message (never that it was sent), or None."""
        session = self.session
        if session is None:
            return None
        by_server = ev.reason == "the server closed the connection"
        if any(command.verb == "." for command in session.pending):  # the dot went, no reply came
            if by_server:
                return "message not accepted: the server closed the connection before replying to the final dot"
            return f"message not accepted: {ev.reason}, before the server replied to the final dot"
        last = session.last_reply
        if last is not None and last.code == 354 and not ev.mid_reply:  # still in DATA
            where = "the server closed the connection" if by_server else ev.reason
            return f"message not accepted: {where} during DATA, before the final dot"
        return None

    @property
    def _tls(self) -> bool:
        return bool(self.conn and self.conn.session.tls)

    def _t(self, t: float) -> float | None:
        return t if self.view.timestamps else None

    # ----- connecting -----------------------------------------------------

    def tls_options(self, *, server_name: str | None = None) -> TLSOptions:
        s = self.settings
        return TLSOptions(
            insecure=s.insecure, cafile=s.cafile, certfile=s.certfile,
            keyfile=s.keyfile, sni=s.sni or server_name, min_version=s.tls_min,
        )

    async def connect(self, target: Target) -> bool:
        """Connect and wait for the greeting. False (after saying why) on failure."""
        if target.mx is not None:
            from smtpshell.shell.mx import connect_mx

            return await connect_mx(self, target.mx, target.port, implicit_tls=target.implicit_tls)
        await self.close_quietly()
        self.bdat_owed, self._bdat_command = 0, None
        self.target = target
        self.connection_failed = False
        self._quit_answered = False
        self._closed_noted = False
        if self.settings.record and not self._record_option_used:
            from smtpshell.shell import recording

            self._record_option_used = True  # --record starts once, with the first connection
            if not recording.start(self, self.settings.record):
                raise_if_script(self, f"cannot record to {self.settings.record}", ExitStatus.USAGE)
        conn = net.Connection(
            observer=self._observe,
            timeout=self.settings.timeout,
            tls_options=self.tls_options(server_name=target.server_name),
            lmtp=self.settings.lmtp,
        )
        where = net.format_hostport(target.host, target.port)
        self.note(f"connecting to {where}{' (implicit TLS)' if target.implicit_tls else ''} …")
        self.conn = conn  # already during open(): a close that comes with the connection is this one's
        try:
            await conn.open(target.host, target.port, implicit_tls=target.implicit_tls, family=self.settings.family,
                            unix=target.unix, preamble=self._proxy_header())
        except net.ConnectError as exc:
            self.conn = None
            self.error(str(exc))
            self.connection_failed = True
            return False
        try:
            await conn.reply_to(conn.session.greeting)
        except net.ReplyTimeout:
            self.error(f"no greeting from the server within {self.settings.timeout:g} s (it is silent; still waiting)")
            return True
        except net.ConnectionClosed:
            self.connection_failed = True
            return False
        if self.settings.starttls and not await self.starttls(after_option=True):
            return False
        if self.settings.user or self.settings.auth_mechanism:
            from smtpshell.shell.auth import run_auth

            await run_auth(self, "")
        return True

    def _proxy_header(self) -> bytes:
        """The PROXY protocol header of --proxy (checked by the CLI), or nothing."""
        if self.settings.proxy is None:
            return b""
        from smtpshell.protocol.proxy import header_for

        return header_for(*self.settings.proxy, version=self.settings.proxy_version)

    def show_unfinished(self, what: str) -> None:
        """Say what the server sent that is not a whole reply yet (a line with no CRLF, say):
        nothing it sent goes unseen."""
        data = self.conn.session.unfinished() if self.conn is not None else b""
        if data:
            ending = "no line ending" if not data.endswith(b"\n") else "not the last line of a reply"
            self.note(f"{what} {len(data)} byte{'s' * (len(data) != 1)} with {ending} yet: {data[:200]!r}"
                      + (" …" if len(data) > 200 else ""))

    async def close_quietly(self) -> None:
        if self.conn is not None:
            if not self.conn.closed:
                self.show_unfinished("closing: the server had sent")
            conn = self.conn
            await conn.close()
            self.conn = None
            await conn.wait_closed(CLOSE_WAIT)

    async def quit(self, *, wait: float = QUIT_WAIT) -> None:
        """Send QUIT (if connected), wait briefly for 221, close."""
        self.quitting = True
        was_open = self.connected
        if self.connected and not self.in_data and not self._quit_answered:
            try:
                out = self.conn.send_line("QUIT")
                await self.conn.reply_to(out.command, timeout=min(wait, self.settings.timeout))  # never past --timeout
            except (net.ReplyTimeout, net.ConnectionClosed, net.NotConnected):
                pass
        await self.close_quietly()
        if was_open and not self._closed_noted:  # we closed first: say so, as when the server does
            self._closed_noted = True
            self.note("connection closed")

    def hello_name(self) -> str:
        return self.settings.ehlo or socket.gethostname() or "localhost"

    @property
    def hello_verb(self) -> str:
        return "LHLO" if self.settings.lmtp else "EHLO"

    async def ehlo(self, name: str | None = None) -> Reply | None:
        return await self.send_command(f"{self.hello_verb} {name or self.hello_name()}")

    async def starttls(self, *, after_option: bool = False) -> bool:
        """EHLO if needed, STARTTLS, then EHLO again (what :starttls and --starttls do)."""
        if not self.connected:
            self.error("not connected")
            return False
        if self.session.tls:
            self.error("TLS is already active")
            return False
        if not self.session.greeted:
            reply = await self.ehlo()
            if reply is None or reply.code != 250:
                return False
        caps = self.session.capabilities
        if caps is not None and "STARTTLS" not in caps:
            self.error(f"STARTTLS refused: the server did not offer STARTTLS in its {self.hello_verb} reply")
            if after_option:
                self.connection_failed = True
            return False
        reply = await self.send_command("STARTTLS")
        if reply is None or reply.code != 220 or not self._tls:
            if reply is not None and reply.code != 220:
                self.error(f"STARTTLS refused: {reply.code} {reply.text}")
            self.connection_failed = True if after_option else self.connection_failed
            return False
        reply = await self.ehlo()
        return reply is not None

    # ----- what the user types --------------------------------------------

    async def handle(self, line: str) -> None:
        """One typed line: a colon command, message content, or an SMTP command."""
        if self.pipeline is not None:  # queued until :end (shell/pipeline.py)
            from smtpshell.shell.pipeline import take_line

            await take_line(self, line)
            return
        if self.in_data and ("\n" in line or "\r" in line):
            # Text pasted at data>: each of its lines is a line of the message, CRLF-ended and
            # dot-stuffed as if typed one by one (a lone "." in it ends the message there).
            pieces = re.split(r"\r\n|\r|\n", line)
            if pieces[-1] == "":
                pieces.pop()  # the paste's own last line ending, not an empty line after it
            for piece in pieces:
                await self.handle(piece)
            return
        if self.in_data:
            name = line[1:].split(" ", 1)[0] if line.startswith(":") else ""
            spec = self.commands.get(name)
            if spec is not None and spec.in_data:
                await spec.run(self, line[len(name) + 1:].strip())
                return
            await self.data_line(line)
            return
        stripped = line.strip()
        if stripped.startswith(":") and not self.awaiting_sasl:
            name, _, arg = stripped[1:].partition(" ")
            spec = self.commands.get(name.lower())
            if spec is None:
                self.usage_error(f"unknown command :{name} (:help lists them)")
                return
            await spec.run(self, arg.strip())
            return
        if self.bdat_owed and self.connected:
            await self.bdat_content(line.encode("utf-8", "surrogateescape") + b"\r\n")
            return
        if not line and not self.awaiting_sasl:
            return
        await self.send_command(line, typed=True)

    def require_connection(self) -> bool:
        """True when connected; otherwise say how to connect (a script stops: connection status)."""
        if self.connected:
            return True
        self.error("not connected: :reconnect, or :connect HOST [PORT]")
        raise_if_script(self, "not connected", ExitStatus.CONNECTION)
        return False

    async def send_command(self, line: str, *, typed: bool = False) -> Reply | None:
        """Send one SMTP line as typed and wait for its reply (None if none came)."""
        if not self.require_connection():
            return None
        self._typed_starttls = typed and line.strip().upper() == "STARTTLS"
        self._typing = typed
        try:
            out = self.conn.send_line(line)
        except LocalProtocolError as exc:
            self.error(str(exc))
            return None
        finally:
            self._typing = False
        chunk = _bdat_size(line) if typed else None
        if chunk:
            # The server answers only after the chunk's bytes: waiting here would wait for nothing.
            self.bdat_owed, self._bdat_command = chunk, out.command
            self.note(f"the server now reads {chunk} bytes as message content, then answers: type the content "
                      f"(each line counts with its CRLF) or :raw TEXT for exact bytes; :bdat TEXT counts for you")
            return None
        return await self.wait_reply(out.command)

    async def bdat_content(self, data: bytes) -> None:
        """Bytes of a typed BDAT's chunk, as they are; its reply is awaited once the chunk is complete."""
        owed = self.bdat_owed
        await self.conn.send_raw(data)
        self.bdat_owed = max(0, owed - len(data))
        if self.view.echo_client:
            self.emit(display.data_line(data.rstrip(b"\r\n"), self.view, tls=self._tls))
        if len(data) > owed:
            extra = len(data) - owed
            self.warn(f"{extra} byte{'s' * (extra != 1)} past the end of the {owed}-byte chunk still owed: "
                      "the server reads them as the next command")
        elif self.bdat_owed:
            self.note(f"{self.bdat_owed} more bytes of the chunk to send")
        if not self.bdat_owed:
            command, self._bdat_command = self._bdat_command, None
            await self.wait_reply(command)

    async def wait_reply(self, command: Command | None) -> Reply | None:
        try:
            return await self.conn.reply_to(command)
        except net.ReplyTimeout as exc:
            self.error(f"{exc} to {command.display_line or command.verb}; the reply will be shown if it comes")
            self.show_unfinished("so far the server sent")
            raise_if_script(self, str(exc), ExitStatus.CONNECTION)
        except net.ConnectionClosed:
            raise_if_script(self, "the connection closed", ExitStatus.CONNECTION)
        return None

    # ----- DATA -----------------------------------------------------------

    async def data_line(self, line: str) -> None:
        """One line of message content; a lone '.' ends the message."""
        if line == ".":
            await self.end_data(typed=True)
            return
        raw = line.encode("utf-8", "surrogateescape")
        for warning in self.session.data_line_warnings(raw):
            self.warn(warning)
        self._data += self.session.send_data_line(raw)
        self.data_tail = b"\r\n"
        if self.view.echo_client:
            self.emit(display.message_line(raw, self.view, tls=self._tls))
        if len(self._data) >= 1 << 16:
            await self._flush_data()

    async def _flush_data(self) -> None:
        if self._data:
            data = bytes(self._data)
            self._data.clear()
            try:
                await self.conn.write_data(data)
            except net.NotConnected:
                pass

    async def end_data(self, *, typed: bool = False, content: bytes = b"", terminated: bool = False) -> Reply | None:
        """Send what is buffered (then ``content``, already stuffed) and the lone dot in one write;
        wait for the reply."""
        if not self.connected:
            self.error("not connected: the message was not sent")
            return None
        content = bytes(self._data) + content
        self._data.clear()
        self._typing = typed
        try:
            out = self.conn.end_data(content, terminated=terminated)
        except net.NotConnected:
            self.error("the connection closed: the message was not accepted")
            raise_if_script(self, "connection closed during DATA", ExitStatus.CONNECTION)
            return None
        finally:
            self._typing = False
        # A close before the reply is reported by _on_closed ("message not accepted: ...").
        reply = await self.wait_reply(out.command)
        if reply is not None and not reply.complete:
            self.error("message not confirmed: the server closed the connection in the middle of its reply to "
                       "the final dot (it may or may not have been accepted)")
        return reply

    async def send_file(self, path: str) -> Reply | None:
        """Stream a message file into DATA (CRLF-normalised, dot-stuffed), then end it."""
        from smtpshell.shell.transfer import send_file_in_data

        await self._flush_data()
        return await send_file_in_data(self, path)

    # ----- scripts --------------------------------------------------------

    def expect(self, spec: str) -> bool:
        """``:expect 250 | 25x | 2xx``: does the last reply match?"""
        reply = self.last_reply
        pattern = spec.strip().lower()
        ok = (
            reply is not None
            and reply.code is not None
            and len(pattern) == 3
            and all(p == "x" or p == c for p, c in zip(pattern, str(reply.code)))
        )
        if reply is not None and self.uncovered_failure is reply:
            self.uncovered_failure = None  # looked at: the script expected it (or failed on it)
        return ok


def raise_if_script(shell: Shell, message: str, status: ExitStatus) -> None:
    if not shell.interactive:
        raise ScriptError(message, status)


_EVENT_VIEWS: dict[type, Callable[[Shell, object], None]] = {
    net.Connected: Shell._on_connected,
    net.Sent: Shell._on_sent,
    net.SentData: Shell._on_sent_data,
    net.Received: Shell._on_received,
    net.TLSStarted: Shell._on_tls,
    net.NetError: Shell._on_net_error,
    net.Closed: Shell._on_closed,
}
