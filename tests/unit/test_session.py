"""The session state machine: (phase, command, reply) -> phase; (state, command) -> bytes
and warnings (never a refusal); STARTTLS, AUTH, pipelining, closing and LMTP."""

import base64

import pytest

from smtpshell.protocol.session import (
    LocalProtocolError,
    Phase,
    PlaintextInjection,
    ReplyEvent,
    ServerClosed,
    Session,
    StartTLS,
)

GREETING = b"220 mx.example.com ESMTP\r\n"
EHLO_FULL = (
    b"250-mx.example.com\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10240000\r\n"
    b"250-8BITMIME\r\n"
    b"250-SMTPUTF8\r\n"
    b"250-DSN\r\n"
    b"250-CHUNKING\r\n"
    b"250-STARTTLS\r\n"
    b"250 AUTH PLAIN LOGIN\r\n"
)
EHLO_BARE = b"250-mx.example.com\r\n250 PIPELINING\r\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def drain(session: Session) -> list:
    out = []
    while (event := session.next_event()) is not None:
        out.append(event)
    return out


def feed(session: Session, data: bytes) -> list:
    session.receive_data(data)
    return drain(session)


def exchange(session: Session, line: str, reply: bytes):
    """Send one line, feed its reply; return (Outgoing, events)."""
    out = session.send_line(line)
    return out, feed(session, reply)


def greeted(*, ehlo: bytes = EHLO_FULL, tls: bool = False, lmtp: bool = False) -> Session:
    session = Session(tls=tls, lmtp=lmtp)
    feed(session, GREETING)
    exchange(session, "LHLO client.example" if lmtp else "EHLO client.example", ehlo)
    assert session.greeted
    return session


def in_phase(phase: Phase, *, ehlo: bytes = EHLO_FULL, tls: bool = False) -> Session:
    session = greeted(ehlo=ehlo, tls=tls)
    steps = {
        Phase.READY: [],
        Phase.MAIL: [("MAIL FROM:<a@example.com>", b"250 ok\r\n")],
        Phase.RCPT: [("MAIL FROM:<a@example.com>", b"250 ok\r\n"), ("RCPT TO:<b@example.com>", b"250 ok\r\n")],
        Phase.DATA: [
            ("MAIL FROM:<a@example.com>", b"250 ok\r\n"),
            ("RCPT TO:<b@example.com>", b"250 ok\r\n"),
            ("DATA", b"354 go ahead\r\n"),
        ],
    }[phase]
    for line, reply in steps:
        exchange(session, line, reply)
    assert session.phase is phase
    return session


# ----- greeting and EHLO ----------------------------------------------------------------


def test_new_session_waits_for_greeting():
    session = Session()
    assert session.phase is Phase.GREETING
    assert session.pending == (session.greeting,)
    assert session.next_event() is None


def test_greeting_moves_to_ready():
    session = Session()
    (event,) = feed(session, GREETING)
    assert isinstance(event, ReplyEvent)
    assert event.command is session.greeting
    assert event.reply.code == 220
    assert session.phase is Phase.READY
    assert session.pending == ()


def test_greeting_in_pieces():
    session = Session()
    assert feed(session, b"220-mx.example.com\r\n220 ES") == []
    assert session.phase is Phase.GREETING
    (event,) = feed(session, b"MTP\r\n")
    assert event.reply.texts == ("mx.example.com", "ESMTP")
    assert session.phase is Phase.READY


def test_ehlo_250_parses_capabilities():
    session = Session()
    feed(session, GREETING)
    out, (event,) = exchange(session, "EHLO client.example", EHLO_FULL)
    assert out.data == b"EHLO client.example\r\n"
    assert out.warnings == ()
    assert event.command is out.command
    caps = session.capabilities
    assert session.greeted
    assert caps.greeting == "mx.example.com"
    assert "STARTTLS" in caps and "PIPELINING" in caps
    assert caps.size_limit == 10240000
    assert caps.auth_mechanisms == ("PLAIN", "LOGIN")


def test_helo_250_greets_without_keywords():
    session = Session()
    feed(session, GREETING)
    exchange(session, "HELO client.example", b"250 mx.example.com\r\n")
    assert session.greeted
    assert session.capabilities.greeting == "mx.example.com"
    assert session.capabilities.keywords == {}


