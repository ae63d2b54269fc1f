"""The real REPL in a pseudo-terminal, as a person uses it."""

import re
import signal
import socket
import threading

import pexpect
import pytest

from smtpshell.transcript.readers import read

GREEN_250 = re.compile(rb"\x1b\[[0-9;]*32m250")  # 2xx: green
RED_5XX = re.compile(rb"\x1b\[[0-9;]*31m5\d\d")  # 5xx: red


def end_message_and_quit(t, maildir) -> list[bytes]:
    """The lone dot, its 250, :quit; then the messages the practice server stored."""
    t.type(".")
    t.expect(GREEN_250)
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    return [p.read_bytes() for p in (maildir / "new").iterdir()]


def test_demo_colours_replies_by_class_and_does_data(terminal, tmp_path):
    t = terminal("--demo")
    t.expect_exact("practice server")
    t.prompt()
    t.type("EHLO laptop")
    t.expect(GREEN_250)
    t.expect_exact("HELP")
    t.prompt()
    t.type("RCPT TO:<bob@example.com>")  # before MAIL: warned, sent, refused
    t.expect_exact("RCPT before an accepted MAIL FROM")
    t.expect(RED_5XX)
    t.prompt()
    t.type("MAIL FROM:<alice@example.com>")
    t.expect(GREEN_250)
    t.prompt()
    t.type("RCPT TO:<bob@example.com>")
    t.expect(GREEN_250)
    t.prompt()
    t.type("DATA")
    t.reply("354")
    t.prompt("data")
    t.type("Subject: from the terminal")
    t.prompt("data")
    t.type("")
    t.prompt("data")
    t.type(".a line with a leading dot")
    t.prompt("data")
    t.type(".")
    t.expect(GREEN_250)
    t.prompt("smtp")
    t.child.sendcontrol("d")  # Ctrl-D at an empty prompt: QUIT, 221, exit 0
    t.reply("221")
    t.child.expect(pexpect.EOF)
    t.child.close()
    assert t.child.exitstatus == 0


def test_message_typed_in_data_mode_is_stored_unstuffed(terminal, tmp_path):
    maildir = tmp_path / "mail"
    server = terminal("serve", "--port", "0", "--maildir", str(maildir))
    server.expect(rb"Listening on\s+127\.0\.0\.1:(\d+)")
    port = server.child.match.group(1).decode()
    server.expect(rb"Certificate\s+(\S+)")
    cafile = server.child.match.group(1).decode()
    t = terminal("127.0.0.1", port, "--cafile", cafile)
    t.prompt()
    for line in ("EHLO laptop", "STARTTLS"):
        t.type(line)
        t.reply("220") if line == "STARTTLS" else t.expect_exact("HELP")
        t.prompt()
    for line in ("EHLO laptop", "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>"):
        t.type(line)
        t.expect(GREEN_250)
        t.prompt()
    t.type("DATA")
    t.prompt("data")
    for line in ("Subject: dots", "", ".hidden", "..double", "end"):
        t.type(line)
        t.prompt("data")
    [stored] = end_message_and_quit(t, maildir)
    assert b"\n.hidden\n..double\nend\n" in stored.replace(b"\r\n", b"\n")


def test_a_paste_and_tabs_at_the_data_prompt_are_message_text(terminal, tmp_path):
    """A bracketed paste at data> goes line by line (CRLF, dot-stuffed), and Tab types a tab
    there (a folded header), where at smtp> it completes."""
    maildir = tmp_path / "mail"
    server = terminal("serve", "--port", "0", "--maildir", str(maildir))
    server.expect(rb"Listening on\s+127\.0\.0\.1:(\d+)")
    t = terminal("127.0.0.1", server.child.match.group(1).decode(), "--no-history")
    for line in ("EHLO laptop", "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>", "DATA"):
        t.prompt()
        t.type(line)
    t.prompt("data")
    t.child.send("\x1b[200~Subject: pasted\nX-Folded: one\n\ttwo\n\n.dotline\n\x1b[201~")  # as a terminal pastes
    t.type("")  # Enter
    t.prompt("data")
    t.child.send("a\tb")  # Tab typed between two words
    t.type("")
    t.prompt("data")
    [stored] = end_message_and_quit(t, maildir)
    assert b"Subject: pasted\r\nX-Folded: one\r\n\ttwo\r\n\r\n.dotline\r\na\tb\r\n" in stored


def test_ctrl_c_cancels_a_wait_and_the_line_being_typed(terminal, tmp_path):
    # A server that greets and then never answers.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    got = []
    done = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 silent.example ESMTP\r\n")
            while chunk := conn.recv(4096):
                got.append(chunk)
        done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        t = terminal("127.0.0.1", str(port), "--timeout", "60")
        t.prompt()
        t.type("NOOP")
        t.child.sendcontrol("c")  # cancel the wait, even when pressed at once
        t.expect_exact("^C: cancelled")
        t.prompt()
        t.child.send("MAIL FROM:<half-typed@example.com>")
        t.child.sendcontrol("c")  # cancel the line: nothing sent
        t.prompt()
        t.type(":close")
        t.prompt()
        assert t.child.isalive()  # Ctrl-C never ends the program
        t.type(":quit")
        t.child.expect(pexpect.EOF)
        assert done.wait(10)
        sent = b"".join(got)
        assert sent.startswith(b"NOOP\r\n")
        assert b"half-typed" not in sent
    finally:
        listener.close()


