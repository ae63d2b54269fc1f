"""aiosmtpd's SMTP protocol, adjusted for the practice server.

What it adds to :class:`aiosmtpd.smtp.SMTP`: the SASL mechanisms SCRAM-SHA-256 and SCRAM-SHA-1
(RFC 5802, RFC 7677), CRAM-MD5 (RFC 2195), OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's),
beside aiosmtpd's PLAIN and LOGIN, all checked against the demo users; an enhanced status
code on every reply (RFC 2034); the null reverse-path ``MAIL FROM:<>`` (which aiosmtpd
refuses); mechanism names in any case (``auth login``, which aiosmtpd refuses); CHUNKING
(BDAT, :mod:`smtpshell.server.chunking`); implicit TLS on a listener
whose sockets are TLS from the start (``smtpshell serve --tls-port``); and a polite ``421``
when the server shuts down.

The mechanisms' logic is pure (:mod:`smtpshell.server.scram`, :mod:`smtpshell.server.bearer`,
:class:`~smtpshell.server.users.UserBook`); the ``auth_*`` methods here only carry their
messages over aiosmtpd's ``challenge_auth`` (334 and base64) and choose the replies.

SCRAM sends its server-final-message ``v=...`` in a 334 that the client answers with an empty
line, then says 235 — as Postfix with Cyrus SASL does; RFC 4954 also allows it as data after
the 235, but a 334 is what most clients expect. A failed SCRAM exchange is not reported with
a server-final ``e=`` challenge (that would need one more client response before the final
reply): the reply itself names the RFC 5802 error, e.g. ``535 5.7.8 ... (e=invalid-proof)``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
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

from smtpshell.server import bearer
from smtpshell.server.chunking import ChunkingMixin
from smtpshell.server.codes import with_enhanced_code
from smtpshell.server.handler import peer_name
from smtpshell.server.modes import ModeRules, Modes
from smtpshell.server.scram import ScramError, ScramServer
from smtpshell.server.store import NULL_PATH
from smtpshell.server.users import DemoUser, UserBook

log = logging.getLogger(__name__)

S421_SHUTTING_DOWN = "421 4.3.2 {hostname} practice server shutting down"
S500_INTERNAL = "500 5.0.0 Internal error in the practice server: {reason}"
S501_NO_INITIAL_RESPONSE = "501 5.5.4 CRAM-MD5 takes no initial response"
S501_BAD_BASE64 = "501 5.5.2 Can't decode base64"
S501_NOT_EMPTY = "501 5.5.2 {mechanism}: the answer to the server-final-message (v=) must be an empty line"
S501_BAD_ACK = "501 5.5.2 {mechanism}: after the error report the client must send {ack}"
S501_SASL = "501 5.5.2 {mechanism}: {reason}"
S504_SASL = "504 5.5.4 {mechanism}: {reason}"
S535_SASL = "535 5.7.8 Authentication credentials invalid: {mechanism}: {reason}"
S535_AUTHZID = "535 5.7.8 Authentication credentials invalid: {user} may act only as {user}, not as {authzid}"

SCRAM_FAILURES = {
    "invalid-encoding": S501_SASL,
    "invalid-username-encoding": S501_SASL,
    "other-error": S501_SASL,
    "extensions-not-supported": S504_SASL,
    "channel-binding-not-supported": S504_SASL,
    "channel-bindings-dont-match": S535_SASL,
    "invalid-proof": S535_SASL,
}
"""The reply for each RFC 5802 server-error value (``e=``) a SCRAM exchange may end with."""


class PracticeSMTP(ChunkingMixin, SMTP):
    """One client connection to the practice server (aiosmtpd makes one protocol per connection).

    With ``implicit_tls=True`` the connection is TLS from its first byte (the listener's
    sockets are wrapped before the greeting): no STARTTLS is offered, and whatever needs TLS
    (AUTH under ``auth_require_tls``, the ``tls-required`` mode) is allowed at once.
    """

    def __init__(
        self,
        handler: Any,
        *,
        users: UserBook,
        connections: set[PracticeSMTP],
        rules: ModeRules | None = None,
        implicit_tls: bool = False,
        **kwargs: Any,
    ) -> None:
        self._users = users
        self._implicit_tls = implicit_tls
        if implicit_tls:  # aiosmtpd knows TLS only through STARTTLS: nothing more to require
            kwargs["tls_context"] = None
            kwargs["auth_require_tls"] = False
        self._connections = connections
        self._rules = rules or ModeRules(modes=Modes(), hostname=kwargs.get("hostname") or "")
        self._greeted = False  # the first reply is the greeting: it keeps its own words
        self._continuing = False  # the last line pushed was a "250-" line: the reply goes on
        self._replies_as_is = False  # HELO/EHLO replies carry no enhanced code (RFC 2034)
        self._socket: asyncio.BaseTransport | None = None  # the TCP transport, under any TLS
        self._tls_up = False
        super().__init__(handler, authenticator=self._check_password, **kwargs)
        # aiosmtpd keeps these limits on the class and grows MAIL's on every EHLO.
        self.command_size_limits = collections.defaultdict(lambda: self.command_size_limit)
        if self._rules.modes:  # every command passes the modes' gate (flaky, tls-required)
            self._smtp_methods = {name: self._gated(name, method) for name, method in self._smtp_methods.items()}
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
        if self._implicit_tls and self.session is not None:
            # What aiosmtpd records after STARTTLS, so the Received header says ESMTPS and
            # eof_received() knows it is on a TLS transport.
            self.session.ssl = {
                name: transport.get_extra_info(name) for name in ("peercert", "cipher", "compression", "ssl_object")
            }
            self._tls_up = True

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
        """Send one reply line, adding an enhanced status code where aiosmtpd wrote none;
        late under ``tarpit``; then hang up if the reply says so (421, ``strict-lf``)."""
        if isinstance(status, str):
            status = self._rules.reword(status)
            if self._greeted and not self._replies_as_is:
                status = with_enhanced_code(status)
        self._greeted = True
        continuing = self._continuing  # a later line of a multi-line reply: already late once
        self._continuing = status[3:4] in ("-", b"-")
        if self._rules.reply_delay and not continuing:
            await asyncio.sleep(self._rules.reply_delay)
        await super().push(status)
        if isinstance(status, str) and self._rules.closes_after(status) and self.transport is not None:
            log.info("%s: hung up after %s", peer_name(self.session and self.session.peer), status)
            self.transport.close()

    def _gated(
        self, command: str, method: Callable[[str | None], Awaitable[None]]
    ) -> Callable[[str | None], Awaitable[None]]:
        """*method*, unless the modes answer *command* in its place."""

        @functools.wraps(method)
        async def gated(arg: str | None) -> None:
            refusal = self._rules.before_command(command, tls=self.encrypted)
            if refusal is None:
                await method(arg)
                return
            if command == "BDAT" and not refusal.startswith("421 "):
                await self.skip_chunk(arg)  # its bytes are no commands
            await self.push(refusal)

        return gated

    @property
    def encrypted(self) -> bool:
        """Whether the connection is under TLS: after STARTTLS, or from the start."""
        return self._implicit_tls or self._tls_protocol is not None

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

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        """AUTH, with the mechanism name in any case (RFC 4954 §4: ``auth login`` is AUTH LOGIN;
        aiosmtpd alone answers 504 to it)."""
        mechanism, space, rest = (arg or "").lstrip().partition(" ")
        await super().smtp_AUTH(mechanism.upper() + space + rest if mechanism else arg)

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

    @auth_mechanism("SCRAM-SHA-256")
    async def auth_SCRAM_SHA_256(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 7677: as SCRAM-SHA-1, with SHA-256."""
        return await self._scram("SCRAM-SHA-256", args)

    @auth_mechanism("SCRAM-SHA-1")
    async def auth_SCRAM_SHA_1(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 5802: client-first, server-first (nonce, salt, 4096), client-final with the proof,
        server-final ``v=`` in a 334 answered by an empty line, then 235."""
        return await self._scram("SCRAM-SHA-1", args)

    async def _scram(self, mechanism: str, args: list[str]) -> AuthResult:
        assert self.session is not None
        client_first = await self._initial_response(args)
        if client_first is None:
            return AuthResult(success=False, handled=True)
        users = self._users
        exchange = ScramServer(
            mechanism, lambda name: users.scram_keys(mechanism, name), decoy_secret=users.decoy_secret
        )
        try:
            server_first = exchange.first(client_first)
            client_final = await self.challenge_auth(server_first)
            if not isinstance(client_final, bytes):  # "*" or bad base64, already answered
                return AuthResult(success=False, handled=True)
            server_final = exchange.final(client_final)
        except ScramError as error:
            log.info("%s: AUTH %s failed: %s", peer_name(self.session.peer), mechanism, error)
            await self.push(SCRAM_FAILURES[error.error].format(mechanism=mechanism, reason=error))
            return AuthResult(success=False, handled=True)
        user = users.find(exchange.user or "")
        assert user is not None  # a verified proof: a known user
        if exchange.authzid not in ("", user.name):
            authzid = repr(exchange.authzid[:40])
            peer = peer_name(self.session.peer)
            log.info("%s: AUTH %s refused: %s may not act as %s", peer, mechanism, user.name, authzid)
            await self.push(S535_AUTHZID.format(user=user.name, authzid=authzid))
            return AuthResult(success=False, handled=True)
        answer = await self.challenge_auth(server_final)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        if answer:
            await self.push(S501_NOT_EMPTY.format(mechanism=mechanism))
            return AuthResult(success=False, handled=True)
        return _result(mechanism, user, self.session.peer)

    @auth_mechanism("OAUTHBEARER")
    async def auth_OAUTHBEARER(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 7628: GS2 header, then ``^Aauth=Bearer TOKEN^A^A``; a refused token gets a JSON
        error report in a 334, which the client acknowledges with ``^A`` before the 535."""
        return await self._bearer(bearer.MECHANISMS["OAUTHBEARER"], args)

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        """Google's ``user=NAME^Aauth=Bearer TOKEN^A^A``; a refused token gets a JSON error
        report in a 334, which the client acknowledges with an empty line before the 535."""
        return await self._bearer(bearer.MECHANISMS["XOAUTH2"], args)

    async def _bearer(self, mechanism: bearer.BearerMechanism, args: list[str]) -> AuthResult:
        assert self.session is not None
        message = await self._initial_response(args)
        if message is None:
            return AuthResult(success=False, handled=True)
        try:
            request = mechanism.parse(message)
        except bearer.BearerError as error:
            reply = S504_SASL if error.channel_binding else S501_SASL
            await self.push(reply.format(mechanism=mechanism.name, reason=error))
            return AuthResult(success=False, handled=True)
        user = self._users.check_token(request.user, request.token)
        if user is not None:
            return _result(mechanism.name, user, self.session.peer)
        log.info("%s: AUTH %s failed: token refused", peer_name(self.session.peer), mechanism.name)
        ack = await self.challenge_auth(bearer.error_report(mechanism))
        if not isinstance(ack, bytes):  # "*" (RFC 7628 allows it too) or bad base64, already answered
            return AuthResult(success=False, handled=True)
        if ack != mechanism.ack:
            await self.push(S501_BAD_ACK.format(mechanism=mechanism.name, ack=mechanism.ack_text))
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    async def _initial_response(self, args: list[str]) -> bytes | None:
        """The client's first message: after ``AUTH MECH`` (``=`` is an empty one, RFC 4954 §4),
        or asked for with an empty 334. None when it was cancelled or not base64 (answered)."""
        if len(args) == 1:
            response = await self.challenge_auth(b"")
            return response if isinstance(response, bytes) else None
        if args[1] == "=":
            return b""
        try:
            return base64.b64decode(args[1], validate=True)
        except (binascii.Error, ValueError):
            await self.push(S501_BAD_BASE64)
            return None


def _result(mechanism: str, user: DemoUser | None, peer: Any) -> AuthResult:
    if user is None:
        log.info("%s: AUTH %s failed", peer_name(peer), mechanism)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8
    log.info("%s: AUTH %s succeeded for %s", peer_name(peer), mechanism, user.name)
    return AuthResult(success=True, auth_data=user.name)
