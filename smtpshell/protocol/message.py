"""A whole transaction's pieces as pure values: the envelope lines and the message (no I/O).

Rules
-----
- :func:`mail_line` and :func:`rcpt_line` spell the envelope exactly as it will be sent;
  which parameters go in is the caller's choice, except ``SIZE=``, added only when the
  server advertised SIZE (RFC 1870). Whether the server advertised the others is the
  session's business: it warns, and the line is sent anyway.
- ENVID is xtext-encoded (RFC 3461 4); NOTIFY and RET are upper-cased and checked, and
  a value outside the RFC is reported in ``problems`` (still sent: a debugging tool).
- :func:`build_message` composes with the standard library's ``email`` package: From,
  To, Cc, Subject, Date and Message-ID (the last two from the caller, so the result is
  reproducible), then ``--header`` lines (which replace a composed header of the same
  name), then the body and attachments as MIME. Without ``eight_bit`` the message is
  7-bit clean (non-ASCII text goes quoted-printable or base64); with ``utf8`` headers
  and addresses stay raw UTF-8 (RFC 6532).
- :func:`header_names` reads the names in a message's header section, for the check
  that a file has Date and Message-ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NOTIFY_VALUES = ("SUCCESS", "FAILURE", "DELAY")
RET_VALUES = ("FULL", "HDRS")

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII but ':'


class MessageError(ValueError):
    """The message cannot be built as asked (the text says why)."""


@dataclass(frozen=True, kw_only=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    size: int | None = None  # message size for SIZE= (used only when SIZE is advertised)
    eight_bit: bool = False  # BODY=8BITMIME
    smtputf8: bool = False  # SMTPUTF8
    ret: str | None = None  # RET=FULL|HDRS
    envid: str | None = None  # ENVID= (xtext-encoded on the wire)
    notify: str | None = None  # NOTIFY= on every RCPT


def xtext(text: str) -> str:
    """RFC 3461 xtext: '+', '=', controls, space and non-ASCII (as UTF-8) become +HH."""
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if 33 <= byte <= 126 and byte not in (ord("+"), ord("=")):
            out.append(chr(byte))
        else:
            out.append(f"+{byte:02X}")
    return "".join(out)


def mail_line(env: Envelope, *, size_offered: bool) -> tuple[str, list[str]]:
    """``MAIL FROM:<sender> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] [RET=] [ENVID=]`` and problems."""
    params = []
    problems: list[str] = []
    if size_offered and env.size is not None:
        params.append(f"SIZE={env.size}")
    if env.eight_bit:
        params.append("BODY=8BITMIME")
    if env.smtputf8:
        params.append("SMTPUTF8")
    if env.ret is not None:
        ret = env.ret.upper()
        if ret not in RET_VALUES:
            problems.append(f"RET={ret}: RFC 3461 knows FULL and HDRS")
        params.append(f"RET={ret}")
    if env.envid is not None:
        params.append(f"ENVID={xtext(env.envid)}")
    return " ".join([f"MAIL FROM:<{env.sender}>", *params]), problems


def rcpt_line(recipient: str, *, notify: str | None = None) -> tuple[str, list[str]]:
    """``RCPT TO:<recipient> [NOTIFY=...]`` and problems with NOTIFY's value."""
    if notify is None:
        return f"RCPT TO:<{recipient}>", []
    value = notify.upper().replace(" ", "")
    words = value.split(",")
    problems = []
    if value != "NEVER" and (not all(w in NOTIFY_VALUES for w in words) or len(set(words)) != len(words)):
        problems.append(f"NOTIFY={value}: RFC 3461 wants NEVER, or one or more of SUCCESS,FAILURE,DELAY")
    return f"RCPT TO:<{recipient}> NOTIFY={value}", problems


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` -> (name, value); MessageError if it is not a header field."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not _HEADER_NAME.fullmatch(name):
        raise MessageError(f"not a header field: {text!r} (want \"Name: value\")")
    if "\r" in value or "\n" in value:
        raise MessageError(f"a header value cannot contain a line break: {text!r}")
    return name, value.strip()


def build_message(
    *,
    sender: str,
    to: tuple[str, ...] = (),
    cc: tuple[str, ...] = (),
    subject: str | None = None,
    body: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[Attachment, ...] = (),
    date: str,
    message_id: str,
    utf8: bool = False,
    eight_bit: bool = False,
) -> bytes:
    """The message as it goes in DATA (before dot-stuffing), CRLF line endings."""
    from email import policy
    from email.errors import HeaderParseError
    from email.message import EmailMessage

    if not utf8:
        for address in (sender, *to, *cc):
            if not address.isascii():
                raise MessageError(f"non-ASCII address {address!r}: it needs SMTPUTF8 (--smtputf8)")
    base = policy.SMTPUTF8 if utf8 else policy.SMTP
    pol = base.clone(cte_type="8bit" if eight_bit else "7bit")
    msg = EmailMessage(policy=pol)
    given = {name.lower() for name, _ in headers}
    composed = [("From", sender), ("To", ", ".join(to)), ("Cc", ", ".join(cc)),
                ("Subject", subject), ("Date", date), ("Message-ID", message_id)]
    try:
        for name, value in composed:
            if value and name.lower() not in given:
                msg[name] = value
        for name, value in headers:
            msg[name] = value
        if eight_bit and not body.isascii():
            msg.set_content(body, cte="8bit")
        else:
            msg.set_content(body)
        for item in attachments:
            maintype, _, subtype = item.content_type.partition("/")
            msg.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=item.filename)
        data = msg.as_bytes()
    except (HeaderParseError, ValueError, TypeError, UnicodeError) as exc:
        raise MessageError(f"cannot build the message: {exc}") from None
    return data


def header_names(head: bytes) -> set[str]:
    """The lower-cased field names in the header section at the start of ``head``.

    Reads up to the first empty line (or the end of ``head``); continuation lines are skipped.
    """
    names = set()
    for line in head.splitlines():
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if colon:
            names.add(name.strip().decode("ascii", "replace").lower())
    return names
