"""The shell's recording commands against a real aiosmtpd: --record, :record, :record stop, :save.

What a user would check: the file reads back to the session they had, credentials are masked
unless they asked, a recording that cannot be written says so and the session goes on.
"""

import asyncio
import os
import resource
import signal
import sys

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.transcript.events import Note
from smtpshell.transcript.readers import read
from tests.support.process import run_cli
from tests.support.script import b64, lines, replied

SESSION = (
    "EHLO me.example", "AUTH LOGIN", b64("alice"), b64("wonderland"),
    "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "DATA",
    "Subject: recorded", "", ".starts with a dot", ".",
)


async def connected(make_shell, smtpd, **kw):
    shell, out = make_shell(**kw)
    assert await shell.connect(Target(host=smtpd.host, port=smtpd.port))
    return shell, out


def clients(transcript):
    return [(c.line, c.secret, c.data) for c in transcript.client_lines]


async def test_record_option_writes_the_whole_session_with_the_password_masked(make_shell, smtpd, tmp_path):
    path = tmp_path / "session.jsonl"
    shell, out = await connected(make_shell, smtpd, record=str(path))
    status = await run_script(shell, lines(*SESSION, "QUIT"))
    assert status is ExitStatus.OK, out.text
    assert f"recording to {path} (credentials masked)" in out.text
    text = path.read_text(encoding="utf-8")
    assert "wonderland" not in text and b64("wonderland") not in text
    transcript = read(text)
    assert transcript.header.host == "127.0.0.1" and transcript.header.port == smtpd.port
    assert [r.code for r in transcript.replies] == [220, 250, 334, 334, 235, 250, 250, 354, 250, 221]
    assert clients(transcript)[3] == ("***", True, False)
    assert ("Subject: recorded", False, True) in clients(transcript)
    assert (".starts with a dot", False, True) in clients(transcript)  # un-stuffed: the message's own line
    [message] = smtpd.handler.messages
    assert b"\r\n.starts with a dot\r\n" in message.content  # what the server stored


async def test_show_secrets_keeps_the_password_when_asked(make_shell, smtpd, tmp_path):
    path = tmp_path / "secret.jsonl"
    shell, out = await connected(make_shell, smtpd, record=str(path), show_secrets=True)
    await run_script(shell, lines(*SESSION[:4], "QUIT"))
    assert "credentials unmasked (--show-secrets)" in out.text
    assert b64("wonderland") in path.read_text(encoding="utf-8")


async def test_record_mid_session_then_stop(make_shell, smtpd, tmp_path):
    path = tmp_path / "part.jsonl"
    shell, out = await connected(make_shell, smtpd)
    await run_script(shell, lines("EHLO me.example", f":record {path}", "NOOP", ":record", ":record stop", "RSET", "QUIT"))
    assert f"recording to {path}" in out.text and f"recording stopped: {path}" in out.text
    transcript = read(path.read_text(encoding="utf-8"))
    first = transcript.events[0]
    assert isinstance(first, Note) and first.text.startswith("recording started mid-session (127.0.0.1:")
    assert [c.line for c in transcript.client_lines] == ["NOOP"]  # not EHLO (before), not RSET (after)
    assert [r.code for r in transcript.replies] == [250]


async def test_record_refuses_a_second_recording_and_a_missing_directory(make_shell, smtpd, tmp_path):
    shell, out = await connected(make_shell, smtpd, interactive=True)
    await shell.handle(f":record {tmp_path / 'a.jsonl'}")
    await shell.handle(f":record {tmp_path / 'b.jsonl'}")
    assert f"already recording to {tmp_path / 'a.jsonl'}: :record stop first" in out.text
    await shell.handle(":record stop")
    await shell.handle(f":record {tmp_path / 'no' / 'c.jsonl'}")
    assert "No such file or directory" in out.text
    await shell.handle("NOOP")  # and the shell goes on
    assert out.text.rstrip().endswith("250 OK\n    ↳ the connection is alive")
    await shell.quit()


