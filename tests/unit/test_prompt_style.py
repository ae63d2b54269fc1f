"""The REPL's input is coloured with the shell's style, and :set style changes it too."""

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from smtpshell.repl.app import build_prompt_session
from smtpshell.settings import Settings
from smtpshell.shell.core import Shell
from tests.support.capture import Capture


def test_set_style_recolours_what_is_typed(tmp_path):
    settings = Settings(env={"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}, history=False)
    shell = Shell(settings, Capture(), interactive=True)
    with create_pipe_input() as pipe:
        session = build_prompt_session(shell, settings)
        session.app.input, session.app.output = pipe, DummyOutput()
        verb = "class:pygments.keyword.smtp.verb"
        default = session.app.style.get_attrs_for_style_str(verb)
        shell.style_name = "monokai"  # what :set style monokai does
        monokai = session.app.style.get_attrs_for_style_str(verb)
        shell.style_name = "bw"
        bw = session.app.style.get_attrs_for_style_str(verb)
        merged = session.app._merged_style.get_attrs_for_style_str(verb)  # what the screen gets
    assert default.color != monokai.color
    assert monokai.color == "66d9ef"  # monokai's keyword colour
    assert bw.bold and not bw.color and not merged.color  # bw: bold, no colour from anywhere
