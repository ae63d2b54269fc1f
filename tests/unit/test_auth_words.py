"""The pure parts of the :auth fixes: which first word is a mechanism, what a final reply means,
and what AUTH without TLS exposes for each mechanism (table-driven)."""

import pytest

from smtpshell.protocol import auth as sasl
from smtpshell.protocol.codes import plaintext_auth_warning
from smtpshell.protocol.session import Session
from smtpshell.shell.auth import AuthUsage, outcome_line, parse_args


@pytest.mark.parametrize(("arg", "mechanism", "user", "password"), [
    ("alice wonderland", None, "alice", "wonderland"),
    ("ALICE wonderland", None, "ALICE", "wonderland"),  # capitals, far from every mechanism
    ("Bob-Smith pw", None, "Bob-Smith", "pw"),  # a hyphen, but not all capitals
    ("alice@example.com pw", None, "alice@example.com", "pw"),
    ("j.doe pw", None, "j.doe", "pw"),
    ("logan pw", None, "logan", "pw"),  # lower case: a name, though near LOGIN
    ("PLAN", None, "PLAN", None),  # one word is a user: nothing follows it
    ("plain alice", "PLAIN", "alice", None),
    ("LOGIN LOGAN pw", "LOGIN", "LOGAN", "pw"),
    ("scram-sha-256 alice pw", "SCRAM-SHA-256", "alice", "pw"),
])
def test_words_that_stay_user_names(arg, mechanism, user, password):
    request = parse_args(arg)
    assert (request.mechanism, request.user, request.password) == (mechanism, user, password)


@pytest.mark.parametrize(("arg", "guess"), [
    ("PLAN alice", "PLAIN"),
    ("plan alice", "PLAIN"),
    ("LOGN alice", "LOGIN"),
    ("LOGAN alice", "LOGIN"),  # capitals and near LOGIN: a name like that goes after its mechanism
    ("CRAM-MD4 alice", "CRAM-MD5"),
    ("scram-sha256 alice", "SCRAM-SHA-256"),
    ("XOAUTH alice", "XOAUTH2"),
    ("SCRAM-SHA-512 alice", "SCRAM-SHA-1"),
    ("NOSUCHMECH alice x", None),  # three words: the first can only be a mechanism
    ("X-UNKNOWN alice", None),  # capitals with a hyphen: the shape of a mechanism name
])
def test_words_taken_for_a_mistyped_mechanism(arg, guess):
    with pytest.raises(AuthUsage) as caught:
        parse_args(arg)
    message = str(caught.value)
    word = arg.split()[0]
    assert message.startswith(f"{word} is not a SASL mechanism smtpshell speaks")
    assert (f"did you mean {guess}?" in message) if guess else ("did you mean" not in message)
    assert ", ".join(sasl.SUPPORTED) in message and "nothing was sent" in message


@pytest.mark.parametrize(("code", "text", "authenticated", "expected"), [
    (535, "5.7.8 Error: authentication failed: no mechanism available", False, "the server cannot use XOAUTH2"),
    (504, "5.5.4 Mechanism not supported", False, "the server cannot use XOAUTH2"),
    (504, "5.5.4 Unrecognized authentication type", False, "the server cannot use XOAUTH2"),
    (535, "5.7.8 Authentication credentials invalid", False, "credentials invalid: wrong user or password"),
    (503, "5.5.1 Error: already authenticated", False, "already authenticated: RFC 4954 permits no AUTH"),
    (503, "Bad sequence of commands", True, "already authenticated: RFC 4954 permits no AUTH"),
    (503, "5.5.1 Error: send HELO/EHLO first", False, "AUTH out of sequence: send EHLO first"),
    (235, "2.7.0 Authentication successful", False, "authenticated as alice"),
    (334, "", False, None),
])
def test_outcome_keys_on_the_text_and_the_state(code, text, authenticated, expected):
    line = outcome_line(code, text, mechanism="XOAUTH2", user="alice", was_authenticated=authenticated)
    assert (line is None) if expected is None else line.startswith(expected), line


@pytest.mark.parametrize(("mechanism", "said", "not_said"), [
    ("PLAIN", "with PLAIN the password travels in clear text", "not send"),
    ("LOGIN", "with LOGIN the password travels in clear text", "not send"),
    ("XOAUTH2", "with XOAUTH2 the token travels in clear text", "not send"),
    ("OAUTHBEARER", "with OAUTHBEARER the token travels in clear text", "not send"),
    ("CRAM-MD5", "CRAM-MD5 does not send the password, but the user name is visible", "clear text"),
    ("DIGEST-MD5", "DIGEST-MD5 does not send the password, but the user name is visible", "clear text"),
    ("SCRAM-SHA-1", "offline password guessing, and nothing binds the login to this channel", "clear text"),
    ("SCRAM-SHA-256", "SCRAM-SHA-256 does not send the password", "clear text"),
    ("scram-sha-256", "SCRAM-SHA-256 does not send the password", "clear text"),
    ("GSSAPI", "anyone on the way can read the GSSAPI exchange", "clear text"),
    ("WHATEVER", "the credentials travel in clear text", "not send"),
    (None, "the credentials travel in clear text", "not send"),
])
def test_plaintext_auth_warning_says_what_each_mechanism_exposes(mechanism, said, not_said):
    text = plaintext_auth_warning(mechanism)
    assert text.startswith("AUTH over an unencrypted connection: ")
    assert said in text and not_said not in text


@pytest.mark.parametrize(("line", "said"), [
    ("AUTH CRAM-MD5", "AUTH over an unencrypted connection: CRAM-MD5 does not send the password"),
    ("AUTH SCRAM-SHA-256 biwsbj1hbGljZSxyPXh5eg==", "AUTH over an unencrypted connection: SCRAM-SHA-256 does not send the password"),
    ("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", "AUTH over an unencrypted connection: with PLAIN the password travels in clear text"),
])
def test_the_session_warns_by_mechanism(line, said):
    session = Session()
    session.receive_data(b"220 ready\r\n")
    while session.next_event() is not None:
        pass
    session.send_line("EHLO me")
    session.receive_data(b"250-me\r\n250 AUTH PLAIN CRAM-MD5 SCRAM-SHA-256\r\n")
    while session.next_event() is not None:
        pass
    assert session.greeted
    assert any(warning.startswith(said) for warning in session.send_line(line).warnings)
