"""Fuzzing every transcript reader and the lexer (issue 7): any text gives events or a clear error.

- each notation's feeder (``notations.FEEDERS``), on its own and through ``read(notation=...)``:
  a Transcript or a TranscriptError with a message, never another exception;
- ``detect`` always names a notation it can read;
- ``read_jsonl`` on arbitrary text, and on JSON Lines whose values have every wrong type;
- the lexer (``SmtpLexer`` and ``SmtpDataLexer``), from every state it can be started in, never
  loses or invents a character.
The number of examples comes from the hypothesis profile (tests/conftest.py).
"""

import json

from hypothesis import given
from hypothesis import strategies as st

from smtpshell.highlight.lexer import SmtpDataLexer, SmtpLexer
from smtpshell.transcript.assemble import Assembler
from smtpshell.transcript.events import ClientLine, Header, Note, ServerReply, Transcript, TranscriptError
from smtpshell.transcript.jsonl import read_jsonl, transcript_from_jsonl
from smtpshell.transcript.notations import FEEDERS, detect
from smtpshell.transcript.readers import NOTATIONS, read, split_lines

# Lines in every notation, the shell's own voice, terminal chatter, and junk.
PIECES = st.sampled_from([
    "220 mx.example ESMTP", "250-PIPELINING", "250 OK", "354 go", "334 VXNlcm5hbWU6", "221 bye", "550 5.7.1 no",
    "EHLO me", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "STARTTLS", "AUTH LOGIN", "BDAT 5 LAST", "BDAT 99999999",
    ".", "..", "", "S: 220 x", "C: DATA", "R: 250 ok", "<-  220 x", " -> EHLO x", "<~  250 x", " ~> QUIT",
    "<** 550 no", "=== TLS started", "*** error", "SMTP<< 250 ok", "SMTP>> QUIT", "SMTP|> RCPT TO:<x>",
    ">>> MAIL", "<<< 250", "<-- 250", "--> EHLO", "[   1.000] 220 x", "[999999999.999] ", "[ 1.5] x",
    "Trying 1.2.3.4...", "Connected to x.", "Escape character is '^]'.", "Connection closed by foreign host.",
    "$ telnet mx 25", "* note", "! error", "    ↳ hint", "220 \x1b[2J\x00\udcff", "\ufeff220 bom",
])
TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)
LINES = st.lists(st.one_of(PIECES, TEXT, st.builds(str.__add__, PIECES, TEXT)), max_size=25)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r", "\x0b", "\u2028"])


def lines_of(text: str):
    return [(None, line) for line in split_lines(text)]


@given(name=st.sampled_from(sorted(FEEDERS)), lines=LINES, newline=NEWLINES)
def test_each_feeder_gives_events_for_any_text(name, lines, newline):
    asm = Assembler()
    info = FEEDERS[name](lines_of(newline.join(lines)), asm)  # never raises: reading happens in read()
    events = asm.finish()
    assert isinstance(info, dict)
    assert all(isinstance(e, (ClientLine, ServerReply, Note)) for e in events)
    for event in events:
        if isinstance(event, ServerReply):
            assert event.code is None or 0 <= event.code <= 999


@given(notation=st.sampled_from([None, *NOTATIONS]), lines=LINES, newline=NEWLINES)
def test_each_reader_gives_a_transcript_or_a_clear_error(notation, lines, newline):
    try:
        transcript = read(newline.join(lines), notation=notation)
    except TranscriptError as exc:
        assert str(exc).strip()
        return
    assert isinstance(transcript, Transcript)
    assert transcript.notation in NOTATIONS
    assert any(isinstance(e, (ClientLine, ServerReply)) for e in transcript.events)


@given(lines=LINES)
def test_detect_names_a_notation_it_can_read(lines):
    assert detect([(None, line) for line in lines]) in FEEDERS


@given(text=st.text(max_size=300))
def test_read_jsonl_on_any_text(text):
    try:
        header, *events = read_jsonl(text)
    except TranscriptError as exc:
        assert str(exc).strip()
        return
    assert isinstance(header, Header)
    assert all(isinstance(e, (ClientLine, ServerReply, Note)) for e in events)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
JSON_VALUES = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(st.text(max_size=5), SCALARS, max_size=3)
KEYS = st.sampled_from(["t", "dir", "line", "raw", "secret", "data", "code", "lines", "text", "kind", "x"])
DIRS = st.sampled_from(["client", "server", "info", "tls", "error", "sideways"])


@st.composite
def jsonl_events(draw) -> dict:
    """An event object: the right keys with values of any type (and sometimes the right type)."""
    event = {"t": draw(st.one_of(st.floats(0, 1e6), JSON_VALUES)), "dir": draw(st.one_of(DIRS, JSON_VALUES))}
    event.update(draw(st.dictionaries(KEYS, st.one_of(
        JSON_VALUES, st.just("QUIT"), st.just(["250 ok"]), st.just(250), st.just("AAAA"), st.just("!!")), max_size=5)))
    return event


@given(header=st.one_of(st.just({"smtpshell": 1}), st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4)
                         .map(lambda d: {"smtpshell": 1, **d})),
       events=st.lists(st.one_of(jsonl_events(), JSON_VALUES), max_size=6), cut=st.booleans())
def test_jsonl_with_values_of_every_wrong_type(header, events, cut):
    text = "\n".join(json.dumps(obj) for obj in [header, *events]) + "\n"
    if cut:
        text = text[: len(text) * 2 // 3]  # a recording cut short by a crash
    try:
        transcript = transcript_from_jsonl(text)
    except TranscriptError as exc:
        assert str(exc).strip()
        return
    assert isinstance(transcript, Transcript)


# ----- the lexer: never loses a character, from any state ---------------------------------------

STATES = sorted(SmtpLexer.tokens)
SMTPISH = st.lists(st.one_of(PIECES, TEXT, st.sampled_from(["\n", "\r\n", "\r", " ", "\t"])), max_size=30).map("".join)


@given(text=SMTPISH, state=st.sampled_from(STATES), data_lexer=st.booleans())
def test_the_lexer_never_loses_a_character(text, state, data_lexer):
    lexer = (SmtpDataLexer if data_lexer else SmtpLexer)(stripnl=False, ensurenl=False)
    stack = ("root", state) if state != "root" else ("root",)
    pieces = [value for _index, _token, value in lexer.get_tokens_unprocessed(text, stack)]
    assert "".join(pieces) == text
    assert all(pieces)  # no empty tokens: every step consumed something
