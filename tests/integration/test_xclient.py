""":xclient against an aiosmtpd server that implements XCLIENT as Postfix does
(XCLIENT_README): advertised in EHLO with its attributes, xtext values, 220 and a new session
on success (EHLO needed again), 550 for an unauthorized client, 503 inside a transaction."""

import asyncio
import re

import pytest
from aiosmtpd.smtp import SMTP

from smtpshell.protocol.session import Phase
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.script import lines, replied
from tests.support.servers import AioSmtpd

ATTRIBUTES = "NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT"


def xtext_decode(text: str) -> str:
    """The server's own decoder (independent of the shell's)."""
    return re.sub(rb"\+([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode()).decode("utf-8")


class XclientSMTP(SMTP):
    """aiosmtpd plus XCLIENT, the way Postfix's smtpd answers it."""

    def __init__(self, handler, *, authorized: bool, **kw) -> None:
        super().__init__(handler, hostname="xclient.test", **kw)
        self.authorized = authorized

    async def smtp_XCLIENT(self, arg: str) -> None:
        if not self.authorized:
            await self.push("550 5.7.0 Error: insufficient authorization")
            return
        if self.envelope.mail_from is not None:
            await self.push("503 5.5.1 Error: MAIL transaction in progress")
            return
        attrs = {}
        for word in arg.split():
            name, eq, value = word.partition("=")
            if not eq or name.upper() not in ATTRIBUTES.split():
                await self.push(f"501 5.5.4 Bad XCLIENT attribute name: {name}")
                return
            attrs[name.upper()] = xtext_decode(value)
        self.event_handler.xclients.append(attrs)
        self.session.xclient = attrs
        # A new session as that client: forget the EHLO and the transaction.
        self.session.host_name = None
        self.session.extended_smtp = False
        self.envelope = self._create_envelope()
        await self.push("220 xclient.test ESMTP (as the client you named)")


class Handler:
    def __init__(self) -> None:
        self.xclients: list[dict[str, str]] = []
        self.messages: list[tuple[dict, str]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + [f"250-XCLIENT {ATTRIBUTES}", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((getattr(session, "xclient", {}), envelope.mail_from))
        return "250 2.0.0 queued"


async def start(*, authorized: bool = True):
    handler = Handler()
    server = await asyncio.get_running_loop().create_server(
        lambda: XclientSMTP(handler, authorized=authorized), "127.0.0.1", 0,
    )
    handler.port = server.sockets[0].getsockname()[1]
    handler.server = server
    return handler


@pytest.fixture
async def xserver():
    handler = await start()
    yield handler
    handler.server.close()
    await handler.server.wait_closed()


@pytest.fixture
async def xserver_unauthorized():
    handler = await start(authorized=False)
    yield handler
    handler.server.close()
    await handler.server.wait_closed()


async def test_xclient_then_a_new_session_as_that_client(xserver, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=xserver.port))
    await shell.handle("EHLO me")
    await shell.handle(':xclient ADDR=192.0.2.7 NAME=spike.example HELO="my helo+x" LOGIN=alice PORT=40000 PROTO=ESMTP')
    assert xserver.xclients == [{
        "ADDR": "192.0.2.7", "NAME": "spike.example", "HELO": "my helo+x", "LOGIN": "alice", "PORT": "40000",
        "PROTO": "ESMTP",
    }]
    text = out.text
    assert "XCLIENT ADDR=192.0.2.7 NAME=spike.example HELO=my+20helo+2Bx LOGIN=alice PORT=40000 PROTO=ESMTP" in text
    assert "220 xclient.test ESMTP (as the client you named)" in text
    assert "XCLIENT accepted: a new session as that client; send EHLO (or LHLO) again" in text
    assert "warning" not in text  # all advertised, all well-formed
    # The shell treats it as a new greeting: EHLO is needed again, and it says so.
    assert not shell.session.greeted and shell.session.capabilities is None
    assert shell.session.auth_user == "alice"
    await shell.handle("MAIL FROM:<a@example.test>")
    assert "MAIL before EHLO" in out.text
    assert replied(out.text, "503")  # the server wants EHLO again too
    status = await run_script(shell, lines(
        "EHLO me", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", "hi", ".", ":expect 250",
    ))
    assert xserver.messages == [(xserver.xclients[0], "a@example.test")]
    assert status in (ExitStatus.OK, ExitStatus.REFUSED)  # the 503 above was typed on purpose


async def test_ipv6_address_gets_its_prefix(xserver, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=xserver.port))
    await shell.handle("EHLO me")
    await shell.handle(":xclient ADDR=2001:db8::7 DESTADDR=[2001:db8::25] DESTPORT=25")
    assert xserver.xclients == [{"ADDR": "IPV6:2001:db8::7", "DESTADDR": "IPV6:2001:db8::25", "DESTPORT": "25"}]
    assert "ADDR: an IPv6 address goes as IPV6:2001:db8::7" in out.text


async def test_warnings_before_sending_and_sent_anyway(xserver, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=xserver.port))
    await shell.handle(":xclient ADDR=nowhere")  # before EHLO
    assert "no EHLO reply yet: cannot tell whether the server offers XCLIENT" in out.text
    assert "ADDR=nowhere: not an IP address" in out.text
    assert xserver.xclients == [{"ADDR": "nowhere"}]  # a debugging tool sends what it is told
    await shell.handle("EHLO me")
    await shell.handle(":xclient REVERSE_NAME=x.example COLOR=red")
    assert "the server did not list REVERSE_NAME after XCLIENT" in out.text
    assert "COLOR is not an XCLIENT attribute" in out.text
    assert "501 5.5.4 Bad XCLIENT attribute name" in out.text


