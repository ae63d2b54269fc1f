"""smtpshell against a real Exim: what Exim says its own way (LOGIN's prompts, its wrong-password
reply, which mechanism :auth picks), AUTH over plain text, and the --user/--auth options. The
scenarios every server shares -- STARTTLS, implicit TLS, :auth with each mechanism, the seed
session (DATA with dot-stuffing, scripted and typed in the REPL), relay refused, PIPELINING,
CHUNKING -- are in test_scenarios.py, against Exim, Postfix and the practice server alike."""


import pytest

from tests.support.script import b64
from tests.support.process import run_cli_sync

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5"]


smtpshell = run_cli_sync


# --- :auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mech", MECHS)
def test_each_mechanism_after_starttls(exim, mech, tmp_path):
    """--user and --auth (the password from SMTPSHELL_PASSWORD); the scenarios use :auth."""
    assert mech in exim.mechs, f"the harness should offer {mech}: {exim.mechs}"
    result = smtpshell("127.0.0.1", str(exim.port), "--starttls", "--cafile", str(exim.cafile),
                       "--user", exim.user, "--auth", mech, "-c", ":expect 235",
                       env={"SMTPSHELL_PASSWORD": exim.password}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"AUTH {mech}" in result.stdout
    assert "235 Authentication succeeded" in result.stdout
    assert f"authenticated as {exim.user}" in result.stdout
    assert exim.password not in result.stdout and b64(exim.password) not in result.stdout


@pytest.mark.parametrize("mech", MECHS)
def test_each_mechanism_over_plain_text_is_warned_and_works(exim, mech, tmp_path):
    result = smtpshell("127.0.0.1", str(exim.port), "-c", f":auth {mech} {exim.user} {exim.password}",
                       "-c", ":expect 235", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AUTH over an unencrypted connection" in result.stdout
    assert f"authenticated as {exim.user}" in result.stdout
    assert b64(exim.password) not in result.stdout


def test_auth_login_shows_both_prompts_decoded(exim, tmp_path):
    result = smtpshell("127.0.0.1", str(exim.port), "-c", f":auth LOGIN {exim.user} {exim.password}",
                       tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert out.index("334 VXNlcm5hbWU6") < out.index("challenge decodes to: Username:")
    assert out.index("334 UGFzc3dvcmQ6") < out.index("challenge decodes to: Password:")
    assert out.index("challenge decodes to: Password:") < out.index("235 Authentication succeeded")


def test_auth_picks_the_strongest_offered(exim, tmp_path):
    result = smtpshell(f"127.0.0.1:{exim.smtps_port}", "--tls", "--cafile", str(exim.cafile),
                       "-c", f":auth {exim.user} {exim.password}", "-c", ":expect 235", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "using CRAM-MD5, the strongest the server offers (PLAIN LOGIN CRAM-MD5)" in result.stdout
    assert "challenge decodes to: <" in result.stdout  # CRAM-MD5's challenge: <pid.time@mx.example.test>


@pytest.mark.parametrize("mech", MECHS)
def test_wrong_password_535(exim, mech, tmp_path):
    result = smtpshell("127.0.0.1", str(exim.port), "-c", f":auth {mech} {exim.user} wrong-password",
                       tmp_path=tmp_path)
    assert result.returncode == 4, result.stdout
    assert "535 Incorrect authentication data" in result.stdout
    assert "credentials invalid" in result.stdout