def test_ehlo_refused_learns_nothing():
    session = Session()
    feed(session, GREETING)
    exchange(session, "EHLO client.example", b"502 5.5.1 EHLO not supported\r\n")
    assert not session.greeted
    assert session.capabilities is None


# ----- transitions -------------------------------------------------------------------------

MAIL = "MAIL FROM:<a@example.com>"
RCPT = "RCPT TO:<b@example.com>"

# (phase before, line, reply, phase after, recipients after)
TRANSITIONS = [
    (Phase.READY, MAIL, b"250 2.1.0 ok\r\n", Phase.MAIL, 0),
    (Phase.READY, "mail from:<a@example.com>", b"250 ok\r\n", Phase.MAIL, 0),
    (Phase.READY, MAIL, b"550 5.7.1 no\r\n", Phase.READY, 0),
    (Phase.READY, MAIL, b"451 4.3.0 later\r\n", Phase.READY, 0),
    (Phase.MAIL, RCPT, b"250 2.1.5 ok\r\n", Phase.RCPT, 1),
    (Phase.MAIL, RCPT, b"251 will forward\r\n", Phase.RCPT, 1),
    (Phase.MAIL, RCPT, b"550 5.1.1 no such user\r\n", Phase.MAIL, 0),
    (Phase.MAIL, RCPT, b"450 4.2.0 greylisted\r\n", Phase.MAIL, 0),
    (Phase.RCPT, "RCPT TO:<c@example.com>", b"250 ok\r\n", Phase.RCPT, 2),
    (Phase.RCPT, "RCPT TO:<c@example.com>", b"550 no\r\n", Phase.RCPT, 1),
    (Phase.READY, RCPT, b"250 ok\r\n", Phase.READY, 0),  # out of phase: not counted
    (Phase.RCPT, "DATA", b"354 go ahead\r\n", Phase.DATA, 1),
    (Phase.RCPT, "DATA", b"554 5.5.1 no valid recipients\r\n", Phase.RCPT, 1),
    (Phase.MAIL, "DATA", b"503 5.5.1 need RCPT\r\n", Phase.MAIL, 0),
    (Phase.MAIL, "RSET", b"250 ok\r\n", Phase.READY, 0),
    (Phase.RCPT, "RSET", b"250 ok\r\n", Phase.READY, 0),
    (Phase.RCPT, "RSET", b"500 what\r\n", Phase.RCPT, 1),
    (Phase.RCPT, "EHLO again.example", EHLO_FULL, Phase.READY, 0),
    (Phase.RCPT, MAIL, b"250 ok\r\n", Phase.MAIL, 0),
    (Phase.RCPT, "NOOP", b"250 ok\r\n", Phase.RCPT, 1),
    (Phase.MAIL, "VRFY x", b"252 maybe\r\n", Phase.MAIL, 0),
    (Phase.READY, "STARTTLS", b"220 2.0.0 go\r\n", Phase.TLS, 0),
    (Phase.READY, "STARTTLS", b"454 4.7.0 TLS not available\r\n", Phase.READY, 0),
    (Phase.RCPT, "BDAT 10", b"250 ok\r\n", Phase.BDAT, 1),
    (Phase.RCPT, "BDAT 10 LAST", b"250 ok\r\n", Phase.READY, 0),
    (Phase.RCPT, "BDAT 10", b"554 no\r\n", Phase.READY, 0),
]


@pytest.mark.parametrize(
    ("before", "line", "reply", "after", "recipients"),
    TRANSITIONS,
    ids=[f"{t[0].name}-{t[1].split()[0]}-{t[2][:3].decode()}" for t in TRANSITIONS],
)
def test_transition(before, line, reply, after, recipients):
    session = in_phase(before)
    _, events = exchange(session, line, reply)
    assert [type(e) for e in events] == [ReplyEvent] + ([StartTLS] if after is Phase.TLS else [])
    assert events[0].command.line == line
    assert session.phase is after
    assert session.recipients == recipients


def test_phase_follows_the_reply_not_the_command():
    session = in_phase(Phase.READY)
    session.send_line(MAIL)
    assert session.phase is Phase.READY
    feed(session, b"250 ok\r\n")
    assert session.phase is Phase.MAIL


