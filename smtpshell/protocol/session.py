"""The SMTP client session as a state machine, without I/O (in the manner of h11).

Rules
-----
- ``receive_data(bytes)`` takes whatever the network read (``b""`` means the
  server closed); ``next_event()`` then returns events one at a time, or
  ``None`` when it needs more data.
- ``send_line(text)`` returns an :class:`Outgoing`: the exact bytes to write
  and the warnings the user should see first. **It never refuses** a command
  for being out of phase or not advertised; it only warns. The one thing it
  refuses (``LocalProtocolError``) is what cannot go on the wire faithfully:
  CR or LF inside one command line (``send_raw`` exists for that).
- Every reply answers the oldest command still waiting (so pipelined commands
  pair up in order); the first reply answers the greeting. A reply with
  nothing waiting is unsolicited (``ReplyEvent.command is None``), e.g. a
  ``421`` timeout. The checks before sending count a command still waiting for
  its reply as if it had succeeded: RCPT pipelined after MAIL is not out of phase.
- Phases follow the replies, not the commands: ``MAIL`` moves to
  ``Phase.MAIL`` only when a 250 comes back. The transitions are the table
  ``_ON_REPLY`` below.
- After ``STARTTLS`` gets 220 the session emits :class:`StartTLS` and accepts
  no more data until ``tls_started()``; bytes that arrived after the 220 and
  before the handshake are an injection attempt (CVE-2011-0411 class), reported
  as :class:`PlaintextInjection`. After TLS the EHLO capabilities are
  forgotten (RFC 3207 4.2).
- After ``354`` the session is in ``Phase.DATA``: ``send_data_line`` dot-stuffs
  and ``end_data`` sends the terminating dot.
- LMTP: after the dot (and after BDAT LAST) come one reply per accepted RCPT, in RCPT order; each
  ``ReplyEvent`` carries the recipient it answers and its position (RFC 2033 4.2).
- XCLIENT's ``220`` starts a new session as the given client: like a greeting,
  it forgets EHLO and its capabilities (Postfix XCLIENT_README).
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections import deque
from dataclasses import dataclass
from typing import Callable

from smtpshell.protocol.data import END_OF_DATA, stuff_line
from smtpshell.protocol.extensions import Capabilities, parse_ehlo
from smtpshell.protocol.replies import Reply, ReplyParser
from smtpshell.protocol.xclient import login_of as xclient_login

MAX_COMMAND_LINE = 512  # RFC 5321 4.5.3.1.4, CRLF included
MAX_TEXT_LINE = 1000  # RFC 5321 4.5.3.1.6: a line of message text, CRLF included
_RCPT_TO = re.compile(r"\s*RCPT\s+TO:\s*(<[^>]*>|\S+)", re.IGNORECASE)


class LocalProtocolError(ValueError):
    """What the user asked for cannot be sent faithfully."""


class Phase(enum.Enum):
    GREETING = "greeting"  # connected, waiting for the 220 banner
    READY = "ready"  # no transaction open
    MAIL = "mail"  # MAIL FROM accepted
    RCPT = "rcpt"  # at least one RCPT TO accepted
    DATA = "data"  # after 354: the message content
    BDAT = "bdat"  # inside a BDAT transfer (chunks accepted, no LAST yet)
    TLS = "tls"  # STARTTLS accepted, handshake pending
    CLOSED = "closed"


@dataclass(frozen=True, kw_only=True, eq=False)
class Command:
    """A line the client sent, waiting for (or matched to) its reply."""

    line: str  # as the user typed it (secrets included: never log this directly)
    verb: str  # upper-cased first word, or a pseudo-verb: GREETING, ".", SASL
    secret: bool = False  # the line carries credentials

    @property
    def display_line(self) -> str:
        """The line with credentials masked, for screens, history and transcripts."""
        if not self.secret:
            return self.line
        if self.verb == "AUTH":
            words = self.line.split()
            return " ".join(words[:2] + ["***"] * (len(words) > 2))
        return "***"




@dataclass(frozen=True, kw_only=True)
class ReplyEvent:
    reply: Reply
    command: Command | None  # None: unsolicited
    # LMTP, after the final dot or BDAT LAST: the accepted recipient this reply is for, and its place
    # (1-based) among them (RFC 2033 4.2: one reply per accepted RCPT, in RCPT order).
    recipient: str | None = None
    position: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True)
class StartTLS:
    """The server said 220 to STARTTLS: start the handshake now."""


@dataclass(frozen=True, kw_only=True)
class PlaintextInjection:
    """Bytes arrived after the 220 to STARTTLS and before the handshake."""

    data: bytes


@dataclass(frozen=True, kw_only=True)
class ServerClosed:
    """The server closed the connection."""

    mid_reply: bool
    expected: bool  # after QUIT's 221 or a 421


Event = ReplyEvent | StartTLS | PlaintextInjection | ServerClosed


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    data: bytes
    command: Command | None
    warnings: tuple[str, ...] = ()


class Session:
    """One SMTP client session's state. See the module docstring for the rules."""

    def __init__(self, *, lmtp: bool = False, tls: bool = False) -> None:
        self.lmtp = lmtp
        self.tls = tls  # True once TLS is up (implicit or STARTTLS)
        self.phase = Phase.GREETING
        self.capabilities: Capabilities | None = None
        self.plain_capabilities: Capabilities | None = None  # the EHLO reply before STARTTLS, for :caps
        self.greeted = False  # EHLO/HELO/LHLO accepted
        self.recipients = 0  # RCPTs accepted in this transaction
        self.auth_user: str | None = None  # authenticated (as far as we can tell)
        self.last_reply: Reply | None = None
        self._parser = ReplyParser()
        self.greeting = Command(line="LMTP" if lmtp else "", verb="GREETING")  # its hint names LHLO in LMTP
        self._pending: deque[Command] = deque([self.greeting])
        self._events: deque[Event] = deque()
        self._sasl = False  # a 334 is waiting for a SASL response
        self._sasl_user: str | None = None
        self._sasl_mech = ""
        self.sasl_step = 0  # SASL responses sent in the current AUTH exchange
        self._accepted: list[str] = []  # addresses of the RCPTs accepted in this transaction
        self._declared_8bit = False  # MAIL FROM said BODY=8BITMIME / BINARYMIME / SMTPUTF8
        self._warned_8bit = False  # said once per message
        self._lmtp_due: deque[tuple[str, tuple[int, int]]] = deque()  # LMTP replies still to come
        self._lmtp_for: Command | None = None  # the dot or BDAT LAST they answer
        self._quit_acknowledged = False

    # ----- state queries -------------------------------------------------

    @property
    def awaiting_sasl(self) -> bool:
        return self._sasl

    @property
    def sasl_mechanism(self) -> str:
        """The mechanism of the current (or last) AUTH exchange, upper-cased."""
        return self._sasl_mech

    def authenticating_as(self, user: str) -> None:
        """Who a 235 will have authenticated (the shell's :auth knows; typed AUTH is guessed)."""
        self._sasl_user = user

    @property
    def pending(self) -> tuple[Command, ...]:
        return tuple(self._pending)

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    # ----- receiving -----------------------------------------------------

    def unfinished(self) -> bytes:
        """Bytes the server sent that do not make a whole reply yet (no line ending, or a
        multi-line reply without its last line), left in place."""
        return self._parser.peek()

    def receive_data(self, data: bytes) -> None:
        if self.phase is Phase.CLOSED:
            return
        if self.phase is Phase.TLS:
            if data:
                self._events.append(PlaintextInjection(data=data))
                return
        mid_reply = self._parser.in_reply
        replies = self._parser.feed(data)
        for i, reply in enumerate(replies):
            self._on_reply(reply)
            if self.phase is Phase.TLS:
                # Nothing may follow the 220 before the handshake.
                injected = b"".join(r.wire for r in replies[i + 1:]) + self._parser.take_buffer()
                if injected:
                    self._events.append(PlaintextInjection(data=injected))
                else:
                    self._events.append(StartTLS())
                return
        if not data:
            expected = self._quit_acknowledged or (
                self.last_reply is not None and self.last_reply.code == 421
            )
            self.phase = Phase.CLOSED
            self._events.append(ServerClosed(mid_reply=mid_reply, expected=expected))

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def _on_reply(self, reply: Reply) -> None:
        self.last_reply = reply
        command = self._pending.popleft() if self._pending else None
        recipient = position = None
        if command is not None:
            if reply.code is None:
                # A line with no code answers nothing; put the command back.
                self._pending.appendleft(command)
                command = None
            elif self.lmtp and _ends_message(command):
                # LMTP (RFC 2033 4.2): one reply per accepted recipient, in RCPT order. Counted
                # at the first reply, when every RCPT before it has had its own (pipelining).
                if self._lmtp_for is not command:
                    self._lmtp_for = command
                    accepted = self._accepted[-self.recipients:] if self.recipients else []
                    self._lmtp_due = deque((r, (i, len(accepted))) for i, r in enumerate(accepted, 1))
                if self._lmtp_due:
                    recipient, position = self._lmtp_due.popleft()
                    if self._lmtp_due:
                        self._pending.appendleft(command)
        self._events.append(ReplyEvent(reply=reply, command=command, recipient=recipient, position=position))
        if reply.code is None:
            return
        handler = _ON_REPLY.get(command.verb if command else "")
        if handler is not None:
            handler(self, reply, command)

    def tls_started(self) -> None:
        """The handshake finished: forget what was said in plain text (RFC 3207 4.2)."""
        self.tls = True
        self.phase = Phase.READY
        self.plain_capabilities = self.capabilities
        self.capabilities = None
        self.greeted = False
        self.recipients = 0

    # ----- sending -------------------------------------------------------

    def send_line(self, line: str, *, secret: bool | None = None) -> Outgoing:
        """A command line (or a SASL response after 334) as typed.

        ``secret`` overrides whether the line is masked for display (SASL
        responses are masked unless the caller knows they carry no secret).
        """
        if "\r" in line or "\n" in line:
            raise LocalProtocolError(
                "a command line cannot contain CR or LF; use :raw to send exact bytes"
            )
        if self.phase is Phase.DATA:
            raise LocalProtocolError("in DATA: use send_data_line / end_data")
        if self._sasl:
            command = Command(line=line, verb="SASL", secret=True if secret is None else secret)
            self._note_sasl_response(line)
            self._sasl = False  # until the next 334
            self.sasl_step += 1
            warnings = ()
            if line.strip() != "*" and _b64_or_none(line) is None:
                warnings = ("that is not base64: a SASL answer must be base64 (:b64 TEXT encodes); * cancels",)
            return self._queue(command, warnings)
        words = line.split()
        verb = words[0].upper() if words else ""
        if secret is None:
            secret = verb == "AUTH" and len(words) > 2
        command = Command(line=line, verb=verb, secret=secret)
        warnings = list(self._warnings(command, words))
        if verb == "AUTH" and len(words) > 1:
            self._sasl_user = None
            self._sasl_mech = words[1].upper()
            self.sasl_step = 0
            if len(words) > 2:
                self.sasl_step = 1
                self._note_sasl_response(words[2], initial=True)
        return self._queue(command, tuple(warnings))

    def data_line_warnings(self, line: bytes) -> tuple[str, ...]:
        """What to say before a line of message content goes out (it goes out anyway): a line
        over RFC 5321's limit, and once per message 8-bit bytes the server or MAIL did not allow."""
        warnings = []
        if len(line) + 2 > MAX_TEXT_LINE:
            warnings.append(f"line is {len(line) + 2} bytes; RFC 5321 allows {MAX_TEXT_LINE} for a line of message "
                            "text (CRLF included): servers may refuse the message or break the line")
        if not self._warned_8bit and not line.isascii():
            caps = self.capabilities
            if caps is not None and "8BITMIME" not in caps and "SMTPUTF8" not in caps:
                self._warned_8bit = True
                warnings.append("8-bit bytes in the message, and the server did not advertise 8BITMIME: it may "
                                "refuse or mangle them (send the body quoted-printable or base64)")
            elif caps is not None and not self._declared_8bit:
                self._warned_8bit = True
                warnings.append("8-bit bytes in the message, but MAIL FROM did not declare BODY=8BITMIME "
                                "(RFC 6152; SMTPUTF8 for UTF-8 addresses and headers)")
        return tuple(warnings)

    def send_data_line(self, line: bytes | str) -> bytes:
        """One line of message content after 354: dot-stuffed, CRLF added."""
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogateescape")  # bytes that were not UTF-8 go as they came
        return stuff_line(line)

    def end_data(self) -> Outgoing:
        """The lone dot that ends the message."""
        if self.phase is not Phase.DATA:
            raise LocalProtocolError("not in DATA")
        self.phase = Phase.READY  # until the reply says otherwise
        return self._queue(Command(line=".", verb="."), ())

    def data_ended_by_server(self) -> None:
        """The server answered inside DATA without the client's end of data: it took raw bytes
        (a bare-LF dot line, say) as the end of the message. The session is out of DATA."""
        if self.phase is Phase.DATA:
            self.phase = Phase.READY

    def send_raw(self, data: bytes, *, expects_reply: bool = False) -> Outgoing:
        """Exact bytes, no framing. Whatever the server answers is unsolicited
        unless ``expects_reply``."""
        command = Command(line=data.decode("utf-8", "backslashreplace"), verb="RAW")
        if expects_reply:
            self._pending.append(command)
        return Outgoing(data=data, command=command if expects_reply else None)

    def _queue(self, command: Command, warnings: tuple[str, ...]) -> Outgoing:
        self._pending.append(command)
        # surrogateescape: a line read from a file or argument that was not UTF-8 goes out as its bytes
        return Outgoing(data=command.line.encode("utf-8", "surrogateescape") + b"\r\n", command=command,
                        warnings=warnings)

    def _note_sasl_response(self, b64: str, initial: bool = False) -> None:
        """Remember who is authenticating, from PLAIN's authcid or LOGIN's first answer."""
        decoded = _b64_or_none(b64)
        if decoded is None:
            return
        mech = self._sasl_mech
        if mech == "PLAIN":
            parts = decoded.split(b"\x00")
            if len(parts) == 3:
                self._sasl_user = parts[1].decode("utf-8", "replace")
        elif mech == "LOGIN" and self._sasl_user is None:
            self._sasl_user = decoded.decode("utf-8", "replace")

    # ----- warnings (never refusals) ------------------------------------

    def _warnings(self, command: Command, words: list[str]):
        verb = command.verb
        caps = self.capabilities
        for check in _CHECKS:
            text = check(self, verb, words, caps)
            if text:
                yield text
        encoded = command.line.encode("utf-8", "surrogateescape")
        try:
            command.line.encode("utf-8")
        except UnicodeEncodeError:
            escaped = [ord(ch) - 0xDC00 for ch in command.line if 0xDC80 <= ord(ch) <= 0xDCFF]
            bad = list(dict.fromkeys(escaped))  # each byte once, in the order they come
            shown = " ".join(f"0x{b:02x}" for b in bad[:6]) + (" …" if len(bad) > 6 else "")
            yield f"the line has bytes that are not UTF-8 ({shown}): sent as they are"
        if len(encoded) + 2 > MAX_COMMAND_LINE:
            yield f"line is {len(encoded) + 2} bytes; RFC 5321 allows {MAX_COMMAND_LINE} for a command"
        if not command.line.isascii() and not (caps and "SMTPUTF8" in caps):
            yield "non-ASCII in a command, and the server did not advertise SMTPUTF8"


