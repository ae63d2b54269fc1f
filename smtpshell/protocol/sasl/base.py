"""What every mechanism shares: the secret type, one response step, errors, the step bookkeeping.

Rules:

- A mechanism is a short list of *client steps* (``Mechanism._steps``), each turning the
  server's last challenge into the next response. ``initial()`` runs the first step with no
  challenge when the mechanism sends an initial response (RFC 4954 ``AUTH MECH <initial>``);
  otherwise every step runs from ``respond(challenge)``.
- A challenge after the last step goes to ``_after_last`` (an error unless the mechanism
  expects one there, like an OAuth error report).
- ``done`` is True once every step of a successful exchange has been answered (and, for
  SCRAM, the server's signature verified), or ``finish()`` was called.
- A step that cannot answer raises ``AuthError`` naming the mechanism, the message it was
  reading and what was wrong; the mechanism remembers it so ``finish()`` can say why.
- Nothing a user may see (``Step.shown``, ``Step.notes``, ``finish()`` notes, any ``repr``)
  contains the password or token: they read ``***``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MASK = "***"


class Secret:
    """A password or token. ``repr``/``str`` show ``***``; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __reduce__(self):  # no pickling a secret into a file by accident
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, kw_only=True, repr=False)
class Step:
    """One client response to send (the shell base64-encodes ``response``)."""

    response: bytes  # raw bytes; b"" is an empty response (see auth.encode_response)
    shown: str  # what the user may see: the response with secrets masked
    secret: bool  # True when the response carries the secret or a value derived from it
    notes: tuple[str, ...] = ()  # teaching notes (":set explain-auth on")

    def __repr__(self) -> str:
        response = f"<{len(self.response)} bytes, masked>" if self.secret else repr(self.response)
        return f"Step(response={response}, shown={self.shown!r}, secret={self.secret}, notes={self.notes!r})"


class AuthError(Exception):
    """The exchange cannot go on: a malformed challenge, a nonce or a signature that does not match."""


# ----- rendering -----------------------------------------------------------------------

_VISIBLE = {0: "<NUL>", 1: "^A"}


def visible(data: bytes | str) -> str:
    r"""Text with control characters made visible: NUL as ``<NUL>``, ``\x01`` as ``^A``, others ``\xNN``."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    out = []
    for ch in text:
        code = ord(ch)
        if code in _VISIBLE:
            out.append(_VISIBLE[code])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


# ----- GS2 (RFC 5801), shared by SCRAM and OAUTHBEARER -----------------------------------

def saslname(name: str) -> str:
    """Escape ``=`` as ``=3D`` and ``,`` as ``=2C`` (RFC 5802 5.1, RFC 5801 4)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def gs2_header(authzid: str) -> str:
    """``n,,`` or ``n,a=<authzid>,``: 'n' = this client does no channel binding."""
    return f"n,a={saslname(authzid)}," if authzid else "n,,"


# ----- the mechanism ---------------------------------------------------------------------

StepFn = Callable[["bytes | None"], Step]


class Mechanism:
    """A SASL client mechanism: ``initial()``, then ``respond()`` to each 334, then ``finish()``."""

    name: str = ""

    def __init__(self, *, user: str, initial_response: bool) -> None:
        self.user = user
        self._initial_response = initial_response
        self._index = 0  # client steps answered so far
        self._finished = False
        self._failure: str | None = None  # the AuthError that stopped the exchange

    # subclasses: the client steps of a successful exchange, in order
    def _steps(self) -> tuple[StepFn, ...]:
        raise NotImplementedError

    def initial(self) -> Step | None:
        """The initial response for ``AUTH MECH <initial>``, or None to wait for a 334."""
        if not self._initial_response or self._index:
            return None
        return self._run(None)

    def respond(self, challenge: bytes) -> Step:
        """The decoded text of a 334 -> the next response. Raises AuthError."""
        try:
            if self._index >= len(self._steps()):
                return self._after_last(challenge)
            return self._run(challenge)
        except AuthError as exc:
            self._failure = str(exc)
            raise

    def _run(self, challenge: bytes | None) -> Step:
        step = self._steps()[self._index](challenge)
        self._index += 1
        return step

    def _after_last(self, challenge: bytes) -> Step:
        raise self.error("challenge", f"unexpected after the last response: '{visible(challenge)}'")

    def finish(self, code: int, text: str) -> list[str]:
        """Called with the final reply (235, 535, ...): notes about the outcome."""
        self._finished = True
        if self._failure is not None:
            prefix = "WARNING: the server said 235 although " if code == 235 else "the exchange stopped: "
            return [prefix + self._failure]
        return self._outcome(code, text)

    def _outcome(self, code: int, text: str) -> list[str]:
        return []

    @property
    def done(self) -> bool:
        return self._finished or self._index >= len(self._steps())

    def error(self, where: str, what: str) -> AuthError:
        return AuthError(f"{self.name} {where}: {what}")

    def _ignored_challenge(self, challenge: bytes | None) -> tuple[str, ...]:
        """Client-first mechanisms expect an empty 334 when they send no initial response."""
        if challenge:
            return (f"the server sent a non-empty challenge '{visible(challenge)}'"
                    f" where {self.name} expects an empty one; ignored",)
        return ()

    def __repr__(self) -> str:
        state = "done" if self.done else f"step {self._index}/{len(self._steps())}"
        return f"<{type(self).__name__} {self.name} user={self.user!r} {state}>"
