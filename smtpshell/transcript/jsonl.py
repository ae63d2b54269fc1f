"""The native transcript format, JSON Lines, and the recorder that writes it.

Format (see PRODUCT.md, "Transcripts"): UTF-8, one JSON object per line.

- First line: ``{"smtpshell": 1, "host": ..., "port": ..., "started": ISO-8601, "version": ...}``
- Then one event per line, with ``"t"`` (seconds since the recording started;
  ``null`` when the notation it came from had no timing) and ``"dir"``:

  - ``"client"``: ``"line"``; ``"data": true`` for message content;
    ``"raw"`` (base64 of the exact bytes) when they were not plain text +
    CRLF; ``"secret": true`` when ``line`` is masked.
  - ``"server"``: ``"code"`` (int or null) and ``"lines"``; ``"raw"`` as above.
  - ``"info"`` / ``"tls"`` / ``"error"``: ``"text"``.

Writing is canonical (fixed key order, ``repr`` floats), so a file this
module wrote reads back and writes out byte for byte the same. A last line
cut short (the recording process was killed mid-write) is tolerated.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
from json.encoder import encode_basestring as _encode_string  # what json.dumps(ensure_ascii=False) uses
import math
import os
from typing import Callable, Iterable

from smtpshell.transcript.events import (
    NOTE_KINDS,
    ClientLine,
    Event,
    Header,
    Note,
    ServerReply,
    Transcript,
    TranscriptError,
    from_surrogates,
)

FORMAT_VERSION = 1


# ----- encoding ------------------------------------------------------------


def _dumps(obj: dict) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere: escape it
        text = json.dumps(obj)
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_header(header: Header) -> str:
    return _dumps({
        "smtpshell": FORMAT_VERSION,
        "host": header.host,
        "port": header.port,
        "started": header.started,
        "version": header.version,
    })


def _fast_content_line(event: ClientLine) -> str | None:
    """A plain message-content line, formatted directly (the same bytes ``json.dumps`` gives):
    a 100 MB message is 1.5 million of them. None when the general path is needed."""
    if event.raw is not None or event.secret or not event.data:
        return None
    t = event.t
    if t is None:
        stamp = "null"
    elif isinstance(t, float) and math.isfinite(t):
        stamp = float.__repr__(t)
    else:
        return None
    text = f'{{"t": {stamp}, "dir": "client", "line": {_encode_string(event.line)}, "data": true}}'
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the general path escapes it
        return None
    return text


def encode_event(event: Event) -> str:
    """One event as one JSON line (without the newline)."""
    if isinstance(event, ClientLine) and (fast := _fast_content_line(event)) is not None:
        return fast
    t = None if event.t is None else float(event.t)
    if isinstance(event, ClientLine):
        obj: dict = {"t": t, "dir": "client", "line": event.line}
        if event.data:
            obj["data"] = True
        if event.raw is not None:
            obj["raw"] = _b64(event.raw)
        if event.secret:
            obj["secret"] = True
    elif isinstance(event, ServerReply):
        obj = {"t": t, "dir": "server", "code": event.code, "lines": list(event.lines)}
        if event.raw is not None:
            obj["raw"] = _b64(event.raw)
    elif isinstance(event, Note):
        obj = {"t": t, "dir": event.kind, "text": event.text}
    else:
        raise TypeError(f"not a transcript event: {event!r}")
    return _dumps(obj)


def write_jsonl(events: Transcript | Iterable[Header | Event]) -> str:
    """A whole transcript as JSON Lines (a header first; an empty one when none is given)."""
    if isinstance(events, Transcript):
        items: list = [events.header, *events.events]
    else:
        items = list(events)
    if not items or not isinstance(items[0], Header):
        items.insert(0, Header())
    out = [encode_header(items[0])]
    out.extend(encode_event(event) for event in items[1:])
    return "".join(line + "\n" for line in out)


# ----- decoding ------------------------------------------------------------


def _need(obj: dict, key: str, types, where: str, *, optional: bool = False, nullable: bool = False):
    if key not in obj:
        if optional:
            return None
        raise TranscriptError(f"{where}: no {key!r}")
    value = obj[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        raise TranscriptError(f"{where}: {key!r} is {value!r}")
    if isinstance(value, str):
        value = from_surrogates(value)[0]  # a lone surrogate (not from us): as \\xHH text
    return value


def _raw(obj: dict, where: str) -> bytes | None:
    value = _need(obj, "raw", (str,), where, optional=True, nullable=True)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TranscriptError(f"{where}: 'raw' is not base64") from None


def decode_header(obj: dict, where: str = "line 1") -> Header:
    version = obj.get("smtpshell")
    if not isinstance(version, int) or isinstance(version, bool):
        raise TranscriptError(f"{where}: not an smtpshell transcript header")
    if version != FORMAT_VERSION:
        raise TranscriptError(f"{where}: transcript format {version}; this smtpshell reads format {FORMAT_VERSION}")
    port = _need(obj, "port", (int,), where, optional=True, nullable=True)
    return Header(
        host=_need(obj, "host", (str,), where, optional=True, nullable=True),
        port=port,
        started=_need(obj, "started", (str,), where, optional=True, nullable=True),
        version=_need(obj, "version", (str,), where, optional=True, nullable=True),
    )


def decode_event(obj: dict, where: str) -> Event:
    t = _need(obj, "t", (int, float), where, nullable=True)
    t = None if t is None else float(t)
    if t is not None and not math.isfinite(t):
        raise TranscriptError(f"{where}: 't' is {t!r}")
    direction = _need(obj, "dir", (str,), where)
    if direction == "client":
        return ClientLine(
            t=t,
            line=_need(obj, "line", (str,), where),
            raw=_raw(obj, where),
            secret=bool(_need(obj, "secret", (bool,), where, optional=True)),
            data=bool(_need(obj, "data", (bool,), where, optional=True)),
        )
    if direction == "server":
        lines = _need(obj, "lines", (list,), where)
        if not all(isinstance(line, str) for line in lines):
            raise TranscriptError(f"{where}: 'lines' must be strings")
        return ServerReply(
            t=t,
            code=_need(obj, "code", (int,), where, nullable=True),
            lines=tuple(from_surrogates(line)[0] for line in lines),
            raw=_raw(obj, where),
        )
    if direction in NOTE_KINDS:
        return Note(t=t, kind=direction, text=_need(obj, "text", (str,), where))
    raise TranscriptError(f"{where}: unknown 'dir' {direction!r} (client, server, info, tls, error)")


def looks_like_jsonl(text: str) -> bool:
    """Does the first non-blank line look like our header?"""
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    return first.startswith("{") and '"smtpshell"' in first


def read_jsonl(text: str) -> list[Header | Event]:
    """Header first, then the events. Raises TranscriptError (with the line number)."""
    lines = text.lstrip("\ufeff").split("\n")
    out: list = []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"line {index + 1}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            if index == last and not text.endswith("\n") and out:
                break  # cut short by a crash: the rest is lost, the file is still good
            raise TranscriptError(f"{where}: not JSON") from None
        if not isinstance(obj, dict):
            raise TranscriptError(f"{where}: not a JSON object")
        out.append(decode_header(obj, where) if not out else decode_event(obj, where))
    if not out:
        raise TranscriptError("empty: no smtpshell header")
    return out


def save_jsonl(path: str | os.PathLike, transcript: Transcript | Iterable[Header | Event]) -> None:
    """Write a whole transcript to ``path`` at once (``:save``). Raises RecordingError."""
    data = write_jsonl(transcript).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise RecordingError(f"cannot save to {os.fspath(path)}: {exc.strerror or exc}") from None


def transcript_from_jsonl(text: str) -> Transcript:
    header, *events = read_jsonl(text)
    return Transcript(header=header, events=tuple(events), notation="jsonl")


# ----- recording -----------------------------------------------------------


class RecordingError(Exception):
    """The recording cannot go on (or start); the message names the file and the reason."""


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


class Recorder:
    """Writes a session as it happens: an observer for the net layer's events.

    The header is written at once; each event is written with one
    ``os.write`` as soon as it happens, so a killed process leaves a valid
    file. A write error (disk full) closes the file and raises
    :class:`RecordingError` once (or calls ``on_error``); later events are
    ignored, and the session can go on.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        host: str | None,
        port: int | None,
        show_secrets: bool = False,
        started: str | None = None,
        on_error: Callable[[RecordingError], None] | None = None,
    ) -> None:
        from smtpshell import __version__
        from smtpshell.transcript.capture import Capture

        self.path = os.fspath(path)
        self.on_error = on_error
        self.error: RecordingError | None = None
        self.capture = Capture(show_secrets=show_secrets)
        self.header = Header(host=host, port=port, started=started or now_iso(), version=__version__)
        try:
            # Owner-only: even masked transcripts hold addresses (and --show-secrets, passwords).
            self._fd: int | None = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600
            )
        except OSError as exc:
            raise RecordingError(f"cannot record to {self.path}: {exc.strerror or exc}") from None
        self._write(encode_header(self.header) + "\n")

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __call__(self, event) -> None:
        """Observe one :data:`smtpshell.net.connection.NetEvent`."""
        if self._fd is None:
            return
        events = self.capture(event)
        if events:
            self._write("".join(encode_event(e) + "\n" for e in events))

    def write_event(self, event: Event) -> None:
        """Write one transcript event directly (already made)."""
        if self._fd is not None:
            self._write(encode_event(event) + "\n")

    def _write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except OSError as exc:
            self._close_fd()
            self.error = RecordingError(f"recording to {self.path} stopped: {exc.strerror or exc}")
            if self.on_error is not None:
                self.on_error(self.error)
                return
            raise self.error from None

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self._close_fd()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
