"""LMTP against Dovecot's LMTP server (Debian's dovecot-lmtpd), on a UNIX socket: LHLO, then
one reply per accepted recipient after the dot and after BDAT LAST, each named.

The test starts its own Dovecot (config, sockets, mailboxes in a temporary directory; no
system service) and skips when Dovecot is not installed or this is not root (Dovecot's master
runs as root and delivers as the mail user). Users: alice and bob deliver to Maildirs; carol's
home cannot be created (under /proc), so her delivery fails after the dot with a 451 while the
others succeed; anyone else is unknown (550 at RCPT).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from smtpshell.settings import ExitStatus, Settings
from smtpshell.shell.core import Shell, Target
from smtpshell.shell.script import run_script
from tests.support.script import lines
from tests.support.capture import Capture

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
NOBODY = 65534
STOP_WAIT = 10.0  # seconds for Dovecot's master to exit after "stop"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
auth_username_format = %Ln
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}
service lmtp {{
  unix_listener {root}/lmtp.sock {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = str(root / "lmtp.sock")
        self.conf = str(root / "dovecot.conf")

    def mailbox(self, user: str) -> list[bytes]:
        new = self.root / "mail" / user / "Maildir" / "new"
        return [p.read_bytes() for p in new.iterdir()] if new.is_dir() else []

    def log_tail(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@pytest.fixture(scope="module")
def dovecot():
    if DOVECOT is None:
        if os.environ.get("SMTPSHELL_INTEROP_REQUIRED") == "1":  # CI: .ci/mta/dovecot-install put it there
            pytest.fail("Dovecot is not installed (SMTPSHELL_INTEROP_REQUIRED=1)", pytrace=False)
        pytest.skip("Dovecot is not installed (apt-get install dovecot-lmtpd, or bash .ci/mta/dovecot-install)")
    if os.geteuid() != 0:
        pytest.skip("Dovecot's master must start as root")
    # Not under pytest's tmp_path: its parents are 0700 and the mail user must reach the Maildirs.
    root = Path(tempfile.mkdtemp(prefix="smtpshell-dovecot-"))
    root.chmod(0o755)
    try:
        for sub in ("run", "state"):
            (root / sub).mkdir()
        (root / "mail").mkdir(mode=0o777)
        (root / "mail").chmod(0o777)
        (root / "users").write_text(
            f"alice:{{PLAIN}}x:{NOBODY}:{NOBODY}::{root}/mail/alice::\n"
            f"bob:{{PLAIN}}x:{NOBODY}:{NOBODY}::{root}/mail/bob::\n"
            f"carol:{{PLAIN}}x:{NOBODY}:{NOBODY}::/proc/smtpshell-carol::\n"
        )
        (root / "dovecot.conf").write_text(CONFIG.format(root=root))
        server = Dovecot(root)
        # The master creates its listeners before it goes to the background: the socket is there.
        # Its output goes to a file: the daemon keeps the descriptors it was given open.
        with open(root / "start.log", "w+") as output:
            started = subprocess.run([DOVECOT, "-c", server.conf], stdin=subprocess.DEVNULL,
                                     stdout=output, stderr=output, timeout=30)
            output.seek(0)
            if started.returncode != 0:
                pytest.fail(f"dovecot did not start: {output.read()}{server.log_tail()}", pytrace=False)
        try:
            yield server
        finally:
            _stop(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _stop(server: Dovecot) -> None:
    pid_file = server.root / "run" / "master.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    subprocess.run([DOVECOT, "-c", server.conf, "stop"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    deadline = time.monotonic() + STOP_WAIT
    while pid is not None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def make_shell(tmp_path):
    out = Capture()
    settings = Settings(lmtp=True, timeout=10.0,
                        env={"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")})
    return Shell(settings, out, interactive=False), out


async def test_dovecot_answers_each_recipient_after_the_dot(dovecot, tmp_path):
    shell, out = make_shell(tmp_path)
    assert await shell.connect(Target(host=dovecot.socket, port=0, unix=True)), out.text
    token = uuid.uuid4().hex
    status = await run_script(shell, lines(
        ":ehlo client.test",
        "MAIL FROM:<sender@example.test>",
        "RCPT TO:<alice@example.test>",
        "RCPT TO:<nobody@example.test>",
        "RCPT TO:<carol@example.test>",
        "RCPT TO:<bob@example.test>",
        "DATA", f"Subject: {token}", "", "hello", ".",
    ))
    text = out.text
    assert "LHLO client.test" in text and "Dovecot" in text, text
    assert "550 5.1.1 <nobody@example.test>" in text
    after_dot = text[text.index("\n.\n"):]
    assert "↳ for <alice@example.test> (recipient 1 of 3): delivered" in after_dot, text + dovecot.log_tail()
    assert "451 4.2.0 <carol@example.test>" in after_dot
    assert "↳ for <carol@example.test> (recipient 2 of 3): deferred (a temporary failure)" in after_dot
    assert "↳ for <bob@example.test> (recipient 3 of 3): delivered" in after_dot
    assert after_dot.index("QUIT") > after_dot.index("recipient 3 of 3")  # QUIT's 221 paired right
    assert status is ExitStatus.REFUSED
    assert any(token.encode() in m for m in dovecot.mailbox("alice"))
    assert any(token.encode() in m for m in dovecot.mailbox("bob"))


async def test_dovecot_answers_each_recipient_after_bdat_last(dovecot, tmp_path):
    shell, out = make_shell(tmp_path)
    assert await shell.connect(Target(host=dovecot.socket, port=0, unix=True)), out.text
    token = uuid.uuid4().hex
    status = await run_script(shell, lines(
        "LHLO client.test", "MAIL FROM:<sender@example.test>",
        "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>",
        f":bdat Subject: {token}\\r\\n\\r\\nchunked\\r\\n --last",
        ":expect 250", "NOOP", ":expect 250",
    ))
    text = out.text
    assert "CHUNKING" in text
    assert "↳ for <alice@example.test> (recipient 1 of 2): delivered" in text, text + dovecot.log_tail()
    assert "↳ for <bob@example.test> (recipient 2 of 2): delivered" in text
    assert "unsolicited" not in text
    assert status is ExitStatus.OK, text
    assert any(token.encode() in m for m in dovecot.mailbox("bob"))
