"""From classified lines to transcript events: the state every notation shares.

A notation reader decides, line by line, who spoke (``server``, ``client``, or
``either`` when only the content can tell, as for bare telnet text and RFC
821's ``S:``) and hands the payload to an :class:`Assembler`, which knows SMTP:

- A reply is one event: ``CODE-`` lines continue it up to the ``CODE SP`` (or
  bare ``CODE``) line; a line with no code inside a reply joins it, on its own
  it is a reply of its own with ``code=None``. A client line interrupting an
  unfinished reply ends it.
- After a final ``354`` every client line is message content (un-stuffed)
  until a lone ``.`` -- even ``250 apples``; a server line there means the
  content was not shown (sendmail ``-v``): the message is over.
  After ``BDAT n`` the next ``n`` bytes of client lines are content.
- After a final ``334`` the next client line is an AUTH response; ``***`` (or
  an ``AUTH`` line with a ``***`` word) is a masked secret.
- Replies answer commands in order (pipelining); when ``STARTTLS`` gets a 220
  and the notation does not say that TLS started, a ``tls`` note is added.
"""

from __future__ import annotations

import re
from collections import deque

from smtpshell.transcript.events import ClientLine, Event, Note, ServerReply, from_surrogates, to_bytes

CODE_RE = re.compile(r"([0-9]{3})(?:[ -]|$)")
_SIZE = re.compile(r"[0-9]{1,12}")
_HINT_SUFFIX = re.compile(r"\s+\u21b3 .*$")  # the shell's EHLO keyword hints
_LATENCY_SUFFIX = re.compile(r"  \([0-9]+(?:\.[0-9]+)? ms\)$")  # the shell's --timestamps


def is_reply(text: str) -> bool:
    return CODE_RE.match(text) is not None


def reply_code(text: str) -> tuple[int | None, bool]:
    """(code, final) of one reply line; (None, False) when it has no code."""
    m = CODE_RE.match(text)
    if m is None:
        return None, False
    return int(m.group(1)), text[3:4] != "-"


def _is_secret(text: str) -> bool:
    words = text.split()
    if text.strip() == "***":
        return True
    return bool(words) and words[0].upper() == "AUTH" and "***" in words[2:]


