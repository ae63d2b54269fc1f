"""Live replay: a recorded session sent again to a server, each reply compared with the recording.

Three parts, the first two pure (no I/O, unit-tested):

``plan(transcript)`` -- the recording as steps
-----------------------------------------------
- Replies answer client lines in order (pipelining), as in the session; a reply
  with no reply code answers nothing, and a reply nothing waits for (a ``421``
  at the end) is left out.
- A step is what the client sends and the *final* reply it got:

  - ``GREETING``: the server's banner. Every plan starts with one (its recorded
    reply is None when the recording starts later). An ``info`` note
    ``connected to …`` after the first starts another connection (``:reconnect``).
  - ``COMMAND``: one command line. ``pipelined`` when it went out before the
    previous reply came; a run of those is sent in one write again. ``BDAT n``
    carries its chunk: the client lines after it, up to ``n`` bytes.
  - ``STARTTLS``: ``tls`` when the recording got 220 and started TLS there.
  - ``AUTH``: the AUTH line, each answer to a 334 (``challenges``), up to the
    final reply. ``masked`` when any of its lines was masked (``***``).
  - ``MESSAGE``: the content lines after a 354 (``data=True``) and the lone
    ``.``; the reply to the ``.`` is the step's. ``ended`` is False when the
    recording stops inside the message.

``compare(recorded, new, strict=...)`` -- one verdict per step
--------------------------------------------------------------
- Same reply class and code: ``SAME``. Another code of the same class:
  ``CODE_CHANGED``, which counts only under ``strict``; so does an enhanced
  status code (``5.7.1``) that changed when both replies have one.
- Another class (2xx, 3xx, 4xx, 5xx): ``CLASS_CHANGED``, always counts.
- No reply now (the connection closed, or no reply in time): ``NO_REPLY``, counts.
- No recorded reply to compare with: ``NOT_RECORDED``, never counts.
- For EHLO/LHLO, :func:`capability_changes` names the keywords added, removed
  or changed; shown, never counted.

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
  otherwise it is ``SKIPPED`` (not counted: the DATA step already differs).
  A server in DATA where the recording has no message to send (DATA refused
  then, 354 now) ends the replay, dropping the connection: nothing is delivered
  by accident. A recording that stops inside its message sends no ``.`` either.
- The server closing the connection (or staying silent past the timeout) with
  steps still to replay stops the replay: ``connection_failed``, exit status 3.
- At the end QUIT is sent if the recording did not send it.

:func:`report_lines`, :func:`summary_lines` and :func:`report_json` show the
results: pure functions returning the shell's styled lines or a JSON object.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from smtpshell.highlight import tokens as tok
from smtpshell.protocol.extensions import parse_ehlo
from smtpshell.protocol.replies import split_enhanced
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display
from smtpshell.transcript.display import Line
from smtpshell.transcript.events import ClientLine, Note, ServerReply, Transcript

if TYPE_CHECKING:
    from smtpshell.net.connection import Connection
    from smtpshell.net.tls import TLSOptions
    from smtpshell.protocol.auth import Secret
    from smtpshell.protocol.session import Command

MASK = "***"
QUIT_WAIT = 2.0  # seconds to wait for 221 to the QUIT the recording did not send
SIDE_BY_SIDE_WIDTH = 100  # narrower terminals get the recorded reply above the new one
_FLUSH_SIZE = 1 << 16  # message content larger than this is written before the lone "."


# ----- the plan -------------------------------------------------------------------------


class StepKind(enum.Enum):
    GREETING = "greeting"
    COMMAND = "command"
    STARTTLS = "starttls"
    AUTH = "auth"
    MESSAGE = "message"


@dataclass(frozen=True, kw_only=True)
class Step:
    """One exchange of the recording (see the module docstring)."""

    index: int  # from 1, as the report numbers them
    kind: StepKind
    lines: tuple[ClientLine, ...] = ()  # what the client sent, in order
    recorded: ServerReply | None = None  # the final reply the recording got
    challenges: tuple[ServerReply, ...] = ()  # AUTH: the recorded 334s
    pipelined: bool = False
    tls: bool = False  # STARTTLS: TLS started here in the recording
    implicit_tls: bool = False  # GREETING: the recording connected with implicit TLS
    reconnect: bool = False  # GREETING: not the recording's first connection
    ended: bool = True  # MESSAGE: the lone "." is in the recording

    @property
    def verb(self) -> str:
        words = self.lines[0].line.split() if self.lines and not self.lines[0].data else []
        return words[0].upper() if words else ""

    @property
    def masked(self) -> bool:
        return any(line.secret or MASK in line.line.split() for line in self.lines)

    @property
    def content(self) -> tuple[ClientLine, ...]:
        """MESSAGE: the content lines (without the lone dot)."""
        return tuple(line for line in self.lines if line.data)

    @property
    def chunk(self) -> bytes:
        """BDAT: the chunk's bytes as recorded (the lines after the BDAT line)."""
        return b"".join(line.wire for line in self.lines[1:]) if self.verb == "BDAT" else b""

    @property
    def shown(self) -> str:
        """The client side as the report shows it, credentials masked."""
        if self.kind is StepKind.GREETING:
            return "(connect again)" if self.reconnect else "(greeting)"
        if self.kind is StepKind.MESSAGE:
            return "." if self.ended else "(message not ended)"
        return shown_line(self.lines[0])