def _b64_or_none(text: str) -> bytes | None:
    text = text.strip()
    if text == "=":
        return b""
    try:
        return base64.b64decode(text, validate=True) if text else b""
    except (binascii.Error, ValueError):
        return None


# ----- what each reply does to the session (verb -> handler) ------------


def _greeting(s: Session, r: Reply, c: Command) -> None:
    if s.phase is Phase.GREETING:
        s.phase = Phase.READY


def _hello(s: Session, r: Reply, c: Command) -> None:
    if r.code == 250:
        s.greeted = True
        s.phase = Phase.READY
        s.recipients = 0
        s.capabilities = parse_ehlo(r) if c.verb in ("EHLO", "LHLO") else Capabilities(greeting=r.texts[0])


def _mail(s: Session, r: Reply, c: Command) -> None:
    if r.code == 250:
        s.phase = Phase.MAIL
        s.recipients = 0
        params = c.line.upper().split()[2:]
        s._declared_8bit = any(p in ("BODY=8BITMIME", "BODY=BINARYMIME", "SMTPUTF8") for p in params)


def _rcpt(s: Session, r: Reply, c: Command) -> None:
    if r.code in (250, 251) and s.phase in (Phase.MAIL, Phase.RCPT):
        s.phase = Phase.RCPT
        if s.recipients == 0:
            s._accepted.clear()
        s._accepted.append(_rcpt_address(c.line))
        s.recipients += 1


