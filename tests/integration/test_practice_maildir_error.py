"""`smtpshell serve --maildir DIR` with a DIR it cannot make: the error names the Maildir, not the address."""

import pytest

from smtpshell.server.practice import MaildirError, PracticeServer, serve_main

pytestmark = pytest.mark.usefixtures("private_tempdir")


@pytest.mark.parametrize("where", ["missing-parent", "a-file"])
def test_serve_blames_the_maildir_not_the_address(tmp_path, private_tempdir, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    maildir = blocker / "Maildir" if where == "missing-parent" else blocker
    assert serve_main(["--port", "0", "--maildir", str(maildir)]) == 1
    err = capsys.readouterr().err
    assert f"cannot use {maildir} as the Maildir: Not a directory" in err, err
    assert "choose another --maildir" in err
    assert "cannot start the practice server on" not in err and "127.0.0.1" not in err and "Traceback" not in err
    assert not list(private_tempdir.iterdir()), "serve must remove its temporary directory"


def test_serve_with_a_maildir_under_proc(capsys):
    assert serve_main(["--port", "0", "--maildir", "/proc/x"]) == 1
    err = capsys.readouterr().err
    assert "cannot use /proc/x as the Maildir:" in err and "on 127.0.0.1" not in err


async def test_the_server_raises_a_maildir_error_that_is_still_an_oserror(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(MaildirError) as caught:
        await PracticeServer(maildir=blocker).start()
    assert isinstance(caught.value, OSError)
    assert str(blocker) in caught.value.strerror
