"""``smtpshell explain TEXT`` and ``:explain TEXT``: a code, an enhanced code, a whole reply or an
EHLO keyword, explained from the tables -- what the RFC says and, for common failures, what to try."""

import pytest

from smtpshell.cli import main
from smtpshell.protocol import codes
from smtpshell.settings import ExitStatus, Settings
from smtpshell.shell.core import Shell
from smtpshell.shell.explain import explain
from tests.support.capture import Capture


def joined(text: str) -> str:
    return "\n".join(explain(text))


# ----- basic codes -----------------------------------------------------------------------------------


def test_a_basic_code():
    lines = explain("550")
    assert lines[0] == "550: mailbox unavailable (not found, no access, or rejected for policy) (RFC 5321)"
    assert lines[1] == "  class 5xx: permanent negative: it will not work as is; something must change"
    assert lines[2] == "  " + codes.code_info(550).detail
    assert len(lines) == 3  # 550 alone matches no particular failure


def test_a_code_added_by_a_later_rfc_says_which():
    assert explain("556")[0] == "556: domain does not accept mail (null MX) (RFC 7504)"
    assert explain("538")[0].endswith("(RFC 4954)")


def test_a_basic_code_that_is_a_common_failure_says_what_to_try():
    text = joined("535")
    assert "common failure: the login failed" in text
    assert "  likely causes:\n    - The user name or the password is wrong" in text
    assert "  try:\n    - Check the user name and the password" in text
    assert "postconf smtpd_sasl_type smtpd_sasl_path" in text
    assert "as servers write it: Postfix: 535 5.7.8 Error: authentication failed" in text


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("599", "599: not a code the RFCs define; class 5xx: permanent failure: do not retry as is"),
        ("650", "650: not a reply code: SMTP codes run from 2xx to 5xx"),
        ("123", "123: not a reply code: SMTP codes run from 2xx to 5xx"),
    ],
)
def test_codes_the_rfcs_do_not_define(text, first):
    assert explain(text) == [first]


# ----- enhanced codes --------------------------------------------------------------------------------


def test_an_enhanced_code_has_class_subject_detail_and_rfc():
    lines = explain("5.7.8")
    assert lines[0] == "5.7.8: authentication credentials invalid (RFC 4954)"
    assert lines[1] == "  class 5: permanent failure · subject 7: security or policy status"
    assert lines[2] == "  detail 8: " + codes.enhanced_info("5.7.8").detail
    assert "common failure: the login failed" in lines


def test_the_newest_registry_codes():
    assert explain("5.7.26")[0] == "5.7.26: multiple authentication checks failed (RFC 7372)"
    assert "common failure: refused: the message failed sender authentication (DMARC)" in explain("5.7.26")
    assert explain("5.7.27")[0] == "5.7.27: sender address has null MX (RFC 7505)"
    assert explain("4.7.28")[0] == "4.7.28: mail flood detected (draft-levine-mailbomb-header)"
    assert explain("5.7.29")[0] == "5.7.29: ARC validation failure (RFC 8617)"
    assert explain("5.7.30")[0] == "5.7.30: REQUIRETLS support required (RFC 8689)"


def test_a_transient_enhanced_code_says_a_retry_may_work():
    lines = explain("4.2.2")
    assert lines[1] == "  class 4: persistent transient failure · subject 2: mailbox status"
    assert lines[3] == "  " + codes.enhanced_class("4.2.2").detail


def test_the_registry_form_with_x():
    lines = explain("x.7.30")
    assert lines[0] == "X.7.30: REQUIRETLS support required (RFC 8689)"
    assert lines[1] == "  subject 7: security or policy status"


def test_an_enhanced_code_not_in_the_registry_still_gets_class_and_subject():
    assert explain("5.7.54") == [
        "5.7.54: not in the IANA registry of enhanced status codes",
        "  class 5: permanent failure · subject 7: security or policy status",
        "  " + codes.enhanced_class("5.0.0").detail,
    ]


# ----- whole replies ---------------------------------------------------------------------------------


def test_a_whole_reply_line_combines_everything():
    text = joined("554 5.7.1 <someone@elsewhere.invalid>: Relay access denied")
    assert text.startswith("554: transaction failed")  # what the CLI test and the docs rely on
    assert "\n5.7.1: delivery not authorized, message refused (RFC 3463)" in text
    assert "common failure: relaying denied" in text
    assert "Log in first (:auth PLAIN user, after STARTTLS)" in text
    assert "postconf mynetworks smtpd_relay_restrictions relay_domains" in text


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("530 5.7.0 Must issue a STARTTLS command first", "the server wants an encrypted connection first"),
        ("535 5.7.8 Error: authentication failed: authentication failure", "the login failed"),
        ("550 relay not permitted", "relaying denied: the server will not pass this mail on for you"),
        ("451 4.7.1 Greylisted, please try again", "greylisted: a deliberate \"try again later\" for unknown senders"),
        ("552 5.3.4 Message size exceeds fixed limit", "the message is too big"),
        ("421 mx: Too many concurrent SMTP connections; please try again later.", "too many connections"),
        ("556 5.1.10 Recipient address has null MX", "the recipient's domain accepts no mail (null MX)"),
        ("521 5.3.2 mx.example does not accept mail", "this host never accepts mail"),
        ("550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in local recipient table",
         "no such recipient"),
    ],
)
def test_a_common_failure_from_its_reply_line(line, title):
    assert f"common failure: {title}" in explain(line)


