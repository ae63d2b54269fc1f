"""A y/N question on the REPL's terminal (``:smuggle-check`` asks before it starts)."""

from __future__ import annotations

from prompt_toolkit import PromptSession
from prompt_toolkit.history import InMemoryHistory


def confirm_asker(session: PromptSession):
    """``ask(message) -> bool``: True only for y or yes; Ctrl-C, Ctrl-D or Enter mean no."""

    async def ask(message: str) -> bool:
        asker = PromptSession(input=session.input, output=session.output, history=InMemoryHistory())
        try:
            answer = await asker.prompt_async(message, handle_sigint=False)
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    return ask
