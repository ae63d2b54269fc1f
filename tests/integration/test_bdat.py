""":bdat against a real server. aiosmtpd has no CHUNKING: tests/support/esmtpd.py adds BDAT to it
(aiosmtpd's own code still reads every command line); a scripted server shows what happens when
CHUNKING is not offered. Postfix's BDAT is in tests/interop/test_power_postfix.py."""

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from tests.support.esmtpd import ExtendedAioSmtpd
from tests.support.script import lines
from tests.support.servers import ScriptedServer

ENVELOPE = ("EHLO me.example", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")


async def session(make_shell, server, target, *script, **settings):
    shell, out = make_shell(**settings)
    assert await shell.connect(target(server))
    status = await run_script(shell, lines(*script))
    return status, out.text


async def test_text_chunk_with_escapes_and_exact_size(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE,
                                r":bdat Subject: chunked\r\n\r\n.not stuffed\r\n --last", ":expect 250")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.content == b"Subject: chunked\r\n\r\n.not stuffed\r\n"
    assert msg.chunks == [len(msg.content)] == [34]
    assert "\nBDAT 34 LAST\n" in out
    assert "chunk: 34 bytes of the text: Subject: chunked␍␊␍␊.not stuffed␍␊" in out
    assert "BDAT sends the bytes as they are: no dot-stuffing, no line-ending conversion (RFC 3030)" in out
    assert out.index("BDAT 34 LAST") < out.index("chunk: 34 bytes") < out.index("250 2.0.0 OK: queued")


async def test_chunks_over_several_commands_then_bdat_0_last(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE,
                                r":bdat Subject: two parts\r\n\r\n", ":expect 250",
                                r":bdat body\r\n", ":expect 250", ":bdat --last", ":expect 250")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.chunks == [22, 6, 0]
    assert msg.content == b"Subject: two parts\r\n\r\nbody\r\n"
    assert "\nBDAT 22\n" in out and "\nBDAT 6\n" in out and "\nBDAT 0 LAST\n" in out


async def test_chunk_size_splits_and_each_reply_is_shown(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE,
                                r":bdat --chunk-size 10 --last 0123456789abcdefghij-tail\r\n")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.chunks == [10, 10, 7]
    assert msg.content == b"0123456789abcdefghij-tail\r\n"
    assert [line for line in out.splitlines() if line.startswith("BDAT")] == ["BDAT 10", "BDAT 10", "BDAT 7 LAST"]
    assert "chunk 1/3: 10 bytes" in out and "chunk 3/3: 7 bytes" in out
    assert out.count("250 2.0.0 10 octets received") == 2


async def test_bare_lf_goes_as_it_is_unless_crlf(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, r":bdat a\nb\r\nc\n --last")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[0].content == b"a\nb\r\nc\n"
    assert "2 bare LFs will go as they are: BDAT converts no line endings (RFC 3030); --crlf makes them CRLF" in out
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, r":bdat --crlf --last a\nb\r\nc\n")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[1].content == b"a\r\nb\r\nc\r\n"
    assert esmtpd.messages[1].chunks == [9]
    assert "--crlf: 2 bare LF made CRLF" in out


async def test_a_file_is_sent_byte_for_byte(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "chunked message.eml"
    data = b"Subject: file\r\n\r\n" + b"".join(b".line %d\r\n" % n for n in range(3000))
    eml.write_bytes(data)
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, f":bdat '{eml}' --chunk-size 16k --last")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.content == data  # no dot-stuffing, no un-stuffing
    assert sum(msg.chunks) == len(data) and msg.chunks[0] == 16384
    assert "of chunked message.eml: Subject: file␍␊" in out


async def test_a_file_with_crlf_is_sized_in_its_crlf_form(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "lf.eml"
    eml.write_bytes(b"Subject: lf\n\nbody\n")
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, f":bdat --crlf {eml} --last")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[0].content == b"Subject: lf\r\n\r\nbody\r\n"
    assert "\nBDAT 21 LAST\n" in out


