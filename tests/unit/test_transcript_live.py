"""Live replay without a network: the plan made from a recording, the comparison of replies,
the report (lines, summary, JSON), and the command line's usage errors."""

import io
import json
from pathlib import Path

import pytest

from smtpshell.cli_transcripts import replay_main
from smtpshell.transcript.events import ClientLine, Header, Note, ServerReply, Transcript
from smtpshell.shell.live_replay import (
    Outcome,
    Report,
    StepKind,
    StepResult,
    Verdict,
    capability_changes,
    compare,
    difference_text,
    enhanced_code,
    judge,
    plan,
    report_json,
    step_lines,
    summary_lines,
)
from smtpshell.transcript.readers import read

SAMPLES = Path(__file__).parent / "samples_transcript"


def reply(*lines: str) -> ServerReply:
    code = int(lines[-1][:3]) if lines and lines[-1][:3].isdigit() else None
    return ServerReply(t=None, code=code, lines=lines)


def client(line: str, **kw) -> ClientLine:
    return ClientLine(t=None, line=line, **kw)


def transcript(*events) -> Transcript:
    return Transcript(header=Header(), events=tuple(events), notation="jsonl")


def text(lines) -> str:
    return "\n".join("".join(t for _, t in line) for line in lines)


# ----- the plan --------------------------------------------------------------------------


def test_the_seed_as_steps():
    steps = plan(read((SAMPLES / "seed-telnet-esmtp-auth-session.txt").read_text(encoding="utf-8"),
                      show_secrets=True)).steps
    assert [s.kind for s in steps] == [
        StepKind.GREETING, StepKind.COMMAND, StepKind.AUTH, StepKind.COMMAND, StepKind.COMMAND,
        StepKind.COMMAND, StepKind.MESSAGE, StepKind.COMMAND,
    ]
    assert [s.index for s in steps] == list(range(1, 9))
    assert [s.recorded.code for s in steps] == [220, 250, 235, 250, 250, 354, 250, 221]
    auth = steps[2]
    assert [line.line for line in auth.lines] == ["auth login dXNlcm5hbWU=", "cGFzc3dvcmQ="]
    assert [c.code for c in auth.challenges] == [334]
    assert not auth.masked and auth.shown == "auth login ***"  # an initial response is never shown
    message = steps[6]
    assert message.ended and message.shown == "." and len(message.content) == 4
    assert message.content[0].line == "from: name_of_sender <norbert@acodedb.com>"
    assert not any(s.pipelined for s in steps)


def test_a_recording_with_starttls_masked_auth_and_implicit_tls():
    steps = plan(transcript(
        Note(t=0.0, kind="info", text="connected to mx.example.net:465"),
        Note(t=0.0, kind="tls", text="TLS started (implicit TLS): TLSv1.3, cipher X"),
        reply("220 mx ESMTP"),
        client("EHLO me"), reply("250-mx", "250 STARTTLS"),
        client("STARTTLS"), reply("220 2.0.0 go ahead"),
        Note(t=0.1, kind="tls", text="TLS started (STARTTLS): TLSv1.3"),
        client("AUTH LOGIN"), reply("334 VXNlcm5hbWU6"),
        client("***", secret=True), reply("334 UGFzc3dvcmQ6"),
        client("***", secret=True), reply("235 2.7.0 ok"),
        Note(t=0.2, kind="info", text="connection closed"),
    )).steps
    assert [s.kind for s in steps] == [StepKind.GREETING, StepKind.COMMAND, StepKind.STARTTLS, StepKind.AUTH]
    assert steps[0].implicit_tls and not steps[0].reconnect
    assert steps[2].tls
    assert steps[3].masked and len(steps[3].lines) == 3 and steps[3].recorded.code == 235


def test_starttls_refused_in_the_recording_is_no_tls_step():
    steps = plan(transcript(reply("220 mx"), client("STARTTLS"), reply("454 4.7.0 TLS not available"))).steps
    assert steps[1].kind is StepKind.STARTTLS and not steps[1].tls


def test_pipelined_commands_pair_with_their_replies_in_order():
    steps = plan(transcript(
        reply("220 mx"), client("EHLO me"), reply("250 mx"),
        client("MAIL FROM:<a@x>"), client("RCPT TO:<b@y>"), client("DATA"),
        reply("250 ok"), reply("550 no such user"), reply("554 no valid recipients"),
    )).steps
    assert [(s.shown, s.recorded.code, s.pipelined) for s in steps[2:]] == [
        ("MAIL FROM:<a@x>", 250, False), ("RCPT TO:<b@y>", 550, True), ("DATA", 554, True),
    ]


