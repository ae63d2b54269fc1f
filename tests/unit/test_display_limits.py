"""How much of a huge reply the screen shows (a hostile server can send megabytes): the first lines,
a note of what was left out, the last line; long lines clipped with a note. Pure functions."""

from smtpshell.protocol.replies import ReplyParser
from smtpshell.transcript import display
from smtpshell.transcript.display import View


def reply(data: bytes, **kw):
    parser = ReplyParser(**kw)
    [r] = parser.feed(data) + parser.feed(b"")
    return r


def texts(lines) -> list[str]:
    return ["".join(t for _, t in line) for line in lines]


def test_a_reply_of_many_lines_shows_the_first_ones_a_note_and_the_last():
    n = display.SHOW_REPLY_LINES * 10
    r = reply(b"".join(b"250-line %d\r\n" % i for i in range(n)) + b"250 the end\r\n")
    shown = texts(display.reply_lines(r, View(hints=False)))
    left_out = n + 1 - display.SHOW_REPLY_LINES
    nbytes = sum(len(b"250-line %d\r\n" % i) for i in range(display.SHOW_REPLY_LINES - 1, n))
    assert shown[: display.SHOW_REPLY_LINES - 1] == [f"250-line {i}" for i in range(display.SHOW_REPLY_LINES - 1)]
    assert shown[display.SHOW_REPLY_LINES - 1] == f"… {left_out:,} more lines of this reply ({nbytes:,} bytes) not shown …"
    assert shown[display.SHOW_REPLY_LINES] == "250 the end"
    assert len(shown) == display.SHOW_REPLY_LINES + 1


def test_a_reply_at_the_limit_is_shown_whole():
    n = display.SHOW_REPLY_LINES
    r = reply(b"".join(b"250-%d\r\n" % i for i in range(n - 1)) + b"250 end\r\n")
    assert len(display.reply_lines(r, View(hints=False))) == n


def test_a_long_line_is_clipped_with_a_note():
    r = reply(b"550 " + b"x" * 5000 + b"\r\n")
    [line] = texts(display.reply_lines(r, View(hints=False)))
    assert line == "550 " + "x" * display.SHOW_LINE_CHARS + f" … {5000 - display.SHOW_LINE_CHARS:,} more characters not shown"


def test_clipping_never_cuts_a_control_picture_in_half_or_shows_a_raw_control():
    r = reply(b"250 " + b"\x1b[2J" * 2000 + b"\r\n")
    for line in display.reply_lines(r, View()):
        for _token, text in line:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def test_the_pieces_of_a_line_split_by_the_parser_are_each_clipped():
    r = reply(b"250 " + b"z" * 100_000 + b"\r\n", max_line=10_000)
    shown = texts(display.reply_lines(r, View(hints=False)))[: len(r.lines)]
    assert len(shown) == len(r.lines) == 11
    assert all(len(line) < display.SHOW_LINE_CHARS + 60 for line in shown)


def test_the_hints_of_a_huge_334_are_bounded_too():
    r = reply(b"".join(b"334-" + b"QUFB" * 500 + b"\r\n" for _ in range(500)) + b"334 QUFB\r\n")
    lines = display.reply_lines(r, View())
    assert len(lines) < 3 * display.SHOW_REPLY_LINES
    assert sum(len(t) for line in lines for _, t in line) < 3 * display.SHOW_REPLY_LINES * (display.SHOW_LINE_CHARS + 100)
