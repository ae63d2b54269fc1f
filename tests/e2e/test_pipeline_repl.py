"""The REPL's pipe> prompt: :pipeline … :end (and Ctrl-D) against the practice server, which
advertises PIPELINING, in a pseudo-terminal."""

import pexpect


def test_pipeline_queues_under_a_pipe_prompt_and_shows_a_table(terminal):
    t = terminal("--demo")
    t.prompt()
    t.type("EHLO me")
    t.expect_exact("PIPELINING")
    t.prompt()
    t.type(":pipeline")
    t.expect_exact(":end sends them in one write")
    t.prompt("pipe")
    for line in ("MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"):
        t.type(line)
        t.prompt("pipe")
    t.type(":end")
    t.expect_exact("pipelined 3 commands in one write")
    t.expect(r"DATA\S*\s+\S* → \S*354".encode())  # the table: DATA beside its 354
    t.prompt("data")  # the 354 answered DATA: the message comes next
    t.type("Subject: pipelined")
    t.prompt("data")
    t.type(".")
    t.reply("250")
    t.prompt()
    t.type(":pipeline")
    t.prompt("pipe")
    t.type("NOOP")
    t.type(":help end")  # runs while queueing: its output shows NOOP was taken
    t.expect_exact("Send the commands queued since :pipeline")
    t.prompt("pipe")
    t.child.sendcontrol("d")  # Ctrl-D at pipe> sends the group, as :end does
    t.expect_exact("pipelined 1 command in one write")
    t.prompt()
    t.type(":quit")
    t.child.expect(pexpect.EOF)