def test_a_recording_that_starts_after_the_greeting_has_an_unrecorded_greeting():
    steps = plan(transcript(client("EHLO me"), reply("250 mx"))).steps
    assert steps[0].kind is StepKind.GREETING and steps[0].recorded is None
    assert steps[1].recorded.code == 250


def test_a_recording_cut_inside_the_message():
    steps = plan(transcript(
        reply("220 mx"), client("DATA"), reply("354 go"),
        client("Subject: x", data=True), client("", data=True),
    )).steps
    assert steps[-1].kind is StepKind.MESSAGE and not steps[-1].ended and steps[-1].recorded is None
    assert steps[-1].shown == "(message not ended)"


def test_an_empty_message_and_a_dotted_line():
    steps = plan(transcript(
        reply("220 mx"), client("DATA"), reply("354 go"), client("."), reply("250 ok"),
        client("DATA"), reply("354 go"), client(".hidden", data=True), client("."), reply("250 ok"),
    )).steps
    assert [s.kind for s in steps] == [StepKind.GREETING, StepKind.COMMAND, StepKind.MESSAGE,
                                       StepKind.COMMAND, StepKind.MESSAGE]
    assert steps[2].content == () and steps[2].recorded.code == 250
    assert steps[4].content[0].wire == b"..hidden\r\n"  # dot-stuffed on the wire


def test_a_reconnect_starts_another_greeting():
    steps = plan(transcript(
        Note(t=0.0, kind="info", text="connected to a:25"), reply("220 a"), client("QUIT"), reply("221 bye"),
        Note(t=1.0, kind="info", text="connected to a:25"), reply("220 a again"), client("NOOP"), reply("250 ok"),
    )).steps
    assert [(s.kind, s.reconnect) for s in steps] == [
        (StepKind.GREETING, False), (StepKind.COMMAND, False), (StepKind.GREETING, True), (StepKind.COMMAND, False),
    ]
    assert steps[2].shown == "(connect again)" and steps[2].recorded.lines == ("220 a again",)


def test_unsolicited_replies_and_lines_without_a_code_answer_nothing():
    steps = plan(transcript(
        reply("220 mx"), client("NOOP"), reply("garbage"), reply("250 ok"), reply("421 4.4.2 timeout"),
    )).steps
    assert [s.recorded.code for s in steps] == [220, 250]


def test_a_masked_auth_with_an_initial_response():
    steps = plan(transcript(reply("220 mx"), client("AUTH PLAIN ***", secret=True), reply("235 ok"))).steps
    assert steps[1].kind is StepKind.AUTH and steps[1].masked and steps[1].shown == "AUTH PLAIN ***"


def test_bdat_carries_its_chunk_from_a_notation():
    steps = plan(read(
        "S: 220 mx\nC: EHLO me\nS: 250-mx\nS: 250 CHUNKING\nC: BDAT 21 LAST\nC: Subject: x\nC: .dotted\n"
        "S: 250 2.0.0 queued\nC: QUIT\nS: 221 bye\n"
    )).steps
    bdat = steps[2]
    assert (bdat.kind, bdat.verb, bdat.recorded.code) == (StepKind.COMMAND, "BDAT", 250)
    assert bdat.chunk == b"Subject: x\r\n.dotted\r\n"  # 21 bytes, no dot-stuffing in BDAT
    assert [s.verb for s in steps] == ["", "EHLO", "BDAT", "QUIT"]


def test_bdat_chunks_as_the_recorder_writes_them():
    steps = plan(transcript(
        reply("220 mx"), client("BDAT 5"), client("hello", raw=b"hello"), reply("250 5 octets"),
        client("BDAT 7 LAST"), client("QUIT", raw=b"QUIT\r\n"), client("!", raw=b"!"), reply("250 queued"),
        client("QUIT"), reply("221 bye"),
    )).steps
    assert [(s.verb, s.chunk, s.recorded.code) for s in steps[1:]] == [
        ("BDAT", b"hello", 250), ("BDAT", b"QUIT\r\n!", 250), ("QUIT", b"", 221)]


