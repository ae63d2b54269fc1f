"""The reply parser: what it makes of each kind of server output, and the properties the
session relies on (the same replies however the bytes arrive; nothing lost, nothing invented)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.replies import (
    BAD_UTF8,
    BARE_LF,
    CLOSED_MID_REPLY,
    CODE_CHANGED,
    CONTROL,
    NO_CODE,
    Reply,
    ReplyParser,
    split_enhanced,
)

TOO_LONG_PREFIX = "line longer than"


def parse(data: bytes, *, eof: bool = True, **kwargs) -> list[Reply]:
    parser = ReplyParser(**kwargs)
    replies = parser.feed(data)
    if eof:
        replies += parser.feed(b"")
    return replies


def parse_chunks(chunks, *, eof: bool = True, **kwargs) -> list[Reply]:
    parser = ReplyParser(**kwargs)
    replies = []
    for chunk in chunks:
        replies += parser.feed(chunk)
    if eof:
        replies += parser.feed(b"")
    return replies


def cut(data: bytes, points) -> list[bytes]:
    bounds = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


# ----- one sample, one expected result -----------------------------------------------

# (id, bytes, [(code, texts, enhanced, problems)] for each reply)
SAMPLES = [
    ("single", b"250 OK\r\n", [(250, ("OK",), None, ())]),
    ("bare code", b"250\r\n", [(250, ("",), None, ())]),
    (
        "multi-line",
        b"250-mail.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        [(250, ("mail.example.com", "PIPELINING", "SIZE 1000"), None, ())],
    ),
    (
        "two replies",
        b"220 hi\r\n250 ok\r\n",
        [(220, ("hi",), None, ()), (250, ("ok",), None, ())],
    ),
    ("enhanced", b"550 5.1.1 User unknown\r\n", [(550, ("5.1.1 User unknown",), "5.1.1", ())]),
    ("enhanced 2xx", b"250 2.1.0 Sender OK\r\n", [(250, ("2.1.0 Sender OK",), "2.1.0", ())]),
    (
        "enhanced multi-line",
        b"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n",
        [(535, ("5.7.8 Username and Password not accepted.", "5.7.8 Learn more"), "5.7.8", ())],
    ),
    ("enhanced class mismatch", b"250 5.1.1 odd\r\n", [(250, ("5.1.1 odd",), None, ())]),
    ("no enhanced on 3xx", b"354 2.0.0 go ahead\r\n", [(354, ("2.0.0 go ahead",), None, ())]),
    ("not an enhanced code", b"550 5.1.1x nope\r\n", [(550, ("5.1.1x nope",), None, ())]),
    ("bare LF", b"250 ok\n", [(250, ("ok",), None, (BARE_LF,))]),
    (
        "bare LF in multi-line",
        b"250-a\n250 b\r\n",
        [(250, ("a", "b"), None, (BARE_LF,))],
    ),
    ("no code", b"hello there\r\n", [(None, ("hello there",), None, (NO_CODE,))]),
    ("no code: 4 digits", b"2500 ok\r\n", [(None, ("2500 ok",), None, (NO_CODE,))]),
    (
        "no code inside a multi-line reply",
        b"250-first\r\njunk\r\n250 last\r\n",
        [(250, ("first", "junk", "last"), None, (NO_CODE,))],
    ),
    (
        "no code, then a reply",
        b"junk\r\n220 hi\r\n",
        [(None, ("junk",), None, (NO_CODE,)), (220, ("hi",), None, ())],
    ),
    (
        "code changed mid-reply",
        b"250-first\r\n251 last\r\n",
        [(251, ("first", "last"), None, (CODE_CHANGED,))],
    ),
    ("invalid UTF-8", b"250 caf\xe9\r\n", [(250, ("caf\udce9",), None, (BAD_UTF8,))]),
    ("NUL", b"250 a\x00b\r\n", [(250, ("a\x00b",), None, (CONTROL,))]),
    ("ESC", b"250 \x1b[31mred\r\n", [(250, ("\x1b[31mred",), None, (CONTROL,))]),
    ("bare CR", b"250 a\rb\r\n", [(250, ("a\rb",), None, (CONTROL,))]),
    ("DEL", b"250 a\x7f\r\n", [(250, ("a\x7f",), None, (CONTROL,))]),
    ("tab is fine", b"250 a\tb\r\n", [(250, ("a\tb",), None, ())]),
    ("UTF-8 is fine", "250 grüße\r\n".encode(), [(250, ("grüße",), None, ())]),
    (
        "EOF mid-reply",
        b"250-first\r\n250-second\r\n",
        [(250, ("first", "second"), None, (CLOSED_MID_REPLY,))],
    ),
    ("EOF on a partial line", b"250 no end", [(250, ("no end",), None, (CLOSED_MID_REPLY,))]),
    ("EOF on a partial line without code", b"junk", [(None, ("junk",), None, (NO_CODE,))]),
    ("empty", b"", []),
]
SAMPLE_IDS = [s[0] for s in SAMPLES]


def summary(replies):
    return [(r.code, r.texts, r.enhanced, r.problems) for r in replies]


@pytest.mark.parametrize(("name", "data", "expected"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_parses_to(name, data, expected):
    assert summary(parse(data)) == expected


@pytest.mark.parametrize(("name", "data", "expected"), SAMPLES, ids=SAMPLE_IDS)
def test_sample_keeps_every_byte(name, data, expected):
    replies = parse(data)
    assert all(isinstance(r, Reply) for r in replies)
    assert b"".join(r.wire for r in replies) == data


def test_raw_keeps_invalid_bytes_exactly():
    (reply,) = parse(b"250 \xff\x00\x1b\r\n")
    assert reply.lines[0].raw == b"250 \xff\x00\x1b"
    assert reply.lines[0].ending == b"\r\n"
    assert set(reply.problems) == {BAD_UTF8, CONTROL}


def test_bare_lf_line_records_its_ending():
    (reply,) = parse(b"250-a\n250 b\r\n")
    assert [line.ending for line in reply.lines] == [b"\n", b"\r\n"]


def test_multi_line_marks_continuations():
    (reply,) = parse(b"250-a\r\n250-b\r\n250 c\r\n")
    assert [line.continued for line in reply.lines] == [True, True, False]
    assert reply.text == "a\nb\nc"
    assert reply.complete


def test_eof_mid_reply_is_incomplete():
    (reply,) = parse(b"250-a\r\n")
    assert not reply.complete
    assert reply.lines[-1].ending == b"\r\n"


def test_eof_on_partial_line_has_no_ending():
    (reply,) = parse(b"421 going")
    assert reply.lines[0].ending == b""
    assert not reply.complete


def test_nothing_before_eof_is_withheld():
    parser = ReplyParser()
    assert parser.feed(b"250-a\r\n250 b") == []
    assert parser.in_reply
    assert parser.buffered == len(b"250 b")
    (reply,) = parser.feed(b"\r\n")
    assert reply.texts == ("a", "b")
    assert not parser.in_reply


def test_nothing_after_eof():
    parser = ReplyParser()
    parser.feed(b"")
    assert parser.closed
    assert parser.feed(b"250 ok\r\n") == []
    assert parser.feed(b"") == []


def test_eof_twice_gives_one_flush():
    parser = ReplyParser()
    parser.feed(b"250-a\r\n")
    assert len(parser.feed(b"")) == 1
    assert parser.feed(b"") == []


def test_take_buffer_returns_unfinished_reply_and_partial_line():
    parser = ReplyParser()
    parser.feed(b"250-a\r\n250 b")
    assert parser.take_buffer() == b"250-a\r\n250 b"
    assert not parser.in_reply
    assert parser.feed(b"\r\n") == parse(b"\r\n", eof=False)


@pytest.mark.parametrize(
    ("code", "reply_class", "positive"),
    [(220, 2, True), (354, 3, True), (421, 4, False), (550, 5, False), (None, None, False)],
)
def test_reply_class(code, reply_class, positive):
    reply = Reply(code=code, lines=())
    assert reply.reply_class == reply_class
    assert reply.is_positive() is positive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.7.8 Authentication failed", ("5.7.8", "Authentication failed")),
        ("2.0.0", ("2.0.0", "")),
        ("4.4.2  two spaces", ("4.4.2", "two spaces")),
        ("5.123.456 long parts", ("5.123.456", "long parts")),
        ("5.1234.1 too long", (None, "5.1234.1 too long")),
        ("3.0.0 no such class", (None, "3.0.0 no such class")),
        ("5.1.1x", (None, "5.1.1x")),
        ("5.1 short", (None, "5.1 short")),
        ("OK 5.1.1", (None, "OK 5.1.1")),
        ("", (None, "")),
    ],
)
def test_split_enhanced(text, expected):
    assert split_enhanced(text) == expected


# ----- a line longer than the limit ----------------------------------------------------


def test_long_line_is_split_and_flagged_when_fed_byte_by_byte():
    data = b"250 " + b"x" * 20 + b"\r\n"
    (reply,) = parse_chunks([bytes([b]) for b in data], max_line=8)
    assert any(p.startswith(TOO_LONG_PREFIX) for p in reply.problems)
    assert all(len(line.raw) <= 8 for line in reply.lines)
    assert reply.code == 250
    assert reply.wire == data


def test_long_line_is_split_and_flagged_when_fed_whole():
    # The docstring: "a line longer than the parser's limit (split, noted)" -- whatever
    # the chunking. A complete long line in one chunk must not slip past the limit.
    data = b"250 " + b"x" * 20 + b"\r\n"
    (reply,) = parse(data, max_line=8)
    assert any(p.startswith(TOO_LONG_PREFIX) for p in reply.problems)
    assert all(len(line.raw) <= 8 for line in reply.lines)


def test_long_continuation_line_stays_in_its_reply():
    data = b"250-" + b"y" * 30 + b"\r\n250 end\r\n"
    (reply,) = parse_chunks([bytes([b]) for b in data], max_line=8)
    assert reply.code == 250
    assert reply.lines[-1].text == "end"
    assert reply.wire == data


# ----- however the bytes arrive ----------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "expected"), SAMPLES, ids=SAMPLE_IDS)
def test_byte_by_byte_gives_the_same_replies(name, data, expected):
    assert parse_chunks([bytes([b]) for b in data]) == parse(data)


@pytest.mark.parametrize(("name", "data", "expected"), SAMPLES, ids=SAMPLE_IDS)
@settings(max_examples=10, deadline=None)
@given(st.data())
def test_random_chunks_give_the_same_replies(name, data, expected, draw):
    points = draw.draw(st.sets(st.integers(1, max(1, len(data) - 1))), label="cuts")
    assert parse_chunks(cut(data, points)) == parse(data)


def test_every_sample_together_in_random_chunks():
    # Also across sample boundaries (one reply ending, the next starting, in one chunk).
    data = b"".join(s[1] for s in SAMPLES if s[1] and s[0].startswith(("single", "multi", "enhanced")))
    whole = parse(data)
    for step in (1, 2, 3, 5, 7, 64):
        assert parse_chunks([data[i:i + step] for i in range(0, len(data), step)]) == whole


SMTPISH = st.lists(
    st.sampled_from([b"250", b"-", b" ", b"\r\n", b"\n", b"\r", b"ok", b"5.7.8", b"\xff", b"\x00", b"354"]),
    max_size=30,
).map(b"".join)
ANY_BYTES = st.one_of(st.binary(max_size=200), SMTPISH)


@settings(max_examples=100, deadline=None)
@given(data=ANY_BYTES, draw=st.data())
def test_any_bytes_in_any_chunks_same_replies(data, draw):
    points = draw.draw(st.sets(st.integers(1, max(1, len(data) - 1))), label="cuts")
    assert parse_chunks(cut(data, points)) == parse(data)


@settings(max_examples=100, deadline=None)
@given(data=ANY_BYTES, draw=st.data())
def test_any_bytes_nothing_lost_nothing_invented(data, draw):
    points = draw.draw(st.sets(st.integers(1, max(1, len(data) - 1))), label="cuts")
    replies = parse_chunks(cut(data, points))
    assert all(isinstance(r, Reply) for r in replies)
    assert all(r.lines for r in replies)
    assert b"".join(r.wire for r in replies) == data


@settings(max_examples=100, deadline=None)
@given(data=ANY_BYTES, draw=st.data(), max_line=st.integers(1, 12))
def test_any_bytes_small_line_limit_nothing_lost_nothing_invented(data, draw, max_line):
    points = draw.draw(st.sets(st.integers(1, max(1, len(data) - 1))), label="cuts")
    replies = parse_chunks(cut(data, points), max_line=max_line)
    assert all(isinstance(r, Reply) for r in replies)
    assert all(len(line.raw) <= max_line or line.ending for r in replies for line in r.lines)
    assert b"".join(r.wire for r in replies) == data


@settings(max_examples=100, deadline=None)
@given(data=ANY_BYTES, draw=st.data())
def test_small_line_limit_same_replies_in_any_chunks(data, draw):
    points = draw.draw(st.sets(st.integers(1, max(1, len(data) - 1))), label="cuts")
    assert parse_chunks(cut(data, points), max_line=8) == parse(data, max_line=8)
