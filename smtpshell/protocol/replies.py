"""SMTP reply parsing, without I/O.

Rules (RFC 5321 4.2):
- A reply line is ``CODE SP text CRLF`` or ``CODE CRLF``; a line ``CODE - text``
  continues a multi-line reply, which ends at the first line with ``CODE SP``
  (or a bare ``CODE``). A multi-line reply is one :class:`Reply`.
- The parser never raises on what a server sends. Whatever is odd is kept and
  named in ``Reply.problems``:
  - a line ending in a bare LF (tolerated, noted);
  - a line with no reply code (inside a multi-line reply it joins that reply,
    otherwise it is a reply of its own with ``code=None``);
  - a code that changes in the middle of a multi-line reply;
  - a line longer than the parser's limit (split, noted);
  - bytes that are not valid UTF-8, NUL, bare CR, other control characters
    (kept exactly in ``ReplyLine.raw``; shown visibly by the display).
- ``feed(b"")`` means the peer closed: a partial line or an unfinished
  multi-line reply is flushed as a reply with the problem "connection closed
  mid-reply".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5321 4.5.3.1.5: 512 octets for a reply line. Real servers exceed it, so
# the limit here is only what we keep in one line before splitting it.
MAX_LINE = 1 << 20

_CODE_RE = re.compile(rb"([0-9]{3})([ -]|$)")
_ENHANCED_RE = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?=\s|$)")
# C0 controls but TAB, DEL and C1 controls, in the decoded text.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

BARE_LF = "line ended with a bare LF, not CRLF"
NO_CODE = "line has no reply code"
CODE_CHANGED = "reply code changed in the middle of a multi-line reply"
TOO_LONG = "line longer than {limit} bytes (split)"
CLOSED_MID_REPLY = "connection closed in the middle of a reply"
BAD_UTF8 = "bytes that are not valid UTF-8"
CONTROL = "control characters in the line"


@dataclass(frozen=True, kw_only=True)
class ReplyLine:
    """One line of a reply as received."""

    raw: bytes  # the line, without its line ending
    ending: bytes  # b"\r\n", b"\n", or b"" (closed or split mid-line)
    code: int | None
    continued: bool  # True for "250-..." lines
    text: str  # what follows "CODE-" / "CODE ", decoded (surrogateescape)
    fragment: bool = False  # the rest of a line split for length: no code of its own

    @property
    def wire(self) -> bytes:
        return self.raw + self.ending


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One whole reply: all lines up to the final ``CODE SP`` line."""

    code: int | None
    lines: tuple[ReplyLine, ...]
    enhanced: str | None = None  # "5.7.8" when the reply starts with one
    problems: tuple[str, ...] = ()

    @property
    def reply_class(self) -> int | None:
        """2, 3, 4 or 5 (or another digit); None for a line with no code."""
        return None if self.code is None else self.code // 100

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(line.text for line in self.lines)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def wire(self) -> bytes:
        return b"".join(line.wire for line in self.lines)

    @property
    def complete(self) -> bool:
        """False when the connection closed before the reply's last line."""
        return CLOSED_MID_REPLY not in self.problems

    def is_positive(self) -> bool:
        return self.reply_class in (2, 3)


def split_enhanced(text: str) -> tuple[str | None, str]:
    """Split an enhanced status code (RFC 3463) off the front of reply text."""
    m = _ENHANCED_RE.match(text)
    if not m:
        return None, text
    return m.group(0), text[m.end():].lstrip(" ")


def _line_problems(raw: bytes) -> list[str]:
    problems = []
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(BAD_UTF8)
    if _CONTROL_RE.search(raw.decode("utf-8", "surrogateescape")):  # a regex: C speed on long lines
        problems.append(CONTROL)
    return problems


def parse_line(raw: bytes, ending: bytes) -> ReplyLine:
    m = _CODE_RE.match(raw)
    if m:
        code = int(m.group(1))
        continued = m.group(2) == b"-"
        text_bytes = raw[m.end():]
    else:
        code, continued, text_bytes = None, False, raw
    return ReplyLine(
        raw=raw,
        ending=ending,
        code=code,
        continued=continued,
        text=text_bytes.decode("utf-8", "surrogateescape"),
    )


