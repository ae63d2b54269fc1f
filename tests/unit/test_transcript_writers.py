"""Writing transcripts: text, S:/C:, swaks, HTML, asciicast, and --redact."""

import html
import json
import re
from pathlib import Path

import pytest

from smtpshell.transcript.events import ClientLine, Header, Note, ServerReply, Transcript
from smtpshell.transcript.readers import read
from smtpshell.transcript.redact import Redactor, redact
from smtpshell.transcript.writers import FORMATS, write

SAMPLES = Path(__file__).parent / "samples_transcript"


def seed(show_secrets=True) -> Transcript:
    text = (SAMPLES / "seed-telnet-esmtp-auth-session.txt").read_text(encoding="utf-8")
    return read(text, show_secrets=show_secrets)


def events_without_times(transcript):
    return [e.__class__(**{**e.__dict__, "t": None}) for e in transcript.events]


def test_seed_to_swaks():
    out = write(seed(), "swaks")
    assert out.splitlines()[:4] == [
        "<-  220 mymailserver.com ESMTP Postfix",
        " -> ehlo h1.home.net",
        "<-  250-mymailserver.com",
        "<-  250-PIPELINING",
    ]
    assert " -> auth login dXNlcm5hbWU=\n<-  334 UGFzc3dvcmQ6\n -> cGFzc3dvcmQ=\n" in out
    assert " -> Enter the actual mailtext here...blabla. \n -> .\n<-  250 Ok: queued as 308EBE0575E7\n" in out
    assert out.endswith(" -> quit\n<-  221 Bye\n")
    # and swaks notation reads back to the same events
    again = read(out, show_secrets=True)
    assert again.notation == "swaks" and events_without_times(again) == events_without_times(seed())


def test_swaks_marks_follow_tls_and_errors():
    transcript = read((SAMPLES / "swaks-starttls-auth.txt").read_text(encoding="utf-8"))
    out = write(transcript, "swaks")
    assert "<-  220 2.0.0 Ready to start TLS\n=== TLS started with cipher" in out
    assert " ~> AUTH LOGIN\n" in out
    assert "<~* 550 5.1.1 <nobody@example.net>" in out
    assert " ~> ..a line that starts with a dot\n" in out  # stuffed, as on the wire
    assert events_without_times(read(out)) == events_without_times(transcript)


@pytest.mark.parametrize("fmt", ["text", "sc", "swaks"])
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.txt")))
def test_text_notations_read_back_to_the_same_exchange(fmt, name):
    transcript = read((SAMPLES / name).read_text(encoding="utf-8"))
    again = read(write(transcript, fmt))
    # Notes may be left out (in bare text, a note inside a message would read as content).
    assert [e for e in events_without_times(again) if not isinstance(e, Note)] == [
        e for e in events_without_times(transcript) if not isinstance(e, Note)
    ]


def test_sc_and_bare_text():
    sc = write(seed(), "sc")
    assert sc.startswith("S: 220 mymailserver.com ESMTP Postfix\nC: ehlo h1.home.net\nS: 250-mymailserver.com\n")
    text = write(seed(), "text")
    assert text.startswith("220 mymailserver.com ESMTP Postfix\nehlo h1.home.net\n")


def test_lines_that_would_break_the_notation_are_drawn_visibly():
    transcript = Transcript(header=Header(), notation="jsonl", events=(
        ServerReply(t=0.0, code=220, lines=("220 hi\r there\x1b[2J",)),
        ClientLine(t=0.1, line="NOOP\n", raw=b"NOOP\n"),
        Note(t=0.2, kind="error", text="bad\nthing"),
    ))
    assert write(transcript, "text") == "220 hi␍ there␛[2J\nNOOP␊\n! bad␊thing\n"


