"""Postfix's XCLIENT command (XCLIENT_README), without I/O.

``XCLIENT NAME=host ADDR=192.0.2.1`` asks an SMTP server that trusts this client to act as if
the session came from that client: for testing access rules from a machine that is not the
client in question. The syntax is

    xclient-command = XCLIENT 1*( SP attribute-name "=" attribute-value )
    attribute-value = xtext                       (RFC 3461, formerly RFC 1891)

The server advertises ``XCLIENT`` followed by the attribute names it supports. On success it
answers ``220`` and starts a new session as that client: the client must say EHLO again.
IPv6 addresses in ADDR and DESTADDR carry the prefix ``IPV6:``. ``[UNAVAILABLE]`` and
``[TEMPUNAVAIL]`` are special values for what the client could not look up.

This module builds the line and lists what looks wrong (as warnings: the shell never refuses).
"""

from __future__ import annotations

import ipaddress

# Attribute name -> what it overrides (shown by :help xclient and in warnings).
ATTRIBUTES: dict[str, str] = {
    "NAME": "the client's host name (or [UNAVAILABLE], [TEMPUNAVAIL])",
    "REVERSE_NAME": "the client's reverse DNS name, unverified",
    "ADDR": "the client's IP address (IPv6 as IPV6:2001:db8::1)",
    "PORT": "the client's TCP port",
    "PROTO": "SMTP or ESMTP: how the client greeted",
    "HELO": "the client's HELO/EHLO name",
    "LOGIN": "the SASL login name, as if the client had authenticated",
    "DESTADDR": "the server's IP address the client connected to",
    "DESTPORT": "the server's port the client connected to",
}
SPECIAL_VALUES = ("[UNAVAILABLE]", "[TEMPUNAVAIL]")
_ADDRESS_ATTRIBUTES = ("ADDR", "DESTADDR")
_PORT_ATTRIBUTES = ("PORT", "DESTPORT")


def xtext_encode(value: str) -> str:
    """RFC 3461 xtext: printable ASCII stays, except '+' and '='; every other byte is +XX."""
    out = []
    for byte in value.encode("utf-8"):
        if 33 <= byte <= 126 and byte not in (0x2B, 0x3D):
            out.append(chr(byte))
        else:
            out.append(f"+{byte:02X}")
    return "".join(out)


def xtext_decode(text: str) -> str:
    """The inverse of :func:`xtext_encode`; a '+' not followed by two hex digits stays as is."""
    out = bytearray()
    i = 0
    while i < len(text):
        pair = text[i + 1:i + 3]
        if text[i] == "+" and len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
            out.append(int(pair, 16))
            i += 3
            continue
        out += text[i].encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")


def parse_attributes(words: list[str]) -> list[tuple[str, str]]:
    """``NAME=VALUE`` words (values as typed, not yet encoded); ValueError for a word without '='."""
    attrs = []
    for word in words:
        name, eq, value = word.partition("=")
        if not eq or not name:
            raise ValueError(f"{word!r} is not NAME=VALUE")
        attrs.append((name.upper(), value))
    return attrs


def normalise(name: str, value: str) -> tuple[str, str | None]:
    """The value to send, and a note when the helper changed it (an IPv6 address gets IPV6:)."""
    if name in _ADDRESS_ATTRIBUTES and value not in SPECIAL_VALUES and not value.upper().startswith("IPV6:"):
        try:
            address = ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            return value, None
        if address.version == 6:
            return f"IPV6:{address}", f"{name}: an IPv6 address goes as IPV6:{address}"
    return value, None


def build_line(attrs: list[tuple[str, str]]) -> str:
    """``XCLIENT NAME=xtext ...`` (the values xtext-encoded)."""
    return "XCLIENT " + " ".join(f"{name}={xtext_encode(value)}" for name, value in attrs)


def warnings(attrs: list[tuple[str, str]], advertised: tuple[str, ...] | None) -> list[str]:
    """What a server is likely to refuse. ``advertised``: the attribute names after XCLIENT in
    the EHLO reply (None when XCLIENT was not advertised or there was no EHLO)."""
    out = []
    for name, value in attrs:
        if name not in ATTRIBUTES:
            out.append(f"{name} is not an XCLIENT attribute (known: {' '.join(ATTRIBUTES)})")
        elif advertised is not None and name not in advertised:
            out.append(f"the server did not list {name} after XCLIENT (it offers: {' '.join(advertised) or 'none'})")
        if value in SPECIAL_VALUES:
            continue
        if name in _ADDRESS_ATTRIBUTES:
            try:
                ipaddress.ip_address(value[5:] if value.upper().startswith("IPV6:") else value)
            except ValueError:
                out.append(f"{name}={value}: not an IP address")
        elif name in _PORT_ATTRIBUTES and not (value.isascii() and value.isdigit() and int(value) < 65536):
            out.append(f"{name}={value}: not a port number")
        elif name == "PROTO" and value.upper() not in ("SMTP", "ESMTP"):
            out.append(f"PROTO={value}: Postfix accepts SMTP or ESMTP")
    return out


def login_of(line: str) -> str | None:
    """The LOGIN attribute of an XCLIENT line (decoded), or None when absent or unavailable."""
    for word in line.split()[1:]:
        name, eq, value = word.partition("=")
        if eq and name.upper() == "LOGIN":
            decoded = xtext_decode(value)
            return None if decoded in SPECIAL_VALUES or not decoded else decoded
    return None
