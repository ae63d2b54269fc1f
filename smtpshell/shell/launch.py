"""Start what a session needs before the shell connects: the practice server for --demo,
the target for HOST [PORT], --socket PATH or --mx DOMAIN."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from smtpshell.settings import Settings
from smtpshell.transcript import display
from smtpshell.shell.core import Output, Target


def target_for(settings: Settings) -> Target:
    """Where the settings say to connect: a UNIX socket, a domain's MX hosts, or HOST:PORT."""
    if settings.socket:
        return Target(host=settings.socket, port=0, implicit_tls=settings.tls, unix=True)
    if settings.mx:
        return Target(host=settings.mx, port=settings.effective_port, implicit_tls=settings.tls, mx=settings.mx)
    return Target(host=settings.host, port=settings.effective_port, implicit_tls=settings.tls)


@contextlib.asynccontextmanager
async def session_target(settings: Settings, output: Output):
    """Yield (settings, target): for --demo, with a practice server running in this loop."""
    if not settings.demo:
        yield settings, target_for(settings)
        return
    from smtpshell.server.practice import Modes, PracticeServer

    server = PracticeServer(modes=Modes(names=frozenset(settings.demo_modes)), tls_port=0)  # :connect … --tls too
    await server.start()
    try:
        output.emit([display.note_line(line) for line in server.intro().splitlines()])
        demo = replace(settings, host=server.host, port=server.port, cafile=str(server.cafile), tls=False)
        yield demo, Target(host=server.host, port=server.port)
    finally:
        await server.aclose()
