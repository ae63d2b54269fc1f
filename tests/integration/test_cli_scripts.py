"""`smtpshell HOST -c ...` as a user runs it: a real process, a real aiosmtpd, exit statuses."""

import asyncio
import socket
import sys

import pytest

from tests.support.process import run_cli as run
from tests.support.script import replied


async def test_script_success_exits_0_and_sends_quit(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "-c", "EHLO me", "-c", ":expect 250", tmp_path=tmp_path)
    assert code == 0, out + err
    assert "250-smtp.test" in out
    assert "QUIT" in out and replied(out, "221")  # QUIT sent for the script
    assert "\x1b[" not in out  # not a terminal: no colour


async def test_whole_transaction_from_stdin(smtpd, tmp_path):
    script = (
        "EHLO me\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n"
        "Subject: piped\n\n.leading dot\n250 not a reply, a body line\n.\n:expect 250\nQUIT\n"
    ).encode()
    code, out, err = await run("127.0.0.1", str(smtpd.port), stdin=script, tmp_path=tmp_path)
    assert code == 0, out + err
    assert smtpd.messages[0].content == b"Subject: piped\r\n\r\n.leading dot\r\n250 not a reply, a body line\r\n"


async def test_script_file(smtpd, tmp_path):
    script = tmp_path / "session.smtp"
    script.write_text("EHLO me\r\nNOOP\r\n:expect 250\r\n")  # CRLF line endings in the file are fine
    code, out, err = await run(f"127.0.0.1:{smtpd.port}", "-f", str(script), tmp_path=tmp_path)
    assert code == 0, out + err
    assert "NOOP" in out


async def test_failed_expect_exits_1_and_stops(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "-c", "EHLO me", "-c", ":expect 5xx",
                               "-c", "NOOP", tmp_path=tmp_path)
    assert code == 1
    assert "expected 5xx, got 250" in out
    assert "NOOP" not in out  # the script stopped there
    assert replied(out, "221")  # but still said goodbye


async def test_unexpected_refusal_exits_4(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "-c", "RCPT TO:<x@example.test>", tmp_path=tmp_path)
    assert code == 4
    assert replied(out, "503") and "no :expect checked it" in out


async def test_expected_refusal_exits_0(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "-c", "RCPT TO:<x@example.test>", "-c", ":expect 5xx",
                               tmp_path=tmp_path)
    assert code == 0, out


async def test_connection_refused_exits_3(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = await run("127.0.0.1", str(port), "-c", "NOOP", tmp_path=tmp_path)
    assert code == 3
    assert f"connection refused by 127.0.0.1:{port}" in out


async def test_untrusted_certificate_exits_3(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--starttls", "-c", "NOOP", tmp_path=tmp_path)
    assert code == 3
    assert "certificate verification failed: unknown issuer" in out
    assert "Traceback" not in out + err


async def test_starttls_option_with_cafile(smtpd, cafile, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--starttls", "--cafile", cafile,
                               "-c", ":expect 250", tmp_path=tmp_path)
    assert code == 0, out + err
    assert "TLS started (STARTTLS)" in out and "verified" in out


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unrecognized arguments"),
    ([], "give a HOST"),
    (["host", "99999"], "bad port"),
    (["host", "--timeout=-1"], "must be more than 0"),
    (["host", "-f", "/nonexistent/script"], "cannot read script"),
    (["host", "--style", "nosuchstyle"], "no pygments style"),
])
async def test_usage_errors_exit_2(args, message, tmp_path):
    code, out, err = await run(*args, tmp_path=tmp_path)
    assert code == 2
    assert message in err


async def test_help_lists_exit_statuses(tmp_path):
    code, out, err = await run("--help", tmp_path=tmp_path)
    assert code == 0
    for line in ("0    success", "1    an :expect", "2    usage error", "3    connection or TLS failure"):
        assert line in out


async def test_color_always_colours_reply_classes_differently(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--color", "always", "-c", "NOOP",
                               "-c", "RCPT TO:<x@example.test>", "-c", ":expect 503", tmp_path=tmp_path)
    assert code == 0
    assert "\x1b[1;32m250" in out  # 2xx green
    assert "\x1b[1;31m503" in out  # 5xx red


async def test_no_color_env_is_honoured_with_color_auto(smtpd, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "-c", "NOOP", env={"NO_COLOR": "1"}, tmp_path=tmp_path)
    assert "\x1b[" not in out


