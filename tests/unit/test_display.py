"""What the shell shows: control bytes made visible, replies coloured by class with their hints,
secrets masked -- as pure (token, text) fragments."""

import base64
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.highlight import tokens as tok
from smtpshell.protocol import codes
from smtpshell.protocol.replies import ReplyParser
from smtpshell.protocol.session import Command, Session
from smtpshell.transcript import display
from smtpshell.transcript.display import Marks, View

T = "TEXT"  # a stand-in token for visible()


def replies(data: bytes, **kwargs):
    parser = ReplyParser(**kwargs)
    return parser.feed(data) + parser.feed(b"")


def reply(data: bytes):
    (r,) = replies(data)
    return r


def text_of(line) -> str:
    return "".join(text for _, text in line)


def tokens_of(line) -> list:
    return [token for token, _ in line]


def raw_controls(text: str) -> list[str]:
    """Characters that would reach the terminal and act instead of print (tab aside)."""
    return [c for c in text if c != "\t" and unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")]


def assert_no_raw_controls(lines):
    for line in lines:
        for token, text in line:
            assert not raw_controls(text), (token, text)


EHLO = Command(line="EHLO client.example", verb="EHLO")


# ----- visible() --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", [(T, "plain")]),
        ("", []),
        ("\r", [(tok.ESCAPE, "␍")]),
        ("\n", [(tok.ESCAPE, "␊")]),
        ("\x00", [(tok.ESCAPE, "␀")]),
        ("\x1b", [(tok.ESCAPE, "␛")]),
        ("\x7f", [(tok.ESCAPE, "␡")]),
        ("\x07", [(tok.ESCAPE, "␇")]),
        ("\x08", [(tok.ESCAPE, "␈")]),
        ("\x85", [(tok.ESCAPE, "\\u0085")]),
        ("\x9b", [(tok.ESCAPE, "\\u009b")]),  # C1 CSI
        ("\u2028", [(tok.ESCAPE, "\\u2028")]),
        (b"\xff".decode("utf-8", "surrogateescape"), [(tok.ESCAPE, "\\xff")]),
        (b"\x80".decode("utf-8", "surrogateescape"), [(tok.ESCAPE, "\\x80")]),
        ("a\tb", [(T, "a\tb")]),
        ("grüße ✓", [(T, "grüße ✓")]),
        ("a\r\nb", [(T, "a"), (tok.ESCAPE, "␍"), (tok.ESCAPE, "␊"), (T, "b")]),
        ("\x1b[2Jx", [(tok.ESCAPE, "␛"), (T, "[2Jx")]),
        (
            b"caf\xe9!".decode("utf-8", "surrogateescape"),
            [(T, "caf"), (tok.ESCAPE, "\\xe9"), (T, "!")],
        ),
    ],
)
def test_visible(text, expected):
    assert display.visible(text, T) == expected


_PICTURES = {"␍": "\r", "␊": "\n", "␀": "\x00", "␛": "\x1b", "␡": "\x7f"}


def unvisible(fragments) -> str:
    """Undo visible(): every ESCAPE fragment stands for exactly one character."""
    out = []
    for token, text in fragments:
        if token is not tok.ESCAPE:
            out.append(text)
        elif text in _PICTURES:
            out.append(_PICTURES[text])
        elif text.startswith("\\x"):
            out.append(chr(0xDC00 + int(text[2:], 16)))
        elif text.startswith("\\u"):
            out.append(chr(int(text[2:], 16)))
        else:
            assert len(text) == 1 and 0x2400 <= ord(text) < 0x2420, text
            out.append(chr(ord(text) - 0x2400))
    return "".join(out)


ANY_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(max_codepoint=0xA0), max_size=60),
    st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


@settings(max_examples=120, deadline=None)
@given(text=ANY_TEXT)
def test_visible_hides_no_control_and_loses_nothing(text):
    fragments = display.visible(text, T)
    assert_no_raw_controls([fragments])
    assert unvisible(fragments) == text
    assert all(text for _, text in fragments)


