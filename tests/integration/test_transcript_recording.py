"""Recording real sessions against aiosmtpd on 127.0.0.1: the file reads back to what happened,
secrets stay out of it, it replays and converts, and a process killed mid-session leaves a
file that reads."""

import io
import os
import signal
import subprocess
import sys
import textwrap

from smtpshell.net.connection import Connection
from smtpshell.net.tls import TLSOptions
from smtpshell.transcript.events import ClientLine, Note, ServerReply
from smtpshell.transcript.jsonl import Recorder
from smtpshell.transcript.readers import read
from smtpshell.transcript.replay import replay_offline
from smtpshell.transcript.writers import write
from tests.support.script import b64


async def test_a_session_with_starttls_auth_and_data_recorded(smtpd, cafile, tmp_path):
    path = tmp_path / "session.jsonl"
    recorder = Recorder(path, host=smtpd.host, port=smtpd.port)
    conn = Connection(observer=recorder, timeout=5.0, tls_options=TLSOptions(cafile=cafile))
    await conn.open(smtpd.host, smtpd.port)
    await conn.reply_to(conn.session.greeting)
    for line in ("EHLO me.example", "STARTTLS", "EHLO me.example", "AUTH LOGIN", b64("alice"), b64("wonderland"),
                 "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "DATA"):
        await conn.command(line)  # after a 334 the session masks the line: it is a SASL answer
    content = (b"Subject: test", b"", b".a line that starts with a dot", b"250 apples")
    await conn.write_data(b"".join(conn.session.send_data_line(line) for line in content))
    await conn.reply_to(conn.end_data().command)
    await conn.command("QUIT")
    await conn.close()
    recorder.close()
    text = path.read_text(encoding="utf-8")
    assert "wonderland" not in text and b64("wonderland") not in text and b64("alice") not in text

    transcript = read(text)
    assert transcript.notation == "jsonl"
    assert transcript.header.host == "127.0.0.1" and transcript.header.port == smtpd.port
    events = transcript.events
    assert isinstance(events[0], Note) and events[0].text.startswith(f"connected to 127.0.0.1:{smtpd.port}")
    assert [r.code for r in transcript.replies] == [220, 250, 220, 250, 334, 334, 235, 250, 250, 354, 250, 221]
    clients = [(c.line, c.secret, c.data) for c in transcript.client_lines]
    assert clients == [
        ("EHLO me.example", False, False),
        ("STARTTLS", False, False),
        ("EHLO me.example", False, False),
        ("AUTH LOGIN", False, False),
        ("***", True, False),
        ("***", True, False),
        ("MAIL FROM:<alice@example.org>", False, False),
        ("RCPT TO:<bob@example.net>", False, False),
        ("DATA", False, False),
        ("Subject: test", False, True),
        ("", False, True),
        (".a line that starts with a dot", False, True),
        ("250 apples", False, True),
        (".", False, False),
        ("QUIT", False, False),
    ]
    tls = [e for e in events if isinstance(e, Note) and e.kind == "tls"]
    assert tls and tls[0].text.startswith("TLS started (STARTTLS): TLSv1.")
    starttls_reply = next(i for i, e in enumerate(events) if isinstance(e, ServerReply) and e.code == 220 and i > 1)
    assert events[starttls_reply + 1] is tls[0]  # TLS starts right after the 220
    times = [e.t for e in events]
    assert all(isinstance(t, float) for t in times) and times == sorted(times)
    # The server got the dot-stuffed line, and the transcript has it un-stuffed.
    assert b"\r\n.a line that starts with a dot\r\n" in b"\r\n" + smtpd.messages[0].content

    # It replays as the shell shows it, with aiosmtpd's LOGIN challenges decoded ...
    shown = io.StringIO()
    assert replay_offline(transcript, shown, color=False, instant=True)
    assert "challenge decodes to: User Name␀" in shown.getvalue()
    assert "TLS started (STARTTLS)" in shown.getvalue()
    # ... converts, and round-trips byte for byte.
    assert " ~> AUTH LOGIN\n" in write(transcript, "swaks")
    assert write(transcript, "jsonl") == text


async def test_the_recorder_as_the_connections_own_observer(smtpd, tmp_path):
    path = tmp_path / "conn.jsonl"
    recorder = Recorder(path, host=smtpd.host, port=smtpd.port)
    conn = Connection(observer=recorder, timeout=5.0)
    await conn.open(smtpd.host, smtpd.port)
    await conn.reply_to(conn.session.greeting)
    await conn.command("EHLO me.example")
    await conn.command("NOOP")
    await conn.send_raw(b"NOOP\n", expects_reply=True)  # a bare LF: kept as raw
    await conn.close()
    recorder.close()
    transcript = read(path.read_text(encoding="utf-8"))
    clients = transcript.client_lines
    assert [c.line for c in clients] == ["EHLO me.example", "NOOP", "NOOP\n"]
    assert clients[-1].raw == b"NOOP\n" and clients[0].raw is None
    assert [r.code for r in transcript.replies][:3] == [220, 250, 250]


KILLED_MID_SESSION = textwrap.dedent("""
    import asyncio, os, signal, sys
    from aiosmtpd.smtp import SMTP
    from smtpshell.net.connection import Connection
    from smtpshell.transcript.jsonl import Recorder

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    async def main(path):
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(Handler(), hostname="smtp.test"), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        recorder = Recorder(path, host="127.0.0.1", port=port)
        conn = Connection(observer=recorder, timeout=5.0)
        await conn.open("127.0.0.1", port)
        await conn.reply_to(conn.session.greeting)
        await conn.command("EHLO me.example")
        await conn.command("MAIL FROM:<a@example.org>")
        await conn.command("RCPT TO:<b@example.net>")
        await conn.command("DATA")
        data = b"".join(conn.session.send_data_line(line) for line in (b"Subject: killed", b"", b"half a mess"))
        await conn.write_data(data)
        os.kill(os.getpid(), signal.SIGKILL)  # mid-message: no close, no flush, no atexit

    asyncio.run(main(sys.argv[1]))
""")


def test_a_recording_killed_mid_session_reads_back(tmp_path):
    path = tmp_path / "killed.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_SESSION, str(path)],
        cwd=tmp_path, capture_output=True, timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    transcript = read(path.read_text(encoding="utf-8"))
    assert [r.code for r in transcript.replies] == [220, 250, 250, 250, 354]
    lines = [(c.line, c.data) for c in transcript.client_lines]
    assert lines[-3:] == [("Subject: killed", True), ("", True), ("half a mess", True)]
    assert isinstance(transcript.events[-1], ClientLine)  # nothing after the kill
