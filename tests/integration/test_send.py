""":send against a real aiosmtpd: every option, the message the server got parsed back with
``email``, the envelope parameters it saw, refusals that stop with RSET, and the one-shot
``smtpshell HOST --send``. DSN and CHUNKING come from tests/support/esmtpd.py (aiosmtpd
does not offer them)."""

import email
import email.policy

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from smtpshell.transcript.readers import read
from tests.support.esmtpd import ExtendedAioSmtpd
from tests.support.process import run_cli
from tests.support.script import lines


async def session(make_shell, server, target, *script, **settings):
    shell, out = make_shell(**settings)
    assert await shell.connect(target(server))
    status = await run_script(shell, lines(*script))
    return status, out.text, shell


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.content.replace(b"\r\n", b"\n"), policy=email.policy.default)


async def test_a_composed_message_arrives_with_every_header(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, (
        ':send --from alice@example.test --to bob@example.test --to carol@example.test '
        '--cc dave@example.test --subject "Quarterly figures" --body "Hello,\\n.the numbers\\nbye" '
        '--header "X-Mailer-Test: smtpshell" --header "Reply-To: <replies@example.test>"'
    ), ":expect 250")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.mail_from == "alice@example.test"
    assert msg.rcpt_tos == ["bob@example.test", "carol@example.test", "dave@example.test"]
    assert msg.verb == "DATA"
    assert msg.mail_options == [f"SIZE={len(msg.content)}"]  # SIZE offered: the exact size
    m = parsed(msg)
    assert m["From"] == "alice@example.test"
    assert m["To"] == "bob@example.test, carol@example.test"
    assert m["Cc"] == "dave@example.test"
    assert m["Subject"] == "Quarterly figures"
    assert m["X-Mailer-Test"] == "smtpshell" and m["Reply-To"] == "replies@example.test"
    assert m["Date"].datetime is not None
    assert m["Message-ID"].endswith("@example.test>")
    assert m.get_content() == "Hello,\n.the numbers\nbye\n"  # dot-stuffed on the wire, not in the message
    assert b"\r\n.the numbers\r\n" in msg.content
    # Each step shown as if typed: EHLO first (not greeted yet), then the envelope and the message.
    order = [out.index(text) for text in (
        "EHLO ", "MAIL FROM:<alice@example.test> SIZE=", "RCPT TO:<bob@example.test>",
        "RCPT TO:<dave@example.test>", "\nDATA\n", "\n354 ", "Subject: Quarterly figures", ".the numbers",
        "\n.\n", "250 2.0.0 OK: queued", "message accepted for 3 recipients")]
    assert order == sorted(order), out


async def test_header_replaces_the_composed_date_and_message_id(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, (
        ':send --from a@example.test --to b@example.test '
        '--header "Date: Mon, 01 Jan 2024 10:00:00 +0000" --header "Message-ID: <fixed@example.test>"'
    ))
    assert status is ExitStatus.OK, out
    m = parsed(esmtpd.messages[0])
    assert m.get_all("Date") == ["Mon, 01 Jan 2024 10:00:00 +0000"]
    assert m.get_all("Message-ID") == ["<fixed@example.test>"]
    assert m["Subject"] == "smtpshell test" and "test message sent with smtpshell" in m.get_content()


async def test_attachments_are_mime_parts_with_their_bytes(esmtpd, make_shell, target, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text notes\n")
    blob = tmp_path / "data.bin"
    blob.write_bytes(bytes(range(256)) * 40)
    image = tmp_path / "pixel.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    status, out, _ = await session(make_shell, esmtpd, target, (
        f":send --from a@example.test --to b@example.test --subject files --body see "
        f"--attach {notes} --attach {blob} --attach {image}"
    ))
    assert status is ExitStatus.OK, out
    m = parsed(esmtpd.messages[0])
    assert m.get_content_type() == "multipart/mixed"
    body, *parts = list(m.iter_parts())
    assert body.get_content() == "see\n"
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("notes.txt", "text/plain"), ("data.bin", "application/octet-stream"), ("pixel.png", "image/png")]
    assert parts[0].get_payload(decode=True) == b"plain text notes\n"
    assert parts[1].get_payload(decode=True) == bytes(range(256)) * 40
    assert parts[2].get_payload(decode=True) == image.read_bytes()
    assert all(len(line) <= 78 for line in esmtpd.messages[0].content.split(b"\r\n"))