async def test_a_refused_chunk_stops_the_rest(server_ctx, make_shell, target):
    server = await ExtendedAioSmtpd(server_ctx=server_ctx, refuse_chunk=2).start()
    try:
        status, out = await session(make_shell, server, target, *ENVELOPE, ":bdat --chunk-size 4 --last 0123456789ab")
    finally:
        await server.stop()
    assert status is ExitStatus.REFUSED, out
    assert server.handler.commands == ["BDAT 4", "BDAT 4"]  # the third chunk never went
    assert "BDAT refused: 552 5.3.4 chunk refused by the test; 1 more chunk not sent" in out
    assert not server.messages


async def test_chunking_not_advertised_warns_and_sends(make_shell, target):
    server = await ScriptedServer([
        b"220 scripted ESMTP\r\n", "READLINE", b"250-scripted\r\n250 8BITMIME\r\n",
        "READLINE", b"250 ok\r\n", "READLINE", b"250 ok\r\n",
        "READLINE", "READLINE", b"250 ok, whatever that was\r\n", "READLINE", b"221 bye\r\n",
    ]).start()
    try:
        status, out = await session(make_shell, server, target, *ENVELOPE, r":bdat hello\r\n --last")
    finally:
        await server.stop()
    assert status is ExitStatus.OK, out
    assert "the server did not advertise CHUNKING" in out
    assert out.index("did not advertise CHUNKING") < out.index("BDAT 7 LAST")
    assert server.received[3:5] == [b"BDAT 7 LAST\r\n", b"hello\r\n"]


@pytest.mark.parametrize(("arg", "error"), [
    (r":bdat bad \q escape", r"unknown escape \q"),
    (":bdat --chunk-size 0 x", "not a size: '0'"),
])
async def test_usage_errors(esmtpd, make_shell, target, arg, error):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, arg, "NOOP")
    assert status is ExitStatus.USAGE
    assert error in out and "usage: :bdat PATH|TEXT" in out and "\nNOOP" not in out


async def test_large_chunk_uses_the_progress_and_holds_output_meanwhile(esmtpd, make_shell, target, tmp_path):
    """A file over 1 MB: the shell's progress hook (the REPL's bar) sees every step; lines the
    shell emits meanwhile wait until it is done."""
    import contextlib

    eml = tmp_path / "big.eml"
    eml.write_bytes(b"Subject: big\r\n\r\n" + b"x" * 78 * 20000 + b"\r\n")
    shell, out = make_shell()
    assert await shell.connect(target(esmtpd))
    seen, emitted_while_open = [], []

    @contextlib.contextmanager
    def progress(label, total):
        seen.append(("open", label, total))
        before = len(out.lines)
        yield lambda done: seen.append(done)
        emitted_while_open.append(len(out.lines) - before)

    shell.progress = progress
    status = await run_script(shell, lines(*ENVELOPE, f":bdat {eml} --last"))
    assert status is ExitStatus.OK, out.text
    size = eml.stat().st_size
    assert seen[0] == ("open", "big.eml (chunk)", size)
    assert seen[1:] == sorted(seen[1:]) and seen[-1] == size
    assert emitted_while_open == [0]
    assert esmtpd.messages[0].content == eml.read_bytes()


async def test_bdat_typed_by_hand_takes_the_next_lines_as_its_chunk(esmtpd, make_shell, target):
    """Typed `BDAT n`: the shell does not wait for a reply the server will not send yet; the lines
    typed next are the chunk (with CRLF), :raw adds exact bytes; the reply comes when n bytes went."""
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE,
                                "BDAT 12", "Subject: a", ":expect 250",
                                "BDAT 9 LAST", r":raw hi", "there", ":expect 250", "NOOP", ":expect 250")
    assert status is ExitStatus.OK, out
    [msg] = esmtpd.messages
    assert msg.chunks == [12, 9]
    assert msg.content == b"Subject: a\r\nhithere\r\n"
    assert "the server now reads 12 bytes as message content, then answers: type the content" in out
    assert "7 more bytes of the chunk to send" in out  # after :raw hi
    assert "no reply within" not in out


async def test_typed_chunk_lines_past_the_size_are_warned_about(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, "BDAT 3 LAST", "hello")
    assert "4 bytes past the end of the 3-byte chunk still owed: the server reads them as the next command" in out
    [msg] = esmtpd.messages
    assert msg.content == b"hel"