def _rcpt_address(line: str) -> str:
    """The address of ``RCPT TO:<a@b> PARAMS`` as typed (``<a@b>``), or the line's argument."""
    match = _RCPT_TO.match(line)
    return match.group(1) if match else line.partition(" ")[2].strip()


def _data(s: Session, r: Reply, c: Command) -> None:
    if r.code == 354:
        s.phase = Phase.DATA
        s._warned_8bit = False


def _end_of_message(s: Session, r: Reply, c: Command) -> None:
    if s._pending and s._pending[0] is c:
        return  # LMTP: more per-recipient replies to come
    s.phase = Phase.READY
    s.recipients = 0


def _ends_message(c: Command) -> bool:
    """The lone dot, or BDAT ... LAST: in LMTP, answered once per accepted recipient."""
    return c.verb == "." or (c.verb == "BDAT" and c.line.upper().split()[-1:] == ["LAST"])


def _bdat(s: Session, r: Reply, c: Command) -> None:
    if s._pending and s._pending[0] is c:
        return  # LMTP: more per-recipient replies to come
    last = c.line.upper().split()[-1:] == ["LAST"]
    if r.code == 250 and not last:
        s.phase = Phase.BDAT
    else:
        s.phase = Phase.READY
        s.recipients = 0


def _rset(s: Session, r: Reply, c: Command) -> None:
    if r.code == 250:
        s.phase = Phase.READY
        s.recipients = 0


