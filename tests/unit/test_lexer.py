"""The pygments lexer: what each piece of a transcript is coloured as, in every notation,
and the properties the REPL relies on (round trip, termination, speed)."""

import ast
import random
import subprocess
import sys
import time
from pathlib import Path

import pygments
import pygments.lexers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.styles import get_style_by_name
from pygments.token import Comment, Error, Generic, Keyword, Name, Number, String

import smtpshell.highlight.lexer as lexer_module
from smtpshell.highlight import tokens as t
from smtpshell.highlight.lexer import SmtpDataLexer, SmtpLexer

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.smtp"))

POSITIVE = Generic.Inserted.SMTP.Positive
INTERMEDIATE = Number.SMTP.Intermediate
TRANSIENT = String.Regex.SMTP.Transient
PERMANENT = Generic.Deleted.SMTP.Permanent
DATA = String.SMTP.Data
VERB = Keyword.SMTP


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def lex(text: str, **options) -> list:
    """(offset, token, value) as the REPL sees them (no newline preprocessing)."""
    lexer = SmtpLexer(stripnl=False, ensurenl=False, **options)
    return [(pos, tok, val) for pos, tok, val in lexer.get_tokens_unprocessed(text) if val]


def types_covering(text: str, start: int, end: int, **options) -> set:
    """The token types that colour text[start:end]."""
    found = set()
    for pos, tok, val in lex(text, **options):
        if pos < end and pos + len(val) > start:
            found.add(tok)
    return found


def locate(text: str, line: int, piece: str) -> tuple[int, int]:
    """Offsets of the first ``piece`` on 1-based ``line`` of ``text``."""
    lines = text.splitlines(keepends=True)
    offset = sum(len(x) for x in lines[: line - 1])
    column = lines[line - 1].index(piece)
    return offset + column, offset + column + len(piece)


