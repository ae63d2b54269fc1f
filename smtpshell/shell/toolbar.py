"""The bottom toolbar's content as a pure function of the shell's state.

Returns ``(style class, text)`` pairs; the REPL hands them to prompt_toolkit.
"""

from __future__ import annotations

from smtpshell.net.connection import format_hostport
from smtpshell.protocol.session import Phase


def toolbar(shell) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    sep = ("class:toolbar.sep", "  │  ")
    target = shell.target
    if target is None:
        return [("class:toolbar.closed", " not connected — :connect HOST [PORT]")]
    parts.append(("class:toolbar.host", " " + format_hostport(target.host, target.port)))
    if not shell.connected:
        parts += [sep, ("class:toolbar.closed", "closed — :reconnect")]
        return parts
    conn, session = shell.conn, shell.session
    parts.append(sep)
    if session.tls and conn.tls_info is not None:
        how = "TLS" if conn.implicit_tls else "STARTTLS"
        verified = "" if conn.tls_info.verified else " unverified"
        parts.append(("class:toolbar.tls", f"{how} {conn.tls_info.version} {conn.tls_info.cipher}{verified}"))
    else:
        parts.append(("class:toolbar.plain", "plain text"))
    if session.auth_user:
        parts += [sep, ("class:toolbar.user", f"user {session.auth_user}")]
    parts += [sep, ("class:toolbar.phase", phase_label(session))]
    if shell.last_latency is not None:
        parts += [sep, ("class:toolbar.latency", f"{shell.last_latency * 1000:.1f} ms")]
    return parts


def phase_label(session) -> str:
    phase = session.phase
    if session.awaiting_sasl:
        return "auth: answer the 334"
    if phase is Phase.RCPT:
        return f"rcpt ×{session.recipients}"
    if phase is Phase.READY and not session.greeted:
        return "ready (send EHLO)"
    return phase.value
