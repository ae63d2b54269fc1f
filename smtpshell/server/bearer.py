"""OAuth 2.0 bearer tokens, the server's half, without I/O: XOAUTH2 and OAUTHBEARER (RFC 7628).

The client sends the token in one message (base64 on the wire)::

    XOAUTH2      user=alice^Aauth=Bearer <token>^A^A                      (Google's format)
    OAUTHBEARER  n,a=alice,^Ahost=mx^Aport=25^Aauth=Bearer <token>^A^A   (RFC 7628 §3.1)

(``^A`` is the byte 0x01.) A token that is refused is not answered with 535 at once: the
server sends a 334 whose text is a JSON error report (:func:`error_report`), the client
acknowledges it — XOAUTH2 with an empty response, OAUTHBEARER with the single byte 0x01
(RFC 7628 §3.2.3) — and only then does the server say 535 (:attr:`BearerMechanism.ack`).

A message that cannot be parsed raises :class:`BearerError`; the token is kept out of every
``repr`` and error text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

SCOPE = "smtp"
"""The scope named in error reports (the practice tokens have no scopes)."""

_KEY = re.compile(r"[A-Za-z]+\Z")
_VALUE = re.compile(r"[\x20-\x7e\t\r\n]*\Z")  # VCHAR / SP / HTAB / CR / LF (RFC 7628 §3.1)
_BEARER = re.compile(r"bearer +(?P<token>[A-Za-z0-9\-._~+/]+=*)\Z", re.IGNORECASE)  # RFC 6750 §2.1


class BearerError(ValueError):
    """The client's message is malformed; ``channel_binding`` when it asked for channel binding."""

    def __init__(self, text: str, *, channel_binding: bool = False) -> None:
        super().__init__(text)
        self.channel_binding = channel_binding


@dataclass(frozen=True, kw_only=True)
class BearerRequest:
    """What the client sent: the user (may be empty for OAUTHBEARER) and the token (not in ``repr``)."""

    user: str
    token: str = field(repr=False)
    host: str = ""
    port: str = ""


def parse_xoauth2(message: bytes) -> BearerRequest:
    """``user=NAME^Aauth=Bearer TOKEN^A^A`` -> the request; raises BearerError."""
    text = _text(message)
    if not text.endswith("\x01\x01"):
        raise BearerError("the message must end with ^A^A (two 0x01 bytes)")
    pairs = _pairs(text[:-1])
    if not pairs.get("user"):
        raise BearerError("no user= field, or an empty one")
    return BearerRequest(user=pairs["user"], token=_token(pairs))


def parse_oauthbearer(message: bytes) -> BearerRequest:
    """``n,a=NAME,^A[key=value^A]...^A`` (RFC 7628 §3.1) -> the request; raises BearerError."""
    text = _text(message)
    header, kvsep, rest = text.partition("\x01")
    if not kvsep:
        raise BearerError("no ^A (0x01) after the GS2 header")
    user = _gs2_user(header)
    if rest != "\x01" and not rest.endswith("\x01\x01"):
        raise BearerError("the message must end with ^A^A (two 0x01 bytes)")
    pairs = _pairs(rest[:-1]) if rest != "\x01" else {}
    return BearerRequest(
        user=user, token=_token(pairs), host=pairs.get("host", ""), port=pairs.get("port", "")
    )


@dataclass(frozen=True, kw_only=True)
class BearerMechanism:
    """How one bearer mechanism reads its message, reports a refused token, and is acknowledged."""

    name: str
    parse: Callable[[bytes], BearerRequest] = field(repr=False)
    status: str  # the "status" of the JSON error report
    ack: bytes  # what the client sends after the error report
    ack_text: str  # that, in words, for replies


MECHANISMS = MappingProxyType(
    {
        "OAUTHBEARER": BearerMechanism(
            name="OAUTHBEARER",
            parse=parse_oauthbearer,
            status="invalid_token",  # an OAuth error code (RFC 7628 §3.2.2, RFC 6750 §3.1)
            ack=b"\x01",
            ack_text="the byte 0x01 (base64 AQ==), RFC 7628 §3.2.3",
        ),
        "XOAUTH2": BearerMechanism(
            name="XOAUTH2",
            parse=parse_xoauth2,
            status="401",  # the HTTP status Google sends
            ack=b"",
            ack_text="an empty line",
        ),
    }
)
"""The bearer mechanisms by name."""


def error_report(mechanism: BearerMechanism) -> bytes:
    """The JSON sent (base64, in a 334) when a token is refused."""
    report = {"status": mechanism.status, "schemes": "Bearer", "scope": SCOPE}
    return json.dumps(report, separators=(",", ":")).encode("ascii")


# ----- parsing helpers -----------------------------------------------------------------


def _text(message: bytes) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        raise BearerError("the message is not UTF-8") from None


def _pairs(text: str) -> dict[str, str]:
    """``key=value^A`` pairs, each ended by 0x01: *text* must end with one."""
    if not text.endswith("\x01"):
        raise BearerError("each key=value must end with ^A (0x01)")
    pairs: dict[str, str] = {}
    for item in text[:-1].split("\x01"):
        key, eq, value = item.partition("=")
        if not eq or not _KEY.match(key) or not _VALUE.match(value):
            shown = key if _KEY.match(key) else "a field"
            raise BearerError(f"{shown} is not key=value (letters, '=', printable text)")
        if key in pairs:
            raise BearerError(f"{key}= appears twice")
        pairs[key] = value
    return pairs


def _token(pairs: dict[str, str]) -> str:
    if "auth" not in pairs:
        raise BearerError("no auth= field")
    match = _BEARER.match(pairs["auth"])
    if match is None:
        raise BearerError("auth= must be 'Bearer <token>' (RFC 6750 token characters)")
    return match["token"]


def _gs2_user(header: str) -> str:
    """The user of a GS2 header ``n,a=NAME,`` (``n,,``: none); channel binding is refused."""
    parts = header.split(",")
    if len(parts) != 3 or parts[2]:
        raise BearerError("the message must start with a GS2 header like 'n,a=alice,'")
    flag, authzid, _ = parts
    if flag.startswith("p="):
        raise BearerError(f"the GS2 header asks for channel binding ({flag[:40]!r}):"
                          " this server does none; send 'n,a=<user>,'",
                          channel_binding=True)
    if flag not in ("n", "y"):
        raise BearerError("the GS2 flag must be n or y (or p=, for channel binding)")
    if not authzid:
        return ""
    if not authzid.startswith("a="):
        raise BearerError("the GS2 header must name the user as a=<user>, or nobody")
    name = authzid[2:]
    if re.search(r"=(?!2C|3D)", name):
        raise BearerError(f"a={name[:40]!r}: '=' must be =2C or =3D")
    return name.replace("=2C", ",").replace("=3D", "=")
