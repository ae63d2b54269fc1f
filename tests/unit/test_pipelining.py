"""Pipelining rules (RFC 2920 3.1 and extensions), the session's checks for pipelined groups,
and the side-by-side table."""

import pytest

from smtpshell.protocol.extensions import Capabilities
from smtpshell.protocol.pipelining import advertised_warning, must_be_last, order_warning
from smtpshell.protocol.session import Session
from smtpshell.transcript import display


@pytest.mark.parametrize("line, last", [
    ("EHLO me", True), ("helo me", True), ("LHLO me", True), ("DATA", True), ("VRFY x", True),
    ("EXPN x", True), ("TURN", True), ("ATRN", True), ("QUIT", True), ("NOOP", True), ("STARTTLS", True),
    ("AUTH LOGIN", True), ("AUTH PLAIN", True),
    ("AUTH PLAIN AGEAYg==", False),  # an initial response: RFC 4954 4 lets it be followed
    ("MAIL FROM:<a@b>", False), ("RCPT TO:<a@b>", False), ("RSET", False), ("BDAT 10", False), ("", False),
])
def test_what_must_end_a_group(line, last):
    assert (must_be_last(line) is not None) is last


def test_order_warnings_name_the_rfc():
    assert order_warning("MAIL FROM:<a@b>") is None
    assert order_warning("ehlo x").startswith("EHLO must be the last command of a pipelined group (RFC 2920 3.1)")
    assert "(RFC 3207)" in order_warning("STARTTLS")
    assert "(RFC 4954)" in order_warning("AUTH LOGIN")


def test_advertised_warning():
    assert advertised_warning(Capabilities(keywords={"PIPELINING": ()}), True) is None
    assert "did not advertise PIPELINING" in advertised_warning(Capabilities(keywords={"SIZE": ()}), True)
    assert "no EHLO reply yet" in advertised_warning(None, False)


def greeted_session() -> Session:
    s = Session()
    s.receive_data(b"220 hi\r\n")
    s.send_line("EHLO me")
    s.receive_data(b"250-hi\r\n250 PIPELINING\r\n")
    while s.next_event():
        pass
    return s


def test_a_pipelined_group_warns_of_nothing_out_of_phase():
    s = greeted_session()
    outs = [s.send_line(line) for line in ("MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA")]
    assert [o.warnings for o in outs] == [(), (), ()]


def test_without_a_pending_mail_rcpt_still_warns():
    s = greeted_session()
    assert s.send_line("RCPT TO:<c@d>").warnings == ("RCPT before an accepted MAIL FROM",)


def test_ehlo_pipelined_first_counts_as_greeted():
    s = Session()
    s.receive_data(b"220 hi\r\n")
    assert s.send_line("EHLO me").warnings == ()
    assert s.send_line("MAIL FROM:<a@b>").warnings == ()


def test_the_table_pairs_commands_and_replies():
    from smtpshell.protocol.replies import ReplyParser
    from smtpshell.shell.pipeline import Row, group_table

    s = greeted_session()
    mail, rcpt = (s.send_line(line).command for line in ("MAIL FROM:<a@b>", "RCPT TO:<c@d>"))
    [ok] = ReplyParser().feed(b"250 2.1.0 Ok\r\n")
    rows = [Row(command=mail, reply=ok, latency=0.0012), Row(command=rcpt, reply=None, missing="closed")]
    lines = group_table(rows, display.View(timestamps=True), size=31, reads=1)
    text = ["".join(t for _, t in line) for line in lines]
    assert text == [
        "* pipelined 2 commands in one write (31 bytes); 1 reply in 1 read:",
        "    MAIL FROM:<a@b> → 250 2.1.0 Ok  (1.2 ms)",
        "    RCPT TO:<c@d>   → no reply (connection closed)",
    ]