async def test_not_advertised(smtpd, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=smtpd.port))
    await shell.handle("EHLO me")
    await shell.handle(":xclient NAME=spike.example")
    assert "the server did not advertise XCLIENT" in out.text
    assert "XCLIENT NAME=spike.example" in out.text
    assert replied(out.text, "500")  # aiosmtpd does not know the command
    assert shell.session.greeted  # nothing restarted


async def test_unauthorized_client(xserver_unauthorized, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=xserver_unauthorized.port))
    await shell.handle("EHLO me")
    await shell.handle(":xclient ADDR=192.0.2.7")
    assert "550 5.7.0 Error: insufficient authorization" in out.text
    assert "smtpd_authorized_xclient_hosts" in out.text
    assert shell.session.greeted


async def test_inside_a_transaction(xserver, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.connect(Target(host="127.0.0.1", port=xserver.port))
    for line in ("EHLO me", "MAIL FROM:<a@example.test>", ":xclient ADDR=192.0.2.7"):
        await shell.handle(line)
    assert "503 5.5.1 Error: MAIL transaction in progress" in out.text
    assert "XCLIENT is refused inside a mail transaction: RSET first" in out.text
    assert shell.session.phase is Phase.MAIL


async def test_typed_xclient_restarts_the_session_too(xserver, make_shell):
    shell, out = make_shell()
    await shell.connect(Target(host="127.0.0.1", port=xserver.port))
    await run_script(shell, lines("EHLO me", "XCLIENT NAME=typed.example", ":expect 220"))
    assert xserver.xclients == [{"NAME": "typed.example"}]
    assert "send EHLO (or LHLO) again" in out.text


@pytest.mark.parametrize(("arg", "message"), [("", "usage: :xclient NAME=VALUE"), ("NAME", "'NAME' is not NAME=VALUE"),
                                              ('NAME="unclosed', "No closing quotation")])
async def test_usage(arg, message, make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(f":xclient {arg}")
    assert message in out.text


async def test_help_lists_the_attributes(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help xclient")
    assert "NAME REVERSE_NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT" in out.text
    assert "smtpd_authorized_xclient_hosts" in out.text


async def test_registered_with_mx(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help")
    assert ":xclient NAME=VALUE ..." in out.text and ":mx DOMAIN [PORT]" in out.text


def test_aiosmtpd_fixture_is_plain():
    assert not hasattr(AioSmtpd, "smtp_XCLIENT")
