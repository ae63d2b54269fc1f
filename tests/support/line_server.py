"""A small SMTP server on 127.0.0.1 (port 0) for behaviour aiosmtpd does not show on purpose.

- It advertises PIPELINING and answers every command that one read brought with **one
  write**, as Postfix does; ``chunks`` keeps each read as it arrived (one client write
  of a few hundred bytes on loopback is one read), so tests see how the client batched.
- ``end_of_data``: ``"crlf"`` ends DATA only at ``<CR><LF>.<CR><LF>`` (RFC 5321);
  ``"lf"`` also at a ``.`` line ended by a bare LF or preceded by one (``\\n.\\n``,
  ``\\n.\\r\\n``, ``\\r\\n.\\n``): the lenient kind that SMTP smuggling needs. In ``"lf"``
  mode commands may end with a bare LF too.
- ``reject_bare_lf``: refuse a message that contains a bare LF (``550 5.5.2``), as Postfix
  does with ``smtpd_forbid_bare_newline = reject``.
- ``sync_check``: after the end of a message, bytes already waiting in the same read are
  a pipelining violation: ``554 5.5.0`` and the connection is closed (the shape of Postfix's
  ``smtpd_forbid_unauth_pipelining``).
- ``messages`` keeps every accepted message: envelope and content exactly as received.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


_LENIENT_END = re.compile(rb"\n\.\r?\n")


@dataclass
class _Envelope:
    mail_from: str = ""
    rcpt_tos: list[str] = field(default_factory=list)


class _Connection(asyncio.Protocol):
    def __init__(self, server: "LineServer") -> None:
        self.server = server
        self.buf = bytearray()
        self.in_data = False
        self.envelope = _Envelope()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 line.test ESMTP test server\r\n")

    def data_received(self, data: bytes) -> None:
        self.server.chunks.append(data)
        self.buf += data
        out: list[bytes] = []
        close = self._process(out)
        if out:
            self.transport.write(b"".join(out))  # one write for everything this read asked
        if close:
            self.transport.close()

    def _process(self, out: list[bytes]) -> bool:
        """Answer what is complete in the buffer; True when the connection must close."""
        while True:
            if self.in_data:
                ended = self._take_message()
                if ended is None:
                    return False
                out.append(ended)
                if self.server.sync_check and self.buf:
                    out.append(b"554 5.5.0 Error: SMTP protocol synchronization\r\n")
                    return True
                continue
            line = self._take_line()
            if line is None:
                return False
            reply, close = self._command(line)
            out.append(reply)
            if close:
                return True

    def _take_line(self) -> bytes | None:
        if self.server.end_of_data == "lf":
            end = self.buf.find(b"\n")
            if end < 0:
                return None
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[:end + 1]
            return line
        end = self.buf.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def _take_message(self) -> bytes | None:
        # A virtual line ending before the content lets an empty message (".\r\n") match too.
        if self.server.end_of_data == "lf":
            text = b"\n" + bytes(self.buf)
            match = _LENIENT_END.search(text)
            if match is None:
                return None
            content, consumed = text[1:match.start() + 1], match.end() - 1
        else:
            text = b"\r\n" + bytes(self.buf)
            at = text.find(b"\r\n.\r\n")
            if at < 0:
                return None
            content, consumed = text[2:at + 2], at + 3
        del self.buf[:consumed]
        self.in_data = False
        envelope, self.envelope = self.envelope, _Envelope()
        if self.server.reject_bare_lf and re.search(rb"(?<!\r)\n", content):
            return b"550 5.5.2 Error: bare <LF> received\r\n"
        self.server.messages.append(Message(envelope.mail_from, envelope.rcpt_tos, content))
        return f"250 2.0.0 Ok: queued as {len(self.server.messages)}\r\n".encode()

    def _command(self, line: bytes) -> tuple[bytes, bool]:
        self.server.commands.append(line)
        verb, _, arg = line.decode("utf-8", "surrogateescape").partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            keywords = [b"PIPELINING"] * self.server.pipelining + [b"8BITMIME"]
            lines = [b"line.test"] + keywords
            return b"".join(b"250-" + k + b"\r\n" for k in lines[:-1]) + b"250 " + lines[-1] + b"\r\n", False
        if verb == "MAIL":
            self.envelope = _Envelope(mail_from=arg.partition(":")[2].strip().strip("<>"))
            return b"250 2.1.0 Ok\r\n", False
        if verb == "RCPT":
            self.envelope.rcpt_tos.append(arg.partition(":")[2].strip().strip("<>"))
            return b"250 2.1.5 Ok\r\n", False
        if verb == "DATA":
            if not self.envelope.rcpt_tos:
                return b"503 5.5.1 Error: need RCPT command\r\n", False
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n", False
        if verb in ("RSET", "NOOP", "HELO"):
            if verb == "RSET":
                self.envelope = _Envelope()
            return b"250 2.0.0 Ok\r\n", False
        if verb == "QUIT":
            return b"221 2.0.0 Bye\r\n", True
        return b"502 5.5.2 Error: command not recognized\r\n", False


class LineServer:
    def __init__(self, *, end_of_data: str = "crlf", pipelining: bool = True, reject_bare_lf: bool = False,
                 sync_check: bool = False) -> None:
        assert end_of_data in ("crlf", "lf")
        self.end_of_data = end_of_data
        self.pipelining = pipelining
        self.reject_bare_lf = reject_bare_lf
        self.sync_check = sync_check
        self.chunks: list[bytes] = []  # every read, as it arrived
        self.commands: list[bytes] = []  # every command line, without its line ending
        self.messages: list[Message] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> "LineServer":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
