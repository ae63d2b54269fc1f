"""Recordings and replays against real servers on 127.0.0.1: credentials sent with :raw are
masked in what is recorded (--record and :save) unless --show-secrets; a session recorded with
a pipelined DATA replays its message; a live replay that stops before the end is no clean pass."""

import asyncio
import io
import json

from smtpshell.cli_transcripts import replay_main
from smtpshell.server.practice import PracticeServer
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.transcript.readers import read
from tests.support.record import record
from tests.support.script import b64, lines

PLAIN = b64("\0alice\0wonderland")


async def replay(*argv, env=None):
    """``smtpshell replay ...`` in a thread (it runs its own event loop): (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = await asyncio.to_thread(
        replay_main, [str(a) for a in argv], stdin=io.StringIO(""), stdout=out, stderr=err,
        env={"COLUMNS": "80", **(env or {})},
    )
    return status, out.getvalue(), err.getvalue()


async def connected(make_shell, server, **kw):
    shell, out = make_shell(**kw)
    assert await shell.connect(Target(host=server.host, port=server.port))
    return shell, out


# ----- :raw credentials in recordings ------------------------------------------------------------


async def test_raw_auth_plain_is_masked_in_the_recording_and_in_save(make_shell, smtpd, tmp_path):
    path, saved = tmp_path / "raw.jsonl", tmp_path / "saved.jsonl"
    shell, out = await connected(make_shell, smtpd, record=str(path))
    status = await run_script(shell, lines("EHLO me.example", f":raw AUTH PLAIN {PLAIN}\\r\\n", ":expect 235",
                                           f":save {saved}", "QUIT"))
    assert status is ExitStatus.OK, out.text
    assert PLAIN in out.text  # the screen shows what :raw sent: the user typed it
    for file in (path, saved):
        text = file.read_text(encoding="utf-8")
        assert PLAIN not in text and b64("wonderland") not in text, text
        auth = [c for c in read(text, show_secrets=True).client_lines if c.line.startswith("AUTH")]
        assert [(c.line, c.secret, c.raw) for c in auth] == [("AUTH PLAIN ***", True, None)]


async def test_raw_answers_to_334_are_masked_the_user_name_kept_as_auth_keeps_it(make_shell, smtpd, tmp_path):
    path = tmp_path / "login.jsonl"
    shell, out = await connected(make_shell, smtpd, record=str(path))
    status = await run_script(shell, lines(
        "EHLO me.example", ":raw AUTH LOGIN\\r\\n", f":raw {b64('alice')}\\r\\n", f":raw {b64('wonderland')}\\r\\n",
        ":expect 235", "QUIT"))
    assert status is ExitStatus.OK, out.text
    text = path.read_text(encoding="utf-8")
    assert b64("wonderland") not in text
    clients = [(c.line, c.secret) for c in read(text, show_secrets=True).client_lines]
    assert clients[1:4] == [("AUTH LOGIN", False), (b64("alice"), False), ("***", True)]


async def test_raw_credentials_are_kept_with_show_secrets(make_shell, smtpd, tmp_path):
    path = tmp_path / "clear.jsonl"
    shell, out = await connected(make_shell, smtpd, record=str(path), show_secrets=True)
    assert await run_script(shell, lines("EHLO me.example", f":raw AUTH PLAIN {PLAIN}\\r\\n", "QUIT")) == 0
    assert f"AUTH PLAIN {PLAIN}" in path.read_text(encoding="utf-8")


# ----- a pipelined DATA replays its message ---------------------------------------------------------


PIPELINED = ("EHLO me", ":pipeline", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA", ":end",
             "Subject: pipelined", "", "body", ".", "NOOP")


async def test_a_pipelined_data_replays_its_message_with_no_difference(make_shell, tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        await record(tmp_path / "pl.jsonl", server, PIPELINED, make_shell)
        status, out, err = await replay(tmp_path / "pl.jsonl", "--to", server.host, server.port)
        stored = list((tmp_path / "mail" / "new").iterdir())
    assert (status, err) == (0, ""), out
    assert "   5 DATA  → 354 " in out and "   6 .  → 250 2.0.0 Message accepted" in out
    assert "stopped" not in out and "not replayed" not in out
    assert out.rstrip().endswith("* 8 steps, 0 differences")
    assert len(stored) == 2  # recorded once, replayed once
    assert all(b"Subject: pipelined\r\n\r\nbody\r\n" in p.read_bytes() for p in stored)


# ----- a replay that stops before the end -----------------------------------------------------------


UNENDED = ("220 mx.example.com ESMTP\nEHLO me\n250 mx.example.com\nMAIL FROM:<a@example.com>\n250 ok\n"
           "RCPT TO:<b@example.com>\n250 ok\nDATA\n354 go ahead\nSubject: cut short\n\nthe paste ends here\n")


async def test_a_replay_that_stops_with_steps_left_is_not_a_pass(tmp_path):
    (tmp_path / "cut.txt").write_text(UNENDED)
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        status, out, _ = await replay(tmp_path / "cut.txt", "--to", server.host, server.port)
        json_status, data, _ = await replay(tmp_path / "cut.txt", "--to", server.host, server.port, "--json")
        assert not (tmp_path / "mail" / "new").exists() or not list((tmp_path / "mail" / "new").iterdir())
    assert status == ExitStatus.EXPECT_FAILED, out
    assert "! 6 steps, 1 not replayed, 0 differences" in out
    assert "* 6 steps, 0 differences" not in out
    assert "stopped: the recording ends inside the message" in out and "1 step(s) not replayed" in out
    report = json.loads(data)
    assert json_status == 1 and report["summary"]["exit_status"] == 1
    assert report["summary"]["replayed"] == 5 and report["summary"]["not_replayed"] == 1
