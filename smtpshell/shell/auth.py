"""``:auth``: SASL for the user — ask the secret unseen, answer every 334, explain the outcome.

The mechanisms themselves are pure objects in ``smtpshell.protocol.auth``;
this module drives one over the connection and says what happens.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from smtpshell.protocol import auth as sasl
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.protocol.replies import Reply
    from smtpshell.shell.core import Shell

TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")

_OUTCOMES = {
    235: "authenticated as {user}",
    334: "the server wants more",
    432: "a password transition is needed (change the password, then try again)",
    454: "temporary authentication failure: try again later",
    500: "the server does not know AUTH (is it advertised? after STARTTLS?)",
    501: "the server could not parse the answer, or the exchange was cancelled",
    502: "AUTH is not available here (not advertised, or already authenticated)",
    503: "AUTH out of sequence: send EHLO first (and again after STARTTLS)",
    504: "the server does not offer this mechanism: :caps lists what it does",
    530: "authentication required, often after STARTTLS",
    534: "the server finds this mechanism too weak: try a stronger one",
    535: "credentials invalid: wrong user or password (or the user may not use this mechanism)",
    538: "this mechanism needs encryption: :starttls first",
}
_ALREADY = ("already authenticated: RFC 4954 permits no AUTH after a successful one (hence the 503); "
            ":reconnect to log in again or as someone else")
_NO_MECHANISM = ("the server cannot use {mech} (it does not offer this mechanism, or has no support for it): "
                 "the user and {secret} were not checked; :caps lists what it offers")
_NO_MECHANISM_FAILURES = ("auth-mechanism-unsupported",)


def outcome_line(code: int, text: str, *, mechanism: str, user: str, was_authenticated: bool) -> str | None:
    """What the final reply of an AUTH exchange means, keyed on its text where that says more."""
    if code == 503 and (was_authenticated or "already authenticated" in text.lower()):
        return _ALREADY
    if code in (504, 535):
        from smtpshell.protocol import codes

        failure = codes.match_failure(code, None, text)
        if failure is not None and failure.id in _NO_MECHANISM_FAILURES:
            return _NO_MECHANISM.format(mech=mechanism, secret="token" if mechanism in TOKEN_MECHANISMS else "password")
    outcome = _OUTCOMES.get(code)
    return outcome.format(user=user) if outcome and code != 334 else None


class AuthUsage(ValueError):
    """The :auth line cannot be understood."""


@dataclass(frozen=True, kw_only=True)
class AuthRequest:
    mechanism: str | None  # None: the strongest the server offered
    user: str | None
    password: str | None
    initial: bool | None
    authzid: str


def parse_args(arg: str) -> AuthRequest:
    """``[MECH] [USER] [PASSWORD] [--initial|--no-initial] [--authzid ID]``."""
    words = arg.split()
    initial: bool | None = None
    authzid = ""
    rest: list[str] = []
    it = iter(words)
    for word in it:
        if word == "--initial":
            initial = True
        elif word == "--no-initial":
            initial = False
        elif word == "--authzid":
            authzid = next(it, "")
            if not authzid:
                raise AuthUsage("--authzid needs a value")
        elif word.startswith("--"):
            raise AuthUsage(f"unknown option {word}")
        else:
            rest.append(word)
    mechanism = None
    if rest and rest[0].upper() in sasl.SUPPORTED:
        mechanism = rest.pop(0).upper()
    elif rest:
        from smtpshell.protocol import codes

        info = codes.sasl_info(rest[0].upper())  # a mechanism :auth does not speak, not a user name
        if info is not None:
            name = rest[0].upper()
            raise AuthUsage(f"{name} is not a mechanism :auth speaks ({info.meaning}); it speaks "
                            f"{', '.join(sasl.SUPPORTED)}; to try {name} by hand, type AUTH {name} "
                            "and answer each 334 (:b64 encodes)")
    if mechanism is None and len(rest) > 1:
        _refuse_mistyped_mechanism(rest[0], len(rest))
    if len(rest) > 2:
        raise AuthUsage("too many words: :auth [MECH] [USER] [PASSWORD]")
    return AuthRequest(
        mechanism=mechanism,
        user=rest[0] if rest else None,
        password=rest[1] if len(rest) > 1 else None,
        initial=initial,
        authzid=authzid,
    )


_MECHANISM_SHAPE = re.compile(r"[A-Z0-9_-]{1,20}")  # RFC 4422 3.1: upper case, digits, - and _


def _refuse_mistyped_mechanism(word: str, count: int) -> None:
    """Raise AuthUsage when ``word``, followed by more words, is meant as a mechanism :auth lacks.

    The rule (a real user name goes first only when it cannot be taken for a mechanism):
    with three words or more the first can only be a mechanism; with two, it is one when
    it is almost a mechanism :auth speaks (PLAN, scram-sha256: difflib, closer when typed in
    capitals) or when it is in capitals with a ``-`` or ``_`` (SCRAM-SHA-512). A user name
    like that goes after its mechanism: ``:auth PLAIN LOGAN``.
    """
    name = word.upper()
    if _MECHANISM_SHAPE.fullmatch(name) is None and count < 3:
        return  # alice@example.com, j.doe: never a mechanism name
    capitals = word == name and any(ch.isalpha() for ch in word)
    close = difflib.get_close_matches(name, sasl.SUPPORTED, n=1, cutoff=0.75 if capitals else 0.85)
    shaped = capitals and ("-" in word or "_" in word)
    if not (close or shaped or count > 2):
        return
    guess = f"; did you mean {close[0]}?" if close else ""
    user = f"; a user name like {word} goes after its mechanism: :auth {close[0] if close else 'PLAIN'} {word}" \
        if count < 3 else ""
    raise AuthUsage(f"{word} is not a SASL mechanism smtpshell speaks{guess} (it speaks "
                    f"{', '.join(sasl.SUPPORTED)}); nothing was sent{user}")


def secret_from_environment(shell: "Shell") -> str | None:
    """SMTPSHELL_PASSWORD, or the first line of --password-file."""
    return read_password(shell.settings.password_file, shell.settings.env)


def read_password(path: str | None, env) -> str | None:
    """The first line of the password file PATH, else SMTPSHELL_PASSWORD, else None. An empty
    one is an error (AuthUsage), never an empty password sent (the shell's and replay's)."""
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                password = fh.readline().rstrip("\r\n")
        except OSError as exc:
            raise AuthUsage(f"cannot read --password-file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise AuthUsage(f"--password-file {path} is not UTF-8 text") from None
        if not password:
            raise AuthUsage(f"--password-file {path} has no password: its first line is empty "
                            "(the first line is the password); nothing was sent")
        return password
    password = env.get("SMTPSHELL_PASSWORD")
    if password == "":
        raise AuthUsage("SMTPSHELL_PASSWORD is set but empty: no password to send; nothing was sent")
    return password


async def run_auth(shell: "Shell", arg: str) -> None:
    """The :auth command (see commands.cmd_auth for the help text)."""
    from smtpshell.shell.core import raise_if_script

    try:
        request = parse_args(arg)
    except AuthUsage as exc:
        shell.usage_error(f"{exc}; usage: :auth [MECH] [USER] [PASSWORD]")
        return
    if not shell.require_connection():
        return
    session = shell.session
    if not session.greeted:
        reply = await shell.ehlo()
        if reply is None or reply.code != 250:
            return
    caps = session.capabilities
    offered = caps.auth_mechanisms if caps is not None else ()
    mechanism = request.mechanism or shell.settings.auth_mechanism
    if mechanism is None:
        mechanism = sasl.strongest(offered)
        if mechanism is None:
            shell.error("the server offers no AUTH mechanism I know" + (f" (offered: {' '.join(offered)})" if offered else " (no AUTH in its EHLO reply)"))
            raise_if_script(shell, "no usable AUTH mechanism", ExitStatus.REFUSED)
            return
        shell.note(f"using {mechanism}, the strongest the server offers ({' '.join(offered)})")
    user = request.user or shell.settings.user
    if not user:
        shell.usage_error(":auth needs a user: :auth [MECH] USER [PASSWORD] (or --user)")
        return
    what = "token" if mechanism in TOKEN_MECHANISMS else "password"
    password = request.password
    if password is None:
        try:
            password = secret_from_environment(shell)
        except AuthUsage as exc:
            shell.usage_error(str(exc))
            return
    if password is None:
        if not shell.interactive or shell.ask_secret is None:
            shell.usage_error(f"no {what} for {user}: a script never prompts; set SMTPSHELL_PASSWORD or --password-file")
            return
        password = await shell.ask_secret(f"{what} for {user}: ")
        if password is None:
            shell.note(":auth cancelled")
            return
    secret = sasl.Secret(password)
    try:
        mech = sasl.create(
            mechanism, user, secret, authzid=request.authzid,
            host=shell.target.host if shell.target else "", port=shell.target.port if shell.target else 0,
            initial_response=request.initial,
        )
    except ValueError as exc:
        shell.usage_error(str(exc))
        return
    await _exchange(shell, mech, user)


async def _exchange(shell: "Shell", mech, user: str) -> None:
    shell.sasl_driving = True
    try:
        await _drive(shell, mech, user)
    finally:
        shell.sasl_driving = False


async def drive_sasl(mech, send: Callable[..., Awaitable["Reply | None"]],
                     error: Callable[[str], None]) -> "Reply | None":
    """One SASL exchange over any connection (``:auth``, live replay); the final reply, or None.

    ``send(line, step, secret=...)`` sends one line and returns its reply (None: none came);
    ``step`` is the :class:`~smtpshell.protocol.auth.Step` the line carries, None for a bare
    ``AUTH MECH`` and for ``*``. Rules: ``AUTH MECH`` with the initial response when the
    mechanism has one; each 334 answered with the mechanism's next response; a challenge that
    is not base64, or that the mechanism cannot answer, is cancelled with ``*`` (``error`` says why).
    """
    step = mech.initial()
    line = f"AUTH {mech.name}"
    if step is not None:
        line += " " + sasl.encode_response(step, initial=True)
    reply = await send(line, step, secret=step is not None and step.secret)
    while reply is not None and reply.code == 334:
        challenge = _decode(reply.text)
        if challenge is None:
            error("the 334 challenge is not base64: cancelling with *")
            return await send("*", None, secret=False)
        try:
            step = mech.respond(challenge)
        except sasl.AuthError as exc:
            error(f"{mech.name}: {exc}; cancelling with *")
            return await send("*", None, secret=False)
        reply = await send(sasl.encode_response(step, initial=False), step, secret=step.secret)
    return reply


async def _drive(shell: "Shell", mech, user: str) -> None:
    teach = shell.explain_auth
    first = True
    was_authenticated = bool(shell.session.auth_user)

    async def send(line: str, step, *, secret: bool):
        nonlocal first
        reply = await _send(shell, line, step, teach, secret=secret)
        if first and reply is not None:
            shell.session.authenticating_as(user)
        first = False
        return reply

    reply = await drive_sasl(mech, send, shell.error)
    if reply is None or reply.code is None:
        return
    for note in mech.finish(reply.code, reply.text):
        shell.emit(display.hint_line(note))
    outcome = outcome_line(reply.code, reply.text, mechanism=mech.name, user=user,
                           was_authenticated=was_authenticated)
    if outcome:
        shell.emit(display.note_line(outcome) if reply.code == 235 else display.error_line(outcome))


async def _send(shell: "Shell", line: str, step, teach: bool, *, secret: bool):
    """Send one AUTH line, show its decoded (masked) meaning, wait for the reply."""
    from smtpshell.net import connection as net
    from smtpshell.protocol.session import LocalProtocolError

    try:
        out = shell.conn.send_line(line, secret=secret)
    except (LocalProtocolError, net.NotConnected) as exc:
        shell.error(str(exc))
        return None
    if step is not None and step.shown:
        shell.emit(display.hint_line(f"sent: {step.shown}"))
    if teach and step is not None:
        for note in step.notes:
            shell.emit(display.hint_line(note))
    return await shell.wait_reply(out.command)


def _decode(text: str) -> bytes | None:
    text = text.strip()
    if not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def typed_response_hint(session, b64_line: str) -> str | None:
    """A hint for a base64 answer typed by hand after a 334 (secrets masked)."""
    if b64_line.strip() == "*":
        return "* cancels the AUTH exchange"
    return sasl.describe_response(session.sasl_mechanism, b64_line, session.sasl_step - 1)


