"""What the benchmarks share: the machine line, a free port, waiting for a server, RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTES_MARK = "<!-- notes: kept when the table is rewritten -->"


def machine() -> str:
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    return f"`{uname}`; {os.cpu_count()} CPUs (nproc); Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int, what: str, timeout: float) -> None:
    """Return once 127.0.0.1:PORT accepts connections; exit if PROC dies or TIMEOUT passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{what} did not start on 127.0.0.1:{port}")
            time.sleep(0.02)  # a bench polling a child it started; no event to wait on


def update_section(title: str, header: str, table: str) -> None:
    """Replace the header and table of section ``title`` in RESULTS.md, or append the section.

    The text after the section's NOTES_MARK (up to the next ``## `` heading) is kept;
    the other sections are left as they are.
    """
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    heading = f"## {title}"
    body = f"{heading}\n\n{header}\n\n{table}\n\n{NOTES_MARK}\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        m = re.search(r"^## ", rest, re.M)
        section, after = (rest[:m.start()], rest[m.start():]) if m else (rest, "")
        notes = section.split(NOTES_MARK, 1)[1].lstrip("\n") if NOTES_MARK in section else ""
        body += ("\n" + notes if notes else "")
        text = before + body.rstrip("\n") + "\n" + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)
    print(f"written to {path}", file=sys.stderr)
