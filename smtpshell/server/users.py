"""The practice server's demo users and the checks that SASL mechanisms make."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from smtpshell.server.scram import HASHES, ScramKeys, derive_keys

AUTH_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2")
"""What the practice server offers, in the order EHLO lists it: the password mechanisms
strongest first (SCRAM proves both sides and never sends the password; CRAM-MD5 does not send
it either; PLAIN and LOGIN do, in base64), then the ones that take an OAuth token."""


@dataclass(frozen=True, kw_only=True)
class DemoUser:
    """A practice account, printed at start for anyone to use; ``repr`` hides the secrets.

    ``token`` is the user's OAuth access token for XOAUTH2 and OAUTHBEARER (empty: none).
    """

    name: str
    password: str = field(repr=False)
    token: str = field(default="", repr=False)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(name="alice", password="wonderland", token="alice-demo-token"),
    DemoUser(name="bob", password="builder", token="bob-demo-token"),
)


class UserBook:
    """Looks demo users up by name and checks what each mechanism proves about them.

    For SCRAM it derives, once, a salt, StoredKey and ServerKey per user and hash
    (RFC 5802 §3) and keeps nothing else of the password for it.
    """

    def __init__(self, users: Iterable[DemoUser]) -> None:
        self._by_name = {user.name: user for user in users}
        self._scram = {
            (mechanism, user.name): derive_keys(mechanism, user.password)
            for mechanism in HASHES
            for user in self._by_name.values()
        }
        self.decoy_secret = secrets.token_bytes(32)
        """Makes an unknown user's SCRAM salt the same on every try of this server."""

    def find(self, name: str) -> DemoUser | None:
        """The user called *name*, or None."""
        return self._by_name.get(name)

    def check_password(self, name: bytes, password: bytes) -> DemoUser | None:
        """The user named *name* if *password* is theirs (PLAIN and LOGIN), else None."""
        user = self._find(name)
        if user is None or not hmac.compare_digest(user.password.encode(), password):
            return None
        return user

    def check_cram_md5(self, challenge: bytes, response: bytes) -> DemoUser | None:
        """The user if *response* is ``name SP hex(HMAC-MD5(password, challenge))`` (RFC 2195)."""
        name, _, digest = response.rpartition(b" ")
        user = self._find(name)
        if user is None:
            return None
        expected = hmac.new(user.password.encode(), challenge, hashlib.md5).hexdigest()
        return user if hmac.compare_digest(expected.encode(), digest.lower()) else None

    def scram_keys(self, mechanism: str, name: str) -> ScramKeys | None:
        """The SCRAM keys of the user called *name* for *mechanism*, or None."""
        return self._scram.get((mechanism, name))

    def check_token(self, name: str, token: str) -> DemoUser | None:
        """The user if *token* is their OAuth token (XOAUTH2, OAUTHBEARER), else None.

        An empty *name* (OAUTHBEARER without ``a=``) means: whoever the token belongs to.
        """
        if name:
            named = self._by_name.get(name)
            candidates = [named] if named is not None else []
        else:
            candidates = list(self._by_name.values())
        found = None
        for user in candidates:
            if user.token and hmac.compare_digest(user.token.encode(), token.encode()):
                found = user
        return found

    def _find(self, name: bytes) -> DemoUser | None:
        try:
            return self._by_name.get(name.decode())
        except UnicodeDecodeError:
            return None