# ----- replies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code_token", "text_token"),
    [
        (b"250 ok\r\n", tok.Generic.Inserted.SMTP.Positive, tok.Generic.Inserted.SMTP.Text.Positive),
        (b"354 go\r\n", tok.Number.SMTP.Intermediate, tok.Number.SMTP.Text.Intermediate),
        (b"451 later\r\n", tok.String.Regex.SMTP.Transient, tok.String.Regex.SMTP.Text.Transient),
        (b"550 no\r\n", tok.Generic.Deleted.SMTP.Permanent, tok.Generic.Deleted.SMTP.Text.Permanent),
        (b"650 odd\r\n", tok.Generic.Output.SMTP.Code.Other, tok.Generic.Output.SMTP.Other),
    ],
)
def test_reply_coloured_by_class(data, code_token, text_token):
    (line, *_) = display.reply_lines(reply(data), View(hints=False))
    assert line[0] == (code_token, data[:3].decode())
    assert line[1:] == [(text_token, " "), (text_token, data[4:-2].decode())]


def test_positive_and_permanent_use_different_tokens():
    ok = display.reply_lines(reply(b"250 ok\r\n"), View())[0]
    no = display.reply_lines(reply(b"550 ok\r\n"), View())[0]
    assert ok[0][0] is tok.Generic.Inserted.SMTP.Positive
    assert no[0][0] is tok.Generic.Deleted.SMTP.Permanent
    assert ok[0][0] is not no[0][0]


@pytest.mark.parametrize(
    "data",
    [
        b"250 ok\r\n",
        b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
        b"550 5.1.1 <x@example.com>: Recipient address rejected\r\n",
        b"220 caf\xc3\xa9\r\n",
        b"250-a\r\njunk line\r\n250 b\r\n",
        b"250\r\n",
    ],
)
def test_reply_line_text_is_the_line_as_received(data):
    r = reply(data)
    lines = display.reply_lines(r, View(hints=False))[: len(r.lines)]  # then problems, if any
    assert [text_of(line) for line in lines] == [ln.raw.decode("utf-8") for ln in r.lines]


def test_long_line_split_by_the_parser_is_shown_once():
    # A line longer than the parser's limit arrives in pieces; each piece after the first
    # has no code of its own and must be shown as it is, not as "code + separator + text".
    data = b"250 abcdefghijklmnop\r\n"
    parser = ReplyParser(max_line=8)
    (r,) = [x for b in data for x in parser.feed(bytes([b]))]
    assert len(r.lines) > 1
    lines = display.reply_lines(r, View(hints=False))
    shown = "".join(text_of(line) for line in lines[: len(r.lines)])
    assert shown == "250 abcdefghijklmnop"


def test_long_line_split_by_the_parser_shows_no_raw_control():
    data = b"250 abcd\x1b[2Jefgh\r\n"  # ESC starts the second piece
    parser = ReplyParser(max_line=8)
    (r,) = [x for b in data for x in parser.feed(bytes([b]))]
    assert_no_raw_controls(display.reply_lines(r, View()))


def test_line_without_code_has_its_own_token():
    lines = display.reply_lines(reply(b"hello\r\n"), View(hints=False))
    assert lines[0] == [(tok.REPLY_TEXT_OTHER, "hello")]


def test_changed_code_is_marked():
    lines = display.reply_lines(reply(b"250-a\r\n251 b\r\n"), View(hints=False))
    assert lines[0][0] == (tok.CODE_OTHER, "250")
    assert lines[1][0] == (tok.Generic.Inserted.SMTP.Positive, "251")


def test_bare_lf_is_shown():
    lines = display.reply_lines(reply(b"250 ok\n"), View(hints=False))
    assert lines[0][-1] == (tok.ESCAPE, "␊")


def test_control_bytes_in_reply_are_escaped():
    lines = display.reply_lines(reply(b"250 a\x1b[31m\x00\xff\rb\r\n"), View(hints=False))
    assert text_of(lines[0]) == "250 a␛[31m␀\\xff␍b"
    assert_no_raw_controls(lines)


