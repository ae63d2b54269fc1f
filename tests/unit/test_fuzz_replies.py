"""Fuzzing the reply parser and the session core with hostile bytes (issue 7).

Properties: any bytes, split anywhere, give the same replies as fed at once, and nothing but replies
(the parser never raises: what is odd is named in ``Reply.problems``); every oddity the display
relies on is named; the partial-line buffer never outgrows the line limit (memory is bounded by the
parser's limit however long the line); the session turns any bytes into reply events and one close.
The number of examples comes from the hypothesis profile (tests/conftest.py).
"""

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from smtpshell.protocol.replies import (
    BAD_UTF8,
    BARE_LF,
    CLOSED_MID_REPLY,
    CONTROL,
    MAX_LINE,
    NO_CODE,
    Reply,
    ReplyParser,
)
from smtpshell.protocol.session import Phase, ReplyEvent, ServerClosed, Session

# What hostile servers send: codes, separators, every kind of line ending, controls, escape
# sequences, invalid UTF-8, long runs; mixed with arbitrary bytes.
PIECES = st.sampled_from([
    b"220", b"250", b"354", b"421", b"550", b"999", b"000", b"25", b"2500", b"-", b" ", b"\t",
    b"\r\n", b"\n", b"\r", b"\r\r\n", b"\x00", b"\x1b[2J", b"\x1b]0;t\x07", b"\x9b", b"\xc2\x9b",
    b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"caf\xc3\xa9", b"ok", b"5.7.1", b"x" * 40, b".",
])
HOSTILE = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=40).map(b"".join),
)


def cuts(data: bytes):
    """A strategy: ``data`` split at any points (including into single bytes)."""
    return st.sets(st.integers(1, max(1, len(data) - 1)), max_size=len(data)).map(
        lambda points: [data[a:b] for a, b in zip([0, *sorted(points)], [*sorted(points), len(data)]) if b > a]
    )


def feed_all(chunks, *, max_line=MAX_LINE, eof=True, check=None) -> list[Reply]:
    parser = ReplyParser(max_line=max_line)
    out = []
    for chunk in chunks:
        out += parser.feed(chunk)
        if check:
            check(parser)
    if eof:
        out += parser.feed(b"")
    return out


@given(data=HOSTILE, split=st.data(), max_line=st.sampled_from([MAX_LINE, 64, 7, 1]))
def test_any_bytes_split_anywhere_give_the_same_replies_and_nothing_else(data, split, max_line):
    chunks = split.draw(cuts(data), label="chunks")
    whole = feed_all([data], max_line=max_line)  # never raises: there is no remote protocol error to raise
    assert feed_all(chunks, max_line=max_line) == whole
    assert all(type(r) is Reply and r.lines for r in whole)
    assert b"".join(r.wire for r in whole) == data  # nothing lost, nothing invented
    for reply in whole:
        assert reply.code is None or 0 <= reply.code <= 999


@given(data=HOSTILE, split=st.data())
def test_every_oddity_is_named_in_the_problems(data, split):
    replies = feed_all(split.draw(cuts(data), label="chunks"))
    for index, reply in enumerate(replies):
        for line in reply.lines:
            if line.ending == b"\n":
                assert BARE_LF in reply.problems
            try:
                text = line.raw.decode("utf-8")
            except UnicodeDecodeError:
                assert BAD_UTF8 in reply.problems
            else:
                if any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in text):
                    assert CONTROL in reply.problems
            if line.code is None and not line.fragment:
                assert NO_CODE in reply.problems
        # Only the very last reply can be cut short by the close.
        if not reply.complete:
            assert index == len(replies) - 1 and CLOSED_MID_REPLY in reply.problems


@given(data=HOSTILE, split=st.data(), max_line=st.sampled_from([64, 7, 1]))
def test_the_partial_line_buffer_never_outgrows_the_limit(data, split, max_line):
    def check(parser):
        assert parser.buffered <= max_line + 1  # one byte of room for a CR whose LF is on its way

    feed_all(split.draw(cuts(data), label="chunks"), max_line=max_line, eof=False, check=check)


def test_a_10_mb_line_is_held_in_pieces_of_the_limit():
    """Memory follows the parser's limit: the buffer never holds more than one piece, and the whole
    reply costs about its own size twice (the bytes and their text), not more."""
    size = 10_000_000
    data = b"250 " + b"z" * size + b"\r\n"
    tracemalloc.start()
    try:
        replies = feed_all((data[i:i + 65536] for i in range(0, len(data), 65536)),
                           check=lambda parser: _at_most(parser.buffered, MAX_LINE + 1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [reply] = replies
    assert reply.code == 250 and len(reply.lines) == size // MAX_LINE + 1
    assert all(line.fragment for line in reply.lines[1:])
    assert peak < 3 * size, f"peak {peak:,} bytes for a {size:,}-byte reply"


def _at_most(value: int, limit: int) -> None:
    assert value <= limit


# ----- the session core ------------------------------------------------------------------------


@given(data=HOSTILE, split=st.data(), commands=st.lists(st.sampled_from(
    ["EHLO me", "MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>", "DATA", "NOOP", "RSET", "AUTH PLAIN",
     "QUIT", "HELP", "VRFY x"]), max_size=6))
def test_the_session_turns_any_bytes_into_replies_and_one_close(data, split, commands):
    session = Session()
    for line in commands:
        session.send_line(line)  # pipelined: all waiting before any reply (never refused)
    events = []
    for chunk in [*split.draw(cuts(data), label="chunks"), b""]:
        session.receive_data(chunk)
        while (event := session.next_event()) is not None:
            events.append(event)
    *replies, closed = events
    assert all(type(e) is ReplyEvent for e in replies), events
    assert type(closed) is ServerClosed and session.phase is Phase.CLOSED
    assert b"".join(e.reply.wire for e in replies) == data
    # Replies answer the oldest waiting command, in order; a line with no code answers nothing.
    answered = [e.command for e in replies if e.command is not None]
    assert [c.verb for c in answered] == ["GREETING", *(line.split()[0] for line in commands)][: len(answered)]
    session.receive_data(b"more after the close")
    assert session.next_event() is None
