"""--mx DOMAIN and :mx DOMAIN against a DNS server on 127.0.0.1 (tests/support/dns.py) and a
real aiosmtpd: preference order, addresses shown, the first host that answers, the null MX,
the implicit MX, NXDOMAIN, -4, and STARTTLS verifying the MX host's name."""

import contextlib
import ssl
import sys

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.process import run_cli
from tests.support.dns import DnsServer
from tests.support.script import lines
from tests.support.servers import AioSmtpd


@contextlib.asynccontextmanager
async def aiosmtpd(ctx):
    server = await AioSmtpd(server_ctx=ctx).start()
    try:
        yield server
    finally:
        await server.stop()


def shell_for(make_shell, dns: DnsServer, **kw):
    kw.setdefault("env", {})
    kw["env"] = {**kw["env"], "SMTPSHELL_DNS_SERVER": dns.env}
    return make_shell(**kw)


ZONE = {
    "example.test": {"MX": ["20 mx2.example.test.", "10 mx1.example.test.", "5 gone.example.test."]},
    "mx1.example.test": {"AAAA": ["::1"]},  # nothing listens there: refused (or unreachable)
    "mx2.example.test": {"A": ["127.0.0.1"]},  # the aiosmtpd
}


async def test_connects_to_the_first_host_that_answers(smtpd, make_shell):
    async with DnsServer(ZONE) as dns:
        shell, out = shell_for(make_shell, dns)
        assert await shell.connect(Target(host="example.test", port=smtpd.port, mx="example.test"))
        await run_script(shell, lines("EHLO me", ":expect 250"))
    text = out.text
    table = text[text.index("MX records of example.test"):]
    # Preference order, each host with its addresses (or why it has none).
    assert table.index("5 gone.example.test") < table.index("10 mx1.example.test") < table.index("20 mx2.example.test")
    assert "gone.example.test  (no address: gone.example.test does not exist (NXDOMAIN))" in text
    assert "mx1.example.test   ::1" in text
    assert "mx2.example.test   127.0.0.1" in text
    # mx1 failed (said why), then the next was tried and answered.
    assert f"[::1]:{smtpd.port}" in text
    assert "trying the next: mx2.example.test (127.0.0.1)" in text
    assert text.index("trying the next") > text.index(f"[::1]:{smtpd.port}")
    assert f"connected to 127.0.0.1:{smtpd.port}" in text
    assert "250-smtp.test" in text
    assert shell.target.host == "127.0.0.1" and shell.target.server_name == "mx2.example.test"
    assert ("example.test", "MX") in dns.queries


async def test_null_mx_means_no_mail(make_shell):
    async with DnsServer({"nomail.test": {"MX": ["0 ."]}}) as dns:
        shell, out = shell_for(make_shell, dns)
        assert not await shell.connect(Target(host="nomail.test", port=25, mx="nomail.test"))
    assert 'nomail.test accepts no mail: its only MX record is the null MX "0 ." (RFC 7505)' in out.text
    assert shell.connection_failed
    assert not any(rdtype in ("A", "AAAA") for _, rdtype in dns.queries)  # nothing more to look up


async def test_no_mx_falls_back_to_the_domain_address(smtpd, make_shell):
    async with DnsServer({"plain.test": {"A": ["127.0.0.1"]}}) as dns:
        shell, out = shell_for(make_shell, dns)
        assert await shell.connect(Target(host="plain.test", port=smtpd.port, mx="plain.test"))
    assert "plain.test has no MX records: its own address records stand in (the implicit MX, RFC 5321 5.1)" in out.text
    assert "0 plain.test  127.0.0.1" in out.text
    assert "220 smtp.test" in out.text or "220 " in out.text
    assert shell.connected
    await shell.quit()


async def test_nxdomain_is_said_plainly(make_shell):
    async with DnsServer({}) as dns:
        shell, out = shell_for(make_shell, dns)
        assert not await shell.connect(Target(host="nowhere.test", port=25, mx="nowhere.test"))
    assert "nowhere.test does not exist (NXDOMAIN): no mail can be delivered there" in out.text


async def test_no_host_answers(make_shell):
    zone = {"dead.test": {"MX": ["10 mx.dead.test."]}, "mx.dead.test": {"AAAA": ["::1"]}}
    async with DnsServer(zone) as dns, aiosmtpd(None) as smtpd:
        shell, out = shell_for(make_shell, dns)
        assert not await shell.connect(Target(host="dead.test", port=smtpd.port, mx="dead.test"))
    assert "no MX host of dead.test answered (1 address tried)" in out.text
    assert shell.connection_failed


async def test_ipv4_only_asks_no_aaaa(smtpd, make_shell):
    import socket

    async with DnsServer(ZONE) as dns:
        shell, out = shell_for(make_shell, dns, family=socket.AF_INET)
        assert await shell.connect(Target(host="example.test", port=smtpd.port, mx="example.test"))
    assert not any(rdtype == "AAAA" for _, rdtype in dns.queries)
    assert "mx1.example.test   (no address: no A record)" in out.text
    assert "[::1]" not in out.text
    await shell.quit()


async def test_starttls_verifies_the_mx_host_name(ca, cafile, make_shell):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mx.secure.test").configure_cert(ctx)  # the MX name only, not 127.0.0.1
    zone = {"secure.test": {"MX": ["10 mx.secure.test."]}, "mx.secure.test": {"A": ["127.0.0.1"]}}
    async with DnsServer(zone) as dns, aiosmtpd(ctx) as smtpd:
        shell, out = shell_for(make_shell, dns, cafile=cafile, starttls=True)
        assert await shell.connect(Target(host="secure.test", port=smtpd.port, mx="secure.test"))
        assert shell.conn.tls_info.verified, out.text
        await shell.quit()
    assert "TLS started (STARTTLS)" in out.text