def test_problems_become_warnings():
    lines = display.reply_lines(reply(b"250 a\x00\n"), View(hints=False))
    warnings = [text_of(line) for line in lines if line[0][0] is tok.WARNING]
    assert any("bare LF" in w for w in warnings)
    assert any("control characters" in w for w in warnings)


def hints(data: bytes, command=None) -> list[str]:
    lines = display.reply_lines(reply(data), View(), command=command)
    return [text_of(line) for line in lines if line and line[0] == (tok.HINT, "    ↳ ")]


def test_334_challenge_is_decoded():
    shown = hints(b"334 VXNlcm5hbWU6\r\n")
    assert any("Username:" in h for h in shown)
    assert any("a lone * cancels" in h for h in shown)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"334 \r\n", "empty challenge"),
        (b"334\r\n", "empty challenge"),
        (b"334 =\r\n", "empty challenge"),
        (b"334 not base64!\r\n", "challenge is not base64"),
        (b"334 UGFzc3dvcmQ6\r\n", "Password:"),
    ],
)
def test_334_other_challenges(data, expected):
    # "334 " (empty challenge) is what every server sends after "AUTH PLAIN" (RFC 4954 4).
    assert any(expected in h for h in hints(data))


def test_334_challenge_with_control_bytes_is_escaped():
    challenge = base64.b64encode(b"User\x1b[2J\x00").decode()
    lines = display.reply_lines(reply(f"334 {challenge}\r\n".encode()), View())
    assert_no_raw_controls(lines)


def test_535_enhanced_has_meaning_hint():
    shown = hints(b"535 5.7.8 Authentication credentials invalid\r\n")
    # one line: the meaning (said once: 5.7.8 means the same), then what to try
    failure = codes.match_failure(535, "5.7.8", "Authentication credentials invalid")
    assert failure.id == "auth-failed"
    assert shown == [f"    ↳ 535: authentication credentials invalid · try: {failure.hint}"]


def test_550_enhanced_has_both_meanings():
    (shown,) = hints(b"550 5.1.1 User unknown\r\n")
    assert "550: mailbox unavailable" in shown
    assert "5.1.1: bad destination mailbox address" in shown


@pytest.mark.parametrize("data", [b"250 2.0.0 ok\r\n", b"220 hi\r\n", b"221 bye\r\n", b"hello\r\n"])
def test_quiet_replies_have_no_hint(data):
    assert hints(data) == []


QUIT = Command(line="QUIT", verb="QUIT")
DATA_END = Command(line=".", verb=".")


@pytest.mark.parametrize(
    ("failure", "example"),
    [pytest.param(f, e, id=f"{f.id}:{n}") for f in codes.failures() for n, e in enumerate(f.examples)],
)
def test_common_failure_hint_says_what_to_try_in_one_line(failure, example):
    shown = hints(example.reply.encode() + b"\r\n", command=DATA_END)
    assert len(shown) == 1
    assert shown[0].endswith(f" · try: {failure.hint}")
    assert shown[0].startswith(f"    ↳ {example.reply[:3]}: ")


def test_relay_denied_hint_keeps_both_meanings():
    # tests/interop and the CLI tests rely on these words
    (shown,) = hints(b"554 5.7.1 <someone@elsewhere.invalid>: Relay access denied\r\n")
    assert "554: transaction failed" in shown
    assert "5.7.1: delivery not authorized" in shown
    assert "try: log in (:auth)" in shown


