"""DATA framing: dot-stuffing and CRLF normalisation, whole or streamed in any chunks,
and reversible by the server's un-stuffing (RFC 5321 4.5.2)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.data import END_OF_DATA, DataEncoder, bdat_command, dot_stuff, stuff_line


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        (b"", b"\r\n"),
        (b"hello", b"hello\r\n"),
        (b".", b"..\r\n"),
        (b"..", b"...\r\n"),
        (b".hidden", b"..hidden\r\n"),
        (b" .not first", b" .not first\r\n"),
        (b"a.b", b"a.b\r\n"),
        (b"\xff\x00", b"\xff\x00\r\n"),
    ],
)
def test_stuff_line(line, wire):
    assert stuff_line(line) == wire


# (message, wire including the terminator)
MESSAGES = [
    (b"", b".\r\n"),
    (b"hello", b"hello\r\n.\r\n"),
    (b"hello\r\n", b"hello\r\n.\r\n"),
    (b"hello\n", b"hello\r\n.\r\n"),
    (b"a\nb\r\nc", b"a\r\nb\r\nc\r\n.\r\n"),
    (b".", b"..\r\n.\r\n"),
    (b".\r\n", b"..\r\n.\r\n"),
    (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
    (b"a\n.\n.\n", b"a\r\n..\r\n..\r\n.\r\n"),
    (b"\n", b"\r\n.\r\n"),
    (b"\n\n", b"\r\n\r\n.\r\n"),
    (b"a\rb\r\n", b"a\rb\r\n.\r\n"),  # a bare CR inside a line stays
    (b"a\r.b\n", b"a\r.b\r\n.\r\n"),  # ... and a dot after it is not at a line start
    (b"Subject: x\r\n\r\n..two\r\n", b"Subject: x\r\n\r\n...two\r\n.\r\n"),
]


@pytest.mark.parametrize(("message", "wire"), MESSAGES)
def test_dot_stuff(message, wire):
    assert dot_stuff(message) == wire


@pytest.mark.parametrize(("message", "wire"), MESSAGES)
def test_encoder_byte_by_byte(message, wire):
    enc = DataEncoder()
    out = b"".join(enc.feed(bytes([b])) for b in message) + enc.finish()
    assert out == wire
    assert enc.bytes_in == len(message)
    assert enc.bytes_out == len(wire)


def test_empty_message_is_just_the_terminator():
    enc = DataEncoder()
    assert enc.feed(b"") == b""
    assert enc.finish() == END_OF_DATA == b".\r\n"


def test_message_without_final_newline_gets_one():
    enc = DataEncoder()
    assert enc.feed(b"line one\nlast") == b"line one\r\n"
    assert enc.finish() == b"last\r\n.\r\n"


def test_encoder_holds_back_an_incomplete_line():
    enc = DataEncoder()
    assert enc.feed(b".start") == b""
    assert enc.feed(b" of line\r") == b""
    assert enc.feed(b"\nnext") == b"..start of line\r\n"
    assert enc.finish() == b"next\r\n.\r\n"


def test_encoder_never_emits_the_terminator_early():
    enc = DataEncoder()
    out = enc.feed(b".\r\n") + enc.feed(b"\r\n.\r\n")
    assert b"\r\n.\r\n" not in b"\r\n" + out
    assert out.endswith(b"\r\n")


@pytest.mark.parametrize(("size", "last", "line"), [(0, True, b"BDAT 0 LAST\r\n"), (1024, False, b"BDAT 1024\r\n")])
def test_bdat_command(size, last, line):
    assert bdat_command(size, last=last) == line


# ----- properties --------------------------------------------------------------------------


def normalise(message: bytes) -> bytes:
    """Every line ending (CRLF or bare LF) made CRLF; a final CRLF added when missing."""
    body = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


def unstuff(wire: bytes) -> bytes:
    """What a server makes of DATA content (RFC 5321 4.5.2): strip one leading dot per line,
    stop at the lone-dot line. Everything after it must be nothing."""
    lines = wire.split(b"\r\n")
    assert lines[-1] == b"", "the wire must end in CRLF"
    out = []
    for i, line in enumerate(lines[:-1]):
        if line == b".":
            assert i == len(lines) - 2, "terminator before the end"
            return b"".join(out)
        out.append((line[1:] if line.startswith(b".") else line) + b"\r\n")
    raise AssertionError("no terminator")


# Messages made of the characters that matter, without a lone CR at the very end
# (what the encoder does with a final bare CR is a separate question).
MESSAGE = st.lists(st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b"..", b" "]), max_size=40).map(
    b"".join
).filter(lambda m: not m.endswith(b"\r"))


@settings(max_examples=80, deadline=None)
@given(message=MESSAGE, draw=st.data())
def test_any_chunking_gives_the_same_bytes(message, draw):
    points = sorted(draw.draw(st.sets(st.integers(1, max(1, len(message) - 1))), label="cuts"))
    bounds = [0, *points, len(message)]
    enc = DataEncoder()
    out = b"".join(enc.feed(message[a:b]) for a, b in zip(bounds, bounds[1:])) + enc.finish()
    assert out == dot_stuff(message)
    assert enc.bytes_in == len(message)
    assert enc.bytes_out == len(out)


@settings(max_examples=80, deadline=None)
@given(message=MESSAGE)
def test_unstuffing_gives_back_the_normalised_message(message):
    assert unstuff(dot_stuff(message)) == normalise(message)


@settings(max_examples=80, deadline=None)
@given(message=MESSAGE)
def test_wire_has_only_crlf_line_endings(message):
    wire = dot_stuff(message)
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