def shown_line(line: ClientLine) -> str:
    """A client line for the report: masked lines as recorded, AUTH initial responses as ``***``."""
    if line.secret:
        return line.line
    if line.raw is not None:
        body = line.raw[:-2] if line.raw.endswith(b"\r\n") else line.raw
        return mask_auth(body.decode("utf-8", "surrogateescape"))
    return mask_auth(line.line)


def mask_auth(text: str) -> str:
    """``AUTH MECH ***`` for an AUTH line with an initial response (even a user name is not shown)."""
    words = text.split()
    if words and words[0].upper() == "AUTH" and len(words) > 2:
        return " ".join(words[:2] + [MASK])
    return text


@dataclass
class _Draft:
    kind: StepKind
    lines: list[ClientLine] = field(default_factory=list)
    recorded: ServerReply | None = None
    challenges: list[ServerReply] = field(default_factory=list)
    pipelined: bool = False
    tls: bool = False
    implicit_tls: bool = False
    reconnect: bool = False
    ended: bool = False
    answer_due: bool = False  # AUTH: a 334 came, its answer not yet


@dataclass(frozen=True, kw_only=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def implicit_tls(self) -> bool:
        return bool(self.steps) and self.steps[0].implicit_tls

    @property
    def has_auth(self) -> bool:
        return any(step.kind is StepKind.AUTH for step in self.steps)

    @property
    def lmtp(self) -> bool:
        return any(step.verb == "LHLO" for step in self.steps)


def plan(transcript: Transcript) -> Plan:
    """The recording's steps (see the module docstring for the rules)."""
    drafts: list[_Draft] = []
    pending: deque[_Draft] = deque()
    message: _Draft | None = None  # content being collected
    after_354 = False
    bdat: _Draft | None = None  # a BDAT command still collecting its chunk
    bdat_left = 0

    def start(kind: StepKind, **kw) -> _Draft:
        draft = _Draft(kind=kind, **kw)
        drafts.append(draft)
        return draft

    for event in transcript.events:
        if isinstance(event, Note):
            if event.kind == "info" and event.text.lower().startswith("connected to"):
                pending = deque([start(StepKind.GREETING, reconnect=bool(drafts))])
                message, after_354 = None, False
            elif event.kind == "tls" and event.text.startswith("TLS started"):
                last = next((d for d in reversed(drafts) if d.kind is not StepKind.MESSAGE), None)
                if last is not None and last.kind is StepKind.GREETING and last.recorded is None:
                    last.implicit_tls = True
                elif last is not None and last.kind is StepKind.STARTTLS and last.recorded is not None:
                    last.tls = last.recorded.code == 220
            continue
        if isinstance(event, ServerReply):
            if event.code is None:
                continue
            bdat_left = 0  # the server spoke: no more chunk bytes are coming
            if not drafts:
                pending = deque([start(StepKind.GREETING)])
            if not pending:
                continue  # unsolicited: nothing waits for it
            draft = pending.popleft()
            if draft.kind is StepKind.AUTH and event.code == 334:
                draft.challenges.append(event)
                draft.answer_due = True
                pending.appendleft(draft)
                continue
            draft.recorded = event
            draft.answer_due = False
            after_354 = event.code == 354
            continue
        # A client line.
        if not drafts:
            start(StepKind.GREETING)  # the recording starts after the banner
        if bdat is not None and bdat_left > 0:
            bdat.lines.append(event)
            bdat_left -= len(event.wire)
            continue
        if event.data or (event.line == "." and (message is not None or after_354)):
            if message is None:
                message = start(StepKind.MESSAGE)
            message.lines.append(event)
            if not event.data:
                message.ended = True
                pending.append(message)
                message = None
            after_354 = False
            continue
        after_354 = False
        if pending and pending[0].answer_due:
            pending[0].lines.append(event)
            pending[0].answer_due = False
            continue
        words = event.line.split()
        verb = words[0].upper() if words else ""
        kind = {"AUTH": StepKind.AUTH, "STARTTLS": StepKind.STARTTLS}.get(verb, StepKind.COMMAND)
        draft = start(kind, lines=[event], pipelined=bool(pending))
        pending.append(draft)
        if verb == "BDAT" and len(words) > 1 and words[1].isascii() and words[1].isdigit():
            bdat, bdat_left = draft, int(words[1])
    steps = []
    for index, d in enumerate(drafts, start=1):
        steps.append(Step(
            index=index, kind=d.kind, lines=tuple(d.lines), recorded=d.recorded,
            challenges=tuple(d.challenges), pipelined=d.pipelined, tls=d.tls,
            implicit_tls=d.implicit_tls, reconnect=d.reconnect,
            ended=d.ended if d.kind is StepKind.MESSAGE else True,
        ))
    return Plan(steps=tuple(steps))


# ----- the comparison ---------------------------------------------------------------------


class Outcome(enum.Enum):
    SAME = "same"
    CODE_CHANGED = "code changed"
    CLASS_CHANGED = "class changed"
    NO_REPLY = "no reply"
    NOT_RECORDED = "not recorded"
    SKIPPED = "skipped"  # AUTH not sent (masked, no --user): counts under strict
    NOT_SENT = "not sent"  # a message the server did not ask for now: never counts
    NOT_REPLAYED = "not replayed"  # after the replay stopped


@dataclass(frozen=True, kw_only=True)
class Verdict:
    outcome: Outcome
    counts: bool  # a difference that makes the exit status 1
    reason: str = ""  # for a difference: what changed, in words


def enhanced_code(reply: ServerReply) -> str | None:
    """The enhanced status code (RFC 3463) the reply's first line starts with, if any."""
    if reply.code is None or not reply.lines or reply.code // 100 not in (2, 4, 5):
        return None
    found, _ = split_enhanced(reply.lines[0][4:])
    return found if found is not None and found[0] == str(reply.code // 100) else None


def compare(recorded: ServerReply | None, new: ServerReply | None, *, strict: bool) -> Verdict:
    """The verdict for one step (see the module docstring)."""
    if recorded is None or recorded.code is None:
        return Verdict(outcome=Outcome.NOT_RECORDED, counts=False)
    if new is None or new.code is None:
        return Verdict(outcome=Outcome.NO_REPLY, counts=True, reason="no reply now")
    if recorded.code // 100 != new.code // 100:
        return Verdict(outcome=Outcome.CLASS_CHANGED, counts=True, reason="reply class changed")
    if recorded.code != new.code:
        return Verdict(outcome=Outcome.CODE_CHANGED, counts=strict, reason="reply code changed")
    old_enhanced, new_enhanced = enhanced_code(recorded), enhanced_code(new)
    if old_enhanced and new_enhanced and old_enhanced != new_enhanced:
        return Verdict(outcome=Outcome.CODE_CHANGED, counts=strict, reason="enhanced status code changed")
    return Verdict(outcome=Outcome.SAME, counts=False)


@dataclass(frozen=True, kw_only=True)
class CapabilityChanges:
    added: tuple[str, ...] = ()  # keywords (with their parameters) only the new server advertises
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # "SIZE 10240000 → 35882577"

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def text(self) -> str:
        parts = [f"{name} {', '.join(items)}" for name, items in
                 (("added", self.added), ("removed", self.removed), ("changed", self.changed)) if items]
        return "capabilities: " + "; ".join(parts)


def capability_changes(recorded: ServerReply, new: ServerReply) -> CapabilityChanges:
    """What one EHLO reply advertises that the other does not (keywords in the new server's order)."""
    from smtpshell.transcript.render import to_reply

    old_caps, new_caps = parse_ehlo(to_reply(recorded)), parse_ehlo(to_reply(new))

    def spelled(name: str, params: tuple[str, ...]) -> str:
        return " ".join((name, *params))

    def same(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        return sorted(p.upper() for p in a) == sorted(p.upper() for p in b)

    added = tuple(spelled(k, v) for k, v in new_caps.keywords.items() if k not in old_caps.keywords)
    removed = tuple(spelled(k, v) for k, v in old_caps.keywords.items() if k not in new_caps.keywords)
    changed = tuple(
        f"{spelled(k, old_caps.keywords[k])} → {' '.join(v) or '(no parameters)'}"
        for k, v in new_caps.keywords.items()
        if k in old_caps.keywords and not same(old_caps.keywords[k], v)
    )
    return CapabilityChanges(added=added, removed=removed, changed=changed)


@dataclass(frozen=True, kw_only=True)
class StepResult:
    step: Step
    verdict: Verdict
    new: ServerReply | None = None  # the final reply now
    sent: str | None = None  # the client side as sent now, when not as recorded (masked)
    notes: tuple[str, ...] = ()  # what the replay did differently, or found out
    warnings: tuple[str, ...] = ()
    capabilities: CapabilityChanges | None = None

    @property
    def client(self) -> str:
        return self.sent if self.sent is not None else self.step.shown


def judge(step: Step, new: ServerReply | None, *, strict: bool, sent: str | None = None,
          notes: tuple[str, ...] = (), warnings: tuple[str, ...] = ()) -> StepResult:
    """A step's result from its new final reply: the verdict, and for EHLO the capability changes."""
    verdict = compare(step.recorded, new, strict=strict)
    caps = None
    if (step.kind is StepKind.COMMAND and step.verb in ("EHLO", "LHLO") and new is not None
            and step.recorded is not None and step.recorded.code == 250 and new.code == 250):
        caps = capability_changes(step.recorded, new)
    return StepResult(step=step, verdict=verdict, new=new, sent=sent, notes=notes, warnings=warnings,
                      capabilities=caps or None)


@dataclass(frozen=True, kw_only=True)
class Report:
    results: tuple[StepResult, ...]
    strict: bool = False
    stopped: str | None = None  # why the replay stopped before the end
    connection_failed: bool = False  # it stopped because the connection failed or closed

    @property
    def differences(self) -> tuple[StepResult, ...]:
        return tuple(r for r in self.results if r.verdict.counts)

    @property
    def uncounted(self) -> tuple[StepResult, ...]:
        """Differences that --strict would count."""
        return tuple(r for r in self.results if not r.verdict.counts
                     and r.verdict.outcome in (Outcome.CODE_CHANGED, Outcome.SKIPPED))

    @property
    def replayed(self) -> int:
        return sum(r.verdict.outcome is not Outcome.NOT_REPLAYED for r in self.results)

    @property
    def exit_status(self) -> ExitStatus:
        if self.connection_failed:
            return ExitStatus.CONNECTION
        return ExitStatus.EXPECT_FAILED if self.differences else ExitStatus.OK


# ----- running it ---------------------------------------------------------------------------


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
        if self.conn.session.phase is Phase.DATA and not self._next_is_message(step):
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


# ----- showing the results ---------------------------------------------------------------------

_INDENT = "      "


def _mark(verdict: Verdict) -> tuple[object, str]:
    if verdict.counts:
        return tok.ERROR, "≠ "
    if verdict.outcome in (Outcome.SAME,):
        return tok.PLAIN, "  "
    return tok.WARNING, "~ "


def reply_fragments(text: str) -> Line:
    """One reply line coloured by its class, as the shell colours it."""
    head = text[:3]
    if len(text) >= 3 and head.isdigit() and head.isascii():
        code = int(head)
        return [(tok.code_token(code), head), *display.visible(text[3:], tok.reply_text_token(code))]
    return display.visible(text, tok.REPLY_TEXT_OTHER)


def _client_fragments(text: str) -> Line:
    from smtpshell.protocol.session import Command

    words = text.split()
    return display.client_line(Command(line=text, verb=words[0].upper() if words else ""), display.View())


def _fit(line: Line, width: int) -> Line:
    """The fragments cut (ending in …) or padded to exactly ``width`` characters."""
    out: Line = []
    used = 0
    for token, text in line:
        if used + len(text) > width:
            if width - used - 1 > 0:
                out.append((token, text[:width - used - 1]))
            out.append((tok.HINT, "…"))
            return out
        out.append((token, text))
        used += len(text)
    return out + [(tok.PLAIN, " " * (width - used))]


def _reply_block(recorded: ServerReply | None, new: ServerReply | None, width: int) -> list[Line]:
    """The recorded reply and the new one, side by side (wide) or one above the other (narrow)."""
    old_lines = [reply_fragments(text) for text in recorded.lines] if recorded else [[(tok.HINT, "(none)")]]
    new_lines = [reply_fragments(text) for text in new.lines] if new else [[(tok.HINT, "(no reply)")]]
    if width >= SIDE_BY_SIDE_WIDTH:
        column = (width - len(_INDENT) - 3) // 2
        rows = [[(tok.PLAIN, _INDENT), *_fit([(tok.HINT, "recorded")], column), (tok.HINT, " │ "), (tok.HINT, "now")]]
        for index in range(max(len(old_lines), len(new_lines))):
            left = old_lines[index] if index < len(old_lines) else []
            right = new_lines[index] if index < len(new_lines) else []
            rows.append([(tok.PLAIN, _INDENT), *_fit(left, column), (tok.HINT, " │ "), *right])
        return rows
    rows = []
    for label, lines in (("recorded: ", old_lines), ("now:      ", new_lines)):
        for index, line in enumerate(lines):
            rows.append([(tok.PLAIN, _INDENT), (tok.HINT, label if index == 0 else " " * len(label)), *line])
    return rows


def step_lines(result: StepResult, *, width: int = 80) -> list[Line]:
    """One step of the report: a mark (≠ counts, ~ differs without counting), its number, the client
    line (masked), and the new reply's first line, coloured by class; where the replies differ, the
    recorded and the new one; then what the replay did differently and the capability changes.
    A step that was not replayed shows nothing (the summary counts it)."""
    verdict = result.verdict
    if verdict.outcome is Outcome.NOT_REPLAYED:
        return []
    token, mark = _mark(verdict)
    head: Line = [(token, mark), (tok.HINT, f"{result.step.index:>2} ")]
    if result.step.kind is StepKind.GREETING:
        head.append((tok.NOTE, result.client))
    else:
        head.extend(_client_fragments(result.client))
    head.append((tok.HINT, "  → "))
    if result.new is not None and result.new.lines:
        head.extend(reply_fragments(result.new.lines[0]))
        if len(result.new.lines) > 1:
            head.append((tok.HINT, f"  (+{len(result.new.lines) - 1} lines)"))
    elif verdict.outcome in (Outcome.SKIPPED, Outcome.NOT_SENT):
        head.append((tok.WARNING, verdict.reason))
    else:
        head.append((tok.ERROR, "no reply"))
    out = [head]
    if verdict.outcome in (Outcome.CLASS_CHANGED, Outcome.CODE_CHANGED, Outcome.NO_REPLY):
        out.extend(_reply_block(result.step.recorded, result.new, width))
    if result.capabilities:
        out.append(display.hint_line(result.capabilities.text()))
    out.extend(display.hint_line(note) for note in result.notes if note != verdict.reason)
    out.extend(display.warning_line(text) for text in result.warnings)
    return out


def _first(reply: ServerReply | None, *, code_only: bool = False) -> str:
    if reply is None or not reply.lines:
        return "no reply"
    if code_only and reply.code is not None:
        enhanced = enhanced_code(reply)
        return f"{reply.code} {enhanced}" if enhanced else str(reply.code)
    return reply.lines[0]


def difference_text(result: StepResult) -> str:
    """One difference in words: what changed, where, and the replies."""
    where = f"step {result.step.index} ({result.client})"
    verdict = result.verdict
    if verdict.outcome in (Outcome.SKIPPED, Outcome.NOT_SENT):
        return f"{where} {verdict.reason}"
    return (f"{verdict.reason} at {where}: recorded {_first(result.step.recorded, code_only=True)}, "
            f"now {_first(result.new)}")


def summary_lines(report: Report) -> list[Line]:
    """The end of the report: how many steps and differences, each difference, why it stopped."""
    total = len(report.results)
    differences = report.differences
    count = f"{len(differences)} difference{'' if len(differences) == 1 else 's'}"
    out: list[Line] = []
    if differences:
        out.append(display.error_line(f"{total} steps, {count}:"))
        out.extend(display.error_line("  " + difference_text(r)) for r in differences)
    else:
        out.append(display.note_line(f"{total} steps, {count}"))
    for result in report.uncounted:
        out.append(display.note_line(f"not counted (--strict counts it): {difference_text(result)}"))
    if report.stopped is not None:
        left = total - report.replayed
        line = f"stopped: {report.stopped}" + (f"; {left} step(s) not replayed" if left else "")
        out.append(display.error_line(line) if report.connection_failed or left else display.note_line(line))
    return out


def _reply_json(reply: ServerReply | None) -> dict | None:
    if reply is None:
        return None
    return {"code": reply.code, "enhanced": enhanced_code(reply), "lines": list(reply.lines)}


def report_json(report: Report, **about) -> dict:
    """The comparison as one JSON object: ``about`` (file, target…), each step, and a summary."""
    steps = []
    for r in report.results:
        item = {
            "index": r.step.index,
            "kind": r.step.kind.value,
            "client": None if r.step.kind is StepKind.GREETING else r.client,
            "recorded": _reply_json(r.step.recorded),
            "new": _reply_json(r.new),
            "result": r.verdict.outcome.value,
            "same": r.verdict.outcome is Outcome.SAME,
            "counts": r.verdict.counts,
            "reason": r.verdict.reason or None,
            "notes": list(r.notes) + list(r.warnings),
        }
        if r.step.kind is StepKind.MESSAGE:
            item["content_lines"] = len(r.step.content)
        if r.capabilities is not None:
            item["capabilities"] = {"added": list(r.capabilities.added), "removed": list(r.capabilities.removed),
                                    "changed": list(r.capabilities.changed)}
        steps.append(item)
    return {
        **about,
        "strict": report.strict,
        "steps": steps,
        "summary": {
            "steps": len(report.results),
            "replayed": report.replayed,
            "differences": len(report.differences),
            "class_changes": sum(r.verdict.outcome is Outcome.CLASS_CHANGED for r in report.results),
            "code_changes": sum(r.verdict.outcome is Outcome.CODE_CHANGED for r in report.results),
            "skipped": sum(r.verdict.outcome is Outcome.SKIPPED for r in report.results),
            "stopped": report.stopped,
            "connection_failed": report.connection_failed,
            "text": [difference_text(r) for r in report.differences],
            "exit_status": int(report.exit_status),
        },
    }
