"""The pure parts of :send and :bdat: envelope lines, the composed message, option parsing,
what the screen shows of large content, chunk sizes, and the CRLF encoder BDAT uses."""

import email
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.data import CrlfEncoder, DataEncoder, dot_stuff, to_crlf
from smtpshell.protocol.message import (
    Attachment,
    Envelope,
    MessageError,
    build_message,
    header_names,
    mail_line,
    parse_header,
    rcpt_line,
    xtext,
)
from smtpshell.shell.bdat import BdatUsage, parse_bdat, parse_size
from smtpshell.shell.send import SendUsage, option_words, parse_send, split_words
from smtpshell.shell.transfer import chunk_sizes, content_preview, summary_text

DATE = "Mon, 01 Jan 2024 10:00:00 +0000"


# ----- envelope -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "wire"), [
    ("simple", "simple"),
    ("a+b=c", "a+2Bb+3Dc"),
    ("with space", "with+20space"),
    ("ü", "+C3+BC"),
    ("", ""),
])
def test_xtext(text, wire):
    assert xtext(text) == wire


@pytest.mark.parametrize(("env", "size_offered", "line"), [
    (Envelope(sender="a@b", recipients=()), True, "MAIL FROM:<a@b>"),
    (Envelope(sender="a@b", recipients=(), size=1234), True, "MAIL FROM:<a@b> SIZE=1234"),
    (Envelope(sender="a@b", recipients=(), size=1234), False, "MAIL FROM:<a@b>"),
    (Envelope(sender="", recipients=()), False, "MAIL FROM:<>"),
    (Envelope(sender="a@b", recipients=(), size=9, eight_bit=True, smtputf8=True, ret="hdrs", envid="x y"),
     True, "MAIL FROM:<a@b> SIZE=9 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x+20y"),
])
def test_mail_line(env, size_offered, line):
    assert mail_line(env, size_offered=size_offered) == (line, [])


def test_mail_line_reports_an_unknown_ret_and_still_spells_it():
    assert mail_line(Envelope(sender="a@b", recipients=(), ret="all"), size_offered=False) == (
        "MAIL FROM:<a@b> RET=ALL", ["RET=ALL: RFC 3461 knows FULL and HDRS"])


@pytest.mark.parametrize(("notify", "line", "ok"), [
    (None, "RCPT TO:<c@d>", True),
    ("never", "RCPT TO:<c@d> NOTIFY=NEVER", True),
    ("success, failure,delay", "RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE,DELAY", True),
    ("success,never", "RCPT TO:<c@d> NOTIFY=SUCCESS,NEVER", False),
    ("success,success", "RCPT TO:<c@d> NOTIFY=SUCCESS,SUCCESS", False),
    ("sometimes", "RCPT TO:<c@d> NOTIFY=SOMETIMES", False),
])
def test_rcpt_line(notify, line, ok):
    got, problems = rcpt_line("c@d", notify=notify)
    assert got == line and (not problems) == ok


@pytest.mark.parametrize(("text", "parsed"), [
    ("X-Test: 1", ("X-Test", "1")),
    ("X-Empty:", ("X-Empty", "")),
    ("  Subject :  spaced  ", ("Subject", "spaced")),
])
def test_parse_header(text, parsed):
    assert parse_header(text) == parsed


@pytest.mark.parametrize("text", ["no colon", ": no name", "Bad Name: x", "X-Ü: x"])
def test_parse_header_refuses_what_is_not_a_field(text):
    with pytest.raises(MessageError, match="not a header field"):
        parse_header(text)


# ----- the message ----------------------------------------------------------------


def parse(data: bytes):
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)


