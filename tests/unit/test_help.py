""":help's content is data: every colon command has a summary, an example and its options; --help covers every option."""

import argparse
import re
import re
import subprocess
import sys

import pytest

from smtpshell.cli import build_parser
from smtpshell.shell.commands import build_registry

REGISTRY = build_registry()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_command_has_a_summary_and_an_example_that_uses_it(name):
    spec = REGISTRY[name]
    assert spec.summary and spec.summary[0].isupper(), name
    assert spec.example, f":{name} has no example"
    assert f":{name}" in spec.example, f":{name}'s example does not show the command"
    assert spec.syntax.startswith(f":{name}")


def test_options_are_what_the_handlers_accept():
    """The options :help lists (and Tab completes) are exactly the ones :send and :bdat parse."""
    from smtpshell.shell.send import OPTIONS

    assert set(REGISTRY["send"].options) == {option for option, *_ in OPTIONS}
    assert REGISTRY["bdat"].options == ("--last", "--chunk-size", "--crlf", "--text")
    assert REGISTRY["record"].options == REGISTRY["save"].options == ("--overwrite",)
    assert REGISTRY["auth"].options == ("--initial", "--no-initial", "--authzid")
    assert REGISTRY["smuggle-check"].options == ("--from", "--to", "--variants", "--yes")
    assert REGISTRY["mx"].options == ("--tls", "--list")
    assert REGISTRY["quit"].options == ()


def _names(option: str, text: str) -> bool:
    """Whether TEXT names OPTION as a whole word: "--tls" is not named by "--tls-min" alone."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        for option in action.option_strings:
            yield option, action


def test_every_command_line_option_has_help_text_shown_by_help():
    parser = build_parser()
    shown = subprocess.run([sys.executable, "-m", "smtpshell", "--help"], capture_output=True, text=True,
                           env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=True).stdout
    missing = []
    for option, action in _options(parser):
        if action.help in (None, "", argparse.SUPPRESS):
            missing.append(f"{option}: no help text")
        elif not _names(option, shown):
            missing.append(f"{option}: not in --help")
    assert not missing, missing


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if s.options])
def test_every_option_a_command_takes_is_explained_in_its_help(name):
    spec = REGISTRY[name]
    text = f"{spec.syntax}\n{spec.help}"
    assert [o for o in spec.options if not _names(o, text)] == []


@pytest.mark.parametrize("command", ["serve", "replay", "convert", "explain"])
def test_every_subcommand_option_is_explained_in_its_help(command):
    """`smtpshell SUB --help`: each option listed has a description (on its line or the next)."""
    shown = subprocess.run([sys.executable, "-m", "smtpshell", command, "--help"], capture_output=True, text=True,
                           env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, check=True).stdout.splitlines()
    option = re.compile(r"  -\S+( \S+)?(, -\S+( \S+)?)*(  +\S.*)?")  # not a group's prose that starts "--x …"
    entries = [(i, line) for i, line in enumerate(shown) if option.fullmatch(line)]
    assert entries, f"no options in smtpshell {command} --help"
    unexplained = []
    for i, line in entries:
        same_line = len(line.strip().split("  ", 1)) == 2  # "--speed X             X times …"
        next_line = i + 1 < len(shown) and shown[i + 1].startswith(" " * 10) and shown[i + 1].strip()
        if not (same_line or next_line):
            unexplained.append(line.strip())
    assert unexplained == []
