""":raw's argument (escapes or --hex), and the notes that say what the control pictures in a
server's reply stand for."""

import pytest

from smtpshell.protocol.replies import BAD_UTF8, BARE_LF, CONTROL, ReplyParser
from smtpshell.shell.commands import raw_bytes
from smtpshell.transcript.display import problem_detail


@pytest.mark.parametrize("arg, data", [
    ("NOOP\\r\\n", b"NOOP\r\n"),
    ("--hex 2e0d0a", b".\r\n"),
    ("--hex 2E 0D 0A", b".\r\n"),
    ("--hex 2e:0d:0a", b".\r\n"),
    ("--hexadecimal", b"--hexadecimal"),
    ("\\x2d-hex 00", b"--hex 00"),
])
def test_raw_arguments(arg, data):
    assert raw_bytes(arg) == data


@pytest.mark.parametrize("wire, problem, detail", [
    (b"250 a\x00b\rc\r\n", CONTROL, ": ␀ is a NUL byte (0x00), ␍ is a bare CR (0x0D)"),
    (b"250 \x1b[2J\x7f\x01\r\n", CONTROL, ": ␛ is ESC (0x1B), ␡ is DEL (0x7F), ␁ is 0x01"),
    (b"250-a\r\n250 b\r\r\n", CONTROL, ": ␍ is a bare CR (0x0D)"),  # a CR before the CRLF
    (b"250 ok\n", BARE_LF, " (drawn ␊ at the line's end)"),
    (b"250 \xff\r\n", BAD_UTF8, ""),
])
def test_problem_details(wire, problem, detail):
    [reply] = ReplyParser().feed(wire)
    assert problem in reply.problems
    assert problem_detail(reply, problem) == detail
