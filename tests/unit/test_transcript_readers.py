"""Reading transcripts in every notation: what events each sample gives, detection, and the
property that any text gives a Transcript or a TranscriptError, nothing else."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpshell.transcript.events import ClientLine, Note, ServerReply, Transcript, TranscriptError
from smtpshell.transcript.jsonl import write_jsonl
from smtpshell.transcript.readers import NOTATIONS, read, read_bytes
from smtpshell.transcript.writers import FORMATS, write

SAMPLES = Path(__file__).parent / "samples_transcript"
LEXER_SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def shape(transcript: Transcript) -> list[tuple]:
    """Events in a compact, comparable form: ("S", code, first line) / ("C", line) / ("D", line) / ("N", kind, text)."""
    out = []
    for e in transcript.events:
        if isinstance(e, ServerReply):
            out.append(("S", e.code, len(e.lines)))
        elif isinstance(e, ClientLine):
            out.append(("D" if e.data else "C", e.line))
        else:
            out.append(("N", e.kind, e.text))
    return out


# ----- the seed: a blog post with a telnet session inside ----------------------------

SEED_SHAPE = [
    ("S", 220, 1),
    ("C", "ehlo h1.home.net"),
    ("S", 250, 9),
    ("C", "auth login dXNlcm5hbWU="),
    ("S", 334, 1),
    ("C", "cGFzc3dvcmQ="),
    ("S", 235, 1),
    ("C", "mail from:<norbert@acodedb.com>"),
    ("S", 250, 1),
    ("C", "rcpt to:<info@acodedb.com>"),
    ("S", 250, 1),
    ("C", "data"),
    ("S", 354, 1),
    ("D", "from: name_of_sender <norbert@acodedb.com>"),
    ("D", "to: name_of_recipient <info@acodedb.com>"),
    ("D", "subject:test"),
    ("D", "Enter the actual mailtext here...blabla. "),
    ("C", "."),
    ("S", 250, 1),
    ("C", "quit"),
    ("S", 221, 1),
]


def test_seed_blog_post_reads_to_the_session_and_nothing_else():
    transcript = read(sample("seed-telnet-esmtp-auth-session.txt"), show_secrets=True)
    assert transcript.notation == "text"
    assert shape(transcript) == SEED_SHAPE
    assert transcript.header.host == "mymailserver.com" and transcript.header.port == 25
    ehlo = transcript.replies[1]
    assert ehlo.lines[0] == "250-mymailserver.com" and ehlo.lines[-1] == "250 8BITMIME"
    assert all(e.t is None for e in transcript.events)  # a paste has no timing


def test_seed_pasted_as_is_with_crlf_and_a_bom():
    text = "\ufeff" + sample("seed-telnet-esmtp-auth-session.txt").replace("\n", "\r\n")
    assert shape(read(text, show_secrets=True)) == SEED_SHAPE


def test_the_session_alone_without_chatter_reads_the_same():
    lines = sample("seed-telnet-esmtp-auth-session.txt").split("\n")
    start = lines.index("220 mymailserver.com ESMTP Postfix")
    end = lines.index("221 Bye")
    assert shape(read("\n".join(lines[start:end + 1]) + "\n", show_secrets=True)) == SEED_SHAPE


# ----- each notation -------------------------------------------------------------------


def test_rfc5321_appendix_d1_s_c():
    transcript = read(sample("rfc5321-d1.txt"))
    assert transcript.notation == "sc"
    assert shape(transcript) == [
        ("S", 220, 1), ("C", "EHLO bar.com"), ("S", 250, 5),
        ("C", "MAIL FROM:<Smith@bar.com>"), ("S", 250, 1),
        ("C", "RCPT TO:<Jones@foo.com>"), ("S", 250, 1),
        ("C", "RCPT TO:<Green@foo.com>"), ("S", 550, 1),
        ("C", "RCPT TO:<Brown@foo.com>"), ("S", 250, 1),
        ("C", "DATA"), ("S", 354, 1),
        ("D", "Blah blah blah..."),
        ("D", "..etc. etc. etc."),  # on the wire "...etc": one dot was stuffing
        ("C", "."), ("S", 250, 1),
        ("C", "QUIT"), ("S", 221, 1),
    ]
    assert transcript.header.host == "foo.com"


def test_data_payload_is_never_a_reply_even_250_apples():
    transcript = read(sample("rfc5321-d4.txt"))
    data = [e.line for e in transcript.client_lines if e.data]
    assert data == ["Blah blah blah...", "250 apples", ""]
    assert [r.code for r in transcript.replies] == [220, 250, 250, 250, 250, 354, 250, 221]


def test_rfc821_where_s_is_the_sender():
    transcript = read(sample("rfc821-example1.txt"))
    assert transcript.notation == "rfc821"
    assert shape(transcript) == [
        ("C", "MAIL FROM:<Smith@Alpha.ARPA>"), ("S", 250, 1),
        ("C", "RCPT TO:<Jones@Beta.ARPA>"), ("S", 250, 1),
        ("C", "RCPT TO:<Green@Beta.ARPA>"), ("S", 550, 1),
        ("C", "RCPT TO:<Brown@Beta.ARPA>"), ("S", 250, 1),
        ("C", "DATA"), ("S", 354, 1),
        ("D", "Blah blah blah..."), ("D", "250 apples, said the body"),
        ("C", "."),  # written "<CRLF>.<CRLF>" in RFC 821
        ("S", 250, 1),
    ]


def test_swaks_with_starttls_auth_and_an_error_reply():
    transcript = read(sample("swaks-starttls-auth.txt"), show_secrets=True)
    assert transcript.notation == "swaks"
    assert transcript.header.host == "mx.example.net" and transcript.header.port == 587
    s = shape(transcript)
    assert s[:2] == [("N", "info", "Trying mx.example.net:587..."), ("N", "info", "Connected to mx.example.net.")]
    assert ("N", "tls", "TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256") in s
    tls_at = s.index(("N", "tls", "TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256"))
    assert s[tls_at - 2:tls_at] == [("C", "STARTTLS"), ("S", 220, 1)]
    assert ("C", "YWxpY2U=") in s and ("C", "d29uZGVybGFuZA==") in s
    assert [r.code for r in transcript.replies] == [220, 250, 220, 250, 334, 334, 235, 250, 550, 250, 354, 250, 221]
    data = [e.line for e in transcript.client_lines if e.data]
    assert data[-4:] == ["", "250 apples", ".a line that starts with a dot", ""]
    assert s[-1] == ("N", "info", "Connection closed with remote host.")


def test_telnet_paste_with_prompt_and_chatter():
    transcript = read(sample("telnet-greylist.txt"))
    assert transcript.notation == "text"
    assert transcript.header.host == "mx.example.net" and transcript.header.port == 25
    s = shape(transcript)
    assert s[0] == ("S", 220, 1) and s[-1] == ("S", 221, 1)
    assert ("S", 450, 1) in s
    assert [e.line for e in transcript.client_lines if e.data] == ["Subject: fruit", "", "250 apples", ".hidden"]
    assert not any(isinstance(e, Note) for e in transcript.events)  # chatter is left out


def test_blog_post_without_terminal_chatter_finds_the_session():
    transcript = read(sample("blog-no-chatter.txt"))
    s = shape(transcript)
    assert s[0] == ("S", 220, 1) and s[-1] == ("S", 221, 1)
    assert ("D", "250 is not a reply here") in s
    assert not any("That's it" in str(item) for item in s)


def test_exim_pipelined_with_unseen_message():
    transcript = read(sample("exim-v.txt"))
    assert transcript.notation == "exim"
    assert transcript.header.host == "mx.example.net" and transcript.header.port == 25
    assert shape(transcript) == [
        ("S", 220, 1), ("C", "EHLO laptop.example.org"), ("S", 250, 4),
        ("C", "MAIL FROM:<alice@example.org> SIZE=1357"), ("C", "RCPT TO:<bob@example.net>"), ("C", "DATA"),
        ("S", 250, 1), ("S", 250, 1), ("S", 354, 1),
        ("N", "info", 'writing message and terminating "."'),
        ("C", "."),  # the content is not shown, but the dot went out
        ("S", 250, 1), ("C", "QUIT"), ("S", 221, 1),
    ]


def test_sendmail_v():
    transcript = read(sample("sendmail-v.txt"))
    assert transcript.notation == "sendmail"
    assert shape(transcript) == [
        ("S", 220, 1), ("C", "EHLO laptop.example.org"), ("S", 250, 4),
        ("C", "MAIL From:<alice@example.org> SIZE=318"), ("S", 250, 1),
        ("C", "RCPT To:<bob@example.net>"), ("C", "DATA"), ("S", 250, 1), ("S", 354, 1),
        ("C", "."), ("S", 250, 1), ("C", "QUIT"), ("S", 221, 1),
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in LEXER_SAMPLES.glob("*.smtp")))
def test_the_lexer_samples_read_too(name):
    transcript = read((LEXER_SAMPLES / name).read_text(encoding="utf-8"))
    assert transcript.replies and transcript.client_lines
    assert transcript.replies[-1].code is not None


def test_the_shells_own_output_reads_back():
    transcript = read((LEXER_SAMPLES / "shell.smtp").read_text(encoding="utf-8"))
    s = shape(transcript)
    assert s[0] == ("N", "info", "connected to 127.0.0.1:2525")
    assert ("N", "tls", "TLS 1.3, TLS_AES_256_GCM_SHA384, certificate for demo.localhost (self-signed)") in s
    secrets = [e for e in transcript.client_lines if e.secret]
    assert [e.line for e in secrets] == ["***", "***", "AUTH PLAIN ***"]
    assert not any("↳" in str(item) for item in s)


# ----- details -------------------------------------------------------------------------


def test_notation_override_and_unknown_notation():
    text = "S: 220 hi\nC: QUIT\nS: 221 bye\n"
    assert read(text).notation == "sc"
    with pytest.raises(TranscriptError, match="no SMTP session"):
        read(text, notation="text")  # as bare text, "S: 220" is not a reply
    forced = read("220 hi\nEHLO me\n250 ok\n", notation="sendmail")
    assert forced.notation == "sendmail" and not forced.client_lines  # its client lines are ">>>" lines
    with pytest.raises(TranscriptError, match="unknown notation"):
        read(text, notation="morse")


def test_a_reply_line_without_a_code_is_kept_with_code_none():
    transcript = read("S: 220 hi\nC: EHLO me\nS: hello there\nS: 250 ok\n")
    assert [(r.code, r.lines) for r in transcript.replies] == [
        (220, ("220 hi",)), (None, ("hello there",)), (250, ("250 ok",)),
    ]


def test_a_multi_line_reply_cut_short_by_a_client_line_is_still_one_reply():
    transcript = read("S: 220 hi\nC: EHLO me\nS: 250-one\nS: 250-two\nC: QUIT\nS: 221 bye\n")
    assert [r.lines for r in transcript.replies][1] == ("250-one", "250-two")


def test_starttls_in_a_notation_without_tls_lines_gets_a_tls_note():
    transcript = read("S: 220 hi\nC: STARTTLS\nS: 220 go ahead\nC: EHLO me\nS: 250 ok\n")
    assert ("N", "tls", "TLS started (STARTTLS)") in shape(transcript)
    assert shape(transcript)[3] == ("N", "tls", "TLS started (STARTTLS)")


def test_shell_timestamps_become_event_times():
    text = "[   0.012] S: 220 hi\n[   1.500] C: EHLO me\n[   1.520] S: 250 ok  (20.0 ms)\n"
    transcript = read(text)
    assert [e.t for e in transcript.events] == [0.012, 1.5, 1.52]
    assert transcript.replies[-1].lines == ("250 ok",)


def test_invalid_utf8_is_kept_exactly_as_raw():
    data = b"220 hi\r\nEHLO caf\xe9\r\n250 ok\r\n"
    transcript = read_bytes(data)
    ehlo = transcript.client_lines[0]
    assert ehlo.line == "EHLO caf\\xe9" and ehlo.raw == b"EHLO caf\xe9\r\n"


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n\n", "empty"),
    ("Dear diary, today nothing happened.\n", "no SMTP session"),
    ('{"smtpshell": 1}\n{"t": 1.0, "dir": "sideways"}\n', "unknown 'dir'"),
    ('{"smtpshell": 7}\n', "format 7"),
    ('{"smtpshell": 1}\nnot json\n{"t": 1.0, "dir": "info", "text": "x"}\n', "line 2: not JSON"),
])
def test_not_a_transcript_is_a_clear_error(text, message):
    with pytest.raises(TranscriptError, match=message):
        read(text)


# ----- properties ----------------------------------------------------------------------

_PIECES = st.sampled_from([
    "220 mx.example.net ESMTP", "250-PIPELINING", "250 OK", "354 go", "334 VXNlcm5hbWU6", "221 bye",
    "EHLO me", "MAIL FROM:<a@b>", "DATA", "STARTTLS", "BDAT 5 LAST", ".", "..", "", "***",
    "S: 220 x", "C: DATA", "R: 250 ok", "<-  220 x", " -> EHLO x", "<~* 550 no", "=== TLS started",
    "*** error", "SMTP<< 250 ok", "SMTP>> QUIT", "         250-x", ">>> MAIL", "<<< 250", "[   1.000] ",
    "Trying 1.2.3.4...", "Connected to x.", "Escape character is '^]'.", "Connection closed by foreign host.",
    "$ telnet mx 25", "* note", "! error", "    ↳ hint", '{"smtpshell": 1}', '{"t": 1, "dir": "client", "line": "x"}',
    "{", "[[[[[[", "250", "2500", "٣٣٣ arabic digits",
])
_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)
_LINES = st.lists(st.one_of(_PIECES, _ANY_TEXT, st.builds(lambda a, b: a + b, _PIECES, _ANY_TEXT)), max_size=30)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES, st.sampled_from(["\n", "\r\n"]), st.sampled_from([None, *NOTATIONS]))
def test_any_text_gives_a_transcript_or_a_transcript_error(lines, newline, notation):
    text = newline.join(lines)
    try:
        transcript = read(text, notation=notation)
    except TranscriptError as exc:
        assert str(exc)
        return
    assert isinstance(transcript, Transcript)
    # ... and whatever was read can be written in every format, and JSONL is canonical.
    for fmt in FORMATS:
        write(transcript, fmt).encode("utf-8")  # text that can be written out
        write(transcript, fmt, redact=True).encode("utf-8")
    once = write_jsonl(transcript)
    assert write_jsonl(read(once)) == once


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_transcript_or_a_transcript_error(data):
    try:
        read_bytes(data)
    except TranscriptError:
        pass


def test_bdat_content_is_payload_by_its_size():
    transcript = read("220 hi\nBDAT 12 LAST\n250 apples\n250 2.0.0 queued\nBDAT ²\n501 bad\n")
    assert [(c.line, c.data) for c in transcript.client_lines] == [
        ("BDAT 12 LAST", False), ("250 apples", True), ("BDAT ²", False),
    ]
    assert [r.code for r in transcript.replies] == [220, 250, 501]


def test_bare_text_keeps_the_session_after_bdat_content_that_looks_like_prose():
    text = "220 mx\nEHLO me\n250-mx\n250 CHUNKING\nBDAT 21 LAST\nSubject: x\n.dotted\n250 ok\nQUIT\n221 bye\n"
    transcript = read(text)
    assert [r.code for r in transcript.replies] == [220, 250, 250, 221]
    assert [(c.line, c.data) for c in transcript.client_lines][2:] == [
        ("Subject: x", True), (".dotted", True), ("QUIT", False)]
