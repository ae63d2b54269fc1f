"""The asyncio connection: one socket, the protocol core, and an observer.

Every byte read goes to the core (``Session.receive_data``); the core's buffer
is the only one, so the STARTTLS injection check is exact. Each command goes
out in one write (asyncio sets TCP_NODELAY). Everything that happens is
reported to the observer as a :data:`NetEvent`, with a timestamp, in order.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from typing import Callable

from smtpshell.net import tls as tlsmod
from smtpshell.net.dial import open_transport
from smtpshell.protocol.replies import Reply
from smtpshell.protocol.session import (
    Command,
    Outgoing,
    PlaintextInjection,
    ReplyEvent,
    ServerClosed,
    Session,
    StartTLS,
)


class ConnectError(Exception):
    """Could not connect (or the implicit TLS handshake failed); the message says why."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls


class NotConnected(Exception):
    """There is no open connection to send on."""


class ReplyTimeout(Exception):
    """No reply within the timeout (the command is still waiting)."""


class ConnectionClosed(Exception):
    """The connection closed before the reply came."""


# ----- what the observer hears ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Connected:
    t: float
    host: str
    port: int
    peer: str  # "127.0.0.1:25"
    tls: tlsmod.TLSInfo | None  # implicit TLS
    preamble: bytes = b""  # sent first, before the greeting (a PROXY protocol header)


@dataclass(frozen=True, kw_only=True)
class Sent:
    t: float
    outgoing: Outgoing


@dataclass(frozen=True, kw_only=True)
class SentData:
    """Message content (after 354) or raw bytes went out."""

    t: float
    data: bytes
    lines: tuple[bytes, ...] = ()  # the lines as given, before stuffing (for display)
    newlines: int | None = None  # LF bytes in ``data`` when the sender counted them (saves a pass)


@dataclass(frozen=True, kw_only=True)
class Received:
    t: float
    event: ReplyEvent
    latency: float | None  # seconds since its command was sent


@dataclass(frozen=True, kw_only=True)
class TLSStarted:
    t: float
    info: tlsmod.TLSInfo


@dataclass(frozen=True, kw_only=True)
class NetError:
    t: float
    text: str


@dataclass(frozen=True, kw_only=True)
class Closed:
    t: float
    mid_reply: bool
    expected: bool
    reason: str
    explained: bool = False  # a NetError already said why


NetEvent = Connected | Sent | SentData | Received | TLSStarted | NetError | Closed
Observer = Callable[[NetEvent], None]

# Bytes the transport may hold before write_data waits (asyncio's default is 64 KiB): room for
# a whole chunk of a large message, so the socket stays full while the next one is framed.
WRITE_HIGH_WATER = 1 << 20


def format_hostport(host: str, port: int) -> str:
    if port == 0:
        return host  # a UNIX domain socket's path
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _resolve_failure(host: str, family: int, exc: socket.gaierror) -> str:
    """Why HOST has no address: an address of the other family than -4/-6 asked for is said so."""
    import ipaddress

    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and family in (socket.AF_INET, socket.AF_INET6):
        asked = "-4 (IPv4)" if family == socket.AF_INET else "-6 (IPv6)"
        return f"{host} is an IPv{literal.version} address, and {asked} was asked for: leave out {asked.split()[0]}"
    if family in (socket.AF_INET, socket.AF_INET6):
        only = "IPv4" if family == socket.AF_INET else "IPv6"
        return f"cannot resolve {host} to an {only} address: {exc.strerror}"
    return f"cannot resolve {host}: {exc.strerror}"


