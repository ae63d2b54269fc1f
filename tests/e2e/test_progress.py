"""The REPL in a pseudo-terminal sending a large file: prompt_toolkit's progress bar is drawn,
the message is summarised, and the prompt comes back; :send is shown step by step."""

import re

import pexpect

GREEN_250 = re.compile(rb"\x1b\[[0-9;]*32m250")


def practice_server(terminal, maildir):
    server = terminal("serve", "--port", "0", "--maildir", str(maildir))
    server.expect(rb"Listening on\s+127\.0\.0\.1:(\d+)")
    return server.child.match.group(1).decode()


def test_a_large_file_shows_a_progress_bar_and_the_prompt_comes_back(terminal, tmp_path):
    big = tmp_path / "big.eml"
    body = b"".join(b"line %06d of a message larger than a megabyte\n" % n for n in range(40000))
    big.write_bytes(b"Subject: large\n\n" + body)
    maildir = tmp_path / "mail"
    port = practice_server(terminal, maildir)
    t = terminal("127.0.0.1", port, "--no-history")
    t.prompt()
    for line in ("EHLO laptop", "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>"):
        t.type(line)
        t.expect(GREEN_250)
        t.prompt()
    t.type("DATA")
    t.prompt("data")
    t.type(f":file {big}")
    t.expect_exact("Subject: large")
    t.expect(rb"big\.eml: +([\d.]+)%.*/1\.9 MB .* MB/s")  # the bar: label, percentage, bytes, rate
    # Its later frames are not looked for: prompt_toolkit redraws only the characters that changed
    # (" 90.0%" to "100.0%" writes "10"), so "100.0%" is on the screen without being in the bytes.
    t.expect_exact("… 40,000 more lines".encode())
    t.expect(GREEN_250)
    t.prompt()
    t.type(":send --from alice@example.com --to bob@example.com --subject second")
    t.expect_exact("FROM:<alice@example.com>")  # (MAIL and its argument are coloured apart)
    t.expect_exact("TO:<bob@example.com>")
    t.expect_exact("Subject: second")
    t.expect_exact("message accepted for 1 recipient")
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
    stored = sorted((maildir / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert len(stored) == 2
    assert stored[0].read_bytes().replace(b"\r\n", b"\n").endswith(body)
