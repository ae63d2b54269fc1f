"""smtpshell against a real Exim: the seed session, scripted and typed, with STARTTLS in the
middle, and :auth with each mechanism Exim's own authenticators offer."""

import re
import subprocess
import sys
import uuid

import pexpect
import pytest

from tests.support.script import b64
from tests.support.terminal import terminal_factory

MECHS = ["PLAIN", "LOGIN", "CRAM-MD5"]
RED_5XX = re.compile(rb"\x1b\[[0-9;]*31m5\d\d")


def smtpshell(*args, stdin: str = "", env=None, tmp_path):
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "smtpshell", *args], input=stdin, capture_output=True,
                          text=True, env=environ, timeout=60)


def seed_lines(exim, msgid: str) -> list[str]:
    """The seed's telnet session (auth login with the user in the initial response), plus STARTTLS."""
    return [
        "ehlo h1.home.net",
        "starttls",
        "ehlo h1.home.net",
        f"auth login {b64(exim.user)}",
        b64(exim.password),
        ":expect 235",
        f"mail from:<norbert@{exim.domain}>",
        f"rcpt to:<{exim.address}>",
        "data",
        f"from: name_of_sender <norbert@{exim.domain}>",
        f"to: name_of_recipient <{exim.address}>",
        "subject:test",
        f"Message-ID: <{msgid}@smtpshell.test>",
        "",
        "Enter the actual mailtext here...blabla.",
        ".hidden line that starts with a dot",
        ".",
        ":expect 250",
        "quit",
    ]


def test_seed_session_as_a_script(exim, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell("127.0.0.1", str(exim.port), "--cafile", str(exim.cafile),
                       stdin="\n".join(seed_lines(exim, msgid)) + "\n", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^220 mx\.example\.test ESMTP Exim 4\.\d+ ", out, re.M), out
    assert "TLS started (STARTTLS)" in out and "verified: trusted issuer" in out
    assert "challenge decodes to: Password:" in out  # Exim's second LOGIN prompt, decoded
    assert "235 Authentication succeeded" in out
    assert exim.password not in out and b64(exim.password) not in out  # masked
    assert '354 Enter message, ending with "." on a line by itself' in out
    assert re.search(r"^250 OK id=\S+$", out, re.M), out
    assert "221 mx.example.test closing connection" in out
    delivered = exim.wait_for_delivery(exim.user, containing=msgid.encode()).read_bytes()
    assert b"\n.hidden line that starts with a dot\n" in delivered  # sent stuffed, stored unstuffed
    assert b"Enter the actual mailtext here" in delivered
    assert b"\nsubject:test\n" in delivered
    # Exim's Received: line says how it got the message: "esmtpsa" is ESMTP over TLS, after AUTH.
    assert re.search(rb"\n\tby mx\.example\.test with esmtpsa +\(TLS1\.[23]\)", delivered), delivered


def test_seed_session_typed_in_the_repl(exim, tmp_path):
    spawn, close_all = terminal_factory(tmp_path)
    try:
        t = spawn("127.0.0.1", str(exim.port), "--cafile", str(exim.cafile))
        msgid = uuid.uuid4().hex
        t.prompt()
        t.type("rcpt to:<someone@elsewhere.invalid>")  # out of phase: warned, sent, refused
        t.expect_exact("RCPT before an accepted MAIL FROM")
        t.expect(RED_5XX)
        t.prompt()
        # (line, what must show after it, the prompt that follows)
        steps = []
        in_data = False
        for line in seed_lines(exim, msgid):
            if line.startswith(":expect"):
                continue
            if line == "starttls":
                steps.append((line, "TLS started", "smtp"))
            elif line.startswith("auth login"):
                steps.append((line, "challenge decodes to: Password:", "auth"))
            elif line == "data":
                steps.append((line, "354", "data"))
                in_data = True
            elif line == ".":
                steps.append((line, "OK id=", "smtp"))  # "250" is coloured apart
                in_data = False
            elif line == "quit":
                steps.append((line, "221", None))
            else:
                steps.append((line, None, "data" if in_data else "smtp"))
        for line, shows, prompt in steps:
            t.type(line)
            if shows:
                t.expect_exact(shows)
            if prompt:
                t.prompt(prompt)
        t.expect_exact(":reconnect")  # the shell stays, says how to go on
        t.prompt()
        t.type(":quit")
        t.child.expect(pexpect.EOF)
        delivered = exim.wait_for_delivery(exim.user, containing=msgid.encode()).read_bytes()
        assert b"\n.hidden line that starts with a dot\n" in delivered
        history = (tmp_path / "state" / "smtpshell" / "history").read_text()
        assert "ehlo h1.home.net" in history
        assert b64(exim.password) not in history  # the SASL answer never reaches history
        assert "Enter the actual mailtext" not in history  # nor does message content
    finally:
        close_all()


def test_relay_denied_exits_4(exim, tmp_path):
    result = smtpshell("127.0.0.1", str(exim.port), "-c", "EHLO me", "-c", "MAIL FROM:<a@example.test>",
                       "-c", "RCPT TO:<someone@elsewhere.invalid>", tmp_path=tmp_path)
    assert result.returncode == 4, result.stdout
    assert "550 relay not permitted" in result.stdout
    assert "the server refused a command (550)" in result.stdout


def test_implicit_tls_and_auth_plain(exim, tmp_path):
    plain = b64(f"\0{exim.user}\0{exim.password}")
    result = smtpshell(f"127.0.0.1:{exim.smtps_port}", "--tls", "--cafile", str(exim.cafile),
                       "-c", "EHLO me", "-c", f"AUTH PLAIN {plain}", "-c", ":expect 235", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "TLS started (implicit TLS)" in result.stdout
    assert "AUTH PLAIN ***" in result.stdout and plain not in result.stdout
    assert "235 Authentication succeeded" in result.stdout


# --- :auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mech", MECHS)
def test_each_mechanism_after_starttls(exim, mech, tmp_path):
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