class _Protocol(asyncio.Protocol):
    def __init__(self, conn: "Connection") -> None:
        self.conn = conn
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport) -> None:
        self.conn._made(transport, self)

    def data_received(self, data: bytes) -> None:
        self.conn._feed(data)

    def eof_received(self) -> bool:
        self.conn._feed(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        self.conn._lost(exc)
        self.conn._gone.set()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()


class Connection:
    """An SMTP client connection. Create with :meth:`open`."""

    def __init__(
        self,
        *,
        observer: Observer,
        timeout: float = 30.0,
        tls_options: tlsmod.TLSOptions = tlsmod.TLSOptions(),
        lmtp: bool = False,
    ) -> None:
        self.observer = observer
        self.timeout = timeout
        self.tls_options = tls_options
        self.lmtp = lmtp
        self.session = Session(lmtp=lmtp)
        self.host = ""
        self.port = 0
        self.implicit_tls = False
        self.tls_info: tlsmod.TLSInfo | None = None
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None
        self._gone = asyncio.Event()  # the socket is really closed (after TLS's close_notify)
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        self._waiters: dict[Command, asyncio.Future[Reply]] = {}
        self._sent_at: dict[Command, float] = {}
        self._held_starttls: tuple[Command, Reply] | None = None
        self._tls_task: asyncio.Task | None = None
        self._closed_reported = False
        self._upgrading = False
        self._preamble = b""
        self.reads = 0  # reads that brought data: how the server batched its replies (:pipeline shows it)

    # ----- time ----------------------------------------------------------

    def now(self) -> float:
        return self._loop.time() - self._t0

    @property
    def closed(self) -> bool:
        return self._transport is None or self._closed_reported

    # ----- opening -------------------------------------------------------

    async def open(
        self, host: str, port: int, *, implicit_tls: bool = False, family: int = 0,
        unix: bool = False, preamble: bytes = b"",
    ) -> None:
        """Connect (and for implicit TLS, handshake). Raises ConnectError.

        ``unix``: ``host`` is the path of a UNIX domain socket (``port`` 0). ``preamble``: bytes
        sent first, before TLS and the greeting (a PROXY protocol header).
        """
        if unix:
            port = 0
        self.host, self.port, self.implicit_tls = host, port, implicit_tls
        self._preamble = preamble
        self.session = Session(lmtp=self.lmtp, tls=implicit_tls)
        self._closed_reported = False
        self._upgrading = False
        ctx = None
        hostname = tlsmod.server_hostname(host, self.tls_options)
        if implicit_tls:
            try:
                ctx = tlsmod.make_context(self.tls_options)
            except tlsmod.TLSSetupError as exc:
                raise ConnectError(str(exc), tls=True) from None
        where = format_hostport(host, port)
        self._t0 = self._loop.time()
        self._hostname = hostname
        # Register the greeting's waiter first: it may arrive with the connection.
        self._sent_at[self.session.greeting] = 0.0
        self._waiters[self.session.greeting] = self._loop.create_future()
        try:
            await asyncio.wait_for(
                open_transport(
                    self._loop, lambda: _Protocol(self), host, port, family=family, ssl_context=ctx,
                    server_hostname=hostname, handshake_timeout=self.timeout, unix=unix, preamble=preamble,
                ),
                self.timeout,
            )
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise ConnectError(f"{where}: " + self._explain(exc, hostname), tls=True) from None
        except TimeoutError:
            raise ConnectError(f"no connection to {where} within {self.timeout:g} s") from None
        except socket.gaierror as exc:
            raise ConnectError(_resolve_failure(host, family, exc)) from None
        except ConnectionRefusedError:
            raise ConnectError(f"connection refused by {where} (nothing listening?)") from None
        except ConnectionError as exc:
            if implicit_tls:  # the TCP connection was made: the server went away during the handshake
                raise ConnectError(f"{where}: " + self._explain(exc, hostname), tls=True) from None
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc.__class__.__name__}") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or str(exc) or exc.__class__.__name__}") from None

    def _explain(self, exc: BaseException, hostname: str) -> str:
        return tlsmod.explain_failure(exc, hostname=hostname, min_version=self.tls_options.min_version)

    def _made(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        """The socket is up (and for implicit TLS, the handshake done): say so before any data."""
        self._transport, self._protocol = transport, protocol
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        where = format_hostport(self.host, self.port)
        peer_s = format_hostport(peer[0], peer[1]) if isinstance(peer, tuple) and peer else where
        ssl_object = transport.get_extra_info("ssl_object")
        self.tls_info = None
        if ssl_object is not None:
            self.tls_info = tlsmod.describe_session(ssl_object, hostname=self._hostname, opts=self.tls_options)
        self.observer(Connected(t=self.now(), host=self.host, port=self.port, peer=peer_s, tls=self.tls_info,
                                preamble=self._preamble))

    # ----- receiving -----------------------------------------------------

    def _feed(self, data: bytes) -> None:
        self.reads += bool(data)
        self.session.receive_data(data)
        while (event := self.session.next_event()) is not None:
            self._dispatch(event)

    def _dispatch(self, event) -> None:
        if isinstance(event, ReplyEvent):
            self._on_reply(event)
        elif isinstance(event, StartTLS):
            self._tls_task = self._loop.create_task(self._upgrade())
        elif isinstance(event, PlaintextInjection):
            self.observer(NetError(
                t=self.now(),
                text=(f"the server sent {len(event.data)} bytes after its 220 to STARTTLS and before "
                      f"the handshake ({event.data[:40]!r}): possible command injection; not starting TLS, "
                      "closing the connection"),
            ))
            self._release_starttls()
            self._abort("STARTTLS aborted: plaintext after 220")
        elif isinstance(event, ServerClosed):
            self._report_closed(event.mid_reply, event.expected, "the server closed the connection")

    def _on_reply(self, event: ReplyEvent) -> None:
        command = event.command
        latency = None
        if command is not None and command in self._sent_at:
            latency = self.now() - self._sent_at[command]
        self.observer(Received(t=self.now(), event=event, latency=latency))
        if command is None:
            return
        if command.verb == "STARTTLS" and event.reply.code == 220:
            self._held_starttls = (command, event.reply)  # resolved after the handshake
            return
        if command in self.session.pending:
            return  # LMTP: more replies to this command to come
        self._sent_at.pop(command, None)
        fut = self._waiters.get(command)  # kept until reply_to collects it
        if fut is not None and not fut.done():
            fut.set_result(event.reply)

    def _release_starttls(self) -> None:
        if self._held_starttls is None:
            return
        command, reply = self._held_starttls
        self._held_starttls = None
        fut = self._waiters.get(command)
        if fut is not None and not fut.done():
            fut.set_result(reply)

    async def _upgrade(self) -> None:
        hostname = tlsmod.server_hostname(self.host, self.tls_options)
        self._upgrading = True
        try:
            ctx = tlsmod.make_context(self.tls_options)
            transport = await asyncio.wait_for(
                self._loop.start_tls(
                    self._transport, self._protocol, ctx,
                    server_hostname=hostname, ssl_handshake_timeout=self.timeout,
                ),
                self.timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, tlsmod.TLSSetupError, ConnectionError) as exc:
            text = str(exc) if isinstance(exc, tlsmod.TLSSetupError) else self._explain(exc, hostname)
            self.observer(NetError(t=self.now(), text=text))
            self._abort("TLS handshake failed")
        else:
            if self.closed:
                return
            self._transport = transport
            transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
            self.session.tls_started()
            self.tls_info = tlsmod.describe_session(
                transport.get_extra_info("ssl_object"), hostname=hostname, opts=self.tls_options
            )
            self.observer(TLSStarted(t=self.now(), info=self.tls_info))
        finally:
            self._upgrading = False
            self._release_starttls()

    def _lost(self, exc: Exception | None) -> None:
        if self._closed_reported or self._upgrading:
            return  # a failed handshake is reported by _upgrade, with its reason
        mid = self.session._parser.in_reply if self.session else False
        reason = "the connection was lost" + (f" ({exc})" if exc else "")
        self._report_closed(mid, False, reason)

    def _report_closed(self, mid_reply: bool, expected: bool, reason: str, explained: bool = False) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        self.observer(Closed(t=self.now(), mid_reply=mid_reply, expected=expected, reason=reason, explained=explained))
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionClosed(reason))
                fut.exception()  # mark retrieved: nobody may be waiting any more
        self._waiters.clear()
        if self._transport is not None:
            self._transport.close()

    def _abort(self, reason: str) -> None:
        """Close at once after a NetError that already said why."""
        if self._transport is not None:
            self._transport.abort()
        self._report_closed(self.session._parser.in_reply, False, reason, explained=True)

    # ----- sending -------------------------------------------------------

    def _check_open(self) -> asyncio.Transport:
        if self.closed or self._transport.is_closing():
            raise NotConnected("not connected (use :connect HOST or :reconnect)")
        return self._transport

    def _expect(self, out: Outgoing) -> None:
        if out.command is not None:
            self._sent_at[out.command] = self.now()
            self._waiters[out.command] = self._loop.create_future()

    def send_line(self, line: str, *, secret: bool | None = None, then: bytes = b"") -> Outgoing:
        """Send one command line (CRLF added) in one write. Raises LocalProtocolError, NotConnected.

        ``then``: bytes that follow the line in the same write (the start of a BDAT chunk).
        """
        transport = self._check_open()
        out = self.session.send_line(line, secret=secret)
        self._expect(out)
        self.observer(Sent(t=self.now(), outgoing=out))
        if then:
            self.observer(SentData(t=self.now(), data=then))
        transport.write(out.data + then if then else out.data)
        return out

    def send_lines(self, lines: list[str]) -> list[Outgoing]:
        """Several command lines in one write (PIPELINING)."""
        transport = self._check_open()
        outs = [self.session.send_line(line) for line in lines]
        for out in outs:
            self._expect(out)
            self.observer(Sent(t=self.now(), outgoing=out))
        transport.write(b"".join(o.data for o in outs))
        return outs

    async def write_data(self, data: bytes, *, lines: tuple[bytes, ...] = (), newlines: int | None = None) -> None:
        """Message content or raw bytes, with flow control (no reply expected)."""
        transport = self._check_open()
        self.observer(SentData(t=self.now(), data=data, lines=lines, newlines=newlines))
        transport.write(data)
        if self._protocol.can_write.is_set():
            return  # not paused: no task, no trip through the loop (a 100 MB file is ~400 writes)
        try:
            # --timeout covers writes too: a server that stops reading must not hang the shell.
            await asyncio.wait_for(self._protocol.can_write.wait(), self.timeout)
        except TimeoutError:
            waiting = transport.get_write_buffer_size()
            self.observer(NetError(t=self.now(), text=(
                f"the server stopped reading: nothing could be written for {self.timeout:g} s "
                f"({waiting:,} bytes still waiting to go out); closing the connection")))
            self._abort("the server stopped reading")
        self._check_open()

    async def send_raw(self, data: bytes, *, expects_reply: bool = False) -> Outgoing:
        """Exact bytes; with ``expects_reply`` the next reply answers them."""
        self._check_open()
        out = self.session.send_raw(data, expects_reply=expects_reply)
        if expects_reply:
            self._expect(out)
        await self.write_data(data)
        return out

    def end_data(self, content: bytes = b"", *, terminated: bool = False) -> Outgoing:
        """The end of the message, in one write with ``content`` (the last of it, already stuffed).
        ``terminated``: raw bytes that finish an end of data begun before them (``:raw`` split a
        <CRLF>.<CRLF>): they are written alone, and the reply answers the message."""
        transport = self._check_open()
        out = self.session.end_data()
        self._expect(out)
        if content:
            self.observer(SentData(t=self.now(), data=content))
        self.observer(Sent(t=self.now(), outgoing=out))
        transport.write(content if terminated else content + out.data)
        return out

    async def reply_to(self, command: Command | None, *, timeout: float | None = None) -> Reply:
        """Wait for the reply to ``command``. Raises ReplyTimeout or ConnectionClosed.

        Cancelling the wait (Ctrl-C) leaves the command waiting: its reply is
        still shown when it comes.
        """
        if command is None:
            raise ValueError("nothing to wait for")
        fut = self._waiters.get(command)
        if fut is None:
            if self.closed:
                raise ConnectionClosed("the connection is closed")
            fut = self._waiters[command] = self._loop.create_future()
        try:
            reply = await asyncio.wait_for(asyncio.shield(fut), timeout or self.timeout)
        except TimeoutError:
            raise ReplyTimeout(f"no reply within {timeout or self.timeout:g} s") from None
        self._waiters.pop(command, None)
        return reply

    async def command(self, line: str) -> Reply:
        """Send a line and wait for its reply."""
        out = self.send_line(line)
        return await self.reply_to(out.command)

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the socket is really gone (``close()`` only starts closing: TLS takes a
        round trip), at most ``timeout`` seconds. Returns at once if it never opened."""
        if self._transport is None:
            return
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
        except TimeoutError:
            pass

    async def close(self) -> None:
        """Close without QUIT (the shell sends QUIT itself when it should)."""
        if self._tls_task is not None and not self._tls_task.done():
            self._tls_task.cancel()
        if self._transport is not None and not self._closed_reported:
            self._closed_reported = True
            self._transport.close()
            for fut in self._waiters.values():
                fut.cancel()
            self._waiters.clear()
