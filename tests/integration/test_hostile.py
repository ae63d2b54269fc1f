"""The shell against hostile servers (scripted on 127.0.0.1): what the user sees, that the shell stays
usable, the exit status of a script, and that nothing the server sends reaches the terminal raw.

Each case drives the real Shell: interactively (``make_shell(interactive=True)``, then the next command
or ``:connect`` to a good server), as a script (``run_script``), and for exit statuses as the real
program (``python -m smtpshell``).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import sys
import warnings
from dataclasses import dataclass

import pytest

from smtpshell.net import connection as net
from smtpshell.protocol.replies import MAX_LINE
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.transcript.events import ClientLine, Note
from smtpshell.transcript.readers import read
from tests.support.hostile import (
    SMALL_RCVBUF,
    Abort,
    Close,
    Expect,
    FailTLS,
    Hang,
    HostileServer,
    Mark,
    ReadSome,
    ReadUntil,
    Send,
    StartTLS,
    StopReading,
    self_signed_server_context,
)
from tests.support.script import lines

GREETING = b"220 hostile.example ESMTP\r\n"
HELLO = [Send(GREETING), Expect(b"EHLO"), Send(b"250 hostile.example\r\n")]
# The end of every case whose connection stays up: the next command is answered, QUIT too.
STILL_HERE = [Expect(b"NOOP"), Send(b"250 2.0.0 still here\r\n"), Expect(b"QUIT"), Send(b"221 bye\r\n"), Close()]
TRANSACTION = [
    Expect(b"MAIL"), Send(b"250 ok\r\n"), Expect(b"RCPT"), Send(b"250 ok\r\n"), Expect(b"DATA"),
    Send(b"354 go ahead\r\n"),
]
TYPED_TRANSACTION = ["EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA"]


# ----- what every case checks ---------------------------------------------------------------


def assert_nothing_raw(out) -> None:
    """No traceback, and no fragment the terminal would obey: C0 (but TAB), DEL, C1, lone surrogates."""
    assert "Traceback" not in out.text
    for line in out.lines:
        for _token, text in line:
            bad = [c for c in text if (ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F]
            assert not bad, f"raw control characters {bad!r} in {text!r}"
            text.encode("utf-8")  # no lone surrogates: every byte was made visible


def errors(out) -> list[str]:
    """The shell's own error lines ("! ..."), warnings left out."""
    texts = ["".join(t for _, t in line) for line in out.lines]
    return [t for t in texts if t.startswith("! ") and not t.startswith("! warning:")]


async def usable_after(shell, out, smtpd) -> None:
    """The shell goes on: a new connection to a good server answers the next command."""
    await shell.handle(f":connect 127.0.0.1 {smtpd.port}")
    assert shell.connected, out.text
    mark = len(out.lines)
    await shell.handle("NOOP")
    assert shell.last_reply.code == 250
    assert any("".join(t for _, t in line).startswith("250") for line in out.lines[mark:])
    await shell.quit()


def closed_future(shell) -> asyncio.Future:
    """Resolved with the Closed event when the shell's connection goes away (a listener, no polling)."""
    fut = asyncio.get_running_loop().create_future()

    def listen(event) -> None:
        if isinstance(event, net.Closed) and not fut.done():
            fut.set_result(event)

    shell.listeners.append(listen)
    return fut


