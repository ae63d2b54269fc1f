""":auth against the practice server (a real aiosmtpd): every mechanism the client knows, and the failures."""

import pytest

from smtpshell.protocol.auth import SUPPORTED, TOKEN_MECHANISMS
from smtpshell.server.practice import PracticeServer
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.script import b64, lines, replied


@pytest.fixture
async def practice(tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        yield server


@pytest.fixture
def connect(make_shell, practice):
    async def make(**kw):
        kw.setdefault("cafile", str(practice.cafile))
        shell, out = make_shell(**kw)
        assert await shell.connect(Target(host=practice.host, port=practice.port))
        return shell, out

    return make


OFFERED = "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN OAUTHBEARER XOAUTH2"


# DIGEST-MD5 is Historic (RFC 6331): :auth speaks it for the Cyrus-based servers that still offer
# it (tested against Postfix in tests/interop/test_scenarios.py); the practice server does not
# teach it.
PRACTICE_MECHANISMS = tuple(m for m in SUPPORTED if m != "DIGEST-MD5")


def test_the_practice_server_offers_every_mechanism_the_client_knows_but_the_historic_one():
    assert set(OFFERED.split()) == set(PRACTICE_MECHANISMS)


@pytest.mark.parametrize("mech", PRACTICE_MECHANISMS)
async def test_every_offered_mechanism(connect, practice, mech):
    shell, out = await connect()
    user = practice.users[0]
    secret = user.token if mech in TOKEN_MECHANISMS else user.password
    status = await run_script(shell, lines(
        ":starttls", f":auth {mech} {user.name} {secret}", ":expect 235",
        "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "DATA", "Subject: t", "", "hi", ".",
        ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    assert f"authenticated as {user.name}" in out.text
    [stored] = (practice.maildir / "new").iterdir()  # the server, too, says who sent it
    assert f"authenticated as {user.name}" in stored.read_text()
    assert secret not in out.text and b64(secret) not in out.text
    if mech.startswith("SCRAM"):
        assert "server signature verified: mutual authentication complete" in out.text


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "OAUTHBEARER", "XOAUTH2"])
async def test_without_initial_response_the_server_asks_with_an_empty_334(connect, practice, mech):
    shell, out = await connect()
    user = practice.users[0]
    secret = user.token if mech in TOKEN_MECHANISMS else user.password
    status = await run_script(shell, lines(f":auth {mech} {user.name} {secret} --no-initial", ":expect 235"))
    assert status is ExitStatus.OK, out.text
    assert f"\nAUTH {mech}\n334 \n" in out.text


async def test_login_shows_decoded_prompts_and_masks_the_password(connect, practice):
    shell, out = await connect()
    user = practice.users[0]
    await run_script(shell, lines(f":auth LOGIN {user.name} {user.password}"))
    text = out.text
    assert "warning: AUTH over an unencrypted connection" in text
    assert "challenge decodes to: User Name␀" in text  # aiosmtpd's prompt, whatever it says
    assert "challenge decodes to: Password␀" in text
    assert f"sent: {user.name}" in text
    assert "answer with a base64 line" not in text  # the shell answers: no advice to the user
    assert user.password not in text


async def test_wrong_password_is_explained_and_script_exits_4(connect, practice):
    shell, out = await connect()
    status = await run_script(shell, lines(f":auth PLAIN {practice.users[0].name} not-the-password"))
    assert status is ExitStatus.REFUSED
    assert "535 5.7.8" in out.text
    assert "credentials invalid" in out.text


async def test_strongest_offered_is_picked(connect, practice):
    shell, out = await connect()
    user = practice.users[0]
    status = await run_script(shell, lines(f":auth {user.name} {user.password}", ":expect 235"))
    assert status is ExitStatus.OK, out.text
    assert f"using SCRAM-SHA-256, the strongest the server offers ({OFFERED})" in out.text
    assert "server signature verified" in out.text


async def test_wrong_scram_password_shows_the_rfc_error_and_535(connect, practice):
    shell, out = await connect()
    user = practice.users[0]
    status = await run_script(shell, lines(f":auth SCRAM-SHA-256 {user.name} not-the-password"))
    assert status is ExitStatus.REFUSED
    assert ("535 5.7.8 Authentication credentials invalid: SCRAM-SHA-256: proof p= does not match the password"
            f" of '{user.name}' (e=invalid-proof)") in out.text
    assert "the server rejected our proof" in out.text
    assert "not-the-password" not in out.text


@pytest.mark.parametrize(("mech", "status", "ack"), [
    ("XOAUTH2", "401", "an empty line"),
    ("OAUTHBEARER", "invalid_token", "^A (0x01"),  # RFC 7628 3.2.3
])
async def test_wrong_token_shows_the_decoded_json_error_and_535(connect, practice, mech, status, ack):
    shell, out = await connect()
    exit_status = await run_script(shell, lines(f":auth {mech} {practice.users[0].name} stale-token"))
    text = out.text
    assert exit_status is ExitStatus.REFUSED
    assert f'challenge decodes to: {{"status":"{status}","schemes":"Bearer","scope":"smtp"}}' in text
    assert f"sent: {ack}" in text  # the acknowledgement the server waits for before its 535
    assert "535 5.7.8 Authentication credentials invalid" in text
    assert f"server error: status={status} schemes=Bearer scope=smtp" in text
    assert "stale-token" not in text


async def test_a_token_for_another_user_is_refused(connect, practice):
    alice, bob = practice.users[:2]
    shell, out = await connect()
    status = await run_script(shell, lines(f":auth XOAUTH2 {alice.name} {bob.token}"))
    assert status is ExitStatus.REFUSED
    assert "535 5.7.8" in out.text and "authenticated as" not in out.text


async def test_script_never_prompts(connect, practice):
    shell, out = await connect(env={})
    status = await run_script(shell, lines(f":auth PLAIN {practice.users[0].name}"))
    assert status is ExitStatus.USAGE
    assert "a script never prompts" in out.text


async def test_password_from_environment_and_user_option(connect, practice):
    user = practice.users[0]
    shell, out = await connect(env={"SMTPSHELL_PASSWORD": user.password}, user=user.name, auth_mechanism="LOGIN")
    # --user / --auth authenticate right after connecting
    assert shell.session.auth_user == user.name, out.text
    assert user.password not in out.text


async def test_explain_auth_shows_cram_md5_steps(connect, practice):
    shell, out = await connect()
    user = practice.users[0]
    await run_script(shell, lines(":set explain-auth on", f":auth CRAM-MD5 {user.name} {user.password}"))
    assert replied(out.text, "235")
    assert "HMAC" in out.text  # the teaching notes
    assert user.password not in out.text


async def test_explain_auth_shows_scram_steps(connect, practice):
    shell, out = await connect()
    user = practice.users[0]
    status = await run_script(shell, lines(
        ":set explain-auth on", f":auth SCRAM-SHA-1 {user.name} {user.password}", ":expect 235"))
    text = out.text
    assert status is ExitStatus.OK, text
    assert "client-first-message: n,,n=alice,r=" in text
    assert "salt s=" in text and "iterations i=4096" in text  # the server's salt and count
    assert "SaltedPassword = PBKDF2-HMAC-SHA-1(password ***, salt, 4096)" in text
    assert "server-final-message: v=" in text
    assert "server signature verified: mutual authentication complete" in text
    assert user.password not in text


async def test_mechanism_not_offered_is_warned_and_504_explained(make_shell, smtpd, target):
    shell, out = make_shell()  # plain aiosmtpd: PLAIN and LOGIN only
    assert await shell.connect(target(smtpd))
    await run_script(shell, lines("EHLO me", ":auth SCRAM-SHA-256 alice x"))
    assert "did not offer AUTH SCRAM-SHA-256" in out.text
    assert "does not offer this mechanism" in out.text


async def test_auth_require_tls_538_is_explained(make_shell, tmp_path):
    async with PracticeServer(maildir=tmp_path / "m", auth_require_tls=True) as server:
        shell, out = make_shell(cafile=str(server.cafile))
        await shell.connect(Target(host=server.host, port=server.port))
        user = server.users[0]
        await run_script(shell, lines("EHLO me", f"AUTH PLAIN {b64(chr(0) + user.name + chr(0) + user.password)}"))
        assert replied(out.text, "538", "530", "503"), out.text


async def test_a_mechanism_auth_does_not_speak_is_named_not_taken_for_a_user(connect, practice):
    """`:auth ntlm alice` (Exchange offers NTLM): said plainly, and nothing sent."""
    shell, out = await connect(env={"SMTPSHELL_PASSWORD": "wonderland"})
    status = await run_script(shell, lines("EHLO me", ":auth ntlm alice"))
    assert status is ExitStatus.USAGE
    assert ("NTLM is not a mechanism :auth speaks (Windows NTLM challenge-response); it speaks "
            "SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, DIGEST-MD5, PLAIN, LOGIN, OAUTHBEARER, XOAUTH2; to try NTLM by "
            "hand, type AUTH NTLM and answer each 334") in out.text
    assert "\nAUTH" not in out.text  # no AUTH went out as a user named "ntlm"
