""":raw (escapes and --hex) checked on what the server received, and the bytes a server sends
back drawn visibly with a note, against aiosmtpd and scripted servers on 127.0.0.1."""

import asyncio

import pytest

from smtpshell.net import connection as net

from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from tests.support.line_server import LineServer
from tests.support.servers import ScriptedServer
from tests.support.script import lines


async def test_hex_bytes_go_out_exactly_and_controls_coming_back_are_named(make_shell, target):
    server = await ScriptedServer([b"220 hi\r\n", "READLINE", b"250 a\x00b\rc\n", "READLINE", b"221 bye\r\n"]).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        await shell.handle(":raw --hex 4e 4f:4f 50 0a")  # NOOP + a bare LF
        assert server.received[0] == b"NOOP\n"
        text = out.text
        assert "sent 5 raw bytes: b'NOOP\\n'" in text
        assert "250 a␀b␍c␊" in text  # answered the raw bytes (they ended with LF), drawn visibly
        assert "unsolicited" not in text
        assert "control characters in the line: ␀ is a NUL byte (0x00), ␍ is a bare CR (0x0D)" in text
        assert "line ended with a bare LF, not CRLF (drawn ␊ at the line's end)" in text
        assert shell.last_reply.code == 250
        await shell.quit()
    finally:
        await server.stop()


@pytest.mark.parametrize("arg, error", [
    ("--hex 4e4", "--hex wants pairs of hex digits (like 2e0d0a), not '4e4'"),
    ("--hex zz", "--hex wants pairs of hex digits"),
    ("--hex", "usage: :raw TEXT | :raw --hex HEX"),
    ("NOOP\\q", "unknown escape \\q"),
])
async def test_bad_raw_arguments_send_nothing(make_shell, target, arg, error):
    server = await ScriptedServer([b"220 hi\r\n", "READLINE"]).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        await shell.handle(f":raw {arg}")
        assert error in out.text
        await shell.close_quietly()
        await server.done.wait()
        assert server.received == [b""]  # nothing arrived before the close
    finally:
        await server.stop()


async def test_raw_bytes_inside_a_message_reach_aiosmtpd_as_they_are(smtpd, make_shell, target):
    shell, out = make_shell()
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
        "Subject: raw",
        "",
        "typed line",
        ":raw bare\\nLF and a bare\\rCR and \\x00 NUL\\r\\n",
        ":raw --hex 2e2e0d0a",  # no dot-stuffing for raw bytes: "..", which aiosmtpd un-stuffs to "."
        ".",
        ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    [msg] = smtpd.messages
    assert msg.content == b"Subject: raw\r\n\r\ntyped line\r\nbare\nLF and a bare\rCR and \x00 NUL\r\n.\r\n"
    assert "raw bytes inside the message: b'bare\\nLF and a bare\\rCR" in out.text


async def test_an_end_of_data_by_hand_is_answered_at_once(make_shell, target):
    """Against a lenient server, `.\\n` typed with :raw after a line (`\\r\\n.\\n` on the wire)
    ends the message: the 250 that comes at once, with nothing waiting for it, is the sign."""
    server = await LineServer(end_of_data="lf").start()
    try:
        shell, out = make_shell(interactive=True)
        replies = []
        arrived = asyncio.Event()

        def on_event(event):
            if isinstance(event, net.Received):
                replies.append(event.event)
                arrived.set()

        await shell.connect(target(server))
        for line in ("EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "hello"):
            await shell.handle(line)
        shell.listeners.append(on_event)
        await shell.handle(":raw .\\n")
        await asyncio.wait_for(arrived.wait(), 5)
        [event] = replies
        assert event.command is None and event.reply.code == 250
        assert [m.content for m in server.messages] == [b"hello\r\n"]
        assert b"".join(server.chunks).endswith(b"DATA\r\nhello\r\n.\n")
        # The shell is out of DATA with the server: the next line is a command, not message text.
        assert not shell.in_data
        await shell.handle("NOOP")
        assert server.commands[-1] == b"NOOP" and shell.last_reply.code == 250
        await shell.close_quietly()
    finally:
        await server.stop()
    assert ("the server answered inside DATA: it took the raw bytes as the end of the message (the lines typed "
            "next are commands):\n250 2.0.0 Ok: queued as 1") in out.text


async def test_an_end_of_data_split_over_two_raws_ends_the_message(smtpd, make_shell, target):
    """`:raw abc\\r\\n.` then `:raw \\r\\n`: the second finishes the end of data the first began."""
    shell, out = make_shell()
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
        ":raw abc\\r\\n.", ":raw \\r\\n", ":expect 250", "NOOP", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    assert [m.content for m in smtpd.messages] == [b"abc\r\n"]
    assert "the <CRLF>.<CRLF> they finish ends it" in out.text
    assert "the script ended inside DATA" not in out.text


@pytest.mark.parametrize("interactive", [True, False])
async def test_raw_bytes_with_crlf_dot_crlf_end_the_message_and_what_follows_are_commands(
        smtpd, make_shell, target, interactive):
    """What the strict-lf practice mode suggests: :raw with the end of data in it. The shell ends
    DATA with it, waits for the reply, and takes the next lines as commands (a script too)."""
    shell, out = make_shell(interactive=interactive)
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "Subject: typed", "",
        ":raw body\\r\\n.\\r\\nNOOP\\r\\n", ":expect 250", "MAIL FROM:<c@example.test>", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    assert [m.content for m in smtpd.messages] == [b"Subject: typed\r\n\r\nbody\r\n"]
    assert "the <CRLF>.<CRLF> in them ends it" in out.text
    assert "sent 6 raw bytes after the message: b'NOOP\\r\\n'" in out.text  # shown, as everything sent
    assert "the script ended inside DATA" not in out.text and "unsolicited" not in out.text
