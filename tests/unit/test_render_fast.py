"""The fast paths of reading and replaying a transcript (issue 7) show what the long ways show.

Each fast path is held against the long way it stands for:

- ``display.visible`` (printable text as one fragment) against the per-character loop it skips;
- ``notations.detect`` (marks counted in one scan of the whole text) against counting line by
  line, also on files that start with prose quoting other notations' marks;
- ``render.to_reply`` (a plain reply built directly) against the protocol's reply parser;
- ``Assembler.content_lines`` (message content a run at a time) against ``client`` line by line;
- the Renderer's kept replies (the same reply to the same verb) against rendering each anew;
- ``replay --instant`` into a file (buffered writes) against a terminal (a flush per event),
  while a paced replay still shows each line before the pause that follows it.
"""

import io
import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from smtpshell.highlight import tokens as tok
from smtpshell.transcript import display
from smtpshell.transcript.assemble import Assembler
from smtpshell.transcript.display import Marks, View, escaped
from smtpshell.transcript.events import ClientLine, Header, ServerReply, Transcript
from smtpshell.transcript.notations import _detect_line_by_line, detect, feed_text
from smtpshell.transcript.readers import read, split_lines
from smtpshell.transcript.render import Renderer, parsed_reply, render_all, to_reply
from smtpshell.transcript.replay import replay_offline

SAMPLE_DIR = Path(__file__).parent / "samples_transcript"

# ----- visible ---------------------------------------------------------------------------------

_HIDDEN = {"Cf", "Zl", "Zp", "Cc", "Co", "Cn"}


def visible_char_by_char(text: str, token):
    """What ``visible`` drew before it had fast paths: every character looked at in turn."""
    out, plain_start = [], 0
    for i, ch in enumerate(text):
        o = ord(ch)
        if 0x20 <= o < 0x7F or ch == "\t":
            continue
        if o > 0x9F and not 0xDC80 <= o <= 0xDCFF and unicodedata.category(ch) not in _HIDDEN:
            continue
        if plain_start < i:
            out.append((token, text[plain_start:i]))
        out.append((tok.ESCAPE, escaped(o)))  # the drawing of one character is the same; which ones, and where, is tested
        plain_start = i + 1
    if plain_start < len(text):
        out.append((token, text[plain_start:]))
    return out


ANY_CHAR = st.characters(blacklist_categories=())  # surrogates, controls, format characters too
TRICKY = st.sampled_from(["\t", "\x1b[2J", "\r", "\n", "\x00", "\x7f", "\x85", "\x9b", "\xa0", "\u3000",
                          "\u200b", "\u202e", "\u2028", "\u2029", "\ue000", "\udc80", "\udcff", "\ud800",
                          "é", "—", "·", "↳", "日本", "\U0001f600", "\U000e0001", "\u0378"])
PLAIN = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("é—·↳日\xa0"), max_size=12)
TEXTS = st.lists(st.one_of(st.text(ANY_CHAR, max_size=8), TRICKY, st.text(max_size=8), PLAIN),
                 max_size=8).map("".join)


@given(text=TEXTS)
def test_visible_draws_what_the_character_loop_draws(text):
    assert display.visible(text, tok.DATA) == visible_char_by_char(text, tok.DATA)


def test_visible_keeps_printable_text_whole_and_draws_controls():
    assert display.visible("caf\u00e9 \u2014 ok", tok.HINT) == [(tok.HINT, "caf\u00e9 \u2014 ok")]
    assert display.visible("", tok.HINT) == []
    assert display.visible("a\tb\u00a0c", tok.DATA) == [(tok.DATA, "a\tb\u00a0c")]  # TAB, NBSP as they are
    assert display.visible("x\x1b[31my", tok.DATA) == [(tok.DATA, "x"), (tok.ESCAPE, "␛"), (tok.DATA, "[31my")]
    assert display.visible("\u202eevil\udcff", tok.DATA) == [
        (tok.ESCAPE, "\\u202e"), (tok.DATA, "evil"), (tok.ESCAPE, "\\xff")]


# ----- detect ----------------------------------------------------------------------------------

MARKED = st.sampled_from([
    "S: 250 ok", "C: MAIL FROM:<a@b>", "R: 250 ok", "  S:", "\tC:\tDATA", "S:x", "<- 220 x", " -> EHLO x",
    "<~ 250 x", " ~> QUIT", "<** 550 no", "**> x", "->", "SMTP<< 250 ok", "SMTP>> QUIT", "SMTP(x)|> RCPT",
    "SMTP(" + "y" * 41 + ")>> x", ">>> MAIL", ">>>", "<<< 250", "250 ok", "250-x", "250", "2500", "EHLO me",
    "RCPT TO:<c@d>", "quoted >>> in prose", "", ".", "220 mx ESMTP", "S: \r", "C:\x0b",
])
DETECT_LINES = st.lists(st.one_of(MARKED, st.text(max_size=12), st.builds(str.__add__, MARKED, st.text(max_size=6))),
                        max_size=40)