async def test_dsn_parameters_reach_the_server(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, (
        ':send --from a@example.test --to b@example.test --to c@example.test '
        '--notify success,failure --ret hdrs --envid "batch 7+x=y"'
    ))
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.mail_options[1:] == ["RET=HDRS", "ENVID=batch+207+2Bx+3Dy"]  # xtext
    assert msg.rcpt_options == ["NOTIFY=SUCCESS,FAILURE", "NOTIFY=SUCCESS,FAILURE"]
    assert "did not advertise" not in out


async def test_8bit_sends_body_8bitmime_and_raw_utf8(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target,
                                   ':send --from a@example.test --to b@example.test --8bit --body "Grüße, Jörg"')
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert "BODY=8BITMIME" in msg.mail_options
    m = parsed(msg)
    assert m["Content-Transfer-Encoding"] == "8bit"
    assert "Grüße, Jörg".encode() in msg.content


async def test_without_8bit_the_message_is_7bit_clean(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target,
                                   ':send --from a@example.test --to b@example.test --subject "Grüße" --body "Grüße"')
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.content.isascii()
    assert not any(o.startswith("BODY=") for o in msg.mail_options)
    m = parsed(msg)
    assert m["Subject"] == "Grüße" and m.get_content().replace("\r\n", "\n") == "Grüße\n"  # canonical CRLF in base64


async def test_smtputf8_carries_utf8_addresses_and_headers(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, (
        ':send --from jörg@exämple.test --to zoë@example.test --subject "Ünïcode" --smtputf8 --8bit --body ☃'
    ))
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.smtp_utf8 and "SMTPUTF8" in msg.mail_options
    assert msg.mail_from == "jörg@exämple.test" and msg.rcpt_tos == ["zoë@example.test"]
    assert "From: jörg@exämple.test\r\n".encode() in msg.content  # raw UTF-8 (RFC 6532), no encoded words
    assert "Subject: Ünïcode\r\n".encode() in msg.content


async def test_non_ascii_address_without_smtputf8_is_a_clear_error(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, ":send --from jörg@example.test --to b@example.test")
    assert status is ExitStatus.USAGE
    assert "non-ASCII address 'jörg@example.test': it needs SMTPUTF8 (--smtputf8)" in out
    assert "MAIL FROM" not in out and not esmtpd.messages