async def test_script_path_does_not_import_prompt_toolkit(smtpd):
    code = (
        "import sys\n"
        "from smtpshell.cli import main\n"
        f"status = main(['127.0.0.1', '{smtpd.port}', '-c', 'NOOP'])\n"
        "assert status == 0, status\n"
        "loaded = [m for m in sys.modules if m.startswith(('prompt_toolkit', 'aiosmtpd', 'cryptography'))]\n"
        "print('LOADED', loaded)\n"
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE,
                                                stdin=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert "LOADED []" in out.decode()


async def test_explain_subcommand(tmp_path):
    code, out, err = await run("explain", "554 5.7.1 Relay access denied", tmp_path=tmp_path)
    assert code == 0
    assert "554: transaction failed" in out
    assert "5.7.1: delivery not authorized" in out


@pytest.mark.parametrize("how", ["file", "stdin", "argument"])
async def test_a_line_that_is_not_utf8_goes_out_as_its_bytes(how, tmp_path):
    """A Latin-1 script (or argument) is not a crash: the bytes go out as they are, with a warning."""
    from tests.support.line_server import LineServer

    server = await LineServer().start()
    try:
        line = b"NOOP caf\xe9 \xff"
        args, stdin = ["127.0.0.1", str(server.port), "--color", "never"], None
        if how == "file":
            script = tmp_path / "latin1.smtp"
            script.write_bytes(b"EHLO me\n" + line + b"\n")
            args += ["-f", str(script)]
        elif how == "stdin":
            stdin = b"EHLO me\n" + line + b"\n"
        else:
            args = [arg.encode() for arg in args] + [b"-c", b"EHLO me", b"-c", line]
        code, out, err = await run(*args, stdin=stdin, tmp_path=tmp_path)
    finally:
        await server.stop()
    assert code == 0, out + err
    assert "Traceback" not in out + err
    assert line in server.commands  # exactly the bytes of the script
    assert "the line has bytes that are not UTF-8 (0xe9 0xff): sent as they are" in out
    assert "NOOP caf\\xe9 \\xff" in out  # shown visibly, not as mojibake


async def test_starttls_command_not_offered_stops_the_script_before_the_password(tmp_path):
    from tests.support.servers import AioSmtpd

    plain = await AioSmtpd(server_ctx=None).start()  # no STARTTLS offered
    try:
        code, out, err = await run("127.0.0.1", str(plain.port), "--color", "never", "-c", ":starttls",
                                   "-c", ":auth PLAIN alice wonderland", "-c", "MAIL FROM:<a@example.test>",
                                   tmp_path=tmp_path)
    finally:
        await plain.stop()
    assert code == 3, out + err
    assert "STARTTLS refused: the server did not offer STARTTLS" in out
    assert "the script stops here: TLS did not start" in out
    after = out.split("the script stops here")[1]
    assert "AUTH" not in after and "MAIL FROM" not in after  # nothing went out in plain text after it
    assert replied(out, "221")  # still said goodbye


@pytest.mark.parametrize("pipeline", [False, True])
async def test_message_of_a_refused_data_is_not_sent_as_commands(pipeline, tmp_path):
    """DATA refused (no recipient): the lines after it up to the lone dot are its message; they
    must not reach the server as commands (a body line "RSET" would act). The script goes on."""
    from tests.support.line_server import LineServer

    server = await LineServer().start()
    try:
        code, out, err = await run(
            "127.0.0.1", str(server.port), "--color", "never", *(["--pipeline"] if pipeline else []),
            "-c", "EHLO me", "-c", "MAIL FROM:<a@example.test>", "-c", "DATA", "-c", "Subject: x", "-c", "",
            "-c", "RSET", "-c", ".", "-c", "NOOP after", tmp_path=tmp_path)
    finally:
        await server.stop()
    assert server.commands == [b"EHLO me", b"MAIL FROM:<a@example.test>", b"DATA", b"NOOP after", b"QUIT"]
    assert ("DATA was refused (503): the message was NOT sent; its 4 lines up to the lone '.' were skipped, "
            "not sent as commands") in out
    assert code == 4, out + err  # the 503 was not looked at by an :expect


@pytest.mark.parametrize("after", [[":expect 503", "NOOP"], ["mail from:<a@example.test>", "NOOP"]])
async def test_a_command_right_after_a_refused_data_runs(after, tmp_path):
    """No message follows a refused DATA when the next line is a colon command or an SMTP command."""
    from tests.support.line_server import LineServer

    server = await LineServer().start()
    try:
        code, out, err = await run("127.0.0.1", str(server.port), "-c", "DATA",
                                   *(arg for line in after for arg in ("-c", line)), tmp_path=tmp_path)
    finally:
        await server.stop()
    assert server.commands == [b"DATA", *(line.encode() for line in after if not line.startswith(":")), b"QUIT"]
    assert "skipped" not in out
    assert code == (0 if after[0].startswith(":") else 4), out + err


@pytest.mark.parametrize(("line", "message"), [
    (":connect", "usage: :connect HOST [PORT] [--tls]"),
    (":connect 127.0.0.1 notaport", "bad port 'notaport'"),
    (":help nosuch", "no command :nosuch"),
    (":set timestamps maybe", "usage: :set timestamps on|off"),
    (":set style nosuch", "no pygments style named 'nosuch'"),
    (":xclient", "usage: :xclient NAME=VALUE"),
    (":mx", "usage: :mx DOMAIN"),
    (":raw \\q", "unknown escape \\q"),
    (":save", "usage: :save FILE"),
    (":nosuch", "unknown command :nosuch"),
    (":explain", "usage: :explain"),
    (":explain xyz", "'xyz': not a reply code, enhanced status code or EHLO keyword I know"),
])
async def test_a_colon_command_used_wrongly_stops_the_script_with_status_2(smtpd, line, message, tmp_path):
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--color", "never", "-c", line, "-c", "NOOP",
                               tmp_path=tmp_path)
    assert code == 2, out + err
    assert message in out
    assert "\nNOOP" not in out  # the script stopped there


