"""Escape sequences from a hostile server, in the real REPL in a pseudo-terminal: shown, never obeyed.

The screen log is every byte the program wrote to the terminal. The REPL writes escape sequences of
its own (colours, cursor moves for the prompt); the server's must never be among them: each of its
ESC, BEL and C1 bytes must reach the screen as a visible picture (``␛``, ``␇``) or escape (``\\x9b``).
"""

import re

import pexpect

from tests.support.hostile import SMALL_RCVBUF, Close, Expect, ReadUntil, Send, StopReading, serving_in_thread

# Each sequence is followed by a marker word, so the test can tell the server's bytes from the REPL's.
BANNER = (b"220 evil.example \x1b[2Jcleared \x1b]0;PWNED\x07titled \x1b[10;10Hmoved "
          b"\x1b[8mconcealed \x1bcreset\r\n")
EHLO_REPLY = (b"250-evil.example \x1b[1A\x1b[Kup\r\n"
              b"250-\xc2\x9b2Jcsi8 \x9b2Jcsiraw\r\n"
              b"250 \x1b[?1049halternate \x1b[6nreport\r\n")
STEPS = [Send(BANNER), Expect(b"EHLO"), Send(EHLO_REPLY), Expect(b"QUIT"), Send(b"221 bye\r\n"), Close()]

# What the server sent that a terminal would obey: none of it may be on the screen.
OBEYED = [
    b"\x1b[2Jcleared", b"\x1b]0;PWNED", b"\x07titled", b"\x1b[10;10Hmoved", b"\x1b[8mconcealed", b"\x1bcreset",
    b"\x1b[1A\x1b[Kup", b"\xc2\x9b2Jcsi8", b"\x9b2Jcsiraw", b"\x1b[?1049halternate", b"\x1b[6nreport",
]
SGR = rb"(?:\x1b\[[0-9;]*m)*"  # the REPL's own colour changes may sit between the picture and the rest
ESC = "␛".encode()


def shown(*parts: bytes) -> re.Pattern:
    return re.compile(SGR.join(re.escape(p) for p in parts))


# ... and how each is drawn instead.
VISIBLE = [
    shown(ESC, b"[2Jcleared"), shown(ESC, b"]0;PWNED", "␇".encode(), b"titled"), shown(ESC, b"[10;10Hmoved"),
    shown(ESC, b"[8mconcealed"), shown(ESC, b"creset"), shown(ESC, b"[1A", ESC, b"[Kup"),
    shown(b"\\u009b", b"2Jcsi8"), shown(b"\\x9b", b"2Jcsiraw"), shown(ESC, b"[?1049halternate"),
    shown(ESC, b"[6nreport"),
]


def test_escape_sequences_from_the_server_are_shown_not_obeyed(terminal, tmp_path):
    with serving_in_thread(STEPS) as server:
        t = terminal("127.0.0.1", str(server.port))
        t.expect_exact("cleared")  # the banner, as it arrives
        t.prompt()
        t.type("EHLO me")
        t.expect_exact("report")  # the last line of the reply
        t.prompt()
        t.child.sendcontrol("d")  # QUIT, 221, exit 0
        t.expect_exact("bye")  # 221 (colours between the code and the text)
        t.child.expect(pexpect.EOF)
        t.child.close()
        assert t.child.exitstatus == 0
        assert not server.mismatches and not server.errors
    t.log.flush()
    screen = (tmp_path / "pty.log").read_bytes()
    assert b"Traceback" not in screen
    for raw in OBEYED:
        assert raw not in screen, f"{raw!r} reached the terminal raw"
    for pattern in VISIBLE:
        assert pattern.search(screen), f"{pattern.pattern!r} not on the screen"
    assert b"PWNED\x07" not in screen and b"PWNED\x1b\\" not in screen  # no title was set


def test_a_server_that_closes_mid_data_is_reported_as_not_accepted(terminal, tmp_path):
    steps = [Send(b"220 hostile.example ESMTP\r\n"), Expect(b"EHLO"), Send(b"250 hostile.example\r\n"),
             Expect(b"MAIL"), Send(b"250 ok\r\n"), Expect(b"RCPT"), Send(b"250 ok\r\n"), Expect(b"DATA"),
             Send(b"354 go ahead\r\n"), ReadUntil(b"\r\n.\r\n"), Close()]
    with serving_in_thread(steps) as server:
        t = terminal("127.0.0.1", str(server.port))
        for line in ("EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>"):
            t.prompt()
            t.type(line)
        t.prompt()
        t.type("DATA")
        for line in ("Subject: lost", "", "body"):
            t.prompt("data")
            t.type(line)
        t.prompt("data")
        t.type(".")
        t.expect_exact("message not accepted: the server closed the connection before replying to the final dot")
        t.prompt("smtp")  # back at the prompt, not stuck in DATA
        t.type("NOOP")
        t.expect_exact("not connected")  # what is typed next goes nowhere, and says so
        t.prompt()
        t.type(":quit")
        t.child.expect(pexpect.EOF)
        t.child.close()
        assert t.child.exitstatus == 0
        assert b"Subject: lost\r\n\r\nbody\r\n.\r\n" in server.text
    t.log.flush()
    assert b"Traceback" not in (tmp_path / "pty.log").read_bytes()


def test_ctrl_c_during_a_file_says_once_what_it_did(terminal, tmp_path):
    """A server that stops reading mid-message: the :file transfer waits; Ctrl-C cuts it short,
    drops the connection (a lone dot would deliver the part that went) and says so, once."""
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 200_000)  # 16 MB: more than any buffer
    steps = [Send(b"220 hostile.example ESMTP\r\n"), Expect(b"EHLO"), Send(b"250 hostile.example\r\n"),
             Expect(b"MAIL"), Send(b"250 ok\r\n"), Expect(b"RCPT"), Send(b"250 ok\r\n"), Expect(b"DATA"),
             Send(b"354 go ahead\r\n"), StopReading()]
    with serving_in_thread(steps, rcvbuf=SMALL_RCVBUF) as server:
        t = terminal("127.0.0.1", str(server.port), "--no-history")
        for line in ("EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"):
            t.prompt()
            t.type(line)
        t.prompt("data")
        t.type(f":file {big}")
        t.expect(rb"big\.eml: +[\d.]+%")  # the progress bar: the transfer is under way, and stuck
        t.child.sendcontrol("c")
        t.expect_exact("^C: big.eml cut short after")
        t.prompt("smtp")
        t.type(":quit")
        t.child.expect(pexpect.EOF)
    t.log.flush()
    screen = (tmp_path / "pty.log").read_bytes()
    assert b"Traceback" not in screen
    assert screen.count(b"^C") == 1, screen[-2000:]  # not also the generic "^C: cancelled"
