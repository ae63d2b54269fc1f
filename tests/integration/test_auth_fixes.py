""":auth as a user meets it: a mistyped mechanism is not a user name, the outcome and the warnings
say what is true of the reply and of the mechanism, an empty --password-file is refused.

Servers: aiosmtpd with an authenticator that records every attempt (what the server received),
the practice server (a real aiosmtpd with SCRAM, CRAM-MD5 and the OAuth mechanisms), and for
Postfix's "no mechanism available" (Postfix with no XOAUTH2 plugin, seen against the interop
Postfix) a scripted server that answers as Postfix does.
"""

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from smtpshell.server.practice import PracticeServer
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.process import run_cli
from tests.support.script import lines, replied
from tests.support.servers import AioSmtpd, ScriptedServer


class RecordingAuthSmtpd(AioSmtpd):
    """aiosmtpd (AUTH PLAIN and LOGIN without TLS) keeping every (mechanism, login) it was asked."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.attempts: list[tuple[str, bytes]] = []

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login if isinstance(auth_data, LoginPassword) else b""
        self.attempts.append((mechanism, login))
        ok = login in (b"alice", b"ALICE") and auth_data.password == b"wonderland"
        return AuthResult(success=ok)

    def _factory(self):
        return SMTP(self.handler, hostname="smtp.test", tls_context=self.server_ctx, auth_require_tls=False,
                    authenticator=self._authenticate)


@pytest.fixture
async def authd(server_ctx):
    server = await RecordingAuthSmtpd(server_ctx=server_ctx).start()
    yield server
    await server.stop()


async def run(make_shell, host, port, *script, **settings):
    shell, out = make_shell(**settings)
    assert await shell.connect(Target(host=host, port=port))
    status = await run_script(shell, lines(*script))
    return status, out.text


def sent_auth(out: str) -> bool:
    return any(line.startswith("AUTH ") for line in out.splitlines())


# ----- bug: a mistyped mechanism taken for the user name -------------------------------------

@pytest.mark.parametrize(("line", "message"), [
    (":auth PLAN alice", "PLAN is not a SASL mechanism smtpshell speaks; did you mean PLAIN?"),
    (":auth plan alice", "plan is not a SASL mechanism smtpshell speaks; did you mean PLAIN?"),
    (":auth SCRAM-SHA256 alice", "SCRAM-SHA256 is not a SASL mechanism smtpshell speaks; did you mean SCRAM-SHA-256?"),
    (":auth SCRAM-SHA-512 alice", "SCRAM-SHA-512 is not a SASL mechanism smtpshell speaks"),
    (":auth NOSUCHMECH alice x", "NOSUCHMECH is not a SASL mechanism smtpshell speaks (it speaks SCRAM-SHA-256"),
])
async def test_a_mistyped_mechanism_is_reported_and_nothing_is_sent(authd, make_shell, line, message):
    status, out = await run(make_shell, authd.host, authd.port, "EHLO me", line, "NOOP")
    assert status is ExitStatus.USAGE, out
    assert message in out
    assert "PLAIN, LOGIN" in out  # the list of what it speaks
    assert "too many words" not in out and "using " not in out
    assert authd.attempts == [] and not sent_auth(out)
    assert "\nNOOP" not in out  # a script stops at a usage error


@pytest.mark.parametrize(("line", "login"), [
    (":auth alice wonderland", b"alice"),
    (":auth ALICE wonderland", b"ALICE"),  # a user name in capitals, not close to any mechanism
    (":auth alice@example.test wonderland", b"alice@example.test"),
    (":auth logan wonderland", b"logan"),  # lower case: almost LOGIN, but a name
    (":auth LOGIN LOGAN wonderland", b"LOGAN"),  # the way to give a name that looks like a mechanism
    (":auth plain alice wonderland", b"alice"),
])
async def test_user_names_still_go_first(authd, make_shell, line, login):
    status, out = await run(make_shell, authd.host, authd.port, "EHLO me", line)
    assert "is not a SASL mechanism" not in out
    assert [got for _, got in authd.attempts] == [login], out
    if login in (b"alice", b"ALICE"):
        assert "authenticated as" in out


# ----- bug: hints that blame the password, the TLS, or the order ---------------------------------

async def test_no_mechanism_available_is_not_called_a_wrong_password(make_shell):
    server = await ScriptedServer([
        b"220 mx.example.test ESMTP Postfix\r\n", "READLINE",
        b"250-mx.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n",
        "READLINE", b"535 5.7.8 Error: authentication failed: no mechanism available\r\n",
        "READLINE", b"221 2.0.0 Bye\r\n",
    ]).start()
    try:
        status, out = await run(make_shell, server.host, server.port, ":auth XOAUTH2 alice some-token",
                                ":expect 535")
    finally:
        await server.stop()
    assert server.received[1].startswith(b"AUTH XOAUTH2 ")
    assert "the server cannot use XOAUTH2 (it does not offer this mechanism, or has no support for it): " \
        "the user and token were not checked" in out
    # The reply's own text says more than its codes: no "credentials invalid" under it.
    assert "535: the server cannot use this login method · try: pick a mechanism it lists after AUTH (:caps)" in out
    assert "wrong user or password" not in out and "check user and password" not in out
    assert "credentials invalid" not in out


async def test_an_unrecognised_mechanism_says_the_server_cannot_use_it(authd, make_shell):
    status, out = await run(make_shell, authd.host, authd.port, "EHLO me", ":auth CRAM-MD5 alice wonderland",
                            ":expect 5xx")
    assert replied(out, "504"), out  # aiosmtpd: 504 5.5.4 Unrecognized authentication type
    assert "the server cannot use CRAM-MD5" in out and "wrong user or password" not in out
    assert authd.attempts == []


@pytest.fixture
async def practice(tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        yield server


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5"])
async def test_challenge_response_without_tls_is_not_said_to_send_the_password(practice, make_shell, mech):
    status, out = await run(make_shell, practice.host, practice.port, f":auth {mech} alice wonderland", ":expect 235")
    assert status is ExitStatus.OK, out
    assert f"warning: AUTH over an unencrypted connection: {mech} does not send the password, but the user name is visible" in out
    assert "offline" in out and "clear text" not in out


@pytest.mark.parametrize(("mech", "secret", "said"), [
    ("PLAIN", "wonderland", "with PLAIN the password travels in clear text"),
    ("LOGIN", "wonderland", "with LOGIN the password travels in clear text"),
    ("XOAUTH2", "alice-demo-token", "with XOAUTH2 the token travels in clear text"),
    ("OAUTHBEARER", "alice-demo-token", "with OAUTHBEARER the token travels in clear text"),
])
async def test_readable_mechanisms_without_tls_keep_the_clear_text_warning(practice, make_shell, mech, secret, said):
    status, out = await run(make_shell, practice.host, practice.port, f":auth {mech} alice {secret}", ":expect 235")
    assert status is ExitStatus.OK, out
    assert f"warning: AUTH over an unencrypted connection: {said}" in out


async def test_auth_typed_by_hand_is_warned_by_its_mechanism(practice, make_shell):
    status, out = await run(make_shell, practice.host, practice.port, "EHLO me", "AUTH CRAM-MD5", "*")
    assert "warning: AUTH over an unencrypted connection: CRAM-MD5 does not send the password" in out


async def test_a_second_auth_is_explained_as_already_authenticated(practice, make_shell):
    status, out = await run(make_shell, practice.host, practice.port, ":auth alice wonderland", ":expect 235",
                            ":auth bob builder", ":expect 503")
    assert status is ExitStatus.OK, out
    assert "already authenticated: RFC 4954 permits no AUTH after a successful one (hence the 503)" in out
    assert "send EHLO first" not in out


async def test_a_second_auth_on_a_server_that_says_only_503(make_shell):
    """The rule keys on what the shell knows (a 235 earlier), not only on the server's words."""
    server = await ScriptedServer([
        b"220 terse ESMTP\r\n", "READLINE", b"250-terse\r\n250 AUTH PLAIN\r\n",
        "READLINE", b"235 ok\r\n", "READLINE", b"503 Bad sequence of commands\r\n",
        "READLINE", b"221 bye\r\n",
    ]).start()
    try:
        status, out = await run(make_shell, server.host, server.port, ":auth PLAIN alice wonderland",
                                ":auth PLAIN alice wonderland", ":expect 503")
    finally:
        await server.stop()
    assert "already authenticated: RFC 4954 permits no AUTH after a successful one" in out
    assert "send EHLO first" not in out


