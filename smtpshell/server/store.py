"""Keeping accepted messages in a Maildir, with the envelope written on top as headers."""

from __future__ import annotations

import mailbox
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

NULL_PATH = "<>"
"""How the practice server spells the null reverse-path (``MAIL FROM:<>``) in an envelope."""

_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True)
class Trace:
    """What the server knows about one transaction, for the headers added on top."""

    queue_id: str
    mail_from: str
    rcpt_tos: Sequence[str]
    helo: str
    peer_ip: str
    hostname: str
    protocol: str
    """RFC 3848 ``with`` keyword: SMTP, ESMTP, ESMTPS, ESMTPA or ESMTPSA."""
    tls: str | None
    """e.g. ``TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)``"""
    user: str | None
    when: datetime


def new_queue_id() -> str:
    """A short random id, quoted in the 250 reply and the Received header."""
    return secrets.token_hex(5).upper()


def angle(address: str) -> str:
    """*address* in angle brackets, as in MAIL FROM and RCPT TO (the null path stays ``<>``)."""
    return address if address == NULL_PATH else f"<{address}>"


def trace_headers(trace: Trace) -> bytes:
    """``Return-Path``, one ``X-Smtpshell-Rcpt-To`` per recipient and ``Received``, CRLF-ended.

    Addresses keep their bytes (UTF-8 under SMTPUTF8); control characters that would break
    a header are written as ``\\xHH``.
    """
    peer = f"IPv6:{trace.peer_ip}" if ":" in trace.peer_ip else trace.peer_ip
    comments = "".join(
        f" ({text})"
        for text in (trace.tls and f"using {trace.tls}", trace.user and f"authenticated as {trace.user}")
        if text
    )
    received = (
        f"from {trace.helo} ([{peer}]){comments}",
        f"by {trace.hostname} (smtpshell practice server) with {trace.protocol} id {trace.queue_id};",
        format_datetime(trace.when),
    )
    fields = [
        ("Return-Path", (angle(trace.mail_from),)),
        *(("X-Smtpshell-Rcpt-To", (angle(rcpt),)) for rcpt in trace.rcpt_tos),
        ("Received", received),
    ]
    return b"".join(
        name.encode() + b": " + b"\r\n\t".join(map(_escape, parts)) + b"\r\n" for name, parts in fields
    )


def _escape(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    return _UNSAFE.sub(lambda match: b"\\x%02x" % match[0][0], raw)


class MaildirStore:
    """A stdlib :class:`mailbox.Maildir`; each message is one file in ``new/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._maildir: mailbox.Maildir | None = None

    def open(self) -> None:
        """Create the Maildir (or the missing ``tmp``/``new``/``cur`` of an existing folder)."""
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._maildir = mailbox.Maildir(self.root, factory=None, create=False)

    def deliver(self, message: bytes) -> Path:
        """Write *message* byte for byte (through ``tmp/``) and return its file in ``new/``."""
        if self._maildir is None:
            raise RuntimeError(f"Maildir {self.root} is not open")
        key = self._maildir.add(message)
        return self.root / "new" / key
