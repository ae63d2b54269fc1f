"""Real servers for tests, all on 127.0.0.1 with port 0.

- ``AioSmtpd``: a real aiosmtpd SMTP server (STARTTLS with a trustme
  certificate, optional implicit TLS, AUTH), recording what it received.
- ``ScriptedServer``: a tiny server that plays a list of steps (send bytes,
  read a line, close), for behaviour no real server shows on purpose.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every message."""

    messages: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.arrived.set()
        return "250 2.0.0 Ok: queued"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"alice" and auth_data.password == b"wonderland"
    return AuthResult(success=ok)


class AioSmtpd:
    def __init__(self, *, server_ctx: ssl.SSLContext | None, implicit_tls: bool = False) -> None:
        self.server_ctx = server_ctx
        self.implicit_tls = implicit_tls
        self.handler = Recorder()
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    def _factory(self):
        return SMTP(
            self.handler,
            hostname="smtp.test",
            tls_context=None if self.implicit_tls else self.server_ctx,
            auth_require_tls=False,
            authenticator=_authenticator,
            enable_SMTPUTF8=True,
        )

    async def start(self) -> "AioSmtpd":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, self.host, 0, ssl=self.server_ctx if self.implicit_tls else None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


class ScriptedServer:
    """Plays ``steps`` for each connection: bytes to send, "READLINE", "CLOSE", "HANG"."""

    def __init__(self, steps: list) -> None:
        self.steps = steps
        self.received: list[bytes] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.done = asyncio.Event()
        self._server = None
        self._hang = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for step in self.steps:
                if step == "READLINE":
                    line = await reader.readline()
                    self.received.append(line)
                    if not line:
                        break
                elif step == "CLOSE":
                    break
                elif step == "HANG":
                    await self._hang.wait()
                else:
                    writer.write(step)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.done.set()

    async def start(self) -> "ScriptedServer":
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._hang.set()
        self._server.close()
        await self._server.wait_closed()