def test_starttls_first_hint():
    (shown,) = hints(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
    assert "530: authentication required (often: STARTTLS first)" in shown
    assert "try: STARTTLS, then EHLO again" in shown


def test_failure_without_enhanced_code_still_gets_advice():
    (shown,) = hints(b"535 Incorrect authentication data\r\n")  # Exim
    assert shown.startswith("    ↳ 535: authentication credentials invalid · try: ")


def test_a_multi_line_failure_is_matched_on_all_its_lines():
    data = (b"550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n"
            b"550-5.7.26 sender and Gmail users, and has been blocked. The sender must\r\n"
            b"550 5.7.26 authenticate with at least one of SPF or DKIM. - gsmtp\r\n")
    lines = display.reply_lines(reply(data), View(), command=DATA_END)
    assert len(lines) == 4  # the three lines, then one hint
    assert text_of(lines[3]).startswith("    ↳ 550: mailbox unavailable")
    assert "5.7.26: multiple authentication checks failed" in text_of(lines[3])
    assert "try: SPF/DKIM" in text_of(lines[3])


def test_the_server_hanging_up_on_its_own_is_explained():
    data = b"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"
    (shown,) = hints(data, command=DATA_END)
    assert shown.startswith("    ↳ 221: service closing the transmission channel")
    assert "try: wait for each reply" in shown
    assert hints(b"221 2.0.0 Bye\r\n", command=QUIT) == [  # the expected goodbye: what it means, not a failure
        "    ↳ the server ends the session and closes the connection"]


def test_a_huge_failure_reply_is_matched_on_its_start_only():
    data = b"554-5.7.1 Relay access denied\r\n" + b"554-5.7.1 " + b"x" * 100_000 + b"\r\n" * 1 + b"554 5.7.1 end\r\n"
    parser = ReplyParser()
    (r,) = parser.feed(data) + parser.feed(b"")
    (shown,) = display.reply_hints(r, DATA_END)
    assert "try: log in (:auth)" in shown


def test_routine_replies_do_not_load_the_failure_table():
    codes.failures.cache_clear()
    for data, command in [(b"220 mx ESMTP\r\n", None), (b"250 2.0.0 Ok\r\n", DATA_END),
                          (b"354 go ahead\r\n", DATA_END), (b"221 2.0.0 Bye\r\n", QUIT)]:
        hints(data, command=command)
    assert codes.failures.cache_info().currsize == 0


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        (False, "login methods: PLAIN LOGIN — PLAIN and LOGIN show the password to anyone on the way: "
                "STARTTLS first"),
        (True, "login methods: PLAIN LOGIN"),
    ],
)
def test_ehlo_auth_hint_warns_only_without_tls(tls, expected):
    lines = display.reply_lines(reply(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"), View(), command=EHLO, tls=tls)
    assert text_of(lines[1]).split("↳ ")[1] == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("SIZE 10240000", "maximum message size 10 MB"),
        ("SIZE", "message size declared with SIZE=, no fixed limit"),
        ("AUTH=PLAIN", "login methods (old AUTH= form): PLAIN — PLAIN shows the password to anyone on the way "
                       "without TLS"),
        ("X-EXPS GSSAPI NTLM", "Exchange server-to-server login methods: GSSAPI NTLM"),
        ("LIMITS RCPTMAX=100", "limits: recipients per message 100"),
        ("PIPECONNECT", "early pipelining: commands sent before the banner (Exim)"),
        ("XFOO", "a vendor extension (not registered with IANA)"),
        ("NOSUCH", None),
        ("", None),
    ],
)
def test_keyword_hint(line, expected):
    assert display.keyword_hint(line) == expected


def test_hints_off():
    lines = display.reply_lines(reply(b"535 5.7.8 no\r\n"), View(hints=False))
    assert len(lines) == 1


def test_ehlo_keyword_hints():
    lines = display.reply_lines(reply(b"250-mx\r\n250-SIZE 10240000\r\n250 PIPELINING\r\n"), View(), command=EHLO)
    assert "maximum message size" in text_of(lines[1])
    assert "commands may be sent without waiting" in text_of(lines[2])
    assert "↳" not in text_of(lines[0])


def test_ehlo_hint_for_old_auth_form_names_every_mechanism():
    lines = display.reply_lines(reply(b"250-mx\r\n250 AUTH=PLAIN LOGIN\r\n"), View(), command=EHLO)
    hint = text_of(lines[1]).split("↳")[1]
    assert "PLAIN" in hint and "LOGIN" in hint


