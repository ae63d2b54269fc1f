"""Live replay against real servers on 127.0.0.1: a session recorded with the shell replays
against the same server with no differences; against a differently configured server with the
right ones; the seed's telnet session replays against the practice server; a server that
closes mid-replay, a refused connection and a failed TLS handshake are exit status 3."""

import asyncio
import io
import json
import re
from pathlib import Path

from aiosmtpd.smtp import SMTP

from smtpshell.net.connection import Connection
from smtpshell.server.practice import PracticeServer
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.cli_transcripts import replay_main
from smtpshell.transcript.jsonl import Recorder
from smtpshell.shell.live_replay import LiveReplay, Options, Outcome, StepKind, plan
from smtpshell.shell.live_replay import Target as LiveTarget
from smtpshell.transcript.readers import read
from tests.support.record import record
from tests.support.script import b64, lines
from tests.support.servers import ScriptedServer

SEED = Path(__file__).parents[1] / "unit" / "samples_transcript" / "seed-telnet-esmtp-auth-session.txt"

MESSAGE = ("Subject: live replay", "", "hello", ".a line that starts with a dot", "250 apples")


async def replay(*argv, env=None, stdin=None, ask_secret=None):
    """``smtpshell replay ...`` in a thread (it runs its own event loop): (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = await asyncio.to_thread(
        replay_main, [str(a) for a in argv], stdin=stdin or io.StringIO(""), stdout=out, stderr=err,
        env={"COLUMNS": "80", **(env or {})}, ask_secret=ask_secret,
    )
    return status, out.getvalue(), err.getvalue()


def full_session(user="alice", password="wonderland"):
    return ("EHLO client.example", ":starttls", f":auth LOGIN {user} {password}", ":expect 235",
            "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>", "DATA", *MESSAGE, ".",
            ":expect 250", "QUIT")


# ----- (a) a recording made with the shell, replayed against the same server --------------------


async def test_a_recording_replays_against_the_same_server_with_no_differences(make_shell, tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        recorded = await record(tmp_path / "s.jsonl", server, full_session(), make_shell, cafile=str(server.cafile))
        assert "wonderland" not in (tmp_path / "s.jsonl").read_text()
        kinds = [s.kind for s in plan(recorded).steps]
        assert kinds == [StepKind.GREETING, StepKind.COMMAND, StepKind.STARTTLS, StepKind.COMMAND, StepKind.AUTH,
                         StepKind.COMMAND, StepKind.COMMAND, StepKind.COMMAND, StepKind.MESSAGE, StepKind.COMMAND]

        status, out, err = await replay(tmp_path / "s.jsonl", "--to", server.host, server.port,
                                        "--cafile", server.cafile, "--user", "alice",
                                        env={"SMTPSHELL_PASSWORD": "wonderland"})
        assert (status, err) == (0, ""), out + err
        assert out.rstrip().endswith("* 10 steps, 0 differences")
        assert "≠" not in out and "~ " not in out
        assert "TLS started (STARTTLS): TLSv1." in out and "verified: trusted issuer" in out
        assert "AUTH LOGIN  → 235 2.7.0 Authentication successful" in out
        assert "AUTH redone as alice with LOGIN" in out
        assert "wonderland" not in out and b64("wonderland") not in out
        # The message went again, dot-stuffed as recorded.
        stored = sorted((tmp_path / "mail" / "new").iterdir())
        assert len(stored) == 2
        assert b"\r\n.a line that starts with a dot\r\n250 apples\r\n" in stored[1].read_bytes()


async def test_a_masked_auth_without_credentials_is_skipped_and_counts_only_under_strict(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "s.jsonl", server, full_session(), make_shell, cafile=str(server.cafile))
        argv = (tmp_path / "s.jsonl", "--to", f"{server.host}:{server.port}", "--cafile", server.cafile)
        status, out, _ = await replay(*argv)
        assert status == 0, out
        assert "~  5 AUTH LOGIN  → skipped: credentials masked; give --user" in out
        assert "* 10 steps, 0 differences" in out
        assert "not counted (--strict counts it): step 5 (AUTH LOGIN) skipped: credentials masked" in out

        status, out, _ = await replay(*argv, "--strict")
        assert status == 1, out
        assert "! 10 steps, 1 difference:" in out
        assert "!   step 5 (AUTH LOGIN) skipped: credentials masked; give --user" in out


async def test_a_wrong_password_now_is_a_class_change(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "s.jsonl", server, full_session(), make_shell, cafile=str(server.cafile))
        status, out, _ = await replay(tmp_path / "s.jsonl", "--to", server.host, server.port,
                                      "--cafile", server.cafile, "--user", "alice",
                                      env={"SMTPSHELL_PASSWORD": "not-the-password"})
        assert status == 1
        assert "reply class changed at step 5 (AUTH LOGIN): recorded 235 2.7.0, now 535 5.7.8" in out
        assert "not-the-password" not in out


async def test_pipelined_commands_are_sent_in_one_write_again(tmp_path):
    async with PracticeServer() as server:
        recorder = Recorder(tmp_path / "p.jsonl", host=server.host, port=server.port)
        conn = Connection(observer=recorder, timeout=5.0)
        await conn.open(server.host, server.port)
        await conn.reply_to(conn.session.greeting)
        await conn.command("EHLO client.example")
        outs = conn.send_lines(["MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "RCPT TO:<c@example.com>"])
        for out in outs:
            await conn.reply_to(out.command)
        await conn.command("RSET")
        await conn.command("QUIT")
        await conn.close()
        recorder.close()
        steps = plan(read((tmp_path / "p.jsonl").read_text())).steps
        assert [s.pipelined for s in steps] == [False, False, False, True, True, False, False]
        status, out, _ = await replay(tmp_path / "p.jsonl", "--to", server.host, server.port)
        assert status == 0, out
        assert "pipelined with the next 2 command(s), as recorded" in out


async def test_implicit_tls_as_recorded(smtpd_tls, make_shell, cafile, tmp_path):
    shell, out = make_shell(cafile=cafile, tls=True)
    recorder = Recorder(tmp_path / "tls.jsonl", host=smtpd_tls.host, port=smtpd_tls.port)
    shell.listeners.append(recorder)
    assert await shell.connect(Target(host=smtpd_tls.host, port=smtpd_tls.port, implicit_tls=True)), out.text
    assert await run_script(shell, lines("EHLO me", "NOOP", "QUIT")) == 0
    recorder.close()
    status, out, _ = await replay(tmp_path / "tls.jsonl", "--to", smtpd_tls.host, smtpd_tls.port, "--cafile", cafile)
    assert status == 0, out
    assert "the recording connected with implicit TLS: so does the replay" in out
    assert "TLS started (implicit TLS): TLSv1." in out
    assert "implicit TLS" in out.split("\n")[0]


async def test_the_ehlo_name_can_be_replaced(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "e.jsonl", server, ("EHLO client.example", "QUIT"), make_shell)
        status, out, _ = await replay(tmp_path / "e.jsonl", "--to", server.host, server.port, "--ehlo", "other.example")
        assert status == 0, out
        assert "   2 EHLO other.example  → 250-smtpshell.test" in out
        assert "sent with the name given by --ehlo" in out


LMTP_SESSION = """220 lmtp.test LMTP server ready
LHLO me.example
250-lmtp.test
250 HELP
MAIL FROM:<a@example.com>
250 OK
RCPT TO:<b@example.com>
250 OK
RCPT TO:<c@example.com>
250 OK
DATA
354 End data with <CR><LF>.<CR><LF>
Subject: lmtp