class Assembler:
    """Feed it classified lines in order; ``events`` is the transcript so far."""

    def __init__(self, *, strip_latency: bool = False) -> None:
        self.events: list[Event] = []
        self.strip_latency = strip_latency
        self._reply: list[str] = []
        self._reply_t: float | None = None
        self._pending: deque[str] = deque(["GREETING"])
        self.in_data = False
        self._bdat_left = 0  # bytes of BDAT content still to come
        self._sasl = False
        self._tls_due = False
        self._replied = False

    @property
    def reply_open(self) -> bool:
        return bool(self._reply)

    @property
    def in_content(self) -> bool:
        return self.in_data or self._bdat_left > 0

    # ----- output ---------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self._tls_due:
            self._tls_due = False
            if not (isinstance(event, Note) and event.kind == "tls"):
                self.events.append(Note(t=event.t, kind="tls", text="TLS started (STARTTLS)"))
        self.events.append(event)

    def note(self, kind: str, text: str, t: float | None = None) -> None:
        self._flush()
        self._emit(Note(t=t, kind=kind, text=from_surrogates(text)[0]))

    # ----- the server -----------------------------------------------------

    def server(self, text: str, t: float | None = None) -> None:
        if self.in_content:
            # The server cannot speak mid-message: the content was not shown.
            self.in_data = False
            self._bdat_left = 0
        if "\u21b3" in text:
            text = _HINT_SUFFIX.sub("", text)
        if self.strip_latency:
            text = _LATENCY_SUFFIX.sub("", text)
        code, final = reply_code(text)
        if not self._reply:
            self._reply_t = t
        self._reply.append(text)
        if code is None:
            if len(self._reply) == 1:
                self._flush()  # a stray line: a reply of its own
            return
        if final:
            self._flush()

    def _flush(self) -> None:
        if not self._reply:
            return
        lines, self._reply = self._reply, []
        code = reply_code(lines[-1])[0]  # the last line's code, else the first one's there is
        if code is None:
            code = next((c for c in (reply_code(line)[0] for line in lines) if c is not None), None)
        if "".join(lines).isascii():  # the common case: the text is the bytes
            clean, raw_bytes = lines, None
        else:
            clean = []
            raw_parts: list[bytes] = []
            needs_raw = False
            for line in lines:
                text, raw = from_surrogates(line)
                clean.append(text)
                needs_raw |= raw is not None
                raw_parts.append((raw if raw is not None else text.encode("utf-8")) + b"\r\n")
            raw_bytes = b"".join(raw_parts) if needs_raw else None
        self._replied = True
        self._emit(ServerReply(t=self._reply_t, code=code, lines=tuple(clean), raw=raw_bytes))
        if code is None:
            return
        verb = self._pending.popleft() if self._pending else None
        self._sasl = code == 334
        if code == 354:
            self.in_data = True
        if verb == "STARTTLS" and code == 220:
            self._tls_due = True

    # ----- the client -----------------------------------------------------

    def client(self, text: str, t: float | None = None) -> None:
        self._flush()  # an unfinished reply ends here
        if not self._replied and self._pending and self._pending[0] == "GREETING":
            self._pending.popleft()  # the text starts after the greeting
        if self.in_data:
            if text in (".", "<CRLF>.<CRLF>"):  # RFC 821 writes the end of data so
                text = "."
                self.in_data = False
                self._pending.append(".")
                self._client_event(t, text)
            else:
                self._client_event(t, text[1:] if text.startswith(".") else text, data=True)
            return
        if self._bdat_left > 0:
            self._bdat_left -= len(to_bytes(text)) + 2
            self._client_event(t, text, data=True, stuffed=False)
            return
        words = text.split()
        verb = words[0].upper() if words else ""
        if self._sasl:
            verb = "SASL"
            self._sasl = False
        elif verb == "BDAT" and len(words) > 1 and _SIZE.fullmatch(words[1]):
            self._bdat_left = int(words[1])
        self._pending.append(verb)
        self._client_event(t, text, secret=_is_secret(text))

    def content_lines(self, lines, start: int, end: int, skip) -> int:
        """Message content from ``lines[start:end]`` (``(t, text)`` pairs) at once, as
        :meth:`client` takes it line by line, while the message goes on; ``skip(text)``: a line
        that is not the session's (left out). Returns the index of the first line not taken: the
        end of the message, or a line that needs :meth:`client` (one that is not ASCII)."""
        if not self.in_data or self._reply or self._tls_due:
            return start
        append = self.events.append
        k = start
        while k < end:
            t, text = lines[k]
            if text == "." or text == "<CRLF>.<CRLF>" or not text.isascii():
                return k
            if text[:1] == ".":
                append(ClientLine(t=t, line=text[1:], data=True))
            elif not skip(text):
                append(ClientLine(t=t, line=text, data=True))
            k += 1
        return k

    def either(self, text: str, t: float | None = None) -> None:
        """A line whose speaker only its content tells (bare text, RFC 821 ``S:``)."""
        if not self.in_content and is_reply(text.lstrip(" \t")):
            self.server(text.lstrip(" \t"), t)
        else:
            self.client(text, t)

    def end_data_unseen(self, text: str, t: float | None = None) -> None:
        """The message went out but the notation does not show it (Exim's "writing message"):
        a note, then the lone dot that ended it."""
        self.note("info", text, t)
        if self.in_data:
            self.client(".", t)

    def _client_event(self, t, text: str, *, data: bool = False, secret: bool = False, stuffed: bool = True) -> None:
        line, body = from_surrogates(text)
        raw = None
        if body is not None or (data and not stuffed and line.startswith(".")):
            body = body if body is not None else line.encode("utf-8")
            raw = (b"." if data and stuffed and body.startswith(b".") else b"") + body + b"\r\n"
        self._emit(ClientLine(t=t, line=line, raw=raw, secret=secret, data=data))

    def finish(self) -> tuple[Event, ...]:
        self._flush()
        if self._tls_due:
            self._tls_due = False
            last_t = self.events[-1].t if self.events else None
            self.events.append(Note(t=last_t, kind="tls", text="TLS started (STARTTLS)"))
        return tuple(self.events)
