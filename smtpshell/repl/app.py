"""The interactive front end: prompt_toolkit around a :class:`Shell`.

Server output that arrives while the user types is printed above the prompt
(:class:`TerminalWriter`), so it never corrupts the line being edited. Ctrl-C
cancels the line being typed or the reply being waited for, never the
program; Ctrl-D at an empty prompt sends QUIT and leaves (inside DATA it
ends the message).
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input.typeahead import get_typeahead, store_typeahead
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.lexers import DynamicLexer, PygmentsLexer
from prompt_toolkit.output import ColorDepth
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.application.current import get_app, get_app_or_none
from prompt_toolkit.styles import DynamicStyle, Style, merge_styles, style_from_pygments_cls

from smtpshell.highlight.style import style_for
from smtpshell.repl.history import RedactingFileHistory
from smtpshell.settings import ExitStatus, Settings, history_path
from smtpshell.transcript import display
from smtpshell.shell.complete import suggestions
from smtpshell.shell.core import Shell
from smtpshell.shell.launch import session_target
from smtpshell.shell.output import StreamOutput
from smtpshell.shell.toolbar import toolbar

UI_STYLE = {
    "prompt": "ansiblue bold",
    "prompt.data": "ansicyan bold",
    "prompt.auth": "ansiyellow bold",
    "prompt.pipe": "ansimagenta bold",
    "bottom-toolbar": "noreverse bg:ansiblack ansiwhite",
    "toolbar.host": "bold",
    "toolbar.sep": "ansibrightblack",
    "toolbar.tls": "ansigreen",
    "toolbar.plain": "ansiyellow",
    "toolbar.closed": "ansired",
    "toolbar.user": "ansicyan",
    "toolbar.phase": "",
    "toolbar.latency": "ansibrightblack",
    "toolbar.rec": "ansired bold",
    "toolbar.syntax": "ansibrightcyan",
}


class TerminalWriter:
    """Writes the shell's output in order, above the prompt when one is showing.

    With no prompt on screen (connecting, waiting for a reply) text goes
    straight to the terminal; while the user is typing, ``run_in_terminal``
    hides the prompt, prints, and redraws it, so the line being edited is
    never corrupted. (patch_stdout's flush thread could print a reply after
    the next prompt was drawn.)
    """

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self._pending: list[str] = []

    def write(self, text: str) -> None:
        app = get_app_or_none()
        if app is None or not app.is_running:
            self.stream.write(text)
            return
        self._pending.append(text)
        if len(self._pending) == 1:
            run_in_terminal(self._drain)

    def _drain(self) -> None:
        text, self._pending = "".join(self._pending), []
        self.stream.write(text)
        self.stream.flush()

    def flush(self) -> None:
        if not self._pending:
            self.stream.flush()


class ShellCompleter(Completer):
    """Thin adapter over :func:`smtpshell.shell.complete.suggestions` (each replaces the last word)."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    def get_completions(self, document, complete_event):
        shell = self.shell
        if shell.awaiting_sasl:
            return  # an answer to a 334: a secret, nothing to suggest
        text = document.text_before_cursor
        session = shell.session
        word = text.rsplit(" ", 1)[-1]
        for item in suggestions(text, commands=shell.commands,
                                capabilities=session.capabilities if session else None,
                                in_data=shell.in_data, tls=bool(session and session.tls),
                                addresses=shell.addresses):
            yield Completion(item, start_position=-len(word), display_meta=item.meta or None)


def _lexers():
    """The input lexers: commands, and message content after 354."""
    from smtpshell.highlight.lexer import SmtpDataLexer, SmtpLexer

    return PygmentsLexer(SmtpLexer), PygmentsLexer(SmtpDataLexer)


def _key_bindings(shell: Shell) -> KeyBindings:
    kb = KeyBindings()

    @kb.add("tab", filter=Condition(
        lambda: shell.in_data and not get_app().current_buffer.text.lstrip().startswith(":")))
    def _tab_in_message(event) -> None:
        """At data> a Tab is part of the message (a folded header, a tab-separated line), not
        a request for completion; a colon command there still completes."""
        event.current_buffer.insert_text("\t")

    @kb.add("up", filter=Condition(lambda: shell.awaiting_sasl))
    @kb.add("down", filter=Condition(lambda: shell.awaiting_sasl))
    def _no_history_at_auth(event) -> None:
        """At auth> the line is hidden: a line recalled from history would be sent unseen."""

    return kb


@functools.lru_cache(maxsize=None)
def _prompt_style(name: str | None):
    return merge_styles([style_from_pygments_cls(style_for(name)), Style.from_dict(UI_STYLE)])


def build_prompt_session(shell: Shell, settings: Settings) -> PromptSession:
    if settings.history:
        history = RedactingFileHistory(
            str(history_path(settings.env)),
            skip=lambda: shell.in_data or shell.awaiting_sasl,
        )
    else:
        history = InMemoryHistory()
    command_lexer, data_lexer = _lexers()
    color_depth = None if settings.use_color(True) else ColorDepth.DEPTH_1_BIT
    return PromptSession(
        history=history,
        lexer=DynamicLexer(
            lambda: data_lexer if shell.in_data else None if shell.awaiting_sasl else command_lexer
        ),
        completer=ShellCompleter(shell),
        # Tab only, as in telnet-style typing: a menu popping over the replies at each word
        # is noise when SMTP is typed by hand; the toolbar shows the syntax as you type.
        complete_while_typing=False,
        key_bindings=_key_bindings(shell),
        style=DynamicStyle(lambda: _prompt_style(shell.style_name)),  # :set style recolours typing too
        include_default_pygments_style=False,  # only the chosen style's colours (bw stays black and white)
        bottom_toolbar=lambda: toolbar(shell, get_app().current_buffer.text),
        color_depth=color_depth,
        is_password=Condition(lambda: shell.awaiting_sasl),  # auth> answers are not shown
        enable_history_search=False,
        refresh_interval=0.5,
    )


