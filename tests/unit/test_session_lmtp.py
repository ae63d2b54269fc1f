"""LMTP in the session core: after the final dot, one reply per accepted RCPT (RFC 2033 4.2),
each tagged with the recipient it answers and its place among them."""

import pytest

from smtpshell.protocol.session import Phase, Session


def run(session: Session, line: str, reply: bytes):
    out = session.send_line(line)
    session.receive_data(reply)
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return out, events


def in_data(rcpts: list[tuple[str, bytes]], *, pipelined: bool = False) -> Session:
    session = Session(lmtp=True)
    session.receive_data(b"220 lmtp.example LMTP\r\n")
    run(session, "LHLO client.example", b"250-lmtp.example\r\n250 PIPELINING\r\n")
    if pipelined:  # MAIL, every RCPT and DATA in one go; the replies after
        for line in ["MAIL FROM:<a@example.com>", *(f"RCPT TO:{r}" for r, _ in rcpts), "DATA"]:
            session.send_line(line)
        session.receive_data(b"250 ok\r\n" + b"".join(reply for _, reply in rcpts) + b"354 go\r\n")
        while session.next_event() is not None:
            pass
    else:
        run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
        for rcpt, reply in rcpts:
            run(session, f"RCPT TO:{rcpt}", reply)
        run(session, "DATA", b"354 go\r\n")
    assert session.phase is Phase.DATA
    return session


@pytest.mark.parametrize("pipelined", [False, True])
def test_each_reply_names_its_recipient(pipelined):
    session = in_data([
        ("<alice@example.com>", b"250 2.1.5 ok\r\n"),
        ("<nobody@example.com>", b"550 5.1.1 unknown\r\n"),  # refused: no reply after the dot
        ("<bob@example.com> NOTIFY=NEVER", b"250 2.1.5 ok\r\n"),
        ("carol@example.com", b"250 2.1.5 ok\r\n"),  # no angle brackets, as typed
    ], pipelined=pipelined)
    dot = session.end_data().command
    session.receive_data(b"250 2.0.0 delivered\r\n452 4.2.2 mailbox full\r\n250 2.0.0 delivered\r\n")
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    assert [(e.command, e.recipient, e.position, e.reply.code) for e in events] == [
        (dot, "<alice@example.com>", (1, 3), 250),
        (dot, "<bob@example.com>", (2, 3), 452),
        (dot, "carol@example.com", (3, 3), 250),
    ]
    assert session.phase is Phase.READY and session.pending == ()


def test_a_second_transaction_starts_a_new_list():
    session = in_data([("<alice@example.com>", b"250 ok\r\n"), ("<bob@example.com>", b"250 ok\r\n")])
    session.end_data()
    session.receive_data(b"250 ok\r\n250 ok\r\n")
    while session.next_event() is not None:
        pass
    run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<dave@example.com>", b"250 ok\r\n")
    run(session, "DATA", b"354 go\r\n")
    session.end_data()
    session.receive_data(b"250 ok\r\n")
    (event,) = [session.next_event()]
    assert (event.recipient, event.position) == ("<dave@example.com>", (1, 1))
    assert session.pending == ()


def test_rset_forgets_the_recipients():
    session = in_data([("<alice@example.com>", b"250 ok\r\n")])
    session.end_data()
    session.receive_data(b"250 ok\r\n")
    session.next_event()
    run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<x@example.com>", b"250 ok\r\n")
    run(session, "RSET", b"250 ok\r\n")
    run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<y@example.com>", b"250 ok\r\n")
    run(session, "DATA", b"354 go\r\n")
    session.end_data()
    session.receive_data(b"250 ok\r\n")
    assert session.next_event().recipient == "<y@example.com>"


def test_smtp_replies_carry_no_recipient():
    session = Session()
    session.receive_data(b"220 hi\r\n")
    run(session, "EHLO me", b"250 hi\r\n")
    run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<b@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<c@example.com>", b"250 ok\r\n")
    run(session, "DATA", b"354 go\r\n")
    dot = session.end_data().command
    session.receive_data(b"250 queued\r\n")
    event = session.next_event()
    assert (event.command, event.recipient, event.position) == (dot, None, None)
    assert session.pending == ()


@pytest.mark.parametrize("pipelined", [False, True])
def test_bdat_last_is_answered_per_recipient_too(pipelined):
    """Dovecot's LMTP answers BDAT LAST once per recipient, as the dot."""
    session = Session(lmtp=True)
    session.receive_data(b"220 lmtp.example LMTP\r\n")
    run(session, "LHLO client.example", b"250-lmtp.example\r\n250-CHUNKING\r\n250 PIPELINING\r\n")
    lines_ = ["MAIL FROM:<a@example.com>", "RCPT TO:<alice@example.com>", "RCPT TO:<bob@example.com>"]
    if pipelined:  # the counted chunk goes before the RCPT replies are in
        for line in lines_:
            session.send_line(line)
        last = session.send_line("BDAT 4 LAST").command
        session.receive_data(b"250 ok\r\n250 ok\r\n250 ok\r\n")
    else:
        for line in lines_:
            run(session, line, b"250 ok\r\n")
        last = session.send_line("BDAT 4 LAST").command
    while session.next_event() is not None:
        pass
    noop_cmd = session.send_line("NOOP").command
    session.receive_data(b"250 2.0.0 <alice> saved\r\n")
    first = session.next_event()
    assert (first.command, first.recipient, first.position) == (last, "<alice@example.com>", (1, 2))
    assert session.pending == (last, noop_cmd)  # still waiting for bob's reply, then NOOP's
    session.receive_data(b"250 2.0.0 <bob> saved\r\n250 2.0.0 OK\r\n")
    second, noop = session.next_event(), session.next_event()
    assert (second.command, second.recipient, second.position) == (last, "<bob@example.com>", (2, 2))
    assert noop.command is noop_cmd and noop.recipient is None
    assert session.phase is Phase.READY and session.recipients == 0


def test_bdat_chunks_before_last_get_one_reply():
    session = Session(lmtp=True)
    session.receive_data(b"220 x\r\n")
    run(session, "LHLO me", b"250 x\r\n")
    run(session, "MAIL FROM:<a@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<b@example.com>", b"250 ok\r\n")
    run(session, "RCPT TO:<c@example.com>", b"250 ok\r\n")
    out, events = run(session, "BDAT 10", b"250 2.0.0 10 octets received\r\n")
    assert [(e.command, e.recipient) for e in events] == [(out.command, None)]
    assert session.phase is Phase.BDAT and session.pending == ()
