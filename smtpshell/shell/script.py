"""Running lines from -c, -f or standard input, exactly as if typed, with an exit status."""

from __future__ import annotations

import asyncio
import sys
from typing import AsyncIterator

from smtpshell.settings import ExitStatus, Settings
from smtpshell.shell.core import ScriptError, Shell
from smtpshell.shell.launch import session_target
from smtpshell.shell.output import StreamOutput


async def script_lines(settings: Settings, stdin=None) -> AsyncIterator[str]:
    """-c lines, then the -f file; standard input only when neither is given."""
    for line in settings.commands:
        yield line
    if settings.script_file:
        with open(settings.script_file, "r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            for line in fh:
                yield line.rstrip("\r\n") if line.endswith("\n") else line
    if not settings.commands and not settings.script_file:
        stdin = stdin or sys.stdin
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            yield line.rstrip("\r\n") if line.endswith("\n") else line


async def run_script(shell: Shell, lines: AsyncIterator[str]) -> ExitStatus:
    """Feed each line to the shell, stop at the first failure, QUIT at the end."""
    status = ExitStatus.OK
    lines = skip_refused_messages(shell, lines)
    if shell.settings.pipeline:
        from smtpshell.shell.pipeline import auto_groups

        lines = auto_groups(shell, lines)  # --pipeline: runs of commands go out together
    try:
        async for line in lines:
            await shell.handle(line)
            if shell.quitting:
                break
        if shell.in_data:
            shell.error("the script ended inside DATA (no lone '.'): the message was NOT sent")
            status = ExitStatus.USAGE
        if shell.pipeline is not None:
            shell.error("the script ended inside :pipeline (no :end): the queued commands were NOT sent")
            status = ExitStatus.USAGE
    except ScriptError as exc:
        status = exc.status
    finally:
        if shell.connected and not shell.quitting:
            if shell.in_data:
                await shell.close_quietly()
            else:
                await shell.quit()
    if status is ExitStatus.OK:
        if shell.lost_connection:
            status = ExitStatus.CONNECTION
        elif shell.uncovered_failure is not None:
            reply = shell.uncovered_failure
            shell.error(f"the server refused a command ({reply.code}) and no :expect checked it: exit 4")
            status = ExitStatus.REFUSED
    return status


async def skip_refused_messages(shell: Shell, lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The script's lines, less the message of a DATA the server refused: the lines after it up to
    a lone dot would otherwise go out as commands (a body line "QUIT" or "RCPT TO:" would act).
    The first line after the DATA decides: an SMTP command or a colon command (``:expect 554``)
    means no message follows; anything else (a header, an empty line, text) starts one."""
    refused, skipped = None, 0
    async for line in lines:
        if shell.refused_data is not None:  # DATA (typed, or in a --pipeline group) was just answered
            refused, shell.refused_data, skipped = shell.refused_data, None, 0
        if refused is not None:
            if not skipped and _a_command(line):
                refused = None
            else:
                skipped += 1
                if line == ".":
                    _skipped(shell, refused, skipped)
                    refused = None
                continue
        yield line
    if refused is not None and skipped:
        _skipped(shell, refused, skipped, ended=True)


def _a_command(line: str) -> bool:
    """A colon command, or a line that starts with an SMTP verb (not message text)."""
    from smtpshell.protocol.verbs import verbs

    words = line.split(maxsplit=1)
    return line.lstrip().startswith(":") or (bool(words) and words[0].upper() in verbs())


def _skipped(shell: Shell, reply, count: int, *, ended: bool = False) -> None:
    """Say that the message of a refused DATA was not sent (its lines were not sent as commands)."""
    what = f"{count} line{'s' * (count != 1)}" + (" (the script ended before the lone '.')" if ended else
                                                  " up to the lone '.'")
    shell.error(f"DATA was refused ({reply.code}): the message was NOT sent; its {what} "
                f"{'were' if count != 1 else 'was'} skipped, not sent as commands")


async def run_script_main(settings: Settings) -> ExitStatus:
    output = StreamOutput(sys.stdout, color=settings.use_color(sys.stdout.isatty()), style=settings.style)
    async with session_target(settings, output) as (settings, target):
        shell = Shell(settings, output, interactive=False)
        try:
            connected = await shell.connect(target)
        except ScriptError as exc:  # --starttls failed on the way in, or --user could not log in
            await shell.quit()  # QUIT if the connection is still up
            return exc.status
        if not connected or shell.connection_failed:
            await shell.close_quietly()
            return ExitStatus.CONNECTION
        return await run_script(shell, script_lines(settings))
