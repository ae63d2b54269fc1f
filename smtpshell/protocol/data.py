"""Message content framing for DATA (RFC 5321 4.5.2) and BDAT (RFC 3030), without I/O.

Both encoders stream: feed them chunks of any size and they hold back only the
incomplete last line. They are built for 100 MB messages: a chunk that is already
clean (CRLF line endings, no line starting with ``.``) is checked in one pass of
the regular-expression engine and passed on unchanged; only chunks that need it
are rewritten (with ``bytes.replace``, never line by line in Python).
"""

from __future__ import annotations

import re

END_OF_DATA = b".\r\n"

# What makes a chunk need work: a bare LF (not after CR), or (for DATA) a line starting with a dot.
# Both begin with a literal LF, so the engine scans for it at C speed.
_BARE_LF = re.compile(rb"\n(?<!\r\n)")
_NEEDS_WORK = re.compile(rb"\n(?:(?<!\r\n)|\.)")


def stuff_line(line: bytes) -> bytes:
    """One message line as it goes on the wire after DATA: dot-stuffed, CRLF added.

    ``line`` must not contain its line ending.
    """
    if line.startswith(b"."):
        return b"." + line + b"\r\n"
    return line + b"\r\n"


def _to_crlf(body: bytes) -> bytes:
    """Every line ending in ``body`` as CRLF (a CR inside a line is left alone)."""
    if b"\r" not in body:
        return body.replace(b"\n", b"\r\n")
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class CrlfEncoder:
    """Stream content with every line ending made CRLF, and nothing else changed.

    For BDAT (RFC 3030 chunks are neither dot-stuffed nor converted by the
    protocol: this is the explicit ``--crlf`` normalisation) and the base of
    :class:`DataEncoder`. Counters: ``bytes_in``, ``bytes_out``, ``lines``
    (line endings seen), ``lf_fixed`` (bare LFs made CRLF).
    """

    def __init__(self) -> None:
        self._pending = b""  # an incomplete last line
        self.bytes_in = 0
        self.bytes_out = 0
        self.lines = 0
        self.lf_fixed = 0

    def feed(self, chunk: bytes) -> bytes:
        self.bytes_in += len(chunk)
        data = self._pending + chunk if self._pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            return b""
        if cut == len(data) - 1:
            self._pending = b""
            body = data
        else:
            self._pending = data[cut + 1:]
            body = data[: cut + 1]
        self.lines += body.count(b"\n")
        out = self._frame(body)
        self.bytes_out += len(out)
        return out

    def _frame(self, body: bytes) -> bytes:
        """``body`` starts at a line start and ends with LF."""
        if _BARE_LF.search(body) is None:
            return body
        fixed = _to_crlf(body)
        self.lf_fixed += len(fixed) - len(body)
        return fixed

    def finish(self, *, end_line: bool = False) -> bytes:
        """The rest; with ``end_line`` an unterminated last line gets its CRLF."""
        if not self._pending:
            return b""
        tail, self._pending = self._pending, b""
        if end_line:
            if tail.endswith(b"\r"):
                tail = tail[:-1]
            tail += b"\r\n"
            self.lines += 1
        self.bytes_out += len(tail)
        return tail


class DataEncoder(CrlfEncoder):
    """Stream a message into DATA framing with constant memory.

    Feed it chunks of a message in any line-ending convention (CRLF, bare LF,
    or bare CR is left alone inside lines); it yields wire bytes where every
    line ends in CRLF and every line starting with ``.`` is doubled.
    ``finish()`` returns the rest plus the terminating ``.CRLF`` (adding a
    CRLF first when the message does not end with one). ``dots`` counts the
    lines that were dot-stuffed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dots = 0

    def _frame(self, body: bytes) -> bytes:
        if _NEEDS_WORK.search(body) is not None:
            fixed = _to_crlf(body)
            self.lf_fixed += len(fixed) - len(body)
            stuffed = fixed.replace(b"\r\n.", b"\r\n..")
            self.dots += len(stuffed) - len(fixed)
        else:
            stuffed = body
        # ``body`` begins at the start of a line: a dot there needs stuffing too.
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
            self.dots += 1
        return stuffed

    def finish(self) -> bytes:  # type: ignore[override]
        out = b""
        if self._pending:
            tail = self._pending
            self._pending = b""
            if tail.endswith(b"\r"):
                tail = tail[:-1]
            out = stuff_line(tail)
            self.lines += 1
            self.dots += tail.startswith(b".")
        out += END_OF_DATA
        self.bytes_out += len(out)
        return out


def dot_stuff(message: bytes) -> bytes:
    """A whole message framed for DATA, terminator included."""
    enc = DataEncoder()
    return enc.feed(message) + enc.finish()


def to_crlf(content: bytes) -> bytes:
    """Whole content with every line ending made CRLF (nothing added at the end)."""
    enc = CrlfEncoder()
    return enc.feed(content) + enc.finish()


def bdat_command(size: int, *, last: bool) -> bytes:
    """The BDAT command line for a chunk of ``size`` bytes."""
    return f"BDAT {size}{' LAST' if last else ''}\r\n".encode("ascii")
