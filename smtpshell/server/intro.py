"""The practice server explains itself at start: where it is, who can log in, what to type."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from smtpshell.server.modes import Modes
from smtpshell.server.users import AUTH_MECHANISMS, DemoUser

# Where a client on this computer connects when the server listens on every address.
_CONNECT_FOR_WILDCARD = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def format_intro(
    *,
    host: str,
    port: int,
    tls_port: int | None = None,
    users: Sequence[DemoUser],
    maildir: Path,
    cafile: Path,
    cert_names: Sequence[str],
    valid_days: int,
    auth_require_tls: bool,
    mechanisms: Sequence[str] = AUTH_MECHANISMS,
    modes: Modes = Modes(),
) -> str:
    """The plain-text introduction printed by ``smtpshell serve`` and shown by ``--demo``."""
    listen = host_port(host, port)
    reach = "this computer only" if _is_loopback(host) else "the network"
    auth_rule = "AUTH only after STARTTLS" if auth_require_tls else "AUTH allowed without TLS"
    user_lines = _user_lines(users)
    connect = _CONNECT_FOR_WILDCARD.get(host, host)
    accepted = (
        f"mail for @{modes.domain} accepted; other domains after AUTH only"
        if "relay" in modes
        else "mail to any address is accepted"
    )
    mode_lines = modes.intro_lines()
    implicit, connect_tls = [], []
    if tls_port is not None:
        implicit = [f"  Implicit TLS  {host_port(host, tls_port)}  (TLS from the first byte, as on port 465)"]
        connect_tls = [f"  smtpshell {connect} {tls_port} --tls --cafile {cafile}   (implicit TLS)"]

    lines = [
        "smtpshell practice server: a real SMTP server to try things on.",
        "",
        f"  Listening on  {listen}  (reachable from {reach})",
        *implicit,
        f"                STARTTLS offered; {auth_rule}",
        f"                AUTH {' '.join(mechanisms)}",
        "                PIPELINING (:pipeline) and CHUNKING (:bdat TEXT --last)",
        f"                {accepted}",
        f"  Demo users    {user_lines[0]}",
        *(f"                {line}" for line in user_lines[1:]),
        f"  Mail kept in  {maildir}  (one file per message in new/)",
        f"  Certificate   {cafile}",
        f"                self-signed for {', '.join(cert_names)}; valid {valid_days} days",
        *(f"  {'Modes' if index == 0 else '':<12}  {line}" for index, line in enumerate(mode_lines)),
        "",
        "Connect from another terminal:",
        f"  smtpshell {connect} {port} --cafile {cafile}",
        *connect_tls,
        "",
        "Then type, one line at a time:",
        "  EHLO laptop",
        "  STARTTLS                        (then EHLO laptop again)",
        *_auth_lines(users, mechanisms),
        "  MAIL FROM:<alice@example.com>",
        "  RCPT TO:<bob@example.com>",
        "  DATA",
        "  Subject: Hello",
        "                                  (an empty line ends the headers)",
        "  Hi Bob!",
        "  .                               (a lone dot ends the message)",
        "  QUIT",
    ]
    return "\n".join(lines) + "\n"


def host_port(host: str, port: int) -> str:
    """``127.0.0.1:2525``, or ``[::1]:2525`` for an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _user_lines(users: Sequence[DemoUser]) -> list[str]:
    """``alice / wonderland   token alice-demo-token``, aligned; the token for OAUTHBEARER/XOAUTH2."""
    if not users:
        return ["(none: every AUTH fails)"]
    logins = [f"{user.name} / {user.password}" for user in users]
    width = max(map(len, logins))
    lines = [
        f"{login:<{width}}   token {user.token}" if user.token else login for login, user in zip(logins, users)
    ]
    if any(user.token for user in users):
        lines[0] += "  (OAuth, for OAUTHBEARER and XOAUTH2)"
    return lines


def _auth_lines(users: Sequence[DemoUser], mechanisms: Sequence[str]) -> list[str]:
    if not users:
        return []
    user = users[0]
    plain = base64.b64encode(f"\0{user.name}\0{user.password}".encode()).decode()
    lines = [_step(f":auth {user.name}", f":auth picks the strongest offered: {mechanisms[0]}")]
    if user.token:
        lines.append(_step(f":auth oauthbearer {user.name} {user.token}", "a token instead of a password"))
    return [
        *lines,
        _step(f":auth login {user.name}", "the shell asks for the password and answers the 334s"),
        f"  or by hand: AUTH PLAIN {plain}",
        _step("", f"base64 of \\0{user.name}\\0{user.password}: :b64 \\0{user.name}\\0{user.password} makes it"),
    ]


def _step(command: str, note: str) -> str:
    """``  COMMAND   (note)``, the note in the column the other steps' notes use."""
    return f"  {command:<31} ({note})" if len(command) < 32 else f"  {command}   ({note})"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
