"""The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), without I/O.

A proxy or load balancer sends this header first on a connection, before any SMTP byte, to
tell the server who the real client was. ``smtpshell --proxy SRC:PORT DST:PORT`` sends one so
a person can test a server that sits behind such a proxy (Postfix's
``smtpd_upstream_proxy_protocol``, aiosmtpd's ``proxy_protocol_timeout``, ...).

- Version 1 is one text line: ``PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\\r\\n``.
- Version 2 is binary: a 12-byte signature, version/command, family/transport, a big-endian
  length, then the addresses and ports in network byte order (12 bytes for IPv4, 36 for IPv6).

Both ends must be of one family (the spec has no mixed form). :func:`describe` reads back the
headers this module writes, so the shell can say exactly what it sent.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_VERSION = 0x20
V2_LOCAL = 0x00
V2_PROXY = 0x01
V2_TCP4 = 0x11  # AF_INET << 4 | STREAM
V2_TCP6 = 0x21  # AF_INET6 << 4 | STREAM
V2_UNSPEC = 0x00
V1_MAX = 107  # the longest v1 line a receiver must accept, CRLF included


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One end of the proxied connection: an IP address and a TCP port."""

    address: Address
    port: int

    def __str__(self) -> str:
        if self.address.version == 6:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``192.0.2.1:4242`` or ``[2001:db8::1]:4242``; ValueError names what is wrong."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"bad endpoint {text!r}: write an IPv6 address as [ADDR]:PORT")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad endpoint {text!r}: ADDR:PORT expected")
        if ":" in host:
            raise ValueError(f"bad endpoint {text!r}: write an IPv6 address as [ADDR]:PORT")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"bad endpoint {text!r}: {host!r} is not an IP address") from None
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"bad endpoint {text!r}: the port must be a number from 0 to 65535")
    return Endpoint(address=address, port=int(port))


def _same_family(src: Endpoint, dst: Endpoint) -> int:
    if src.address.version != dst.address.version:
        raise ValueError(
            f"the PROXY header needs both ends in one family: {src} is IPv{src.address.version}, "
            f"{dst} is IPv{dst.address.version}"
        )
    return src.address.version


def encode_v1(src: Endpoint, dst: Endpoint) -> bytes:
    """``PROXY TCP4|TCP6 SRC DST SPORT DPORT\\r\\n``."""
    family = "TCP4" if _same_family(src, dst) == 4 else "TCP6"
    return f"PROXY {family} {src.address} {dst.address} {src.port} {dst.port}\r\n".encode("ascii")


def encode_v1_unknown() -> bytes:
    """The short form for a connection the proxy cannot describe."""
    return b"PROXY UNKNOWN\r\n"


def encode_v2(src: Endpoint, dst: Endpoint) -> bytes:
    """The binary header with the PROXY command, TCP over IPv4 or IPv6, and no TLVs."""
    version = _same_family(src, dst)
    fam = V2_TCP4 if version == 4 else V2_TCP6
    body = src.address.packed + dst.address.packed + struct.pack("!HH", src.port, dst.port)
    return V2_SIGNATURE + struct.pack("!BBH", V2_VERSION | V2_PROXY, fam, len(body)) + body


def encode_v2_local() -> bytes:
    """The LOCAL command: the proxy's own connection (a health check); no addresses."""
    return V2_SIGNATURE + struct.pack("!BBH", V2_VERSION | V2_LOCAL, V2_UNSPEC, 0)


def encode(src: Endpoint, dst: Endpoint, *, version: int) -> bytes:
    if version == 1:
        return encode_v1(src, dst)
    if version == 2:
        return encode_v2(src, dst)
    raise ValueError(f"PROXY protocol version {version}: only 1 and 2 exist")


def header_for(src: str, dst: str, *, version: int) -> bytes:
    """The header for ``--proxy SRC:PORT DST:PORT --proxy-version N``; ValueError if invalid."""
    return encode(parse_endpoint(src), parse_endpoint(dst), version=version)


def describe(header: bytes) -> str:
    """What a header says, for the shell's note: version, family, source -> destination."""
    if header.startswith(b"PROXY "):
        line = header.rstrip(b"\r\n").decode("ascii", "backslashreplace")
        return f"PROXY v1 header sent ({len(header)} bytes): {line}"
    if not header.startswith(V2_SIGNATURE) or len(header) < 16:
        return f"{len(header)} bytes sent before the greeting: {header!r}"
    ver_cmd, fam, length = struct.unpack("!BBH", header[12:16])
    body = header[16:16 + length]
    if ver_cmd & 0x0F == V2_LOCAL:
        what = "LOCAL (no addresses)"
    elif fam in (V2_TCP4, V2_TCP6) and len(body) >= (12 if fam == V2_TCP4 else 36):
        size = 4 if fam == V2_TCP4 else 16
        cls = ipaddress.IPv4Address if fam == V2_TCP4 else ipaddress.IPv6Address
        src = Endpoint(address=cls(body[:size]), port=struct.unpack("!H", body[2 * size:2 * size + 2])[0])
        dst = Endpoint(address=cls(body[size:2 * size]), port=struct.unpack("!H", body[2 * size + 2:2 * size + 4])[0])
        what = f"PROXY {'TCP4' if fam == V2_TCP4 else 'TCP6'} {src} -> {dst}"
    else:
        what = f"command {ver_cmd & 0x0F}, family/transport 0x{fam:02x}"
    return f"PROXY v2 header sent ({len(header)} bytes): {what}"