async def run_cli(*args, tmp_path, stdin: bytes = b""):
    """The real program; returns (status, stdout, stderr)."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("NO_COLOR", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smtpshell", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


# ----- what the server sends: one table, run interactively and as a script ---------------------


@dataclass
class Case:
    id: str
    steps: list
    typed: list[str]
    shown: list[str]  # what the user sees (substrings of the output)
    status: ExitStatus  # the same lines as a script
    stays_connected: bool = True  # else the shell proves itself usable on a new connection
    timeout: float = 5.0
    max_output: int = 20_000  # characters on screen, whatever the server sent


def _ehlo_answer(reply: bytes, *, rest: list | None = None) -> list:
    return [Send(GREETING), Expect(b"EHLO"), Send(reply), *(STILL_HERE if rest is None else rest)]


MANY_LINES = b"".join(b"250-%06d " % i + b"x" * 90 + b"\r\n" for i in range(100_000)) + b"250 last line\r\n"

REPLY_CASES = [
    Case(
        "garbage-bytes",
        [Send(bytes(range(256)) * 4 + b"\r\n" + GREETING), Expect(b"EHLO"), Send(b"250 ok\r\n"), *STILL_HERE],
        ["EHLO me"],
        ["server: line has no reply code", "server: bytes that are not valid UTF-8",
         "server: control characters in the line", "220 hostile.example ESMTP", "250 2.0.0 still here"],
        ExitStatus.OK,
    ),
    Case(
        "reply-without-code",
        _ehlo_answer(b"hello, I am not an SMTP server\r\n250 ok\r\n"),
        ["EHLO me"],
        ["hello, I am not an SMTP server", "server: line has no reply code", "250 2.0.0 still here"],
        ExitStatus.OK,
    ),
    Case(
        "code-changes-mid-reply",
        _ehlo_answer(b"250-first\r\n251-second\r\n550 5.7.1 third\r\n"),
        ["EHLO me"],
        ["250-first", "251-second", "550 5.7.1 third",
         "server: reply code changed in the middle of a multi-line reply", "250 2.0.0 still here"],
        ExitStatus.REFUSED,  # the reply's code is its last line's: 550, and no :expect looked at it
    ),
    Case(
        "100-KB-lines",
        _ehlo_answer(b"250-" + b"a" * 100_000 + b"\r\n250 " + b"b" * 100_000 + b"\r\n"),
        ["EHLO me"],
        ["250-aaaa", "250 bbbb", f"… {100_000 - display.SHOW_LINE_CHARS:,} more characters not shown",
         "250 2.0.0 still here"],
        ExitStatus.OK,
        max_output=2 * display.SHOW_LINE_CHARS + 2_000,
    ),
    Case(
        "10-MB-reply",
        _ehlo_answer(MANY_LINES),
        ["EHLO me"],
        ["250-000000 xxx", f"… {100_000 - display.SHOW_REPLY_LINES + 1:,} more lines of this reply",
         "250 last line", "250 2.0.0 still here"],
        ExitStatus.OK,
        timeout=30.0,  # ~10 MB through the parser: seconds on a slow machine, not minutes
        max_output=display.SHOW_REPLY_LINES * 200 + 2_000,
    ),
    Case(
        "10-MB-line",
        _ehlo_answer(b"250 " + b"z" * 10_000_000 + b"\r\n"),
        ["EHLO me"],
        ["250 zzzz", f"server: line longer than {MAX_LINE} bytes (split)", "250 2.0.0 still here"],
        ExitStatus.OK,
        timeout=30.0,
        max_output=11 * (display.SHOW_LINE_CHARS + 100) + 2_000,
    ),
    Case(
        "bare-CR-bare-LF-NUL",
        [Send(b"220 hostile\rexample\x00ESMTP\r\n"), Expect(b"EHLO"), Send(b"250-bare\nlf\n250 ok\n"), *STILL_HERE],
        ["EHLO me"],
        ["220 hostile␍example␀ESMTP", "250-bare␊", "250 ok␊", "server: control characters in the line",
         "server: line ended with a bare LF, not CRLF", "250 2.0.0 still here"],
        ExitStatus.OK,
    ),
    Case(
        "invalid-UTF-8",
        _ehlo_answer(b"250 caf\xe9 \xc3\x28 \xff\xfe\r\n"),
        ["EHLO me"],
        ["250 caf\\xe9 \\xc3( \\xff\\xfe", "server: bytes that are not valid UTF-8", "250 2.0.0 still here"],
        ExitStatus.OK,
    ),
    Case(
        "escape-sequences",
        [Send(b"220 evil \x1b[2Jclear \x1b]0;PWNED\x07title \x1b[10;10Hmoved \xc2\x9b31mcsi\r\n"),
         Expect(b"EHLO"), Send(b"250-\x1b[1A\x1b[Kup\r\n250 \x1bc reset \x9b\r\n"), *STILL_HERE],
        ["EHLO me"],
        ["220 evil ␛[2Jclear ␛]0;PWNED␇title ␛[10;10Hmoved \\u009b31mcsi", "250-␛[1A␛[Kup",
         "250 ␛c reset \\x9b", "250 2.0.0 still here"],
        ExitStatus.OK,
    ),
    Case(
        "close-mid-reply",
        _ehlo_answer(b"250-first\r\n250-sec", rest=[Close()]),
        ["EHLO me"],
        ["250-first", "250-sec", "the server closed the connection in the middle of a reply"],
        ExitStatus.CONNECTION,
        stays_connected=False,
    ),
    Case(
        "close-right-after-connect",
        [Close()],
        [],
        ["the server closed the connection before its greeting (no 220 came)"],
        ExitStatus.CONNECTION,
        stays_connected=False,
    ),
    Case(
        "reset-right-after-connect",
        [Abort()],
        [],
        ["the connection was lost", "before the server's greeting (no 220 came)"],
        ExitStatus.CONNECTION,
        stays_connected=False,
    ),
    Case(
        "4xx-5xx-to-every-command",
        [Send(b"554 5.7.1 you are not welcome\r\n"),
         *[x for _ in range(3) for x in (Expect(), Send(b"550 5.7.1 no\r\n"))],
         Expect(b"QUIT"), Send(b"421 4.3.2 not even that\r\n"), Close()],
        ["EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>"],
        ["554 5.7.1 you are not welcome", "550 5.7.1 no"],
        ExitStatus.REFUSED,
        stays_connected=False,
    ),
]


CASES = {case.id: case for case in REPLY_CASES}


@pytest.mark.parametrize("case", REPLY_CASES, ids=[c.id for c in REPLY_CASES])
async def test_hostile_replies_interactively(case, make_shell, smtpd):
    async with HostileServer(case.steps) as server:
        shell, out = make_shell(interactive=True, timeout=case.timeout)
        await shell.connect(Target(host=server.host, port=server.port))
        for line in case.typed:
            await shell.handle(line)
        if case.stays_connected:
            assert shell.connected, out.text
            await shell.handle("NOOP")  # the next command is answered
            await shell.handle(":close")
        text = out.text
        for expected in case.shown:
            assert expected in text, f"{expected!r} not shown:\n{text[:4000]}"
        assert len(text) < case.max_output, f"{len(text):,} characters on screen"
        assert_nothing_raw(out)
        assert not server.mismatches and not server.errors, (server.mismatches, server.errors)
    await usable_after(shell, out, smtpd)


@pytest.mark.parametrize("case", REPLY_CASES, ids=[c.id for c in REPLY_CASES])
async def test_hostile_replies_in_a_script(case, make_shell):
    async with HostileServer(case.steps) as server:
        shell, out = make_shell(timeout=case.timeout)
        connected = await shell.connect(Target(host=server.host, port=server.port))
        if connected and not shell.connection_failed:
            status = await run_script(shell, lines(*case.typed, *(["NOOP"] if case.stays_connected else [])))
        else:
            await shell.close_quietly()
            status = ExitStatus.CONNECTION  # what the program returns when it cannot connect
        assert status is case.status, out.text[:4000]
        for expected in case.shown:
            assert expected in out.text
        assert_nothing_raw(out)


# ----- silence, and a server that stops reading -----------------------------------------------


async def test_a_banner_that_never_comes(make_shell, smtpd):
    async with HostileServer([Hang()]) as server:
        shell, out = make_shell(interactive=True, timeout=0.3)
        assert await shell.connect(Target(host=server.host, port=server.port))  # still waiting, and says so
        assert errors(out) == ["! no greeting from the server within 0.3 s (it is silent; still waiting)"]
        assert shell.connected
        assert_nothing_raw(out)
        await shell.close_quietly()  # Ctrl-C / :connect elsewhere: the silent server is left
    await usable_after(shell, out, smtpd)


async def test_a_banner_that_never_comes_fails_a_script(make_shell):
    async with HostileServer([Hang()]) as server:
        shell, out = make_shell(timeout=0.3)
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines("EHLO me", ":expect 250"))
        assert status is ExitStatus.CONNECTION
        assert "no greeting from the server within 0.3 s" in out.text
        assert "no reply within 0.3 s to EHLO me" in out.text
        assert_nothing_raw(out)


async def test_a_reply_with_no_line_ending_is_shown_not_lost(make_shell, smtpd):
    """A server that answers "250 ok" with no CRLF: the shell waits for the line ending, then says
    what came so far; at :close it says it again. telnet would show it; so must the shell."""
    async with HostileServer([Send(b"220 hi\r\n"), Expect(b"EHLO"), Send(b"250 ok\x1b[2J"), Hang()]) as server:
        shell, out = make_shell(interactive=True, timeout=0.3)
        assert await shell.connect(Target(host=server.host, port=server.port))
        await shell.handle("EHLO me")
        assert "! no reply within 0.3 s to EHLO me; the reply will be shown if it comes" in errors(out)
        assert "* so far the server sent 10 bytes with no line ending yet: b'250 ok\\x1b[2J'" in out.text
        mark = len(out.lines)
        await shell.handle(":close")
        assert "closing: the server had sent 10 bytes with no line ending yet" in out.since(mark)
        assert_nothing_raw(out)  # the escape sequence is drawn, not obeyed
    await usable_after(shell, out, smtpd)


@pytest.mark.parametrize("after_221", [Close(), Hang()], ids=["server closes", "server keeps it open"])
async def test_the_end_of_a_script_says_connection_closed_once_whoever_closes(make_shell, after_221):
    async with HostileServer([*HELLO, Expect(b"QUIT"), Send(b"221 bye\r\n"), after_221]) as server:
        shell, out = make_shell(timeout=5)
        await shell.connect(Target(host=server.host, port=server.port))
        assert await run_script(shell, lines("EHLO me")) is ExitStatus.OK
    texts = ["".join(t for _, t in line) for line in out.lines]
    assert texts[-1] == "* connection closed" and texts.count("* connection closed") == 1, out.text


@pytest.fixture
def big_message(tmp_path):
    """16 MB: more than the socket buffers and the transport's write buffer hold."""
    path = tmp_path / "big.eml"
    with open(path, "wb") as fh:
        fh.write(b"Subject: big\r\n\r\n")
        fh.write((b"y" * 78 + b"\r\n") * 200_000)
    return path


