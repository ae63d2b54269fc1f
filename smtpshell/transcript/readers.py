"""Read a transcript in any notation people keep SMTP sessions in.

``read(text)`` detects the notation (``notation=`` overrides it) and returns a
:class:`~smtpshell.transcript.events.Transcript`, or raises
:class:`~smtpshell.transcript.events.TranscriptError` with a one-line reason --
never anything else, whatever the text (a property test holds it to that).

Notations (``NOTATIONS``):

- ``jsonl`` -- smtpshell's own recordings (see :mod:`~smtpshell.transcript.jsonl`).
- ``text`` -- bare telnet-style text: a line starting with a three-digit code
  (then a space, ``-`` or the end of the line) is the server, any other the
  client. Terminal chatter (``Trying …``, ``Connected to …``, ``Escape
  character …``, ``Connection closed …``, a shell prompt running telnet) and
  prose around the session are left out. Also the shell's own output
  (``* note``, ``! error``, hints).
- ``sc`` -- ``S:`` server / ``C:`` client (RFC 5321).
- ``rfc821`` -- ``R:`` server / ``S:`` client (RFC 821), classified by content.
- ``swaks`` -- ``<-`` ``->`` (``<~`` ``~>`` under TLS, ``<**`` an error
  reply), ``===`` notes, ``***`` errors.
- ``exim`` -- ``SMTP<<`` / ``SMTP>>`` (``SMTP|>`` pipelined).
- ``sendmail`` -- ``>>>`` client, bare (or ``<<<``) server lines.

A ``[   1.234] `` timestamp in front of lines (the shell's ``--timestamps``)
gives events their times; otherwise ``t`` is ``None``.

Credentials (AUTH's initial response, answers to 334) come out masked as the
shell records them, unless ``show_secrets=True``.
"""

from __future__ import annotations

import itertools
import re

from smtpshell.transcript.assemble import Assembler
from smtpshell.transcript.events import (
    ClientLine,
    Header,
    ServerReply,
    Transcript,
    TranscriptError,
    from_surrogates,
)
from smtpshell.transcript.jsonl import looks_like_jsonl, transcript_from_jsonl
from smtpshell.transcript.notations import FEEDERS, detect

NOTATIONS = ("jsonl", "text", "sc", "rfc821", "swaks", "exim", "sendmail")

_TIMESTAMP = re.compile(r"\[ *([0-9]{1,9}\.[0-9]{3})\] ")
_LINE_TIMESTAMP = re.compile(r"\n\[ *[0-9]{1,9}\.[0-9]{3}\] ")  # at the start of a line after the first
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


def split_lines(text: str) -> list[str]:
    """Lines at LF (a CR before it dropped); not ``str.splitlines``, which also splits at FF, VT, U+2028…"""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _stamped(lines: list[str], text: str | None = None) -> tuple[list[tuple[float | None, str]], bool]:
    """``(t, line)`` pairs; ``text``: the text the lines were split from, to look for a timestamp
    in one scan."""
    if text is not None:
        stamped = _TIMESTAMP.match(text) is not None or _LINE_TIMESTAMP.search(text) is not None
    else:
        stamped = any(_TIMESTAMP.match(line) for line in lines)
    if not stamped:
        return list(zip(itertools.repeat(None), lines)), False
    out = []
    for line in lines:
        m = _TIMESTAMP.match(line)
        out.append((float(m.group(1)), line[m.end():]) if m else (None, line))
    return out, True


def _greeting_host(events) -> str | None:
    for event in events:
        if isinstance(event, ServerReply):
            if event.code == 220 and event.lines:
                words = event.lines[0][4:].split()
                if words and _HOSTNAME.fullmatch(words[0]) and ("." in words[0] or words[0] == "localhost"):
                    return words[0]
            return None
    return None


def read(text: str, *, notation: str | None = None, show_secrets: bool = False) -> Transcript:
    """A transcript from text in any known notation. Raises TranscriptError.

    Client lines that carry credentials (AUTH's initial response, the answers to 334) are
    masked as the shell records them (:mod:`~smtpshell.transcript.credentials`), unless
    ``show_secrets``."""
    transcript = _read(text, notation=notation)
    if show_secrets:
        return transcript
    from smtpshell.transcript.credentials import mask_transcript

    return mask_transcript(transcript)


def _read(text: str, *, notation: str | None) -> Transcript:
    if notation is not None and notation not in NOTATIONS:
        raise TranscriptError(f"unknown notation {notation!r} (known: {', '.join(NOTATIONS)})")
    if not isinstance(text, str):
        raise TranscriptError("not text")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise TranscriptError("empty: there is no session in it")
    if notation == "jsonl" or (notation is None and looks_like_jsonl(text)):
        return transcript_from_jsonl(text)
    texts = split_lines(text)
    lines, stamped = _stamped(texts, text)
    name = notation or detect(lines, None if stamped else texts)
    asm = Assembler(strip_latency=stamped)
    info = FEEDERS[name](lines, asm)
    events = asm.finish()
    if not any(isinstance(e, (ClientLine, ServerReply)) for e in events):
        if name == "text":
            raise TranscriptError("no SMTP session found: no line starts with a reply code such as 220")
        raise TranscriptError(f"no SMTP lines found in {name} notation")
    host = info.get("host") or _greeting_host(events)
    header = Header(host=from_surrogates(host)[0] if host else None, port=info.get("port"))
    return Transcript(header=header, events=events, notation=name)


def read_bytes(data: bytes, *, notation: str | None = None, show_secrets: bool = False) -> Transcript:
    """As :func:`read`, from bytes (UTF-8; other bytes kept exactly, as ``raw``)."""
    return read(data.decode("utf-8", "surrogateescape"), notation=notation, show_secrets=show_secrets)