async def test_mx_command_lists_and_connects(smtpd, make_shell):
    async with DnsServer(ZONE) as dns:
        shell, out = shell_for(make_shell, dns, interactive=True)
        await shell.handle(":mx example.test --list")
        assert not shell.connected
        assert "20 mx2.example.test   127.0.0.1" in out.text
        await shell.handle(f":mx example.test {smtpd.port}")
        assert shell.connected
        await shell.handle("EHLO me")
        assert "250-smtp.test" in out.text
        await shell.handle(":reconnect")  # the host that answered, not the lookup again
        assert shell.connected and shell.target.host == "127.0.0.1"
        await shell.quit()
    assert sum(1 for q in dns.queries if q == ("example.test", "MX")) == 2


@pytest.mark.parametrize("arg", ["", "a b c", "example.test --bogus", "example.test 0"])
async def test_mx_command_usage(arg, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(f":mx {arg}")
    assert "usage: :mx DOMAIN" in out.text or "bad port" in out.text


# ----- the command line, as a user runs it -----------------------------------------


async def test_cli_mx_with_port_after_the_domain(smtpd, tmp_path):
    async with DnsServer(ZONE) as dns:
        code, out, err = await run_cli("--mx", "example.test", str(smtpd.port), "-c", "EHLO me", "-c", ":expect 250",
                                       env={"SMTPSHELL_DNS_SERVER": dns.env}, tmp_path=tmp_path)
    assert code == ExitStatus.OK, out + err
    assert "MX records of example.test" in out
    assert f"connected to 127.0.0.1:{smtpd.port}" in out


async def test_cli_null_mx_exits_3(tmp_path):
    async with DnsServer({"nomail.test": {"MX": ["0 ."]}}) as dns:
        code, out, err = await run_cli("--mx", "nomail.test:2525", "-c", "QUIT",
                                       env={"SMTPSHELL_DNS_SERVER": dns.env}, tmp_path=tmp_path)
    assert code == ExitStatus.CONNECTION, out + err
    assert "accepts no mail" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mx", "example.test", "mail.example.test"], "--mx DOMAIN names where to connect"),
        (["--mx", "example.test", "--demo"], "--mx DOMAIN names where to connect"),
        (["--mx", "example.test:0"], "--mx: bad port"),
    ],
)
async def test_cli_mx_usage_errors(args, message, tmp_path):
    code, out, err = await run_cli(*args, tmp_path=tmp_path)
    assert code == ExitStatus.USAGE
    assert message in err


async def test_dnspython_is_imported_only_for_mx(smtpd, tmp_path):
    """The script path stays light: no dnspython (and no prompt_toolkit) without --mx."""
    import asyncio

    code = (
        "import sys; from smtpshell.cli import main; "
        f"rc = main(['127.0.0.1', '{smtpd.port}', '-c', 'NOOP', '-c', ':help mx']); "
        "print('LOADED', 'dns' in sys.modules, 'prompt_toolkit' in sys.modules); sys.exit(rc)"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out + err
    assert b"LOADED False False" in out
    assert b":mx DOMAIN [PORT]" in out  # :help mx works without loading dnspython


async def test_mx_command_keeps_the_connection_when_there_is_nothing_to_try(smtpd, make_shell):
    async with DnsServer({"nomail.test": {"MX": ["0 ."]}}) as dns:
        shell, out = shell_for(make_shell, dns, interactive=True)
        await shell.connect(Target(host="127.0.0.1", port=smtpd.port))
        await shell.handle(":mx nomail.test")
        assert "accepts no mail" in out.text
        assert shell.connected and "QUIT" not in out.text
        await shell.quit()


async def test_a_null_mx_among_others_is_left_out(smtpd, make_shell):
    zone = {"mixed.test": {"MX": ["0 .", "10 mx.mixed.test."]}, "mx.mixed.test": {"A": ["127.0.0.1"]}}
    async with DnsServer(zone) as dns:
        shell, out = shell_for(make_shell, dns)
        assert await shell.connect(Target(host="mixed.test", port=smtpd.port, mx="mixed.test"))
        await shell.quit()
    assert 'a null MX "0 ." among other MX records (RFC 7505 wants it alone): left out' in out.text
    assert "10 mx.mixed.test  127.0.0.1" in out.text


async def test_a_silent_host_is_passed_over(make_shell):
    """The first connection gets no greeting (the reply timeout passes); the second is greeted."""
    import asyncio

    connections = []
    handlers = []

    async def serve(reader, writer):
        connections.append(writer)
        handlers.append(asyncio.current_task())
        if len(connections) > 1:
            writer.write(b"220 second.test ESMTP\r\n")
            await writer.drain()
        await reader.read()  # until the client goes
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    zone = {"slow.test": {"MX": ["10 mx1.slow.test.", "20 mx2.slow.test."]},
            "mx1.slow.test": {"A": ["127.0.0.1"]}, "mx2.slow.test": {"A": ["127.0.0.1"]}}
    try:
        async with DnsServer(zone) as dns:
            shell, out = shell_for(make_shell, dns, timeout=0.5)
            assert await shell.connect(Target(host="slow.test", port=port, mx="slow.test"))
            await shell.quit()
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.gather(*handlers)  # each ends when its client has gone
    assert "mx1.slow.test (127.0.0.1) sent no greeting: not waiting for it" in out.text
    assert "trying the next: mx2.slow.test (127.0.0.1)" in out.text
    assert "220 second.test ESMTP" in out.text