hello
.
250 2.0.0 <b@example.com> delivered
250 2.0.0 <c@example.com> delivered
QUIT
221 Bye
"""


class PerRecipient:
    async def handle_DATA(self, server, session, envelope):
        return "\r\n".join(f"250 2.0.0 <{rcpt}> delivered" for rcpt in envelope.rcpt_tos)


async def test_an_lmtp_recording_replays_as_lmtp(tmp_path):
    from aiosmtpd.lmtp import LMTP

    (tmp_path / "lmtp.txt").write_text(LMTP_SESSION)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: LMTP(PerRecipient(), hostname="lmtp.test"), "127.0.0.1", 0)
    try:
        status, out, _ = await replay(tmp_path / "lmtp.txt", "--to", "127.0.0.1", srv.sockets[0].getsockname()[1])
    finally:
        srv.close()
        await srv.wait_closed()
    assert status == 0, out
    # One reply per recipient to the dot: they do not shift the pairing, QUIT still gets its 221.
    assert re.search(r"   7 \.  → 250 2\.0\.0 <[bc]@example\.com> delivered", out), out
    assert "   8 QUIT  → 221 Bye" in out
    assert "* 8 steps, 0 differences" in out


# ----- (b) a differently configured server --------------------------------------------------------


class Strict:
    """An aiosmtpd handler for a server configured otherwise: no relaying, a different greeting."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.7.1 Relaying denied"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok"


