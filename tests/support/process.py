"""Running ``python -m smtpshell`` as a user would: a real process, its output and exit status."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


async def run_cli(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None, tmp_path=None):
    """(exit status, stdout, stderr) of ``smtpshell ARGS``; HOME and XDG_STATE_HOME under tmp_path."""
    environ = dict(os.environ)
    environ.pop("NO_COLOR", None)
    if tmp_path is not None:
        environ["XDG_STATE_HOME"] = str(tmp_path / "state")
        environ["HOME"] = str(tmp_path)
    environ.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smtpshell", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin or b""), 30)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def run_cli_sync(*args, tmp_path, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60,
                 text: bool = True) -> subprocess.CompletedProcess:
    """``smtpshell ARGS`` as a process, blocking (for tests that are not async): HOME and
    XDG_STATE_HOME under tmp_path, a plain PATH, ``env`` on top; output as text unless ``text=False``."""
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "smtpshell", *map(str, args)],
                          input=stdin if text else stdin.encode(), capture_output=True, text=text,
                          env=environ, timeout=timeout)