class ReplyParser:
    """Incremental parser: ``feed(bytes)`` returns the replies completed by them."""

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._lines: list[ReplyLine] = []
        self._problems: list[str] = []
        self._max_line = max_line
        self._long_head: ReplyLine | None = None  # first piece of a split line
        self.closed = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete reply line."""
        return len(self._buf)

    def peek(self) -> bytes:
        """What is buffered (an unfinished reply and a partial line), left in place."""
        return b"".join(line.wire for line in self._lines) + bytes(self._buf)

    def take_buffer(self) -> bytes:
        """Remove and return what is buffered (a partial line and unfinished reply)."""
        data = self.peek()
        self._buf.clear()
        self._lines = []
        self._problems = []
        self._long_head = None
        return data

    @property
    def in_reply(self) -> bool:
        """True while a multi-line reply or a partial line is pending."""
        return bool(self._lines or self._buf)

    def feed(self, data: bytes) -> list[Reply]:
        if self.closed:
            return []
        replies: list[Reply] = []
        if not data:
            self.closed = True
            if self._buf:
                self._take_split(bytes(self._buf), b"", replies)
                self._buf.clear()
            if self._lines:
                self._problems.append(CLOSED_MID_REPLY)
                replies.append(self._finish())
            return replies
        self._buf += data
        start = 0
        buf = self._buf
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if nl > 0 and buf[nl - 1] == 0x0D and nl - 1 >= start:
                raw, ending = bytes(buf[start:nl - 1]), b"\r\n"
            else:
                raw, ending = bytes(buf[start:nl]), b"\n"
            self._take_split(raw, ending, replies)
            start = nl + 1
        del buf[:start]
        # Keep one byte of room for a CR whose LF has not arrived yet.
        while len(buf) > self._max_line + 1:
            raw = bytes(buf[: self._max_line])
            del buf[: self._max_line]
            self._problems.append(TOO_LONG.format(limit=self._max_line))
            self._take_line(raw, b"", replies, partial=True)
        return replies

    def _take_split(self, raw: bytes, ending: bytes, out: list[Reply]) -> None:
        """A whole line, in pieces of at most max_line, as if it had arrived that way."""
        while len(raw) > self._max_line:
            self._problems.append(TOO_LONG.format(limit=self._max_line))
            self._take_line(raw[: self._max_line], b"", out, partial=True)
            raw = raw[self._max_line:]
        self._take_line(raw, ending, out)

    def _take_line(self, raw: bytes, ending: bytes, out: list[Reply], partial: bool = False) -> None:
        head = self._long_head
        if head is not None:
            # The rest of a line that was split for length: same code, same role.
            line = ReplyLine(
                raw=raw, ending=ending, code=head.code, continued=head.continued,
                text=raw.decode("utf-8", "surrogateescape"), fragment=True,
            )
        else:
            line = parse_line(raw, ending)
        self._long_head = (head or line) if partial else None
        problems = self._problems
        if ending == b"\n":
            problems.append(BARE_LF)
        problems.extend(_line_problems(raw))
        if partial or head is not None:
            self._lines.append(line)
            if not partial and not line.continued:
                out.append(self._finish())
            return
        if line.code is None:
            problems.append(NO_CODE)
            self._lines.append(line)
            if len(self._lines) == 1:
                # A stray line on its own: a reply of its own, code None.
                out.append(self._finish())
            return
        if self._lines and self._lines[0].code is not None and self._lines[0].code != line.code:
            problems.append(CODE_CHANGED)
        self._lines.append(line)
        if not line.continued and ending:
            out.append(self._finish())

    def _finish(self) -> Reply:
        lines = tuple(self._lines)
        code = next((ln.code for ln in lines if ln.code is not None), None)
        # The final line's code is the one that counts, when they differ.
        if lines[-1].code is not None:
            code = lines[-1].code
        enhanced = None
        if code is not None and code // 100 in (2, 4, 5):
            enhanced, _ = split_enhanced(lines[0].text)
            if enhanced is not None and enhanced[0] != str(code // 100):
                enhanced = None  # RFC 3463: the class must match the reply's
        problems = tuple(dict.fromkeys(self._problems))  # unique, in order
        self._lines = []
        self._problems = []
        return Reply(code=code, lines=lines, enhanced=enhanced, problems=problems)
