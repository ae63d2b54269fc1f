"""Message content streamed to the server: after DATA (``:file``, ``:send``) and in BDAT chunks.

Rules
-----
- Constant memory, no Python per line: content is read :data:`CHUNK` bytes at a time, framed
  by the protocol core (:class:`~smtpshell.protocol.data.DataEncoder` for DATA,
  :class:`~smtpshell.protocol.data.CrlfEncoder` for BDAT with ``--crlf``) and written with
  the connection's flow control. The last piece goes out with the lone dot, in one write.
- The screen shows the content as if typed, except when it is large: then the header
  section and a ``… N more lines (M bytes) …`` summary (:func:`content_preview`).
- BDAT (RFC 3030) sends bytes as they are: sizes are the exact byte counts of what goes
  out, with no dot-stuffing and no line-ending conversion unless asked (``--crlf``).
- The REPL sets ``shell.progress`` (a prompt_toolkit progress bar); content over
  :data:`PROGRESS_MIN` bytes uses it, and whatever the shell says meanwhile waits until
  the bar is gone. Scripts get a one-line summary instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable

from smtpshell.highlight import tokens as tok
from smtpshell.net import connection as net
from smtpshell.protocol.data import END_OF_DATA, CrlfEncoder, DataEncoder
from smtpshell.protocol.replies import Reply
from smtpshell.protocol.session import LocalProtocolError
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

CHUNK = 1 << 18  # bytes read and framed at a time
PROGRESS_MIN = 1 << 20  # content larger than this gets the REPL's progress bar
SHOW_ALL_BYTES = 16 * 1024  # content up to this size (and SHOW_ALL_LINES) is shown whole
SHOW_ALL_LINES = 200
HEADER_LINES = 60  # at most this many header lines are shown for large content
HELD_LINES = 200  # output kept while a progress bar is drawn; the rest is counted


# ----- what the screen shows (pure) -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Preview:
    lines: tuple[bytes, ...]  # shown as if typed, without their line endings
    nbytes: int  # how many bytes of the content they cover (endings included)
    whole: bool  # the whole content is shown


def content_preview(head: bytes, size: int) -> Preview:
    """What to show of content of ``size`` bytes whose first bytes are ``head``.

    Small content is shown whole; larger content its header section (up to and with the
    empty line that ends it, at most HEADER_LINES lines).
    """
    raw = head.splitlines(keepends=True)
    if size <= SHOW_ALL_BYTES and len(head) >= size and len(raw) <= SHOW_ALL_LINES:
        return Preview(lines=tuple(_strip(line) for line in raw), nbytes=size, whole=True)
    shown: list[bytes] = []
    nbytes = 0
    for line in raw[:HEADER_LINES]:
        if not line.endswith(b"\n"):
            break  # cut by the end of ``head``: not a whole line
        shown.append(_strip(line))
        nbytes += len(line)
        if not shown[-1]:
            break  # the empty line after the header section
    return Preview(lines=tuple(shown), nbytes=nbytes, whole=False)


def _strip(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith((b"\n", b"\r")):
        return line[:-1]
    return line


def summary_text(lines: int, nbytes: int) -> str:
    """``… 1,318 more lines (105,600,000 bytes) …``"""
    return f"… {lines:,} more line{'s' * (lines != 1)} ({nbytes:,} bytes) …"


def chunk_sizes(total: int, chunk_size: int | None) -> list[int]:
    """BDAT chunk sizes for ``total`` bytes: one chunk, or pieces of ``chunk_size`` (never none)."""
    if not chunk_size or total <= chunk_size:
        return [total]
    sizes = [chunk_size] * (total // chunk_size)
    if total % chunk_size:
        sizes.append(total % chunk_size)
    return sizes


def rate_text(nbytes: int, seconds: float) -> str:
    if seconds <= 0 or nbytes < PROGRESS_MIN:
        return ""
    return f" in {seconds:.2f} s ({nbytes / 1e6 / seconds:.0f} MB/s)"


def _content_line(text: str, shell: "Shell") -> display.Line:
    mark = display.client_mark(shell.view, shell.session.tls if shell.session else False)
    return ([(tok.MARK, mark)] if mark else []) + [(tok.HINT, text)]


def _show_preview(shell: "Shell", preview: Preview) -> None:
    tls = bool(shell.session and shell.session.tls)
    shell.emit(*(display.message_line(line, shell.view, tls=tls) for line in preview.lines))


# ----- progress ------------------------------------------------------------------


class _HeldOutput:
    """Keeps what the shell emits while a progress bar is drawn (at most HELD_LINES lines, then
    counts: a server answering every line of a chunk it did not expect must not fill memory);
    releases it afterwards."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.lines: list = []
        self.left_out = 0

    def emit(self, lines) -> None:
        room = HELD_LINES - len(self.lines)
        self.lines.extend(lines[:max(room, 0)])
        self.left_out += max(len(lines) - max(room, 0), 0)

    def release(self) -> None:
        if self.left_out:
            self.lines.append(display.note_line(
                f"… {self.left_out:,} more lines of output while the progress bar was shown, not shown"))
        if self.lines:
            self.inner.emit(self.lines)
        self.lines, self.left_out = [], 0


