"""The network layer's events, as transcript events (no I/O).

:class:`Capture` is called with every :data:`smtpshell.net.connection.NetEvent`
(it is an observer) and returns the transcript events they make. The
:class:`~smtpshell.transcript.jsonl.Recorder` writes them to a file; the shell
can keep a ``Capture(keep=True)`` to ``:save`` the session so far.

Rules
-----
- Times: the net layer counts seconds since its connection opened; a capture
  counts seconds since it was created (a ``:record`` may start mid-session,
  and one recording may span several connections). Each ``Connected`` event
  re-synchronises the two clocks; times never go backwards.
- A command is recorded as the user typed it, unless it carries credentials
  (``Command.secret``): then as the shell shows it (``***``) with
  ``secret: true`` -- unless ``show_secrets``.
- Message content (``SentData`` between a 354 and the lone ``.``) is split
  into lines at CRLF and un-stuffed: one ``ClientLine(data=True)`` per line.
  Outside DATA, ``SentData`` is ``:raw`` bytes: one ``ClientLine`` per write,
  with ``raw`` (the exact bytes) unless they were plain text + CRLF. Raw bytes
  that carry credentials (``AUTH PLAIN <response>``, an answer to a 334) are
  recorded with each credential replaced by ``***`` and ``secret: true``, as a
  typed line would be -- unless ``show_secrets``
  (:mod:`~smtpshell.transcript.credentials` decides, following each SASL exchange).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from smtpshell.net import connection as net
from smtpshell.transcript import display
from smtpshell.transcript.credentials import Exchange
from smtpshell.transcript.events import ClientLine, Event, Note, ServerReply, decode_line


def client_from_wire(t: float | None, wire: bytes, *, data: bool = False) -> ClientLine:
    """One client line from its exact bytes (``raw`` kept only when needed)."""
    crlf = wire.endswith(b"\r\n")
    body = wire[:-2] if crlf else wire
    stuffed = data and body.startswith(b".")
    if stuffed:
        body = body[1:]
    # The common case (valid UTF-8 + CRLF, stuffed as ClientLine.wire would stuff it): no need to
    # build the wire form again to compare.
    if crlf and b"\r" not in body and b"\n" not in body and (body.startswith(b".") if stuffed else not (
            data and body.startswith(b"."))):
        try:
            return ClientLine(t=t, line=body.decode("utf-8"), data=data)
        except UnicodeDecodeError:
            pass
    event = ClientLine(t=t, line=decode_line(body), data=data)
    return event if event.wire == wire else replace(event, raw=wire)


def reply_event(t: float | None, reply) -> ServerReply:
    """One :class:`~smtpshell.protocol.replies.Reply` as a transcript event."""
    event = ServerReply(t=t, code=reply.code, lines=tuple(decode_line(line.raw) for line in reply.lines))
    wire = reply.wire
    return event if event.wire == wire else replace(event, raw=wire)


def tls_notes(t: float, info, *, implicit: bool) -> list[Note]:
    """The TLS session as the shell shows it, one note per line (a failed check is an error)."""
    notes = []
    for line in display.tls_lines(info, implicit=implicit):
        _token, mark = line[0]
        text = "".join(text for _, text in line[1:])
        kind = "error" if mark.startswith("!") else "tls"
        if kind == "error":
            text = "warning: " + text
        notes.append(Note(t=t, kind=kind, text=text))
    return notes


class Capture:
    """NetEvents in, transcript events out (and kept in ``events`` when ``keep``)."""

    def __init__(
        self,
        *,
        show_secrets: bool = False,
        keep: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.show_secrets = show_secrets
        self.keep = keep
        self.events: list[Event] = []
        self._clock = clock
        self._start = clock()
        self._offset: float | None = None
        self._last_t = 0.0
        self._in_data = False
        self._data = bytearray()  # message content not yet split into lines
        self._sasl = Exchange()  # where a SASL exchange is, for credentials sent with :raw

    @property
    def in_data(self) -> bool:
        """Between a 354 and the lone dot: what the client sends is message content."""
        return self._in_data

    def __call__(self, event: net.NetEvent) -> list[Event]:
        if isinstance(event, net.Connected) or self._offset is None:
            self._offset = (self._clock() - self._start) - event.t
        t = max(self._last_t, round(event.t + self._offset, 6))
        self._last_t = t
        handler = _HANDLERS.get(type(event))
        out = handler(self, event, t) if handler is not None else []
        if self.keep:
            self.events.extend(out)
        return out

    # ----- one method per NetEvent type -----------------------------------

    def _connected(self, ev: net.Connected, t: float) -> list[Event]:
        out: list[Event] = self._flush_data(t)
        self._in_data = False
        self._sasl = Exchange()
        where = net.format_hostport(ev.host, ev.port)
        peer = f" ({ev.peer})" if ev.peer != where else ""
        out.append(Note(t=t, kind="info", text=f"connected to {where}{peer}"))
        if ev.preamble:  # a PROXY header went first: the recording says so, as the screen did
            from smtpshell.protocol.proxy import describe

            out.append(Note(t=t, kind="info", text=describe(ev.preamble)))
        if ev.tls is not None:
            out.extend(tls_notes(t, ev.tls, implicit=True))
        return out

    def _raw(self, t: float, wire: bytes) -> ClientLine:
        """Client bytes sent exactly (``:raw``): credentials in them masked unless show_secrets."""
        masked = self._sasl.wire(wire)
        if masked is None or self.show_secrets:
            return client_from_wire(t, wire)
        return replace(client_from_wire(t, masked), secret=True)

    def _sent(self, ev: net.Sent, t: float) -> list[Event]:
        command = ev.outgoing.command
        if command is None:
            return [self._raw(t, ev.outgoing.data)]
        out: list[Event] = []
        if command.verb == ".":
            out.extend(self._flush_data(t))
            self._in_data = False
        else:
            self._sasl.client(command.line)  # follows the exchange (keeps no credentials)
        if command.secret and not self.show_secrets:
            out.append(ClientLine(t=t, line=command.display_line, secret=True))
        else:
            out.append(client_from_wire(t, ev.outgoing.data))
        return out

    def _sent_data(self, ev: net.SentData, t: float) -> list[Event]:
        if not self._in_data:
            return [self._raw(t, ev.data)]
        self._data += ev.data
        out: list[Event] = []
        start = 0
        while (end := self._data.find(b"\r\n", start)) >= 0:
            out.append(client_from_wire(t, bytes(self._data[start:end + 2]), data=True))
            start = end + 2
        del self._data[:start]
        return out

    def _flush_data(self, t: float) -> list[Event]:
        """Content that did not end with CRLF (a file without a last line ending, a close)."""
        if not self._data:
            return []
        rest = bytes(self._data)
        self._data.clear()
        return [client_from_wire(t, rest, data=True)]

    def _received(self, ev: net.Received, t: float) -> list[Event]:
        reply = ev.event.reply
        if reply.code == 354:
            self._in_data = True
        self._sasl.reply(reply.code)
        return [reply_event(t, reply)]

    def _tls(self, ev: net.TLSStarted, t: float) -> list[Event]:
        return list(tls_notes(t, ev.info, implicit=False))

    def _error(self, ev: net.NetError, t: float) -> list[Event]:
        return [Note(t=t, kind="error", text=ev.text)]

    def _closed(self, ev: net.Closed, t: float) -> list[Event]:
        out: list[Event] = self._flush_data(t)
        self._in_data = False
        if ev.expected:
            out.append(Note(t=t, kind="info", text="connection closed"))
        elif ev.explained:
            out.append(Note(t=t, kind="info", text=f"connection closed ({ev.reason})"))
        elif ev.mid_reply:
            out.append(Note(t=t, kind="error", text="the server closed the connection in the middle of a reply"))
        else:
            out.append(Note(t=t, kind="error", text=ev.reason))
        return out


_HANDLERS = {
    net.Connected: Capture._connected,
    net.Sent: Capture._sent,
    net.SentData: Capture._sent_data,
    net.Received: Capture._received,
    net.TLSStarted: Capture._tls,
    net.NetError: Capture._error,
    net.Closed: Capture._closed,
}
