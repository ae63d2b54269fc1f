"""Transcript events as the shell shows them: styled lines, with hints.

:class:`Renderer` turns events, in order, into the ``(token, text)`` lines of
:mod:`smtpshell.transcript.display` -- the same functions the live shell uses, so a
replay (and an HTML page, an asciicast) shows the same colours and hints: the
decoded 334 challenges, what a status code means, what an EHLO keyword means.
It pairs replies with commands in order (pipelining), as the session does,
and follows TLS (``tls`` notes) for the swaks-style marks.

:func:`timeline` gives every event a time: the recorded one, or for
notations without timing a plausible pace (a person typing, a server answering).
"""

from __future__ import annotations

from collections import deque

from smtpshell.protocol.replies import (
    MAX_LINE,
    NO_CODE,
    Reply,
    ReplyLine,
    ReplyParser,
    parse_line,
    split_enhanced,
)
from smtpshell.protocol.session import Command
from smtpshell.transcript import display
from smtpshell.transcript.display import Line, View
from smtpshell.transcript.events import ClientLine, Event, Note, ServerReply, to_bytes

# Replies a Renderer keeps parsed (by their text), for the ones that come again.
_REMEMBER_REPLIES = 4096

# Pauses (seconds) for events that carry no time of their own.
_PACE = {"command": 1.0, "data": 0.15, "reply": 0.3, "note": 0.1}


def _plain_reply(event: ServerReply) -> Reply | None:
    """The :class:`Reply` the protocol's parser makes of a plain reply, built directly; None when
    the reply is not plain (the parser then decides).

    Plain: no raw bytes of its own, every line printable ASCII with the event's code, ``CODE-``
    on every line but the last, ``CODE SP`` (or a bare ``CODE``) on the last, none longer than
    the parser's line limit -- so the parser finds one reply in it and no problem.
    """
    lines, code = event.lines, event.code
    if event.raw is not None or not lines or code is None or not 100 <= code <= 999:
        return None
    prefix = str(code)
    last = len(lines) - 1
    out = []
    for index, text in enumerate(lines):
        if not (text.startswith(prefix) and text.isascii() and text.isprintable()) or len(text) > MAX_LINE:
            return None
        sep = text[3:4]
        if sep != ("-" if index < last else " ") and not (index == last and sep == ""):
            return None
        out.append(ReplyLine(raw=text.encode("ascii"), ending=b"\r\n", code=code, continued=index < last,
                             text=text[4:]))
    enhanced = None
    if code // 100 in (2, 4, 5):
        enhanced, _ = split_enhanced(out[0].text)
        if enhanced is not None and enhanced[0] != prefix[0]:
            enhanced = None
    return Reply(code=code, lines=tuple(out), enhanced=enhanced, problems=())


def to_reply(event: ServerReply) -> Reply:
    """The protocol layer's :class:`Reply` for a transcript reply (for display and hints)."""
    plain = _plain_reply(event)
    if plain is not None:
        return plain
    return parsed_reply(event)


