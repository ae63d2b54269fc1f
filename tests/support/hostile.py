"""A scripted hostile SMTP server on 127.0.0.1 (port 0), for behaviour no real server shows on purpose.

Each connection plays the same list of steps, in order::

    server = await HostileServer([Send(b"220 hi\\r\\n"), Expect(b"EHLO"), Send(b"250-x\\r\\n"), Close()]).start()

Steps
-----
- ``Send(data)``: write bytes (and wait until the kernel took them).
- ``Expect(prefix=b"")``: read one line (up to LF) from the client; recorded in ``received``. A line
  that does not start with ``prefix`` is recorded in ``mismatches`` (the test asserts there are none).
- ``ReadUntil(marker)``: read until ``marker`` (e.g. the end of a message, ``b"\\r\\n.\\r\\n"``).
- ``ReadSome()``: read whatever arrives next (e.g. a TLS ClientHello), at least one byte.
- ``Close()``: close gracefully (FIN). ``Abort()``: reset the connection (RST, SO_LINGER 0).
- ``StopReading()``: never read again (the client's writes fill the socket buffers and block);
  the connection stays open until :meth:`HostileServer.stop`.
- ``Hang()``: never answer and never close (a silent server) until :meth:`HostileServer.stop`.
- ``StartTLS(ctx)``: the server side of a TLS handshake with ``ctx`` (implicit TLS when first;
  after a ``220`` to STARTTLS otherwise). A failed handshake is recorded in ``tls_errors`` and ends
  the connection.
- ``FailTLS(ctx)``: the server side of a handshake that is expected to fail (e.g. a TLS 1.0-only
  context): played with memory BIOs so that OpenSSL's alert reaches the client, as a real server
  sends it (asyncio's server side drops it); then the connection ends. The error is recorded in
  ``tls_errors`` (a handshake that succeeds is recorded in ``errors``).
- ``Mark(name)``: resolve the future ``server.mark(name)``, so a test can wait for the server to
  get there (no sleeps).

For tests that are not async (the REPL in a pty), :func:`serving_in_thread` runs a server on its own
event loop in a thread.

The server never raises into the test: whatever goes wrong on its side ends the connection and is
kept in ``errors`` / ``tls_errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Expect:
    prefix: bytes = b""


@dataclass(frozen=True)
class ReadUntil:
    marker: bytes


@dataclass(frozen=True)
class ReadSome:
    pass


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Abort:
    pass


@dataclass(frozen=True)
class StopReading:
    pass


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class StartTLS:
    ctx: ssl.SSLContext


@dataclass(frozen=True)
class FailTLS:
    ctx: ssl.SSLContext


@dataclass(frozen=True)
class Mark:
    name: str


Step = Send | Expect | ReadUntil | ReadSome | Close | Abort | StopReading | Hang | StartTLS | FailTLS | Mark


def self_signed_server_context(name: str = "127.0.0.1") -> ssl.SSLContext:
    """A server context whose certificate signs itself (no CA at all), for ``name`` (an IP or DNS name)."""
    import datetime
    import ipaddress
    import os
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        san = x509.DNSName(name)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    fd, path = tempfile.mkstemp(suffix=".pem")  # load_cert_chain reads files only
    try:
        os.write(fd, pem)
        os.close(fd)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx

# A small receive buffer (and StreamReader limit) makes a server that stops reading block the
# client's writes after a few hundred KiB rather than many MiB.
SMALL_RCVBUF = 16 * 1024
READ_LIMIT = 1 << 20


class HostileServer:
    """Plays ``steps`` for every connection. Use ``async with`` or start()/stop()."""

    def __init__(self, steps: list[Step], *, rcvbuf: int | None = None) -> None:
        self.steps = list(steps)
        self.rcvbuf = rcvbuf
        self.host = "127.0.0.1"
        self.port = 0
        self.received: list[bytes] = []  # every line / chunk read, in order
        self.mismatches: list[tuple[bytes, bytes]] = []  # (expected prefix, line)
        self.errors: list[BaseException] = []
        self.tls_errors: list[BaseException] = []
        self.connections = 0
        self._marks: dict[str, asyncio.Future] = {}
        self._stopping = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task] = set()
        self.finished: asyncio.Future | None = None  # set when a connection's script ends

    # ----- lifetime ---------------------------------------------------------

    async def start(self) -> "HostileServer":
        loop = asyncio.get_running_loop()
        self.finished = loop.create_future()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)  # inherited by accepted sockets
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock, limit=READ_LIMIT)
        return self

    async def stop(self) -> None:
        self._stopping.set()
        for writer in self._writers:
            if not writer.is_closing():
                writer.transport.abort()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> "HostileServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def mark(self, name: str) -> asyncio.Future:
        """A future resolved when a connection reaches ``Mark(name)``."""
        if name not in self._marks:
            self._marks[name] = asyncio.get_running_loop().create_future()
        return self._marks[name]

    @property
    def text(self) -> bytes:
        return b"".join(self.received)

    # ----- one connection -------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            for step in self.steps:
                if not await self._play(step, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.errors.append(exc)
        except ssl.SSLError as exc:
            self.errors.append(exc)
        finally:
            if not writer.is_closing():
                writer.close()
            if self.finished is not None and not self.finished.done():
                self.finished.set_result(self.connections)
            self._tasks.discard(task)

    async def _play(self, step: Step, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One step; False ends the connection."""
        match step:
            case Send(data):
                writer.write(data)
                await writer.drain()
            case Expect(prefix):
                line = await reader.readline()
                self.received.append(line)
                if not line:
                    return False
                if not line.startswith(prefix):
                    self.mismatches.append((prefix, line))
            case ReadUntil(marker):
                chunk = await reader.readuntil(marker)
                self.received.append(chunk)
            case ReadSome():
                chunk = await reader.read(65536)
                self.received.append(chunk)
                if not chunk:
                    return False
            case Close():
                writer.close()
                return False
            case Abort():
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return False
            case StopReading():
                writer.transport.pause_reading()
                await self._stopping.wait()
                return False
            case Hang():
                await self._stopping.wait()
                return False
            case StartTLS(ctx):
                try:
                    await writer.start_tls(ctx)
                except (ssl.SSLError, ConnectionError, OSError) as exc:
                    self.tls_errors.append(exc)
                    writer.transport.abort()
                    return False
            case FailTLS(ctx):
                await self._fail_tls(ctx, reader, writer)
                return False
            case Mark(name):
                fut = self.mark(name)
                if not fut.done():
                    fut.set_result(None)
        return True

    async def _fail_tls(self, ctx: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                writer.write(outgoing.read())
                await writer.drain()
                data = await reader.read(65536)
                if not data:
                    self.tls_errors.append(ConnectionResetError("the client went away during the handshake"))
                    break
                incoming.write(data)
            except ssl.SSLError as exc:
                self.tls_errors.append(exc)
                break
            else:
                self.errors.append(AssertionError("the TLS handshake succeeded; FailTLS expected it to fail"))
                break
        writer.write(outgoing.read())  # the alert, as a real server sends it
        await writer.drain()
        writer.close()


@contextlib.contextmanager
def serving_in_thread(steps: list[Step], **kw):
    """A started HostileServer on its own event loop in a daemon thread; stopped on exit."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["server"] = loop.run_until_complete(HostileServer(steps, **kw).start())
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            box["error"] = exc
        finally:
            started.set()
        if "server" in box:
            loop.run_forever()

    thread = threading.Thread(target=run, name="hostile-server", daemon=True)
    thread.start()
    started.wait(30)
    if "server" not in box:
        raise RuntimeError(f"the hostile server did not start: {box.get('error')!r}")
    try:
        yield box["server"]
    finally:
        asyncio.run_coroutine_threadsafe(box["server"].stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
