"""OAuth 2.0 bearer tokens: XOAUTH2 (Google's format) and OAUTHBEARER (RFC 7628).

Both send the token in one client message. When the token is refused the server does not
answer 535 at once: it sends a 334 whose text is a base64 JSON error report, which the
client must acknowledge (XOAUTH2: an empty response; OAUTHBEARER: ``\\x01``, RFC 7628 3.2.3)
before the final 535.
"""

from __future__ import annotations

import json

from smtpshell.protocol.sasl.base import MASK, Mechanism, Secret, Step, StepFn, gs2_header, visible

# what a JSON "status" usually means (RFC 6750 3.1 error codes, and the HTTP codes Google sends)
STATUS_HINTS = {
    "invalid_token": "the token is expired, revoked or malformed: get a fresh access token",
    "insufficient_scope": "the token lacks the scope this server needs (see scope=)",
    "invalid_request": "the server could not parse the request",
    "400": "the server could not parse the request",
    "401": "the token is expired, revoked or not for this user: get a fresh access token",
}


def describe_error(challenge: bytes) -> tuple[str, dict | None]:
    """A one-line summary of a JSON error challenge, and the object (None when it is not JSON)."""
    try:
        report = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return f"the error challenge is not JSON: '{visible(challenge)}'", None
    if not isinstance(report, dict):
        return f"the error challenge is JSON but not an object: '{visible(challenge)}'", None
    fields = " ".join(f"{key}={visible(str(value))}" for key, value in report.items())
    return f"server error: {fields}", report


class _Bearer(Mechanism):
    ack = b""  # the response to an error challenge
    ack_shown = ""

    def __init__(self, *, user: str, secret: Secret, initial_response: bool = True) -> None:
        super().__init__(user=user, initial_response=initial_response)
        self._secret = secret
        self.error_report: dict | None = None  # the decoded JSON of an error challenge
        self._error_summary: str | None = None

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._message,)

    def _fields(self, token: str) -> str:
        raise NotImplementedError

    def _message(self, challenge: bytes | None) -> Step:
        masked = self._fields(MASK)
        notes = (
            *self._ignored_challenge(challenge),
            f"{self.name}: {visible(masked)} (^A is the byte 0x01)",
            "the token is a bearer credential: anyone who sees it can use it until it expires; use TLS",
        )
        return Step(response=self._fields(self._secret.reveal()).encode("utf-8"), shown=visible(masked),
                    secret=True, notes=notes)

    def _after_last(self, challenge: bytes) -> Step:
        if self._error_summary is not None:
            return super()._after_last(challenge)
        self._error_summary, self.error_report = describe_error(challenge)
        notes = (self._error_summary,
                 f"the client must acknowledge the error with {self.ack_shown}; the server then fails the exchange")
        return Step(response=self.ack, shown=f"{self.ack_shown} (acknowledging the error)", secret=False, notes=notes)

    def _outcome(self, code: int, text: str) -> list[str]:
        if self._error_summary is None:
            return []
        notes = [self._error_summary]
        status = str((self.error_report or {}).get("status", ""))
        if status in STATUS_HINTS:
            notes.append(STATUS_HINTS[status])
        return notes


class XOAuth2(_Bearer):
    """``user=<user>^Aauth=Bearer <token>^A^A`` (Google's XOAUTH2)."""

    name = "XOAUTH2"
    ack = b""
    ack_shown = "an empty line"

    def __init__(self, *, user: str, secret: Secret, initial_response: bool = True) -> None:
        if "\x01" in user:
            raise ValueError("XOAUTH2: the user cannot contain the byte 0x01 (it separates the fields)")
        super().__init__(user=user, secret=secret, initial_response=initial_response)

    def _fields(self, token: str) -> str:
        return f"user={self.user}\x01auth=Bearer {token}\x01\x01"


class OAuthBearer(_Bearer):
    """GS2 header, then ``^Ahost=..^Aport=..^Aauth=Bearer <token>^A^A`` (RFC 7628 3.1)."""

    name = "OAUTHBEARER"
    ack = b"\x01"
    ack_shown = "^A (0x01, the dummy response of RFC 7628 3.2.3)"

    def __init__(self, *, user: str, secret: Secret, authzid: str = "", host: str = "", port: int = 0,
                 initial_response: bool = True) -> None:
        if "\x01" in user + authzid + host:
            raise ValueError("OAUTHBEARER: user, authzid and host cannot contain the byte 0x01"
                             " (it separates the fields)")
        super().__init__(user=user, secret=secret, initial_response=initial_response)
        self._gs2 = gs2_header(authzid or user)
        self._host = host
        self._port = port

    def _fields(self, token: str) -> str:
        pairs = [f"host={self._host}"] if self._host else []
        if self._port:
            pairs.append(f"port={self._port}")
        pairs.append(f"auth=Bearer {token}")
        return self._gs2 + "\x01" + "".join(pair + "\x01" for pair in pairs) + "\x01"

    def _message(self, challenge: bytes | None) -> Step:
        step = super()._message(challenge)
        gs2 = f"GS2 header {self._gs2!r}: 'n' = no channel binding; a= names the user (authzid)"
        return Step(response=step.response, shown=step.shown, secret=True, notes=(*step.notes, gs2))