# (sample, line, piece, token): every character of piece has that token.
SAMPLE_CASES = [
    # A pasted telnet session: chatter, replies by class, AUTH, a message.
    ("telnet-auth.smtp", 1, "$ telnet mx.example.net 25", t.NOTE),
    ("telnet-auth.smtp", 2, "Trying 192.0.2.25...", t.NOTE),
    ("telnet-auth.smtp", 3, "Connected to mx.example.net.", t.NOTE),
    ("telnet-auth.smtp", 4, "Escape character is '^]'.", t.NOTE),
    ("telnet-auth.smtp", 5, "220", POSITIVE),
    ("telnet-auth.smtp", 5, "mx.example.net ESMTP Postfix", Generic.Inserted.SMTP.Text.Positive),
    ("telnet-auth.smtp", 6, "ehlo", VERB),
    ("telnet-auth.smtp", 6, "laptop.example.org", t.ARGUMENT),
    ("telnet-auth.smtp", 7, "250", POSITIVE),
    ("telnet-auth.smtp", 14, "auth", VERB),
    ("telnet-auth.smtp", 14, "dXNlcm5hbWU=", t.ARGUMENT),
    ("telnet-auth.smtp", 15, "334", INTERMEDIATE),
    ("telnet-auth.smtp", 16, "cGFzc3dvcmQ=", t.SECRET),
    ("telnet-auth.smtp", 17, "235", POSITIVE),
    ("telnet-auth.smtp", 17, "2.7.0", POSITIVE),
    ("telnet-auth.smtp", 18, "mail", VERB),
    ("telnet-auth.smtp", 18, "from:", VERB),
    ("telnet-auth.smtp", 18, "<alice@example.org>", t.ADDRESS),
    ("telnet-auth.smtp", 18, "SIZE=412", t.PARAMETER),
    ("telnet-auth.smtp", 20, "rcpt", VERB),
    ("telnet-auth.smtp", 20, "to:", VERB),
    ("telnet-auth.smtp", 21, "554", PERMANENT),
    ("telnet-auth.smtp", 21, "5.7.1", PERMANENT),
    ("telnet-auth.smtp", 21, "Relay access denied", Generic.Deleted.SMTP.Text.Permanent),
    ("telnet-auth.smtp", 24, "data", VERB),
    ("telnet-auth.smtp", 25, "354", INTERMEDIATE),
    ("telnet-auth.smtp", 26, "From: Alice <alice@example.org>", DATA),
    ("telnet-auth.smtp", 29, "250 apples", DATA),
    ("telnet-auth.smtp", 30, "550 pears", DATA),
    ("telnet-auth.smtp", 31, "..", DATA),
    ("telnet-auth.smtp", 32, ".", VERB),
    ("telnet-auth.smtp", 33, "250", POSITIVE),
    ("telnet-auth.smtp", 33, "Ok: queued as 308EBE0575E7", Generic.Inserted.SMTP.Text.Positive),
    ("telnet-auth.smtp", 34, "quit", VERB),
    ("telnet-auth.smtp", 36, "Connection closed by foreign host.", t.NOTE),
    # RFC 5321 appendix D.1: S: is the server.
    ("rfc5321-d1.smtp", 1, "S:", t.MARK),
    ("rfc5321-d1.smtp", 1, "220", POSITIVE),
    ("rfc5321-d1.smtp", 2, "C:", t.MARK),
    ("rfc5321-d1.smtp", 2, "EHLO", VERB),
    ("rfc5321-d1.smtp", 2, "bar.com", t.ARGUMENT),
    ("rfc5321-d1.smtp", 8, "<Smith@bar.com>", t.ADDRESS),
    ("rfc5321-d1.smtp", 13, "550", PERMANENT),
    ("rfc5321-d1.smtp", 13, "No such user here", Generic.Deleted.SMTP.Text.Permanent),
    ("rfc5321-d1.smtp", 17, "354", INTERMEDIATE),
    ("rfc5321-d1.smtp", 18, "C:", t.MARK),
    ("rfc5321-d1.smtp", 18, "Blah blah blah...", DATA),
    ("rfc5321-d1.smtp", 19, "250 apples", DATA),
    ("rfc5321-d1.smtp", 21, ".", VERB),
    ("rfc5321-d1.smtp", 22, "250", POSITIVE),
    ("rfc5321-d1.smtp", 23, "QUIT", VERB),
    ("rfc5321-d1.smtp", 24, "221", POSITIVE),
    # RFC 821, indented as in the RFC: S: is the client, R: the server.
    ("rfc821.smtp", 1, "R:", t.MARK),
    ("rfc821.smtp", 1, "220", POSITIVE),
    ("rfc821.smtp", 2, "S:", t.MARK),
    ("rfc821.smtp", 2, "HELO", VERB),
    ("rfc821.smtp", 9, "550", PERMANENT),
    ("rfc821.smtp", 11, "354", INTERMEDIATE),
    ("rfc821.smtp", 13, "250 apples", DATA),
    ("rfc821.smtp", 14, ".", VERB),
    ("rfc821.smtp", 15, "250", POSITIVE),
    ("rfc821.smtp", 16, "QUIT", VERB),
    # swaks: arrows, TLS arrows, errors, notes.
    ("swaks.smtp", 1, "===", t.MARK),
    ("swaks.smtp", 1, "Trying mx.example.net:25...", t.NOTE),
    ("swaks.smtp", 3, "<-", t.MARK),
    ("swaks.smtp", 3, "220", POSITIVE),
    ("swaks.smtp", 4, "->", t.MARK),
    ("swaks.smtp", 4, "EHLO", VERB),
    ("swaks.smtp", 10, "220", POSITIVE),
    ("swaks.smtp", 11, "TLS started with cipher", t.NOTE),
    ("swaks.smtp", 12, "~>", t.MARK),
    ("swaks.smtp", 13, "<~", t.MARK),
    ("swaks.smtp", 17, "334", INTERMEDIATE),
    ("swaks.smtp", 18, "dXNlcg==", t.SECRET),
    ("swaks.smtp", 21, "235", POSITIVE),
    ("swaks.smtp", 25, "<**", t.MARK),
    ("swaks.smtp", 25, "550", PERMANENT),
    ("swaks.smtp", 25, "5.1.1", PERMANENT),
    ("swaks.smtp", 29, "354", INTERMEDIATE),
    ("swaks.smtp", 30, "Subject: test", DATA),
    ("swaks.smtp", 32, "250 apples", DATA),
    ("swaks.smtp", 33, "~>", t.MARK),
    ("swaks.smtp", 33, ".", VERB),
    ("swaks.smtp", 34, "250", POSITIVE),
    ("swaks.smtp", 35, "QUIT", VERB),
    ("swaks.smtp", 37, "Connection closed with remote host.", t.NOTE),
    # Exim -v: SMTP>> sent, SMTP<< received, the message itself unseen.
    ("exim-v.smtp", 1, "LOG: MAIN", t.NOTE),
    ("exim-v.smtp", 4, "R: dnslookup for someone@example.net", t.NOTE),
    ("exim-v.smtp", 7, "SMTP<<", t.MARK),
    ("exim-v.smtp", 7, "220", POSITIVE),
    ("exim-v.smtp", 8, "SMTP>>", t.MARK),
    ("exim-v.smtp", 8, "EHLO", VERB),
    ("exim-v.smtp", 10, "250", POSITIVE),
    ("exim-v.smtp", 10, "PIPELINING", Generic.Inserted.SMTP.Text.Positive),
    ("exim-v.smtp", 13, "SMTP|>", t.MARK),
    ("exim-v.smtp", 13, "MAIL", VERB),
    ("exim-v.smtp", 13, "SIZE=1357", t.PARAMETER),
    ("exim-v.smtp", 18, "354", INTERMEDIATE),
    ("exim-v.smtp", 19, 'writing message and terminating "."', t.NOTE),
    ("exim-v.smtp", 20, "250", POSITIVE),
    ("exim-v.smtp", 21, "QUIT", VERB),
    ("exim-v.smtp", 23, "SMTP(close)>>", t.MARK),
    # sendmail -v: >>> is what the client sent, replies are bare.
    ("sendmail-v.smtp", 1, "someone@example.net... Connecting to", t.NOTE),
    ("sendmail-v.smtp", 2, "220", POSITIVE),
    ("sendmail-v.smtp", 3, ">>>", t.MARK),
    ("sendmail-v.smtp", 3, "EHLO", VERB),
    ("sendmail-v.smtp", 8, "From:", VERB),
    ("sendmail-v.smtp", 8, "SIZE=318", t.PARAMETER),
    ("sendmail-v.smtp", 13, "354", INTERMEDIATE),
    ("sendmail-v.smtp", 14, ">>>", t.MARK),
    ("sendmail-v.smtp", 14, ".", VERB),
    ("sendmail-v.smtp", 15, "250", POSITIVE),
    ("sendmail-v.smtp", 18, "QUIT", VERB),
    ("sendmail-v.smtp", 19, "221", POSITIVE),
    # What the shell itself prints.
    ("shell.smtp", 1, "* connected to 127.0.0.1:2525", t.NOTE),
    ("shell.smtp", 3, "    ↳ greeting: the server is ready", t.HINT),
    ("shell.smtp", 11, ":starttls", t.COLON_COMMAND),
    ("shell.smtp", 12, "* TLS 1.3", t.NOTE),
    ("shell.smtp", 14, "334", INTERMEDIATE),
    ("shell.smtp", 15, "↳ the server asks", t.HINT),
    ("shell.smtp", 16, "***", t.SECRET),
    ("shell.smtp", 18, "***", t.SECRET),
    ("shell.smtp", 20, "BODY=8BITMIME", t.PARAMETER),
    ("shell.smtp", 20, "SMTPUTF8", t.ARGUMENT),
    ("shell.smtp", 22, "NOTIFY=SUCCESS,FAILURE", t.PARAMETER),
    ("shell.smtp", 22, "ORCPT=rfc822;bob@example.org", t.PARAMETER),
    ("shell.smtp", 23, "451", TRANSIENT),
    ("shell.smtp", 23, "4.7.1", TRANSIENT),
    ("shell.smtp", 23, "Greylisted, try again later", String.Regex.SMTP.Text.Transient),
    ("shell.smtp", 23, "␍", t.ESCAPE),
    ("shell.smtp", 29, "↳ type the message", t.HINT),
    ("shell.smtp", 30, "Subject: hello", DATA),
    ("shell.smtp", 30, "␍", t.ESCAPE),
    ("shell.smtp", 31, "250 apples", DATA),
    ("shell.smtp", 32, ".", VERB),
    ("shell.smtp", 33, "250", POSITIVE),
    ("shell.smtp", 34, "***", t.SECRET),
    ("shell.smtp", 35, "503", PERMANENT),
    ("shell.smtp", 36, "! connection lost", t.ERROR),
]


