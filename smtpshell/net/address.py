"""Host and port as people type them: ``HOST``, ``HOST:PORT``, ``[v6]:PORT``, a bare IPv6 literal."""

from __future__ import annotations


def parse_target(host: str, port: str | None = None) -> tuple[str, int | None]:
    """HOST, HOST:PORT, [v6]:PORT, [v6] or a bare v6 literal; PORT may also be separate."""
    found_port: str | None = None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError(f"bad address {host!r}: missing ']'")
        rest = host[end + 1:]
        host, found_port = host[1:end], None
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad address: unexpected {rest!r} after ']'")
            found_port = rest[1:]
    elif host.count(":") == 1:
        host, found_port = host.split(":")
    if found_port is not None and port is not None:
        raise ValueError("the port is given twice")
    port = found_port if found_port is not None else port
    if not host:
        raise ValueError("no host given")
    if port is None:
        return host, None
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"bad port {port!r}: a number from 1 to 65535")
    return host, int(port)
