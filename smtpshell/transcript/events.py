"""The transcript event model: what happened in a session, in order.

Rules
-----
- A transcript is a :class:`Header` and a sequence of events. Every event has
  ``t``: seconds since the recording started, or ``None`` when the notation it
  was read from kept no timing (a pasted telnet session).
- :class:`ClientLine` is one line the client sent, without its CRLF. ``line``
  is always valid Unicode (undecodable bytes as ``\\xHH``); ``raw`` holds the
  exact bytes whenever they are not simply ``line`` + CRLF (for message
  content: the dot-stuffed ``line`` + CRLF). ``secret`` means ``line`` was
  masked (``***``). ``data`` marks message content after a 354 (the final
  lone ``.`` is not content: it is the command the next reply answers).
- :class:`ServerReply` is one whole reply (a multi-line reply is one event);
  ``lines`` are the reply's lines as received, codes included; ``code`` is the
  reply's code, or ``None`` for a line that has none; ``raw`` as above.
- :class:`Note` is the shell's (or the notation's) own voice: ``info``,
  ``tls`` (the connection is encrypted from here on) or ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

NOTE_KINDS = ("info", "tls", "error")


class TranscriptError(ValueError):
    """The text is not a transcript this reader understands; the message says where and why."""


@dataclass(frozen=True, kw_only=True)
class Header:
    host: str | None = None
    port: int | None = None
    started: str | None = None  # ISO-8601
    version: str | None = None  # the smtpshell version that recorded it


@dataclass(frozen=True, kw_only=True)
class ClientLine:
    t: float | None
    line: str
    raw: bytes | None = None
    secret: bool = False
    data: bool = False

    @property
    def wire(self) -> bytes:
        """The bytes that went out (as far as the transcript knows: masked lines stay masked)."""
        if self.raw is not None:
            return self.raw
        body = to_bytes(self.line)
        if self.data and body.startswith(b"."):
            body = b"." + body
        return body + b"\r\n"


@dataclass(frozen=True, kw_only=True)
class ServerReply:
    t: float | None
    code: int | None
    lines: tuple[str, ...]
    raw: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return to_bytes("".join(line + "\r\n" for line in self.lines))


@dataclass(frozen=True, kw_only=True)
class Note:
    t: float | None
    kind: str  # "info" | "tls" | "error"
    text: str


Event = Union[ClientLine, ServerReply, Note]


@dataclass(frozen=True, kw_only=True)
class Transcript:
    header: Header
    events: tuple[Event, ...]
    notation: str  # the notation it was read from ("jsonl", "text", "sc", ...)

    @property
    def client_lines(self) -> tuple[ClientLine, ...]:
        return tuple(e for e in self.events if isinstance(e, ClientLine))

    @property
    def replies(self) -> tuple[ServerReply, ...]:
        return tuple(e for e in self.events if isinstance(e, ServerReply))


def decode_line(body: bytes) -> str:
    """A line's bytes as text: valid Unicode, undecodable bytes as ``\\xHH``."""
    return body.decode("utf-8", "backslashreplace")


def to_bytes(text: str) -> bytes:
    """Text back to the bytes it was decoded from (``surrogateescape``); any other lone
    surrogate encoded as is, so that nothing raises."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def from_surrogates(text: str) -> tuple[str, bytes | None]:
    """Text that may hold ``surrogateescape`` bytes: (clean text, the exact bytes or None)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        data = to_bytes(text)
        return decode_line(data), data
    return text, None
