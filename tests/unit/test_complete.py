"""Tab completion as a pure function: (typed text, session state) -> what the menu offers.

The states come from real EHLO replies (Postfix's and aiosmtpd's, as they send them) fed
to the protocol's session, so what is offered is what a user would see against them.
"""

import pytest

from smtpshell.protocol.session import Phase, Session
from smtpshell.shell.commands import build_registry
from smtpshell.shell.complete import MAX_ADDRESSES, path_suggestions, remember_address, suggestions

GREETING = b"220 mx.example.com ESMTP\r\n"
POSTFIX = (  # Postfix 3.7 on Debian, smtpd_tls_security_level=may, SASL only after TLS
    b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    b"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
)
POSTFIX_TLS = (  # the same after STARTTLS: AUTH added, STARTTLS gone
    b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    b"250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
    b"250-SMTPUTF8\r\n250 CHUNKING\r\n"
)
AIOSMTPD = (  # aiosmtpd 1.4 with auth_require_tls=False
    b"250-smtp.example.org\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-STARTTLS\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n"
)
EVERYTHING = (  # a server with the rarer MAIL and RCPT extensions
    b"250-big.example\r\n250-SIZE 0\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n"
    b"250-REQUIRETLS\r\n250-MT-PRIORITY MIXER\r\n250-DELIVERBY 240\r\n250-FUTURERELEASE 604800 2012-01-01T00:00:00Z\r\n"
    b"250-RRVS\r\n250 XCLIENT NAME ADDR PROTO HELO\r\n"
)
COMMANDS = build_registry()


def drain(session):
    while session.next_event() is not None:
        pass


def session_after(ehlo: bytes | None, *, tls: bool = False) -> Session:
    """A session greeted with ``ehlo`` (None: only the 220 banner came)."""
    session = Session(tls=tls)
    session.receive_data(GREETING)
    drain(session)
    if ehlo is not None:
        session.send_line("EHLO laptop")
        session.receive_data(ehlo)
        drain(session)
        assert session.greeted
    return session


def offered(text, ehlo=POSTFIX, *, tls=False, addresses=(), cwd=None, in_data=False):
    session = session_after(ehlo, tls=tls)
    return suggestions(text, commands=COMMANDS, capabilities=session.capabilities, tls=session.tls,
                       in_data=in_data, addresses=addresses, cwd=cwd)


# ----- SMTP verbs -----------------------------------------------------------------------------------


def test_verbs_follow_what_the_server_advertised():
    postfix = offered("")
    assert postfix[:5] == ["EHLO", "HELO", "LHLO", "MAIL FROM:<", "RCPT TO:<"]
    assert {"BDAT", "STARTTLS", "ETRN", "VRFY"} <= set(postfix)
    assert "AUTH" not in postfix  # Postfix offers AUTH only after TLS
    assert "XCLIENT" not in postfix
    aiosmtpd = offered("", AIOSMTPD)
    assert "BDAT" not in aiosmtpd and "ETRN" not in aiosmtpd  # no CHUNKING, no ETRN
    assert "AUTH" in aiosmtpd


def test_starttls_is_gone_once_tls_is_up():
    assert offered("st") == ["STARTTLS"]
    assert offered("st", POSTFIX_TLS, tls=True) == []
    assert offered("st", POSTFIX, tls=True) == []  # even from a server that still (wrongly) advertises it
    assert "AUTH" in offered("", POSTFIX_TLS, tls=True)


def test_before_ehlo_every_verb_is_offered():
    assert offered("B", None) == ["BDAT"]
    assert offered("m", None) == ["MAIL FROM:<"]


def test_a_verb_offers_its_meaning_as_the_menu_shows_it():
    (rcpt,) = offered("RC")
    assert rcpt.meta == "add a recipient to the transaction"


def test_auth_completes_the_offered_mechanisms():
    assert offered("AUTH ", POSTFIX_TLS, tls=True) == ["PLAIN", "LOGIN"]
    assert offered("AUTH l", AIOSMTPD) == ["LOGIN"]
    assert offered(":auth p", AIOSMTPD) == ["PLAIN"]
    assert offered("AUTH ", POSTFIX) == []  # nothing offered before TLS
    (plain,) = offered("AUTH P", AIOSMTPD)
    assert plain.meta == "user and password in one base64 line"
    assert offered("AUTH PLAIN ", AIOSMTPD) == []  # the initial response is the user's


