"""A file history that never stores secrets (after iredis' SkipAuthFileHistory)."""

from __future__ import annotations

import os
import re
from typing import Callable

from prompt_toolkit.history import FileHistory

_AUTH_WITH_RESPONSE = re.compile(r"^\s*(AUTH\s+\S+\s+\S|:auth\s+\S+\s+\S+\s+\S)", re.IGNORECASE)


class RedactingFileHistory(FileHistory):
    """Skips lines typed as SASL responses, AUTH lines carrying credentials, and message content."""

    def __init__(self, path: str, skip: Callable[[], bool]) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if not os.path.exists(path):
            with open(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)):
                pass
        super().__init__(path)
        self._skip = skip

    def append_string(self, string: str) -> None:
        if self._skip() or _AUTH_WITH_RESPONSE.match(string):
            return
        super().append_string(string)
