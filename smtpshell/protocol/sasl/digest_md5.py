"""DIGEST-MD5 (RFC 2831), as Cyrus SASL still offers it behind Postfix; RFC 6331 made it Historic.

Exchange::

    S: realm="mx.example",nonce="OA6MG9tEQGm2hh",qop="auth",charset=utf-8,algorithm=md5-sess
    C: charset=utf-8,username="alice",realm="mx.example",nonce="OA6MG9tEQGm2hh",nc=00000001,
       cnonce="…",digest-uri="smtp/mx.example",response=<32 hex>,qop=auth
    S: rspauth=<32 hex>                                   the server proves it knows the password too
    C: (empty)

Only ``qop=auth`` (authentication, no integrity or privacy layer: SMTP has TLS for that). The
server's ``rspauth`` is always checked: a wrong one is an AuthError, never a silent 235.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from smtpshell.protocol.sasl.base import MASK, AuthError, Mechanism, Secret, Step, StepFn, visible

_PAIR = re.compile(r'\s*([A-Za-z0-9-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,"]*)\s*(?:,|$)')
MAX_CHALLENGE = 2048  # RFC 2831 2.1.1: a digest-challenge is at most 2048 bytes


def parse_directives(text: str) -> dict[str, list[str]]:
    """``key=value`` pairs, values quoted or not (``\\`` escapes in quotes); a key may repeat (realm)."""
    out: dict[str, list[str]] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos] in ", ":
            pos += 1
            continue
        match = _PAIR.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read {text[pos:pos + 40]!r}")
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.setdefault(key, []).append(value)
        pos = match.end()
    return out


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded(text: str, utf8: bool) -> bytes:
    """RFC 2831 2.1.2.1: with charset=utf-8, text that ISO 8859-1 can hold is sent in ISO 8859-1."""
    if utf8:
        try:
            return text.encode("iso-8859-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")
    return text.encode("iso-8859-1", "replace")


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class DigestMD5(Mechanism):
    """The client side of DIGEST-MD5: an MD5 digest of the password, nonces and the service."""

    name = "DIGEST-MD5"

    def __init__(self, *, user: str, secret: Secret, authzid: str = "", host: str = "", service: str = "smtp",
                 cnonce: str | None = None) -> None:
        super().__init__(user=user, initial_response=False)
        self._secret = secret
        self._authzid = authzid
        self._digest_uri = f"{service}/{host or 'localhost'}"
        self._cnonce = cnonce or secrets.token_urlsafe(18)
        self._expected_rspauth: str | None = None
        self.verified = False

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._digest_response, self._check_rspauth)

    def _response(self, a2_prefix: str, realm: str, nonce: str, utf8: bool) -> str:
        user, password = _encoded(self.user, utf8), _encoded(self._secret.reveal(), utf8)
        a1 = _md5(user + b":" + _encoded(realm, utf8) + b":" + password) \
            + f":{nonce}:{self._cnonce}".encode()
        if self._authzid:
            a1 += b":" + self._authzid.encode("utf-8")
        a2 = f"{a2_prefix}:{self._digest_uri}".encode()
        return _hex(f"{_hex(a1)}:{nonce}:00000001:{self._cnonce}:auth:{_hex(a2)}".encode())

    def _digest_response(self, challenge: bytes | None) -> Step:
        if not challenge:
            raise self.error("challenge", "empty: DIGEST-MD5 starts with the server's digest-challenge")
        if len(challenge) > MAX_CHALLENGE:
            raise self.error("challenge", f"{len(challenge)} bytes: RFC 2831 allows {MAX_CHALLENGE}")
        try:
            fields = parse_directives(challenge.decode("utf-8", "replace"))
        except ValueError as exc:
            raise self.error("challenge", str(exc)) from None
        nonce = (fields.get("nonce") or [""])[0]
        if not nonce or len(fields.get("nonce", [])) > 1:
            raise self.error("challenge", "exactly one nonce= is required")
        if (fields.get("algorithm") or [""])[0].lower() != "md5-sess":
            raise self.error("challenge", "algorithm=md5-sess is required")
        offered = [q.strip().lower() for value in fields.get("qop", ["auth"]) for q in value.split(",")]
        if "auth" not in offered:
            raise self.error("challenge", f"qop {','.join(offered)}: this client does authentication only (auth)")
        realms = fields.get("realm", [])
        realm = realms[0] if realms else ""
        utf8 = (fields.get("charset") or [""])[0].lower() == "utf-8"
        response = self._response("AUTHENTICATE", realm, nonce, utf8)
        self._expected_rspauth = self._response("", realm, nonce, utf8)
        parts = ["charset=utf-8"] if utf8 else []
        parts += [f"username={_quote(self.user)}", f"realm={_quote(realm)}", f"nonce={_quote(nonce)}",
                  "nc=00000001", f"cnonce={_quote(self._cnonce)}", f"digest-uri={_quote(self._digest_uri)}",
                  f"response={response}", "qop=auth"]
        if self._authzid:
            parts.append(f"authzid={_quote(self._authzid)}")
        text = ",".join(parts)
        notes = (
            f"challenge: realm {realm!r}, nonce {nonce!r}, qop {','.join(offered)}, charset {'utf-8' if utf8 else 'latin-1'}",
            f"A1 = MD5(user:realm:password ({MASK})):nonce:cnonce{':authzid' if self._authzid else ''}",
            f"A2 = AUTHENTICATE:{self._digest_uri}",
            f"response = hex MD5(hex MD5(A1):nonce:00000001:cnonce:auth:hex MD5(A2)) = {response}",
            "the password never travels; the server must answer rspauth= to prove it knows it too",
        )
        return Step(response=text.encode("utf-8"), shown=visible(text), secret=True, notes=notes)

    def _check_rspauth(self, challenge: bytes | None) -> Step:
        try:
            fields = parse_directives((challenge or b"").decode("utf-8", "replace"))
        except ValueError as exc:
            raise self.error("rspauth", str(exc)) from None
        got = (fields.get("rspauth") or [""])[0]
        if not got:
            raise self.error("rspauth", f"expected rspauth=…, got '{visible(challenge or b'')}'")
        if got.lower() != self._expected_rspauth:
            raise AuthError("DIGEST-MD5 rspauth: the server's proof does not match: it does not know the password"
                            " (or the exchange was tampered with)")
        self.verified = True
        return Step(response=b"", shown="(empty line: the server's rspauth is verified)", secret=False,
                    notes=(f"rspauth {got} matches: the server knows the password",))

    def _outcome(self, code: int, text: str) -> list[str]:
        if code == 235 and self.verified:
            return ["server proof (rspauth) verified: mutual authentication complete"]
        if code == 535 and self._expected_rspauth is not None and not self.verified:
            return ["the server rejected our digest: wrong password or user, or a realm it does not expect"]
        return []