def _starttls(s: Session, r: Reply, c: Command) -> None:
    if r.code == 220:
        s.phase = Phase.TLS


def _auth(s: Session, r: Reply, c: Command) -> None:
    if r.code == 334:
        s._sasl = True
    elif r.code == 235:
        s._sasl = False
        s.auth_user = s._sasl_user or "(authenticated)"
    else:
        s._sasl = False


def _quit(s: Session, r: Reply, c: Command) -> None:
    if r.code == 221:
        s._quit_acknowledged = True


def _xclient(s: Session, r: Reply, c: Command) -> None:
    """Postfix XCLIENT: 220 starts a new session as the given client (EHLO needed again)."""
    if r.code == 220:
        s.phase = Phase.READY
        s.capabilities = None
        s.greeted = False
        s.recipients = 0
        s.auth_user = xclient_login(c.line)


_ON_REPLY: dict[str, Callable[[Session, Reply, Command], None]] = {
    "GREETING": _greeting,
    "EHLO": _hello,
    "HELO": _hello,
    "LHLO": _hello,
    "MAIL": _mail,
    "RCPT": _rcpt,
    "DATA": _data,
    ".": _end_of_message,
    "BDAT": _bdat,
    "RSET": _rset,
    "STARTTLS": _starttls,
    "AUTH": _auth,
    "SASL": _auth,
    "QUIT": _quit,
    "XCLIENT": _xclient,
}