STOPS_READING = [*HELLO, *TRANSACTION, Mark("stopped"), StopReading()]


async def test_a_server_that_stops_reading_cannot_hang_the_shell(make_shell, smtpd, big_message):
    async with HostileServer(STOPS_READING, rcvbuf=SMALL_RCVBUF) as server:
        shell, out = make_shell(interactive=True, timeout=0.5)
        await shell.connect(Target(host=server.host, port=server.port))
        for line in TYPED_TRANSACTION:
            await shell.handle(line)
        await server.mark("stopped")
        await asyncio.wait_for(shell.handle(f":file {big_message}"), 30)  # --timeout bounds each write
        text = out.text
        assert "the server stopped reading: nothing could be written for 0.5 s" in text
        assert "the message was NOT sent" in text
        assert not shell.connected
        assert_nothing_raw(out)
    await usable_after(shell, out, smtpd)


async def test_a_server_that_stops_reading_fails_a_script_with_status_3(make_shell, big_message):
    async with HostileServer(STOPS_READING, rcvbuf=SMALL_RCVBUF) as server:
        shell, out = make_shell(timeout=0.5)
        await shell.connect(Target(host=server.host, port=server.port))
        status = await asyncio.wait_for(
            run_script(shell, lines(*TYPED_TRANSACTION, f":file {big_message}", ":expect 250")), 30)
        assert status is ExitStatus.CONNECTION
        assert "the server stopped reading" in out.text
        assert_nothing_raw(out)


