"""LMTP against aiosmtpd's LMTP server, over TCP and over a UNIX domain socket: LHLO, then
after the final dot one reply per accepted recipient (RFC 2033 4.2), each shown with the
recipient it belongs to."""

import asyncio

import pytest
from aiosmtpd.lmtp import LMTP

from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.process import run_cli
from tests.support.script import lines


class Mailboxes:
    """An LMTP delivery agent: ``nobody@`` does not exist (550 at RCPT); ``full@`` is over
    quota (452 after the dot); every other mailbox takes the message. One status per recipient,
    in RCPT order, as Mailman's LMTP runner answers aiosmtpd."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return f"550 5.1.1 <{address}> no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        statuses = []
        for rcpt in envelope.rcpt_tos:
            if rcpt.startswith("full@"):
                statuses.append(f"452 4.2.2 <{rcpt}> mailbox full")
            else:
                self.delivered.append((rcpt, envelope.original_content))
                statuses.append(f"250 2.0.0 <{rcpt}> delivered")
        return "\r\n".join(statuses)


@pytest.fixture
def mailboxes():
    return Mailboxes()


def lmtp_factory(handler):
    return lambda: LMTP(handler, hostname="lmtp.test")


@pytest.fixture
async def lmtp_tcp(mailboxes):
    server = await asyncio.get_running_loop().create_server(lmtp_factory(mailboxes), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def lmtp_unix(mailboxes, tmp_path):
    path = str(tmp_path / "lmtp.sock")
    server = await asyncio.get_running_loop().create_unix_server(lmtp_factory(mailboxes), path)
    yield path
    server.close()
    await server.wait_closed()


TRANSACTION = (
    ":ehlo client.test",
    "MAIL FROM:<sender@example.test>",
    "RCPT TO:<alice@example.test>",
    "RCPT TO:<nobody@example.test>",
    "RCPT TO:<full@example.test>",
    "RCPT TO:<bob@example.test>",
    "DATA",
    "Subject: LMTP",
    "",
    "hello",
    ".",
    "NOOP",
)


def check_transaction(text: str, mailboxes: Mailboxes, status) -> None:
    assert "LHLO client.test" in text
    assert "250-lmtp.test" in text
    assert "550 5.1.1 <nobody@example.test> no such mailbox" in text
    # After the dot: three replies, one per accepted recipient, each labelled.
    after_dot = text[text.index("\n.\n"):]
    assert after_dot.index("250 2.0.0 <alice@example.test> delivered") < after_dot.index(
        "452 4.2.2 <full@example.test> mailbox full") < after_dot.index("250 2.0.0 <bob@example.test> delivered")
    assert "↳ for <alice@example.test> (recipient 1 of 3): delivered" in after_dot
    assert "↳ for <full@example.test> (recipient 2 of 3): deferred (a temporary failure)" in after_dot
    assert "↳ for <bob@example.test> (recipient 3 of 3): delivered" in after_dot
    # NOOP's reply pairs with NOOP, not with a recipient.
    assert after_dot.index("NOOP") > after_dot.index("recipient 3 of 3")
    assert [rcpt for rcpt, _ in mailboxes.delivered] == ["alice@example.test", "bob@example.test"]
    assert mailboxes.delivered[0][1] == b"Subject: LMTP\r\n\r\nhello\r\n"
    assert status is ExitStatus.REFUSED  # 550 and 452 went unchecked by any :expect


async def test_lmtp_over_tcp(lmtp_tcp, mailboxes, make_shell):
    shell, out = make_shell(lmtp=True)
    assert await shell.connect(Target(host="127.0.0.1", port=lmtp_tcp))
    status = await run_script(shell, lines(*TRANSACTION))
    check_transaction(out.text, mailboxes, status)


async def test_lmtp_over_a_unix_socket(lmtp_unix, mailboxes, make_shell):
    shell, out = make_shell(lmtp=True)
    assert await shell.connect(Target(host=lmtp_unix, port=0, unix=True))
    assert f"connected to {lmtp_unix}" in out.text
    status = await run_script(shell, lines(*TRANSACTION))
    check_transaction(out.text, mailboxes, status)


async def test_lmtp_speaks_of_lhlo_not_ehlo(lmtp_tcp, make_shell):
    """In LMTP the greeting's hint, a typed EHLO and a refused STARTTLS all name LHLO."""
    shell, out = make_shell(lmtp=True, interactive=True)
    assert await shell.connect(Target(host="127.0.0.1", port=lmtp_tcp))
    assert "introduce yourself with LHLO <your host name>" in out.text and "with EHLO" not in out.text
    await shell.handle("EHLO me")
    assert "warning: LMTP (RFC 2033) greets with LHLO, not EHLO: an LMTP server refuses EHLO" in out.text
    await shell.handle(":starttls")
    assert "did not offer STARTTLS in its LHLO reply" in out.text
    await shell.quit()


async def test_expect_looks_at_the_last_recipient_reply(lmtp_tcp, make_shell):
    shell, out = make_shell(lmtp=True)
    await shell.connect(Target(host="127.0.0.1", port=lmtp_tcp))
    status = await run_script(shell, lines(
        ":ehlo", "MAIL FROM:<s@example.test>", "RCPT TO:<full@example.test>", "RCPT TO:<bob@example.test>",
        "DATA", "x", ".", ":expect 250",
    ))
    assert not shell.expect_failed  # :expect saw bob's 250, the last of the two
    assert "expected 250" not in out.text
    assert status is ExitStatus.REFUSED  # the 452 for full@ was not looked at


async def test_cli_lmtp_socket(lmtp_unix, mailboxes, tmp_path):
    code, out, err = await run_cli(
        "--lmtp", "--socket", lmtp_unix,
        "-c", "LHLO me", "-c", "MAIL FROM:<s@example.test>", "-c", "RCPT TO:<alice@example.test>",
        "-c", "DATA", "-c", "hi", "-c", ".", "-c", ":expect 250", tmp_path=tmp_path,
    )
    assert code == ExitStatus.OK, out + err
    assert f"connected to {lmtp_unix}" in out
    assert "↳ for <alice@example.test> (recipient 1 of 1): delivered" in out
    assert mailboxes.delivered[0][0] == "alice@example.test"


async def test_cli_socket_that_is_not_there(tmp_path):
    code, out, err = await run_cli("--lmtp", "--socket", str(tmp_path / "missing.sock"), "-c", "QUIT",
                                   tmp_path=tmp_path)
    assert code == ExitStatus.CONNECTION
    assert f"cannot connect to {tmp_path / 'missing.sock'}: No such file or directory" in out


async def test_cli_socket_with_a_host_is_a_usage_error(tmp_path):
    code, out, err = await run_cli("mail.example.test", "--socket", "/x.sock", tmp_path=tmp_path)
    assert code == ExitStatus.USAGE
    assert "--socket PATH names where to connect" in err
