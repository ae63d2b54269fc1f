"""SMTP smuggling checks: the end-of-data variants, the bytes to send, and the verdicts (no I/O).

SMTP smuggling (SEC Consult, December 2023; CVE-2023-51764 Postfix, -51765 Sendmail,
-51766 Exim) needs two servers that disagree about where a message ends. RFC 5321 ends
DATA with ``<CR><LF>.<CR><LF>`` only; a server that also ends it at ``<LF>.<LF>`` or
``<LF>.<CR><LF>`` (Sendmail's old leniency) reads whatever follows as new commands. If an
outbound server passes such a sequence through unchanged, a sender can make the receiving
server accept a second, "smuggled" message with any sender they like.

Rules
-----
- One check per variant, in its own transaction: MAIL, RCPT, DATA, then **one write**:
  a message with a marker header, the variant, a smuggled ``MAIL FROM``/``RCPT TO``/``DATA``
  and a second message with its own marker, then the proper ``<CR><LF>.<CR><LF>``.
- The first reply after that write answers the message. Only then does the client send
  ``QUIT``, so every reply that comes before QUIT's ``221`` answers something inside the
  payload: a server that took the variant as end of data answers the smuggled MAIL, RCPT,
  DATA and the smuggled message (four more replies); one that did not has nothing more to
  say. No timing is involved: the server reads QUIT only after everything else.
- :func:`classify` turns (first reply, the replies after it, closed, timed out) into an
  :class:`Outcome`: a :class:`Verdict` and one line saying what the server did.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence

from smtpshell.protocol.replies import Reply


@dataclass(frozen=True, kw_only=True)
class Variant:
    name: str  # "lf.lf": what --variants takes
    sequence: bytes  # what replaces <CR><LF>.<CR><LF>, starting with the line ending before the dot

    @property
    def shown(self) -> str:
        """The bytes as escapes: ``\\n.\\n``."""
        return escaped(self.sequence)


VARIANTS: tuple[Variant, ...] = (
    Variant(name="lf.lf", sequence=b"\n.\n"),
    Variant(name="lf.crlf", sequence=b"\n.\r\n"),
    Variant(name="crlf.lf", sequence=b"\r\n.\n"),
    Variant(name="cr.cr", sequence=b"\r.\r"),
    Variant(name="cr.crlf", sequence=b"\r.\r\n"),
    Variant(name="crlf.cr", sequence=b"\r\n.\r"),
    Variant(name="lf.cr", sequence=b"\n.\r"),
    Variant(name="crlf.nul.crlf", sequence=b"\r\n\x00.\r\n"),
)
BY_NAME = {v.name: v for v in VARIANTS}

PROPER_END = b"\r\n.\r\n"
LONE_DOT = b".\r\n"  # the payload's last bytes: with the CRLF before them, the proper end
MARKER_HEADER = "X-Smtpshell-Smuggle-Check"

_ESCAPES = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x00: "\\0", 0x5C: "\\\\"}


def escaped(data: bytes) -> str:
    """Bytes as the escapes ``:raw`` reads back (``\\r \\n \\t \\0 \\\\ \\xHH``)."""
    out = []
    for byte in data:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def variant_named(name: str) -> Variant | None:
    return BY_NAME.get(name.strip().lower())


def bare_address(text: str) -> str:
    """``<a@b>`` or ``a@b`` -> ``a@b`` (the null sender ``<>`` -> empty)."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    return text


def payload(variant: Variant, *, mail_from: str, rcpt_to: str, marker: str) -> bytes:
    """Everything written after DATA's 354, in one piece.

    The outer message's last line has no line ending of its own: the variant supplies it.
    """
    sender, recipient = bare_address(mail_from), bare_address(rcpt_to)

    def message(role: str) -> bytes:
        return (
            f"From: <{sender}>\r\n"
            f"To: <{recipient}>\r\n"
            f"Subject: smtpshell smuggle-check {marker} ({variant.name}): {role} message\r\n"
            f"{MARKER_HEADER}: {marker} {role}\r\n"
            "\r\n"
            f"smtpshell smuggle-check {marker}, variant {variant.name} ({variant.shown}): the {role} message.\r\n"
        ).encode("utf-8")

    outer = message("outer")[:-2]  # the variant ends this line
    smuggled_commands = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("utf-8")
    # message() ends with CRLF, so ".\r\n" completes the proper <CR><LF>.<CR><LF>.
    return outer + variant.sequence + smuggled_commands + message("smuggled") + LONE_DOT


class Verdict(enum.Enum):
    END_OF_DATA = "END OF DATA"  # took the variant as the end and ran the smuggled commands
    END_REFUSED = "end of data, smuggled commands refused"
    CONTENT = "not end of data"  # one message: the variant stayed content
    REJECTED = "not end of data (rejected)"  # one reply, a refusal: e.g. a bare LF refused
    INCONCLUSIVE = "inconclusive"

    @property
    def vulnerable(self) -> bool:
        return self is Verdict.END_OF_DATA


@dataclass(frozen=True, kw_only=True)
class Outcome:
    verdict: Verdict
    what: str  # what the server did, one line


_SMUGGLED_STEPS = ("MAIL", "RCPT", "DATA", "message")


def _short(reply: Reply) -> str:
    text = reply.lines[0].text if reply.lines else ""
    return f"{reply.code} {text}".strip() if reply.code is not None else text


def classify(first: Reply | None, after: Sequence[Reply], *, closed: bool, timed_out: bool) -> Outcome:
    """The verdict for one variant.

    ``first``: the reply that answered the payload (None if none came); ``after``: every
    reply that came after it, up to and including QUIT's 221 if it came; ``closed``: the
    server closed the connection; ``timed_out``: the client stopped waiting.
    """
    rest = list(after)
    quit_answered = bool(rest) and rest[-1].code == 221
    if quit_answered:
        rest.pop()
    if first is None:
        if timed_out:
            return Outcome(verdict=Verdict.INCONCLUSIVE,
                           what="no reply within the timeout, even after the proper <CR><LF>.<CR><LF>")
        return Outcome(verdict=Verdict.INCONCLUSIVE, what="closed the connection without a reply")
    ending = ""
    if not quit_answered:
        ending = "; then closed the connection" if closed else "; then no answer to QUIT (timeout)" if timed_out else ""
    if rest:
        steps = ", ".join(f"{step} {r.code}" for step, r in zip(_SMUGGLED_STEPS, rest))
        more = f", and {len(rest) - len(_SMUGGLED_STEPS)} more" if len(rest) > len(_SMUGGLED_STEPS) else ""
        smuggled_mail = rest[0]
        if smuggled_mail.code is not None and 200 <= smuggled_mail.code < 300:
            return Outcome(verdict=Verdict.END_OF_DATA,
                           what=f"ended the message there ({first.code}), then answered the smuggled "
                                f"{steps}{more}{ending}")
        return Outcome(verdict=Verdict.END_REFUSED,
                       what=f"ended the message there ({first.code}), then refused the smuggled MAIL FROM: "
                            f"{_short(smuggled_mail)}{ending}")
    if first.code is not None and 200 <= first.code < 300:
        return Outcome(verdict=Verdict.CONTENT,
                       what=f"one message ({first.code}): the sequence and the smuggled commands stayed "
                            f"message content{ending}")
    if first.code is not None and 400 <= first.code < 600:
        return Outcome(verdict=Verdict.REJECTED, what=f"refused the message: {_short(first)}{ending}")
    return Outcome(verdict=Verdict.INCONCLUSIVE, what=f"answered {_short(first)}{ending}")