def test_a_recording_with_lhlo_is_lmtp():
    assert plan(transcript(reply("220 lmtp"), client("LHLO me"), reply("250 lmtp"))).lmtp
    assert not plan(transcript(reply("220 mx"), client("EHLO me"), reply("250 mx"))).lmtp


# ----- the comparison -----------------------------------------------------------------------


@pytest.mark.parametrize(("recorded", "new", "strict", "outcome", "counts"), [
    ("250 ok", "250 fine", False, Outcome.SAME, False),
    ("250 ok", "250 fine", True, Outcome.SAME, False),
    ("250 ok", "251 forwarded", False, Outcome.CODE_CHANGED, False),
    ("250 ok", "251 forwarded", True, Outcome.CODE_CHANGED, True),
    ("250 ok", "550 5.7.1 relay denied", False, Outcome.CLASS_CHANGED, True),
    ("550 5.1.1 unknown", "450 4.1.1 try later", False, Outcome.CLASS_CHANGED, True),
    ("550 5.1.1 unknown", "550 5.7.1 denied", False, Outcome.CODE_CHANGED, False),
    ("550 5.1.1 unknown", "550 5.7.1 denied", True, Outcome.CODE_CHANGED, True),
    ("550 5.1.1 unknown", "550 unknown", True, Outcome.SAME, False),  # only one has an enhanced code
    ("250 ok", None, False, Outcome.NO_REPLY, True),
    (None, "250 ok", True, Outcome.NOT_RECORDED, False),
    (None, None, True, Outcome.NOT_RECORDED, False),
])
def test_compare(recorded, new, strict, outcome, counts):
    verdict = compare(recorded and reply(recorded), new and reply(new), strict=strict)
    assert (verdict.outcome, verdict.counts) == (outcome, counts)
    assert bool(verdict.reason) == (outcome not in (Outcome.SAME, Outcome.NOT_RECORDED))


@pytest.mark.parametrize(("line", "enhanced"), [
    ("550 5.7.1 Relay denied", "5.7.1"),
    ("250 2.1.0 Sender ok", "2.1.0"),
    ("550 4.7.1 wrong class", None),
    ("354 3.0.0 not for 3xx", None),
    ("250 Ok", None),
    ("220 mx.example.com ESMTP", None),
])
def test_enhanced_code(line, enhanced):
    assert enhanced_code(reply(line)) == enhanced


def test_capability_changes():
    old = reply("250-mx", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-AUTH PLAIN LOGIN",
                "250-AUTH=PLAIN LOGIN", "250 8BITMIME")
    new = reply("250-smtp.test", "250-PIPELINING", "250-SIZE 33554432", "250-8BITMIME", "250-SMTPUTF8",
                "250 AUTH LOGIN PLAIN")
    changes = capability_changes(old, new)
    assert changes.added == ("SMTPUTF8",)
    assert changes.removed == ("VRFY",)
    assert changes.changed == ("SIZE 10240000 → 33554432",)  # AUTH: the same mechanisms in another order
    assert changes.text() == "capabilities: added SMTPUTF8; removed VRFY; changed SIZE 10240000 → 33554432"
    assert not capability_changes(old, old)


def test_ehlo_steps_get_capability_changes_and_others_do_not():
    steps = plan(transcript(reply("220 mx"), client("EHLO me"), reply("250-mx", "250 VRFY"),
                            client("NOOP"), reply("250 ok"))).steps
    result = judge(steps[1], reply("250-other", "250 STARTTLS"), strict=False)
    assert result.verdict.outcome is Outcome.SAME
    assert result.capabilities.added == ("STARTTLS",) and result.capabilities.removed == ("VRFY",)
    assert judge(steps[1], reply("250-mx", "250 VRFY"), strict=False).capabilities is None
    assert judge(steps[2], reply("250 fine"), strict=False).capabilities is None


# ----- the report ---------------------------------------------------------------------------


def seed_results(strict=False) -> Report:
    steps = plan(transcript(
        reply("220 mx ESMTP"), client("EHLO me"), reply("250-mx", "250 SIZE 1000"),
        client("RCPT TO:<x@example.com>"), reply("250 2.1.5 ok"),
        client("NOOP"), reply("250 ok"),
        client("AUTH PLAIN ***", secret=True), reply("235 2.7.0 ok"),
    )).steps
    results = (
        judge(steps[0], reply("220 other ESMTP"), strict=strict),
        judge(steps[1], reply("250-other", "250 SIZE 2000"), strict=strict),
        judge(steps[2], reply("550 5.7.1 Relaying denied"), strict=strict),
        judge(steps[3], reply("251 ok too"), strict=strict),
        StepResult(step=steps[4], verdict=Verdict(outcome=Outcome.SKIPPED, counts=strict,
                                                  reason="skipped: credentials masked; give --user"),
                   notes=("skipped: credentials masked; give --user",)),
    )
    return Report(results=results, strict=strict)


