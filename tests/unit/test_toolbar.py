"""The bottom toolbar as a pure function: (shell state, line being typed) -> the text shown.

A real :class:`Shell` whose session is fed real replies (Postfix's EHLO as it sends it); only
the socket is missing, replaced by a stand-in holding the session and the TLS facts.
"""

import re

import pytest

from smtpshell.protocol import codes
from smtpshell.protocol.session import Session, _MAIL_PARAMS, _RCPT_PARAMS
from smtpshell.protocol.verbs import PARAMETERS, syntax_hint, verbs
from smtpshell.settings import Settings
from smtpshell.shell import recording
from smtpshell.shell.core import Shell, Target
from smtpshell.shell.toolbar import toolbar

POSTFIX = (
    b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    b"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
)
AIOSMTPD = (
    b"250-smtp.example.org\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-STARTTLS\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n"
)


class Lines:
    def emit(self, lines):
        pass


class Wire:
    """What the toolbar reads of a connection: its session, whether it closed, its TLS."""

    def __init__(self, *, tls_info=None, implicit_tls=False):
        self.session = Session(tls=tls_info is not None)
        self.closed = False
        self.tls_info = tls_info
        self.implicit_tls = implicit_tls


class TLS:
    def __init__(self, *, verified=True):
        self.version, self.cipher, self.verified = "TLSv1.3", "TLS_AES_256_GCM_SHA384", verified


def shell_with(wire=None) -> Shell:
    shell = Shell(Settings(history=False), Lines(), interactive=True)
    shell.target = Target(host="mx.example.com", port=25)
    shell.conn = wire
    return shell


def exchange(shell, line, reply: bytes):
    session = shell.session
    if line is not None:
        session.send_line(line)
    session.receive_data(reply)
    while session.next_event() is not None:
        pass


def greeted(ehlo=POSTFIX, **wire) -> Shell:
    shell = shell_with(Wire(**wire))
    exchange(shell, None, b"220 mx.example.com ESMTP Postfix\r\n")
    exchange(shell, "EHLO laptop", ehlo)
    return shell


def screen(shell, text=""):
    """The toolbar as the terminal shows it: its lines, without the styles."""
    return "".join(piece for _, piece in toolbar(shell, text)).split("\n")


# ----- the session line -----------------------------------------------------------------------------


def test_not_connected_says_how_to_connect():
    shell = shell_with()
    shell.target = None
    assert screen(shell) == [" not connected — :connect HOST [PORT]"]
    shell.target = Target(host="mx.example.com", port=25)
    assert screen(shell) == [" mx.example.com:25  │  closed — :reconnect"]


