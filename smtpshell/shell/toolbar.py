"""The bottom toolbar's content as a pure function of the shell's state and the line being typed.

Returns ``(style class, text)`` pairs; the REPL hands them to prompt_toolkit. The first line
is the session: host:port, plain text or TLS (version, cipher), the authenticated user, the
SMTP phase (with the recipients accepted), whether a recording runs, the last reply's
latency. While a command is typed a second line shows its syntax: an SMTP verb's with
only the parameters the server advertised (``protocol/verbs.py``), a colon command's from
the registry (what ``:help`` shows).
"""

from __future__ import annotations

import os

from smtpshell.net.connection import format_hostport
from smtpshell.protocol.session import Phase

SEP = ("class:toolbar.sep", "  │  ")


def toolbar(shell, text: str = "") -> list[tuple[str, str]]:
    """The toolbar for ``shell`` while ``text`` is in the input line."""
    parts = _session_parts(shell)
    if shell.recorder is not None:
        parts += [SEP, ("class:toolbar.rec", f"● rec {os.path.basename(shell.recorder.path)}")]
    hint = syntax_line(shell, text)
    if hint:
        parts += [("", "\n"), ("class:toolbar.syntax", " " + hint)]
    return parts


def _session_parts(shell) -> list[tuple[str, str]]:
    target = shell.target
    if target is None:
        return [("class:toolbar.closed", " not connected — :connect HOST [PORT]")]
    parts: list[tuple[str, str]] = [("class:toolbar.host", " " + format_hostport(target.host, target.port))]
    if not shell.connected:
        return parts + [SEP, ("class:toolbar.closed", "closed — :reconnect")]
    conn, session = shell.conn, shell.session
    parts.append(SEP)
    if session.tls and conn.tls_info is not None:
        how = "TLS" if conn.implicit_tls else "STARTTLS"
        verified = "" if conn.tls_info.verified else " unverified"
        parts.append(("class:toolbar.tls", f"{how} {conn.tls_info.version} {conn.tls_info.cipher}{verified}"))
    else:
        parts.append(("class:toolbar.plain", "plain text"))
    if session.auth_user:
        parts += [SEP, ("class:toolbar.user", f"user {session.auth_user}")]
    parts += [SEP, ("class:toolbar.phase", phase_label(session))]
    if shell.last_latency is not None:
        parts += [SEP, ("class:toolbar.latency", f"{shell.last_latency * 1000:.1f} ms")]
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


def syntax_line(shell, text: str) -> str | None:
    """The syntax of the command being typed, or None (nothing typed, unknown, message content, a secret)."""
    words = text.split(None, 1)
    if not words or shell.awaiting_sasl:
        return None
    first = words[0]
    if first.startswith(":"):
        spec = shell.commands.get(first[1:].lower())
        if spec is None or (shell.in_data and not spec.in_data):
            return None
        return f"{spec.syntax}  —  {spec.summary}"
    if shell.in_data:
        return None
    from smtpshell.protocol.verbs import syntax_hint

    session = shell.session
    return syntax_hint(first, session.capabilities if session is not None else None)
