"""The shell against a real aiosmtpd (and scripted misbehaving servers) on 127.0.0.1."""


import pytest

from smtpshell.protocol.session import Phase
from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from tests.support.servers import AioSmtpd, ScriptedServer
from tests.support.script import b64, lines, replied


async def test_seed_session_with_starttls_in_the_middle(smtpd, make_shell, target, cafile):
    """The seed's telnet session (EHLO, AUTH LOGIN by hand, MAIL, RCPT, DATA, QUIT), plus STARTTLS."""
    shell, out = make_shell(cafile=cafile)
    assert await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "ehlo h1.home.net",
        "starttls",  # typed by hand, lower case
        "ehlo h1.home.net",
        "auth LOGIN",  # aiosmtpd refuses "login" (Postfix takes it)
        b64("alice"),
        b64("wonderland"),
        ":expect 235",
        "mail from:<norbert@acodedb.example>",
        "rcpt to:<info@acodedb.example>",
        "data",
        "from: name_of_sender <norbert@acodedb.example>",
        "subject: test",
        "",
        "Enter the actual mailtext here...",
        ".hidden line that starts with a dot",
        "..two dots",
        ".",
        ":expect 250",
        "quit",
    ))
    assert status is ExitStatus.OK, out.text
    [msg] = smtpd.messages
    assert msg.mail_from == "norbert@acodedb.example"
    assert msg.rcpt_tos == ["info@acodedb.example"]
    assert msg.content == (
        b"from: name_of_sender <norbert@acodedb.example>\r\nsubject: test\r\n\r\n"
        b"Enter the actual mailtext here...\r\n"
        b".hidden line that starts with a dot\r\n..two dots\r\n"
    )
    text = out.text
    assert "TLS started (STARTTLS): TLSv1." in text
    assert "verified: trusted issuer, name 127.0.0.1 matches" in text
    # aiosmtpd's LOGIN challenges, decoded, with the NUL shown visibly
    assert "challenge decodes to: User Name␀" in text
    assert "challenge decodes to: Password␀" in text
    # the password never appears, in clear or in base64
    assert "wonderland" not in text and b64("wonderland") not in text
    assert replied(text, "221")


async def test_typed_starttls_forgets_capabilities(smtpd, make_shell, target, cafile):
    shell, out = make_shell(cafile=cafile, interactive=True)
    await shell.connect(target(smtpd))
    await shell.handle("EHLO me")
    assert "STARTTLS" in shell.session.capabilities
    await shell.handle("STARTTLS")
    assert shell.session.tls and shell.session.capabilities is None
    assert "send EHLO again" in out.text
    await shell.handle("EHLO me")
    assert "STARTTLS" not in shell.session.capabilities
    await shell.quit()


async def test_unknown_issuer_says_why_and_how_to_go_on(smtpd, make_shell, target):
    shell, out = make_shell()  # no --cafile: trustme's CA is unknown
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines("EHLO me", "STARTTLS", "EHLO me"))
    assert status is ExitStatus.CONNECTION
    assert "certificate verification failed: unknown issuer" in out.text
    assert "--insecure" in out.text and "--cafile" in out.text
    assert "TLS started" not in out.text


async def test_wrong_name_is_reported(smtpd, make_shell, target, cafile):
    shell, out = make_shell(cafile=cafile, sni="mail.wrong.example", interactive=True)
    await shell.connect(target(smtpd))
    assert not await shell.starttls()
    assert "the host name does not match the certificate (mail.wrong.example)" in out.text
    assert "--sni NAME" in out.text
    assert out.text.count("! ") == 1  # one clear line, not a cascade
    assert not shell.connected


async def test_insecure_goes_on_and_says_so(smtpd, make_shell, target):
    shell, out = make_shell(insecure=True)
    await shell.connect(target(smtpd))
    assert await shell.starttls()
    assert "NOT verified (--insecure)" in out.text
    assert shell.session.tls and shell.session.greeted
    await shell.quit()


async def test_implicit_tls(smtpd_tls, make_shell, target, cafile):
    shell, out = make_shell(cafile=cafile)
    assert await shell.connect(target(smtpd_tls, implicit_tls=True))
    assert "TLS started (implicit TLS)" in out.text
    assert "220 smtp.test" in out.text
    reply = await shell.ehlo("me")
    assert reply.code == 250
    await shell.quit()


async def test_starttls_option_fails_clearly_when_not_offered(make_shell, target):
    plain = await AioSmtpd(server_ctx=None).start()
    try:
        shell, out = make_shell(starttls=True)
        await shell.connect(target(plain))
        assert shell.connection_failed
        assert "STARTTLS refused: the server did not offer STARTTLS" in out.text
    finally:
        await shell.close_quietly()
        await plain.stop()


async def test_file_in_data_is_normalised_and_stuffed(smtpd, make_shell, target, tmp_path):
    msg = tmp_path / "msg.eml"
    msg.write_bytes(b"Subject: file\n\n.line one\nline two\r\n.\nend")
    shell, out = make_shell()
    await shell.connect(target(smtpd))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
        f":file {msg}", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    assert smtpd.messages[0].content == b"Subject: file\r\n\r\n.line one\r\nline two\r\n.\r\nend\r\n"


