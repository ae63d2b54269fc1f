"""More of what a user sees: expired certificates, line marks, timestamps, the seed against the practice server."""

import datetime as dt
import ssl

from smtpshell.server.practice import PracticeServer
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.servers import AioSmtpd
from tests.support.script import b64, lines


async def test_expired_certificate_is_named(ca, make_shell, target, cafile):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    now = dt.datetime.now(dt.timezone.utc)
    ca.issue_cert("127.0.0.1", not_before=now - dt.timedelta(days=30),
                  not_after=now - dt.timedelta(days=1)).configure_cert(ctx)
    server = await AioSmtpd(server_ctx=ctx).start()
    try:
        shell, out = make_shell(cafile=cafile, interactive=True)
        await shell.connect(target(server))
        assert not await shell.starttls()
        assert "certificate verification failed: the certificate has expired" in out.text
        assert "--insecure" in out.text
    finally:
        await server.stop()


async def test_sc_marks_and_timestamps(smtpd, make_shell, target):
    shell, out = make_shell(marks="sc", timestamps=True)
    await shell.connect(target(smtpd))
    await run_script(shell, lines("EHLO me", "NOOP"))
    text = out.text
    assert "C: EHLO me" in text
    assert "S: 250-smtp.test" in text
    assert "S: 250 OK" in text or "S: 250 2.0.0" in text
    assert " ms)" in text  # per-reply latency
    assert "[   0.0" in text  # time since connect


async def test_swaks_marks_change_under_tls(smtpd, make_shell, target, cafile):
    shell, out = make_shell(marks="swaks", cafile=cafile)
    await shell.connect(target(smtpd))
    await run_script(shell, lines("EHLO me", "STARTTLS", "EHLO me"))
    text = out.text
    assert "<- 220" in text and " -> EHLO me" in text
    assert " ~> EHLO me" in text and "<~ 250-smtp.test" in text


async def test_seed_session_scripted_against_the_practice_server(make_shell, tmp_path):
    async with PracticeServer(maildir=tmp_path / "mail") as server:
        shell, out = make_shell(cafile=str(server.cafile))
        await shell.connect(Target(host=server.host, port=server.port))
        user = server.users[0]
        status = await run_script(shell, lines(
            "ehlo h1.home.net", ":starttls", f"AUTH LOGIN {b64(user.name)}", b64(user.password),
            ":expect 235", "mail from:<norbert@example.com>", "rcpt to:<info@example.com>", "data",
            "subject: test", "", "text", ".dotted", ".", ":expect 250", "quit",
        ))
        assert status is ExitStatus.OK, out.text
        [stored] = list((tmp_path / "mail" / "new").iterdir())
        assert b"\r\n.dotted\r\n" in stored.read_bytes()
        assert user.password not in out.text and b64(user.password) not in out.text