def test_step_lines_narrow_put_the_recorded_reply_above_the_new_one():
    report = seed_results()
    shown = [text(step_lines(r, width=80)) for r in report.results]
    assert shown[0] == "   1 (greeting)  → 220 other ESMTP"
    assert shown[1] == ("   2 EHLO me  → 250-other  (+1 lines)\n"
                        "    ↳ capabilities: changed SIZE 1000 → 2000")
    assert shown[2] == ("≠  3 RCPT TO:<x@example.com>  → 550 5.7.1 Relaying denied\n"
                        "      recorded: 250 2.1.5 ok\n"
                        "      now:      550 5.7.1 Relaying denied")
    assert shown[3].startswith("~  4 NOOP  → 251 ok too\n      recorded: 250 ok\n")
    assert shown[4] == "~  5 AUTH PLAIN ***  → skipped: credentials masked; give --user"


def test_step_lines_wide_put_them_side_by_side():
    lines = step_lines(seed_results().results[2], width=120)
    rows = text(lines).split("\n")
    assert rows[1].split("│")[0].strip() == "recorded" and rows[1].split("│")[1].strip() == "now"
    assert rows[2].split("│")[0].strip() == "250 2.1.5 ok"
    assert rows[2].split("│")[1].strip() == "550 5.7.1 Relaying denied"
    assert all(len(row.split("│")[0]) == len(rows[1].split("│")[0]) for row in rows[1:])


def test_long_lines_are_cut_side_by_side():
    steps = plan(transcript(reply("220 mx"), client("NOOP"), reply("250 " + "x" * 200))).steps
    rows = text(step_lines(judge(steps[1], reply("550 no"), strict=False), width=100)).split("\n")
    assert "…" in rows[2] and rows[2].endswith("│ 550 no")


def test_replies_are_coloured_by_class():
    from smtpshell.highlight import tokens as tok

    [head, *_] = step_lines(seed_results().results[2], width=80)
    assert (tok.code_token(550), "550") in head
    assert head[0] == (tok.ERROR, "≠ ")


def test_summary_lists_each_difference():
    summary = text(summary_lines(seed_results()))
    assert summary.split("\n")[:2] == [
        "! 5 steps, 1 difference:",
        "!   reply class changed at step 3 (RCPT TO:<x@example.com>): recorded 250 2.1.5, "
        "now 550 5.7.1 Relaying denied",
    ]
    assert "not counted (--strict counts it): reply code changed at step 4 (NOOP): recorded 250, now 251 ok too" in summary
    assert "step 5 (AUTH PLAIN ***) skipped: credentials masked; give --user" in summary
    assert seed_results().exit_status == 1


def test_summary_strict_counts_codes_and_skips():
    report = seed_results(strict=True)
    assert len(report.differences) == 3 and report.exit_status == 1
    assert text(summary_lines(report)).startswith("! 5 steps, 3 differences:")


def test_summary_without_differences():
    steps = plan(transcript(reply("220 mx"), client("QUIT"), reply("221 bye"))).steps
    report = Report(results=(judge(steps[0], reply("220 a"), strict=False),
                             judge(steps[1], reply("221 2.0.0 Bye"), strict=False)))
    assert text(summary_lines(report)) == "* 2 steps, 0 differences"
    assert report.exit_status == 0


def test_a_stopped_replay_says_why_and_how_many_steps_were_left():
    steps = plan(transcript(reply("220 mx"), client("NOOP"), reply("250 ok"), client("QUIT"), reply("221 bye"))).steps
    report = Report(
        results=(judge(steps[0], reply("220 mx"), strict=False), judge(steps[1], None, strict=False),
                 StepResult(step=steps[2], verdict=Verdict(outcome=Outcome.NOT_REPLAYED, counts=False))),
        stopped="the server closed the connection (at step 2, NOOP)", connection_failed=True,
    )
    assert report.exit_status == 3 and report.replayed == 2
    summary = text(summary_lines(report))
    assert "!   no reply now at step 2 (NOOP): recorded 250, now no reply" in summary
    assert summary.endswith("! stopped: the server closed the connection (at step 2, NOOP); 1 step(s) not replayed")
    assert step_lines(report.results[2]) == []


