"""The same scenarios against three servers: the practice server, Postfix and Exim.

Each scenario runs the real `smtpshell` CLI as a script (`-c LINE ...` or standard input, as in
a CI job; one types the seed session into the REPL in a pseudo-terminal) and checks both sides: what the user sees on standard output, and what the
server took in -- the delivered message in its Maildir, whose `Received:` header says how it
came (RFC 3848: `with ESMTPS` over TLS, `ESMTPSA` after AUTH).

Servers (fixtures in conftest.py): `practice` is `smtpshell serve --port 0 --tls-port 0 --mode
relay --domain example.test`, started for the session; `postfix` and `exim` are the MTAs of
`.ci/mta/*-start` (skipped without them, a failure when SMTPSHELL_INTEROP_REQUIRED=1). All
three: 127.0.0.1, a plain port offering STARTTLS (and AUTH before TLS too), an implicit-TLS
port, user alice / wonderland, local domain example.test, relaying refused without AUTH.

What differs between them is data, in SERVERS below: reply texts and the SASL mechanisms each
must offer after STARTTLS (stated here, not read from the server, so a lost mechanism fails).
Where the shell lacks what a server offers, the parametrisation says so with a strict xfail.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pexpect
import pytest

from tests.interop.conftest import EximInstance, PostfixInstance, PracticeInstance
from tests.support.explained import SWEEP, unexplained
from tests.support.script import b64
from tests.support.terminal import terminal_factory
from tests.support.process import run_cli_sync

SERVER_NAMES = ("practice", "postfix", "exim")
OUTSIDE = "someone@elsewhere.invalid"  # not a local domain of any of the three
TOKEN_MECHANISMS = frozenset({"OAUTHBEARER", "XOAUTH2"})  # a token, not the password
RED_5XX = re.compile(rb"\x1b\[[0-9;]*31m5\d\d")  # a 5xx reply code, coloured red
EHLO_LINE = re.compile(r"250(?P<sep>[- ])(?P<text>.*?)(?: +↳ .*)?")  # as shown, with its hint


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What one server says where servers differ."""

    greeting: str  # regex for the 220 line
    mechs: frozenset[str]  # SASL mechanisms offered after STARTTLS: exactly these
    auth_ok: str  # the 235 line
    relay_refused: str  # the reply to RCPT TO:<OUTSIDE> without AUTH
    relay_explained: str  # the shell's explanation under it
    go_ahead: str  # the 354 line
    data_ok: str  # regex for the 250 after the final dot
    queued_text: str  # part of that 250 line, as one run of text on a terminal (colours apart)
    bye: str  # the 221 line
    tls_received: bytes  # regex: how the Received header tells TLS
    bdat_last: str  # regex for the (last line of the) reply to BDAT ... LAST
    login_prompt: str  # how the shell decodes the LOGIN password challenge
    pipelined_reads: int | None  # the reads the replies to a pipelined group took (None: any)


