""":pipeline … :end and --pipeline against a real aiosmtpd and a pipelining line server on 127.0.0.1.

aiosmtpd does not advertise PIPELINING (it reads pipelined commands all the same): the
warning case. The line server advertises it, answers a whole read in one write (as Postfix
does) and keeps each read it got, so "one write" is checked on what the server received.
"""

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from tests.support.line_server import LineServer
from tests.support.servers import ScriptedServer
from tests.support.script import lines


@pytest.fixture
async def line_server():
    server = await LineServer().start()
    yield server
    await server.stop()


def table(text: str) -> list[str]:
    """The lines of the last side-by-side table (after '* pipelined …:')."""
    rows = text.split("* pipelined ")[-1].splitlines()
    return [row.strip() for row in rows[1:] if row.startswith("    ") and " → " in row]


async def test_group_goes_in_one_write_and_replies_pair_up(line_server, make_shell, target):
    shell, out = make_shell()
    await shell.connect(target(line_server))
    status = await run_script(shell, lines(
        "EHLO me",
        ":pipeline",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
        "RCPT TO:<c@example.test>",
        "DATA",
        ":end",  # after 354 the lines are the message (an :expect here would be content)
        "Subject: pipelined",
        "",
        "hello",
        ".",
        ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    group = b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n"
    assert group in line_server.chunks  # one read on the server: one write from the shell
    [msg] = line_server.messages
    assert (msg.mail_from, msg.rcpt_tos) == ("a@example.test", ["b@example.test", "c@example.test"])
    assert msg.content == b"Subject: pipelined\r\n\r\nhello\r\n"
    text = out.text
    assert f"pipelined 4 commands in one write ({len(group)} bytes); 4 replies in 1 read:" in text
    assert table(text) == [
        "MAIL FROM:<a@example.test> → 250 2.1.0 Ok",
        "RCPT TO:<b@example.test>   → 250 2.1.5 Ok",
        "RCPT TO:<c@example.test>   → 250 2.1.5 Ok",
        "DATA                       → 354 End data with <CR><LF>.<CR><LF>",
    ]
    # the server advertised PIPELINING, and nothing in the group is out of phase once pipelined
    assert "warning" not in text


async def test_pipelining_to_aiosmtpd_warns_it_is_not_advertised_and_sends_anyway(smtpd, make_shell, target):
    shell, out = make_shell()
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", ":pipeline", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", ":end",
        "Subject: x", "", "body", ".", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    assert "warning: the server did not advertise PIPELINING (RFC 2920): sending the group anyway" in out.text
    assert "RCPT before an accepted MAIL FROM" not in out.text  # pipelined: MAIL was still on its way
    [msg] = smtpd.messages
    assert (msg.mail_from, msg.rcpt_tos, msg.content) == ("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\nbody\r\n")
    assert [row.split(" → ")[1][:3] for row in table(out.text)] == ["250", "250", "354"]


async def test_a_command_that_must_be_last_is_warned_about(line_server, make_shell, target):
    shell, out = make_shell()
    await shell.connect(target(line_server))
    status = await run_script(shell, lines(
        ":pipeline", "EHLO me", "MAIL FROM:<a@example.test>", "NOOP", ":end", "RSET",
    ))
    assert status is ExitStatus.OK, out.text
    text = out.text
    assert "warning: no EHLO reply yet: whether the server offers PIPELINING is unknown" in text
    assert "warning: EHLO must be the last command of a pipelined group (RFC 2920 3.1)" in text
    assert "NOOP must be" not in text  # NOOP is last: as it should be
    assert b"EHLO me\r\nMAIL FROM:<a@example.test>\r\nNOOP\r\n" in line_server.chunks  # sent as typed
    assert [row.split(" → ")[1][:3] for row in table(text)] == ["250", "250", "250"]


@pytest.mark.parametrize("first, reason", [
    ("STARTTLS", "RFC 3207"),
    ("AUTH LOGIN", "RFC 4954"),
    ("DATA", "after its 354 the server reads message content"),
    ("QUIT", "closes the connection"),
])
async def test_must_be_last_warnings_name_their_rule(make_shell, first, reason):
    shell, out = make_shell(interactive=True)
    await shell.handle(":pipeline")
    assert shell.prompt_name() == "pipe"
    await shell.handle(first)
    await shell.handle("NOOP")
    assert f"{first.split()[0]} must be the last command" in out.text and reason in out.text
    await shell.handle(":pipeline cancel")
    assert shell.pipeline is None and shell.prompt_name() == "smtp"
    assert "dropped 2 queued commands; nothing was sent" in out.text


async def test_auth_with_an_initial_response_may_be_followed(make_shell):
    shell, out = make_shell(interactive=True)
    for line in (":pipeline", "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", "MAIL FROM:<a@example.test>"):
        await shell.handle(line)
    assert "must be the last" not in out.text
    assert "wonderland" not in out.text and "AGFsaWNl" not in out.text  # nothing shown while queued


async def test_pipeline_flags_and_group_wide_colon_commands(line_server, make_shell, target):
    shell, out = make_shell(interactive=True)
    await shell.connect(target(line_server))
    await shell.handle(":pipeline")
    await shell.handle("NOOP")
    await shell.handle(":help end")  # local: runs while queueing
    assert "Send the commands queued since :pipeline" in out.text
    await shell.handle(":raw NOOP\\r\\n")  # would overtake the group: refused, not sent
    assert ":raw cannot run while commands are queued" in out.text
    await shell.handle(":pipeline")
    assert "already queueing (1 so far)" in out.text
    await shell.handle("")  # an empty line is not queued
    await shell.handle(":end")
    assert shell.pipeline is None
    assert line_server.commands == [b"NOOP"]
    assert "pipelined 1 command in one write (6 bytes); 1 reply in 1 read:" in out.text
    await shell.handle(":end")
    assert "no :pipeline group is open" in out.text
    await shell.quit()


async def test_script_mistakes_with_pipeline_have_the_usage_status(line_server, make_shell, target):
    shell, out = make_shell()
    await shell.connect(target(line_server))
    assert await run_script(shell, lines(":pipeline", "NOOP")) is ExitStatus.USAGE
    assert "the script ended inside :pipeline (no :end): the queued commands were NOT sent" in out.text
    assert line_server.commands == [b"QUIT"]  # NOOP never went out
    shell, out = make_shell()
    await shell.connect(target(line_server))
    assert await run_script(shell, lines(":end")) is ExitStatus.USAGE
    shell, out = make_shell()
    await shell.connect(target(line_server))
    assert await run_script(shell, lines(":pipeline", "NOOP", ":connect example.test")) is ExitStatus.USAGE


async def test_a_reply_that_never_comes_is_a_row_of_its_own(make_shell, target):
    server = await ScriptedServer([b"220 hi\r\n", "READLINE", b"250 ok\r\n", "HANG"]).start()
    try:
        shell, out = make_shell(timeout=0.3)
        await shell.connect(target(server))
        status = await run_script(shell, lines(":pipeline", "NOOP", "RSET", ":end"))
        assert status is ExitStatus.CONNECTION
        assert server.received[0] == b"NOOP\r\n"
        assert table(out.text) == ["NOOP → 250 ok", "RSET → no reply (timeout)"]
        assert "1 reply in 1 read" in out.text
    finally:
        await server.stop()


# ----- --pipeline: groups made from script lines -------------------------------------


async def test_dash_dash_pipeline_groups_mail_rcpt_data_as_swaks_does(line_server, make_shell, target):
    shell, out = make_shell(pipeline=True)
    await shell.connect(target(line_server))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
        "Subject: auto", "", "MAIL FROM:<not@a.command>", ".", "RSET", ":expect 250", "NOOP", "QUIT",
    ))
    assert status is ExitStatus.OK, out.text
    assert line_server.chunks[:2] == [
        b"EHLO me\r\n",  # EHLO must end its group: alone
        b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
    ]
    # content is never grouped; RSET's run ends at the colon command; NOOP ends its group with QUIT after it
    assert b"RSET\r\n" in line_server.chunks and b"NOOP\r\n" in line_server.chunks
    [msg] = line_server.messages
    assert msg.content == b"Subject: auto\r\n\r\nMAIL FROM:<not@a.command>\r\n"
    assert out.text.count("* pipelined ") == 1


async def test_dash_dash_pipeline_against_aiosmtpd_delivers(smtpd, make_shell, target):
    shell, out = make_shell(pipeline=True)
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "RCPT TO:<c@example.test>", "DATA",
        "Subject: auto", "", "hi", ".", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    [msg] = smtpd.messages
    assert msg.rcpt_tos == ["b@example.test", "c@example.test"]
    assert "did not advertise PIPELINING" in out.text
