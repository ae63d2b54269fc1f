"""The progress bar for large message content: prompt_toolkit's ProgressBar behind ``shell.progress``.

The bar runs its own small application in a thread. It reads no keys (Ctrl-C stays the
Interrupter's, in the main loop) and sends no cursor-position requests: their answers
would arrive on the input the Interrupter reads, as keys the next prompt would receive.
"""

from __future__ import annotations

import contextlib
import sys
import time

from prompt_toolkit.formatted_text import AnyFormattedText
from prompt_toolkit.input import DummyInput
from prompt_toolkit.layout.dimension import D
from prompt_toolkit.shortcuts.progress_bar import ProgressBar, formatters


REDRAW_EVERY = 0.1  # seconds


class _NoKeys(DummyInput):
    """An input that never has anything to read and never ends (DummyInput ends at once)."""

    @property
    def closed(self) -> bool:
        return False

    def attach(self, input_ready_callback):
        return contextlib.nullcontext()

    def detach(self):
        return contextlib.nullcontext()


def _megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f}"


class Bytes(formatters.Formatter):
    """``12.3/105.6 MB``"""

    def format(self, progress_bar, progress, width: int) -> AnyFormattedText:
        total = progress.total or 0
        return f"{_megabytes(progress.items_completed):>{len(_megabytes(total))}}/{_megabytes(total)} MB"

    def get_width(self, progress_bar):
        widest = max((len(_megabytes(c.total or 0)) for c in progress_bar.counters), default=3)
        return D.exact(widest * 2 + 4)


class Rate(formatters.Formatter):
    """``95 MB/s``"""

    def format(self, progress_bar, progress, width: int) -> AnyFormattedText:
        seconds = progress.time_elapsed.total_seconds()
        rate = progress.items_completed / 1e6 / seconds if seconds > 0 else 0.0
        return f"{rate:>5.0f} MB/s"

    def get_width(self, progress_bar):
        return D.exact(10)


def _formatters() -> list[formatters.Formatter]:
    return [
        formatters.Label(suffix=": "),
        formatters.Percentage(),
        formatters.Text(" "),
        formatters.Bar(sym_a="=", sym_b=">", sym_c=" "),
        formatters.Text(" "),
        Bytes(),
        formatters.Text("  "),
        Rate(),
        formatters.Text("  eta ", style="class:time-left"),
        formatters.TimeLeft(),
    ]


def progress_factory(stream=None):
    """``progress(label, total)`` for ``Shell.progress``: a context manager yielding update(done)."""
    stream = stream or sys.stdout

    @contextlib.contextmanager
    def progress(label: str, total: int):
        from prompt_toolkit.output import create_output

        output = create_output(stdout=stream)
        output.enable_cpr = False
        with ProgressBar(formatters=_formatters(), input=_NoKeys(), output=output) as bar:
            counter = bar(label=label, total=total)
            next_draw = 0.0

            def update(done: int) -> None:
                nonlocal next_draw
                counter.items_completed = done
                now = time.monotonic()
                if now >= next_draw:  # a redraw asked at most 10 times a second: the bar's thread
                    next_draw = now + REDRAW_EVERY  # competes with the transfer for the GIL
                    bar.invalidate()

            try:
                yield update
            finally:
                counter.stopped = True
                bar.invalidate()

    return progress
