"""Recording the session: ``--record FILE``, ``:record FILE``, ``:record stop``, ``:save FILE``.

Rules
-----
- A recording is a :class:`~smtpshell.transcript.jsonl.Recorder` among the shell's
  listeners: every event is written and flushed as it happens, so a killed process
  leaves a file that reads back.
- A failed write (a full disk) stops the recording, says so in one line, and the
  session goes on; nothing typed is lost from the screen.
- ``:save FILE`` writes the session so far. The shell keeps the events for it from the
  start, but not unbounded message content: past :data:`SAVE_KEEP_BYTES` of content,
  further content lines are left out of what ``:save`` writes (a note says how much);
  a ``--record`` file keeps everything.
- Secrets are masked in both unless the user passed ``--show-secrets``.
- ``:save`` picks the format from the file's extension (``.jsonl`` / ``.json`` native,
  ``.txt`` telnet-style text, ``.html``, ``.cast`` asciicast); anything else is JSONL.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from smtpshell.net import connection as net
from smtpshell.transcript.events import ClientLine, Header, Note, Transcript

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

SAVE_KEEP_BYTES = 8 * 1024 * 1024  # message content kept in memory for :save

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text", ".html": "html", ".htm": "html",
            ".cast": "asciicast"}


class SessionLog:
    """What ``:save`` writes: the session's transcript events since the shell started."""

    def __init__(self, *, show_secrets: bool) -> None:
        from smtpshell.transcript.capture import Capture

        self._capture = Capture(show_secrets=show_secrets)
        self.events: list = []
        self._content_bytes = 0
        self._dropped_bytes = 0
        self._dropped_lines = 0

    def __call__(self, event: net.NetEvent) -> None:
        if (isinstance(event, net.SentData) and self._dropped_lines
                and self._capture.in_data):  # over the limit: count, do not split into lines
            self._dropped_bytes += len(event.data)
            self._dropped_lines += event.data.count(b"\n")
            return
        for item in self._capture(event):
            if isinstance(item, ClientLine) and item.data:
                size = len(item.wire)
                if self._content_bytes + size > SAVE_KEEP_BYTES:
                    self._dropped_bytes += size
                    self._dropped_lines += 1
                    continue
                self._content_bytes += size
            elif self._dropped_lines:
                self.events.append(self._dropped_note(item.t))
            self.events.append(item)

    def _dropped_note(self, t: float | None) -> Note:
        note = Note(t=t, kind="info", text=(
            f"{self._dropped_lines} more lines of message content ({self._dropped_bytes} bytes) "
            "not kept for :save (--record keeps everything)"
        ))
        self._dropped_bytes = self._dropped_lines = 0
        return note

    def transcript(self, header: Header) -> Transcript:
        events = list(self.events)
        if self._dropped_lines:  # content still going out: say so without forgetting the count
            lines, size = self._dropped_lines, self._dropped_bytes
            events.append(self._dropped_note(events[-1].t if events else None))
            self._dropped_lines, self._dropped_bytes = lines, size
        return Transcript(header=header, events=tuple(events), notation="jsonl")


def _header(shell: "Shell") -> Header:
    import datetime

    from smtpshell import __version__

    target = shell.target
    started = datetime.datetime.fromtimestamp(shell.started).astimezone()
    return Header(
        host=target.host if target else shell.settings.host,
        port=target.port if target else shell.settings.port,
        started=started.isoformat(timespec="milliseconds"), version=__version__,
    )


def start(shell: "Shell", path: str) -> bool:
    """Start recording to PATH; False (after saying why) if it cannot."""
    from smtpshell.transcript.jsonl import Recorder, RecordingError

    if shell.recorder is not None:
        shell.error(f"already recording to {shell.recorder.path}: :record stop first")
        return False
    target = shell.target

    def on_error(error: RecordingError) -> None:
        if shell.recorder is None:  # still starting: the header could not be written
            return
        stop(shell, quiet=True)
        shell.error(f"{error}; the session goes on unrecorded (:record FILE starts a new recording)")

    try:
        recorder = Recorder(
            os.path.expanduser(path),
            host=target.host if target else shell.settings.host,
            port=target.port if target else shell.settings.port,
            show_secrets=shell.settings.show_secrets, on_error=on_error,
        )
    except RecordingError as exc:
        shell.error(str(exc))
        return False
    if recorder.error is not None:
        shell.error(str(recorder.error))
        return False
    shell.recorder = recorder
    shell.listeners.append(recorder)
    if shell.connected:
        recorder.write_event(Note(t=0.0, kind="info", text=(
            f"recording started mid-session ({net.format_hostport(target.host, target.port)})"
        )))
    secrets = "credentials unmasked (--show-secrets)" if shell.settings.show_secrets else "credentials masked"
    shell.note(f"recording to {recorder.path} ({secrets})")
    return True


def stop(shell: "Shell", *, quiet: bool = False) -> None:
    recorder = shell.recorder
    if recorder is None:
        if not quiet:
            shell.error("not recording")
        return
    shell.recorder = None
    if recorder in shell.listeners:
        shell.listeners.remove(recorder)
    recorder.close()
    if not quiet:
        shell.note(f"recording stopped: {recorder.path}")


def save(shell: "Shell", path: str) -> bool:
    """Write the session so far to PATH, in the format its extension names."""
    path = os.path.expanduser(path)
    fmt = _FORMATS.get(os.path.splitext(path)[1].lower(), "jsonl")
    transcript = shell.session_log.transcript(_header(shell))
    if fmt == "jsonl":
        from smtpshell.transcript.jsonl import write_jsonl

        text = write_jsonl(transcript)
    else:
        from smtpshell.transcript.writers import write

        text = write(transcript, fmt)
    try:
        # Owner-only, as recordings are: even masked transcripts hold addresses.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        shell.error(f"cannot save to {path}: {exc.strerror or exc}")
        return False
    shell.note(f"saved {len(transcript.events)} events to {path} ({fmt})")
    return True