async def test_a_connect_that_fails_stops_the_script_with_status_3(smtpd, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--color", "never", "-c", f":connect 127.0.0.1 {port}",
                               "-c", "NOOP", tmp_path=tmp_path)
    assert code == 3, out + err
    assert f"connection refused by 127.0.0.1:{port}" in out and "\nNOOP" not in out


@pytest.mark.parametrize("marks", ["bare", "sc", "swaks"])
async def test_what_a_script_shows_reads_back_as_the_same_message(smtpd, marks, tmp_path):
    """The screen shows DATA content as it goes on the wire (dot-stuffed), as every transcript
    notation writes it: the output of --marks sc/swaks/bare, read back, is the message sent."""
    from smtpshell.transcript.readers import read

    body = ["Subject: dots", "", ".dot", "..two", "plain"]
    code, out, err = await run("127.0.0.1", str(smtpd.port), "--color", "never", "--marks", marks,
                               "-c", "EHLO me", "-c", "MAIL FROM:<a@example.test>", "-c", "RCPT TO:<b@example.test>",
                               "-c", "DATA", *(arg for line in body for arg in ("-c", line)), "-c", ".",
                               tmp_path=tmp_path)
    assert code == 0, out + err
    assert smtpd.messages[0].content == b"Subject: dots\r\n\r\n.dot\r\n..two\r\nplain\r\n"
    assert [e.line for e in read(out).client_lines if e.data] == body  # the output as it is, notes and all


def _closed_port() -> int:
    with socket.socket() as s:  # a port nobody listens on: an attempt to connect would say "refused"
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("files", "message"), [
    ({"--cafile": "missing"}, "--cafile {missing}: No such file or directory"),
    ({"--cafile": "junk"}, "--cafile {junk}: no PEM certificate in it"),
    ({"--cert": "missing"}, "--cert {missing}: No such file or directory"),
    ({"--cert": "cert", "--key": "missing"}, "--key {missing}: No such file or directory"),
    ({"--cert": "junk", "--key": "junk"}, "--cert {junk} / --key {junk}: not a PEM certificate and its private key"),
    ({"--cert": "cert"}, "--cert {cert}: no certificate and private key in PEM form in it"),
    ({"--cert": "cert", "--key": "other_key"}, "--cert {cert} and --key {other_key}: the key does not belong"),
])
async def test_bad_tls_files_are_named_before_connecting(files, message, tmp_path):
    import trustme

    ca = trustme.CA()
    leaf, other = ca.issue_cert("client.example"), ca.issue_cert("other.example")
    paths = {"missing": tmp_path / "missing.pem", "junk": tmp_path / "junk.pem", "cert": tmp_path / "cert.pem",
             "other_key": tmp_path / "other.key"}
    paths["junk"].write_text("not a certificate\n")
    leaf.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    other.private_key_pem.write_to_path(str(paths["other_key"]))
    args = [arg for option, name in files.items() for arg in (option, str(paths[name]))]
    code, out, err = await run("127.0.0.1", str(_closed_port()), "--starttls", *args, "-c", "NOOP", tmp_path=tmp_path)
    assert code == 2, out + err
    assert message.format(**paths) in err
    assert "refused" not in out + err  # said before any connection


async def test_send_names_a_missing_attachment_before_connecting(tmp_path):
    code, out, err = await run("127.0.0.1", str(_closed_port()), "--send", "--from", "a@example.test",
                               "--to", "b@example.test", "--attach", str(tmp_path / "nope.pdf"), tmp_path=tmp_path)
    assert code == 2
    assert f"--send --attach {tmp_path / 'nope.pdf'}: no such file" in err and "refused" not in out + err


@pytest.mark.parametrize(("host", "flag", "message"), [
    ("127.0.0.1", "-6", "127.0.0.1 is an IPv4 address, and -6 (IPv6) was asked for: leave out -6"),
    ("::1", "-4", "::1 is an IPv6 address, and -4 (IPv4) was asked for: leave out -4"),
])
async def test_an_address_of_the_other_family_than_asked_is_said_so(host, flag, message, tmp_path):
    code, out, err = await run(host, str(_closed_port()), flag, "-c", "NOOP", "--color", "never", tmp_path=tmp_path)
    assert code == 3
    assert message in out and "cannot resolve" not in out