# ----- bug: --password-file ---------------------------------------------------------------------

async def test_an_empty_password_file_is_an_error_and_nothing_is_sent(authd, tmp_path):
    empty = tmp_path / "password"
    empty.write_text("")
    for content in ("", "\nwonderland\n"):  # no first line, or an empty one
        empty.write_text(content)
        code, out, err = await run_cli("127.0.0.1", str(authd.port), "--user", "alice", "--auth", "PLAIN",
                                       "--password-file", str(empty), "-c", "NOOP",
                                       env={"SMTPSHELL_PASSWORD": ""}, tmp_path=tmp_path)
        assert code == ExitStatus.USAGE, out + err
        assert f"--password-file {empty} has no password: its first line is empty" in out
        assert authd.attempts == [] and not sent_auth(out)


async def test_a_password_file_with_a_password_still_works(authd, tmp_path):
    good = tmp_path / "password"
    good.write_text("wonderland\n")
    code, out, err = await run_cli("127.0.0.1", str(authd.port), "--user", "alice", "--auth", "PLAIN",
                                   "--password-file", str(good), "-c", ":expect 235", tmp_path=tmp_path)
    assert code == ExitStatus.OK, out + err
    assert authd.attempts == [("PLAIN", b"alice")]


async def test_a_password_file_without_user_is_a_usage_error(authd, tmp_path):
    good = tmp_path / "password"
    good.write_text("wonderland\n")
    code, out, err = await run_cli("127.0.0.1", str(authd.port), "--password-file", str(good), "-c", "NOOP",
                                   tmp_path=tmp_path)
    assert code == ExitStatus.USAGE
    assert "--password-file goes with --user" in err
    assert authd.attempts == []