# ----- a close in the middle of DATA: never "sent" -------------------------------------------


async def test_a_close_before_the_reply_to_the_dot_means_not_accepted(make_shell, smtpd, tmp_path):
    steps = [*HELLO, *TRANSACTION, ReadUntil(b"\r\n.\r\n"), Close()]
    record = tmp_path / "session.jsonl"
    async with HostileServer(steps) as server:
        shell, out = make_shell(interactive=True, record=str(record))
        await shell.connect(Target(host=server.host, port=server.port))
        for line in [*TYPED_TRANSACTION, "Subject: lost", "", "body", "."]:
            await shell.handle(line)
        line = "! message not accepted: the server closed the connection before replying to the final dot"
        assert errors(out) == [line]  # one clear line
        assert b"Subject: lost\r\n\r\nbody\r\n.\r\n" in server.text  # what went out
        assert not shell.connected
        assert_nothing_raw(out)
    await usable_after(shell, out, smtpd)
    # ... and the recording reads back: the dot went, no reply came, the close is an error.
    events = read(record.read_text(encoding="utf-8")).events
    dot = next(i for i, e in enumerate(events) if isinstance(e, ClientLine) and e.line == "." and not e.data)
    after = events[dot + 1]  # no reply between the dot and the close
    assert isinstance(after, Note) and (after.kind, after.text) == ("error", "the server closed the connection")


