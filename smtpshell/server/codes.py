"""Enhanced status codes (RFC 3463) for the replies aiosmtpd writes without one.

Once a server advertises ENHANCEDSTATUSCODES, RFC 2034 expects one on every reply except the
greeting and the answer to HELO/EHLO. aiosmtpd writes many replies itself (``250 OK``,
``503 Error: need MAIL command``, ``220 Ready to start TLS``...), so the practice server
adds the code from this table, chosen by the basic reply code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

ENHANCED_FOR_BASIC: Mapping[int, str] = MappingProxyType(
    {
        220: "2.0.0",  # Ready to start TLS
        221: "2.0.0",  # Bye
        250: "2.0.0",  # OK
        252: "2.0.0",  # Cannot VRFY user, but will accept message
        421: "4.3.2",  # service shutting down
        451: "4.3.0",  # local error in processing
        454: "4.7.0",  # TLS not available
        500: "5.5.2",  # syntax error, command unrecognised, line too long
        501: "5.5.4",  # syntax error in parameters or arguments
        502: "5.5.1",  # command not implemented
        503: "5.5.1",  # bad sequence of commands
        504: "5.5.4",  # parameter not implemented
        530: "5.7.0",  # must issue STARTTLS first / authentication required
        552: "5.3.4",  # message too big
        554: "5.7.0",  # refused for lack of security
        555: "5.5.4",  # MAIL/RCPT parameters not recognised
    }
)
"""The enhanced code for each basic code aiosmtpd uses; others get ``<class>.0.0``."""

_REPLY = re.compile(r"(?P<code>[245]\d\d)(?P<sep>[ -])(?P<text>.*)\Z", re.DOTALL)
_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |\Z)")


def with_enhanced_code(reply: str) -> str:
    """*reply* with an enhanced status code after its basic code, if it lacks one.

    2xx, 4xx and 5xx replies only: a 3xx reply's text is a prompt or a base64 challenge.
    """
    match = _REPLY.match(reply)
    if match is None or _ENHANCED.match(match["text"]):
        return reply
    code = int(match["code"])
    enhanced = ENHANCED_FOR_BASIC.get(code, f"{code // 100}.0.0")
    return f"{match['code']}{match['sep']}{enhanced} {match['text']}".rstrip(" ")
