""":xclient — Postfix's XCLIENT made easy: attribute names checked, values xtext-encoded."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from smtpshell.protocol import xclient
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

USAGE = "usage: :xclient NAME=VALUE ...   (" + " ".join(xclient.ATTRIBUTES) + ")"


async def cmd_xclient(shell: "Shell", arg: str) -> None:
    """Send XCLIENT: the server treats this session as coming from another client.

    :xclient ATTR=VALUE ...   e.g. :xclient ADDR=192.0.2.7 NAME=client.example HELO=client.example
    Attributes: NAME REVERSE_NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT.
    Type values plain (quote one with spaces); they are sent xtext-encoded, and an
    IPv6 ADDR or DESTADDR gets its IPV6: prefix. [UNAVAILABLE] and [TEMPUNAVAIL]
    go as they are. The server must advertise XCLIENT and trust this client
    (Postfix: smtpd_authorized_xclient_hosts). After its 220 the session starts
    over as that client: send EHLO again.
    """
    try:
        attrs = xclient.parse_attributes(shlex.split(arg))
    except ValueError as exc:
        shell.usage_error(f"{exc}; {USAGE}")
        return
    if not attrs:
        shell.usage_error(USAGE)
        return
    if not shell.connected:
        shell.error("not connected: :reconnect, or :connect HOST [PORT]")
        return
    normalised = []
    for name, value in attrs:
        value, note = xclient.normalise(name, value)
        if note:
            shell.note(note)
        normalised.append((name, value))
    caps = shell.session.capabilities
    advertised = caps.params("XCLIENT") if caps is not None and "XCLIENT" in caps else None
    if caps is None:
        shell.warn("no EHLO reply yet: cannot tell whether the server offers XCLIENT (send EHLO first)")
    for text in xclient.warnings(normalised, advertised):
        shell.warn(text)
    reply = await shell.send_command(xclient.build_line(normalised))
    if reply is None or not shell.view.hints:
        return
    if reply.code in (550, 554) or (reply.code == 502 and advertised is None):
        shell.emit(display.hint_line(
            "the server does not let this client use XCLIENT; Postfix allows the hosts in "
            "smtpd_authorized_xclient_hosts"
        ))
    elif reply.code == 503:
        shell.emit(display.hint_line("XCLIENT is refused inside a mail transaction: RSET first"))