@given(texts=DETECT_LINES)
def test_detect_in_one_scan_agrees_with_counting_line_by_line(texts):
    lines = [(None, text) for text in texts]
    assert detect(lines) == _detect_line_by_line(lines)
    assert detect(lines, texts) == _detect_line_by_line(lines)


def test_detect_on_lines_holding_a_line_feed_counts_line_by_line():
    lines = [(None, "prose\n-> EHLO x"), (None, "<- 250 x")]
    assert detect(lines) == _detect_line_by_line(lines) == "text"


def test_a_file_that_starts_with_prose_quoting_other_marks_is_read_in_its_own_notation():
    prose = ["Here is what I saw; the list said to run", ">>> import smtplib", ">>> s = smtplib.SMTP()",
             "and the answer was", "<- 250 ok", "-> which is odd.", ""] * 3
    session = ["S: 220 mx.example.com ESMTP", "C: EHLO me.example.org", "S: 250-mx.example.com",
               "S: 250 SIZE 1000", "C: MAIL FROM:<a@example.org>", "S: 250 2.1.0 Ok", "C: QUIT", "S: 221 Bye"]
    transcript = read("\n".join(prose + session) + "\n")
    assert transcript.notation == "sc"
    out = io.StringIO()
    replay_offline(transcript, out, color=False, instant=True, view=View(hints=False))
    shown = out.getvalue()
    assert shown.startswith("220 mx.example.com ESMTP\nEHLO me.example.org\n250-mx.example.com\n")
    assert "import smtplib" not in shown and "which is odd" not in shown
    assert shown.endswith("QUIT\n221 Bye\n")


# ----- to_reply --------------------------------------------------------------------------------

REPLY_TEXT = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
                       st.text(ANY_CHAR, max_size=6), st.sampled_from(["", " ", "2.1.5 Ok", "5.7.1 no", "4.2.0 x",
                                                                        "3.0.0 x", "2.0.0", "\t", "x\r", "\xe9"]))


@st.composite
def server_replies(draw):
    """Well-formed replies (the fast path's), and now and then one thing wrong with them."""
    code = draw(st.sampled_from([220, 221, 235, 250, 334, 354, 421, 450, 550, 199, 600, 999]))
    count = draw(st.integers(1, 4))
    seps = ["-"] * (count - 1) + [draw(st.sampled_from([" ", " ", ""]))]
    lines = [f"{code}{sep}{draw(REPLY_TEXT) if sep else ''}" for sep in seps]
    event_code, raw = code, None
    flaw = draw(st.sampled_from(["none", "none", "none", "sep", "code", "text", "raw", "event", "empty", "nocode"]))
    index = draw(st.integers(0, count - 1))
    if flaw == "sep":
        lines[index] = lines[index][:3] + draw(st.sampled_from(["-", " ", "", "x", "--"])) + lines[index][4:]
    elif flaw == "code":
        lines[index] = draw(st.sampled_from(["251", "25", "2500", "abc", "050"])) + lines[index][3:]
    elif flaw == "text":
        lines[index] += draw(TRICKY)
    elif flaw == "raw":
        raw = "".join(line + draw(st.sampled_from(["\r\n", "\n"])) for line in lines).encode()
    elif flaw == "event":
        event_code = draw(st.sampled_from([None, 0, 251, 1000]))
    elif flaw == "empty":
        lines = []
    elif flaw == "nocode":
        lines[index] = draw(REPLY_TEXT)
    return ServerReply(t=None, code=event_code, lines=tuple(lines), raw=raw)


@given(event=server_replies())
def test_a_plain_reply_built_directly_is_what_the_parser_makes_of_it(event):
    assert to_reply(event) == parsed_reply(event)


def test_plain_replies_take_the_code_text_and_enhanced_code():
    reply = to_reply(ServerReply(t=None, code=550, lines=("550-5.1.1 first", "550 second")))
    assert reply == parsed_reply(ServerReply(t=None, code=550, lines=("550-5.1.1 first", "550 second")))
    assert (reply.code, reply.enhanced, reply.texts, reply.problems) == (550, "5.1.1", ("5.1.1 first", "second"), ())


# ----- reading message content -----------------------------------------------------------------

BODY = st.lists(st.one_of(
    st.sampled_from(["", ".", "..", ".x", "...", "<CRLF>.<CRLF>", "    ↳ a hint", "\t↳ tab hint", "  not a hint",
                     "250 apples", "caf\u00e9", "bad \udcff byte", "QUIT", "MAIL FROM:<a@b>", "x\ty"]),
    st.text(max_size=10)), max_size=20)


def _read_line_by_line(lines):
    """feed_text with message content taken by ``client`` one line at a time."""
    slow = Assembler()
    slow.content_lines = lambda lines, start, end, skip: start
    feed_text(lines, slow)
    return slow.finish()


