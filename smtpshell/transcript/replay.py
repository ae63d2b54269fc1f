"""Offline replay: a transcript shown as the shell would have shown it.

Every event goes through :class:`~smtpshell.transcript.render.Renderer` (the
shell's own display functions: colours, decoded 334 challenges, status code
meanings, EHLO keyword hints) and out as ANSI text, either

- at the recorded pace, scaled by ``speed`` (sleeping is the point here; a
  pause longer than ``max_pause`` recorded seconds is shortened to it);
- at once (``instant``);
- or one exchange per key press (``step``, for class): an exchange is a
  client line (or a pipelined group, or a whole message) and its replies.
  ``q`` (or end of input) stops.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from smtpshell.highlight import tokens as tok
from smtpshell.highlight.ansi import AnsiRenderer
from smtpshell.highlight.style import style_for
from smtpshell.transcript.display import View
from smtpshell.transcript.events import ClientLine, ServerReply, Transcript
from smtpshell.transcript.render import Renderer, timeline

QUIT_KEYS = ("q", "Q", "\x03", "\x04", "")  # q, Ctrl-C, Ctrl-D, end of input


def steps(events) -> list[list[int]]:
    """Event indexes grouped into exchanges: a new one starts at a client line after a reply."""
    groups: list[list[int]] = []
    current: list[int] = []
    answered = False
    for index, event in enumerate(events):
        if isinstance(event, ClientLine) and answered:
            groups.append(current)
            current, answered = [], False
        current.append(index)
        if isinstance(event, ServerReply):
            answered = True
    if current:
        groups.append(current)
    return groups


def _read_line_key() -> str:
    line = sys.stdin.readline()
    if not line:
        return ""
    return line.strip()[:1] or "\n"


# Written at once when buffered (--instant into a file or a pipe): characters.
_BUFFER_CHARS = 1 << 16


class _Screen:
    """Where the lines go. Each event is flushed as it comes (a person is watching the pace),
    unless ``buffered``: then in large writes, the last one by :meth:`close`."""

    def __init__(self, stream: TextIO, renderer: AnsiRenderer, *, buffered: bool = False) -> None:
        self.stream = stream
        self.renderer = renderer
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.buffered = buffered and not self.tty
        self._pending: list[str] = []
        self._size = 0

    def show(self, lines) -> bool:
        if not lines:
            return True
        text = self.renderer.lines(lines)
        if self.buffered:
            self._pending.append(text)
            self._size += len(text)
            return self._size < _BUFFER_CHARS or self.close()
        return self._write(text)

    def close(self) -> bool:
        """Write what is buffered; False when the reader went away."""
        text, self._pending, self._size = "".join(self._pending), [], 0
        return self._write(text) if text else True

    def _write(self, text: str) -> bool:
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            return False
        return True

    def prompt(self, text: str) -> None:
        if self.tty:
            self.stream.write(self.renderer.line([(tok.HINT, text)]))
            self.stream.flush()

    def unprompt(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def replay_offline(
    transcript: Transcript,
    out_stream: TextIO,
    *,
    color: bool,
    style=None,
    view: View = View(),
    speed: float = 1.0,
    instant: bool = False,
    step: bool = False,
    read_key: Callable[[], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_pause: float | None = 5.0,
) -> bool:
    """Show the transcript; True when it was shown to the end (False: ``q``, or the reader went away)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    style_cls = style_for(style) if isinstance(style, (str, type(None))) else style
    screen = _Screen(out_stream, AnsiRenderer(style_cls, color=color), buffered=instant and not step)
    renderer = Renderer(view)
    events = transcript.events
    if step:
        read_key = read_key or _read_line_key
        groups = steps(events)
        for number, group in enumerate(groups):
            if number:
                screen.prompt(f"  [{number}/{len(groups) - 1}] any key: next, q: quit ")
                key = read_key()
                screen.unprompt()
                if key in QUIT_KEYS:
                    return False
            for index in group:
                if not screen.show(renderer.lines(events[index])):
                    return False
        return True
    if instant:
        show, lines = screen.show, renderer.lines
        try:
            for event in events:
                if not show(lines(event)):
                    return False
        except BaseException:
            screen.close()  # what was shown before Ctrl-C (or a bug) still gets out
            raise
        return screen.close()
    times = timeline(events)
    previous = times[0] if times else 0.0
    for event, t in zip(events, times):
        gap = t - previous
        if max_pause is not None:
            gap = min(gap, max_pause)
        if gap > 0:
            sleep(gap / speed)
        previous = t
        if not screen.show(renderer.lines(event)):
            return False
    return True
