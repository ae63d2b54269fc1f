""":auth against Postfix with Cyrus SASL: every mechanism both sides support, SCRAM included."""


import pytest

from tests.support.script import b64
from tests.support.process import run_cli_sync

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]


smtpshell = run_cli_sync


@pytest.mark.parametrize("mech", MECHS)
def test_each_mechanism_after_starttls(postfix, mech, tmp_path):
    if mech not in postfix.mechs:
        pytest.fail(f"the harness should offer {mech}: {postfix.mechs}")
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "--starttls", "--cafile", str(postfix.cafile),
                       "--user", postfix.user, "--auth", mech, "-c", ":expect 235",
                       env={"SMTPSHELL_PASSWORD": postfix.password}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"authenticated as {postfix.user}" in result.stdout
    assert postfix.password not in result.stdout and b64(postfix.password) not in result.stdout


def test_scram_server_signature_is_verified(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "-c", ":set explain-auth on",
                       "-c", f":auth SCRAM-SHA-256 {postfix.user} {postfix.password}", "-c", ":expect 235",
                       tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "server signature" in result.stdout.lower()
    assert "iterations" in result.stdout.lower()


@pytest.mark.parametrize("mech", MECHS)
def test_wrong_password_535(postfix, mech, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "-c", f":auth {mech} {postfix.user} wrong-password",
                       tmp_path=tmp_path)
    assert result.returncode == 4
    assert "535 5.7.8" in result.stdout