def test_build_message_headers_in_order_with_crlf():
    data = build_message(sender="a@example.test", to=("b@example.test", "c@example.test"), cc=("d@example.test",),
                         subject="Hi", body="one\ntwo\n", date=DATE, message_id="<m@example.test>")
    head, _, body = data.partition(b"\r\n\r\n")
    names = [line.split(b":")[0] for line in head.split(b"\r\n")]
    assert names[:6] == [b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID"]
    assert body == b"one\r\ntwo\r\n"
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert parse(data)["To"] == "b@example.test, c@example.test"


def test_given_headers_replace_composed_ones_and_keep_their_order():
    data = build_message(sender="a@example.test", to=("b@example.test",), subject="composed",
                         headers=(("Subject", "given"), ("X-One", "1")), date=DATE, message_id="<m@x>")
    m = parse(data)
    assert m.get_all("Subject") == ["given"] and m["X-One"] == "1"


@pytest.mark.parametrize(("body", "eight_bit", "cte", "clean"), [
    ("ascii only\n", False, "7bit", True),
    ("Grüße\n", False, "base64", True),
    ("Grüße, this line is mostly plain ASCII text. " * 3 + "\n", False, "quoted-printable", True),
    ("Grüße\n", True, "8bit", False),
])
def test_body_encoding(body, eight_bit, cte, clean):
    data = build_message(sender="a@b.test", to=("c@d.test",), body=body, date=DATE, message_id="<m@x>",
                         eight_bit=eight_bit)
    m = parse(data)
    assert m["Content-Transfer-Encoding"] == cte
    assert data.isascii() == clean
    assert m.get_content().replace("\r\n", "\n") == body


def test_utf8_keeps_addresses_and_subject_raw():
    data = build_message(sender="jörg@exämple.test", to=("b@example.test",), subject="Ü", date=DATE,
                         message_id="<m@x>", utf8=True)
    assert "From: jörg@exämple.test\r\n".encode() in data and "Subject: Ü\r\n".encode() in data


def test_non_ascii_address_needs_utf8():
    with pytest.raises(MessageError, match="needs SMTPUTF8"):
        build_message(sender="a@b.test", to=("zoë@d.test",), date=DATE, message_id="<m@x>")


def test_attachments():
    data = build_message(sender="a@b.test", to=("c@d.test",), body="see\n", date=DATE, message_id="<m@x>",
                         attachments=(Attachment(filename="r.pdf", content_type="application/pdf", data=b"%PDF\x00"),
                                      Attachment(filename="n.txt", content_type="text/plain", data=b"hi\n")))
    m = parse(data)
    parts = list(m.iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [("r.pdf", "application/pdf"),
                                                                        ("n.txt", "text/plain")]
    assert parts[0].get_payload(decode=True) == b"%PDF\x00"


def test_header_names():
    head = b"From: a\r\nX-Long: one\r\n two\r\nmessage-id: <x>\nDate: now\n\nNot-A-Header: body\n"
    assert header_names(head) == {"from", "x-long", "message-id", "date"}
    assert header_names(b"") == set()


# ----- option parsing -------------------------------------------------------------------


def test_parse_send_everything():
    request = parse_send(
        "--from a@b --to c@d --to e@f --cc g@h --subject 'two words' --body 'x\\ny' --attach /tmp/f "
        "--header \"X-A: 1\" --notify never --ret full --envid E --smtputf8 --8bit --bdat --chunk-size 64k")
    assert request.recipients == ("c@d", "e@f", "g@h")
    assert request.subject == "two words" and request.body == "x\\ny"  # escapes are :send's, not the lexer's
    assert request.header == ("X-A: 1",) and request.chunk_size == 65536
    assert (request.smtputf8, request.eight_bit, request.bdat) == (True, True, True)


def test_option_words_round_trip():
    import argparse

    from smtpshell.shell.send import add_send_options

    parser = argparse.ArgumentParser()
    add_send_options(parser, prefix="send_")
    argv = ["--from", "a@b", "--to", "c d", "--to", "e", "--body", "it's\\n", "--8bit"]
    words = option_words(parser.parse_args(argv), prefix="send_")
    assert words == ["--from", "a@b", "--to", "c d", "--to", "e", "--body", "it's\\n", "--8bit"]
    import shlex

    assert split_words(shlex.join(words)) == words


@pytest.mark.parametrize("arg", ["--to c@d", "--from a@b", "--from a@b --to c@d --file f --body x",
                                 "--from a@b --to c@d --chunk-size 4k", "--from a@b --to c@d --unknown",
                                 "--from 'unclosed --to c@d"])
def test_parse_send_usage(arg):
    with pytest.raises(SendUsage):
        parse_send(arg)


@pytest.mark.parametrize(("arg", "content", "last", "crlf", "size"), [
    ("hello", "hello", False, False, None),
    ("--last", "", True, False, None),
    ("  two  words  --last", "two  words", True, False, None),
    ("--last   spaced", "spaced", True, False, None),
    ("--crlf --chunk-size 1k a b --last", "a b", True, True, 1024),
    ("--chunk-size=2M x", "x", False, False, 2 * 1024 * 1024),
    ("x --lastly", "x --lastly", False, False, None),
])
def test_parse_bdat(arg, content, last, crlf, size):
    request = parse_bdat(arg)
    assert (request.content, request.last, request.crlf, request.chunk_size) == (content, last, crlf, size)


@pytest.mark.parametrize("text", ["0", "-1", "1g", "k", ""])
def test_parse_size_refuses(text):
    with pytest.raises(BdatUsage):
        parse_size(text)


# ----- what is shown, chunk sizes --------------------------------------------------------


def test_small_content_is_shown_whole():
    preview = content_preview(b"Subject: s\r\n\r\nbody\nlast", 23)
    assert preview.whole and preview.lines == (b"Subject: s", b"", b"body", b"last") and preview.nbytes == 23


def test_large_content_shows_its_header_section():
    head = b"Subject: s\r\nX: y\r\n\r\n" + b"body\r\n" * 10000
    preview = content_preview(head[:4096], len(head))
    assert not preview.whole
    assert preview.lines == (b"Subject: s", b"X: y", b"")
    assert preview.nbytes == 20


def test_header_lines_are_capped_and_a_cut_line_is_not_shown():
    head = b"".join(b"X-%d: v\r\n" % n for n in range(100))
    assert len(content_preview(head, 10**6).lines) == 60
    assert content_preview(b"Subject: cut he", 10**6).lines == ()


@pytest.mark.parametrize(("total", "size", "sizes"), [
    (0, None, [0]), (10, None, [10]), (10, 4, [4, 4, 2]), (8, 4, [4, 4]), (3, 4, [3])])
def test_chunk_sizes(total, size, sizes):
    assert chunk_sizes(total, size) == sizes


def test_summary_text():
    assert summary_text(1320000, 105600000) == "… 1,320,000 more lines (105,600,000 bytes) …"
    assert summary_text(1, 5) == "… 1 more line (5 bytes) …"


# ----- the CRLF encoder and the counters ----------------------------------------------------

CONTENT = st.lists(st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b"..", b" "]), max_size=40).map(b"".join)