def test_a_pasted_multi_line_reply():
    text = joined(
        "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n"
        "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n"
        "550 5.7.26 authenticate with at least one of SPF or DKIM. - gsmtp"
    )
    assert text.startswith("550: mailbox unavailable")
    assert "\n5.7.26: multiple authentication checks failed (RFC 7372)" in text
    assert "common failure: refused: the message failed sender authentication (DMARC)" in text
    assert "dig TXT _dmarc.example.com" in text


def test_a_reply_without_text():
    assert explain("250")[0] == "250: requested action okay, completed (RFC 5321)"


def test_a_pasted_ehlo_line_explains_the_keyword():
    text = joined("250-PIPELINING")
    assert text.startswith("250: requested action okay")
    assert "\nPIPELINING: commands may be sent without waiting for each reply (RFC 2920; IANA-registered)" in text


# ----- keywords ----------------------------------------------------------------------------------------


def test_a_keyword():
    lines = explain("pipelining")
    assert lines[0] == "PIPELINING: commands may be sent without waiting for each reply (RFC 2920; IANA-registered)"
    assert lines[1] == "  " + codes.keyword_info("PIPELINING").detail


def test_a_keyword_with_its_parameter():
    lines = explain("SIZE 10240000")
    assert lines[0] == "SIZE: maximum message size accepted (SIZE= on MAIL FROM) (RFC 1870; IANA-registered)"
    assert "  SIZE 10240000: maximum message size 10 MB" in lines


def test_auth_mechanisms_say_which_are_weak_over_plain_text():
    lines = explain("AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256")
    assert lines[0] == "AUTH: SMTP authentication; the mechanisms follow (RFC 4954; IANA-registered)"
    text = "\n".join(lines)
    assert "PLAIN and LOGIN show the password to anyone on the way without TLS" in text
    assert "  PLAIN: user and password in one base64 line; sends the password readable" in text
    assert "  LOGIN: user and password, each in its own base64 line; sends the password readable" in text
    assert "  CRAM-MD5: " in text and "can be cracked offline (RFC 2195)" in text
    assert "  SCRAM-SHA-256: " in text and "never sends the password (RFC 7677)" in text


def test_the_old_auth_form():
    lines = explain("AUTH=PLAIN LOGIN")
    assert lines[0].startswith("AUTH=: the old form of AUTH")
    assert any(line.startswith("  PLAIN: ") for line in lines)


def test_a_vendor_keyword():
    assert explain("XCLIENT")[0] == (
        "XCLIENT: the client may override connection attributes, for proxies and tests (Postfix) "
        "(not in the IANA registry)")
    assert explain("X-ANONYMOUSTLS")[0].endswith("(Microsoft Exchange) (not in the IANA registry)")


@pytest.mark.parametrize("text", ["xyz", "XFOOBAR", "x-frob", "Xenon"])
def test_an_unknown_x_word_is_not_called_a_vendor_extension(text):
    lines = explain(text)
    assert lines[0] == f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know"
    assert "RFC 5321 2.2.2" in lines[1]  # what an X keyword would be, in a server's EHLO reply
    assert not any("vendor extension" in line for line in lines)


def test_an_obsolete_keyword():
    assert explain("UTF8SMTP")[0] == "UTF8SMTP: UTF-8 addresses (obsolete, see SMTPUTF8) (RFC 5336; IANA-registered)"


@pytest.mark.parametrize("text", ["frobnicate", "hello world", "5.7", "=", "ÆØÅ"])
def test_unknown_input_is_one_clear_line(text):
    assert explain(text) == [f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know"]


# ----- the command line and the shell ------------------------------------------------------------------


def test_cli_explain(capsys):
    assert main(["explain", "5.7.26"]) == ExitStatus.OK
    out = capsys.readouterr().out
    assert out.startswith("5.7.26: multiple authentication checks failed (RFC 7372)\n")
    assert "common failure: refused: the message failed sender authentication (DMARC)" in out


def test_cli_explain_joins_its_words(capsys):
    assert main(["explain", "550", "5.7.1", "Relay", "access", "denied"]) == ExitStatus.OK
    out = capsys.readouterr().out
    assert "550: mailbox unavailable" in out and "common failure: relaying denied" in out


def test_cli_explain_takes_color_and_style(capsys, monkeypatch):
    assert main(["explain", "--color", "always", "550"]) == ExitStatus.OK
    assert capsys.readouterr().out.startswith("\x1b[1;31m550\x1b[0m: mailbox unavailable")
    assert main(["explain", "--color", "always", "--style", "monokai", "250"]) == ExitStatus.OK
    assert capsys.readouterr().out.startswith("\x1b[1;38;2;166;226;46m250\x1b[0m")
    assert main(["explain", "--color", "always", "--style", "bw", "PIPELINING"]) == ExitStatus.OK
    assert capsys.readouterr().out.startswith("\x1b[1mPIPELINING\x1b[0m: ")
    assert main(["explain", "--color", "never", "550"]) == ExitStatus.OK
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert main(["explain", "550"]) == ExitStatus.OK
    assert "\x1b[" not in capsys.readouterr().out


def test_cli_explain_rejects_an_unknown_style(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explain", "--style", "nosuchstyle", "550"])
    assert exc.value.code == ExitStatus.USAGE
    assert "no pygments style named 'nosuchstyle'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[""], ["  "], ["", ""]])
def test_cli_explain_of_nothing_is_a_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["explain", *argv])
    assert exc.value.code == ExitStatus.USAGE
    assert "TEXT is empty" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["xyz", "frobnicate"])
