"""Lines shown after a reply about what it means for the session (pure functions).

- LMTP: after the final dot each reply answers one accepted recipient (RFC 2033 4.2); the
  shell says which, and the verdict, even with hints off.
- XCLIENT: its 220 starts a new session as the given client (EHLO needed again).
"""

from __future__ import annotations

from smtpshell.highlight import tokens as tok
from smtpshell.protocol.session import ReplyEvent
from smtpshell.transcript.display import Line, View, hint_line, visible

_VERDICTS = {2: "delivered", 4: "deferred (a temporary failure)", 5: "refused"}


def recipient_line(recipient: str, position: tuple[int, int] | None, code: int | None) -> Line:
    """``↳ for <bob@example.com> (recipient 2 of 3): delivered``."""
    place = f" (recipient {position[0]} of {position[1]})" if position else ""
    verdict = _VERDICTS.get((code or 0) // 100, "no verdict")
    return [(tok.HINT, "    ↳ for "), *visible(recipient, tok.ADDRESS), (tok.HINT, f"{place}: "),
            (tok.code_token(code), verdict)]


def followup_lines(event: ReplyEvent, view: View) -> list[Line]:
    out: list[Line] = []
    if event.recipient is not None:
        out.append(recipient_line(event.recipient, event.position, event.reply.code))
    command = event.command
    if view.hints and command is not None and command.verb == "XCLIENT" and event.reply.code == 220:
        out.append(hint_line("XCLIENT accepted: a new session as that client; send EHLO (or LHLO) again"))
    return out
