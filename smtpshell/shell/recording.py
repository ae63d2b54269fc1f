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
  a ``--record`` file keeps everything. Content is kept as the bytes that went out and
  split into lines only when saved, so sending a large file costs no Python per line.
- Secrets are masked in both unless the user passed ``--show-secrets``.
- ``:save`` picks the format from the file's extension (``.jsonl`` / ``.json`` native,
  ``.txt`` telnet-style text, ``.html``, ``.cast`` asciicast); anything else is JSONL.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from smtpshell.net import connection as net
from smtpshell.transcript.events import Header, Note, Transcript

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

SAVE_KEEP_BYTES = 8 * 1024 * 1024  # message content kept in memory for :save

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text", ".html": "html", ".htm": "html",
            ".cast": "asciicast"}


class _Content:
    """Message content kept for :save as the bytes that went out, split into lines only when saved.

    Splitting 8 MB into lines as it is sent would cost the transfer a Python call per line.
    """

    def __init__(self, t: float | None) -> None:
        self.t = t  # the time of the event that ended the content (the lone dot)
        self.pieces: list[bytes] = []

    def lines(self) -> list:
        from smtpshell.transcript.capture import client_from_wire

        parts = b"".join(self.pieces).split(b"\r\n")
        out = [client_from_wire(self.t, part + b"\r\n", data=True) for part in parts[:-1]]
        if parts[-1]:  # content that did not end with CRLF
            out.append(client_from_wire(self.t, parts[-1], data=True))
        return out


class SessionLog:
    """What ``:save`` writes: the session's transcript events since the shell started."""

    def __init__(self, *, show_secrets: bool) -> None:
        from smtpshell.transcript.capture import Capture

        self._capture = Capture(show_secrets=show_secrets)
        self.events: list = []  # transcript events, and _Content blocks that transcript() expands
        self._content: _Content | None = None  # message content going out now
        self._content_bytes = 0
        self._dropping = False
        self._dropped_bytes = 0
        self._dropped_lines = 0

    def __call__(self, event: net.NetEvent) -> None:
        if isinstance(event, net.SentData):
            if self._capture.in_data:
                self._keep_content(event)
                return
            # Raw bytes (:raw, BDAT chunks) count against the same budget, whole writes at a time.
            if self._dropping or self._content_bytes + len(event.data) > SAVE_KEEP_BYTES:
                self._dropping = True
                self._dropped_bytes += len(event.data)
                self._dropped_lines += _newlines(event)
                return
            self._content_bytes += len(event.data)
        items = self._capture(event)
        if self._content is not None:
            if items:
                self._content.t = items[0].t
            self._content = None
        for item in items:
            if self._dropping:
                self.events.append(self._dropped_note(item.t))
            self.events.append(item)

    def _keep_content(self, event: net.SentData) -> None:
        """Content between 354 and the lone dot: kept whole up to SAVE_KEEP_BYTES, then counted."""
        data = event.data
        if self._content is None:
            self._content = _Content(self.events[-1].t if self.events else None)
            self.events.append(self._content)
        if not self._dropping:
            room = SAVE_KEEP_BYTES - self._content_bytes
            if len(data) <= room:
                self._content.pieces.append(data)
                self._content_bytes += len(data)
                return
            cut = data.rfind(b"\n", 0, room) + 1  # keep whole lines only
            if cut:
                self._content.pieces.append(data[:cut])
            self._content_bytes += cut
            self._dropping = True
            self._dropped_bytes += len(data) - cut
            self._dropped_lines += data.count(b"\n", cut)
            return
        self._dropped_bytes += len(data)
        self._dropped_lines += _newlines(event)

    def _dropped_note(self, t: float | None) -> Note:
        note = Note(t=t, kind="info", text=(
            f"{self._dropped_lines} more lines of message content ({self._dropped_bytes} bytes) "
            "not kept for :save (--record keeps everything)"
        ))
        self._dropped_bytes = self._dropped_lines = 0
        self._dropping = False
        return note

    def transcript(self, header: Header) -> Transcript:
        events: list = []
        for event in self.events:
            if isinstance(event, _Content):
                events.extend(event.lines())
            else:
                events.append(event)
        if self._dropping:  # content still going out: say so without forgetting the count
            lines, size = self._dropped_lines, self._dropped_bytes
            events.append(self._dropped_note(events[-1].t if events else None))
            self._dropped_lines, self._dropped_bytes, self._dropping = lines, size, True
        return Transcript(header=header, events=tuple(events), notation="jsonl")


def _newlines(event: net.SentData) -> int:
    return event.newlines if event.newlines is not None else event.data.count(b"\n")


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


def occupied(path: str) -> str | None:
    """What stands in the way of writing PATH: "PATH already exists (N bytes)" for a file that
    is not empty, or None. A recording is never replaced by a mistyped name without asking."""
    path = os.path.expanduser(path)
    try:
        size = os.path.getsize(path) if os.path.isfile(path) else 0
    except OSError:
        size = 0
    return f"{path} already exists ({size:,} bytes)" if size else None


async def may_write(shell: "Shell", path: str, *, overwrite: bool) -> bool:
    """Whether PATH may be (re)written: empty or new, --overwrite given, or yes to the question the
    REPL asks. Otherwise False, after saying so (in a script: exit 2, it never asks)."""
    held = None if overwrite else occupied(path)
    if held is None:
        return True
    if shell.interactive and shell.ask_confirm is not None:
        if await shell.ask_confirm(f"{held}: replace it? [y/N] "):
            return True
        shell.note(f"{os.path.expanduser(path)} left as it was; nothing written")
        return False
    shell.usage_error(f"{held}: not replaced; add --overwrite to replace it, or pick another name")
    return False


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