def test_cli_explain_of_an_unknown_word_is_a_usage_error(capsys, text):
    assert main(["explain", text]) == ExitStatus.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{text!r}: not a reply code, enhanced status code or EHLO keyword I know")
    assert "vendor extension" not in captured.err


@pytest.fixture
def shell(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    capture = Capture()
    return Shell(Settings(env=env, timeout=5.0), capture, interactive=True), capture


async def test_colon_explain_in_the_shell(shell):
    shell, out = shell
    await shell.handle(":explain 554 5.7.1 <x@elsewhere.example>: Relay access denied")
    assert out.lines[0] == [(out.lines[0][0][0], "* "), (out.lines[0][1][0], explain(
        "554 5.7.1 <x@elsewhere.example>: Relay access denied")[0])]
    assert "* common failure: relaying denied" in out.text
    await shell.handle(":explain SIZE 10240000")
    assert "*   SIZE 10240000: maximum message size 10 MB" in out.text


async def test_colon_explain_of_an_unknown_word_says_so_as_the_command_line_does(shell):
    shell, out = shell
    await shell.handle(":explain xyz")
    assert "'xyz': not a reply code, enhanced status code or EHLO keyword I know" in out.text
    assert "vendor extension" not in out.text


async def test_colon_explain_without_text_says_how(shell):
    shell, out = shell
    await shell.handle(":explain")
    assert "usage: :explain" in out.text


# ----- against the practice server: every reply a student meets is explained ---------------------------

STUDENT_MISTAKES = [
    "EHLO laptop.example", "NOOP", "FROB", "RCPT TO:<bob@example.test>", "DATA", "MAIL FROM:alice@example.test",
    "MAIL FROM:<alice@example.test> FOO=1", "MAIL FROM:<alice@example.test>", "MAIL FROM:<alice@example.test>",
    "RSET", "VRFY bob", "EXPN staff", "AUTH FOO", "AUTH PLAIN " + "AGFsaWNlAG5vdC10aGUtcGFzc3dvcmQ=",
    "AUTH LOGIN", "*", "HELO", "MAIL FROM:<alice@example.test>", "RCPT TO:<>", "RCPT TO:<bob@example.test>",
    "DATA", "Subject: hi", "", "hello", ".",
]
ROUTINE = {"220", "221", "250"}


async def test_every_reply_from_the_practice_server_is_explained(tmp_path):
    from smtpshell.server.practice import PracticeServer
    from smtpshell.shell.core import Target
    from smtpshell.shell.script import run_script

    async def script(*items):
        for item in items:
            yield item

    async with PracticeServer(maildir=tmp_path / "mail") as server:
        env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
        out = Capture()
        shell = Shell(Settings(env=env, timeout=5.0, cafile=str(server.cafile)), out, interactive=False)
        assert await shell.connect(Target(host=server.host, port=server.port))
        await run_script(shell, script(*STUDENT_MISTAKES, ":set hints off", "FROB", "QUIT"))
    shown = out.text.split("\n")
    finals = [i for i, line in enumerate(shown) if len(line) > 3 and line[:3].isdigit() and line[3:4] in (" ", "")]
    explained = [shown[i] for i in finals if shown[i][:3] not in ROUTINE]
    assert len(explained) >= 15, out.text  # the mistakes above met many different replies
    off = shown.index("* hints = off")
    for i in finals:
        code = shown[i][:3]
        hinted = i + 1 < len(shown) and shown[i + 1].startswith("    ↳ ")
        if i > off:
            assert not hinted, shown[i]  # :set hints off
        elif code not in ROUTINE:
            assert hinted, f"no explanation for {shown[i]!r}\n{out.text}"
            if code[0] in "45":
                assert " · try: " in shown[i + 1], f"no advice for {shown[i]!r}: {shown[i + 1]}"
    ehlo = [line for line in shown if line.startswith("250-") and "↳" in line]
    assert ehlo and all(line.split("↳ ")[1] for line in ehlo)  # every EHLO keyword, explained