SERVERS = {
    "practice": Expected(
        greeting=r"220 smtpshell\.test ESMTP smtpshell practice server - type EHLO to begin",
        mechs=frozenset({"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"}),
        auth_ok="235 2.7.0 Authentication successful",
        relay_refused=f"554 5.7.1 <{OUTSIDE}>: Relay access denied",
        relay_explained="5.7.1: delivery not authorized, message refused · try: log in (:auth)",
        go_ahead="354 End data with <CR><LF>.<CR><LF>",
        data_ok=r"250 2\.0\.0 Message accepted for delivery as [0-9A-F]{10}",
        queued_text="Message accepted for delivery as",
        bye="221 2.0.0 Bye",
        tls_received=rb"\(using TLSv1\.[23] with cipher ",
        bdat_last=r"250 2\.0\.0 Message accepted for delivery as [0-9A-F]{10}",
        login_prompt="challenge decodes to: Password",  # aiosmtpd's "Password\x00", shown escaped
        pipelined_reads=None,  # aiosmtpd writes each reply apart: one read or several
    ),
    "postfix": Expected(
        greeting=r"220 mx\.example\.test ESMTP Postfix",
        mechs=frozenset({"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}),
        auth_ok="235 2.7.0 Authentication successful",
        relay_refused=f"554 5.7.1 <{OUTSIDE}>: Relay access denied",
        relay_explained="5.7.1: delivery not authorized, message refused · try: log in (:auth)",
        go_ahead="354 End data with <CR><LF>.<CR><LF>",
        data_ok=r"250 2\.0\.0 Ok: queued as [0-9A-F]+",
        queued_text="Ok: queued as",
        bye="221 2.0.0 Bye",
        tls_received=rb"\(using TLSv1\.[23] with cipher ",
        bdat_last=r"250 2\.0\.0 Ok: \d+ bytes queued as [0-9A-F]+",
        login_prompt="challenge decodes to: Password:",
        pipelined_reads=1,  # Postfix holds replies while pipelined input is waiting
    ),
    "exim": Expected(
        greeting=r"220 mx\.example\.test ESMTP Exim 4\.\d+ ",
        mechs=frozenset({"PLAIN", "LOGIN", "CRAM-MD5"}),
        auth_ok="235 Authentication succeeded",
        relay_refused="550 relay not permitted",
        relay_explained="550: mailbox unavailable (not found, no access, or rejected for policy) · try: log in (:auth)",
        go_ahead='354 Enter message, ending with "." on a line by itself',
        data_ok=r"250 OK id=\S+",
        queued_text="OK id=",
        bye="221 mx.example.test closing connection",
        tls_received=rb"\n\tby mx\.example\.test with esmtps?a? +\(TLS1\.[23]\)",
        bdat_last=r"250 OK id=\S+",  # after "250- NNN byte chunk, total NNN"
        login_prompt="challenge decodes to: Password:",
        pipelined_reads=1,  # Exim flushes its replies when the input runs dry
    ),
}

# Mechanisms a server offers that smtpshell cannot speak: the scenario must fail for them.
CLIENT_LACKS: dict[tuple[str, str], str] = {}  # (server, mechanism) -> why the client cannot: none today


Server = PracticeInstance | PostfixInstance | EximInstance


@pytest.fixture(params=SERVER_NAMES)
def server(request: pytest.FixtureRequest) -> Server:
    """The practice server, Postfix or Exim: the conftest.py fixture of that name (so a missing
    MTA skips, or fails under SMTPSHELL_INTEROP_REQUIRED=1)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def expected(server: Server, request: pytest.FixtureRequest) -> Expected:
    """What the server in this test's parameters says where servers differ."""
    return SERVERS[request.node.callspec.params["server"]]


# --- running the CLI ------------------------------------------------------------------------------


smtpshell = run_cli_sync  # `smtpshell ARGS` as a process, HOME and state under tmp_path


def c(*lines: str) -> list[str]:
    """`-c LINE` for each line."""
    return [word for line in lines for word in ("-c", line)]


def plain_port(server) -> list[str]:
    return [server.host, str(server.port), "--cafile", str(server.cafile)]


def message(server, msgid: str, *body: str, subject: str = "scenario") -> list[str]:
    """MAIL, RCPT (alice, local), DATA, the headers, the body lines and the final dot."""
    return [
        f"MAIL FROM:<norbert@{server.domain}>", f"RCPT TO:<{server.address}>", "DATA",
        f"From: <norbert@{server.domain}>", f"To: <{server.address}>", f"Subject: {subject}",
        f"Message-ID: <{msgid}@smtpshell.test>", "", *body, ".",
    ]


def delivered(server, msgid: str, localpart: str | None = None) -> bytes:
    """The message with MSGID as the server stored it, line endings made LF."""
    path = server.wait_for_delivery(localpart or server.user, containing=msgid.encode())
    return path.read_bytes().replace(b"\r\n", b"\n")


def received_with(text: bytes, protocol: str) -> bool:
    """Whether the Received header says `with PROTOCOL` (RFC 3848), and nothing longer."""
    return re.search(rb"\bwith " + protocol.encode() + rb"\b", text, re.I) is not None


def ehlo_replies(out: str) -> list[dict[str, str]]:
    """Each EHLO reply the shell printed, in order, as {KEYWORD: parameters} (without the
    first line, the server's name); the shell's hints after "↳" left out."""
    replies, lines = [], None
    for line in out.splitlines():
        if re.fullmatch(r"(?i)ehlo \S+", line):
            lines = []
        elif lines is not None and (match := EHLO_LINE.fullmatch(line)):
            lines.append(match["text"])
            if match["sep"] == " ":
                replies.append({keyword.upper(): rest for keyword, _, rest in (text.partition(" ") for text in lines[1:])})
                lines = None
    return replies


# --- STARTTLS -------------------------------------------------------------------------------------


def test_starttls_then_ehlo_shows_the_capabilities_after_tls(server, expected, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(*plain_port(server), *c("EHLO me", "STARTTLS", "EHLO me", ":expect 250",
                                                 *message(server, msgid, "over STARTTLS"), ":expect 250"),
                       tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(f"^{expected.greeting}", out, re.M), out
    before, _, after = out.partition("* TLS started (STARTTLS): TLSv1.")
    assert after, out
    assert "verified: trusted issuer, name 127.0.0.1 matches" in after
    assert "the server forgets everything said before TLS: send EHLO again" in after
    [plain] = ehlo_replies(before)
    [tls] = ehlo_replies(after)
    assert "STARTTLS" in plain and "STARTTLS" not in tls
    assert set(tls.get("AUTH", "").split()) == expected.mechs, tls  # every mechanism, nothing more
    assert {"PIPELINING", "CHUNKING", "8BITMIME", "SMTPUTF8"} <= tls.keys(), tls
    assert re.search(f"^{expected.data_ok}$", after, re.M), after
    mail = delivered(server, msgid)
    assert b"\nover STARTTLS\n" in mail
    assert received_with(mail, "ESMTPS"), mail  # the server got it over TLS, without AUTH
    assert re.search(expected.tls_received, mail), mail


# --- implicit TLS ---------------------------------------------------------------------------------


def test_implicit_tls_then_auth_plain_by_hand(server, expected, tmp_path):
    msgid = uuid.uuid4().hex
    plain = b64(f"\0{server.user}\0{server.password}")
    result = smtpshell(f"{server.host}:{server.smtps_port}", "--tls", "--cafile", str(server.cafile),
                       *c("EHLO me", f"AUTH PLAIN {plain}", ":expect 235",
                          *message(server, msgid, "over implicit TLS"), ":expect 250"), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    tls_started = out.index("* TLS started (implicit TLS): TLSv1.")
    assert tls_started < re.search(f"^{expected.greeting}", out, re.M).start()  # TLS before the 220
    assert "verified: trusted issuer, name 127.0.0.1 matches" in out
    [ehlo] = ehlo_replies(out)
    assert "STARTTLS" not in ehlo and "AUTH" in ehlo
    assert "AUTH PLAIN ***" in out and plain not in out and server.password not in out  # masked
    assert expected.auth_ok in out
    mail = delivered(server, msgid)
    assert b"\nover implicit TLS\n" in mail
    assert received_with(mail, "ESMTPSA"), mail
    assert re.search(expected.tls_received, mail), mail


# --- AUTH: every mechanism each server offers --------------------------------------------------


def mechanism_params():
    for name in SERVER_NAMES:
        for mech in sorted(SERVERS[name].mechs):
            lacks = CLIENT_LACKS.get((name, mech))
            marks = [pytest.mark.xfail(reason=lacks, raises=AssertionError, strict=True)] if lacks else []
            yield pytest.param(name, mech, id=f"{name}-{mech}", marks=marks)


@pytest.mark.parametrize(("server", "mech"), list(mechanism_params()), indirect=["server"])
def test_auth_with_each_mechanism_offered_after_starttls(server, expected, mech, tmp_path):
    secret = server.token if mech in TOKEN_MECHANISMS else server.password
    msgid = uuid.uuid4().hex
    result = smtpshell(*plain_port(server), "--starttls",
                       *c(f":auth {mech} {server.user} {secret}", ":expect 235",
                          *message(server, msgid, f"after AUTH {mech}"), ":expect 250"), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    [plain, ehlo] = ehlo_replies(out)  # --starttls: EHLO, STARTTLS, EHLO again
    assert "STARTTLS" in plain and "STARTTLS" not in ehlo
    assert mech in ehlo.get("AUTH", "").split(), ehlo
    assert re.search(f"^AUTH {re.escape(mech)}( |$)", out, re.M), out
    assert expected.auth_ok in out and f"* authenticated as {server.user}" in out
    assert secret not in out and b64(secret) not in out
    mail = delivered(server, msgid)
    assert f"\nafter AUTH {mech}\n".encode() in mail
    assert received_with(mail, "ESMTPSA"), mail  # the server took the login


# --- DATA and dot-stuffing: the seed session (telnet's, with STARTTLS and AUTH LOGIN by hand) ------


def seed_lines(server, msgid: str) -> list[str]:
    return [
        "ehlo h1.home.net",
        "starttls",
        "ehlo h1.home.net",
        f"auth login {b64(server.user)}",
        b64(server.password),
        ":expect 235",
        f"mail from:<norbert@{server.domain}>",
        f"rcpt to:<{server.address}>",
        "data",
        f"from: name_of_sender <norbert@{server.domain}>",
        f"to: name_of_recipient <{server.address}>",
        "subject:test",
        f"Message-ID: <{msgid}@smtpshell.test>",
        "",
        "Enter the actual mailtext here...blabla.",
        ".hidden line that starts with a dot",
        "..two dots",
        ".",
        ":expect 250",
        "quit",
    ]


def test_data_with_dot_stuffing_arrives_intact(server, expected, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(*plain_port(server), stdin="\n".join(seed_lines(server, msgid)) + "\n", tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(f"^{expected.greeting}", out, re.M), out
    assert "TLS started (STARTTLS)" in out and "verified: trusted issuer" in out
    assert expected.login_prompt in out  # the server's prompt, decoded
    assert expected.auth_ok in out
    assert server.password not in out and b64(server.password) not in out  # masked
    assert expected.go_ahead in out
    assert re.search(f"^{expected.data_ok}$", out, re.M), out
    assert expected.bye in out
    mail = delivered(server, msgid)
    # Sent stuffed ("..hidden", "...two"), stored unstuffed: each line as typed.
    assert b"\n.hidden line that starts with a dot\n..two dots\n" in mail
    assert b"\nEnter the actual mailtext here...blabla.\n" in mail
    assert b"\nsubject:test\n" in mail
    assert received_with(mail, "ESMTPSA"), mail
    assert re.search(expected.tls_received, mail), mail


def test_the_seed_session_typed_in_the_repl(server, expected, tmp_path):
    """The same session typed in the real REPL (a pseudo-terminal): prompts, colours, history."""
    spawn, close_all = terminal_factory(tmp_path)
    try:
        t = spawn(*plain_port(server))
        msgid = uuid.uuid4().hex
        t.prompt()
        t.type(f"rcpt to:<{OUTSIDE}>")  # out of phase: warned, sent, refused
        t.expect_exact("RCPT before an accepted MAIL FROM")
        t.expect(RED_5XX)
        t.prompt()
        # (line, what must show after it, the prompt that follows)
        steps = []
        in_data = False
        for line in seed_lines(server, msgid):
            if line.startswith(":expect"):
                continue
            if line == "starttls":
                steps.append((line, "TLS started", "smtp"))
            elif line.startswith("auth login"):
                steps.append((line, expected.login_prompt, "auth"))
            elif line == "data":
                steps.append((line, "354", "data"))
                in_data = True
            elif line == ".":
                steps.append((line, expected.queued_text, "smtp"))  # "250" is coloured apart
                in_data = False
            elif line == "quit":
                steps.append((line, "221", None))
            else:
                steps.append((line, None, "data" if in_data else "smtp"))
        for line, shows, prompt in steps:
            t.type(line)
            if shows:
                t.expect_exact(shows)
            if prompt:
                t.prompt(prompt)
        t.expect_exact(":reconnect")  # the shell stays, says how to go on
        t.prompt()
        t.type(":quit")
        t.child.expect(pexpect.EOF)
        mail = delivered(server, msgid)
        assert b"\n.hidden line that starts with a dot\n..two dots\n" in mail
        history = (tmp_path / "state" / "smtpshell" / "history").read_text()
        assert "ehlo h1.home.net" in history
        assert b64(server.password) not in history  # the SASL answer never reaches history
        assert "Enter the actual mailtext" not in history  # nor does message content
    finally:
        close_all()


# --- relay refused ----------------------------------------------------------------------------------


def test_relay_refused_is_explained_and_exits_4(server, expected, tmp_path):
    result = smtpshell(*plain_port(server), *c("EHLO me", f"MAIL FROM:<norbert@{server.domain}>",
                                                 f"RCPT TO:<{OUTSIDE}>"), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 4, out + result.stderr  # refused, and no :expect looked at it
    refused = out.index(expected.relay_refused)  # the server's own words, naming its policy
    assert out.index(expected.relay_explained) > refused
    assert f"the server refused a command ({expected.relay_refused[:3]}) and no :expect checked it: exit 4" in out


# --- PIPELINING -------------------------------------------------------------------------------------


def test_pipelined_group_one_write_every_reply(server, expected, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(*plain_port(server), *c(
        "EHLO me", ":pipeline", f"MAIL FROM:<norbert@{server.domain}>", f"RCPT TO:<{server.address}>",
        f"RCPT TO:<bob@{server.domain}>", "DATA", ":end",
        f"Message-ID: <{msgid}@smtpshell.test>", "Subject: pipelined", "", "sent with :pipeline", ".",
        ":expect 250"), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "warning" not in out  # advertised, and nothing out of phase once pipelined
    summary = re.search(r"\* pipelined 4 commands in one write \(\d+ bytes\); 4 replies in (\d+) reads?:", out)
    assert summary, out
    if expected.pipelined_reads is not None:
        assert int(summary[1]) == expected.pipelined_reads, out
    rows = [row.strip() for row in out[summary.end():].splitlines()[1:5]]
    commands = [f"MAIL FROM:<norbert@{server.domain}>", f"RCPT TO:<{server.address}>",
                f"RCPT TO:<bob@{server.domain}>", "DATA"]
    for row, command, code in zip(rows, commands, ("250", "250", "250", "354"), strict=True):
        assert re.fullmatch(rf"{re.escape(command)} +→ {code} .+", row), rows
    for box in (server.user, "bob"):
        mail = delivered(server, msgid, box)
        assert b"\nsent with :pipeline\n" in mail
    assert re.search(rb"(?m)^(X-Smtpshell-Rcpt-To|Delivered-To|Envelope-to): <?bob@", mail), mail


# --- CHUNKING ---------------------------------------------------------------------------------------


def test_bdat_chunks_then_last_deliver_the_message(server, expected, tmp_path):
    msgid = uuid.uuid4().hex
    head = rf"Message-ID: <{msgid}@smtpshell.test>\r\nSubject: chunked\r\n\r\n"
    result = smtpshell(*plain_port(server), *c(
        "EHLO me", f"MAIL FROM:<norbert@{server.domain}>", f"RCPT TO:<{server.address}>",
        f":bdat {head}", ":expect 250",
        r":bdat .not stuffed in BDAT\r\nsecond chunk\r\n", ":expect 250",
        ":bdat --last", ":expect 250"), tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    [ehlo] = ehlo_replies(out)
    assert "CHUNKING" in ehlo
    sizes = re.findall(r"^BDAT (\d+)( LAST)?$", out, re.M)
    assert sizes == [(str(len(head.replace(r"\r\n", "\r\n").encode())), ""), ("36", ""), ("0", " LAST")], out
    assert "did not advertise CHUNKING" not in out
    assert re.search(f"^{expected.bdat_last}$", out[out.index("BDAT 0 LAST"):], re.M), out
    mail = delivered(server, msgid)
    assert mail.endswith(b"\n\n.not stuffed in BDAT\nsecond chunk\n"), mail
    assert b"\nSubject: chunked\n" in mail


# --- every reply explained (issue 5): a lesson's commands, wrong ones included ------------------


def test_every_reply_in_a_lesson_is_explained(server, tmp_path):
    result = smtpshell(*plain_port(server), "--color", "never", *c(*SWEEP), tmp_path=tmp_path)
    out = result.stdout
    assert out.count("\n") > 20, out + result.stderr
    assert unexplained(out) == [], out
