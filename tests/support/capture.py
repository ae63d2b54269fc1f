"""An Output for the shell that keeps what it printed, for tests to read."""


class Capture:
    """The lines the shell emitted, as fragments (``lines``) and as plain text (``text``)."""

    def __init__(self):
        self.lines = []

    def emit(self, lines):
        self.lines.extend(lines)

    @property
    def text(self) -> str:
        return self.since(0)

    def since(self, mark: int) -> str:
        """The plain text of the lines after the first ``mark`` (``mark = len(capture.lines)`` earlier)."""
        return "\n".join("".join(t for _, t in line) for line in self.lines[mark:])
