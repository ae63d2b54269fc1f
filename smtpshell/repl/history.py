"""A file history that never stores secrets (after iredis' SkipAuthFileHistory)."""

from __future__ import annotations

import os
import re
from typing import Callable

from prompt_toolkit.history import FileHistory

# AUTH with an initial response, typed or as :raw bytes; :b64 / :unb64, which exist to encode and
# decode credentials (\0user\0password).
_SECRET_LINE = re.compile(r"^\s*(?:(?::raw\s+)?AUTH\s+\S+\s+\S|:(?:b64|unb64)(?:\s|$))", re.IGNORECASE)


def may_hold_secret(line: str) -> bool:
    """Whether a typed line may carry a credential, and so stays out of the history file."""
    if _SECRET_LINE.match(line):
        return True
    words = line.split()
    if not words or words[0].lower() != ":auth":
        return False
    from smtpshell.protocol.auth import SUPPORTED

    # ":auth MECH USER PASSWORD", or ":auth USER PASSWORD" (the mechanism chosen for the user)
    known = len(words) > 1 and words[1].upper() in SUPPORTED
    return len(words) > (3 if known else 2)


class RedactingFileHistory(FileHistory):
    """Skips lines typed as SASL responses, lines that may carry credentials, and message content."""

    def __init__(self, path: str, skip: Callable[[], bool]) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if not os.path.exists(path):
            with open(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)):
                pass
        super().__init__(path)
        self._skip = skip

    def append_string(self, string: str) -> None:
        if self._skip() or may_hold_secret(string):
            return
        super().append_string(string)
