"""Recording a scripted shell session to a JSONL file, for tests that replay or read it back."""

from pathlib import Path

from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from smtpshell.transcript.jsonl import Recorder
from smtpshell.transcript.readers import read
from tests.support.script import lines


async def record(path, server, script, make_shell, **settings):
    """Run ``script`` with the shell against ``server``, recording it to ``path`` (JSONL); the
    recording as read back (credentials as the reader gives them by default: masked)."""
    shell, out = make_shell(**settings)
    recorder = Recorder(path, host=server.host, port=server.port)
    shell.listeners.append(recorder)
    try:
        assert await shell.connect(Target(host=server.host, port=server.port)), out.text
        status = await run_script(shell, lines(*script))
    finally:
        recorder.close()
    assert status == 0, out.text
    return read(Path(path).read_text(encoding="utf-8"))