async def test_save_writes_the_session_so_far_in_the_format_its_name_says(make_shell, smtpd, tmp_path):
    shell, out = await connected(make_shell, smtpd, record=str(tmp_path / "all.jsonl"))
    saves = {ext: tmp_path / f"saved{ext}" for ext in (".jsonl", ".txt", ".html", ".cast")}
    status = await run_script(shell, lines(*SESSION, *(f":save {p}" for p in saves.values()), "QUIT"))
    assert status is ExitStatus.OK, out.text
    saved = read(saves[".jsonl"].read_text(encoding="utf-8"))
    recorded = read((tmp_path / "all.jsonl").read_text(encoding="utf-8"))
    # :save holds what the recording held up to the :save (QUIT came after).
    assert clients(saved) == clients(recorded)[:-1]
    assert [r.lines for r in saved.replies] == [r.lines for r in recorded.replies][:-1]
    text = saves[".txt"].read_text(encoding="utf-8")
    assert "AUTH LOGIN\n" in text and "..starts with a dot\n" in text and "wonderland" not in text
    assert saves[".html"].read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert saves[".cast"].read_text(encoding="utf-8").startswith('{"version": 2')
    assert oct(saves[".txt"].stat().st_mode & 0o777) == "0o600"  # transcripts hold addresses


async def test_save_to_an_unwritable_place_says_why_and_goes_on(make_shell, smtpd, tmp_path):
    shell, out = await connected(make_shell, smtpd, interactive=True)
    await shell.handle(f":save {tmp_path}")
    assert f"cannot save to {tmp_path}: Is a directory" in out.text
    await shell.handle("NOOP")
    assert out.text.rstrip().endswith("250 OK\n    ↳ the connection is alive")
    await shell.quit()


def _limit_file_size():
    # A "full disk" for this process alone: writes past 3000 bytes fail with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))


async def test_a_recording_that_cannot_be_written_is_reported_and_the_session_goes_on(smtpd, tmp_path):
    path = tmp_path / "full.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smtpshell", smtpd.host, str(smtpd.port), "--record", str(path),
        "--color", "never", "--no-history",
        *(arg for n in range(40) for arg in ("-c", f"NOOP number {n} " + "x" * 40)),
        "-c", "QUIT",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limit_file_size, env={**os.environ, "HOME": str(tmp_path)},
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    text = stdout.decode()
    assert proc.returncode == 0, text + stderr.decode()
    assert f"recording to {path} stopped: File too large; the session goes on unrecorded" in text
    assert "Traceback" not in text + stderr.decode()
    assert text.count("250 OK") == 40 and replied(text, "221")  # every command still went out and was answered
    read(path.read_text(encoding="utf-8"))  # what was written still reads back