def test_html_is_a_standalone_escaped_page_in_the_shells_colours():
    page = write(seed(), "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http://" not in page and "https://" not in page  # works offline
    assert "&lt;norbert@acodedb.com&gt;" in page and "<norbert@" not in page
    assert "challenge decodes to: Password:" in page  # the hints, as the shell shows them
    assert "<title>SMTP session with mymailserver.com:25</title>" in page
    # 2xx, 3xx and client lines each in their own colour
    css = dict(re.findall(r"\.(s\d+)\{([^}]*)\}", page))
    code_220 = re.search(r'<span class="(s\d+)">220</span>', page).group(1)
    code_334 = re.search(r'<span class="(s\d+)">334</span>', page).group(1)
    verb = re.search(r'<span class="(s\d+)">ehlo</span>', page).group(1)
    assert len({css[code_220], css[code_334], css[verb]}) == 3
    text = html.unescape(re.sub(r"<[^>]+>", "", page.split("<pre>")[1].split("</pre>")[0]))
    assert "250-SIZE 10240000" in text and "maximum message size 10 MB" in text


def test_html_with_another_pygments_style():
    assert "background:#272822" in write(seed(), "html", style="monokai")


@pytest.mark.parametrize(("style", "page_colours"), [
    (None, "background:#1e1e1e;color:#d4d4d4"),  # the shell's own: light text on dark
    ("monokai", "background:#272822;color:#f8f8f2"),  # the style's own text colour
    ("friendly", "background:#f0f0f0;color:#1e1e1e"),  # a light page gets dark text
    ("bw", "background:#ffffff;color:#1e1e1e"),
])
def test_html_plain_text_is_readable_on_the_styles_page(style, page_colours):
    assert f"body{{{page_colours};" in write(seed(), "html", style=style)


def test_asciicast_is_v2_with_increasing_times():
    recorded = read((SAMPLES / "seed-telnet-esmtp-auth-session.txt").read_text(encoding="utf-8"))
    lines = write(recorded, "asciicast").splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2 and 80 <= header["width"] <= 120 and header["height"] > 0  # readable embedded
    events = [json.loads(line) for line in lines[1:]]
    assert all(kind == "o" and isinstance(data, str) for _, kind, data in events)
    times = [t for t, _, _ in events]
    assert times == sorted(times) and times[-1] > times[0]
    output = "".join(data for _, _, data in events)
    assert "\x1b[" in output and "\r\n" in output
    assert "challenge decodes to: Password:" in output


def test_asciicast_uses_recorded_times_and_start():
    transcript = Transcript(
        header=Header(host="h", port=25, started="2024-01-01T10:00:00.000+00:00"), notation="jsonl",
        events=(ServerReply(t=0.5, code=220, lines=("220 hi",)), ClientLine(t=2.25, line="QUIT"),
                ServerReply(t=2.3, code=221, lines=("221 bye",))),
    )
    lines = write(transcript, "asciicast").splitlines()
    assert json.loads(lines[0])["timestamp"] == 1704103200
    assert [json.loads(line)[0] for line in lines[1:]] == [0.5, 2.25, 2.3]


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        write(seed(), "pdf")


# ----- redaction -------------------------------------------------------------------------


def test_redact_masks_addresses_hosts_and_credentials_consistently():
    out = write(seed(), "swaks", redact=True)
    for secret in ("acodedb", "mymailserver", "h1.home.net", "dXNlcm5hbWU=", "cGFzc3dvcmQ="):
        assert secret not in out
    assert "<-  220 host1.example.invalid ESMTP Postfix" in out
    assert "<-  250-host1.example.invalid" in out  # the same host, the same name
    assert " -> ehlo host2.example.invalid" in out
    assert " -> mail from:<user1@example.invalid>" in out
    assert " -> from: name_of_sender <user1@example.invalid>" in out  # the same address again
    assert " -> rcpt to:<user2@example.invalid>" in out
    assert " -> auth login ***" in out and " -> ***\n" in out
    assert "334 UGFzc3dvcmQ6" in out  # server challenges stay: they are the protocol


def test_redact_header_notes_raw_and_ips():
    transcript = Transcript(
        header=Header(host="mx.corp.example.com", port=25), notation="jsonl",
        events=(
            Note(t=0.0, kind="info", text="connected to mx.corp.example.com:25 (198.18.7.9:25)"),
            ServerReply(t=0.1, code=220, lines=("220 MX.corp.example.com hi\xff",), raw=b"220 MX.corp.example.com hi\xff\r\n"),
        ),
    )
    out = redact(transcript)
    assert out.header.host == "host1.example.invalid"
    assert out.events[0].text == "connected to host1.example.invalid:25 (192.0.2.1:25)"
    assert out.events[1].raw == b"220 host1.example.invalid hi\xff\r\n"


def test_redactor_leaves_protocol_words_alone():
    r = Redactor()
    text = "250 2.0.0 Ok: queued as 308EBE0575E7 TLSv1.3 8.17.1/8.17.1 <CR><LF>.<CR><LF> AUTH=PLAIN SIZE=10240000"
    assert r.text(text) == text
    assert r.text("ORCPT=rfc822;bob@example.org NOTIFY=NEVER") == "ORCPT=rfc822;user1@example.invalid NOTIFY=NEVER"
    assert r.text("user1@example.invalid host1.example.invalid") == "user1@example.invalid host1.example.invalid"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_every_sample(fmt):
    for path in sorted(SAMPLES.glob("*.txt")):
        assert write(read(path.read_text(encoding="utf-8")), fmt, redact=True)