@pytest.mark.parametrize(
    ("name", "line", "piece", "expected"),
    SAMPLE_CASES,
    ids=[f"{n}:{line}:{p}" for n, line, p, _ in SAMPLE_CASES],
)
def test_sample_piece_token(name, line, piece, expected):
    text = sample(name)
    start, end = locate(text, line, piece)
    assert types_covering(text, start, end) == {expected}


# (text, piece, token) for single lines and short exchanges.
INLINE_CASES = [
    # What a user types in the REPL: one line, no newline.
    ("MAIL FROM:<a@b.example> SIZE=100", "MAIL", VERB),
    ("MAIL FROM:<a@b.example> SIZE=100", "FROM:", VERB),
    ("MAIL FROM:<a@b.example> SIZE=100", "<a@b.example>", t.ADDRESS),
    ("MAIL FROM:<a@b.example> SIZE=100", "SIZE=100", t.PARAMETER),
    ("MAIL FROM:<>", "<>", t.ADDRESS),
    ("mail from: <a@b.example>", "<a@b.example>", t.ADDRESS),
    ("MAIL FROM:a@b.example", "a@b.example", t.ADDRESS),
    ("VRFY postmaster@example.org", "postmaster@example.org", t.ADDRESS),
    ("rcpt to:<x@y.example> NOTIFY=NEVER", "to:", VERB),
    ("rcpt to:<x@y.example> NOTIFY=NEVER", "NOTIFY=NEVER", t.PARAMETER),
    ("ehlo h1.home.net", "ehlo", VERB),
    ("ehlo h1.home.net", "h1.home.net", t.ARGUMENT),
    ("EHLO [192.0.2.1]", "[192.0.2.1]", t.ARGUMENT),
    ("auth login dXNlcm5hbWU=", "dXNlcm5hbWU=", t.ARGUMENT),
    ("AUTH PLAIN AHVzZXIAcGFzcw==", "AHVzZXIAcGFzcw==", t.ARGUMENT),
    ("AUTH PLAIN ***", "***", t.SECRET),
    ("XCLIENT NAME=spike.example ADDR=192.0.2.7", "XCLIENT", VERB),
    ("XCLIENT NAME=spike.example ADDR=192.0.2.7", "ADDR=192.0.2.7", t.PARAMETER),
    ("FROBNICATE now", "FROBNICATE", VERB),
    ("starttls", "starttls", VERB),
    (":auth plain alice", ":auth", t.COLON_COMMAND),
    (":expect 2xx", ":expect", t.COLON_COMMAND),
    ("HELO host␍", "␍", t.ESCAPE),
    ("NOOP \\xff", "\\xff", t.ESCAPE),
    # Reply codes by class, with and without text, enhanced codes.
    ("250", "250", POSITIVE),
    ("250 OK\n", "250", POSITIVE),
    ("250-PIPELINING\n", "PIPELINING", Generic.Inserted.SMTP.Text.Positive),
    ("354 go ahead\n", "354", INTERMEDIATE),
    ("421-4.7.0 closing\n", "4.7.0", TRANSIENT),
    ("452 4.3.1 Insufficient system storage\n", "452", TRANSIENT),
    ("535 5.7.8 Authentication credentials invalid\n", "5.7.8", PERMANENT),
    ("199 odd\n", "199", Generic.Output.SMTP.Code.Other),
    ("654 odd\n", "odd", Generic.Output.SMTP.Other),
    ("   250 indented continuation\n", "250", POSITIVE),
    # Not replies: the three digits must be followed by space, "-" or the end.
    ("2500 x\n", "2500", VERB),
    ("250x\n", "250x", VERB),
    # Marks, and content deciding where the marks disagree.
    ("C: 250 odd\n", "250", POSITIVE),
    ("S: MAIL FROM:<a@b>\n", "MAIL", VERB),
    ("S: 250 OK\n", "250", POSITIVE),
    ("      S: 250 OK\n", "S:", t.MARK),
    ("<-- 220 mx ESMTP\n--> EHLO h\n", "<--", t.MARK),
    ("<-- 220 mx ESMTP\n--> EHLO h\n", "-->", t.MARK),
    ("<-- 220 mx ESMTP\n--> EHLO h\n", "EHLO", VERB),
    ("<<< 250 ok\n>>> QUIT\n", "<<<", t.MARK),
    ("<<< 250 ok\n>>> QUIT\n", "250", POSITIVE),
    ("<<< 250 ok\n>>> QUIT\n", "QUIT", VERB),
    ("<-  garbage from server\n", "garbage from server", Generic.Output.SMTP.Other),
    ("*** Error connecting to localhost:25\n", "*** Error connecting", t.ERROR),
    # Chatter.
    ("# telnet mx.example.net 25\n", "# telnet mx.example.net 25", t.NOTE),
    ("user@host:~$ telnet mx.example.net 25\n", "user@host:~$ telnet", t.NOTE),
    ("[root@host ~]# nc mx 25\n", "[root@host ~]# nc mx 25", t.NOTE),
    ("telnet: Unable to connect to remote host\n", "telnet: Unable", t.NOTE),
    ("Trying ::1...\n", "Trying ::1...", t.NOTE),
    ("    ↳ hint\n", "    ↳ hint", t.HINT),
    # Message content: only a line holding exactly "." ends it.
    ("DATA\n354 go\n. \n250 x\n.\n", ". \n250 x", DATA),
    ("DATA\n354 go\n .\n250 x\n.\n", " .\n250 x", DATA),
    ("DATA\n354-wait\nRSET\n", "RSET", VERB),
    ("DATA\n354 go\n250 apples\n.\n250 ok\n", "250 apples", DATA),
    ("DATA\r\n354 go\r\n250 apples\r\n.\r\n250 ok\r\n", "250 apples", DATA),
    ("DATA\r\n354 go\r\n250 apples\r\n.\r\n250 ok\r\n", "ok", Generic.Inserted.SMTP.Text.Positive),
    ("C: DATA\nS: 354 go\nC: 250 apples\nC: .\nS: 250 ok\n", "ok", Generic.Inserted.SMTP.Text.Positive),
    # swaks output without the message shown: the server's next line ends it.
    (" -> DATA\n<-  354 go\n<-  250 queued\n", "250", POSITIVE),
    # AUTH: the line after a final 334 is a secret, unless it is a reply.
    ("AUTH LOGIN\n334 VXNlcm5hbWU6\nYWxpY2U=\n", "YWxpY2U=", t.SECRET),
    ("AUTH LOGIN\n334 VXNlcm5hbWU6\n535 no\n", "535", PERMANENT),
    ("S: 334 VXNlcm5hbWU6\nC: YWxpY2U=\nS: 235 ok\n", "YWxpY2U=", t.SECRET),
    ("S: 334 VXNlcm5hbWU6\nS: 535 5.7.8 no\n", "535", PERMANENT),
    ("AUTH LOGIN\n334 VXNlcm5hbWU6\n! connection lost\n", "! connection lost", t.ERROR),
    (
        " -> DATA\n<-  354 go\n -> a\n*** Remote host closed connection\n -> QUIT\n",
        "QUIT",
        VERB,
    ),
]