def test_the_phase_follows_the_replies():
    shell = shell_with(Wire())
    assert screen(shell) == [" mx.example.com:25  │  plain text  │  greeting"]
    exchange(shell, None, b"220 mx.example.com ESMTP\r\n")
    assert screen(shell)[0].endswith("│  ready (send EHLO)")
    exchange(shell, "EHLO laptop", POSTFIX)
    assert screen(shell)[0].endswith("│  ready")
    exchange(shell, "MAIL FROM:<alice@example.com>", b"250 2.1.0 Ok\r\n")
    assert screen(shell)[0].endswith("│  mail")
    exchange(shell, "RCPT TO:<bob@example.com>", b"250 2.1.5 Ok\r\n")
    assert screen(shell)[0].endswith("│  rcpt ×1")
    exchange(shell, "RCPT TO:<nobody@example.com>", b"550 5.1.1 <nobody@example.com>: User unknown\r\n")
    exchange(shell, "RCPT TO:<carol@example.com>", b"250 2.1.5 Ok\r\n")
    assert screen(shell)[0].endswith("│  rcpt ×2")
    exchange(shell, "DATA", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    assert screen(shell)[0].endswith("│  data")


def test_tls_user_and_latency():
    shell = greeted(AIOSMTPD, tls_info=TLS())
    exchange(shell, "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", b"235 2.7.0 Authentication successful\r\n")
    shell.last_latency = 0.0123
    assert screen(shell) == [" mx.example.com:25  │  STARTTLS TLSv1.3 TLS_AES_256_GCM_SHA384  │  user alice"
                             "  │  ready  │  12.3 ms"]
    implicit = greeted(tls_info=TLS(verified=False), implicit_tls=True)
    assert "│  TLS TLSv1.3 TLS_AES_256_GCM_SHA384 unverified  │" in screen(implicit)[0]


def test_recording_shows_while_it_runs(tmp_path):
    shell = greeted()
    assert "rec" not in screen(shell)[0]
    assert recording.start(shell, str(tmp_path / "session.jsonl"))
    try:
        assert screen(shell)[0].endswith("│  ready  │  ● rec session.jsonl")
        assert ("class:toolbar.rec", "● rec session.jsonl") in toolbar(shell, "")
    finally:
        recording.stop(shell)
    assert "rec" not in screen(shell)[0]


# ----- the syntax line while a command is typed -----------------------------------------------------


def test_mail_syntax_lists_only_the_advertised_parameters():
    postfix = greeted(POSTFIX)
    first, hint = screen(postfix, "MAIL FROM:<alice@example.com> ")
    assert first.endswith("│  ready")
    assert hint == (" MAIL FROM:<reverse-path> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=id]"
                    "  —  start a transaction: the envelope sender (<> for a bounce)  (RFC 5321)")
    aiosmtpd = screen(greeted(AIOSMTPD), "mail")[1]
    assert "[AUTH=<mailbox>|<>]" in aiosmtpd and "RET=" not in aiosmtpd
    assert screen(greeted(POSTFIX), "RCPT TO:<")[1].startswith(
        " RCPT TO:<forward-path> [NOTIFY=SUCCESS,FAILURE,DELAY|NEVER] [ORCPT=rfc822;address]  —  ")


def test_a_verb_the_server_did_not_advertise_says_so():
    assert screen(greeted(AIOSMTPD), "BDAT 100 LAST")[1] == (
        " BDAT size [LAST]  —  send the next size bytes of the message as they are; LAST ends it  (RFC 3030)"
        "  · CHUNKING not advertised")
    assert "not advertised" not in screen(greeted(POSTFIX), "BDAT")[1]


def test_colon_commands_show_their_registry_syntax():
    shell = greeted()
    assert screen(shell, ":send --from a@b")[1] == (
        " :send --from A --to B [...]  —  Send a whole message: EHLO if needed, MAIL, RCPT…, DATA (or BDAT),"
        " each step shown.")
    assert screen(shell, ":bdat ")[1].startswith(" :bdat PATH|TEXT [--last]  —  ")


def test_no_syntax_line_when_nothing_known_is_typed():
    shell = greeted()
    for text in ("", "   ", "MA", "HELLO there", ":nosuch"):
        assert len(screen(shell, text)) == 1, text


def test_inside_data_only_data_commands_and_never_a_secret():
    shell = greeted()
    for line, reply in (("MAIL FROM:<a@example.com>", b"250 Ok\r\n"), ("RCPT TO:<b@example.com>", b"250 Ok\r\n"),
                        ("DATA", b"354 go ahead\r\n")):
        exchange(shell, line, reply)
    assert len(screen(shell, "MAIL FROM:<x@y> is just a line of the message")) == 1
    assert len(screen(shell, ":send --from a@b")) == 1  # not a command inside DATA
    assert screen(shell, ":file ")[1].startswith(" :file PATH  —  ")
    asking = greeted(AIOSMTPD)
    exchange(asking, "AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n")
    assert screen(asking, "AUTH")[1:] == []  # the answer to a 334 is a secret, whatever it looks like


# ----- the verb table ---------------------------------------------------------------------------------


def test_verb_table_rows_are_well_formed():
    table = verbs()
    assert {"EHLO", "MAIL", "RCPT", "DATA", "BDAT", "STARTTLS", "AUTH", "QUIT"} <= set(table)
    for verb, info in table.items():
        assert re.fullmatch(r"[A-Z]+", verb) and info.syntax.startswith(verb)
        assert info.meaning and re.fullmatch(r"RFC \d+|Postfix", info.source)
        if info.extension is not None:
            assert codes.keyword_info(info.extension) is not None, verb  # a known EHLO keyword
    assert syntax_hint("nosuch", None) is None


def test_parameters_agree_with_the_sessions_warnings():
    """What Tab offers and the toolbar lists is what the session does not warn about."""
    for verb, table in (("MAIL", _MAIL_PARAMS), ("RCPT", _RCPT_PARAMS)):
        for name, extension in table.items():
            assert any(p.verb == verb and p.name == name and p.extension == extension for p in PARAMETERS), name
    for param in PARAMETERS:
        assert codes.keyword_info(param.extension) is not None, param.extension
        assert all(c.startswith(param.name) for c in param.completions)


@pytest.mark.parametrize("verb", ["MAIL", "RCPT"])
def test_every_parameter_shows_once_its_extension_is_advertised(verb):
    keywords = sorted({p.extension for p in PARAMETERS})
    ehlo = "250-all.example\r\n" + "".join(f"250-{k}\r\n" for k in keywords[:-1]) + f"250 {keywords[-1]}\r\n"
    hint = screen(greeted(ehlo.encode()), verb)[1]
    for param in PARAMETERS:
        if param.verb == verb:
            assert f"[{param.name}" in hint