def test_toolbar_shows_the_session_state(terminal):
    t = terminal("--demo", answer_cpr=True)
    t.prompt()
    t.expect_exact("plain text")
    t.type(":starttls")
    t.expect_exact("TLS started")
    t.prompt()
    t.expect(rb"STARTTLS TLSv1\.[23]")
    t.type(":quit")
    t.child.expect(pexpect.EOF)


def test_history_is_kept_but_never_holds_credentials(terminal, tmp_path):
    t = terminal("--demo")
    t.prompt()
    t.type("EHLO laptop")
    t.expect_exact("HELP")
    t.prompt()
    t.type("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")
    t.reply("235")
    t.prompt()
    t.type(":b64 \\0alice\\0wonderland")  # as the demo's intro suggests
    t.expect_exact("AGFsaWNlAHdvbmRlcmxhbmQ=")
    t.prompt()
    t.type(":unb64 AGFsaWNlAHdvbmRlcmxhbmQ=")
    t.expect_exact("alice")
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    history = (tmp_path / "state" / "smtpshell" / "history").read_text()
    assert "EHLO laptop" in history
    assert "AGFsaWNlAHdvbmRlcmxhbmQ" not in history and "wonderland" not in history


def test_auth_password_is_asked_unseen_and_kept_out_of_everything(terminal, tmp_path):
    t = terminal("--demo", "--record", str(tmp_path / "session.jsonl"))
    t.prompt()
    t.type(":auth login alice")
    t.expect_exact("password for alice:")
    t.type("wonderland")
    t.expect_exact("challenge decodes to: Password")
    t.expect_exact("authenticated as alice")
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    # The practice server prints its demo passwords in its intro; look from the prompt on.
    screen = (tmp_path / "pty.log").read_bytes().split(b"password for alice:", 1)[1]
    assert b"wonderland" not in screen
    assert b"d29uZGVybGFuZA" not in screen  # nor its base64
    history = (tmp_path / "state" / "smtpshell" / "history").read_text()
    assert ":auth login alice" in history and "wonderland" not in history
    recording = (tmp_path / "session.jsonl").read_text()
    assert '"line": "AUTH LOGIN"' in recording and '"secret": true' in recording
    assert "wonderland" not in recording and "d29uZGVybGFuZA" not in recording


def test_a_recording_survives_the_shell_killed_mid_data(terminal, tmp_path):
    path = tmp_path / "killed.jsonl"
    t = terminal("--demo", "--record", str(path))
    t.prompt()
    for line in ("EHLO laptop", "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>"):
        t.type(line)
        t.expect(GREEN_250)
        t.prompt()
    t.type("DATA")
    t.prompt("data")
    t.type("Subject: half a message")
    t.prompt("data")
    t.child.kill(signal.SIGKILL)
    t.child.expect(pexpect.EOF)
    transcript = read(path.read_text(encoding="utf-8"))
    assert [r.code for r in transcript.replies][-1] == 354
    assert [c.line for c in transcript.client_lines][-1] == "DATA"  # the typed line was not sent yet


def test_demo_offers_implicit_tls_too_and_connect_reaches_it(terminal):
    t = terminal("--demo")
    t.expect(rb"Implicit TLS  127\.0\.0\.1:(\d+)")
    port = t.child.match.group(1).decode()
    t.prompt()
    t.type(f":connect 127.0.0.1 {port} --tls")
    t.expect_exact("TLS started (implicit TLS): TLSv1.")
    t.expect_exact("verified: trusted issuer, name 127.0.0.1 matches")  # --demo trusts its certificate
    t.prompt()
    t.type("EHLO laptop")
    t.expect_exact("HELP command")
    ehlo = t.child.before  # the whole EHLO reply
    assert b"AUTH SCRAM-SHA-256" in ehlo
    assert b"STARTTLS" not in ehlo  # TLS from the first byte: nothing to start
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)


def test_ctrl_d_and_up_arrow_at_auth_never_send_something_unseen(terminal, tmp_path):
    """At auth> the answer is hidden: Up must not recall a history line into it (it would go
    unseen), and Ctrl-D cancels the exchange with * instead of quitting through it."""
    t = terminal("--demo")
    t.prompt()
    t.type("EHLO laptop")
    t.expect_exact("HELP")
    t.prompt()
    t.type("AUTH LOGIN")
    t.prompt("auth")
    t.child.send("\x1b[A")  # Up
    t.type("")  # Enter: an empty answer, not the recalled "AUTH LOGIN"
    t.prompt("auth")  # the server asks for the password next
    t.child.sendcontrol("d")
    t.expect_exact("Ctrl-D: cancelling the AUTH exchange (*)")
    t.reply("501")  # RFC 4954: the server answers * with 501
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    t.child.close()
    assert t.child.exitstatus == 0
    screen = (tmp_path / "pty.log").read_bytes()
    # A recalled "AUTH LOGIN" sent as the answer would have drawn this warning; "QUIT" a 535, not 501.
    assert b"not base64" not in screen
