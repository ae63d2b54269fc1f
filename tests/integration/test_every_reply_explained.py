"""Issue 5's promise, checked: against the practice server in every mode, every reply a student
meets carries an explanation (a ↳ line, or the inline hints of an EHLO reply). The same sweep
against Postfix and Exim is in tests/interop/test_scenarios.py."""

import pytest

from smtpshell.server.modes import MODE_NAMES, Modes
from smtpshell.server.practice import PracticeServer
from smtpshell.settings import ExitStatus
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.support.explained import SWEEP, unexplained
from tests.support.script import lines

def sweep_text(*rows: str) -> str:
    return "\n".join(rows)


def test_the_check_itself_finds_a_reply_without_a_hint():
    assert unexplained(sweep_text("250 ok", "    ↳ fine", "250-x", "250 SIZE 1  ↳ max", "550 no")) == ["550 no"]


@pytest.mark.parametrize("mode", ["none", *MODE_NAMES])
async def test_every_reply_in_a_lesson_is_explained(mode, make_shell, tmp_path):
    modes = Modes(names=frozenset() if mode == "none" else frozenset({mode}), tarpit_delay=0.01, seed=7, flaky_rate=0.05,
                  greylist_delay=60)
    async with PracticeServer(maildir=tmp_path / "mail", modes=modes) as server:
        shell, out = make_shell(cafile=str(server.cafile), env={})
        assert await shell.connect(Target(host=server.host, port=server.port))
        status = await run_script(shell, lines(*SWEEP))
    assert status in (ExitStatus.REFUSED, ExitStatus.CONNECTION), out.text  # the sweep types wrong things
    text = out.text
    assert text.count("\n") > 20, text  # the lesson ran (flaky may end it early, after a 421)
    assert unexplained(text) == [], text
