"""Where the shell's lines go: a text stream, with or without colour."""

from __future__ import annotations

from typing import TextIO

from smtpshell.highlight.ansi import AnsiRenderer
from smtpshell.highlight.style import style_for


class StreamOutput:
    """Renders lines to a text stream (stdout in scripts, the patched stdout in the REPL)."""

    def __init__(self, stream: TextIO, *, color: bool, style: str | None = None) -> None:
        self.stream = stream
        self.renderer = AnsiRenderer(style_for(style), color=color)

    def set_style(self, name: str) -> None:
        self.renderer = AnsiRenderer(style_for(name), color=self.renderer.color)

    def emit(self, lines) -> None:
        try:
            self.stream.write(self.renderer.lines(lines))
            self.stream.flush()
        except BrokenPipeError:
            pass  # the reader went away (| head); nothing more to show
