"""Command pipelining rules (RFC 2920), without I/O.

Rules
-----
- RFC 2920 3.1: RSET, MAIL FROM and RCPT TO may appear anywhere in a group;
  EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP "can only appear as the last
  command in a group since their success or failure produces a change of
  state which the client SMTP must accommodate" (NOOP so that it can serve as
  a synchronisation point).
- Extensions add to the list: STARTTLS (RFC 3207 4: "the STARTTLS command
  must be the last command in a group"), AUTH (RFC 4954 4: last, unless it
  carries an initial response), ATRN (RFC 2645). HELO and LHLO change state as
  EHLO does. BDAT may be pipelined (RFC 3030 4).
- The shell never refuses: :func:`order_warning` says what is wrong, the
  group goes out as typed.
"""

from __future__ import annotations

# verb -> why it must end a group (shown after "VERB must be the last command of a group: ").
MUST_BE_LAST: dict[str, str] = {
    "EHLO": "it starts the session over and changes what the server offers",
    "HELO": "it starts the session over",
    "LHLO": "it starts the session over and changes what the server offers",
    "DATA": "after its 354 the server reads message content, not commands",
    "VRFY": "its answer may change what the client does next",
    "EXPN": "its answer may change what the client does next",
    "TURN": "it reverses the roles of client and server",
    "ATRN": "it reverses the roles of client and server",
    "QUIT": "the server closes the connection after it",
    "NOOP": "it is the group's synchronisation point",
    "STARTTLS": "what follows would travel in clear text and be read before the handshake "
    "(the injection class of CVE-2011-0411)",
    "AUTH": "the server answers 334 and reads the next line as a SASL answer",
}

RFC = {"STARTTLS": "RFC 3207", "AUTH": "RFC 4954", "ATRN": "RFC 2645"}


def verb_of(line: str) -> str:
    words = line.split()
    return words[0].upper() if words else ""


def must_be_last(line: str) -> str | None:
    """Why ``line`` must be the last command of a pipelined group, or None if it need not be."""
    words = line.split()
    if not words:
        return None
    verb = words[0].upper()
    if verb == "AUTH" and len(words) > 2:
        return None  # an initial response: the client speaks first (RFC 4954 4)
    return MUST_BE_LAST.get(verb)


def order_warning(previous: str) -> str | None:
    """The warning when a command is queued after ``previous`` in the same group."""
    reason = must_be_last(previous)
    if reason is None:
        return None
    verb = verb_of(previous)
    source = RFC.get(verb, "RFC 2920 3.1")
    return (f"{verb} must be the last command of a pipelined group ({source}): {reason}; "
            "the server may act on it before it reads what follows")


def advertised_warning(capabilities, greeted: bool) -> str | None:
    """The warning when the server did not advertise PIPELINING (None when it did)."""
    if capabilities is None or not greeted:
        return "no EHLO reply yet: whether the server offers PIPELINING is unknown (sending the group anyway)"
    if "PIPELINING" not in capabilities:
        return ("the server did not advertise PIPELINING (RFC 2920): sending the group anyway; "
                "it may answer out of step or drop what it reads early")
    return None
