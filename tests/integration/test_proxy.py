"""--proxy SRC:PORT DST:PORT against servers that read the PROXY header: aiosmtpd with
``proxy_protocol_timeout`` (its own v1/v2 parser) for plain SMTP, and a small server that
parses the header with the same parser before an implicit-TLS handshake."""

import asyncio
import ipaddress
import socket
import struct

import pytest
from aiosmtpd.proxy_protocol import get_proxy
from aiosmtpd.smtp import SMTP

from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.transcript.events import Note, ServerReply
from smtpshell.transcript.readers import read
from tests.support.process import run_cli
from tests.support.script import lines


class ProxyAware:
    """An aiosmtpd handler that keeps what the PROXY header said and each message's sender."""

    def __init__(self) -> None:
        self.proxies = []  # (proxy_data, the real peer)
        self.senders = []

    async def handle_PROXY(self, server, session, envelope, proxy_data):
        self.proxies.append((proxy_data, session.peer))
        return True

    async def handle_DATA(self, server, session, envelope):
        self.senders.append(envelope.mail_from)
        return "250 2.0.0 queued"


@pytest.fixture
async def proxied():
    handler = ProxyAware()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="behind.proxy.test", proxy_protocol_timeout=5), "127.0.0.1", 0,
    )
    handler.port = server.sockets[0].getsockname()[1]
    yield handler
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    ("src", "dst"),
    [("192.0.2.7:40000", "198.51.100.1:25"), ("[2001:db8::7]:40000", "[2001:db8::25]:25")],
)
async def test_aiosmtpd_sees_the_proxied_client(proxied, make_shell, version, src, dst):
    shell, out = make_shell(proxy=(src, dst), proxy_version=version)
    assert await shell.connect(Target(host="127.0.0.1", port=proxied.port))
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "hi", ".", ":expect 250",
    ))
    assert status is ExitStatus.OK, out.text
    [(data, peer)] = proxied.proxies
    assert data.valid and data.version == version
    src_host, _, src_port = src.rpartition(":")
    dst_host, _, dst_port = dst.rpartition(":")
    assert (data.src_addr, data.src_port) == (ipaddress.ip_address(src_host.strip("[]")), int(src_port))
    assert (data.dst_addr, data.dst_port) == (ipaddress.ip_address(dst_host.strip("[]")), int(dst_port))
    assert peer[0] == "127.0.0.1"  # the real connection still comes from here
    assert proxied.senders == ["a@example.test"]
    text = out.text
    assert f"PROXY v{version} header sent" in text
    # Said once, right after connecting and before the banner.
    assert text.index("connected to") < text.index("PROXY v") < text.index("220 behind.proxy.test")


async def test_header_goes_again_on_reconnect(proxied, make_shell):
    shell, out = make_shell(proxy=("192.0.2.7:1", "198.51.100.1:25"))
    await shell.connect(Target(host="127.0.0.1", port=proxied.port))
    await shell.handle(":reconnect")
    assert shell.connected
    await shell.quit()
    assert len(proxied.proxies) == 2


async def _recv_exactly(loop, sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise ConnectionError("closed inside the PROXY header")
        data += chunk
    return data


async def test_proxy_header_before_implicit_tls(server_ctx, cafile, make_shell):
    """The header goes on the bare socket, before the TLS handshake, as a proxy sends it. The
    server reads exactly the v2 header from the socket (aiosmtpd's parser reads it), then
    handshakes on the same socket."""
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    seen = []

    async def serve_one():
        conn, _ = await loop.sock_accept(listener)
        head = await _recv_exactly(loop, conn, 16)
        header = head + await _recv_exactly(loop, conn, struct.unpack("!H", head[14:16])[0])
        parsed = asyncio.StreamReader()
        parsed.feed_data(header)
        seen.append(await get_proxy(parsed))
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn, ssl=server_ctx)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        writer.write(b"220 tls.behind.proxy.test ESMTP\r\n")
        seen.append(await reader.readline())
        writer.write(b"221 bye\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = asyncio.create_task(serve_one())
    try:
        shell, out = make_shell(proxy=("192.0.2.7:40000", "198.51.100.1:465"), proxy_version=2, cafile=cafile)
        assert await shell.connect(Target(host="127.0.0.1", port=listener.getsockname()[1], implicit_tls=True)), out.text
        assert shell.conn.tls_info.verified
        await shell.quit()
        await server
    finally:
        server.cancel()
        listener.close()
    data, quit_line = seen
    assert data.valid and data.version == 2
    assert str(data.src_addr) == "192.0.2.7" and data.dst_port == 465
    assert quit_line == b"QUIT\r\n"
    assert "220 tls.behind.proxy.test" in out.text


async def test_cli_proxy(proxied, tmp_path):
    record = tmp_path / "proxied.jsonl"
    code, out, err = await run_cli(
        "127.0.0.1", str(proxied.port), "--proxy", "192.0.2.7:40000", "198.51.100.1:25", "--proxy-version", "2",
        "--record", str(record), "-c", "EHLO me", "-c", ":expect 250", tmp_path=tmp_path,
    )
    assert code == ExitStatus.OK, out + err
    said = "PROXY v2 header sent (28 bytes): PROXY TCP4 192.0.2.7:40000 -> 198.51.100.1:25"
    assert said in out
    assert str(proxied.proxies[0][0].src_addr) == "192.0.2.7"
    # The recording says it too, between the connection and the banner, as the screen did.
    events = read(record.read_text(encoding="utf-8")).events
    notes = [(i, e.text) for i, e in enumerate(events) if isinstance(e, Note)]
    [proxy_at] = [i for i, text in notes if text == said]
    assert any(text.startswith("connected to") and i < proxy_at for i, text in notes)
    assert proxy_at < next(i for i, e in enumerate(events) if isinstance(e, ServerReply))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "192.0.2.7:1", "[2001:db8::1]:25"], "--proxy: the PROXY header needs both ends in one family"),
        (["--proxy", "client.example:1", "198.51.100.1:25"], "is not an IP address"),
        (["--proxy", "192.0.2.7:1"], "expected 2 arguments"),
        (["--proxy-version", "2"], "--proxy-version goes with --proxy"),
        (["--proxy", "192.0.2.7:1", "198.51.100.1:25", "--proxy-version", "3"], "invalid choice"),
    ],
)
async def test_cli_proxy_usage_errors(args, message, tmp_path):
    code, out, err = await run_cli("127.0.0.1", *args, "-c", "QUIT", tmp_path=tmp_path)
    assert code == ExitStatus.USAGE
    assert message in err
