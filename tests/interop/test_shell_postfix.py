"""smtpshell against a real Postfix: the seed session, typed and scripted, with STARTTLS in the middle."""

import re
import subprocess
import sys
import uuid

import pexpect
import pytest

from tests.support.terminal import terminal_factory
from tests.support.script import b64

GREEN_250 = re.compile(rb"\x1b\[[0-9;]*32m250")
RED_5XX = re.compile(rb"\x1b\[[0-9;]*31m5\d\d")


def smtpshell(*args, stdin: str = "", tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "smtpshell", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)


def seed_lines(postfix, msgid: str) -> list[str]:
    """The seed's telnet session (auth login with the user in the initial response), plus STARTTLS."""
    return [
        "ehlo h1.home.net",
        "starttls",
        "ehlo h1.home.net",
        f"auth login {b64(postfix.user)}",
        b64(postfix.password),
        ":expect 235",
        f"mail from:<norbert@{postfix.domain}>",
        f"rcpt to:<{postfix.address}>",
        "data",
        f"from: name_of_sender <norbert@{postfix.domain}>",
        f"to: name_of_recipient <{postfix.address}>",
        "subject:test",
        f"Message-ID: <{msgid}@smtpshell.test>",
        "",
        "Enter the actual mailtext here...blabla.",
        ".hidden line that starts with a dot",
        ".",
        ":expect 250",
        "quit",
    ]


def test_seed_session_as_a_script(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell("127.0.0.1", str(postfix.port), "--cafile", str(postfix.cafile),
                       stdin="\n".join(seed_lines(postfix, msgid)) + "\n", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "220 mx.example.test ESMTP Postfix" in out
    assert "TLS started (STARTTLS)" in out and "verified: trusted issuer" in out
    assert "challenge decodes to: Password:" in out  # Postfix's prompt, decoded
    assert "235 2.7.0 Authentication successful" in out
    assert postfix.password not in out and b64(postfix.password) not in out  # masked
    delivered = postfix.wait_for_delivery(postfix.user, containing=msgid.encode()).read_bytes()
    assert b"\n.hidden line that starts with a dot\n" in delivered
    assert b"Enter the actual mailtext here" in delivered


def test_seed_session_typed_in_the_repl(postfix, tmp_path):
    spawn, close_all = terminal_factory(tmp_path)
    try:
        t = spawn("127.0.0.1", str(postfix.port), "--cafile", str(postfix.cafile))
        msgid = uuid.uuid4().hex
        t.prompt()
        t.type("rcpt to:<someone@elsewhere.invalid>")  # out of phase: warned, sent, refused
        t.expect_exact("RCPT before an accepted MAIL FROM")
        t.expect(RED_5XX)
        t.prompt()
        # (line, what must show after it, the prompt that follows)
        steps = []
        in_data = False
        for line in seed_lines(postfix, msgid):
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
                steps.append((line, "Ok: queued", "smtp"))
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
        delivered = postfix.wait_for_delivery(postfix.user, containing=msgid.encode()).read_bytes()
        assert b"\n.hidden line that starts with a dot\n" in delivered
        history = (tmp_path / "state" / "smtpshell" / "history").read_text()
        assert "ehlo h1.home.net" in history
        assert b64(postfix.password) not in history  # the SASL answer never reaches history
        assert "Enter the actual mailtext" not in history  # nor does message content
    finally:
        close_all()


def test_relay_denied_is_explained_and_exits_4(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "-c", "EHLO me", "-c", "MAIL FROM:<a@example.test>",
                       "-c", "RCPT TO:<someone@elsewhere.invalid>", tmp_path=tmp_path)
    assert result.returncode == 4
    assert "554 5.7.1 <someone@elsewhere.invalid>: Relay access denied" in result.stdout
    assert "5.7.1: delivery not authorized" in result.stdout


def test_implicit_tls_and_auth_plain(postfix, tmp_path):
    plain = b64(f"\0{postfix.user}\0{postfix.password}")
    result = smtpshell(f"127.0.0.1:{postfix.smtps_port}", "--tls", "--cafile", str(postfix.cafile),
                       "-c", "EHLO me", "-c", f"AUTH PLAIN {plain}", "-c", ":expect 235", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "TLS started (implicit TLS)" in result.stdout
    assert "AUTH PLAIN ***" in result.stdout and plain not in result.stdout


def test_submission_wants_starttls_first(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "-c", "EHLO me",
                       "-c", "MAIL FROM:<a@example.test>", "-c", ":expect 530", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "530: authentication required (often: STARTTLS first)" in result.stdout
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "--starttls", "--cafile", str(postfix.cafile),
                       "-c", ":expect 250", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout


def test_certificate_name_mismatch(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "--starttls", "--cafile", str(postfix.cafile),
                       "--sni", "mx.example.test", tmp_path=tmp_path)
    assert result.returncode == 3
    assert "the host name does not match the certificate (mx.example.test)" in result.stdout
