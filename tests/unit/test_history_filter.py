"""Which typed lines stay out of the history file: those that may carry a credential."""

import pytest

from smtpshell.repl.history import may_hold_secret


@pytest.mark.parametrize("line", [
    "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=",
    "auth login YWxpY2U=",
    ":auth login alice wonderland",
    ":auth SCRAM-SHA-256 bob builder",
    ":auth alice wonderland",  # the mechanism chosen for the user: the second word is the password
    ":b64 \\0alice\\0wonderland",
    ":unb64 AGFsaWNlAHdvbmRlcmxhbmQ=",
    ":raw AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\\r\\n",
])
def test_lines_that_may_hold_a_credential_are_kept_out(line):
    assert may_hold_secret(line)


@pytest.mark.parametrize("line", [
    "EHLO laptop", "AUTH LOGIN", "AUTH PLAIN", ":auth login alice", ":auth alice", ":auth",
    "MAIL FROM:<alice@example.com>", ":raw NOOP\\r\\n", ":explain 535 5.7.8",
])
def test_ordinary_lines_are_kept(line):
    assert not may_hold_secret(line)
