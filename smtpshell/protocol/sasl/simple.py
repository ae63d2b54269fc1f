"""PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login-00) and CRAM-MD5 (RFC 2195)."""

from __future__ import annotations

import hashlib
import hmac

from smtpshell.protocol.sasl.base import MASK, Mechanism, Secret, Step, StepFn, visible

CLEAR_TEXT = "the password travels in clear text inside base64: use this mechanism only over TLS"


class Plain(Mechanism):
    """``authzid NUL authcid NUL password`` in one response (RFC 4616 2)."""

    name = "PLAIN"

    def __init__(self, *, user: str, secret: Secret, authzid: str = "", initial_response: bool = True) -> None:
        for what, value in (("user", user), ("authzid", authzid), ("password", secret.reveal())):
            if "\0" in value:
                raise ValueError(f"PLAIN: the {what} cannot contain NUL (it separates the fields)")
        super().__init__(user=user, initial_response=initial_response)
        self._secret = secret
        self._authzid = authzid

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._message,)

    def _message(self, challenge: bytes | None) -> Step:
        message = "\0".join((self._authzid, self.user, self._secret.reveal())).encode("utf-8")
        who = (f"act as {self._authzid!r} (the server decides whether {self.user} may)" if self._authzid
               else "act as the user itself")
        notes = (
            *self._ignored_challenge(challenge),
            "PLAIN (RFC 4616): authzid <NUL> user <NUL> password"
            f" = {visible(self._authzid)}<NUL>{visible(self.user)}<NUL>{MASK}",
            f"authzid {self._authzid!r}: {who}",
            CLEAR_TEXT,
        )
        return Step(response=message, shown=describe_plain(self._authzid, self.user), secret=True, notes=notes)


def describe_plain(authzid: str, user: str) -> str:
    return f"authzid='{visible(authzid)}' user={visible(user)} password={MASK}"


class Login(Mechanism):
    """Two answers, the user name then the password, whatever the prompts say.

    Postfix prompts ``Username:`` / ``Password:``, aiosmtpd ``User Name\\0`` / ``Password\\0``;
    only the order counts.
    """

    name = "LOGIN"

    def __init__(self, *, user: str, secret: Secret, initial_response: bool = False) -> None:
        super().__init__(user=user, initial_response=initial_response)
        self._secret = secret

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._user, self._password)

    def _user(self, challenge: bytes | None) -> Step:
        if challenge is None:
            asked = "initial response (RFC 4954): the user name goes on the AUTH LOGIN line"
        else:
            asked = (f"the server asks '{visible(challenge)}':"
                     " LOGIN's first answer is the user name, whatever the prompt says")
        return Step(response=self.user.encode("utf-8"), shown=visible(self.user), secret=False, notes=(asked,))

    def _password(self, challenge: bytes | None) -> Step:
        notes = (
            f"the server asks '{visible(challenge or b'')}': LOGIN's second answer is the password ({MASK})",
            CLEAR_TEXT,
        )
        return Step(response=self._secret.reveal().encode("utf-8"), shown=MASK, secret=True, notes=notes)


class CramMD5(Mechanism):
    """``user SP hex(HMAC-MD5(password, challenge))``: the password itself never travels."""

    name = "CRAM-MD5"

    def __init__(self, *, user: str, secret: Secret) -> None:
        super().__init__(user=user, initial_response=False)
        self._secret = secret

    def _steps(self) -> tuple[StepFn, ...]:
        return (self._digest,)

    def _digest(self, challenge: bytes | None) -> Step:
        if not challenge:
            raise self.error("challenge", "empty: CRAM-MD5 needs the server's challenge"
                                          " (e.g. <1896.697170952@host>) to sign")
        digest = hmac.new(self._secret.reveal().encode("utf-8"), challenge, hashlib.md5).hexdigest()
        shown = f"{visible(self.user)} {digest}"
        notes = (
            f"challenge {visible(challenge)}",
            f"HMAC-MD5 key: the password ({MASK}); message: the challenge",
            f"digest {digest}",
            f"response: user SP digest = {shown}",
            "the password never travels, but a recorded challenge and digest allow an offline guessing attack",
        )
        # secret=True: the digest is derived from the password (it stays masked in transcripts)
        return Step(response=f"{self.user} {digest}".encode("utf-8"), shown=shown, secret=True, notes=notes)
