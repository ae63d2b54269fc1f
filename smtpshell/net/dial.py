"""Opening the transport: TCP or a UNIX domain socket, with an optional preamble.

The preamble (a PROXY protocol header) goes out on the bare socket right after connect, before
any SMTP byte and before an implicit-TLS handshake, as a proxy would send it. Without one, this
is asyncio's ``create_connection`` / ``create_unix_connection`` unchanged.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Callable


async def open_transport(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    *,
    family: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    handshake_timeout: float | None = None,
    unix: bool = False,
    preamble: bytes = b"",
):
    """Connect to ``host:port`` (or the UNIX socket at path ``host``); returns (transport, protocol).

    Raises what asyncio raises (OSError, ssl.SSLError, socket.gaierror, ...).
    """
    tls = {
        "ssl": ssl_context,
        "server_hostname": server_hostname if ssl_context else None,
        "ssl_handshake_timeout": handshake_timeout if ssl_context else None,
    }
    if not preamble:
        if unix:
            return await loop.create_unix_connection(factory, host, **tls)
        return await loop.create_connection(factory, host, port, family=family, **tls)
    sock = await (_unix_socket(loop, host) if unix else _tcp_socket(loop, host, port, family))
    try:
        await loop.sock_sendall(sock, preamble)
        if unix:
            return await loop.create_unix_connection(factory, sock=sock, **tls)
        return await loop.create_connection(factory, sock=sock, **tls)
    except BaseException:
        sock.close()
        raise


async def _unix_socket(loop: asyncio.AbstractEventLoop, path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock


async def _tcp_socket(loop: asyncio.AbstractEventLoop, host: str, port: int, family: int) -> socket.socket:
    """The first address of ``host`` that accepts, in getaddrinfo's order (as create_connection)."""
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"getaddrinfo({host!r}) returned nothing")
    errors: list[OSError] = []
    for fam, type_, proto, _, address in infos:
        sock = socket.socket(fam, type_, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if len(errors) == 1 or len({str(e) for e in errors}) == 1:
        raise errors[0]
    raise OSError(f"every address failed: {'; '.join(str(e) for e in errors)}")