@pytest.mark.parametrize(
    ("text", "piece", "expected"),
    INLINE_CASES,
    ids=[f"{text[:30]!r}:{piece}" for text, piece, _ in INLINE_CASES],
)
def test_inline_piece_token(text, piece, expected):
    start = text.index(piece)
    assert types_covering(text, start, start + len(piece)) == {expected}


def test_message_ends_and_the_next_reply_is_a_reply_again():
    text = "data\n354 go\n250 apples\n.\n250 Ok: queued\n"
    pieces = [(tok, val) for _, tok, val in lex(text)]
    assert (DATA, "250 apples\n") in pieces
    dot = pieces.index((VERB, "."))
    assert pieces[dot + 2] == (POSITIVE, "250")


def test_indata_option_starts_inside_the_message():
    """The REPL lexes a line typed after 354 as message content."""
    assert types_covering("250 apples", 0, 10, indata=True) == {DATA}
    text = "250 apples\n.\n250 ok"
    assert types_covering(text, 11, 12, indata=True) == {VERB}
    assert types_covering(text, 13, 16, indata=True) == {POSITIVE}


def test_the_data_lexer_is_the_lexer_in_data_for_prompt_toolkit():
    from prompt_toolkit.document import Document
    from prompt_toolkit.lexers import PygmentsLexer

    line = PygmentsLexer(SmtpDataLexer).lex_document(Document("250 apples"))(0)
    assert line == [("class:pygments.literal.string.smtp.data", "250 apples")]
    line = PygmentsLexer(SmtpLexer).lex_document(Document("250 apples"))(0)
    assert line[0] == ("class:pygments.generic.inserted.smtp.positive", "250")
    assert SmtpDataLexer.aliases == []