def crlf_reference(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@settings(max_examples=100, deadline=None)
@given(content=CONTENT, draw=st.data())
def test_crlf_encoder_any_chunking(content, draw):
    points = sorted(draw.draw(st.sets(st.integers(1, max(1, len(content) - 1))), label="cuts"))
    bounds = [0, *points, len(content)]
    enc = CrlfEncoder()
    out = b"".join(enc.feed(content[a:b]) for a, b in zip(bounds, bounds[1:])) + enc.finish()
    assert out == crlf_reference(content) == to_crlf(content)
    assert enc.bytes_out == len(out) and enc.bytes_in == len(content)
    assert enc.lf_fixed == content.count(b"\n") - content.count(b"\r\n")
    assert enc.lines == content.count(b"\n")


def test_crlf_encoder_end_line():
    enc = CrlfEncoder()
    assert enc.feed(b"a\nb") == b"a\r\n" and enc.finish(end_line=True) == b"b\r\n"
    assert enc.lines == 2 and enc.bytes_out == 6


@settings(max_examples=100, deadline=None)
@given(content=CONTENT)
def test_data_encoder_counters(content):
    enc = DataEncoder()
    wire = enc.feed(content) + enc.finish()
    assert wire == dot_stuff(content)
    lines = wire.split(b"\r\n")[:-2]  # the content lines on the wire, before the lone dot
    assert enc.lines == len(lines)
    assert enc.dots == sum(line.startswith(b".") for line in lines)  # only a stuffed line starts with a dot


def test_clean_chunks_pass_through_unchanged_and_dirty_ones_are_fixed():
    clean = b"line\r\n" * 50000
    enc = DataEncoder()
    assert enc.feed(clean) is clean  # not copied
    mixed = b"a\r\n" * 1000 + b"b\n" + b".c\r\n" + b"d\r\n" * 1000
    assert DataEncoder().feed(mixed) == b"a\r\n" * 1000 + b"b\r\n..c\r\n" + b"d\r\n" * 1000


def test_send_and_bdat_options_complete():
    from smtpshell.shell.commands import build_registry
    from smtpshell.shell.complete import suggestions

    commands = build_registry()
    assert suggestions(":send --from a@b --no", commands=commands) == ["--notify"]
    assert suggestions(":bdat hello --l", commands=commands) == ["--last"]
    assert suggestions(":send --from a@b ", commands=commands) == []


def test_output_held_under_a_progress_bar_is_bounded():
    from smtpshell.shell.transfer import HELD_LINES, _HeldOutput

    class Lines:
        def __init__(self):
            self.lines = []

        def emit(self, lines):
            self.lines.extend(lines)

    inner = Lines()
    held = _HeldOutput(inner)
    for n in range(HELD_LINES + 50):
        held.emit([[("", f"line {n}")]])
    assert inner.lines == []  # nothing shown while the bar is drawn
    held.release()
    assert len(inner.lines) == HELD_LINES + 1
    assert "50 more lines of output" in "".join(text for _, text in inner.lines[-1])