async def test_file_is_sent_as_it_is_crlf_and_dot_stuffed(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "saved.eml"
    eml.write_bytes(b"From: a@example.test\nTo: b@example.test\nSubject: from a file\n\n.one\nbody\n..two")
    status, out, _ = await session(make_shell, esmtpd, target,
                                   f":send --from a@example.test --to b@example.test --file {eml}")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.content == b"From: a@example.test\r\nTo: b@example.test\r\nSubject: from a file\r\n\r\n.one\r\nbody\r\n..two\r\n"
    assert "saved.eml has no Date: and no Message-ID: header; it is sent as it is" in out
    assert f"SIZE={eml.stat().st_size}" in out
    assert "\n..one\n" in out and "\n...two\n" in out  # shown as on the wire, dot-stuffed (small: all of it)
    assert "77 bytes read, 87 on the wire (6 bare LF made CRLF, 2 lines dot-stuffed)" in out


async def test_a_large_file_shows_its_headers_and_a_summary(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "large.eml"
    head = b"From: a@example.test\r\nSubject: large\r\nMessage-ID: <l@example.test>\r\nDate: Mon, 1 Jan 2024 0:0:0 +0000\r\n\r\n"
    body = b"".join(b"body line %06d\r\n" % n for n in range(20000))
    eml.write_bytes(head + body)
    status, out, shell = await session(make_shell, esmtpd, target,
                                       f":send --from a@example.test --to b@example.test --file {eml}",
                                       f":save {tmp_path / 'saved.jsonl'}")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[0].content == head + body
    assert "Subject: large" in out and "body line 000000" not in out
    assert f"… 20,000 more lines ({len(body):,} bytes) …" in out
    assert "has no" not in out  # Date and Message-ID are there
    assert len(out.splitlines()) < 60
    saved = read((tmp_path / "saved.jsonl").read_text(encoding="utf-8"))  # :save keeps the content, line by line
    content = [c.line for c in saved.client_lines if c.data]
    assert content[4:6] == ["", "body line 000000"] and content[-1] == "body line 019999" and len(content) == 20005


async def test_bdat_when_chunking_is_offered(esmtpd, make_shell, target, tmp_path):
    status, out, _ = await session(make_shell, esmtpd, target, (
        ':send --from a@example.test --to b@example.test --body "one\\n.two" --bdat --chunk-size 100'
    ))
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.verb == "BDAT"
    assert sum(msg.chunks) == len(msg.content) and set(msg.chunks[:-1]) == {100}
    assert f"SIZE={len(msg.content)}" in msg.mail_options
    assert msg.content.endswith(b"\r\none\r\n.two\r\n")  # BDAT: no dot-stuffing
    assert f"BDAT {msg.chunks[-1]} LAST" in out and "BDAT 100\n" in out
    assert "\nDATA\n" not in out  # no DATA command went out (the hints may name it)


async def test_bdat_of_a_file_sizes_its_crlf_form(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "lf.eml"
    eml.write_bytes(b"Subject: lf\n\n.dot\nend")  # bare LF, and no line ending at the end
    status, out, _ = await session(make_shell, esmtpd, target,
                                   f":send --from a@example.test --to b@example.test --file {eml} --bdat")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.content == b"Subject: lf\r\n\r\n.dot\r\nend\r\n"
    assert msg.chunks == [len(msg.content)]


async def test_bdat_without_chunking_warns_and_uses_data(smtpd, make_shell, target):
    status, out, _ = await session(make_shell, smtpd, target,
                                   ":send --from a@example.test --to b@example.test --bdat")
    assert status is ExitStatus.OK, out
    assert "the server did not advertise CHUNKING: sending with DATA instead of BDAT" in out
    assert "\nDATA\n" in out and "BDAT" not in out.replace("--bdat", "").replace("instead of BDAT", "")
    assert len(smtpd.messages) == 1


async def test_a_parameter_not_advertised_is_warned_sent_and_its_refusal_resets(smtpd, make_shell, target):
    # Plain aiosmtpd offers no DSN: the warning comes first, the line goes anyway, 555 stops it.
    status, out, shell = await session(make_shell, smtpd, target,
                                       ":send --from a@example.test --to b@example.test --envid e1")
    assert status is ExitStatus.REFUSED, out
    assert out.index("ENVID= needs DSN, which the server did not advertise") < out.index("MAIL FROM:<a@example.test>")
    assert "MAIL FROM refused: 555" in out and "stopping the transaction with RSET" in out
    assert "\nRSET\n" in out and "RCPT TO:<" not in out
    assert "the server refused a command (555) and no :expect checked it: exit 4" in out
    assert not smtpd.messages


async def test_expect_after_a_refused_send_sees_the_refusal_not_rsets_250(smtpd, make_shell, target):
    status, out, _ = await session(make_shell, smtpd, target,
                                   ":send --from a@example.test --to b@example.test --ret full", ":expect 5xx")
    assert status is ExitStatus.OK, out
    status, out, _ = await session(make_shell, smtpd, target,
                                   ":send --from a@example.test --to b@example.test --ret full", ":expect 250")
    assert status is ExitStatus.EXPECT_FAILED and "expected 250, got 555" in out


async def test_a_refused_recipient_stops_before_data(server_ctx, make_shell, target):
    server = await ExtendedAioSmtpd(server_ctx=server_ctx, refuse_recipients=frozenset({"nobody@example.test"})).start()
    try:
        status, out, shell = await session(make_shell, server, target, (
            ":send --from a@example.test --to b@example.test --to nobody@example.test --to c@example.test"
        ), "NOOP")
    finally:
        await server.stop()
    assert status is ExitStatus.REFUSED, out
    assert "RCPT TO:<nobody@example.test> refused: 550 5.1.1 no such user here; stopping the transaction with RSET" in out
    assert "RCPT TO:<c@example.test>" not in out and "\nDATA\n" not in out
    assert server.handler.commands == ["RSET"] and not server.messages
    assert out.index("RSET") < out.index("NOOP")  # the script goes on after the refusal


async def test_a_refused_sender_in_the_repl_is_said_and_reset(server_ctx, make_shell, target):
    server = await ExtendedAioSmtpd(server_ctx=server_ctx, refuse_senders=frozenset({"spam@example.test"})).start()
    try:
        shell, out = make_shell(interactive=True)
        await shell.connect(target(server))
        await shell.handle(":send --from spam@example.test --to b@example.test")
        await shell.handle("NOOP")
        await shell.quit()
    finally:
        await server.stop()
    text = out.text
    assert "MAIL FROM:<spam@example.test>" in text  # not typed: shown by the shell
    assert "MAIL FROM refused: 550 5.7.1 sender refused by the test; stopping the transaction with RSET" in text
    assert server.handler.commands == ["RSET"]


async def test_no_second_ehlo_when_greeted_and_no_data_hint_in_the_repl(esmtpd, make_shell, target):
    shell, out = make_shell(interactive=True)
    await shell.connect(target(esmtpd))
    await shell.handle("EHLO typed.example")
    await shell.handle(":send --from a@example.test --to b@example.test")
    await shell.quit()
    text = out.text
    assert "\nEHLO " not in text  # the typed EHLO is on the prompt's line; :send sent none
    assert "250-smtp.test" in text and text.count("250-smtp.test") == 1  # one EHLO reply only
    assert "type the message" not in text
    assert len(esmtpd.messages) == 1


@pytest.mark.parametrize(("arg", "error"), [
    ("--to b@example.test", "--from ADDRESS is needed"),
    ("--from a@example.test", "at least one --to (or --cc) is needed"),
    ("--from a@example.test --to b@example.test --file x.eml --subject s --attach y",
     "--file sends the file as it is; --subject, --attach compose a message"),
    ("--from a@example.test --to b@example.test --chunk-size 10", "--chunk-size goes with --bdat"),
    ("--from a@example.test --to b@example.test --bdat --chunk-size lots", "not a size: 'lots'"),
    ("--from a@example.test --to b@example.test --frobnicate", "unrecognized arguments: --frobnicate"),
    ("--from a@example.test --to b@example.test --header Nocolon", "not a header field: 'Nocolon'"),
    ("--from a@example.test --to b@example.test --attach /nonexistent/file.pdf", "cannot read /nonexistent/file.pdf"),
])
async def test_usage_errors_say_what_and_stop_a_script_with_2(esmtpd, make_shell, target, arg, error):
    status, out, _ = await session(make_shell, esmtpd, target, f":send {arg}", "NOOP")
    assert status is ExitStatus.USAGE
    assert error in out
    assert "NOOP" not in out and not esmtpd.messages


async def test_help_lists_send_and_bdat(esmtpd, make_shell, target):
    status, out, _ = await session(make_shell, esmtpd, target, ":help", ":help send")
    assert ":send --from A --to B [...]" in out and ":bdat PATH|TEXT [--last]" in out
    assert "A refusal stops the transaction with RSET" in out


# ----- the one-shot command line -----------------------------------------------


async def test_one_shot_send_with_starttls_exits_0(esmtpd, tmp_path, cafile):
    code, out, err = await run_cli(
        "127.0.0.1", str(esmtpd.port), "--cafile", cafile, "--starttls", "--send", "--from", "a@example.test",
        "--to", "b@example.test", "--subject", "one shot", "--body", "line 1\\nline 2", "--notify", "never",
        tmp_path=tmp_path)
    assert code == 0, out + err
    assert "TLS started (STARTTLS)" in out and "message accepted for 1 recipient" in out
    queued = out.index("250 2.0.0 OK: queued")
    assert queued < out.index("\nQUIT\n", queued) < out.index("\n221 ", queued)
    m = parsed(esmtpd.messages[0])
    assert m["Subject"] == "one shot" and m.get_content() == "line 1\nline 2\n"
    assert esmtpd.messages[0].rcpt_options == ["NOTIFY=NEVER"]


async def test_one_shot_refusal_exits_4(server_ctx, tmp_path):
    server = await ExtendedAioSmtpd(server_ctx=server_ctx, refuse_recipients=frozenset({"x@example.test"})).start()
    try:
        code, out, err = await run_cli("127.0.0.1", str(server.port), "--send", "--from", "a@example.test",
                                         "--to", "x@example.test", tmp_path=tmp_path)
    finally:
        await server.stop()
    assert code == ExitStatus.REFUSED, out + err
    assert "stopping the transaction with RSET" in out


@pytest.mark.parametrize(("args", "error"), [
    (["--from", "a@example.test", "--to", "b@example.test"], "--from goes with --send"),
    (["--send", "--to", "b@example.test"], "--send: --from ADDRESS is needed"),
    (["--send", "--from", "a@b", "--to", "c@d", "-c", "NOOP"], "--send is a whole session by itself"),
])
async def test_one_shot_usage_errors_exit_2(args, error, tmp_path):
    code, out, err = await run_cli("127.0.0.1", "9", *args, tmp_path=tmp_path)
    assert code == 2 and error in err