def test_a_stack_without_root_is_completed():
    lexer = SmtpLexer(stripnl=False, ensurenl=False)
    out = list(lexer.get_tokens_unprocessed("<-  250 ok\n", stack=("data-swaks",)))
    assert "".join(v for _, _, v in out) == "<-  250 ok\n"
    assert (POSITIVE, "250") in [(tok, v) for _, tok, v in out]


# --- properties --------------------------------------------------------------


def assert_round_trip(text: str, **options) -> None:
    """REPL path (raw) and pygmentize path (preprocessed) both give the input back."""
    lexer = SmtpLexer(stripnl=False, ensurenl=False, **options)
    raw = list(lexer.get_tokens_unprocessed(text))
    assert "".join(v for _, _, v in raw) == text
    assert not [v for _, tok, v in raw if tok in Error]
    position = 0
    for pos, _, value in raw:
        assert pos == position
        position += len(value)
    processed = list(lexer.get_tokens(text))
    expected = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    assert "".join(v for _, v in processed) == expected
    assert not [v for tok, v in processed if tok in Error]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_prefix_of_every_sample_round_trips(name):
    text = sample(name)
    lexer = SmtpLexer(stripnl=False, ensurenl=False)
    for end in range(len(text) + 1):
        prefix = text[:end]
        values = []
        for tok, value in lexer.get_tokens(prefix):
            assert tok not in Error, (end, value)
            values.append(value)
        assert "".join(values) == prefix