async def test_a_close_during_data_before_the_dot_means_not_accepted(make_shell, smtpd):
    steps = [*HELLO, *TRANSACTION, Close()]
    async with HostileServer(steps) as server:
        shell, out = make_shell(interactive=True)
        closed = closed_future(shell)
        await shell.connect(Target(host=server.host, port=server.port))
        for line in TYPED_TRANSACTION:
            await shell.handle(line)
        await closed  # the user is still typing the message
        assert errors(out) == ["! message not accepted: the server closed the connection during DATA, before the final dot"]
        await shell.handle(".")  # what the user types next is not sent anywhere
        assert "not connected" in errors(out)[-1]
        assert_nothing_raw(out)
    await usable_after(shell, out, smtpd)


async def test_a_reset_after_the_dot_means_not_accepted(make_shell):
    steps = [*HELLO, *TRANSACTION, ReadUntil(b"\r\n.\r\n"), Abort()]
    async with HostileServer(steps) as server:
        shell, out = make_shell(interactive=True)
        await shell.connect(Target(host=server.host, port=server.port))
        for line in [*TYPED_TRANSACTION, "body", "."]:
            await shell.handle(line)
        [line] = errors(out)
        assert line.startswith("! message not accepted: the connection was lost (")
        assert line.endswith("before the server replied to the final dot")


async def test_a_reply_to_the_dot_cut_short_is_not_a_confirmation(make_shell):
    steps = [*HELLO, *TRANSACTION, ReadUntil(b"\r\n.\r\n"), Send(b"250-2.0.0 Ok: que"), Close()]
    async with HostileServer(steps) as server:
        shell, out = make_shell()
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines(*TYPED_TRANSACTION, "body", ".", ":expect 250"))
        assert "message not confirmed: the server closed the connection in the middle of its reply" in out.text
        assert status is ExitStatus.CONNECTION


async def test_a_close_mid_data_fails_a_script_with_status_3(make_shell):
    steps = [*HELLO, *TRANSACTION, ReadUntil(b"\r\n.\r\n"), Close()]
    async with HostileServer(steps) as server:
        shell, out = make_shell()
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines(*TYPED_TRANSACTION, "body", ".", ":expect 250", "QUIT"))
        assert status is ExitStatus.CONNECTION
        assert errors(out) == ["! message not accepted: the server closed the connection before replying to the final dot"]


async def test_a_close_while_a_file_streams_says_not_sent(make_shell, big_message):
    steps = [*HELLO, *TRANSACTION, ReadSome(), Close()]
    async with HostileServer(steps) as server:
        shell, out = make_shell()
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines(*TYPED_TRANSACTION, f":file {big_message}", ":expect 250"))
        assert status is ExitStatus.CONNECTION
        # The server hangs up with the message unread: a reset, or a close, depending on timing.
        assert "message not accepted: " in out.text and "during DATA, before the final dot" in out.text
        assert "the message was NOT sent" in out.text
        assert "sent big.eml" not in out.text
        assert_nothing_raw(out)


