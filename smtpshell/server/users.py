"""The practice server's demo users and the checks that SASL mechanisms make."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class DemoUser:
    """A practice account, printed at start for anyone to use; ``repr`` hides the password."""

    name: str
    password: str = field(repr=False)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(name="alice", password="wonderland"),
    DemoUser(name="bob", password="builder"),
)


class UserBook:
    """Looks demo users up by name and checks what each mechanism proves about them."""

    def __init__(self, users: Iterable[DemoUser]) -> None:
        self._by_name = {user.name: user for user in users}

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

    def _find(self, name: bytes) -> DemoUser | None:
        try:
            return self._by_name.get(name.decode())
        except UnicodeDecodeError:
            return None