# ----- MAIL and RCPT parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(("ehlo", "expected"), [
    (POSTFIX, ["SIZE=", "BODY=7BIT", "BODY=8BITMIME", "SMTPUTF8", "RET=FULL", "RET=HDRS", "ENVID="]),
    (AIOSMTPD, ["SIZE=", "BODY=7BIT", "BODY=8BITMIME", "SMTPUTF8", "AUTH=<>", "AUTH="]),
    (EVERYTHING, ["SIZE=", "BODY=7BIT", "BODY=8BITMIME", "BODY=BINARYMIME", "REQUIRETLS", "MT-PRIORITY=",
                  "BY=", "HOLDFOR=", "HOLDUNTIL="]),
    (b"250-old.example\r\n250 HELP\r\n", []),
    (None, []),  # no EHLO: nothing is known to be allowed
], ids=["postfix", "aiosmtpd", "rare", "none", "before-ehlo"])
def test_mail_offers_only_the_parameters_of_advertised_extensions(ehlo, expected):
    assert offered("MAIL FROM:<alice@example.com> ", ehlo) == expected


def test_mail_parameters_complete_by_prefix_and_once():
    assert offered("MAIL FROM:<a@b> si") == ["SIZE="]  # and nothing more: the size is the user's
    assert offered("MAIL FROM:<a@b> B") == ["BODY=7BIT", "BODY=8BITMIME"]
    assert offered("MAIL FROM:<a@b> BODY=8") == ["BODY=8BITMIME"]
    used = offered("MAIL FROM:<a@b> SIZE=1200 BODY=8BITMIME ")
    assert "SIZE=" not in used and "BODY=7BIT" not in used and "SMTPUTF8" in used
    (size,) = offered("MAIL FROM:<a@b> SI")
    assert "RFC 1870" in size.meta


def test_rcpt_offers_dsn_parameters_with_dsn_only():
    assert offered("RCPT TO:<bob@example.com> ") == [
        "ORCPT=rfc822;bob@example.com", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=FAILURE,DELAY", "NOTIFY=NEVER",
        "ORCPT=rfc822;"]
    assert offered("RCPT TO:<bob@example.com> NOTIFY=N") == ["NOTIFY=NEVER"]
    assert offered("RCPT TO:<bob@example.com> NOTIFY=NEVER ") == ["ORCPT=rfc822;bob@example.com", "ORCPT=rfc822;"]
    assert offered("RCPT TO:<bob@example.com> ORCPT=rfc822;bob@example.com ") == [
        "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=FAILURE,DELAY", "NOTIFY=NEVER"]  # ORCPT once
    assert offered("RCPT TO:<bob@example.com> ", AIOSMTPD) == []  # aiosmtpd has no DSN
    assert offered("RCPT TO:<bob@example.com> ", EVERYTHING) == ["RRVS="]


def test_xclient_completes_the_advertised_attributes():
    assert offered("XCLIENT ", EVERYTHING) == ["NAME=", "ADDR=", "PROTO=", "HELO="]
    assert offered(":xclient AD", EVERYTHING) == ["ADDR="]


# ----- addresses used before ------------------------------------------------------------------------


def test_addresses_sent_before_come_back_most_recent_first():
    addresses = []
    for line in ("MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.com> NOTIFY=NEVER",
                 "rcpt to: <carol@example.com>", "MAIL FROM:<>", "RCPT TO:bare@example.com",
                 "MAIL FROM:<alice@example.com> SIZE=10"):
        remember_address(addresses, line)
    assert addresses == ["alice@example.com", "carol@example.com", "bob@example.com"]
    for number in range(MAX_ADDRESSES + 5):
        remember_address(addresses, f"RCPT TO:<user{number}@example.com>")
    assert len(addresses) == MAX_ADDRESSES and addresses[0] == f"user{MAX_ADDRESSES + 4}@example.com"


def test_from_and_to_complete_addresses_used_before():
    used = ["bob@example.com", "alice@example.com"]
    assert offered("MAIL ", addresses=used) == [
        "FROM:<", "FROM:<bob@example.com>", "FROM:<alice@example.com>", "FROM:<>"]
    assert offered("MAIL FROM:<a", addresses=used) == ["FROM:<alice@example.com>"]
    assert offered("mail from:<", addresses=used) == [
        "FROM:<bob@example.com>", "FROM:<alice@example.com>", "FROM:<>"]
    assert offered("RCPT TO:<b", addresses=used) == ["TO:<bob@example.com>"]
    assert offered("RCPT TO:<", addresses=[]) == []  # nothing more to add to what is typed
    assert offered(":send --from alice@example.com --to ", addresses=used) == used
    assert offered(":smuggle-check --from a", addresses=used) == ["alice@example.com"]