async def test_an_empty_smtpshell_password_is_an_error_and_the_script_still_says_quit(tmp_path):
    from tests.support.line_server import LineServer

    server = await LineServer().start()
    try:
        code, out, err = await run_cli("127.0.0.1", str(server.port), "--user", "alice", "--auth", "PLAIN",
                                       "-c", "NOOP", env={"SMTPSHELL_PASSWORD": ""}, tmp_path=tmp_path)
    finally:
        await server.stop()
    assert code == ExitStatus.USAGE, out + err
    assert "SMTPSHELL_PASSWORD is set but empty: no password to send; nothing was sent" in out
    assert not any(c.upper().startswith(b"AUTH") for c in server.commands)
    assert server.commands[-1] == b"QUIT"  # the session ends politely, not with a dropped connection
    assert b"NOOP" not in server.commands


async def test_replay_refuses_an_empty_password_file(tmp_path):
    recording = tmp_path / "auth.txt"
    recording.write_text("220 mx ESMTP\nEHLO me\n250 mx\nAUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\n235 ok\n")
    empty = tmp_path / "password"
    empty.write_text("\n")
    code, out, err = await run_cli("replay", str(recording), "--to", "127.0.0.1", "1", "--user", "alice",
                                   "--password-file", str(empty), tmp_path=tmp_path)
    assert code == ExitStatus.USAGE, out + err
    assert f"--password-file {empty} has no password: its first line is empty" in err