# ----- TLS failures ---------------------------------------------------------------------------


def _context(leaf) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    return ctx


@pytest.fixture
def bad_tls(ca):
    """Server contexts for each failure, from the CA the client trusts (``cafile``) unless said otherwise."""
    now = datetime.datetime.now(datetime.timezone.utc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1 is deprecated: that is the point
        tls10 = _context(ca.issue_cert("127.0.0.1"))
        tls10.minimum_version = ssl.TLSVersion.TLSv1
        tls10.maximum_version = ssl.TLSVersion.TLSv1
        tls10.set_ciphers("DEFAULT:@SECLEVEL=0")
    return {
        "expired": _context(ca.issue_cert("127.0.0.1", not_before=now - datetime.timedelta(days=30),
                                          not_after=now - datetime.timedelta(days=2))),
        "self-signed": self_signed_server_context("127.0.0.1"),
        "wrong-host": _context(ca.issue_cert("mail.other.example")),
        "tls-1.0-only": tls10,
    }


TLS_CASES = {
    "expired": "certificate verification failed: the certificate has expired",
    "self-signed": "certificate verification failed: the certificate is self-signed",
    "wrong-host": "certificate verification failed: the IP address does not match the certificate (127.0.0.1)",
    "aborted-handshake": "TLS handshake failed: the server closed the connection during the handshake",
    "tls-1.0-only": "TLS handshake failed: protocol version",
}


def _tls_steps(name: str, bad_tls, *, implicit: bool) -> list:
    if name == "aborted-handshake":
        handshake = [ReadSome(), Abort()]  # the ClientHello arrives; the server hangs up
    elif name == "tls-1.0-only":
        handshake = [FailTLS(bad_tls[name])]
    else:
        handshake = [StartTLS(bad_tls[name])]
    if implicit:
        return [*handshake, Send(GREETING), Hang()]
    return [Send(GREETING), Expect(b"EHLO"), Send(b"250-hostile.example\r\n250 STARTTLS\r\n"),
            Expect(b"STARTTLS"), Send(b"220 2.0.0 ready\r\n"), *handshake, Hang()]


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit-tls", "starttls"])
@pytest.mark.parametrize("name", list(TLS_CASES))
async def test_tls_failures_are_one_clear_line(name, implicit, bad_tls, make_shell, smtpd, cafile):
    async with HostileServer(_tls_steps(name, bad_tls, implicit=implicit)) as server:
        shell, out = make_shell(interactive=True, cafile=cafile)
        connected = await shell.connect(Target(host=server.host, port=server.port, implicit_tls=implicit))
        if not implicit:
            assert connected
            await shell.handle(":starttls")
        [line] = errors(out)
        assert TLS_CASES[name] in line, out.text
        assert "TLS started" not in out.text
        assert not shell.connected
        assert_nothing_raw(out)
    await usable_after(shell, out, smtpd)


@pytest.mark.parametrize("name", list(TLS_CASES))
async def test_tls_failures_fail_a_script_with_status_3(name, bad_tls, make_shell, cafile):
    async with HostileServer(_tls_steps(name, bad_tls, implicit=False)) as server:
        shell, out = make_shell(cafile=cafile)
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines("EHLO me", "STARTTLS", "EHLO me"))
        assert status is ExitStatus.CONNECTION
        assert TLS_CASES[name] in out.text


async def test_a_server_below_tls_min_is_blamed_on_tls_min_not_called_old(ca, make_shell, cafile):
    tls12 = _context(ca.issue_cert("127.0.0.1"))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    async with HostileServer([FailTLS(tls12), Hang()]) as server:
        shell, out = make_shell(interactive=True, cafile=cafile, tls_min="1.3")
        assert not await shell.connect(Target(host=server.host, port=server.port, implicit_tls=True))
    [line] = errors(out)
    assert "the server offers no TLS version from 1.3 up, which --tls-min 1.3 asks for" in line, line
    assert "TLS 1.0/1.1-only" not in line