async def test_close_mid_reply_is_reported_and_shell_stays_usable(make_shell, target):
    server = await ScriptedServer([b"220 hi\r\n", "READLINE", b"250-first\r\n250-sec", "CLOSE"]).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        await shell.handle("EHLO me")
        text = out.text
        assert "250-first" in text and "250-sec" in text  # what did arrive is shown
        assert "the server closed the connection in the middle of a reply" in text
        assert not shell.connected
        await shell.handle("NOOP")  # no exception: the shell says so
        assert "not connected" in out.text
    finally:
        await server.stop()


async def test_close_mid_reply_in_a_script_exits_with_connection_status(make_shell, target):
    server = await ScriptedServer([b"220 hi\r\n", "READLINE", b"250-first\r\n", "CLOSE"]).start()
    try:
        shell, out = make_shell()
        await shell.connect(target(server))
        status = await run_script(shell, lines("EHLO me", "MAIL FROM:<a@b.example>"))
        assert status is ExitStatus.CONNECTION
        assert "middle of a reply" in out.text
    finally:
        await server.stop()


async def test_plaintext_after_starttls_220_is_refused(make_shell, target):
    server = await ScriptedServer([
        b"220 hi\r\n", "READLINE", b"250-x\r\n250 STARTTLS\r\n", "READLINE",
        b"220 go ahead\r\n250 injected\r\n", "HANG",
    ]).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        await shell.handle("EHLO me")
        await shell.handle("STARTTLS")
        assert "possible command injection" in out.text
        assert "250 injected" in out.text.split("possible command injection")[0] or "b'250 injected" in out.text
        assert "TLS started" not in out.text
        assert not shell.connected
    finally:
        await server.stop()


async def test_silent_server_times_out_clearly(make_shell, target):
    server = await ScriptedServer(["HANG"]).start()
    try:
        shell, out = make_shell(timeout=0.3, interactive=True)
        await shell.connect(target(server))
        assert "no greeting from the server within 0.3 s" in out.text
        await shell.close_quietly()
    finally:
        await server.stop()


async def test_hostile_bytes_are_shown_not_obeyed(make_shell, target):
    server = await ScriptedServer([b"220 hi\x00there\xff\x1b[2J\rX\n", "READLINE", b"221 bye\r\n", "CLOSE"]).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        text = out.text
        assert "220 hi␀there\\xff␛[2J␍X␊" in text
        assert "bare LF" in text
        for line in out.lines:
            for _token, fragment in line:
                assert not any(ord(c) < 0x20 and c != "\t" for c in fragment), repr(fragment)
        await shell.quit()
    finally:
        await server.stop()


async def test_out_of_phase_command_is_sent_with_a_warning(smtpd, make_shell, target):
    shell, out = make_shell(interactive=True)
    await shell.connect(target(smtpd))
    await shell.handle("RCPT TO:<x@example.test>")
    assert "warning: RCPT before an accepted MAIL FROM" in out.text
    assert replied(out.text, "503")  # it went to the server, which answered
    assert shell.session.phase is Phase.READY
    await shell.quit()


async def test_line_with_cr_is_refused_locally_with_pointer_to_raw(smtpd, make_shell, target):
    shell, out = make_shell(interactive=True)
    await shell.connect(target(smtpd))
    await shell.handle("NOOP\rRSET")
    assert "cannot contain CR or LF; use :raw" in out.text
    await shell.handle(":raw NOOP\\r\\n")
    assert out.text.count("250") >= 1
    await shell.quit()


@pytest.mark.parametrize("line", [":nosuch", ":set hints maybe", ":expect 2"])
async def test_bad_colon_commands_say_so(smtpd, make_shell, target, line):
    shell, out = make_shell(interactive=True)
    await shell.connect(target(smtpd))
    await shell.handle(line)
    assert out.lines[-1][0][1].startswith("! ")
    assert shell.connected
    await shell.quit()


async def test_text_pasted_at_the_data_prompt_goes_line_by_line(smtpd, make_shell, target):
    """A paste at data> arrives as one input with LF inside: each line is a message line, CRLF-ended,
    dot-stuffed, tabs kept; a lone dot inside the paste ends the message and what follows are commands."""
    shell, out = make_shell(interactive=True)
    await shell.connect(target(smtpd))
    for line in ("EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"):
        await shell.handle(line)
    await shell.handle("Subject: pasted\nX-Fold: one\n\ttwo\n\nline\twith tab\n.dotline\n")  # ends in LF: no extra line
    await shell.handle("last typed line")
    await shell.handle(".\nNOOP")
    # aiosmtpd keeps the content as received, less the dot-stuffing: CRLF everywhere, the tabs kept
    assert smtpd.messages[0].content == (b"Subject: pasted\r\nX-Fold: one\r\n\ttwo\r\n\r\nline\twith tab\r\n"
                                         b".dotline\r\nlast typed line\r\n")
    assert not shell.in_data and out.text.rstrip().endswith("the connection is alive")  # NOOP: a command
    await shell.quit()