# ----- checks before sending: each returns a warning or None -------------

_EXTENSION_VERBS = {
    "STARTTLS": "STARTTLS",
    "AUTH": "AUTH",
    "BDAT": "CHUNKING",
    "ETRN": "ETRN",
    "XCLIENT": "XCLIENT",
    "XFORWARD": "XFORWARD",
    "ATRN": "ATRN",
}

_MAIL_PARAMS = {
    "SIZE": "SIZE",
    "BODY": "8BITMIME",
    "SMTPUTF8": "SMTPUTF8",
    "RET": "DSN",
    "ENVID": "DSN",
    "AUTH": "AUTH",
    "REQUIRETLS": "REQUIRETLS",
    "MT-PRIORITY": "MT-PRIORITY",
}
_RCPT_PARAMS = {"NOTIFY": "DSN", "ORCPT": "DSN"}


def _check_greeting(s: Session, verb: str, words: list[str], caps) -> str | None:
    if s.phase is Phase.GREETING and verb != "QUIT":
        return "the server has not sent its greeting yet"
    return None


def _awaiting(s: Session, *verbs: str) -> bool:
    """A command of one of ``verbs`` went out and its reply has not come yet (pipelining):
    the checks count it as if it had succeeded, so MAIL, RCPT, DATA in one group warn of nothing."""
    return any(c.verb in verbs for c in s._pending)