@pytest.mark.parametrize(
    ("reply", "recipients"), [(b"250 2.0.0 queued\r\n", 0), (b"554 5.7.1 rejected\r\n", 0), (b"451 later\r\n", 0)]
)
def test_end_of_data_returns_to_ready(reply, recipients):
    session = in_phase(Phase.DATA)
    assert session.send_data_line("Subject: hi") == b"Subject: hi\r\n"
    out = session.end_data()
    assert out.data == b".\r\n"
    assert out.command.verb == "."
    (event,) = feed(session, reply)
    assert event.command is out.command
    assert session.phase is Phase.READY
    assert session.recipients == recipients


def test_bdat_chunks_then_last():
    session = in_phase(Phase.RCPT)
    exchange(session, "BDAT 5", b"250 ok\r\n")
    assert session.phase is Phase.BDAT
    out, _ = exchange(session, "BDAT 3 LAST", b"250 queued\r\n")
    assert out.warnings == ()
    assert session.phase is Phase.READY


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (".hidden", b"..hidden\r\n"),
        (".", b"..\r\n"),
        ("", b"\r\n"),
        ("plain", b"plain\r\n"),
        ("grüße", "grüße\r\n".encode()),
        (b"\xff.raw", b"\xff.raw\r\n"),
    ],
)
def test_send_data_line_stuffs(line, expected):
    session = in_phase(Phase.DATA)
    assert session.send_data_line(line) == expected


def test_command_line_refused_in_data():
    session = in_phase(Phase.DATA)
    with pytest.raises(LocalProtocolError):
        session.send_line("QUIT")


def test_end_data_outside_data_is_refused():
    session = in_phase(Phase.RCPT)
    with pytest.raises(LocalProtocolError):
        session.end_data()


# ----- warnings, never refusals -------------------------------------------------------------

NO_STARTTLS = b"250-mx.example.com\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n"
NO_AUTH = b"250-mx.example.com\r\n250 STARTTLS\r\n"

# (id, how to build the session, line, part of the expected warning)
WARNINGS = [
    ("before greeting", lambda: Session(), "EHLO me", "has not sent its greeting"),
    ("RCPT before MAIL", lambda: in_phase(Phase.READY), RCPT, "RCPT before an accepted MAIL FROM"),
    ("DATA without RCPT", lambda: in_phase(Phase.MAIL), "DATA", "DATA without an accepted RCPT TO"),
    ("DATA before MAIL", lambda: in_phase(Phase.READY), "DATA", "DATA before an accepted MAIL FROM and RCPT TO"),
    ("MAIL inside transaction", lambda: in_phase(Phase.RCPT), MAIL, "MAIL inside an open transaction"),
    ("MAIL before EHLO", lambda: _after_greeting(), MAIL, "MAIL before EHLO"),
    ("RCPT before EHLO", lambda: _after_greeting(), RCPT, "RCPT before EHLO"),
    ("MAIL before LHLO", lambda: _after_greeting(lmtp=True), MAIL, "MAIL before LHLO"),
    ("MAIL after TLS", lambda: _after_tls(), MAIL, "MAIL before EHLO (again, after TLS)"),
    ("AUTH over plain text", lambda: in_phase(Phase.READY), "AUTH PLAIN", "AUTH over an unencrypted connection"),
    ("STARTTLS not advertised", lambda: in_phase(Phase.READY, ehlo=NO_STARTTLS), "STARTTLS", "did not advertise STARTTLS"),
    ("STARTTLS under TLS", lambda: in_phase(Phase.READY, tls=True), "STARTTLS", "TLS is already active"),
    ("AUTH not advertised", lambda: in_phase(Phase.READY, ehlo=NO_AUTH, tls=True), "AUTH PLAIN", "did not advertise AUTH"),
    (
        "AUTH mechanism not offered",
        lambda: in_phase(Phase.READY, tls=True),
        "AUTH CRAM-MD5",
        "did not offer AUTH CRAM-MD5 (offered: PLAIN LOGIN)",
    ),
    ("AUTH lower-case mechanism", lambda: in_phase(Phase.READY, tls=True), "AUTH plain", "upper case"),
    ("AUTH twice", lambda: _authenticated(), "AUTH LOGIN", "already authenticated"),
    ("BDAT not advertised", lambda: in_phase(Phase.RCPT, ehlo=EHLO_BARE), "BDAT 10 LAST", "did not advertise CHUNKING"),
    ("SIZE= not advertised", lambda: in_phase(Phase.READY, ehlo=EHLO_BARE), MAIL + " SIZE=1000", "SIZE= needs SIZE"),
    ("SMTPUTF8 not advertised", lambda: in_phase(Phase.READY, ehlo=EHLO_BARE), MAIL + " SMTPUTF8", "needs SMTPUTF8"),
    ("BODY= not advertised", lambda: in_phase(Phase.READY, ehlo=EHLO_BARE), MAIL + " BODY=8BITMIME", "needs 8BITMIME"),
    ("lower-case param", lambda: in_phase(Phase.READY, ehlo=EHLO_BARE), MAIL + " size=1000", "needs SIZE"),
    ("NOTIFY= not advertised", lambda: in_phase(Phase.MAIL, ehlo=EHLO_BARE), RCPT + " NOTIFY=NEVER", "needs DSN"),
    ("line over 512 bytes", lambda: in_phase(Phase.READY), "NOOP " + "x" * 506, "513 bytes"),
    (
        "non-ASCII without SMTPUTF8",
        lambda: in_phase(Phase.READY, ehlo=EHLO_BARE),
        "MAIL FROM:<jörg@example.com>",
        "non-ASCII",
    ),
]