async def strict_server():
    """No STARTTLS, no AUTH (aiosmtpd wants TLS for it), and every recipient refused."""
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(Strict(), hostname="strict.test", ident="StrictMTA"), "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


async def test_a_server_that_refuses_the_recipient_now(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "plain.jsonl", server, (
            "EHLO client.example", "MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com>", "DATA",
            *MESSAGE, ".", "QUIT",
        ), make_shell)
    srv, port = await strict_server()
    try:
        status, out, _ = await replay(tmp_path / "plain.jsonl", "--to", "127.0.0.1", port)
        assert status == 1, out
        assert "≠  4 RCPT TO:<bob@example.com>  → 550 5.7.1 Relaying denied" in out
        assert "      recorded: 250 2.1.5 Recipient <bob@example.com> ok\n      now:      550 5.7.1 Relaying denied" in out
        assert "≠  5 DATA  → 503 Error: need RCPT command" in out
        assert "~  6 .  → not sent: no 354 to DATA now (the message of 5 line(s) stays unsent)" in out
        assert "   7 QUIT  → 221 Bye" in out  # the session went on after the refusals
        [caps] = [line for line in out.split("\n") if "↳ capabilities:" in line]
        assert "capabilities: removed PIPELINING, SMTPUTF8, STARTTLS, AUTH " in caps, caps
        assert caps.endswith(", ENHANCEDSTATUSCODES; changed SIZE 10240000 → 33554432"), caps
        assert "! 7 steps, 2 differences:" in out
        assert ("!   reply class changed at step 4 (RCPT TO:<bob@example.com>): recorded 250 2.1.5, "
                "now 550 5.7.1 Relaying denied") in out
        assert "!   reply class changed at step 5 (DATA): recorded 354, now 503 Error: need RCPT command" in out
        assert "not counted" not in out  # the message not sent is no difference of its own

        status, data, _ = await replay(tmp_path / "plain.jsonl", "--to", "127.0.0.1", port, "--json")
        assert status == 1
        report = json.loads(data)
        assert [s["result"] for s in report["steps"]] == [
            "same", "same", "same", "class changed", "class changed", "not sent", "same"]
        assert report["steps"][3]["recorded"]["code"] == 250 and report["steps"][3]["new"] == {
            "code": 550, "enhanced": "5.7.1", "lines": ["550 5.7.1 Relaying denied"]}
        assert report["summary"]["differences"] == 2 and report["summary"]["exit_status"] == 1
    finally:
        srv.close()
        await srv.wait_closed()


async def test_a_server_without_starttls_stops_the_replay_before_anything_goes_in_clear(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "s.jsonl", server, full_session(), make_shell, cafile=str(server.cafile))
    srv, port = await strict_server()
    try:
        status, out, _ = await replay(tmp_path / "s.jsonl", "--to", "127.0.0.1", port, "--user", "alice",
                                      env={"SMTPSHELL_PASSWORD": "wonderland"})
        assert status == 1, out
        assert "≠  3 STARTTLS  → 454 TLS not available" in out
        assert ("stopped: STARTTLS refused now (454 TLS not available)"
                ": the rest of the recording was said under TLS and is not sent in clear text; "
                "7 step(s) not replayed") in out
        assert "AUTH" not in out.split("stopped:")[0].split("STARTTLS  →")[1]
    finally:
        srv.close()
        await srv.wait_closed()


# ----- (c) the seed's telnet session against the practice server -------------------------------


