"""Running a live replay: the session, over the network.

``LiveReplay(plan, target, options).run()`` -- the session, over the network
---------------------------------------------------------------------------
- Each step waits for its reply before the next goes (except pipelined runs).
  A recording that says LHLO is replayed as LMTP: the replies per recipient to
  the ``.`` pair as the net layer's LMTP session pairs them, so they do not
  shift the replies after them; the one it hands back is compared.
- ``STARTTLS`` answered 220 upgrades the connection with the given TLS options.
  Where the recording started TLS and the server now refuses, the replay stops
  there: the rest was said under TLS and is not sent in clear text.
- ``AUTH``: with credentials (``options.user`` and ``options.secret``) the whole
  recorded exchange is replaced by a fresh one with the same mechanism (and an
  initial response when the recording sent one), driven by
  :func:`smtpshell.shell.auth.drive_sasl`. Without credentials, an unmasked
  exchange is sent as recorded (each answer only while the server says 334;
  a 334 with no recorded answer left is cancelled with ``*``); a masked one is
  ``SKIPPED`` ("credentials masked; give --user"), which counts only under ``strict``.
- ``MESSAGE``: the content is sent as recorded (``ClientLine.wire``: dot-stuffed)
  with the lone ``.`` -- only when the server is in DATA now (it said 354);
  otherwise it is ``NOT_SENT`` (not counted: the DATA step already differs).
  A server in DATA where the recording has no message to send (DATA refused
  then, 354 now) ends the replay, dropping the connection: nothing is delivered
  by accident. A recording that stops inside its message sends no ``.`` either.
- The server closing the connection (or staying silent past the timeout) with
  steps still to replay stops the replay: ``connection_failed``, exit status 3.
- At the end QUIT is sent if the recording did not send it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from smtpshell.shell.live_replay.steps import Plan, Step, StepKind, mask_auth
from smtpshell.shell.live_replay.verdicts import Outcome, Report, StepResult, Verdict, judge
from smtpshell.transcript.events import ServerReply

if TYPE_CHECKING:
    from smtpshell.net.connection import Connection
    from smtpshell.net.tls import TLSOptions
    from smtpshell.protocol.auth import Secret
    from smtpshell.protocol.session import Command

QUIT_WAIT = 2.0  # seconds to wait for 221 to the QUIT the recording did not send
_FLUSH_SIZE = 1 << 16  # message content larger than this is written before the lone "."


@dataclass(frozen=True, kw_only=True)
class Target:
    host: str
    port: int
    implicit_tls: bool = False
    family: int = 0


@dataclass(frozen=True, kw_only=True)
class Options:
    timeout: float = 30.0
    tls: TLSOptions | None = None  # None: the defaults (verify the certificate)
    ehlo: str | None = None  # --ehlo: the name for EHLO/HELO/LHLO instead of the recorded one
    user: str | None = None  # with secret: AUTH is redone
    secret: Secret | None = None
    strict: bool = False


class _Stop(Exception):
    """The replay cannot go on after this step; ``result`` is the step's, if it has one."""

    def __init__(self, reason: str, *, result: StepResult | None = None, connection: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result
        self.connection = connection


class LiveReplay:
    """Runs a :class:`Plan` against a server; ``on_step`` hears each result as it comes."""

    def __init__(self, plan_: Plan, target: Target, options: Options = Options(), *,
                 on_step: Callable[[StepResult], None] | None = None) -> None:
        self.plan = plan_
        self.target = target
        self.options = options
        self.on_step = on_step
        self.conn: Connection | None = None
        self._presend: dict[int, Command] = {}  # step index -> its Command, already sent (pipelined)
        self._last_error: str | None = None
        self._closed_reason: str | None = None
        self._quit_done = False

    # ----- the connection's events --------------------------------------------------------

    def _observe(self, event) -> None:
        from smtpshell.net import connection as net

        if isinstance(event, net.NetError):
            self._last_error = event.text
        elif isinstance(event, net.Closed):
            self._closed_reason = ("the server closed the connection in the middle of a reply"
                                   if event.mid_reply else event.reason)

    def _why_closed(self) -> str:
        return self._last_error or self._closed_reason or "the connection closed"

    # ----- the whole run ----------------------------------------------------------------------

    async def run(self) -> Report:
        results: list[StepResult] = []
        stopped: str | None = None
        connection_failed = False
        handlers = {
            StepKind.GREETING: self._greeting, StepKind.COMMAND: self._command,
            StepKind.STARTTLS: self._starttls, StepKind.AUTH: self._auth, StepKind.MESSAGE: self._message,
        }
        try:
            for step in self.plan.steps:
                if stopped is not None:
                    result = StepResult(step=step, verdict=Verdict(outcome=Outcome.NOT_REPLAYED, counts=False))
                else:
                    try:
                        result = await handlers[step.kind](step)
                    except _Stop as stop:
                        stopped, connection_failed = stop.reason, stop.connection
                        result = stop.result or StepResult(
                            step=step, verdict=Verdict(outcome=Outcome.NOT_REPLAYED, counts=False))
                results.append(result)
                if self.on_step is not None:
                    self.on_step(result)
        finally:
            await self._finish()
        return Report(results=tuple(results), strict=self.options.strict, stopped=stopped,
                      connection_failed=connection_failed)

    async def _finish(self) -> None:
        from smtpshell.net import connection as net
        from smtpshell.protocol.session import Phase

        conn, self.conn = self.conn, None
        if conn is None:
            return
        if not conn.closed and not self._quit_done and conn.session.phase is not Phase.DATA:
            try:
                out = conn.send_line("QUIT")
                await conn.reply_to(out.command, timeout=min(QUIT_WAIT, self.options.timeout))
            except (net.ReplyTimeout, net.ConnectionClosed, net.NotConnected):
                pass
        await conn.close()
        await conn.wait_closed(QUIT_WAIT)

    # ----- sending and waiting ----------------------------------------------------------------

    def _check(self, step: Step):
        """The open connection, or stop: it closed before this step."""
        if self.conn is None or self.conn.closed:
            raise _Stop(f"{self._why_closed()} (before step {step.index}, {step.shown})")
        return self.conn

    async def _wait(self, step: Step, command, **judged):
        """``command``'s reply (a protocol Reply); stop, with this step's result, when none comes."""
        from smtpshell.net import connection as net

        try:
            reply = await self.conn.reply_to(command)
        except net.ReplyTimeout as exc:
            result = judge(step, None, strict=self.options.strict, **judged)
            raise _Stop(f"{exc} to step {step.index} ({step.shown})", result=result) from None
        except net.ConnectionClosed:
            result = judge(step, None, strict=self.options.strict, **judged)
            raise _Stop(f"{self._why_closed()} (at step {step.index}, {step.shown})", result=result) from None
        if command.verb == "QUIT" and reply.code == 221:
            self._quit_done = True
        return reply

    def _line(self, step: Step) -> str:
        """The command line to send: as recorded, or with the --ehlo name."""
        line = step.lines[0].line
        if self.options.ehlo and step.verb in ("EHLO", "HELO", "LHLO"):
            return f"{line.split()[0]} {self.options.ehlo}"
        return line

    def _send_line(self, step: Step, line: str, *, secret: bool | None = None):
        """Send one line of this step; its Command."""
        from smtpshell.net import connection as net
        from smtpshell.protocol.session import LocalProtocolError

        conn = self._check(step)
        try:
            return conn.send_line(line, secret=secret).command
        except net.NotConnected:
            raise _Stop(f"{self._why_closed()} (before step {step.index}, {step.shown})") from None
        except LocalProtocolError as exc:
            raise _Stop(f"step {step.index} cannot be sent: {exc}", connection=False) from None

    # ----- one handler per kind -----------------------------------------------------------------

    async def _greeting(self, step: Step) -> StepResult:
        from smtpshell.net import connection as net
        from smtpshell.net.tls import TLSOptions

        notes: list[str] = []
        if self.conn is not None:
            await self._finish()
        implicit = self.target.implicit_tls or step.implicit_tls
        if step.implicit_tls and not self.target.implicit_tls:
            notes.append("the recording connected with implicit TLS: so does the replay (as with --tls)")
        conn = net.Connection(observer=self._observe, timeout=self.options.timeout,
                              tls_options=self.options.tls or TLSOptions(), lmtp=self.plan.lmtp)
        self._last_error = self._closed_reason = None
        self._quit_done = False
        try:
            await conn.open(self.target.host, self.target.port, implicit_tls=implicit, family=self.target.family)
        except net.ConnectError as exc:
            raise _Stop(str(exc)) from None
        self.conn = conn
        if conn.tls_info is not None:
            notes.append(_tls_note(conn.tls_info, implicit=True))
        reply = await self._wait(step, conn.session.greeting, notes=tuple(notes))
        return judge(step, reply_event(None, reply), strict=self.options.strict, notes=tuple(notes))

    async def _command(self, step: Step) -> StepResult:
        from smtpshell.net import connection as net
        from smtpshell.protocol.session import Phase

        notes: list[str] = []
        line = self._line(step)
        sent = line if line != step.lines[0].line else None
        if sent is not None:
            notes.append("sent with the name given by --ehlo")
        command = self._presend.pop(step.index, None)
        if command is None:
            group = self._pipelined_group(step)
            conn = self._check(step)
            try:
                if len(group) > 1:
                    outs = conn.send_lines([self._line(member) for member in group])
                    self._presend.update((member.index, out.command) for member, out in zip(group, outs))
                    command = self._presend.pop(step.index)
                    notes.append(f"pipelined with the next {len(group) - 1} command(s), as recorded")
                elif step.verb == "BDAT":
                    command = await self._bdat(step, line)
                    notes.append(f"with its chunk of {len(step.chunk):,} bytes, sent as recorded")
                elif step.lines[0].raw is not None:
                    command = (await conn.send_raw(step.lines[0].raw, expects_reply=True)).command
                else:
                    command = self._send_line(step, line)
            except net.NotConnected:
                raise _Stop(f"{self._why_closed()} (before step {step.index}, {step.shown})") from None
        reply = await self._wait(step, command, sent=sent, notes=tuple(notes))
        result = judge(step, reply_event(None, reply), strict=self.options.strict, sent=sent, notes=tuple(notes))
        if reply.code == 421 and step.index < len(self.plan.steps):
            # The server is closing the connection (RFC 5321 3.8): nothing after this would be read.
            raise _Stop(f"the server said 421 at step {step.index} ({step.shown}): it closes the connection",
                        result=result)
        # This command's own 354 (in a pipelined group the session may be in DATA already when an
        # earlier member's reply is read: the 354 answers the DATA step, whose message follows it).
        if reply.code == 354 and self.conn.session.phase is Phase.DATA and not self._next_is_message(step):
            raise _Stop("the server is in DATA now (354) where the recording has no message to send: "
                        "dropped the connection rather than send one", result=result, connection=False)
        return result

    async def _bdat(self, step: Step, line: str):
        """``BDAT n`` and its recorded chunk; stop when the recording has fewer than n bytes."""
        words = line.split()
        size = int(words[1]) if len(words) > 1 and words[1].isascii() and words[1].isdigit() else None
        chunk = step.chunk
        if size is not None and len(chunk) < size:
            raise _Stop(f"the recording has {len(chunk):,} of the {size:,} bytes of step {step.index} ({line}): "
                        "not sending a chunk the server would wait for", connection=False)
        command = self._send_line(step, line)
        if chunk:
            await self.conn.write_data(chunk)
        return command

    def _pipelined_group(self, step: Step) -> list[Step]:
        """This step and the pipelined commands right after it (exact bytes and BDAT go alone)."""

        def alone(s: Step) -> bool:
            return s.lines[0].raw is not None or s.verb == "BDAT"

        steps = self.plan.steps
        group = [step]
        at = steps.index(step) + 1
        while (not alone(step) and at < len(steps) and steps[at].pipelined
               and steps[at].kind is StepKind.COMMAND and not alone(steps[at])):
            group.append(steps[at])
            at += 1
        return group

    def _next_is_message(self, step: Step) -> bool:
        steps = self.plan.steps
        at = steps.index(step) + 1
        return at < len(steps) and steps[at].kind is StepKind.MESSAGE

    async def _starttls(self, step: Step) -> StepResult:
        command = self._send_line(step, step.lines[0].line)
        conn = self.conn
        try:
            reply = await self._wait(step, command)
        except _Stop:
            said = conn.session.last_reply
            if said is None or said.code != 220 or not self._last_error:
                raise
            result = judge(step, reply_event(None, said), strict=self.options.strict)
            raise _Stop(f"STARTTLS: {self._last_error}", result=result) from None
        notes = (_tls_note(conn.tls_info),) if conn.session.tls and conn.tls_info is not None else ()
        result = judge(step, reply_event(None, reply), strict=self.options.strict, notes=notes)
        if reply.code == 220 and not conn.session.tls:
            raise _Stop(self._why_closed(), result=result)
        if step.tls and not conn.session.tls:
            first = reply.lines[0].raw.decode("utf-8", "replace") if reply.lines else "no reply"
            raise _Stop(f"STARTTLS refused now ({first}): the rest of the recording was said under TLS "
                        "and is not sent in clear text", result=result, connection=False)
        return result

    async def _auth(self, step: Step) -> StepResult:
        from smtpshell.protocol import auth as sasl

        words = step.lines[0].line.split()
        mechanism = words[1].upper() if len(words) > 1 else ""
        o = self.options
        note = ""
        if o.user and o.secret is not None:
            if mechanism in sasl.SUPPORTED:
                return await self._auth_redone(step, mechanism, initial=len(words) > 2)
            note = f"cannot redo AUTH {mechanism or '(no mechanism)'} with --user: not a mechanism smtpshell speaks"
        if step.masked:
            reason = f"skipped: {note}" if note else "skipped: credentials masked; give --user"
            return StepResult(step=step, verdict=Verdict(outcome=Outcome.SKIPPED, counts=o.strict, reason=reason),
                              notes=(reason,))
        return await self._auth_verbatim(step, notes=(note,) if note else ())

    async def _auth_redone(self, step: Step, mechanism: str, *, initial: bool) -> StepResult:
        from smtpshell.protocol import auth as sasl
        from smtpshell.shell.auth import drive_sasl

        o = self.options
        where = {"host": self.target.host, "port": self.target.port}
        try:
            mech = sasl.create(mechanism, o.user, o.secret, initial_response=initial, **where)
        except ValueError:  # the recorded choice of initial response does not fit this mechanism
            mech = sasl.create(mechanism, o.user, o.secret, **where)
        sent: list[str] = []

        async def send(line: str, _step, *, secret: bool):
            command = self._send_line(step, line, secret=secret)
            sent.append(mask_auth(command.display_line))
            return await self._wait(step, command, sent=sent[0])

        problems: list[str] = []
        reply = await drive_sasl(mech, send, problems.append)
        notes = [f"AUTH redone as {o.user} with {mech.name} ({len(sent) - 1} answer(s) to 334); "
                 "the recorded exchange was replaced"]
        if reply is not None and reply.code is not None:
            notes.extend(mech.finish(reply.code, reply.text))
        new = reply_event(None, reply) if reply is not None else None
        return judge(step, new, strict=o.strict, sent=sent[0] if sent else None, notes=tuple(notes),
                     warnings=tuple(problems))

    async def _auth_verbatim(self, step: Step, *, notes: tuple[str, ...]) -> StepResult:
        answers = list(step.lines[1:])
        reply = await self._wait(step, self._send_line(step, step.lines[0].line))
        extra = list(notes)
        while reply.code == 334:
            if not answers:
                extra.append("the server asked for more than the recording answered: cancelled with *")
                reply = await self._wait(step, self._send_line(step, "*", secret=False), notes=tuple(extra))
                break
            reply = await self._wait(step, self._send_line(step, answers.pop(0).line), notes=tuple(extra))
        if answers:
            extra.append(f"the server gave its final reply before {len(answers)} recorded answer(s) were sent")
        new = reply_event(None, reply)
        result = judge(step, new, strict=self.options.strict, notes=tuple(extra))
        if result.verdict.counts and step.challenges:
            extra.append("answers recorded for other challenges (or another server) may not fit: "
                         "give --user to redo AUTH")
            result = replace(result, notes=tuple(extra))
        return result

    async def _message(self, step: Step) -> StepResult:
        from smtpshell.protocol.session import Phase

        conn = self._check(step)
        count = len(step.content)
        if conn.session.phase is not Phase.DATA:
            reason = f"not sent: no 354 to DATA now (the message of {count} line(s) stays unsent)"
            return StepResult(step=step, verdict=Verdict(outcome=Outcome.NOT_SENT, counts=False, reason=reason),
                              notes=(reason,))
        if not step.ended:
            raise _Stop("the recording ends inside the message (no lone '.'): it was not ended, nothing delivered",
                        connection=False)
        content = b"".join(line.wire for line in step.content)
        if len(content) > _FLUSH_SIZE:
            await conn.write_data(content)
            content = b""
        out = conn.end_data(content)
        notes = (f"ends a message of {count} line(s), sent as recorded",)
        reply = await self._wait(step, out.command, notes=notes)
        return judge(step, reply_event(None, reply), strict=self.options.strict, notes=notes)


def reply_event(t, reply) -> ServerReply:
    """A protocol reply as a transcript reply (see :func:`smtpshell.transcript.capture.reply_event`)."""
    from smtpshell.transcript.capture import reply_event as convert

    return convert(t, reply)


def _tls_note(info, *, implicit: bool = False) -> str:
    how = "implicit TLS" if implicit else "STARTTLS"
    return f"TLS started ({how}): {info.version}, cipher {info.cipher}; {info.verification}"
