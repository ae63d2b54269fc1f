"""The practice server's CHUNKING, implicit-TLS listener and AUTH in any case, byte by byte.

tests/interop/test_scenarios.py drives them with the shell, beside Postfix and Exim; here are
the edges a client does not reach on its own: BDAT out of order, too big, refused by a mode,
DATA after BDAT. A real PracticeServer on 127.0.0.1, port 0, in the test's event loop; raw
asyncio streams, so every byte on the wire is the test's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smtpshell.server.practice import Modes, PracticeServer, serve_main

REPLY_TIMEOUT = 10.0


class Wire:
    """Exact bytes out; whole replies (the lines up to `NNN `) in, without CRLFs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> list[str]:
        lines = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
            assert raw.endswith(b"\r\n"), f"reply cut short: {raw!r} after {lines}"
            lines.append(raw[:-2].decode())
            if lines[-1][3:4] != "-":
                return lines

    async def replies(self, data: bytes, count: int) -> list[str]:
        """Send DATA in one write; the last line of each of COUNT replies."""
        self.writer.write(data)
        await self.writer.drain()
        return [(await self.reply())[-1] for _ in range(count)]


@contextlib.asynccontextmanager
async def wire(port: int, *, tls: ssl.SSLContext | None = None) -> AsyncIterator[Wire]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls,
                                                   server_hostname="localhost" if tls else None)
    client = Wire(reader, writer)
    try:
        greeting = await client.reply()
        assert greeting[0].startswith("220 smtpshell.test ESMTP"), greeting
        yield client
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


pytestmark = pytest.mark.usefixtures("private_tempdir")  # tests/integration/conftest.py


def stored(server: PracticeServer) -> list[bytes]:
    return [path.read_bytes() for path in sorted((server.maildir / "new").iterdir())]


# --- CHUNKING -------------------------------------------------------------------------------------

ENVELOPE = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"  # after EHLO


@pytest.mark.parametrize(("sent", "expected"), [
    pytest.param(ENVELOPE + b"BDAT 6\r\n.dot\r\nBDAT 11 LAST\r\nhi\r\n..dot\r\n",
                 ["250 2.1.0 Sender <a@example.com> ok", "250 2.1.5 Recipient <b@example.com> ok",
                  "250 2.0.0 6 octets received", "250 2.0.0 Message accepted for delivery as *"], id="chunks"),
    pytest.param(b"BDAT 6\r\nQUIT\r\nNOOP\r\n",  # the chunk's QUIT is data
                 ["503 5.5.1 Error: need RCPT command", "250 2.0.0 OK"], id="before-RCPT-bytes-still-read"),
    pytest.param(ENVELOPE + b"BDAT 4\r\nabc\nDATA\r\nNOOP\r\n",
                 ["250 2.1.0 *", "250 2.1.5 *", "250 2.0.0 4 octets received",
                  "503 5.5.1 Error: DATA after BDAT: send the rest with BDAT (RFC 3030)", "250 2.0.0 OK"],
                 id="DATA-after-BDAT"),
    pytest.param(b"BDAT ten\r\nBDAT 5 FIRST\r\n",
                 ["501 5.5.4 Syntax: BDAT chunk-size [LAST]"] * 2, id="syntax"),
])
async def test_bdat_replies(tmp_path: Path, sent: bytes, expected: list[str]) -> None:
    async with PracticeServer(maildir=tmp_path / "Maildir") as server, wire(server.port) as client:
        await client.replies(b"EHLO me\r\n", 1)
        got = await client.replies(sent, len(expected))
    for line, want in zip(got, expected, strict=True):
        assert line.startswith(want[:-1]) if want.endswith("*") else line == want, got
    if "Message accepted" in expected[-1]:
        [message] = stored(server)
        assert message.endswith(b"\r\n.dot\r\nhi\r\n..dot\r\n")  # BDAT: no dot-unstuffing, at a chunk's start or inside
        assert b"with ESMTP id " in message


async def test_a_chunk_over_the_size_limit_is_read_refused_and_the_transaction_dropped(tmp_path: Path) -> None:
    modes = Modes(names=frozenset({"size"}), size_limit=50)
    async with PracticeServer(maildir=tmp_path / "Maildir", modes=modes) as server, wire(server.port) as client:
        await client.replies(b"EHLO me\r\n", 1)
        got = await client.replies(ENVELOPE + b"BDAT 60 LAST\r\n" + b"x" * 60 + b"BDAT 1 LAST\r\nyNOOP\r\n", 5)
    assert got[2] == "552 5.3.4 Message size exceeds fixed limit"
    assert got[3:] == ["503 5.5.1 Error: need RCPT command", "250 2.0.0 OK"]  # no MAIL left; bytes not commands
    assert stored(server) == []


async def test_tls_required_refuses_bdat_and_skips_its_bytes(tmp_path: Path) -> None:
    modes = Modes(names=frozenset({"tls-required"}))
    async with PracticeServer(maildir=tmp_path / "Maildir", modes=modes) as server, wire(server.port) as client:
        ehlo = await client.replies(b"EHLO me\r\n", 1)
        got = await client.replies(b"BDAT 6\r\nQUIT\r\nNOOP\r\n", 2)  # the chunk's QUIT is data
    assert ehlo == ["250 HELP"]
    assert got == ["530 5.7.0 Must issue a STARTTLS command first", "250 2.0.0 OK"]


# --- implicit TLS -------------------------------------------------------------------------------


async def test_implicit_tls_port_offers_auth_without_starttls(tmp_path: Path) -> None:
    modes = Modes(names=frozenset({"tls-required"}))  # satisfied from the first byte
    plain = base64.b64encode(b"\0alice\0wonderland")
    async with PracticeServer(maildir=tmp_path / "Maildir", tls_port=0, modes=modes) as server:
        assert server.tls_port not in (None, 0, server.port)
        context = ssl.create_default_context(cafile=server.cafile)
        async with wire(server.tls_port, tls=context) as client:
            client.writer.write(b"EHLO me\r\n")
            ehlo = [line[4:] for line in await client.reply()]
            got = await client.replies(b"auth plain " + plain + b"\r\nMAIL FROM:<a@example.com>\r\n"
                                       b"RCPT TO:<b@example.com>\r\nBDAT 9 LAST\r\nimplicit\nQUIT\r\n", 5)
        intro = server.intro()
    assert "STARTTLS" not in ehlo and any(line.startswith("AUTH ") for line in ehlo) and "CHUNKING" in ehlo
    assert got[0] == "235 2.7.0 Authentication successful"  # "auth plain": any case (RFC 4954)
    assert got[3].startswith("250 2.0.0 Message accepted") and got[4] == "221 2.0.0 Bye"
    [message] = stored(server)
    assert b"(using TLSv1." in message and b"with ESMTPSA id" in message and message.endswith(b"implicit\n")
    assert f"  Implicit TLS  127.0.0.1:{server.tls_port}  (TLS from the first byte" in intro
    assert f"smtpshell 127.0.0.1 {server.tls_port} --tls --cafile {server.cafile}" in intro


async def test_without_tls_port_there_is_one_listener_and_the_intro_says_nothing_of_it(tmp_path: Path) -> None:
    async with PracticeServer(maildir=tmp_path / "Maildir") as server:
        assert server.tls_port is None
        assert "Implicit TLS" not in server.intro() and "--tls" not in server.intro()
        assert "CHUNKING (:bdat TEXT --last)" in server.intro()


def test_serve_help_names_tls_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "--tls-port PORT" in text and "implicit TLS" in text and "CHUNKING" in text