def test_seed_session_round_trips():
    seed = Path("/work/shared/seed/telnet-esmtp-auth-session.txt")
    if not seed.exists():
        pytest.skip("seed transcript not present")
    text = seed.read_text(encoding="utf-8")
    assert_round_trip(text)
    rng = random.Random(5321)
    for end in rng.sample(range(len(text) + 1), 300):
        assert_round_trip(text[:end])


def test_every_sample_round_trips_with_crlf_and_in_data():
    for name in SAMPLE_NAMES:
        text = sample(name)
        assert_round_trip(text.replace("\n", "\r\n"))
        assert_round_trip(text, indata=True)


def test_no_rule_matches_empty_text_without_changing_state():
    """Such a rule makes pygments loop forever (the REPL freezes on a key press)."""
    SmtpLexer()  # the token definitions are compiled on first use
    texts = [sample(name) for name in SAMPLE_NAMES]
    texts += ["", "\n", " ", "\r", "x", "250", "C:", "<", "\\", "␍", "***", "\t\n"]
    for state, rules in SmtpLexer._tokens.items():
        for rexmatch, _action, new_state in rules:
            if new_state is not None:
                continue
            for text in texts:
                for pos in range(len(text) + 1):
                    m = rexmatch(text, pos)
                    assert not (m and m.end() == pos), (state, rexmatch, text, pos)