# ----- colon commands -------------------------------------------------------------------------------


def test_colon_completes_command_names_with_their_summaries():
    assert offered(":st") == [":starttls"]
    assert offered(":s") == [":starttls", ":send", ":smuggle-check", ":save", ":set"]
    (record,) = offered(":recor")
    assert record.meta == "Record the session from here on, as JSON Lines written as it happens."
    assert offered(":nosuch ") == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_options_are_those_help_lists(name):
    """Taken from each command's syntax and help, as :help shows them: they cannot drift apart."""
    assert offered(f":{name} -") == list(COMMANDS[name].options)


def test_options_complete_by_prefix():
    assert offered(":send --from a@b --no") == ["--notify"]
    assert offered(":send --at") == ["--attach"]
    assert offered(":bdat hello --l") == ["--last"]
    assert offered(":connect mx.example.com --") == ["--tls"]
    assert offered(":mx example.com --l") == ["--list"]
    assert offered(":send --from a@b ") == []  # after a value: type - for the options


def test_help_completes_command_names():
    assert offered(":help sm") == ["smuggle-check"]
    assert offered(":help ")[:3] == ["help", "starttls", "auth"]
    assert offered(":help send ") == []


def test_set_completes_names_then_values():
    assert offered(":set ") == ["hints", "explain-auth", "timestamps", "marks", "style"]
    assert offered(":set t") == ["timestamps"]
    assert offered(":set hints ") == ["on", "off"]
    assert offered(":set marks ") == ["bare", "sc", "swaks"]
    assert "monokai" in offered(":set style mo")
    assert offered(":set hints on ") == []
    assert offered(":set nosuch ") == []


# ----- file paths -----------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    (tmp_path / "message.eml").write_text("Subject: hi\n\nhello\n")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "big.eml").write_text("x")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "my file.txt").write_text("")
    return tmp_path


def test_commands_that_take_a_file_complete_paths(files):
    cwd = str(files)
    assert offered(":record ", cwd=cwd) == ["stop", "mail/", "message.eml", '"my file.txt"']
    assert offered(":save m", cwd=cwd) == ["mail/", "message.eml", '"my file.txt"']
    assert offered(":bdat mail/", cwd=cwd) == ["mail/big.eml"]
    assert offered(":bdat mail/big.eml ", cwd=cwd) == []  # one file is enough
    assert offered(":send --from a@b --attach me", cwd=cwd) == ["message.eml"]
    assert offered(":send --file mail/b", cwd=cwd) == ["mail/big.eml"]
    assert offered(":save .h", cwd=cwd) == [".hidden"]
    assert offered(":raw ", cwd=cwd) == []  # :raw takes bytes, not a file
    assert offered(":ehlo ", cwd=cwd) == []


def test_paths_absolute_home_and_missing(files, monkeypatch):
    assert path_suggestions(f"{files}/mail/") == [f"{files}/mail/big.eml"]
    assert path_suggestions(f"{files}/nowhere/") == []
    monkeypatch.setenv("HOME", str(files))
    assert path_suggestions("~/mail/") == ["~/mail/big.eml"]
    (directory,) = path_suggestions("ma", cwd=str(files))
    assert directory.meta == "directory"


# ----- inside DATA ----------------------------------------------------------------------------------


def test_inside_data_only_its_commands_complete(files):
    session = session_after(POSTFIX)
    for line in ("MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"):
        session.send_line(line)
    session.receive_data(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n")
    drain(session)
    assert session.phase is Phase.DATA

    def in_data(text):
        return suggestions(text, commands=COMMANDS, capabilities=session.capabilities, in_data=True,
                           cwd=str(files))

    assert in_data(":") == [":help", ":file", ":raw", ":record", ":save"]
    assert in_data(":file m") == ["mail/", "message.eml", '"my file.txt"']
    assert in_data(":send --") == []  # not a command inside DATA: message content
    assert in_data("MAIL") == [] and in_data("Subject: ") == []
