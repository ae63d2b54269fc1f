"""The plan of a live replay: the recording as steps. Pure: no I/O.

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
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from smtpshell.transcript.events import ClientLine, Note, ServerReply, Transcript

MASK = "***"


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