def _after_greeting(*, lmtp: bool = False) -> Session:
    session = Session(lmtp=lmtp)
    feed(session, GREETING)
    return session


def _after_tls() -> Session:
    session = in_phase(Phase.READY)
    exchange(session, "STARTTLS", b"220 go\r\n")
    session.tls_started()
    return session


def _authenticated() -> Session:
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH PLAIN " + b64(b"\0alice\0pw"), b"235 ok\r\n")
    assert session.auth_user == "alice"
    return session


@pytest.mark.parametrize(("name", "make", "line", "warning"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_warns_but_sends(name, make, line, warning):
    session = make()
    before = len(session.pending)
    out = session.send_line(line)
    assert any(warning in w for w in out.warnings), out.warnings
    assert out.data == line.encode("utf-8") + b"\r\n"
    assert len(session.pending) == before + 1
    assert session.pending[-1] is out.command


# (id, how to build the session, line): nothing to warn about
NO_WARNINGS = [
    ("QUIT before greeting", lambda: Session(), "QUIT"),
    ("EHLO", lambda: _after_greeting(), "EHLO client.example"),
    ("MAIL", lambda: in_phase(Phase.READY), MAIL),
    ("RCPT", lambda: in_phase(Phase.MAIL), RCPT),
    ("second RCPT", lambda: in_phase(Phase.RCPT), RCPT),
    ("DATA", lambda: in_phase(Phase.RCPT), "DATA"),
    ("SIZE= advertised", lambda: in_phase(Phase.READY), MAIL + " SIZE=1000"),
    ("all params advertised", lambda: in_phase(Phase.READY), MAIL + " SIZE=1 BODY=8BITMIME SMTPUTF8 RET=HDRS"),
    ("NOTIFY= advertised", lambda: in_phase(Phase.MAIL), RCPT + " NOTIFY=NEVER"),
    ("non-ASCII with SMTPUTF8", lambda: in_phase(Phase.READY), "MAIL FROM:<jörg@example.com> SMTPUTF8"),
    ("STARTTLS advertised", lambda: in_phase(Phase.READY), "STARTTLS"),
    ("AUTH over TLS", lambda: in_phase(Phase.READY, tls=True), "AUTH LOGIN"),
    ("line of exactly 512 bytes", lambda: in_phase(Phase.READY), "NOOP " + "x" * 505),
    ("unknown verb", lambda: in_phase(Phase.READY), "XYZZY"),
    ("RSET anywhere", lambda: in_phase(Phase.RCPT), "RSET"),
]


@pytest.mark.parametrize(("name", "make", "line"), NO_WARNINGS, ids=[w[0] for w in NO_WARNINGS])
def test_no_warning(name, make, line):
    out = make().send_line(line)
    assert out.warnings == ()
    assert out.data == line.encode("utf-8") + b"\r\n"


@pytest.mark.parametrize("line", ["MAIL FROM:<a@b>\r\n", "NOOP\n", "a\rb", "RCPT TO:<x>\r\nDATA", "\n"])
def test_cr_or_lf_inside_a_line_is_refused(line):
    session = in_phase(Phase.READY)
    with pytest.raises(LocalProtocolError):
        session.send_line(line)
    assert session.pending == ()


def test_cr_or_lf_refused_in_a_sasl_response_too():
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    with pytest.raises(LocalProtocolError):
        session.send_line("YWxpY2U=\r\nQUIT")


def test_line_kept_exactly_as_typed():
    session = in_phase(Phase.READY)
    out = session.send_line("  mail   FROM:<a@example.com>  ")
    assert out.data == b"  mail   FROM:<a@example.com>  \r\n"
    assert out.command.verb == "MAIL"


# ----- pairing replies with commands ----------------------------------------------------------


def test_pipelined_commands_pair_up_in_order():
    session = in_phase(Phase.READY)
    lines = [MAIL, RCPT, "RCPT TO:<nobody@example.com>", "RCPT TO:<c@example.com>", "DATA"]
    sent = [session.send_line(line).command for line in lines]
    events = feed(session, b"250 ok\r\n250 ok\r\n550 no\r\n250-ok\r\n250 ok\r\n354 go\r\n")
    assert [e.command for e in events] == sent
    assert [e.reply.code for e in events] == [250, 250, 550, 250, 354]
    assert session.phase is Phase.DATA
    assert session.recipients == 2
    assert session.pending == ()


def test_pipelined_replies_byte_by_byte():
    session = in_phase(Phase.READY)
    sent = [session.send_line(line).command for line in (MAIL, RCPT, "DATA")]
    events = []
    for b in b"250 ok\r\n250 ok\r\n354 go\r\n":
        events += feed(session, bytes([b]))
    assert [e.command for e in events] == sent
    assert session.phase is Phase.DATA


def test_unsolicited_reply_has_no_command():
    session = in_phase(Phase.READY)
    (event,) = feed(session, b"421 4.4.2 timeout\r\n")
    assert isinstance(event, ReplyEvent)
    assert event.command is None
    assert session.last_reply is event.reply


def test_line_without_code_answers_nothing():
    session = in_phase(Phase.READY)
    out = session.send_line("NOOP")
    junk, answer = feed(session, b"hello?\r\n250 ok\r\n")
    assert junk.command is None and junk.reply.code is None
    assert answer.command is out.command


def test_raw_bytes_reply_is_unsolicited_unless_expected():
    session = in_phase(Phase.READY)
    out = session.send_raw(b"NOOP\n")
    assert out.data == b"NOOP\n" and out.command is None
    (event,) = feed(session, b"250 ok\r\n")
    assert event.command is None
    out = session.send_raw(b"NOOP\r\n", expects_reply=True)
    (event,) = feed(session, b"250 ok\r\n")
    assert event.command is out.command


# ----- STARTTLS -------------------------------------------------------------------------------


def test_starttls_220_gives_start_tls_and_nothing_else():
    session = in_phase(Phase.READY)
    out = session.send_line("STARTTLS")
    events = feed(session, b"220 2.0.0 Ready to start TLS\r\n")
    assert [type(e) for e in events] == [ReplyEvent, StartTLS]
    assert events[0].command is out.command
    assert session.phase is Phase.TLS


@pytest.mark.parametrize(
    "extra",
    [
        b"250 injected\r\n",
        b"250-a\r\n250 b\r\n",
        b"250 partial line",
        b"250-a\r\n250 b\r\n25",
        b"\r\n",
        b"x",
    ],
)
def test_bytes_after_220_in_same_chunk_are_injection(extra):
    session = in_phase(Phase.READY)
    session.send_line("STARTTLS")
    session.send_line("MAIL FROM:<victim@example.com>")
    events = feed(session, b"220 go\r\n" + extra)
    assert [type(e) for e in events] == [ReplyEvent, PlaintextInjection]
    assert events[1].data == extra
    assert not any(isinstance(e, StartTLS) for e in events)


def test_bytes_after_220_in_later_read_are_injection():
    session = in_phase(Phase.READY)
    session.send_line("STARTTLS")
    assert [type(e) for e in feed(session, b"220 go\r\n")] == [ReplyEvent, StartTLS]
    events = feed(session, b"250 sneaky\r\n")
    assert events == [PlaintextInjection(data=b"250 sneaky\r\n")]


def test_220_arriving_in_pieces_is_not_injection():
    session = in_phase(Phase.READY)
    session.send_line("STARTTLS")
    assert feed(session, b"220 go") == []
    assert [type(e) for e in feed(session, b"\r\n")] == [ReplyEvent, StartTLS]


def test_replies_before_the_220_are_not_injection():
    session = in_phase(Phase.READY)
    session.send_line("NOOP")
    session.send_line("STARTTLS")
    events = feed(session, b"250 ok\r\n220 go\r\n")
    assert [type(e) for e in events] == [ReplyEvent, ReplyEvent, StartTLS]


def test_tls_started_forgets_capabilities():
    session = in_phase(Phase.READY)
    exchange(session, "STARTTLS", b"220 go\r\n")
    session.tls_started()
    assert session.tls
    assert session.phase is Phase.READY
    assert session.capabilities is None
    assert not session.greeted
    assert session.recipients == 0
    _, (event,) = exchange(session, "EHLO client.example", NO_STARTTLS)
    assert event.reply.code == 250
    assert session.greeted
    assert "STARTTLS" not in session.capabilities


def test_after_tls_started_data_is_parsed_again():
    session = in_phase(Phase.READY)
    exchange(session, "STARTTLS", b"220 go\r\n")
    session.tls_started()
    out = session.send_line("EHLO client.example")
    (event,) = feed(session, EHLO_BARE)
    assert event.command is out.command


# ----- AUTH -------------------------------------------------------------------------------------


def test_auth_login_dialogue():
    session = in_phase(Phase.READY, tls=True)
    out = session.send_line("AUTH LOGIN")
    assert not out.command.secret and out.command.display_line == "AUTH LOGIN"
    feed(session, b"334 VXNlcm5hbWU6\r\n")
    assert session.awaiting_sasl
    user = session.send_line(b64(b"alice"))
    assert user.command.verb == "SASL"
    assert user.command.secret
    assert user.command.display_line == "***"
    assert user.data == b64(b"alice").encode() + b"\r\n"
    assert user.warnings == ()
    assert not session.awaiting_sasl
    feed(session, b"334 UGFzc3dvcmQ6\r\n")
    assert session.awaiting_sasl
    password = session.send_line(b64(b"s3cret"))
    assert password.command.display_line == "***"
    assert "s3cret" not in repr(password.command.display_line)
    (event,) = feed(session, b"235 2.7.0 Authentication successful\r\n")
    assert event.command is password.command
    assert session.auth_user == "alice"
    assert not session.awaiting_sasl


def test_sasl_response_is_not_checked_as_a_command():
    # "MAIL" typed after a 334 is a SASL response (the server will reject it), not MAIL.
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    out = session.send_line("MAIL FROM:<x@example.com>")
    assert out.command.verb == "SASL"
    # no command checks (MAIL before EHLO, ...): only that it is not base64
    assert len(out.warnings) == 1 and "not base64" in out.warnings[0]


@pytest.mark.parametrize(
    ("response", "user"),
    [(b"\0bob\0pw", "bob"), (b"admin\0bob\0pw", "bob"), (b"\0b\xc3\xb6b\0pw", "böb")],
)
def test_auth_plain_initial_response(response, user):
    session = in_phase(Phase.READY, tls=True)
    line = "AUTH PLAIN " + b64(response)
    out = session.send_line(line)
    assert out.command.secret
    assert out.command.display_line == "AUTH PLAIN ***"
    assert out.data == line.encode() + b"\r\n"
    feed(session, b"235 ok\r\n")
    assert session.auth_user == user


def test_auth_plain_without_initial_response():
    session = in_phase(Phase.READY, tls=True)
    out = session.send_line("AUTH PLAIN")
    assert not out.command.secret
    feed(session, b"334 \r\n")
    assert session.awaiting_sasl
    exchange(session, b64(b"\0carol\0pw"), b"235 ok\r\n")
    assert session.auth_user == "carol"


@pytest.mark.parametrize("failure", [b"535 5.7.8 bad credentials\r\n", b"454 4.7.0 try later\r\n"])
def test_auth_failure_leaves_no_user(failure):
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH PLAIN " + b64(b"\0bob\0wrong"), failure)
    assert session.auth_user is None
    assert not session.awaiting_sasl


def test_auth_cancelled():
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    out, _ = exchange(session, "*", b"501 5.7.0 cancelled\r\n")
    assert out.command.verb == "SASL"
    assert not session.awaiting_sasl
    assert session.auth_user is None
    assert session.send_line("NOOP").command.verb == "NOOP"


def test_second_login_attempt_learns_the_new_user():
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    exchange(session, b64(b"alice"), b"334 UGFzc3dvcmQ6\r\n")
    exchange(session, b64(b"wrong"), b"535 no\r\n")
    exchange(session, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    exchange(session, b64(b"bob"), b"334 UGFzc3dvcmQ6\r\n")
    exchange(session, b64(b"right"), b"235 ok\r\n")
    assert session.auth_user == "bob"


def test_auth_with_unknown_mechanism_still_marks_authenticated():
    session = in_phase(Phase.READY, tls=True)
    exchange(session, "AUTH XOAUTH2 " + b64(b"user=x\x01auth=Bearer t\x01\x01"), b"235 ok\r\n")
    assert session.auth_user == "(authenticated)"


# ----- closing ------------------------------------------------------------------------------------


def test_close_after_quit_221_is_expected():
    session = in_phase(Phase.READY)
    exchange(session, "QUIT", b"221 2.0.0 bye\r\n")
    events = feed(session, b"")
    assert events == [ServerClosed(mid_reply=False, expected=True)]
    assert session.closed
    assert session.phase is Phase.CLOSED


def test_close_after_421_is_expected():
    session = in_phase(Phase.READY)
    feed(session, b"421 4.4.2 idle timeout\r\n")
    assert feed(session, b"") == [ServerClosed(mid_reply=False, expected=True)]


def test_close_without_quit_is_unexpected():
    session = in_phase(Phase.READY)
    assert feed(session, b"") == [ServerClosed(mid_reply=False, expected=False)]


def test_close_after_quit_refused_is_unexpected():
    session = in_phase(Phase.READY)
    exchange(session, "QUIT", b"500 what\r\n")
    assert feed(session, b"") == [ServerClosed(mid_reply=False, expected=False)]


@pytest.mark.parametrize("partial", [b"250-a\r\n", b"250-a\r\n250 b", b"250 no end"])
def test_close_inside_a_reply(partial):
    session = in_phase(Phase.READY)
    out = session.send_line("EHLO again")
    assert feed(session, partial) == []
    reply_event, closed = feed(session, b"")
    assert isinstance(reply_event, ReplyEvent)
    assert not reply_event.reply.complete
    assert reply_event.reply.wire == partial
    assert reply_event.command is out.command
    assert closed == ServerClosed(mid_reply=True, expected=False)


def test_close_on_a_partial_line_without_code():
    session = in_phase(Phase.READY)
    out = session.send_line("NOOP")
    reply_event, closed = feed(session, b"25") + feed(session, b"")
    assert reply_event.reply.code is None
    assert reply_event.command is None  # a line with no code answers nothing
    assert session.pending == (out.command,)
    assert closed == ServerClosed(mid_reply=True, expected=False)


def test_close_before_greeting():
    session = Session()
    assert feed(session, b"") == [ServerClosed(mid_reply=False, expected=False)]


def test_nothing_after_close():
    session = in_phase(Phase.READY)
    feed(session, b"")
    assert feed(session, b"250 late\r\n") == []
    assert feed(session, b"") == []


def test_close_during_tls_wait():
    session = in_phase(Phase.READY)
    exchange(session, "STARTTLS", b"220 go\r\n")
    events = feed(session, b"")
    assert [type(e) for e in events] == [ServerClosed]
    assert session.closed


# ----- LMTP ---------------------------------------------------------------------------------------


def lmtp_in_data(accepted: int, rejected: int = 0) -> Session:
    session = greeted(lmtp=True)
    exchange(session, MAIL, b"250 ok\r\n")
    for i in range(accepted):
        exchange(session, f"RCPT TO:<ok{i}@example.com>", b"250 ok\r\n")
    for i in range(rejected):
        exchange(session, f"RCPT TO:<no{i}@example.com>", b"550 no\r\n")
    exchange(session, "DATA", b"354 go\r\n")
    assert session.phase is Phase.DATA
    return session


@pytest.mark.parametrize(("accepted", "rejected"), [(1, 0), (2, 0), (3, 1), (2, 2)])
def test_lmtp_one_reply_per_accepted_recipient(accepted, rejected):
    session = lmtp_in_data(accepted, rejected)
    dot = session.end_data().command
    quit_ = session.send_line("QUIT").command
    replies = b"".join(b"250 2.0.0 delivered\r\n" if i % 2 == 0 else b"452 4.2.2 full\r\n" for i in range(accepted))
    events = feed(session, replies + b"221 bye\r\n")
    assert [e.command for e in events] == [dot] * accepted + [quit_]
    assert session.phase is Phase.READY
    assert session.recipients == 0


def test_lmtp_phase_waits_for_the_last_per_recipient_reply():
    session = lmtp_in_data(2)
    dot = session.end_data().command
    (first,) = feed(session, b"250 ok\r\n")
    assert first.command is dot
    assert session.pending == (dot,)
    (second,) = feed(session, b"452 full\r\n")
    assert second.command is dot
    assert session.pending == ()


def test_smtp_gives_one_reply_for_all_recipients():
    session = in_phase(Phase.RCPT)
    exchange(session, "RCPT TO:<c@example.com>", b"250 ok\r\n")
    exchange(session, "DATA", b"354 go\r\n")
    dot = session.end_data().command
    quit_ = session.send_line("QUIT").command
    events = feed(session, b"250 queued\r\n221 bye\r\n")
    assert [e.command for e in events] == [dot, quit_]


@pytest.mark.parametrize(("answer", "warned"), [("not base64!", True), ("YWxpY2U=", False), ("*", False), ("", False)])
def test_sasl_answer_that_is_not_base64_is_warned_but_sent(answer, warned):
    s = Session()
    s.receive_data(b"220 hi\r\n")
    s.send_line("EHLO me")
    s.receive_data(b"250-x\r\n250 AUTH LOGIN\r\n")
    s.send_line("AUTH LOGIN")
    s.receive_data(b"334 VXNlcm5hbWU6\r\n")
    while s.next_event():
        pass
    out = s.send_line(answer)
    assert out.data == answer.encode() + b"\r\n"
    assert any("not base64" in w for w in out.warnings) is warned


def in_data(session: Session, mail: str = "MAIL FROM:<a@example.com>") -> Session:
    exchange(session, mail, b"250 ok\r\n")
    exchange(session, "RCPT TO:<b@example.com>", b"250 ok\r\n")
    exchange(session, "DATA", b"354 go ahead\r\n")
    assert session.phase is Phase.DATA
    return session


def test_a_message_line_over_1000_bytes_is_warned_about():
    session = in_data(greeted())
    assert session.data_line_warnings(b"x" * 998) == ()  # 998 + CRLF: exactly the limit
    [warning] = session.data_line_warnings(b"x" * 999)
    assert warning.startswith("line is 1001 bytes; RFC 5321 allows 1000 for a line of message text")


def test_8bit_content_without_8bitmime_is_warned_about_once_per_message():
    session = in_data(greeted(ehlo=EHLO_BARE))
    [warning] = session.data_line_warnings("Subject: héllo".encode())
    assert warning.startswith("8-bit bytes in the message, and the server did not advertise 8BITMIME")
    assert session.data_line_warnings("ünïcode".encode()) == ()  # said once
    session.end_data()
    feed(session, b"250 queued\r\n")
    in_data(session)
    assert len(session.data_line_warnings("again ü".encode())) == 1  # a new message: said again


def test_8bit_content_needs_body_8bitmime_on_mail_when_offered():
    session = in_data(greeted())
    [warning] = session.data_line_warnings("héllo".encode())
    assert "MAIL FROM did not declare BODY=8BITMIME" in warning
    session.end_data()
    feed(session, b"250 queued\r\n")
    in_data(session, "MAIL FROM:<a@example.com> BODY=8BITMIME")
    assert session.data_line_warnings("héllo".encode()) == ()
    assert session.data_line_warnings(b"plain ascii") == ()