def test_ehlo_hint_shows_no_raw_control():
    # The server chooses the AUTH parameters; they end up in the hint text.
    lines = display.reply_lines(reply(b"250-mx\r\n250 AUTH PLAIN \x1b[2J\x1b]0;pwned\x07\r\n"), View(), command=EHLO)
    assert_no_raw_controls(lines)


SERVER_BYTES = st.one_of(
    st.binary(max_size=120),
    st.lists(
        st.sampled_from([b"250", b"334", b"535", b"-", b" ", b"\r\n", b"\n", b"\x1b", b"\x00", b"\xff", b"AUTH",
                         b"SIZE", b"5.7.8", b"VXNlcm5hbWU6", b"x"]),
        max_size=25,
    ).map(b"".join),
)


@settings(max_examples=100, deadline=None)
@given(data=SERVER_BYTES, marks=st.sampled_from(list(Marks)), tls=st.booleans())
def test_no_raw_control_in_any_reply(data, marks, tls):
    view = View(marks=marks, timestamps=True)
    for r in replies(data):
        assert_no_raw_controls(display.reply_lines(r, view, tls=tls, t=1.0, latency=0.01))


EHLO_PARAM = st.one_of(
    st.binary(min_size=1, max_size=8).filter(lambda b: b"\n" not in b),
    st.sampled_from([b"PLAIN", b"10240000", b"\x1b[2J", b"\x00", b"\x07", b"\xc2\x9b", b"\xff"]),
)
EHLO_LINE = st.builds(
    lambda keyword, params: b" ".join([keyword, *params]),
    st.sampled_from([b"AUTH", b"AUTH=PLAIN", b"auth", b"SIZE", b"PIPELINING", b"XFOO", b"NOSUCH", b"8BITMIME"]),
    st.lists(EHLO_PARAM, max_size=3),
)


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(EHLO_LINE, min_size=1, max_size=5))
def test_no_raw_control_in_any_ehlo_reply(lines):
    data = b"250-mx.example.com\r\n" + b"".join(b"250-" + line + b"\r\n" for line in lines) + b"250 OK\r\n"
    for r in replies(data):
        assert_no_raw_controls(display.reply_lines(r, View(), command=EHLO))


# ----- marks and timestamps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marks", "tls", "server", "client"),
    [
        (Marks.BARE, False, None, None),
        (Marks.SC, False, "S: ", "C: "),
        (Marks.SWAKS, False, "<- ", " -> "),
        (Marks.SWAKS, True, "<~ ", " ~> "),
    ],
)
def test_marks(marks, tls, server, client):
    view = View(marks=marks)
    server_line = display.reply_lines(reply(b"250 ok\r\n"), view, tls=tls)[0]
    client_line = display.client_line(Command(line="NOOP", verb="NOOP"), view, tls=tls)
    if server is None:
        assert tok.MARK not in tokens_of(server_line) + tokens_of(client_line)
    else:
        assert server_line[0] == (tok.MARK, server)
        assert client_line[0] == (tok.MARK, client)


def test_timestamps_and_latency():
    view = View(timestamps=True)
    lines = display.reply_lines(reply(b"250-a\r\n250 b\r\n"), view, t=1.5, latency=0.0123)
    assert lines[0][0] == (tok.TIME, "[   1.500] ")
    assert lines[1][0][0] is not tok.TIME
    assert lines[1][-1] == (tok.TIME, "  (12.3 ms)")


# ----- client lines ------------------------------------------------------------------------------


