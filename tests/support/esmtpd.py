"""aiosmtpd with the two extensions aiosmtpd leaves out: DSN (RFC 3461) and CHUNKING (RFC 3030).

A real aiosmtpd server -- its protocol code reads every command -- subclassed to:

- advertise DSN and CHUNKING (through the handler's ``handle_EHLO`` hook);
- accept ``RET=``/``ENVID=`` on MAIL and ``NOTIFY=``/``ORCPT=`` on RCPT (aiosmtpd answers
  555 to parameters it does not know) and keep them in ``envelope.mail_options`` /
  ``envelope.rcpt_options``, as aiosmtpd keeps SIZE, BODY and SMTPUTF8;
- take BDAT with the practice server's own :class:`smtpshell.server.chunking.ChunkingMixin`
  (exactly the announced bytes after the command line, 250 each chunk, the message to
  ``handle_DATA`` on LAST; the chunk sizes kept on the envelope).

The handler (:class:`Keeper`) records every message with its envelope and options, and
refuses what a test asks it to (a sender, recipients, the Nth BDAT chunk).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP

from smtpshell.server.chunking import ChunkingMixin
from tests.support.servers import AioSmtpd

DSN_MAIL = ("RET", "ENVID")
DSN_RCPT = ("NOTIFY", "ORCPT")


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    rcpt_options: list[str]
    content: bytes
    smtp_utf8: bool
    verb: str  # "DATA" or "BDAT"
    chunks: list[int] = field(default_factory=list)  # BDAT chunk sizes, in order


@dataclass
class Keeper:
    """aiosmtpd handler: keeps messages; refuses what it is told to."""

    advertise: tuple[str, ...] = ("DSN", "CHUNKING")
    refuse_senders: frozenset[str] = frozenset()
    refuse_recipients: frozenset[str] = frozenset()
    refuse_chunk: int | None = None  # refuse the Nth BDAT chunk (1-based) of a message
    messages: list[Message] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # the BDAT and RSET commands seen, in order
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + [f"250-{keyword}" for keyword in self.advertise] + responses[-1:]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address in self.refuse_senders:
            return "550 5.7.1 sender refused by the test"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_RSET(self, server, session, envelope):
        self.commands.append("RSET")
        return "250 2.0.0 OK"

    async def handle_DATA(self, server, session, envelope):
        chunks = envelope.chunks  # a ChunkedEnvelope: empty for DATA
        self.messages.append(Message(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            mail_options=list(envelope.mail_options), rcpt_options=list(envelope.rcpt_options),
            content=envelope.original_content, smtp_utf8=envelope.smtp_utf8,
            verb="BDAT" if chunks else "DATA", chunks=list(chunks),
        ))
        self.arrived.set()
        return "250 2.0.0 OK: queued"


def _take(arg: str | None, names: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """Take the named parameters out of a MAIL/RCPT argument (aiosmtpd would refuse them)."""
    if not arg:
        return arg, []
    kept, taken = [], []
    for word in arg.split(" "):
        (taken if word.partition("=")[0].upper() in names else kept).append(word)
    return " ".join(kept), taken


class ExtendedSMTP(ChunkingMixin, SMTP):
    """aiosmtpd's SMTP with DSN parameters and BDAT."""

    async def smtp_MAIL(self, arg):
        arg, dsn = _take(arg, DSN_MAIL)
        await super().smtp_MAIL(arg)
        if dsn and self.envelope.mail_from:
            self.envelope.mail_options.extend(dsn)

    async def smtp_RCPT(self, arg):
        arg, dsn = _take(arg, DSN_RCPT)
        before = len(self.envelope.rcpt_tos)
        await super().smtp_RCPT(arg)
        if dsn and len(self.envelope.rcpt_tos) > before:
            self.envelope.rcpt_options.extend(dsn)

    def chunk_refusal(self, size, last):
        """Note the BDAT in the handler's ``commands``; its ``refuse_chunk``: the Nth chunk of a
        message gets 552."""
        self.event_handler.commands.append(f"BDAT {size}{' LAST' if last else ''}")
        if self.event_handler.refuse_chunk == len(self.envelope.chunks) + 1:
            return "552 5.3.4 chunk refused by the test"
        return None


class ExtendedAioSmtpd(AioSmtpd):
    """Like :class:`tests.support.servers.AioSmtpd` (STARTTLS, port 0), with DSN and CHUNKING."""

    def __init__(self, *, server_ctx=None, **keeper) -> None:
        super().__init__(server_ctx=server_ctx)
        self.handler = Keeper(**keeper)

    def _factory(self):
        return ExtendedSMTP(
            self.handler,
            hostname="smtp.test",
            tls_context=self.server_ctx,
            auth_require_tls=False,
            enable_SMTPUTF8=True,
        )

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages
