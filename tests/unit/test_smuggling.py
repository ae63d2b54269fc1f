"""The smuggling check's pure part: the variants, the payload's bytes, and the verdict table."""

import pytest

from smtpshell.protocol import smuggling
from smtpshell.protocol.replies import ReplyParser
from smtpshell.protocol.smuggling import Verdict, classify


def replies(*wire: bytes):
    parser = ReplyParser()
    return [r for w in wire for r in parser.feed(w)]


OK_MSG, OK_MAIL, OK_RCPT, GO_AHEAD, OK_MSG2, BYE = replies(
    b"250 2.0.0 Ok: queued as A\r\n", b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n", b"250 2.0.0 Ok: queued as B\r\n", b"221 2.0.0 Bye\r\n",
)
[BARE_LF_REFUSED] = replies(b"550 5.5.2 Error: bare <LF> received\r\n")
[SYNC] = replies(b"554 5.5.0 Error: SMTP protocol synchronization\r\n")


@pytest.mark.parametrize("first, after, closed, timed_out, verdict, what", [
    (OK_MSG, [BYE], True, False, Verdict.CONTENT,
     "one message (250): the sequence and the smuggled commands stayed message content"),
    (OK_MSG, [OK_MAIL, OK_RCPT, GO_AHEAD, OK_MSG2, BYE], True, False, Verdict.END_OF_DATA,
     "ended the message there (250), then answered the smuggled MAIL 250, RCPT 250, DATA 354, message 250"),
    (OK_MSG, [SYNC], True, False, Verdict.END_REFUSED,
     "ended the message there (250), then refused the smuggled MAIL FROM: 554 5.5.0 Error: SMTP protocol "
     "synchronization; then closed the connection"),
    (BARE_LF_REFUSED, [BYE], True, False, Verdict.REJECTED,
     "refused the message: 550 5.5.2 Error: bare <LF> received"),
    (BARE_LF_REFUSED, [], True, False, Verdict.REJECTED,
     "refused the message: 550 5.5.2 Error: bare <LF> received; then closed the connection"),
    (OK_MSG, [OK_MAIL], False, True, Verdict.END_OF_DATA,
     "ended the message there (250), then answered the smuggled MAIL 250; then no answer to QUIT (timeout)"),
    (None, [], False, True, Verdict.INCONCLUSIVE,
     "no reply within the timeout, even after the proper <CR><LF>.<CR><LF>"),
    (None, [], True, False, Verdict.INCONCLUSIVE, "closed the connection without a reply"),
    (GO_AHEAD, [BYE], True, False, Verdict.INCONCLUSIVE, "answered 354 End data with <CR><LF>.<CR><LF>"),
])
def test_verdicts(first, after, closed, timed_out, verdict, what):
    outcome = classify(first, after, closed=closed, timed_out=timed_out)
    assert (outcome.verdict, outcome.what) == (verdict, what)


def test_only_end_of_data_counts_as_vulnerable():
    assert [v for v in Verdict if v.vulnerable] == [Verdict.END_OF_DATA]


def test_the_payload_puts_the_variant_where_the_outer_message_ends():
    variant = smuggling.BY_NAME["lf.crlf"]
    data = smuggling.payload(variant, mail_from="<a@example.test>", rcpt_to="b@example.test", marker="cafe-1")
    outer, rest = data.split(b"\n.\r\n", 1)
    assert outer.startswith(b"From: <a@example.test>\r\nTo: <b@example.test>\r\n")
    assert b"X-Smtpshell-Smuggle-Check: cafe-1 outer\r\n\r\n" in outer
    assert not outer.endswith(b"\r")  # the variant is the only line ending there
    assert rest.startswith(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
    assert b"X-Smtpshell-Smuggle-Check: cafe-1 smuggled\r\n" in rest
    assert rest.endswith(b"the smuggled message.\r\n.\r\n")
    assert data.count(smuggling.PROPER_END) == 1 and data.endswith(smuggling.PROPER_END)


@pytest.mark.parametrize("variant", smuggling.VARIANTS, ids=lambda v: v.name)
def test_no_variant_hides_a_proper_end_of_data(variant):
    data = smuggling.payload(variant, mail_from="a@b", rcpt_to="c@d", marker="x-1")
    assert data.index(smuggling.PROPER_END) == len(data) - len(smuggling.PROPER_END)


def test_escapes_read_back_as_raw_escapes():
    from smtpshell.shell.commands import unescape

    for variant in smuggling.VARIANTS:
        assert unescape(variant.shown) == variant.sequence
    assert smuggling.escaped(b"a\\\t\xff") == "a\\\\\\t\\xff"
    assert smuggling.bare_address("<>") == "" and smuggling.bare_address(" <a@b> ") == "a@b"