def _check_lmtp_hello(s: Session, verb: str, words, caps) -> str | None:
    if s.lmtp and verb in ("EHLO", "HELO"):
        return f"LMTP (RFC 2033) greets with LHLO, not {verb}: an LMTP server refuses {verb}"
    return None


def _check_hello_first(s: Session, verb: str, words, caps) -> str | None:
    if verb in ("MAIL", "RCPT", "DATA", "AUTH", "STARTTLS", "BDAT") and not s.greeted \
            and not _awaiting(s, "EHLO", "HELO", "LHLO"):
        hello = "LHLO" if s.lmtp else "EHLO"
        after = " (again, after TLS)" if s.tls else ""
        return f"{verb} before {hello}{after}: most servers want {hello} first"
    return None


def _check_phase(s: Session, verb: str, words, caps) -> str | None:
    if verb == "MAIL" and s.phase in (Phase.MAIL, Phase.RCPT, Phase.BDAT) and not _awaiting(s, "RSET"):
        return "MAIL inside an open transaction (send RSET to start over)"
    if verb == "RCPT" and s.phase not in (Phase.MAIL, Phase.RCPT) and not _awaiting(s, "MAIL"):
        return "RCPT before an accepted MAIL FROM"
    if verb in ("DATA", "BDAT") and s.phase is not Phase.RCPT and not (verb == "BDAT" and s.phase is Phase.BDAT) \
            and not _awaiting(s, "RCPT"):
        if s.phase is Phase.MAIL:
            return f"{verb} without an accepted RCPT TO"
        return f"{verb} before an accepted MAIL FROM and RCPT TO"
    if verb == "STARTTLS" and s.tls:
        return "TLS is already active"
    if verb == "AUTH" and s.auth_user:
        return "already authenticated (RFC 4954 forbids a second AUTH)"
    if verb == "AUTH" and not s.tls:
        from smtpshell.protocol.codes import plaintext_auth_warning

        return plaintext_auth_warning(words[1] if len(words) > 1 else None)
    return None


def _check_mechanism_case(s: Session, verb: str, words: list[str], caps) -> str | None:
    if verb == "AUTH" and len(words) > 1 and words[1] != words[1].upper():
        return (f"SASL mechanism names are upper case (RFC 4422): some servers refuse "
                f"{words[1]!r}; {words[1].upper()!r} works everywhere")
    return None


def _check_advertised(s: Session, verb: str, words: list[str], caps) -> str | None:
    if caps is None or not s.greeted:
        return None
    if verb == "HELO" or verb == "EHLO":
        return None
    needed = _EXTENSION_VERBS.get(verb)
    if needed and needed not in caps:
        return f"the server did not advertise {needed}"
    if verb == "AUTH" and len(words) > 1 and "AUTH" in caps:
        mech = words[1].upper()
        if mech not in caps.auth_mechanisms:
            offered = " ".join(caps.auth_mechanisms) or "none"
            return f"the server did not offer AUTH {mech} (offered: {offered})"
    params = {"MAIL": _MAIL_PARAMS, "RCPT": _RCPT_PARAMS}.get(verb)
    if params:
        for word in words[2:]:
            name, eq, _ = word.partition("=")
            name = name.upper()
            ext = params.get(name)
            if ext and ext not in caps:
                return f"{name}{eq} needs {ext}, which the server did not advertise"
    return None


_CHECKS = (_check_greeting, _check_lmtp_hello, _check_hello_first, _check_phase, _check_mechanism_case, _check_advertised)