def authenticated_session() -> Session:
    session = Session(tls=True)
    session.receive_data(b"220 hi\r\n")
    session.send_line("EHLO me")
    session.receive_data(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n")
    assert session.greeted
    return session


def test_client_line_masks_auth_initial_response():
    secret = base64.b64encode(b"\0bob\0hunter2").decode()
    command = authenticated_session().send_line(f"AUTH PLAIN {secret}").command
    line = display.client_line(command, View())
    assert secret not in text_of(line)
    assert text_of(line) == "AUTH PLAIN ***"
    assert (tok.SECRET, "***") in line
    assert line[0] == (tok.VERB, "AUTH")


def test_client_line_masks_sasl_response():
    session = authenticated_session()
    session.send_line("AUTH LOGIN")
    session.receive_data(b"334 VXNlcm5hbWU6\r\n")
    assert session.awaiting_sasl
    secret = base64.b64encode(b"hunter2").decode()
    command = session.send_line(secret).command
    line = display.client_line(command, View(marks=Marks.SC))
    assert line == [(tok.MARK, "C: "), (tok.SECRET, "***")]


def test_client_line_plain_command():
    line = display.client_line(Command(line="MAIL FROM:<a@example.com> SIZE=10 x", verb="MAIL"), View())
    assert text_of(line) == "MAIL FROM:<a@example.com> SIZE=10 x"
    assert line[0] == (tok.VERB, "MAIL")
    assert (tok.ADDRESS, "FROM:<a@example.com>") in line
    assert (tok.PARAMETER, "SIZE=10") in line
    assert (tok.ARGUMENT, "x") in line


@settings(max_examples=100, deadline=None)
@given(text=ANY_TEXT.filter(lambda s: "\r" not in s and "\n" not in s))
def test_no_raw_control_in_any_client_line(text):
    # Whatever send_line accepts (anything but CR/LF) must be shown safely, verb included.
    command = Command(line=text, verb=(text.split() or [""])[0].upper())
    assert_no_raw_controls([display.client_line(command, View())])


def test_data_line_is_escaped():
    line = display.data_line(b".\x1b[2J\xff", View())
    assert text_of(line) == ".␛[2J\\xff"
    assert_no_raw_controls([line])


@pytest.mark.parametrize("render", [display.note_line, display.warning_line, display.error_line, display.hint_line])
def test_own_voice_lines_are_escaped(render):
    line = render("bad \x1b[2J\r\n thing")
    assert_no_raw_controls([line])
    assert "␛[2J␍␊ thing" in text_of(line)


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\u2066", "\u2028", "\ufeff"])
def test_invisible_and_reordering_characters_are_drawn(char):
    """Bidi overrides and zero-width characters could hide or reorder what a server sent."""
    frags = display.visible(f"250 ok{char}evil", tok.REPLY_TEXT_BY_CLASS[2])
    assert (tok.ESCAPE, f"\\u{ord(char):04x}") in frags
    assert all(char not in text for _, text in frags)


@pytest.mark.parametrize(("raw", "says", "not_says"), [
    ("451 4.7.1 <b@example.com>: Greylisted, please try again in 5 seconds",
     "451: greylisted: a deliberate", ("local error", "delivery not authorized", "a few minutes")),
    ("550 5.5.2 smtpshell.test Error: bare <LF> received",
     "550: a line ended with a bare LF instead of CRLF", ("mailbox unavailable",)),
    ("535 5.7.8 Error: authentication failed: no mechanism available",
     "535: the server cannot use this login method", ("credentials invalid",)),
])
def test_a_reply_whose_words_say_more_than_its_codes_is_explained_by_them(raw, says, not_says):
    from smtpshell.protocol.replies import ReplyParser
    from smtpshell.transcript.display import reply_hints

    [reply] = ReplyParser().feed(raw.encode() + b"\r\n")
    [hint] = reply_hints(reply, None)
    assert hint.startswith(says), hint
    assert not any(text in hint for text in not_says), hint


def test_latency_comes_with_the_reply_before_its_keyword_hint():
    [reply] = ReplyParser().feed(b"250-mx.example\r\n250-PIPELINING\r\n250 HELP\r\n")
    view = display.View(timestamps=True)
    lines = display.reply_lines(reply, view, command=Command(line="EHLO me", verb="EHLO"), t=0.5, latency=0.0015)
    last = "".join(text for _, text in lines[-1])
    assert last.startswith("250 HELP  (1.5 ms)") and "↳ HELP command" in last
    assert last.index("(1.5 ms)") < last.index("↳")
    other = "".join(text for _, text in lines[1])
    assert other.index("↳") == last.index("↳")  # the hints stay in one column
