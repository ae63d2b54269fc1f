""":smuggle-check against servers on 127.0.0.1 that do and do not take malformed end-of-data
sequences as the end of a message: a deliberately lenient line server (the receiving half of
SMTP smuggling), a strict one, one that refuses bare LF, one that refuses pipelining after the
end of data, and aiosmtpd 1.4.6 (strict since its own smuggling fix). Verdicts are checked
against what each server received."""

import json
import re

import pytest

from smtpshell.protocol import smuggling
from smtpshell.settings import ExitStatus
from smtpshell.shell.script import run_script
from tests.support.line_server import LineServer
from tests.support.servers import ScriptedServer
from tests.support.script import lines

CHECK = ":smuggle-check --from a@example.test --to b@example.test --yes"
ENDS_ON_LF = {"lf.lf", "lf.crlf", "crlf.lf"}  # what a server that accepts <LF> line endings ends at


def verdicts(text: str) -> dict[str, str]:
    """variant name -> verdict, from the results table."""
    table = text.split("smuggle-check results for ")[1].splitlines()[2:]
    out = {}
    for row in table:
        if not row.startswith("  ") or row.startswith("    ↳"):
            break
        words = re.split(r"\s{2,}", row.strip())
        out[words[0]] = words[2]
    return out


def run_id(text: str) -> str:
    return re.search(r"; run ([0-9a-f]{8})", text).group(1)


async def run_check(make_shell, target, server, check=CHECK, **settings):
    shell, out = make_shell(**settings)
    await shell.connect(target(server))
    status = await run_script(shell, lines(check))
    return status, out.text


async def test_a_lenient_server_is_found_out(make_shell, target):
    server = await LineServer(end_of_data="lf").start()
    try:
        status, text = await run_check(make_shell, target, server)
    finally:
        await server.stop()
    assert status is ExitStatus.OK, text
    assert "Use it ONLY on servers you run or are authorised to test" in text
    found = verdicts(text)
    assert list(found) == [v.name for v in smuggling.VARIANTS]
    for name, verdict in found.items():
        expected = "END OF DATA: smuggling possible" if name in ENDS_ON_LF else "not end of data"
        assert verdict == expected, (name, text)
    # what the server received: two messages for each variant it ended at, one for the others
    rid = run_id(text)
    per_variant = {}
    for msg in server.messages:
        number = int(re.search(rb"-Check: " + rid.encode() + rb"-(\d+)", msg.content).group(1))
        per_variant.setdefault(smuggling.VARIANTS[number - 1].name, []).append(msg)
    for name, msgs in per_variant.items():
        if name in ENDS_ON_LF:
            outer, smuggled = msgs
            assert b" outer\r\n" in outer.content and b"smuggled" not in outer.content
            assert b"the smuggled message" in smuggled.content and b"outer" not in smuggled.content.split(b"\r\n\r\n")[1]
        else:
            [one] = msgs
            assert b"the outer message" in one.content and b"the smuggled message" in one.content
    assert "ended the message there (250), then answered the smuggled MAIL 250, RCPT 250, DATA 354, message 250" in text


async def test_a_strict_server_ends_only_at_crlf_dot_crlf(make_shell, target):
    server = await LineServer(end_of_data="crlf").start()
    try:
        status, text = await run_check(make_shell, target, server)
    finally:
        await server.stop()
    assert status is ExitStatus.OK, text
    assert set(verdicts(text).values()) == {"not end of data"}
    assert len(server.messages) == len(smuggling.VARIANTS)
    lf = server.messages[0].content  # the lf.lf variant, kept as content, byte for byte
    assert b"the outer message.\n.\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n" in lf
    assert "one message (250): the sequence and the smuggled commands stayed message content" in text


async def test_a_server_that_refuses_bare_lf(make_shell, target):
    server = await LineServer(end_of_data="crlf", reject_bare_lf=True).start()
    try:
        status, text = await run_check(make_shell, target, server, ":smuggle-check --from a@example.test "
                                       "--to b@example.test --yes --variants lf.lf,cr.cr,\\r\\n.\\r\\r\\n")
    finally:
        await server.stop()
    assert status is ExitStatus.OK, text
    assert verdicts(text) == {
        "lf.lf": "not end of data (refused)",
        "cr.cr": "not end of data",
        "\\r\\n.\\r\\r\\n": "not end of data",
    }
    assert "refused the message: 550 5.5.2 Error: bare <LF> received" in text


