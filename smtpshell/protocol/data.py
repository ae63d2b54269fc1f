"""Message content framing for DATA (RFC 5321 4.5.2) and BDAT (RFC 3030), without I/O."""

from __future__ import annotations

END_OF_DATA = b".\r\n"


def stuff_line(line: bytes) -> bytes:
    """One message line as it goes on the wire after DATA: dot-stuffed, CRLF added.

    ``line`` must not contain its line ending.
    """
    if line.startswith(b"."):
        return b"." + line + b"\r\n"
    return line + b"\r\n"


class DataEncoder:
    """Stream a message into DATA framing with constant memory.

    Feed it chunks of a message in any line-ending convention (CRLF, bare LF,
    or bare CR is left alone inside lines); it yields wire bytes where every
    line ends in CRLF and every line starting with ``.`` is doubled.
    ``finish()`` returns the rest plus the terminating ``.CRLF`` (adding a
    CRLF first when the message does not end with one).
    """

    def __init__(self) -> None:
        self._pending = b""  # an incomplete last line
        self.bytes_in = 0
        self.bytes_out = 0

    def feed(self, chunk: bytes) -> bytes:
        self.bytes_in += len(chunk)
        data = self._pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            return b""
        self._pending = data[cut + 1:]
        body = data[: cut + 1]
        # Normalise to CRLF: strip CR before LF, then put it back everywhere.
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        # Dot-stuff: a dot at the very start, or after any line break.
        # (``body`` always begins at the start of a line.)
        stuffed = body.replace(b"\r\n.", b"\r\n..")
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        self.bytes_out += len(stuffed)
        return stuffed

    def finish(self) -> bytes:
        out = b""
        if self._pending:
            tail = self._pending
            self._pending = b""
            if tail.endswith(b"\r"):
                tail = tail[:-1]
            out = stuff_line(tail)
        out += END_OF_DATA
        self.bytes_out += len(out)
        return out


def dot_stuff(message: bytes) -> bytes:
    """A whole message framed for DATA, terminator included."""
    enc = DataEncoder()
    return enc.feed(message) + enc.finish()


def bdat_command(size: int, *, last: bool) -> bytes:
    """The BDAT command line for a chunk of ``size`` bytes."""
    return f"BDAT {size}{' LAST' if last else ''}\r\n".encode("ascii")