def prompt_message(shell: Shell):
    name = shell.prompt_name()
    cls = {"smtp": "class:prompt", "data": "class:prompt.data", "auth": "class:prompt.auth",
           "pipe": "class:prompt.pipe", "chunk": "class:prompt.data"}.get(name, "class:prompt")
    if name == "chunk":
        return [(cls, f"chunk {shell.bdat_owed}> ")]
    return [(cls, f"{name}> ")]


class Interrupter:
    """Ctrl-C while the shell works (connecting, waiting for a reply, sending a file).

    The terminal stays raw and keys are read here, so Ctrl-C is a key, never a
    race with the terminal mode: it cancels the work. Other keys typed
    meanwhile are kept as typeahead for the next prompt. SIGINT (``kill -INT``)
    does the same.
    """

    def __init__(self, shell: Shell, terminal_input) -> None:
        self.shell = shell
        self.input = terminal_input
        self.task: asyncio.Future | None = None

    def __enter__(self) -> "Interrupter":
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._cancel)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Unix
            pass
        return self

    def __exit__(self, *exc) -> None:
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass

    def _cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _keys_ready(self) -> None:
        self._take_keys(self.input.read_keys())

    def _take_keys(self, presses) -> None:
        kept = []
        for press in presses:
            if press.key == Keys.ControlC:
                self._cancel()
                kept.clear()  # what was typed before Ctrl-C is cancelled with it
            else:
                kept.append(press)
        if kept:
            store_typeahead(self.input, kept)

    async def run(self, coro) -> None:
        """Run ``coro``; Ctrl-C cancels it and says so."""
        self.shell.cancel_explained = False
        self.task = task = asyncio.ensure_future(coro)
        # Keys the prompt read but did not use (typed right after Enter) count too,
        # after the task's first step: Enter sent the line before Ctrl-C was pressed.
        asyncio.get_running_loop().call_soon(self._take_keys, get_typeahead(self.input))
        try:
            with self.input.raw_mode(), self.input.attach(self._keys_ready):
                await task
        except asyncio.CancelledError:
            if task.cancelled() and not asyncio.current_task().cancelling():
                if not self.shell.cancel_explained:  # the work said what ^C did (a file cut short)
                    self.shell.note("^C: cancelled (a reply still on its way will be shown when it comes)")
            else:
                raise
        finally:
            self.task = None


def secret_asker(session: PromptSession):
    """Hidden input for :auth, on the same terminal; never stored in any history."""

    async def ask(message: str) -> str | None:
        asker = PromptSession(input=session.input, output=session.output, history=InMemoryHistory())
        try:
            return await asker.prompt_async(message, is_password=True, handle_sigint=False)
        except (KeyboardInterrupt, EOFError):
            return None

    return ask


async def run_repl(shell: Shell, target, settings: Settings) -> ExitStatus:
    session = build_prompt_session(shell, settings)
    shell.ask_secret = secret_asker(session)
    from smtpshell.repl.confirm import confirm_asker

    shell.ask_confirm = confirm_asker(session)  # :smuggle-check asks y/N
    if sys.stdout.isatty():
        from smtpshell.repl.progress import progress_factory

        shell.progress = progress_factory()  # for large message content (shell/transfer.py)
    with Interrupter(shell, session.input) as interrupter:
        await interrupter.run(shell.connect(target))
        while True:
            try:
                # handle_sigint=False: prompt_toolkit would remove the session's SIGINT handler.
                text = await session.prompt_async(lambda: prompt_message(shell), handle_sigint=False)
            except KeyboardInterrupt:
                continue  # Ctrl-C: the line is dropped, nothing is sent
            except EOFError:
                if shell.awaiting_sasl:  # Ctrl-D at auth>: cancel the exchange, as * does (RFC 4954)
                    shell.note("Ctrl-D: cancelling the AUTH exchange (*)")
                    await interrupter.run(shell.handle("*"))
                    continue
                if shell.in_data:
                    await interrupter.run(shell.end_data())
                    continue
                if shell.pipeline is not None:  # Ctrl-D at pipe> sends the group, as :end does
                    await interrupter.run(shell.handle(":end"))
                    continue
                await interrupter.run(shell.quit())
                break
            await interrupter.run(shell.handle(text))
            if shell.quitting:
                break
    return ExitStatus.OK


async def run_repl_main(settings: Settings) -> ExitStatus:
    output = StreamOutput(TerminalWriter(), color=settings.use_color(sys.stdout.isatty()), style=settings.style)
    async with session_target(settings, output) as (settings, target):
        shell = Shell(settings, output, interactive=True)
        shell.emit(display.hint_line("type SMTP as in telnet; :help for the shell's commands; Ctrl-D to quit"))
        try:
            return await run_repl(shell, target, settings)
        finally:
            await shell.close_quietly()
