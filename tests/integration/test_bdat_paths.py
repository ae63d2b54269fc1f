""":bdat PATH or TEXT: an empty :bdat is a usage error, a path that names no file is an error (never
its own characters sent as a chunk), --text forces TEXT. Against aiosmtpd with BDAT added
(tests/support/esmtpd.py), which records every BDAT it got."""

import pytest

from smtpshell.settings import ExitStatus
from smtpshell.shell.bdat import looks_like_path
from smtpshell.shell.script import run_script
from tests.support.script import lines

ENVELOPE = ("EHLO me.example", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>")


async def session(make_shell, server, target, *script):
    shell, out = make_shell()
    assert await shell.connect(target(server))
    status = await run_script(shell, lines(*script))
    return status, out.text


async def test_bdat_without_an_argument_is_a_usage_error_and_sends_nothing(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, ":bdat", "NOOP")
    assert status is ExitStatus.USAGE, out
    assert "nothing to send" in out and "usage: :bdat PATH|TEXT [--last]" in out
    assert esmtpd.handler.commands == []  # no BDAT 0 reached the server
    assert "\nBDAT" not in out and "\nNOOP" not in out


@pytest.mark.parametrize(("arg", "why"), [
    ("/nonexistent/file", "it starts with /"),
    ("./missing.eml", "it starts with ./"),
    ("~/no-such-message", "it starts with ~/"),
    ("missing-message.eml", "it ends with .eml"),
])
async def test_a_path_that_names_no_file_is_an_error_not_a_chunk(esmtpd, make_shell, target, arg, why):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, f":bdat {arg} --last", "NOOP")
    assert status is ExitStatus.USAGE, out
    assert f"no such file: {arg} (taken as a path: {why}); to send these characters as text: :bdat --text {arg}" in out
    assert esmtpd.handler.commands == [] and not esmtpd.messages
    assert "\nBDAT" not in out


async def test_a_file_in_an_existing_folder_and_a_folder_are_paths(esmtpd, make_shell, target, tmp_path, monkeypatch):
    (tmp_path / "mail").mkdir()
    monkeypatch.chdir(tmp_path)
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, ":bdat mail/one --last")
    assert status is ExitStatus.USAGE, out
    assert "no such file: mail/one (taken as a path: mail is a directory)" in out
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, ":bdat mail --last")
    assert status is ExitStatus.USAGE, out
    assert "mail is a directory, not a file; to send these characters as text: :bdat --text mail" in out
    assert esmtpd.handler.commands == []


async def test_text_option_sends_what_looks_like_a_path_as_text(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, ":bdat --text /nonexistent/file --last",
                                ":expect 250")
    assert status is ExitStatus.OK, out
    assert esmtpd.handler.commands == ["BDAT 17 LAST"]
    assert esmtpd.messages[0].content == b"/nonexistent/file"


async def test_quoted_text_goes_without_its_quotes_and_words_stay_text(esmtpd, make_shell, target):
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE,
                                r':bdat "Subject: hi\r\n\r\nsee notes/today or v1.2\r\n" --last', ":expect 250")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[0].content == b"Subject: hi\r\n\r\nsee notes/today or v1.2\r\n"


async def test_an_existing_file_is_still_sent(esmtpd, make_shell, target, tmp_path):
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"Subject: f\r\n\r\nbody\r\n")
    status, out = await session(make_shell, esmtpd, target, *ENVELOPE, f":bdat {eml} --last", ":expect 250")
    assert status is ExitStatus.OK, out
    assert esmtpd.messages[0].content == eml.read_bytes()


async def test_help_bdat_states_the_rule(make_shell):
    shell, out = make_shell()
    await run_script(shell, lines(":help bdat"))
    text = " ".join(out.text.split())
    assert "starting with / ./ ../ ~/" in text and ".eml" in text and "--text sends it as TEXT" in text


@pytest.mark.parametrize(("content", "path"), [
    ("/x", True), ("./x", True), ("../x", True), ("~/x", True), ("~", True), ("msg.EML", True),
    ("hello", False), (r"Subject: a\r\n", False), ("a/b", False), (".not stuffed", False), ("v1.2", False),
])
def test_looks_like_path(content, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (looks_like_path(content) is not None) is path