def test_report_json():
    report = seed_results()
    data = json.loads(json.dumps(report_json(report, file="x.jsonl")))
    assert data["file"] == "x.jsonl" and data["strict"] is False
    third = data["steps"][2]
    assert third == {
        "index": 3, "kind": "command", "client": "RCPT TO:<x@example.com>",
        "recorded": {"code": 250, "enhanced": "2.1.5", "lines": ["250 2.1.5 ok"]},
        "new": {"code": 550, "enhanced": "5.7.1", "lines": ["550 5.7.1 Relaying denied"]},
        "result": "class changed", "same": False, "counts": True, "reason": "reply class changed", "notes": [],
    }
    assert data["steps"][0]["client"] is None and data["steps"][0]["same"] is True
    assert data["steps"][1]["capabilities"] == {"added": [], "removed": [], "changed": ["SIZE 1000 → 2000"]}
    assert data["summary"] == {
        "steps": 5, "replayed": 5, "not_replayed": 0, "differences": 1, "class_changes": 1, "code_changes": 1, "skipped": 1,
        "stopped": None, "connection_failed": False, "exit_status": 1,
        "text": [difference_text(report.results[2])],
    }


# ----- the command line (what fails before any connection) ------------------------------------


def run_cli(*argv, env=None, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    status = replay_main(list(argv), stdin=stdin or io.StringIO(""), stdout=out, stderr=err, env=env or {})
    return status, out.getvalue(), err.getvalue()


SEED = str(SAMPLES / "seed-telnet-esmtp-auth-session.txt")


@pytest.mark.parametrize(("argv", "message"), [
    ((SEED, "--to", "127.0.0.1", "--step"), "--step is for offline replay, not with --to"),
    ((SEED, "--to", "127.0.0.1", "--speed", "2"), "--speed is for offline replay"),
    ((SEED, "--strict"), "--strict goes with --to HOST"),
    ((SEED, "--json"), "--json goes with --to HOST"),
    ((SEED, "--user", "alice"), "--user goes with --to HOST"),
    ((SEED, "--to", "a", "25", "26"), "--to HOST [PORT]: too many words"),
    ((SEED, "--to", "127.0.0.1", "99999"), "--to: bad port '99999'"),
    ((SEED, "--to", "127.0.0.1", "--password-file", "pw"), "--password-file goes with --user"),
    ((SEED, "--to", "127.0.0.1", "--key", "k.pem"), "--key needs --cert"),
    ((SEED, "--to", "127.0.0.1", "--starttls"), "unrecognized arguments: --starttls"),
    ((SEED, "--to", "127.0.0.1", "--user", "alice"), "no password for --user alice: standard input is not a terminal"),
])
def test_usage_errors(argv, message):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == ""
    assert message in err, err


def test_help_documents_auth_strict_and_the_exit_status(capsys):
    status, _, _ = run_cli("--help")
    help_text = capsys.readouterr().out
    assert status == 0
    assert "--to HOST" in help_text and "--strict" in help_text and "--json" in help_text
    assert "skipped: credentials masked; give --user" in help_text
    assert "3  connection or TLS failure" in help_text


def test_a_replay_that_stopped_with_steps_left_is_exit_1_and_says_so():
    steps = plan(transcript(reply("220 mx"), client("NOOP"), reply("250 ok"), client("QUIT"), reply("221 bye"))).steps
    report = Report(
        results=(judge(steps[0], reply("220 mx"), strict=False), judge(steps[1], reply("250 ok"), strict=False),
                 StepResult(step=steps[2], verdict=Verdict(outcome=Outcome.NOT_REPLAYED, counts=False))),
        stopped="step 3 cannot be sent: why", connection_failed=False,
    )
    assert not report.differences and not report.complete
    assert report.exit_status == 1
    summary = text(summary_lines(report))
    assert summary.startswith("! 3 steps, 1 not replayed, 0 differences\n")
    assert summary.endswith("! stopped: step 3 cannot be sent: why; 1 step(s) not replayed")
    assert report_json(report)["summary"]["exit_status"] == 1
