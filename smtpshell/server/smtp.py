"""aiosmtpd's SMTP protocol, adjusted for the practice server.

What it adds to :class:`aiosmtpd.smtp.SMTP`: the CRAM-MD5 mechanism, an enhanced status code
on every reply (RFC 2034), the null reverse-path ``MAIL FROM:<>`` (which aiosmtpd refuses),
demo-user checks for PLAIN and LOGIN, and a polite ``421`` when the server shuts down.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from typing import Any, AnyStr

from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
    auth_mechanism,
    syntax,
)

from smtpshell.server.codes import with_enhanced_code
from smtpshell.server.handler import peer_name
from smtpshell.server.store import NULL_PATH
from smtpshell.server.users import DemoUser, UserBook

log = logging.getLogger(__name__)

S421_SHUTTING_DOWN = "421 4.3.2 {hostname} practice server shutting down"
S500_INTERNAL = "500 5.0.0 Internal error in the practice server: {reason}"
S501_NO_INITIAL_RESPONSE = "501 5.5.4 CRAM-MD5 takes no initial response"


class PracticeSMTP(SMTP):
    """One client connection to the practice server (aiosmtpd makes one protocol per connection)."""

    def __init__(
        self, handler: Any, *, users: UserBook, connections: set[PracticeSMTP], **kwargs: Any
    ) -> None:
        self._users = users
        self._connections = connections
        self._greeted = False  # the first reply is the greeting: it keeps its own words
        self._replies_as_is = False  # HELO/EHLO replies carry no enhanced code (RFC 2034)
        self._socket: asyncio.BaseTransport | None = None  # the TCP transport, under any TLS
        self._tls_up = False
        super().__init__(handler, authenticator=self._check_password, **kwargs)
        # aiosmtpd keeps these limits on the class and grows MAIL's on every EHLO.
        self.command_size_limits = collections.defaultdict(lambda: self.command_size_limit)
        self.closed: asyncio.Future[None] = self.loop.create_future()  # done once it is gone

    # --- connection bookkeeping, so the server can close what is still open ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Called for the TCP connection, and again when a STARTTLS handshake has succeeded."""
        if self._socket is None:
            self._socket = transport
            self._connections.add(self)
            log.info("%s: connected", peer_name(transport.get_extra_info("peername")))
        else:
            self._tls_up = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Forget the connection; aiosmtpd then stops its command loop. Called at most once."""
        if self.closed.done():
            return
        self.closed.set_result(None)
        self._connections.discard(self)
        log.info("%s: disconnected", peer_name(self.session and self.session.peer))
        super().connection_lost(error)

    def shut_down(self) -> None:
        """Tell the client ``421`` (RFC 5321 §3.8) and close the connection."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport is not self._socket and not self._tls_up:
            self.abort()  # mid-handshake: nothing can be said, and asyncio would never tell us
            return
        transport.write(S421_SHUTTING_DOWN.format(hostname=self.hostname).encode() + b"\r\n")
        transport.close()

    def abort(self) -> None:
        """Drop the connection at once, whatever state TLS is in."""
        if self._socket is not None:
            self._socket.abort()
        # An aborted TLS handshake never reaches connection_lost(): asyncio only reports a
        # lost connection to a protocol whose TLS session was established.
        self.connection_lost(None)

    # --- replies ---

    async def handle_exception(self, error: Exception) -> str:
        """The reply for an exception in a command; a failed TLS handshake is no server bug."""
        assert self.session is not None
        peer = peer_name(self.session.peer)
        if isinstance(error, TLSSetupException):  # aiosmtpd closes the connection, no reply
            log.info("%s: TLS handshake failed: %s", peer, error.__cause__ or error)
        else:
            log.error("%s: error in the practice server", peer, exc_info=error)
        return S500_INTERNAL.format(reason=f"{type(error).__name__}: {error}")

    async def push(self, status: AnyStr) -> None:
        """Send one reply line, adding an enhanced status code where aiosmtpd wrote none."""
        if isinstance(status, str) and self._greeted and not self._replies_as_is:
            status = with_enhanced_code(status)
        self._greeted = True
        await super().push(status)

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        """HELO, answered without enhanced status codes."""
        self._replies_as_is = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._replies_as_is = False

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        """EHLO, answered without enhanced status codes."""
        self._replies_as_is = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._replies_as_is = False

    # --- addresses ---

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser, but ``<>`` is the null path, not a syntax error."""
        address, rest = super()._getaddr(arg)
        if address == "" and arg.lstrip().startswith("<>"):
            return NULL_PATH, rest
        return address, rest

    # --- AUTH ---

    def _check_password(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator for PLAIN and LOGIN: the demo users' passwords."""
        assert isinstance(auth_data, LoginPassword)
        user = self._users.check_password(auth_data.login, auth_data.password)
        return _result(mechanism, user, session.peer)

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 2195: a ``<unique@host>`` challenge; the answer is ``user hex-HMAC-MD5``."""
        if len(args) > 1:
            await self.push(S501_NO_INITIAL_RESPONSE)
            return AuthResult(success=False, handled=True)
        challenge = f"<{secrets.randbelow(10**10)}.{time.time_ns()}@{self.hostname}>".encode()
        response = await self.challenge_auth(challenge)
        if not isinstance(response, bytes):  # "*" or bad base64, already answered
            return AuthResult(success=False, handled=True)
        assert self.session is not None
        return _result("CRAM-MD5", self._users.check_cram_md5(challenge, response), self.session.peer)


def _result(mechanism: str, user: DemoUser | None, peer: Any) -> AuthResult:
    if user is None:
        log.info("%s: AUTH %s failed", peer_name(peer), mechanism)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8
    log.info("%s: AUTH %s succeeded for %s", peer_name(peer), mechanism, user.name)
    return AuthResult(success=True, auth_data=user.name)
