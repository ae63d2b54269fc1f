"""Credentials in client lines: which ones carry them, and their masked form. Pure: no I/O.

The shell records what it sent with credentials masked (``***``, ``secret: true``); a transcript
read from another notation (a swaks run, a pasted telnet session, a recording made with
``--show-secrets``) or bytes sent with ``:raw`` must come out the same way.

Rules
-----
- A SASL exchange starts with ``AUTH MECH [initial-response]`` and goes on while the server
  says ``334``: the client line after each ``334`` is an answer. Any other reply ends it.
- An initial response that carries credentials makes the line ``AUTH MECH ***``; such an
  answer becomes ``***`` (as :attr:`smtpshell.protocol.session.Command.display_line` shows them).
- What ``:auth`` keeps in clear stays in clear, because it carries no secret: an empty
  response (``=``), the ``*`` that cancels, LOGIN's first response (the user name), SCRAM's
  client-first message (user name and nonce), the ``^A`` that acknowledges an OAuth error.
  Everything else is masked: PLAIN, LOGIN's password, CRAM-MD5's digest, SCRAM's proof,
  XOAUTH2/OAUTHBEARER tokens, DIGEST-MD5, any mechanism not known, text that is not base64.
- Lines already masked only move the exchange along.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace

from smtpshell.protocol.auth import TOKEN_MECHANISMS
from smtpshell.protocol.sasl.base import MASK
from smtpshell.transcript.events import ClientLine, Event, ServerReply, Transcript, decode_line, to_bytes

_SCRAM = frozenset({"SCRAM-SHA-1", "SCRAM-SHA-256"})
_SCRAM_FIRST = re.compile(r"[nyp][^,]*,(a=[^,]*)?,n=[^,]*,r=[^,]+(,.*)?")


def response_is_secret(mechanism: str | None, text: str, index: int) -> bool:
    """Whether one SASL response (base64 ``text``, the ``index``-th of its exchange from 0, an
    initial response being 0) carries credentials, by the rules above."""
    text = text.strip()
    if text in ("", "=", "*", MASK):
        return False
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return True  # not base64: maybe a password typed in clear
    if not data:
        return False
    mech = (mechanism or "").upper()
    if mech == "LOGIN":
        return index != 0
    if mech in _SCRAM:
        return not (index == 0 and _SCRAM_FIRST.fullmatch(data.decode("utf-8", "replace")))
    if mech in TOKEN_MECHANISMS:
        return data != b"\x01"
    return True


class Exchange:
    """Follows SASL exchanges through a session: feed it each client line (not message content)
    and each reply's code, in order; it says which lines to mask. It keeps no credentials."""

    def __init__(self) -> None:
        self.mechanism: str | None = None
        self.index = 0  # the index of the next response in the exchange
        self.answer_due = False  # a 334 came: the next client line answers it

    def reply(self, code: int | None) -> None:
        if code is None:
            return
        self.answer_due = code == 334
        if code != 334:
            self.mechanism, self.index = None, 0

    def client(self, text: str) -> str | None:
        """The masked form of this client line when it carries credentials, else None."""
        if self.answer_due:
            self.answer_due = False
            index, self.index = self.index, self.index + 1
            return MASK if response_is_secret(self.mechanism, text, index) else None
        words = text.split()
        if not words or words[0].upper() != "AUTH":
            return None
        self.mechanism = words[1].upper() if len(words) > 1 else None
        self.index = 0
        if len(words) > 2:
            self.index = 1
            if response_is_secret(self.mechanism, words[2], 0) or len(words) > 3:
                return " ".join(words[:2] + [MASK])
        return None

    def wire(self, data: bytes) -> bytes | None:
        """Exact client bytes (``:raw``: any line endings, maybe several lines): the same bytes
        with each credential replaced by ``***`` when any line carries one, else None."""
        parts = data.split(b"\n")
        changed = False
        for at, part in enumerate(parts):
            if at == len(parts) - 1 and not part:
                break  # after the last LF
            body = part[:-1] if part.endswith(b"\r") else part
            if not body.strip() and not self.answer_due:
                continue
            masked = self.client(decode_line(body))
            if masked is not None:
                parts[at] = to_bytes(masked) + part[len(body):]
                changed = True
        return b"\n".join(parts) if changed else None


def mask_events(events) -> tuple[Event, ...]:
    """Events with every client line that carries credentials masked (``secret=True``)."""
    exchange = Exchange()
    out: list[Event] = []
    for event in events:
        if isinstance(event, ServerReply):
            exchange.reply(event.code)
        elif isinstance(event, ClientLine) and not event.data:
            if event.secret:
                exchange.client(event.line)  # already masked: the exchange goes on
            elif event.raw is not None:  # exact bytes: masked in place, the rest kept exactly
                masked = exchange.wire(event.raw)
                if masked is not None:
                    event = _masked_raw(event, masked)
            else:
                masked = exchange.client(event.line)
                if masked is not None:
                    event = replace(event, line=masked, raw=None, secret=True)
        out.append(event)
    return tuple(out)


def _masked_raw(event: ClientLine, wire: bytes) -> ClientLine:
    from smtpshell.transcript.capture import client_from_wire

    return replace(client_from_wire(event.t, wire), secret=True)


def mask_transcript(transcript: Transcript) -> Transcript:
    """The transcript with credentials masked (see :func:`mask_events`); itself when none are in it."""
    events = mask_events(transcript.events)
    if all(a is b for a, b in zip(events, transcript.events)):
        return transcript
    return replace(transcript, events=events)