@contextlib.contextmanager
def progress(shell: "Shell", label: str, total: int):
    """Yield ``update(done_bytes)``: the REPL's progress bar for large content, else a no-op."""
    factory = shell.progress
    if factory is None or total <= PROGRESS_MIN:
        yield _no_progress
        return
    held = _HeldOutput(shell.output)
    shell.output = held
    try:
        with factory(label, total) as update:
            yield update
    finally:
        shell.output = held.inner
        held.release()


def _no_progress(done: int) -> None:
    pass


# ----- DATA ----------------------------------------------------------------------


def open_content(shell: "Shell", path: str) -> tuple[BinaryIO, int] | None:
    """Open a file to send, with its size; None after saying why it cannot be read."""
    path = os.path.expanduser(path)
    try:
        handle = open(path, "rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        shell.error(f"cannot read {path}: {exc.strerror or exc}")
        from smtpshell.shell.core import raise_if_script

        raise_if_script(shell, f"cannot read {path}", ExitStatus.USAGE)
        return None
    return handle, size


async def send_file_in_data(shell: "Shell", path: str) -> Reply | None:
    """``:file PATH`` after 354: the file as the message, the lone dot, the reply."""
    opened = open_content(shell, path)
    if opened is None:
        return None
    handle, size = opened
    with handle:
        return await send_data_content(shell, handle, size=size, name=os.path.basename(path) or path)


async def send_data_content(shell: "Shell", handle: BinaryIO, *, size: int, name: str,
                            note: bool = True) -> Reply | None:
    """After 354: ``handle``'s content (CRLF-normalised, dot-stuffed), the lone dot, the reply.

    ``note``: end with a one-line summary of what went out (for files).
    """
    conn = shell.conn
    head = handle.read(CHUNK)
    preview = content_preview(head, size)
    _show_preview(shell, preview)
    encoder = DataEncoder()
    started = time.perf_counter()
    read = 0
    try:
        with progress(shell, name, size) as update:
            chunk = head
            while True:
                before = encoder.lines
                wire = encoder.feed(chunk)
                read += len(chunk)
                update(read)
                following = handle.read(CHUNK) if chunk else b""
                if not following:
                    last = wire + encoder.finish()[: -len(END_OF_DATA)]
                    break
                if wire:
                    await conn.write_data(wire, newlines=encoder.lines - before)
                chunk = following
    except (net.NotConnected, ConnectionError):
        _cut_short(shell, name, read, size)
        return None
    except asyncio.CancelledError:
        await _drop_connection(shell, name, read, size)
        raise
    seconds = time.perf_counter() - started
    if not preview.whole:
        shell.emit(_content_line(summary_text(encoder.lines - len(preview.lines), read - preview.nbytes), shell))
    if note:
        shell.note(f"sent {name}: {encoder.bytes_in:,} bytes read, {encoder.bytes_out - len(END_OF_DATA):,} "
                   f"on the wire{_conversions(encoder)}{rate_text(read, seconds)}")
    return await shell.end_data(content=last)


def _conversions(encoder: CrlfEncoder) -> str:
    done = []
    if encoder.lf_fixed:
        done.append(f"{encoder.lf_fixed:,} bare LF made CRLF")
    dots = getattr(encoder, "dots", 0)
    if dots:
        done.append(f"{dots:,} line{'s' * (dots != 1)} dot-stuffed")
    return f" ({', '.join(done)})" if done else ""


async def _drop_connection(shell: "Shell", name: str, done: int, size: int) -> None:
    """Ctrl-C in the middle of content: the server would take what follows as the rest of it,
    and a lone dot would deliver the part that went; closing is the only clean way out."""
    shell.note(f"^C: {name} cut short after {done:,} of {size:,} bytes; closing the connection so that "
               "the partial message is not delivered (:reconnect to go on)")
    shell.cancel_explained = True  # the REPL's generic "^C: cancelled" would contradict this
    await shell.close_quietly()


def _cut_short(shell: "Shell", name: str, done: int, size: int) -> None:
    from smtpshell.shell.core import raise_if_script

    shell.error(f"the connection closed after {done:,} of {size:,} bytes of {name}: the message was NOT sent")
    raise_if_script(shell, "connection closed while sending the message", ExitStatus.CONNECTION)


# ----- BDAT ----------------------------------------------------------------------


class ChunkReader:
    """Exactly-sized reads over a file or bytes, optionally with line endings made CRLF."""

    def __init__(self, handle: BinaryIO, *, crlf: bool = False, end_line: bool = False) -> None:
        self.handle = handle
        self.encoder = CrlfEncoder() if crlf else None
        self.end_line = end_line
        self._buffer = bytearray()
        self._eof = False

    def read(self, n: int) -> bytes:
        if self.encoder is None:
            return self.handle.read(n)
        while len(self._buffer) < n and not self._eof:
            chunk = self.handle.read(CHUNK)
            if chunk:
                self._buffer += self.encoder.feed(chunk)
            else:
                self._buffer += self.encoder.finish(end_line=self.end_line)
                self._eof = True
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


def crlf_size(handle: BinaryIO, *, end_line: bool = False) -> tuple[int, CrlfEncoder]:
    """The size of ``handle``'s content once its line endings are CRLF (reads it to the end)."""
    encoder = CrlfEncoder()
    while chunk := handle.read(CHUNK):
        encoder.feed(chunk)
    encoder.finish(end_line=end_line)
    return encoder.bytes_out, encoder


def chunk_glimpse(first: bytes, size: int) -> str:
    """The start of a chunk, made printable: ``"Subject: hi\\r\\n…"`` (display makes CR/LF visible)."""
    shown = first[:48].decode("utf-8", "surrogateescape")
    return shown + ("…" if size > 48 else "")


async def send_bdat_chunks(
    shell: "Shell",
    read: Callable[[int], bytes],
    total: int,
    *,
    chunk_size: int | None,
    last: bool,
    name: str,
) -> Reply | None:
    """``BDAT n [LAST]`` and its bytes for each chunk, each reply waited for.

    Stops at the first chunk that is not answered 250 (and says how many were not sent).
    Returns the last reply, or None when none came.
    """
    sizes = chunk_sizes(total, chunk_size)
    reply: Reply | None = None
    for index, size in enumerate(sizes):
        is_last = last and index == len(sizes) - 1
        first = read(min(size, CHUNK))
        line = f"BDAT {size}{' LAST' if is_last else ''}"
        try:
            out = shell.conn.send_line(line, then=first)
        except (net.NotConnected, LocalProtocolError) as exc:
            shell.error(str(exc))
            return None
        which = f"chunk {index + 1}/{len(sizes)}" if len(sizes) > 1 else "chunk"
        shell.emit(display.hint_line(f"{which}: {size:,} bytes of {name}" + (f": {chunk_glimpse(first, size)}" if size else "")))
        sent = len(first)
        try:
            with progress(shell, f"{name} ({which})", size) as update:
                while sent < size:
                    block = read(min(size - sent, CHUNK))
                    if not block:
                        shell.error(f"{name} ended {size - sent:,} bytes early (did it change?): the chunk is "
                                    "incomplete and the server waits for the rest; :close drops the connection")
                        return None
                    await shell.conn.write_data(block)
                    sent += len(block)
                    update(sent)
        except (net.NotConnected, ConnectionError):
            _cut_short(shell, name, sent, size)
            return None
        except asyncio.CancelledError:
            await _drop_connection(shell, name, sent, size)
            raise
        reply = await shell.wait_reply(out.command)
        if reply is None:
            return None
        if reply.code != 250:
            left = len(sizes) - index - 1
            more = f"; {left} more chunk{'s' * (left != 1)} not sent" if left else ""
            shell.error(f"BDAT refused: {reply.code} {reply.text}{more}")
            return reply
    return reply