def parsed_reply(event: ServerReply) -> Reply:
    """:func:`to_reply` the long way, always through the protocol's reply parser."""
    for data in (event.raw, event.wire):
        if data is None:
            continue
        parser = ReplyParser()
        replies = parser.feed(data) + parser.feed(b"")
        if len(replies) == 1 and replies[0].code == event.code:
            return replies[0]
    lines = tuple(parse_line(to_bytes(text), b"\r\n") for text in event.lines)
    enhanced = None
    if lines and event.code is not None and event.code // 100 in (2, 4, 5):
        enhanced, _ = split_enhanced(lines[0].text)
        if enhanced is not None and enhanced[0] != str(event.code // 100):
            enhanced = None
    problems = (NO_CODE,) if any(line.code is None for line in lines) else ()
    return Reply(code=event.code, lines=lines, enhanced=enhanced, problems=problems)


def _kind(event: Event) -> str:
    if isinstance(event, ClientLine):
        return "data" if event.data else "command"
    return "reply" if isinstance(event, ServerReply) else "note"


def timeline(events) -> list[float]:
    """A time for each event: its own (never going back), or a plausible pace when it has none."""
    out: list[float] = []
    now = 0.0
    for index, event in enumerate(events):
        if event.t is not None:
            now = max(now, event.t)
        elif index:
            now += _PACE[_kind(event)]
        out.append(now)
    return out


def _client_text(event: ClientLine) -> str:
    """What the client line shows: the exact bytes when there are any (undecodable ones as \\xHH)."""
    if event.raw is None or event.secret:
        return event.line
    body = event.raw[:-2] if event.raw.endswith(b"\r\n") else event.raw
    return body.decode("utf-8", "surrogateescape")


class Renderer:
    """Events in, the shell's styled lines out; keeps the session state replies need."""

    def __init__(self, view: View = View()) -> None:
        self.view = view
        self.tls = False
        self._replies: dict[tuple, Reply] = {}  # the same reply text comes again and again
        self._shown: dict[tuple, list[Line]] = {}  # and is shown the same way
        self._reset()

    def _reset(self) -> None:
        self._pending: deque[tuple[Command, float | None]] = deque([(Command(line="", verb="GREETING"), None)])
        self._sasl = False
        self._mechanism: str | None = None  # of the AUTH exchange under way
        self._sasl_step = 0  # the next SASL answer's index (an initial response is 0)
        self._in_data = False
        self._replied = False

    def lines(self, event: Event) -> list[Line]:
        if isinstance(event, ClientLine):
            return self._client(event)
        if isinstance(event, ServerReply):
            return self._reply(event)
        return self._note(event)

    def _t(self, t: float | None) -> float | None:
        return t if self.view.timestamps else None

    def _client(self, event: ClientLine) -> list[Line]:
        if event.data:
            line = event.line
            if not line.isascii():
                line = line.encode("utf-8").decode("utf-8", "surrogateescape")
            if line[:1] == "." and self._in_data:
                line = "." + line  # DATA content on the wire, as display.message_line shows it (BDAT: as is)
            return [display.data_text_line(line, self.view, tls=self.tls)]
        text = _client_text(event)
        if not self._replied and self._pending and self._pending[0][0].verb == "GREETING":
            self._pending.popleft()  # the transcript starts after the greeting
        words = text.split()
        verb = words[0].upper() if words else ""
        answer = None  # a base64 SASL answer, decoded as a hint (secrets masked)
        if self._sasl:
            verb, self._sasl = "SASL", False
            answer, self._sasl_step = text, self._sasl_step + 1
        elif text == "." and self._in_data:
            verb = "."
        elif verb == "AUTH":
            self._mechanism = words[1] if len(words) > 1 else None
            self._sasl_step = 1 if len(words) > 2 else 0
            answer = words[2] if len(words) > 2 else None
        if verb == ".":
            self._in_data = False
        command = Command(line=text, verb=verb, secret=event.secret)
        self._pending.append((command, event.t))
        out = [display.client_line(command, self.view, tls=self.tls, t=self._t(event.t))]
        if answer is not None and not event.secret and self.view.hints:
            from smtpshell.protocol.auth import describe_response

            hint = "* cancels the AUTH exchange" if answer == "*" else describe_response(
                self._mechanism, answer, self._sasl_step - 1)
            if hint:
                out.append(display.hint_line(f"decoded: {hint}"))
        return out

    def _reply(self, event: ServerReply) -> list[Line]:
        self._replied = True
        command, latency = None, None
        if event.code is not None and self._pending:
            command, sent = self._pending.popleft()
            if sent is not None and event.t is not None:
                latency = max(0.0, event.t - sent)
        if event.code is not None:
            self._sasl = event.code == 334
            if event.code == 354:
                self._in_data = True
        key = (event.code, event.lines, event.raw)
        if self.view.timestamps:  # each reply's own time and latency: nothing to share
            return display.reply_lines(
                self._parsed(key, event), self.view, command=command, tls=self.tls, t=event.t, latency=latency,
            )
        # The same reply to the same verb shows the same lines (reply_lines reads only the
        # command's verb, and whether a BDAT is the last: display.hint_verb): kept, and a copy handed out.
        shown_key = (key, display.hint_verb(command), self.tls)
        shown = self._shown.get(shown_key)
        if shown is None:
            if len(self._shown) >= _REMEMBER_REPLIES:
                self._shown.clear()
            shown = self._shown[shown_key] = display.reply_lines(
                self._parsed(key, event), self.view, command=command, tls=self.tls,
            )
        return [line.copy() for line in shown]

    def _parsed(self, key: tuple, event: ServerReply) -> Reply:
        reply = self._replies.get(key)
        if reply is None:
            if len(self._replies) >= _REMEMBER_REPLIES:
                self._replies.clear()
            reply = self._replies[key] = to_reply(event)
        return reply

    def _note(self, event: Note) -> list[Line]:
        text = event.text
        if event.kind == "tls":
            if text.startswith("TLS"):
                self.tls = True
            return [display.tls_line(text)]
        if event.kind == "error":
            if text.startswith("warning: "):
                return [display.warning_line(text[len("warning: "):])]
            return [display.error_line(text)]
        if text.startswith("connected to") or text.startswith("Connected to"):
            self.tls = False
            self._reset()
        return [display.note_line(text)]


def render_all(events, view: View = View()) -> list[list[Line]]:
    """The lines of each event, in order."""
    renderer = Renderer(view)
    return [renderer.lines(event) for event in events]
