""":xclient against the real Postfix: the session restarts as the named client, and the
delivered message's Received header names that client, not 127.0.0.1.

Postfix offers XCLIENT only to the hosts in ``smtpd_authorized_xclient_hosts``; the harness
needs ``smtpd_authorized_xclient_hosts = 127.0.0.1`` in main.cf for this test to run. Without it
the test skips and says so.
"""

from __future__ import annotations

import uuid

import pytest

from smtpshell.settings import Settings
from smtpshell.shell.core import Shell, Target
from smtpshell.shell.script import run_script
from tests.support.script import lines
from tests.support.capture import Capture

NEEDED = "smtpd_authorized_xclient_hosts = 127.0.0.1"


def make_shell(tmp_path, **kw):
    out = Capture()
    settings = Settings(timeout=10.0, env={"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}, **kw)
    return Shell(settings, out, interactive=True), out


async def greeted_with_xclient(postfix, tmp_path):
    shell, out = make_shell(tmp_path)
    assert await shell.connect(Target(host=postfix.host, port=postfix.port)), out.text
    await shell.handle("EHLO client.test")
    caps = shell.session.capabilities
    if caps is None or "XCLIENT" not in caps:
        await shell.quit()
        pytest.skip(f"Postfix does not advertise XCLIENT to {postfix.host}: the harness needs `{NEEDED}` in main.cf")
    return shell, out


async def test_xclient_names_the_client_in_received(postfix, tmp_path):
    shell, out = await greeted_with_xclient(postfix, tmp_path)
    advertised = shell.session.capabilities.params("XCLIENT")
    assert {"NAME", "ADDR", "HELO"} <= set(advertised), advertised
    await shell.handle(":xclient NAME=spike.example ADDR=192.0.2.7 HELO=spike.example")
    assert shell.last_reply.code == 220, out.text
    assert "send EHLO (or LHLO) again" in out.text
    assert not shell.session.greeted  # a new session: the shell forgot the EHLO
    token = uuid.uuid4().hex
    await run_script(shell, lines(
        "EHLO spike.example", ":expect 250",
        f"MAIL FROM:<{token}@sender.test>", ":expect 250",
        f"RCPT TO:<bob@{postfix.domain}>", ":expect 250",
        "DATA", f"Subject: xclient {token}", "", "hello", ".", ":expect 250",
    ))
    assert not shell.expect_failed, out.text
    delivered = postfix.wait_for_delivery("bob", containing=token.encode()).read_bytes()
    assert b"from spike.example (spike.example [192.0.2.7])" in delivered, delivered[:600]


async def test_xclient_unavailable_name(postfix, tmp_path):
    """NAME=[UNAVAILABLE] is sent as is (not xtext-mangled): Postfix logs the client as unknown.
    (An IPv6 ADDR needs inet_protocols with ipv6 in Postfix; the harness has ipv4 only.)"""
    shell, out = await greeted_with_xclient(postfix, tmp_path)
    await shell.handle(":xclient NAME=[UNAVAILABLE] ADDR=192.0.2.8")
    assert "XCLIENT NAME=[UNAVAILABLE] ADDR=192.0.2.8" in out.text
    assert shell.last_reply.code == 220, out.text
    token = uuid.uuid4().hex
    await run_script(shell, lines(
        "EHLO nameless.example", f"MAIL FROM:<{token}@sender.test>", f"RCPT TO:<bob@{postfix.domain}>",
        "DATA", f"Subject: {token}", "", "x", ".", ":expect 250",
    ))
    delivered = postfix.wait_for_delivery("bob", containing=token.encode()).read_bytes()
    assert b"from nameless.example (unknown [192.0.2.8])" in delivered, delivered[:600]


async def test_xclient_inside_a_transaction_is_refused(postfix, tmp_path):
    shell, out = await greeted_with_xclient(postfix, tmp_path)
    await shell.handle("MAIL FROM:<a@sender.test>")
    await shell.handle(":xclient NAME=late.example")
    assert shell.last_reply.code == 503, out.text
    assert "RSET first" in out.text
    assert shell.session.greeted
    await shell.quit()
