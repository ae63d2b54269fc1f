"""SASL for SMTP AUTH (RFC 4954), without I/O: mechanisms as challenge -> response objects.

The shell drives a mechanism like this::

    mech = create("SCRAM-SHA-256", "alice", Secret(password))
    step = mech.initial()                  # None: send "AUTH MECH" and wait for a 334
    send("AUTH " + mech.name + ("" if step is None else " " + encode_response(step, initial=True)))
    while reply.code == 334:               # decoded 334 text -> next Step; AuthError: cancel with "*"
        send(encode_response(mech.respond(b64decode(reply.text)), initial=False))
    notes = mech.finish(reply.code, reply.text)

Supported: PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5 (Historic, for Cyrus SASL servers), XOAUTH2,
OAUTHBEARER, SCRAM-SHA-1, SCRAM-SHA-256 (no channel binding: the SCRAM ``-PLUS`` variants are
not implemented). The parts live in
``smtpshell.protocol.sasl``; this module is the API the rest of smtpshell uses.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smtpshell.protocol.sasl.base import MASK, AuthError, Mechanism, Secret, Step, visible
from smtpshell.protocol.sasl.bearer import OAuthBearer, XOAuth2
from smtpshell.protocol.sasl.digest_md5 import DigestMD5
from smtpshell.protocol.sasl.scram import Scram
from smtpshell.protocol.sasl.simple import CramMD5, Login, Plain, describe_plain

__all__ = [
    "AuthError", "Mechanism", "PASSWORD_MECHANISMS", "SUPPORTED", "Secret", "Step", "TOKEN_MECHANISMS",
    "create", "describe_response", "encode_response", "strongest",
]

# Strongest first. Password mechanisms: SCRAM proves both sides and never sends the password;
# CRAM-MD5 does not send it either (but MD5, and no server proof); DIGEST-MD5 (Historic, RFC
# 6331: MD5, and interoperability trouble) proves both sides but only Cyrus still offers it,
# so it comes after CRAM-MD5; PLAIN and LOGIN send it in
# clear text inside base64. Token mechanisms take an OAuth access token instead of a password,
# so they are chosen only when the user has one (strongest(token=True)).
PASSWORD_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN")
TOKEN_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")
SUPPORTED: tuple[str, ...] = PASSWORD_MECHANISMS + TOKEN_MECHANISMS


@dataclass(frozen=True, kw_only=True)
class _Options:
    user: str
    secret: Secret
    authzid: str
    host: str
    port: int
    initial_response: bool | None
    nonce: str | None


def _default(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _no_authzid(name: str, o: _Options) -> None:
    if o.authzid:
        raise ValueError(f"{name} cannot carry an authorization identity (authzid): use PLAIN, a SCRAM or OAUTHBEARER")


def _plain(o: _Options) -> Mechanism:
    return Plain(user=o.user, secret=o.secret, authzid=o.authzid, initial_response=_default(o.initial_response, True))


def _login(o: _Options) -> Mechanism:
    _no_authzid("LOGIN", o)
    return Login(user=o.user, secret=o.secret, initial_response=_default(o.initial_response, False))


def _cram_md5(o: _Options) -> Mechanism:
    _no_authzid("CRAM-MD5", o)
    if o.initial_response:
        raise ValueError("CRAM-MD5 starts with the server's challenge: it has no initial response")
    return CramMD5(user=o.user, secret=o.secret)


def _digest_md5(o: _Options) -> Mechanism:
    if o.initial_response:
        raise ValueError("DIGEST-MD5 starts with the server's challenge: it has no initial response")
    return DigestMD5(user=o.user, secret=o.secret, authzid=o.authzid, host=o.host)


def _xoauth2(o: _Options) -> Mechanism:
    _no_authzid("XOAUTH2", o)
    return XOAuth2(user=o.user, secret=o.secret, initial_response=_default(o.initial_response, True))


def _oauthbearer(o: _Options) -> Mechanism:
    return OAuthBearer(user=o.user, secret=o.secret, authzid=o.authzid, host=o.host, port=o.port,
                       initial_response=_default(o.initial_response, True))


def _scram(name: str) -> Callable[[_Options], Mechanism]:
    def make(o: _Options) -> Mechanism:
        return Scram(name=name, user=o.user, secret=o.secret, authzid=o.authzid, nonce=o.nonce,
                     initial_response=_default(o.initial_response, True))
    return make


_FACTORIES: dict[str, Callable[[_Options], Mechanism]] = {
    "SCRAM-SHA-256": _scram("SCRAM-SHA-256"),
    "SCRAM-SHA-1": _scram("SCRAM-SHA-1"),
    "CRAM-MD5": _cram_md5,
    "DIGEST-MD5": _digest_md5,
    "PLAIN": _plain,
    "LOGIN": _login,
    "OAUTHBEARER": _oauthbearer,
    "XOAUTH2": _xoauth2,
}


def create(name: str, user: str, secret: Secret | None, *, authzid: str = "", host: str = "", port: int = 0,
           initial_response: bool | None = None, nonce: str | None = None) -> Mechanism:
    """A fresh client mechanism. ``name`` is case-insensitive; ValueError names what is supported.

    ``initial_response``: None for each mechanism's default (PLAIN, SCRAM, XOAUTH2 and
    OAUTHBEARER send one; LOGIN waits for the first prompt unless True; CRAM-MD5 cannot).
    ``host``/``port`` go into OAUTHBEARER; ``nonce`` fixes SCRAM's client nonce (tests).
    """
    key = name.strip().upper()
    factory = _FACTORIES.get(key)
    if factory is None:
        raise ValueError(f"unknown SASL mechanism {name!r}: supported are {', '.join(SUPPORTED)}")
    if secret is None:
        raise ValueError(f"{key} needs a {'token' if key in TOKEN_MECHANISMS else 'password'}")
    if isinstance(secret, str):
        secret = Secret(secret)
    return factory(_Options(user=user, secret=secret, authzid=authzid, host=host, port=port,
                            initial_response=initial_response, nonce=nonce))


def strongest(offered: Iterable[str], *, token: bool = False) -> str | None:
    """The strongest offered mechanism we support: password ones, or with ``token`` OAuth ones.

    A token is not a password (and the reverse), so ``token=True`` picks only OAUTHBEARER or
    XOAUTH2 and gives None when the server offers neither.
    """
    if isinstance(offered, str):
        offered = offered.split()
    have = {mech.upper() for mech in offered}
    return next((mech for mech in (TOKEN_MECHANISMS if token else PASSWORD_MECHANISMS) if mech in have), None)


def encode_response(step: Step, *, initial: bool) -> str:
    """Base64 of the response; an empty one is ``=`` as an initial response, else an empty line (RFC 4954 4)."""
    text = base64.b64encode(step.response).decode("ascii")
    if not text and initial:
        return "="
    return text


# ----- describing what a user typed by hand -----------------------------------------------

_CRAM_RESPONSE = re.compile(r"\S+ [0-9a-fA-F]{32}")
_SCRAM_FIRST = re.compile(r"[nyp][^,]*,(a=[^,]*)?,n=[^,]*,r=[^,]+(,.*)?")
_SCRAM_FINAL = re.compile(r"c=[^,]*,r=[^,]+(,[^,]*)*,p=[A-Za-z0-9+/=]+")


def _masked(data: bytes) -> str:
    return f"{MASK} ({len(data)} bytes)"


def _describe_plain(data: bytes, index: int) -> str:
    parts = data.split(b"\0")
    if len(parts) != 3:
        return _masked(data)
    return describe_plain(parts[0].decode("utf-8", "replace"), parts[1].decode("utf-8", "replace"))


def _describe_login(data: bytes, index: int) -> str:
    if index == 0:
        return visible(data)
    if index == 1:
        return f"{MASK} (password)"
    return _masked(data)


def _describe_cram(data: bytes, index: int) -> str:
    text = data.decode("utf-8", "replace")
    return visible(text) if index == 0 and _CRAM_RESPONSE.fullmatch(text) else _masked(data)


def _describe_scram(data: bytes, index: int) -> str:
    text = data.decode("utf-8", "replace")
    pattern = {0: _SCRAM_FIRST, 1: _SCRAM_FINAL}.get(index)
    return visible(text) if pattern is not None and pattern.fullmatch(text) else _masked(data)


def _describe_bearer(data: bytes, index: int) -> str:
    if data == b"\x01":
        return "^A (acknowledging the server's error)"
    text = data.decode("utf-8", "replace")
    masked, count = re.subn(r"(auth=Bearer )[^\x01]*", lambda m: m.group(1) + MASK, text)
    return visible(masked) if count == 1 and text.endswith("\x01\x01") else _masked(data)


_DESCRIBERS: dict[str, Callable[[bytes, int], str]] = {
    "PLAIN": _describe_plain,
    "LOGIN": _describe_login,
    "CRAM-MD5": _describe_cram,
    "SCRAM-SHA-1": _describe_scram,
    "SCRAM-SHA-256": _describe_scram,
    "XOAUTH2": _describe_bearer,
    "OAUTHBEARER": _describe_bearer,
}


def describe_response(mechanism_name: str | None, b64_text: str, step_index: int) -> str | None:
    """What a base64 SASL answer typed by hand says, secrets masked; None when it is not base64.

    ``step_index`` counts the responses of the exchange from 0 (an initial response is 0).
    PLAIN: ``authzid='' user=alice password=***``; LOGIN: the user name, then ``*** (password)``;
    a structure that is recognised but carries no secret is shown as is; otherwise ``*** (n bytes)``.
    """
    text = b64_text.strip()
    if text == "=":
        text = ""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data:
        return "(empty response)"
    describe = _DESCRIBERS.get((mechanism_name or "").strip().upper())
    return describe(data, step_index) if describe is not None else _masked(data)