async def test_a_server_that_refuses_pipelining_after_the_end(make_shell, target):
    server = await LineServer(end_of_data="lf", sync_check=True).start()
    try:
        status, text = await run_check(make_shell, target, server, CHECK + " --variants lf.crlf")
    finally:
        await server.stop()
    assert status is ExitStatus.OK, text
    assert verdicts(text) == {"lf.crlf": "end of data, smuggled commands refused"}
    assert ("ended the message there (250), then refused the smuggled MAIL FROM: "
            "554 5.5.0 Error: SMTP protocol synchronization; then closed the connection") in text
    assert len(server.messages) == 1


async def test_aiosmtpd_is_strict(smtpd, make_shell, target):
    status, text = await run_check(make_shell, target, smtpd, CHECK + " --variants lf.lf,crlf.lf,crlf.nul.crlf")
    assert status is ExitStatus.OK, text
    assert set(verdicts(text).values()) == {"not end of data"}
    lf, crlf_lf, nul = (m.content for m in smtpd.messages)
    assert b"the outer message.\n.\nMAIL FROM:<a@example.test>\r\n" in lf
    assert b"the outer message.\r\n\nMAIL FROM:" in crlf_lf  # aiosmtpd took ".\nMAIL…" as a stuffed line
    assert b"the outer message.\r\n\x00.\r\nMAIL FROM:" in nul


async def test_a_script_needs_yes_and_the_shell_asks(make_shell, target):
    server = await LineServer(end_of_data="lf").start()
    try:
        status, text = await run_check(make_shell, target, server, CHECK.replace(" --yes", ""))
        assert status is ExitStatus.USAGE
        assert ":smuggle-check in a script needs --yes" in text
        assert server.messages == []
        shell, out = make_shell(interactive=True)
        asked = []

        async def no(question):
            asked.append(question)
            return False

        shell.ask_confirm = no
        await shell.connect(target(server))
        await shell.handle(CHECK.replace(" --yes", ""))
        assert asked == [f"run :smuggle-check against 127.0.0.1:{server.port}? [y/N] "]
        assert "smuggle-check not run" in out.text and server.messages == []

        async def yes(question):
            return True

        shell.ask_confirm = yes
        await shell.handle(CHECK.replace(" --yes", " --variants lf.lf"))
        assert verdicts(out.text) == {"lf.lf": "END OF DATA: smuggling possible"}
        assert shell.connected  # the shell's own connection is untouched
        await shell.handle("NOOP")
        assert shell.last_reply.code == 250
        await shell.quit()
    finally:
        await server.stop()


@pytest.mark.parametrize("check, error", [
    (":smuggle-check --to b@example.test --yes", "the following arguments are required: --from"),
    (CHECK + " --variants lf.lf,nosuch", "no variant 'nosuch'"),
    (CHECK + " --variants '\\q'", "unknown escape \\q"),
])
async def test_usage_errors(smtpd, make_shell, target, check, error):
    status, text = await run_check(make_shell, target, smtpd, check)
    assert status is ExitStatus.USAGE
    assert error in text and "usage: :smuggle-check --from A --to B" in text


async def test_a_refused_recipient_stops_the_check(make_shell, target):
    # every connection (the shell's, then the check's) plays the same steps
    server = await ScriptedServer([
        b"220 hi\r\n", "READLINE", b"250 ok\r\n", "READLINE", b"250 ok\r\n",
        "READLINE", b"554 5.7.1 <b@example.test>: Relay access denied\r\n", "READLINE",
    ]).start()
    try:
        status, text = await run_check(make_shell, target, server)
    finally:
        await server.stop()
    assert status is ExitStatus.REFUSED, text
    assert "RCPT TO:<b@example.test> refused: 554 5.7.1 <b@example.test>: Relay access denied" in text
    assert "smuggle-check stopped" in text
    assert verdicts(text) == {"lf.lf": "inconclusive"}


async def test_the_recording_keeps_every_byte_on_the_shells_clock(make_shell, target, tmp_path):
    server = await LineServer(end_of_data="lf").start()
    record = tmp_path / "session.jsonl"
    try:
        status, text = await run_check(make_shell, target, server, CHECK + " --variants lf.lf", record=str(record))
    finally:
        await server.stop()
    assert status is ExitStatus.OK, text
    events = [json.loads(line) for line in record.read_text().splitlines()[1:]]
    times = [e["t"] for e in events]
    assert times == sorted(times)
    notes = [e["text"] for e in events if e["dir"] == "info"]
    assert sum(note.startswith("connected to") for note in notes) == 2  # the shell's and the check's
    client = [e for e in events if e["dir"] == "client"]
    assert any("the outer message.\n.\nMAIL FROM" in e["line"] or "raw" in e for e in client)
    assert [e["code"] for e in events if e["dir"] == "server"][-7:] == [250, 250, 250, 354, 250, 221, 221]
