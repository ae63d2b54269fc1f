"""CHUNKING (RFC 3030) for aiosmtpd, which has no BDAT: ``BDAT size [LAST]`` and its chunks.

:class:`ChunkingMixin` goes before aiosmtpd's ``SMTP`` in a protocol class's bases. aiosmtpd
still reads every command line; ``smtp_BDAT`` then reads exactly the announced bytes from the
same stream (also when it refuses the chunk: RFC 3030 §2, or the bytes would be taken for
commands), answers ``250`` per chunk and, on ``LAST``, hands the message to the handler's
``handle_DATA`` hook as DATA would, with no dot-unstuffing. The chunk sizes are kept on the
envelope (:class:`ChunkedEnvelope`). The handler advertises ``CHUNKING`` in its EHLO hook.

Used by the practice server (:class:`smtpshell.server.smtp.PracticeSMTP`) and by the test
suite's extended aiosmtpd (``tests/support/esmtpd.py``).
"""

from __future__ import annotations

import re

from aiosmtpd.smtp import MISSING, SMTP, Envelope, syntax

__all__ = ["ChunkedEnvelope", "ChunkingMixin", "parse_bdat"]

S250_CHUNK = "250 2.0.0 {size} octets received"
S501_BDAT_SYNTAX = "501 5.5.4 Syntax: BDAT chunk-size [LAST]"
S503_NEED_RCPT = "503 5.5.1 Error: need RCPT command"
S503_DATA_AFTER_BDAT = "503 5.5.1 Error: DATA after BDAT: send the rest with BDAT (RFC 3030)"
S552_TOO_MUCH = "552 Error: Too much mail data"
"""aiosmtpd's own words for DATA, so the practice server's ``size`` mode rewords both alike."""

_BDAT_ARG = re.compile(r"(?P<size>\d{1,18})(?: +(?P<last>LAST))? *\Z", re.IGNORECASE)
_DISCARD_PIECE = 65536


def parse_bdat(arg: str | None) -> tuple[int, bool] | None:
    """``(size, last)`` from BDAT's argument (``"512"``, ``"0 LAST"``), None if malformed."""
    match = _BDAT_ARG.match((arg or "").strip())
    if match is None:
        return None
    return int(match["size"]), match["last"] is not None


class ChunkedEnvelope(Envelope):
    """An aiosmtpd envelope that remembers the BDAT chunks of its message."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[int] = []
        """The size of each BDAT chunk so far, in order; empty for a message sent with DATA."""
        self.chunk_data = bytearray()


class ChunkingMixin(SMTP):
    """BDAT for an aiosmtpd ``SMTP`` subclass; see the module docstring."""

    envelope: ChunkedEnvelope | None  # type: ignore[assignment]

    def _create_envelope(self) -> ChunkedEnvelope:
        return ChunkedEnvelope()

    def chunk_refusal(self, size: int, last: bool) -> str | None:
        """Called for each well-formed BDAT once its bytes are read: a reply refusing the chunk
        (the transaction is then dropped), or None. Subclasses override it; this refuses nothing."""
        return None

    async def skip_chunk(self, arg: str | None) -> None:
        """Read and drop the bytes of the BDAT whose argument is *arg*, when something refuses the
        command before :meth:`smtp_BDAT` runs."""
        parsed = parse_bdat(arg)
        if parsed is not None:
            await self._discard(parsed[0])

    @syntax("BDAT chunk-size [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """A chunk of the message; LAST ends it and the message is kept as DATA's would be."""
        parsed = parse_bdat(arg)
        if parsed is None:
            await self.push(S501_BDAT_SYNTAX)
            return
        size, last = parsed
        envelope = self.envelope
        assert envelope is not None
        limit = self.data_size_limit
        if limit and len(envelope.chunk_data) + size > limit:
            await self._discard(size)
            self._set_rset_state()
            await self.push(S552_TOO_MUCH)
            return
        chunk = await self._reader.readexactly(size)
        refusal = self.chunk_refusal(size, last)
        if refusal is None:
            refusal = self._sequence_error()
        if refusal is not None:
            if envelope.chunks:  # a refused chunk ends the transaction (RFC 3030 §2)
                self._set_rset_state()
            await self.push(refusal)
            return
        envelope.chunks.append(size)
        envelope.chunk_data += chunk
        if not last:
            await self.push(S250_CHUNK.format(size=size))
            return
        envelope.original_content = envelope.content = bytes(envelope.chunk_data)  # decode_data=False
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA, refused in the middle of a message sent in chunks."""
        if self.envelope is not None and self.envelope.chunks:
            await self.push(S503_DATA_AFTER_BDAT)
            return
        await super().smtp_DATA(arg)

    def _sequence_error(self) -> str | None:
        """The reply for a BDAT out of order (before EHLO, AUTH or RCPT), or None."""
        assert self.session is not None and self.envelope is not None
        if not self.session.host_name:
            return "503 Error: send HELO first"
        if self._auth_required and not self.session.authenticated:
            return "530 5.7.0 Authentication required"
        if not self.envelope.rcpt_tos:
            return S503_NEED_RCPT
        return None

    async def _discard(self, size: int) -> None:
        while size > 0:
            piece = await self._reader.readexactly(min(size, _DISCARD_PIECE))
            size -= len(piece)
