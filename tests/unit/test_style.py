"""``--style NAME``: the chosen pygments style drives the colours, everywhere the style is used --
the shell's output (scripts, the REPL, ``replay``), ``convert --to html`` and ``pygmentize -l smtp``."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygments import highlight
from pygments.formatters import Terminal256Formatter, TerminalTrueColorFormatter

from smtpshell.cli_transcripts import replay_main
from smtpshell.highlight.lexer import SmtpLexer
from smtpshell.highlight.style import style_for
from smtpshell.shell.output import StreamOutput
from smtpshell.transcript import display
from smtpshell.transcript.readers import read
from smtpshell.transcript.writers import write

SAMPLE = Path(__file__).parent / "samples" / "telnet-auth.smtp"
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def replayed(*options: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = replay_main([str(SAMPLE), "--instant", "--color", "always", *options],
                         stdout=out, stderr=err, stdin=io.StringIO(), env={})
    assert status == 0, err.getvalue()
    return out.getvalue()


def code_sgr(out: str, code: str) -> str:
    """The escape sequence in front of the first reply line with this code."""
    m = re.search(rf"^\x1b\[([0-9;]*)m{code}\x1b\[0m", out, re.M)
    assert m, f"no coloured {code} in {out!r}"
    return m.group(1)


def truecolor(hex_color: str) -> str:
    return "38;2;" + ";".join(str(int(hex_color[i:i + 2], 16)) for i in (0, 2, 4))


def test_without_a_style_the_shells_own_ansi_colours():
    out = replayed()
    assert code_sgr(out, "220") == "1;32"  # 2xx bold green
    assert code_sgr(out, "334") == "1;36"  # 3xx bold cyan
    assert code_sgr(out, "554") == "1;31"  # 5xx bold red


def test_bw_is_black_and_white():
    out = replayed("--style", "bw")
    params = {p for sgr in SGR.findall(out) for p in sgr.split(";") if p}
    assert params <= {"0", "1", "3", "4"}, params  # bold, italic, underline, reset: no colour at all
    assert code_sgr(out, "250") == "1"  # the codes still stand out


def test_monokai_is_monokai():
    out = replayed("--style", "monokai")
    assert code_sgr(out, "250") == "1;" + truecolor("a6e22e")  # monokai's green (Generic.Inserted)
    assert code_sgr(out, "334") == "1;" + truecolor("ae81ff")  # monokai's purple (Number)
    assert code_sgr(out, "554") == "1;" + truecolor("ff4689")  # monokai's red (Generic.Deleted)
    assert "\x1b[1;32m" not in out and "\x1b[1;31m" not in out  # none of the shell's own palette


def test_another_style_gives_other_colours():
    assert replayed("--style", "solarized-dark") != replayed("--style", "monokai")
    assert code_sgr(replayed("--style", "solarized-dark"), "250") == "1;" + truecolor("859900")


@pytest.mark.parametrize(
    "name", ["default", "monokai", "solarized-dark", "solarized-light", "friendly", "native",
             "nord", "one-dark", "dracula", "github-dark", "gruvbox-dark", "vim", "tango"])
def test_reply_classes_client_lines_and_notes_stay_apart(name):
    from smtpshell.highlight import tokens as t

    style = style_for(name)

    def color(token):
        return (style.style_for_token(token)["color"] or "").lower()

    seen = [color(t.CODE_BY_CLASS[cls]) for cls in (2, 3, 4, 5)] + [color(t.VERB), color(t.NOTE)]
    assert "" not in seen and len(set(seen)) == len(seen), seen
    for cls in (2, 3, 4, 5):
        assert color(t.REPLY_TEXT_BY_CLASS[cls]) == color(t.CODE_BY_CLASS[cls])


def test_set_style_in_the_shell_restyles_what_follows():
    stream = io.StringIO()
    output = StreamOutput(stream, color=True)
    reply = [[(display.tok.CODE_BY_CLASS[2], "250"), (display.tok.PLAIN, " ok")]]
    output.emit(reply)
    output.set_style("monokai")
    output.emit(reply)
    output.set_style("bw")
    output.emit(reply)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("\x1b[1;32m250")
    assert lines[1].startswith(f"\x1b[1;{truecolor('a6e22e')}m250")
    assert lines[2].startswith("\x1b[1m250")


def test_html_takes_the_styles_colours():
    transcript = read(SAMPLE.read_text(encoding="utf-8"))
    page = write(transcript, "html", style="monokai")
    assert "color:#a6e22e" in page and "color:#ff4689" in page
    assert "color:#4ec960" not in page  # the shell's own green (ansigreen in html)
    bw = write(transcript, "html", style="bw")
    rules = re.findall(r"^\.s\d+\{([^}]*)\}$", bw, re.M)
    assert rules and not any("color" in rule for rule in rules), rules  # bold and italic only


def test_pygmentize_gives_each_reply_class_the_styles_own_colour():
    text = SAMPLE.read_text(encoding="utf-8")
    out = highlight(text, SmtpLexer(), TerminalTrueColorFormatter(style="monokai"))
    assert f"\x1b[{truecolor('a6e22e')}m250" in out  # Generic.Inserted
    assert f"\x1b[{truecolor('ff4689')}m554" in out  # Generic.Deleted
    coloured = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "smtp", "-f", "terminal256", "-O", "style=monokai", str(SAMPLE)],
        capture_output=True, check=True, text=True, timeout=60).stdout
    assert coloured == highlight(text, SmtpLexer(), Terminal256Formatter(style="monokai"))
    first = {code: re.search(rf"(\x1b\[[0-9;]*m)+{code}", coloured).group(0) for code in ("250", "334", "554")}
    assert len(set(first.values())) == 3, first
