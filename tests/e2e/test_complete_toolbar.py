"""Tab completion and the bottom toolbar in the real REPL, against the practice server (--demo).

The toolbar is drawn only once the terminal answers the cursor-position request, so these
terminals answer it. Every wait is on the screen's bytes.
"""

import re

import pexpect

from smtpshell.transcript.readers import read

STYLE = rb"\x1b\[[0-9;]*m"


def test_tab_offers_what_the_server_advertised_and_addresses_used_before(terminal, tmp_path):
    path = tmp_path / "session.jsonl"
    t = terminal("--demo", "--record", str(path), answer_cpr=True)
    t.prompt()
    t.type("EHLO laptop")
    t.expect_exact("HELP command (text for a person)")
    t.prompt()
    t.child.send("MAIL FROM:<alice@example.com> \t")  # the menu: the parameters the server offered
    t.expect(rb"SIZE=\s*" + STYLE + rb" the message's size in bytes \(RFC 1870\)")
    t.expect(rb"BODY=8BITMIME\s*" + STYLE + rb" the body is 7-bit or 8-bit text")
    t.child.send("SI\t")  # one completion: inserted
    t.child.send("2000\r")
    t.expect_exact("Sender <alice@example.com> ok")
    t.prompt()
    t.child.send("RCPT TO:<al\t")  # the address typed before, completed whole
    t.child.send("\r")
    t.expect_exact("Recipient <alice@example.com> ok")
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    sent = [c.line for c in read(path.read_text(encoding="utf-8")).client_lines]
    assert sent[1:3] == ["MAIL FROM:<alice@example.com> SIZE=2000", "RCPT TO:<alice@example.com>"]


def toolbar_after_prompt(t, name: str = "smtp") -> str:
    """The toolbar's first line as the next prompt draws it, without colours and cursor moves."""
    t.prompt(name)
    t.expect(rb"\x1b\[\d+A")  # the toolbar drawn (the last line), the cursor goes back up to the prompt
    screen = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", t.child.before).decode()
    return next(line.strip() for line in screen.splitlines() if "│" in line)


def test_toolbar_follows_the_phase_the_recording_and_the_verb_typed(terminal, tmp_path):
    t = terminal("--demo", answer_cpr=True)
    assert re.fullmatch(r"127\.0\.0\.1:\d+  │  plain text  │  ready \(send EHLO\)  │  [\d.]+ ms", toolbar_after_prompt(t))
    t.type("EHLO laptop")
    t.expect_exact("HELP command (text for a person)")
    assert "│  plain text  │  ready  │" in toolbar_after_prompt(t)
    t.type(f":record {tmp_path / 'class.jsonl'}")
    t.expect_exact("recording to")
    assert re.search(r"│  ready  │  [\d.]+ ms  │  ● rec class\.jsonl$", toolbar_after_prompt(t))
    t.type("MAIL FROM:<alice@example.com>")
    t.expect_exact("Sender <alice@example.com> ok")
    assert "│  mail  │" in toolbar_after_prompt(t)
    t.child.send("RCPT")  # the syntax of the verb being typed, with the parameters offered (no DSN here)
    t.expect_exact(" RCPT TO:<forward-path>  —  add a recipient to the transaction".encode())
    t.child.send(" TO:<bob@example.com>\r")
    t.expect_exact("Recipient <bob@example.com> ok")
    assert "│  rcpt ×1  │" in toolbar_after_prompt(t)
    t.type(":record stop")
    t.expect_exact("recording stopped")
    line = toolbar_after_prompt(t)
    assert "│  rcpt ×1  │" in line and "rec" not in line
    t.type(":quit")
    t.child.expect(pexpect.EOF)


def test_toolbar_and_completion_follow_tls_auth_and_data(terminal):
    """Greeting -> STARTTLS -> AUTH -> DATA -> back to ready, as a class walks through it."""
    t = terminal("--demo", answer_cpr=True)
    assert "│  plain text  │  ready (send EHLO)  │" in toolbar_after_prompt(t)
    t.type(":starttls")
    t.expect_exact("TLS started (STARTTLS)")
    t.expect_exact("HELP command (text for a person)")  # the EHLO after TLS
    line = toolbar_after_prompt(t)
    assert re.search(r"│  STARTTLS TLSv1\.[23] \S+  │  ready  │", line), line
    t.child.send(":auth \t")  # the mechanisms the server offered after TLS, each explained
    t.expect(rb"SCRAM-SHA-256\s*" + STYLE + rb" salted challenge-response with SHA-256")
    t.child.send("\x15")  # Ctrl-U: drop the line
    t.type(":auth plain alice wonderland")
    t.expect_exact("authenticated as alice")
    assert "│  user alice  │  ready  │" in toolbar_after_prompt(t)
    t.type("MAIL FROM:<alice@example.com>")
    t.expect_exact("Sender <alice@example.com> ok")
    t.prompt()
    t.type("RCPT TO:<bob@example.com>")
    t.expect_exact("Recipient <bob@example.com> ok")
    t.prompt()
    t.type("DATA")
    t.reply("354")
    assert "│  user alice  │  data  │" in toolbar_after_prompt(t, "data")
    for line in ("Subject: class", "", "hello"):
        t.type(line)
        t.prompt("data")
    t.type(".")
    t.expect_exact("Message accepted for delivery")
    assert "│  user alice  │  ready  │" in toolbar_after_prompt(t)
    t.type(":quit")
    t.child.expect(pexpect.EOF)