@given(body=BODY, after=BODY)
def test_message_content_read_a_run_at_a_time_is_read_as_line_by_line(body, after):
    text = "\n".join(["220 mx.example.com ESMTP", "MAIL FROM:<a@b>", "250 ok", "RCPT TO:<c@d>", "250 ok", "DATA",
                      "354 go ahead", *body, ".", "250 queued", *after, "QUIT", "221 bye"])
    lines = [(None, line) for line in split_lines(text)]
    fast = Assembler()
    feed_text(lines, fast)
    assert fast.finish() == _read_line_by_line(lines)


def test_message_content_is_unstuffed_and_hints_left_out():
    transcript = read("220 x ESMTP\nDATA\n354 go\n..dot\n    ↳ type the message\nplain\n.\n250 ok\n")
    data = [(e.line, e.wire) for e in transcript.events if isinstance(e, ClientLine) and e.data]
    assert data == [(".dot", b"..dot\r\n"), ("plain", b"plain\r\n")]


# ----- the Renderer's kept replies ---------------------------------------------------------------

def test_the_same_reply_after_different_commands_shows_each_its_own_hints():
    caps = ("250-mx.example.com", "250 SIZE 1000")
    events = [ServerReply(t=None, code=220, lines=("220 mx ESMTP",))]
    for verb in ("HELP", "EHLO me", "HELP", "EHLO me"):
        events += [ClientLine(t=None, line=verb), ServerReply(t=None, code=250, lines=caps)]
    shown = ["".join(text for _tok, text in line) for lines in render_all(events) for line in lines]
    size_lines = [text for text in shown if text.startswith("250 SIZE 1000")]
    assert size_lines[0] == size_lines[2] == "250 SIZE 1000"  # after HELP: no keyword hints
    assert size_lines[1] == size_lines[3] != "250 SIZE 1000"  # after EHLO: what SIZE means
    assert "maximum message size" in size_lines[1]


def test_kept_replies_show_what_a_fresh_renderer_shows_and_are_copies():
    ehlo = ("250-mx.example.com", "250-SIZE 1000", "250 STARTTLS")
    events = [ServerReply(t=None, code=220, lines=("220 mx ESMTP",)), ClientLine(t=None, line="EHLO a"),
              ServerReply(t=None, code=250, lines=ehlo), ClientLine(t=None, line="EHLO b"),
              ServerReply(t=None, code=250, lines=ehlo)]
    renderer = Renderer(View())
    first = [renderer.lines(e) for e in events[:3]]
    first[2][1].append((tok.HINT, "scribbled on"))
    second = [renderer.lines(e) for e in events[3:]]
    fresh = Renderer(View())
    fresh.lines(events[0])
    fresh.lines(events[1])
    assert second[1] == fresh.lines(events[2])
    assert any("maximum message size" in text for _tok, text in second[1][1])
    assert all(text != "scribbled on" for line in second[1] for _tok, text in line)


def test_replies_with_timestamps_show_their_own_time_and_latency():
    events = [ServerReply(t=0.0, code=220, lines=("220 mx",)), ClientLine(t=1.0, line="NOOP"),
              ServerReply(t=1.25, code=250, lines=("250 ok",)), ClientLine(t=2.0, line="NOOP"),
              ServerReply(t=2.5, code=250, lines=("250 ok",))]
    texts = ["".join(text for _tok, text in line)
             for lines in render_all(events, View(timestamps=True)) for line in lines]
    assert "[   1.250] 250 ok  (250.0 ms)" in texts and "[   2.500] 250 ok  (500.0 ms)" in texts


# ----- writing -----------------------------------------------------------------------------------

class TTY(io.StringIO):
    def isatty(self):
        return True


def test_instant_replay_into_a_file_writes_what_a_terminal_gets():
    text = (SAMPLE_DIR / "seed-telnet-esmtp-auth-session.txt").read_text(encoding="utf-8")
    for view in (View(), View(marks=Marks.SWAKS, hints=False)):
        to_file, to_tty = io.StringIO(), TTY()
        assert replay_offline(read(text), to_file, color=True, view=view, instant=True)
        assert replay_offline(read(text), to_tty, color=True, view=view, instant=True)
        assert to_file.getvalue() == to_tty.getvalue()
        assert "\x1b[" in to_file.getvalue()


def test_a_paced_replay_shows_each_line_before_the_pause_after_it():
    events = [ServerReply(t=0.0, code=220, lines=("220 mx",)), ClientLine(t=1.0, line="QUIT"),
              ServerReply(t=2.0, code=221, lines=("221 bye",))]
    out = io.StringIO()
    seen = []
    replay_offline(Transcript(header=Header(), events=tuple(events), notation="jsonl"), out, color=False,
                   view=View(hints=False), sleep=lambda seconds: seen.append(out.getvalue()))
    assert seen == ["220 mx\n", "220 mx\nQUIT\n"]
    assert out.getvalue() == "220 mx\nQUIT\n221 bye\n"


def test_instant_replay_stops_when_the_reader_goes_away():
    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    transcript = read((SAMPLE_DIR / "seed-telnet-esmtp-auth-session.txt").read_text(encoding="utf-8"))
    assert replay_offline(transcript, Closed(), color=False, instant=True) is False
