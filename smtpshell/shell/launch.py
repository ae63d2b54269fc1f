"""Start what a session needs before the shell connects: the practice server for --demo."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from smtpshell.settings import Settings
from smtpshell.shell import display
from smtpshell.shell.core import Output, Target


@contextlib.asynccontextmanager
async def session_target(settings: Settings, output: Output):
    """Yield (settings, target): for --demo, with a practice server running in this loop."""
    if not settings.demo:
        yield settings, Target(host=settings.host, port=settings.effective_port, implicit_tls=settings.tls)
        return
    from smtpshell.server.practice import PracticeServer

    server = PracticeServer()
    await server.start()
    try:
        output.emit([display.note_line(line) for line in server.intro().splitlines()])
        demo = replace(settings, host=server.host, port=server.port, cafile=str(server.cafile), tls=False)
        yield demo, Target(host=server.host, port=server.port)
    finally:
        await server.aclose()
