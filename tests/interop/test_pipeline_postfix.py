"""PIPELINING, raw bytes and :smuggle-check against the real Postfix of .ci/mta/postfix-start.

The harness runs Debian 12's Postfix 3.7.11 with the defaults of that release for SMTP
smuggling: ``smtpd_forbid_bare_newline = no`` (``normalize`` is the default only from 3.9),
``smtpd_forbid_unauth_pipelining = no``, nothing in ``smtpd_data_restrictions`` or
``smtpd_discard_ehlo_keywords``, and ``cleanup_replace_stray_cr_lf = yes``. So Postfix still
accepts a bare LF as a line ending, in commands and in DATA: ``<LF>.<LF>``, ``<LF>.<CR><LF>``
and ``<CR><LF>.<LF>`` end a message there, and it answers the commands that follow. The
tests below pin that down (and would tell when the harness or the package changes it).
"""

import re
import uuid

from smtpshell.protocol import smuggling
from tests.support.process import run_cli_sync


def smtpshell(postfix, *args, tmp_path):
    return run_cli_sync(postfix.host, postfix.port, *args, tmp_path=tmp_path, timeout=120)


def c(*lines: str) -> list[str]:
    return [word for line in lines for word in ("-c", line)]


def table(text: str) -> list[str]:
    rows = text.split("* pipelined ")[-1].splitlines()
    return [re.sub(r" +→", " →", row.strip()) for row in rows[1:] if row.startswith("    ") and " → " in row]


def message(postfix, msgid: str) -> list[str]:
    return [f"From: <norbert@{postfix.domain}>", f"Message-ID: <{msgid}@smtpshell.test>", "Subject: pipelined",
            "", "sent with :pipeline"]


def test_a_pipelined_group_is_answered_in_one_write(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(postfix, *c(
        "EHLO me", ":pipeline", f"MAIL FROM:<norbert@{postfix.domain}>", f"RCPT TO:<alice@{postfix.domain}>",
        f"RCPT TO:<bob@{postfix.domain}>", "DATA", ":end", *message(postfix, msgid), ".", ":expect 250",
    ), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "250-PIPELINING" in out
    assert "warning" not in out  # advertised, and nothing out of phase once pipelined
    # Postfix answers the whole group at once: its replies came in one read.
    assert re.search(r"\* pipelined 4 commands in one write \(\d+ bytes\); 4 replies in 1 read:", out), out
    assert table(out) == [
        f"MAIL FROM:<norbert@{postfix.domain}> → 250 2.1.0 Ok",
        f"RCPT TO:<alice@{postfix.domain}> → 250 2.1.5 Ok",
        f"RCPT TO:<bob@{postfix.domain}> → 250 2.1.5 Ok",
        "DATA → 354 End data with <CR><LF>.<CR><LF>",
    ]
    for box in ("alice", "bob"):
        assert b"sent with :pipeline" in postfix.wait_for_delivery(box, containing=msgid.encode()).read_bytes()


def test_dash_dash_pipeline_and_a_refusal_inside_the_group(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(postfix, "--pipeline", *c(
        "EHLO me", f"MAIL FROM:<norbert@{postfix.domain}>", "RCPT TO:<someone@elsewhere.invalid>",
        f"RCPT TO:<bob@{postfix.domain}>", "DATA", *message(postfix, msgid), ".", ":expect 250",
    ), tmp_path=tmp_path)
    out = result.stdout
    assert re.search(r"\* pipelined 4 commands in one write \(\d+ bytes\); 4 replies in 1 read:", out), out
    rows = table(out)
    assert rows[1].endswith("→ 554 5.7.1 <someone@elsewhere.invalid>: Relay access denied")
    assert rows[2].endswith("→ 250 2.1.5 Ok") and rows[3].endswith("→ 354 End data with <CR><LF>.<CR><LF>")
    assert result.returncode == 4, out  # the 554 inside the group: no :expect looked at it
    assert b"sent with :pipeline" in postfix.wait_for_delivery("bob", containing=msgid.encode()).read_bytes()


def test_raw_bytes_reach_postfix_as_given(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    result = smtpshell(postfix, *c(
        ":raw --hex 4e4f4f500a",  # NOOP with a bare LF: Postfix 3.7 takes it
        ":expect 250",
        "EHLO me", f"MAIL FROM:<norbert@{postfix.domain}>", f"RCPT TO:<bob@{postfix.domain}>", "DATA",
        f"Message-ID: <{msgid}@smtpshell.test>", "", "typed",
        ":raw a bare\\rCR, a \\0 NUL and a bare\\nLF\\r\\n",
        ".", ":expect 250",
    ), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 5 raw bytes: b'NOOP\\n'\n250 2.0.0 Ok" in result.stdout
    delivered = postfix.wait_for_delivery("bob", containing=msgid.encode()).read_bytes()
    # Maildir holds LF line endings; cleanup_replace_stray_cr_lf made the bare CR a space, the
    # NUL stayed, and the bare LF was a line ending to Postfix.
    assert delivered.endswith(b"\ntyped\na bare CR, a \x00 NUL and a bare\nLF\n")


def run_check(postfix, tmp_path):
    result = smtpshell(postfix, *c(f":smuggle-check --from norbert@{postfix.domain} "
                                   f"--to bob@{postfix.domain} --yes"), tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def verdicts(text: str) -> dict[str, str]:
    rows = text.split("smuggle-check results for ")[1].splitlines()[2:2 + len(smuggling.VARIANTS)]
    return {words[0]: words[2] for words in (re.split(r"\s{2,}", row.strip()) for row in rows)}


def test_smuggle_check_finds_the_bare_lf_endings_postfix_37_accepts(postfix, tmp_path):
    out = run_check(postfix, tmp_path)
    assert verdicts(out) == {
        "lf.lf": "END OF DATA: smuggling possible",
        "lf.crlf": "END OF DATA: smuggling possible",
        "crlf.lf": "END OF DATA: smuggling possible",
        "cr.cr": "not end of data",
        "cr.crlf": "not end of data",
        "crlf.cr": "not end of data",
        "lf.cr": "not end of data",
        "crlf.nul.crlf": "not end of data",
    }
    # three variants, each told once as it ran and once in the table
    assert out.count("then answered the smuggled MAIL 250, RCPT 250, DATA 354, message 250") == 6
    assert "smtpd_forbid_bare_newline = normalize" in out
    run = re.search(r"; run ([0-9a-f]{8})", out).group(1)
    # What Postfix delivered: two messages where it ended the data early, one elsewhere.
    header = smuggling.MARKER_HEADER.encode()
    for number, variant in enumerate(smuggling.VARIANTS, 1):
        marker = f"{run}-{number}".encode()
        outer = postfix.wait_for_delivery("bob", containing=header + b": " + marker + b" outer").read_bytes()
        if variant.name in ("lf.lf", "lf.crlf", "crlf.lf"):
            smuggled = postfix.wait_for_delivery("bob", containing=header + b": " + marker + b" smuggled").read_bytes()
            assert smuggled != outer and b"the smuggled message" not in outer
            assert b"the smuggled message" in smuggled
        else:
            assert b"the smuggled message" in outer  # one message: the smuggled part is its content
            assert b"MAIL FROM:<norbert@" + postfix.domain.encode() + b">" in outer