async def test_the_seed_session_without_credentials_sends_its_auth_lines_as_recorded(tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        status, out, err = await replay(SEED, "--to", server.host, server.port)
    assert (status, err) == (1, "")
    assert out.startswith("* replaying ")
    assert "(text, 8 steps, recorded against mymailserver.com:25) live against 127.0.0.1:" in out
    # The practice server takes the lower-case "auth login" (as Postfix and Exim do), but the
    # seed's recorded user name and password are no demo user's: the seed's AUTH fails now.
    assert "≠  3 auth login ***  → 535 5.7.8 Authentication credentials invalid" in out
    assert "      recorded: 235 Authentication successful\n      now:      535 5.7.8" in out
    assert "give --user to redo AUTH" in out
    assert "capabilities: added SMTPUTF8, CHUNKING, ENHANCEDSTATUSCODES, HELP; removed VRFY, ETRN" in out
    assert "   7 .  → 250 2.0.0 Message accepted for delivery" in out
    assert out.rstrip().split("\n")[-2:] == [
        "! 8 steps, 1 difference:",
        "!   reply class changed at step 3 (auth login ***): recorded 235, now 535 5.7.8 Authentication "
        "credentials invalid",
    ]
    assert "dXNlcm5hbWU=" not in out and "cGFzc3dvcmQ=" not in out


async def test_the_seed_session_with_credentials_redoes_auth_and_matches(tmp_path):
    (tmp_path / "pw").write_text("wonderland\n")
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        status, out, err = await replay(SEED, "--to", server.host, server.port, "--user", "alice",
                                        "--password-file", tmp_path / "pw", "--color", "always")
        [stored] = list((tmp_path / "mail" / "new").iterdir())
    assert (status, err) == (0, "")
    assert "\x1b[1;32m235\x1b[0m" in out  # coloured by class, as the shell does
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    # The seed sent the user name as an initial response: so does the fresh exchange (masked here).
    assert "   3 AUTH LOGIN ***  → 235 2.7.0 Authentication successful" in plain
    assert "AUTH redone as alice with LOGIN (1 answer(s) to 334); the recorded exchange was replaced" in plain
    assert plain.rstrip().endswith("* 8 steps, 0 differences")
    assert b"subject:test\r\n" in stored.read_bytes()


async def test_the_password_is_asked_for_only_on_a_terminal(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    asked = []

    def ask(prompt):
        asked.append(prompt)
        return "wonderland"

    async with PracticeServer() as server:
        status, out, _ = await replay(SEED, "--to", server.host, server.port, "--user", "alice",
                                      stdin=Terminal(""), ask_secret=ask)
        assert status == 0, out
        assert asked == ["password for alice: "]
        status, _, err = await replay(SEED, "--to", server.host, server.port, "--user", "alice", ask_secret=ask)
        assert status == 2 and len(asked) == 1
        assert "standard input is not a terminal, so none is asked for" in err


# ----- (d) JSON ------------------------------------------------------------------------------


async def test_json_report_of_the_seed(tmp_path):
    async with PracticeServer() as server:
        status, out, err = await replay(SEED, "--to", server.host, server.port, "--json", "--user", "alice",
                                        env={"SMTPSHELL_PASSWORD": "wonderland"})
    assert (status, err) == (0, "")
    data = json.loads(out)
    assert data["file"] == str(SEED) and data["notation"] == "text"
    assert data["recorded"] == {"host": "mymailserver.com", "port": 25}
    assert data["target"] == {"host": "127.0.0.1", "port": server.port, "implicit_tls": False}
    assert [s["index"] for s in data["steps"]] == list(range(1, 9))
    assert [s["client"] for s in data["steps"]] == [
        None, "ehlo h1.home.net", "AUTH LOGIN ***", "mail from:<norbert@acodedb.com>", "rcpt to:<info@acodedb.com>",
        "data", ".", "quit"]
    assert all(s["same"] for s in data["steps"])
    assert [s["recorded"]["code"] for s in data["steps"]] == [220, 250, 235, 250, 250, 354, 250, 221]
    assert [s["new"]["code"] for s in data["steps"]] == [220, 250, 235, 250, 250, 354, 250, 221]
    assert data["steps"][6]["content_lines"] == 4
    assert "VRFY" in data["steps"][1]["capabilities"]["removed"]
    assert data["summary"]["differences"] == 0 and data["summary"]["exit_status"] == 0
    assert "wonderland" not in out


# ----- (e) connection failures ------------------------------------------------------------------


async def test_a_server_that_closes_mid_replay_is_exit_3():
    server = await ScriptedServer([
        b"220 flaky.test ESMTP\r\n", "READLINE", b"250 flaky.test\r\n", "READLINE", "CLOSE",
    ]).start()
    try:
        status, out, _ = await replay(SEED, "--to", server.host, server.port)
    finally:
        await server.stop()
    assert status == 3, out
    assert "≠  3 auth login ***  → no reply" in out
    assert "      now:      (no reply)" in out
    assert ("! stopped: the server closed the connection (at step 3, auth login ***); "
            "5 step(s) not replayed") in out
    assert "!   no reply now at step 3 (auth login ***): recorded 235, now no reply" in out


async def test_a_silent_server_is_exit_3_after_the_timeout():
    server = await ScriptedServer([b"220 slow.test ESMTP\r\n", "READLINE", "HANG"]).start()
    try:
        status, out, _ = await replay(SEED, "--to", server.host, server.port, "--timeout", "0.3", "--no-hints")
    finally:
        await server.stop()
    assert status == 3, out
    assert "≠  2 ehlo h1.home.net  → no reply" in out
    assert "stopped: no reply within 0.3 s to step 2 (ehlo h1.home.net); 6 step(s) not replayed" in out
    assert "↳" not in out  # --no-hints


async def test_engine_report_for_a_close_mid_replay():
    server = await ScriptedServer([b"220 flaky.test ESMTP\r\n", "READLINE", b"421 4.3.2 going down\r\n", "CLOSE"]).start()
    try:
        # as `replay --to` reads it: credentials in clear kept for the wire (never shown)
        report = await LiveReplay(plan(read(SEED.read_text(), show_secrets=True)),
                                  LiveTarget(host=server.host, port=server.port),
                                  Options(timeout=5.0)).run()
    finally:
        await server.stop()
    assert report.connection_failed and report.exit_status == 3
    assert [r.verdict.outcome for r in report.results[:3]] == [Outcome.SAME, Outcome.CLASS_CHANGED, Outcome.NOT_REPLAYED]
    assert report.stopped.startswith("the server said 421 at step 2")


async def test_a_421_that_keeps_the_connection_open_still_ends_the_replay():
    """A server that says 421 and does not hang up at once: nothing more is sent to it."""
    server = await ScriptedServer([b"220 flaky.test ESMTP\r\n", "READLINE", b"421 4.3.2 going down\r\n",
                                   "HANG"]).start()
    try:
        report = await LiveReplay(plan(read(SEED.read_text(), show_secrets=True)),
                                  LiveTarget(host=server.host, port=server.port), Options(timeout=5.0)).run()
    finally:
        await server.stop()
    assert report.exit_status == 3
    assert [r.verdict.outcome for r in report.results[:3]] == [Outcome.SAME, Outcome.CLASS_CHANGED, Outcome.NOT_REPLAYED]
    assert len(server.received) == 1  # step 3 was never sent


async def test_a_refused_connection_is_exit_3():
    server = await ScriptedServer([]).start()
    port = server.port
    await server.stop()  # nothing listens there any more
    status, out, _ = await replay(SEED, "--to", "127.0.0.1", port, "--color", "never")
    assert status == 3, out
    assert f"stopped: connection refused by 127.0.0.1:{port}" in out
    assert "8 step(s) not replayed" in out


async def test_a_certificate_that_does_not_verify_is_exit_3(make_shell, tmp_path):
    async with PracticeServer() as server:
        await record(tmp_path / "s.jsonl", server, full_session(), make_shell, cafile=str(server.cafile))
        status, out, _ = await replay(tmp_path / "s.jsonl", "--to", server.host, server.port)  # no --cafile
        assert status == 3, out
        assert "≠  3 STARTTLS" not in out and "   3 STARTTLS  → 220 " in out
        assert "stopped: STARTTLS: certificate verification failed: " in out
        assert "--cafile" in out  # how to go on

        status, out, _ = await replay(tmp_path / "s.jsonl", "--to", server.host, server.port, "--insecure")
        assert status == 0, out
        assert "NOT verified (--insecure)" in out