async def test_implicit_tls_to_a_plain_text_server_says_so(make_shell, smtpd):
    async with HostileServer([Send(GREETING), Hang()]) as server:
        shell, out = make_shell(interactive=True)
        assert not await shell.connect(Target(host=server.host, port=server.port, implicit_tls=True))
        [line] = errors(out)
        assert "the server did not answer in TLS" in line and "STARTTLS instead of --tls" in line
    await usable_after(shell, out, smtpd)


# ----- the real program: exit statuses, no traceback --------------------------------------------


TRANSACTION_SCRIPT = "EHLO me\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nbody\n.\n"
CLI_CASES = [
    ("close-right-after-connect", [Close()], [], "EHLO me\n", ExitStatus.CONNECTION, "before its greeting"),
    ("silent-banner", [Hang()], ["--timeout", "0.3"], "EHLO me\n", ExitStatus.CONNECTION,
     "no greeting from the server within 0.3 s"),
    ("5xx-to-everything", CASES["4xx-5xx-to-every-command"].steps, [], "\n".join(CASES["4xx-5xx-to-every-command"].typed),
     ExitStatus.REFUSED, "the server refused a command (550) and no :expect checked it: exit 4"),
    ("close-mid-data", [*HELLO, *TRANSACTION, ReadUntil(b"\r\n.\r\n"), Close()], [], TRANSACTION_SCRIPT,
     ExitStatus.CONNECTION, "message not accepted: the server closed the connection before replying to the final dot"),
    ("10-MB-reply", CASES["10-MB-reply"].steps, ["--timeout", "30"], "EHLO me\nNOOP\n", ExitStatus.OK,
     "more lines of this reply"),
    ("escape-sequences", CASES["escape-sequences"].steps, [], "EHLO me\nNOOP\n", ExitStatus.OK, "␛[2Jclear"),
]


@pytest.mark.parametrize(("steps", "options", "script", "status", "shown"), [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
async def test_the_program_exits_with_the_documented_status(steps, options, script, status, shown, tmp_path):
    async with HostileServer(steps) as server:
        code, stdout, stderr = await run_cli("127.0.0.1", str(server.port), *options, tmp_path=tmp_path,
                                             stdin=script.encode())
    assert code == status, stdout + stderr
    assert shown in stdout
    assert "Traceback" not in stdout + stderr
    assert "\x1b" not in stdout  # not a terminal: no colour, and the server's ESC bytes were made visible
    assert len(stdout) < 50_000


async def test_the_program_reports_a_tls_failure_with_status_3(bad_tls, cafile, tmp_path):
    async with HostileServer(_tls_steps("expired", bad_tls, implicit=True)) as server:
        code, stdout, stderr = await run_cli("127.0.0.1", str(server.port), "--tls", "--cafile", cafile,
                                             "-c", "EHLO me", tmp_path=tmp_path)
    assert code == ExitStatus.CONNECTION
    assert "certificate verification failed: the certificate has expired" in stdout + stderr
    assert "Traceback" not in stdout + stderr


@pytest.mark.parametrize(("name", "would_fail"), [
    ("expired", "expired"), ("self-signed", "self-signed"), ("wrong-host", "name 127.0.0.1 not in the certificate"),
])
async def test_insecure_goes_on_past_a_bad_certificate_and_says_what_was_wrong(name, would_fail, bad_tls, make_shell):
    steps = [Send(GREETING), Expect(b"EHLO"), Send(b"250-hostile.example\r\n250 STARTTLS\r\n"), Expect(b"STARTTLS"),
             Send(b"220 2.0.0 ready\r\n"), StartTLS(bad_tls[name]), Expect(b"EHLO"), Send(b"250 hostile.example\r\n"),
             *STILL_HERE]
    async with HostileServer(steps) as server:
        shell, out = make_shell(insecure=True)
        await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines(":starttls", "NOOP", ":expect 250"))
        assert status is ExitStatus.OK, out.text
        warning = next(t for t in out.text.splitlines() if "NOT verified (--insecure)" in t)
        assert would_fail in warning
        assert not server.mismatches and not server.errors and not server.tls_errors