async def test_record_option_into_a_missing_directory_fails_the_script_with_status_2(smtpd, tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smtpshell", smtpd.host, str(smtpd.port), "--record", str(tmp_path / "no" / "r.jsonl"),
        "--color", "never", "-c", "NOOP",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == ExitStatus.USAGE
    assert "cannot record to" in stdout.decode() and "No such file or directory" in stdout.decode()


async def test_save_keeps_bounded_message_content_and_says_what_it_left_out(make_shell, smtpd, tmp_path, monkeypatch):
    from smtpshell.shell import recording

    monkeypatch.setattr(recording, "SAVE_KEEP_BYTES", 1000)
    message = tmp_path / "big.eml"
    message.write_bytes(b"Subject: big\n\n" + b"".join(b"line %04d of the body\n" % n for n in range(500)))
    shell, out = await connected(make_shell, smtpd, record=str(tmp_path / "all.jsonl"))
    status = await run_script(shell, lines(
        "EHLO me.example", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>", "DATA",
        f":file {message}", ":expect 250", f":save {tmp_path / 'saved.jsonl'}", "QUIT",
    ))
    assert status is ExitStatus.OK, out.text
    saved = read((tmp_path / "saved.jsonl").read_text(encoding="utf-8"))
    content = [c.line for c in saved.client_lines if c.data]
    assert content[:3] == ["Subject: big", "", "line 0000 of the body"] and len(content) < 60
    [note] = [e for e in saved.events if isinstance(e, Note) and "not kept for :save" in e.text]
    kept_lines = len(content)
    assert note.text.startswith(f"{502 - kept_lines} more lines of message content")
    assert saved.replies[-1].code == 250  # the session after the message is all there
    recorded = read((tmp_path / "all.jsonl").read_text(encoding="utf-8"))
    assert len([c for c in recorded.client_lines if c.data]) == 502  # --record keeps everything
    assert len(smtpd.handler.messages[0].content.splitlines()) == 502


async def test_a_script_that_quits_itself_sends_one_quit(make_shell, tmp_path):
    from tests.support.hostile import Expect, Hang, HostileServer, Send

    # A server that answers QUIT but closes a moment later (Exim does): a second QUIT would reach it.
    steps = [Send(b"220 slow ESMTP\r\n"), Expect(b"EHLO"), Send(b"250 slow\r\n"),
             Expect(b"quit"), Send(b"221 bye\r\n"), Hang()]
    async with HostileServer(steps) as server:
        path = tmp_path / "quit.jsonl"
        shell, out = make_shell(record=str(path), timeout=0.5)
        assert await shell.connect(Target(host=server.host, port=server.port))
        assert await run_script(shell, lines("EHLO me.example", "quit")) is ExitStatus.OK, out.text
        assert server.received == [b"EHLO me.example\r\n", b"quit\r\n"]
    transcript = read(path.read_text(encoding="utf-8"))
    assert [c.line for c in transcript.client_lines] == ["EHLO me.example", "quit"]


# ----- a file that is already there is not replaced without a yes ------------------------------


def sent_lines(path):
    return [c.line for c in read(path.read_text()).client_lines]


@pytest.fixture
def kept(tmp_path):
    path = tmp_path / "baseline.jsonl"
    path.write_text('{"smtpshell": 1, "host": "mx.example", "port": 25}\n')
    return path


async def test_record_option_refuses_a_file_that_is_not_empty(smtpd, kept, tmp_path):
    before = kept.read_bytes()
    code, out, err = await run_cli("127.0.0.1", str(smtpd.port), "--record", str(kept), "-c", "NOOP",
                                   tmp_path=tmp_path)
    assert code == ExitStatus.USAGE
    assert f"--record: {kept} already exists ({len(before)} bytes): not replaced; add --overwrite" in err
    assert kept.read_bytes() == before
    code, out, err = await run_cli("127.0.0.1", str(smtpd.port), "--record", str(kept), "--overwrite",
                                   "-c", "NOOP", tmp_path=tmp_path)
    assert code == ExitStatus.OK, out + err
    assert sent_lines(kept) == ["NOOP", "QUIT"]


@pytest.mark.parametrize("command", [":save", ":record"])
async def test_a_script_does_not_replace_a_file_without_overwrite(make_shell, smtpd, kept, command):
    before = kept.read_bytes()
    shell, out = await connected(make_shell, smtpd)
    status = await run_script(shell, lines("NOOP", f"{command} {kept}", "RSET"))
    assert status is ExitStatus.USAGE
    assert f"{kept} already exists ({len(before)} bytes): not replaced; add --overwrite" in out.text
    assert kept.read_bytes() == before and "RSET" not in out.text
    shell, out = await connected(make_shell, smtpd)
    status = await run_script(shell, lines("NOOP", f"{command} {kept} --overwrite", "RSET"))
    assert status is ExitStatus.OK, out.text
    assert read(kept.read_text()).header.host == "127.0.0.1"
    assert ("RSET" if command == ":record" else "NOOP") in sent_lines(kept)


@pytest.mark.parametrize("answer", [False, True])
@pytest.mark.parametrize("command", [":save", ":record"])
async def test_the_shell_asks_before_replacing_a_file(make_shell, smtpd, kept, command, answer):
    before = kept.read_bytes()
    shell, out = make_shell(interactive=True)
    asked = []

    async def ask(question):  # what the person answers at the y/N question
        asked.append(question)
        return answer

    shell.ask_confirm = ask
    assert await shell.connect(Target(host="127.0.0.1", port=smtpd.port))
    await shell.handle("NOOP")
    await shell.handle(f"{command} {kept}")
    await shell.handle("RSET")
    await shell.handle(":save " + str(kept.with_suffix(".copy.jsonl")))  # a new name: no question
    await shell.quit()
    assert asked == [f"{kept} already exists ({len(before)} bytes): replace it? [y/N] "]
    if answer:
        assert read(kept.read_text()).header.host == "127.0.0.1"
        assert ("RSET" if command == ":record" else "NOOP") in sent_lines(kept)
    else:
        assert kept.read_bytes() == before
        assert f"{kept} left as it was; nothing written" in out.text