SMTPISH = st.sampled_from(
    [
        "220 ", "250-", "250 ", "354 ", "354-", "334 ", "421 ", "554 5.7.1 ", "199 ",
        "2.1.0 ", "EHLO ", "MAIL FROM:", "RCPT TO:", "DATA", "AUTH LOGIN", "QUIT",
        "<a@b.example>", "<", ">", "SIZE=10", "=", "***", "**", "*", "* ", "! ",
        ".", "..", "\n", "\r\n", "\r", " ", "\t", "S: ", "C: ", "R: ", "S:", "C:",
        "<-  ", " -> ", "<~  ", " ~> ", "<** ", " **> ", "=== ", "<-- ", "--> ",
        ">>> ", "<<< ", "SMTP>> ", "SMTP<< ", "SMTP|> ", "SMTP(close)>>", "    ↳ ",
        "↳", "␍", "␊", "␀", "␛", "\\x", "\\xff", "\\", ":", ":auth ", "$ ", "# ",
        "telnet ", "Trying ", "...", "Connected to ", "x", "apples", "@", "\ufeff",
        "\x0b", "\x1c", "\u2028", "\x85", "writing message and terminating",
        "R: r for a@b", "CONNECTED(", "Connection closed by foreign host.",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(SMTPISH, max_size=40).map("".join))
def test_smtpish_text_round_trips(text):
    assert_round_trip(text)
    assert_round_trip(text, indata=True)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_unicode_round_trips(text):
    assert_round_trip(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(SMTPISH, max_size=20).map("".join), st.text(max_size=20))
def test_mixed_text_round_trips(smtpish, noise):
    assert_round_trip(smtpish + noise + smtpish)


# --- speed -------------------------------------------------------------------


def _timed(text: str) -> float:
    lexer = SmtpLexer(stripnl=False, ensurenl=False)
    start = time.perf_counter()
    for _ in lexer.get_tokens_unprocessed(text):
        pass
    return time.perf_counter() - start


def test_a_long_transcript_lexes_in_linear_time():
    lines = sample("telnet-auth.smtp").splitlines(keepends=True)
    text = "".join((lines * (20_000 // len(lines) + 1))[:20_000])
    # about 0.2 s here; 100,000 lines take about 1 s
    assert _timed(text) < 4.0


@pytest.mark.parametrize(
    "line",
    [
        "MAIL FROM:" + "a" * 100_000,
        "MAIL FROM:<" + "a" * 100_000,
        "<" * 100_000,
        "a<" * 50_000,
        "a." * 50_000,
        "x=" * 50_000,
        "250 " + "x" * 100_000,
        "1" * 100_000,
        " " * 100_000,
        "SMTP(" * 20_000,
        "[" * 100_000,
        "x$" * 50_000,
        "Trying " + "x" * 100_000,
        "C: DATA\nS: 354 go\nC: " + "y" * 100_000,
        "DATA\n354 go\n" + "␍" * 100_000,
    ],
    ids=lambda line: repr(line[:12]),
)
def test_a_100kb_line_lexes_fast(line):
    assert _timed(line) < 2.0


# --- packaging and styles ----------------------------------------------------


def test_registered_through_the_entry_point():
    assert isinstance(pygments.lexers.get_lexer_by_name("smtp"), SmtpLexer)
    assert pygments.lexers.find_lexer_class_for_filename("x.smtp") is SmtpLexer
    assert isinstance(pygments.lexers.get_lexer_for_mimetype("text/x-smtp"), SmtpLexer)
    assert SmtpLexer.name == "SMTP"


def test_pygmentize_colours_a_transcript():
    path = SAMPLES / "telnet-auth.smtp"
    out = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "smtp", "-f", "raw", str(path)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    assert "Token.Generic.Deleted.SMTP.Permanent\t'554'" in out
    assert "Token.Literal.String.SMTP.Data\t'250 apples\\n'" in out
    coloured = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "smtp", "-f", "terminal256",
         "-O", "style=monokai", str(path)],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    assert "\x1b[" in coloured and "554" in coloured


@pytest.mark.parametrize(
    ("token", "parent"),
    [
        (t.CODE_BY_CLASS[2], Generic.Inserted),
        (t.CODE_BY_CLASS[3], Number),
        (t.CODE_BY_CLASS[4], String.Regex),
        (t.CODE_BY_CLASS[5], Generic.Deleted),
        *[(t.REPLY_TEXT_BY_CLASS[cls], t.CLASS_PARENT[cls]) for cls in (2, 3, 4, 5)],
        (t.CODE_OTHER, Generic.Output),
        (t.VERB, Keyword),
        (t.NOTE, Comment),
        (t.DATA, String),
        (t.ADDRESS, Name),
        (t.ERROR, Generic.Error),
    ],
)
@pytest.mark.parametrize("style", ["default", "monokai"])
def test_stock_styles_fall_back_to_the_parent_token(token, parent, style):
    stock = get_style_by_name(style)

    def resolved(tok):
        # what formatters do: the nearest token the style knows
        while not stock.styles_token(tok):
            tok = tok.parent
        return tok

    assert not stock.styles_token(token)
    assert resolved(token) == resolved(parent)


def test_the_module_imports_only_pygments_and_the_token_types():
    tree = ast.parse(Path(lexer_module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    allowed = ("pygments.", "smtpshell.highlight.tokens", "__future__.")
    assert imported and all(
        name == "re" or name.startswith(allowed) for name in imported
    ), imported


def test_analyse_text_recognises_sessions_only():
    for name in ("telnet-auth.smtp", "rfc5321-d1.smtp", "swaks.smtp", "sendmail-v.smtp"):
        assert SmtpLexer.analyse_text(sample(name)) >= 0.5, name
    assert SmtpLexer.analyse_text("Dear Sir,\nthe weather is fine.\n") == 0.0
    assert SmtpLexer.analyse_text("def f():\n    return 250\n") == 0.0
