"""The real REPL in a pseudo-terminal (pexpect), for end-to-end and interop tests."""

import os
import sys

import pexpect


class Terminal:
    """The real REPL in a pseudo-terminal. Every wait is an expect on the screen's bytes."""

    def __init__(self, args, tmp_path, *, answer_cpr=False, timeout=15):
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update({
            "TERM": "xterm-256color",
            "HOME": str(tmp_path),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "PYTHONUNBUFFERED": "1",
        })
        self.answer_cpr = answer_cpr
        if not answer_cpr:
            # Nobody answers prompt_toolkit's cursor-position request (a real terminal
            # does, at once); without this each prompt waits for it before leaving raw mode.
            env["PROMPT_TOOLKIT_NO_CPR"] = "1"
        self.log = open(tmp_path / "pty.log", "wb")
        self.child = pexpect.spawn(
            sys.executable, ["-m", "smtpshell", *args], env=env, dimensions=(40, 140),
            timeout=timeout,
        )
        self.child.logfile_read = self.log  # the screen only: what the program wrote, not what was typed

    def expect(self, pattern):
        return self.child.expect(pattern)

    def expect_exact(self, text):
        return self.child.expect_exact(text)

    def reply(self, code):
        """Wait for a reply line with this code (a regex such as "354" or "5\\d\\d"), drawn in
        its class colour. A bare expect_exact("354") could match the port in the toolbar."""
        sgr = rb"\x1b\[[0-9;]*m"
        return self.child.expect(sgr + code.encode() + rb"(?:" + sgr + rb")*[ -]")

    def prompt(self, name="smtp"):
        if self.answer_cpr:
            # Answer the cursor-position request as a terminal would; the toolbar needs it.
            self.child.expect_exact("\x1b[6n")
            self.child.send("\x1b[1;1R")
        # Without the trailing space: prompt_toolkit draws it as a cursor move.
        self.child.expect_exact(f"{name}>")

    def type(self, line):
        self.child.send(line + "\r")

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()
        self.log.close()


def terminal_factory(tmp_path):
    """A spawner and a cleanup: spawn(*args, **kw) -> Terminal."""
    terms = []

    def spawn(*args, **kw):
        term = Terminal(list(args), tmp_path, **kw)
        terms.append(term)
        return term

    def close_all():
        for term in terms:
            term.close()

    return spawn, close_all
