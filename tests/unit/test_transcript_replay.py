"""Offline replay (instant, paced, step by step) and the convert/replay command lines."""

import io
import json
from pathlib import Path

import pytest

from smtpshell.transcript.display import Marks, View
from smtpshell.cli_transcripts import convert_main, replay_main
from smtpshell.transcript.events import ClientLine, Header, Note, ServerReply, Transcript
from smtpshell.transcript.readers import read
from smtpshell.transcript.render import Renderer, timeline, to_reply
from smtpshell.transcript.replay import replay_offline, steps

SAMPLES = Path(__file__).parent / "samples_transcript"
SEED = SAMPLES / "seed-telnet-esmtp-auth-session.txt"


def seed() -> Transcript:
    return read(SEED.read_text(encoding="utf-8"))


def replayed(transcript, **kw) -> str:
    out = io.StringIO()
    kw.setdefault("color", False)
    kw.setdefault("instant", True)
    assert replay_offline(transcript, out, **kw) in (True, False)
    return out.getvalue()


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_instant_replay_of_the_seed_shows_the_decoded_334_and_other_hints():
    out = replayed(seed())
    assert out.startswith("220 mymailserver.com ESMTP Postfix\n"
                          "    ↳ the server is ready: introduce yourself with EHLO <your host name>\n"
                          "ehlo h1.home.net\n250-mymailserver.com\n")
    assert "334 UGFzc3dvcmQ6\n    ↳ challenge decodes to: Password:\n" in out
    assert "maximum message size 10 MB" in out  # the EHLO keyword, explained
    assert "\nfrom: name_of_sender <norbert@acodedb.com>\n" in out
    assert out.endswith("quit\n221 Bye\n    ↳ the server ends the session and closes the connection\n")


def test_colour_uses_the_shells_classes():
    out = replayed(seed(), color=True)
    assert "\x1b[1;32m220\x1b[0m" in out  # 2xx bold green
    assert "\x1b[1;36m334\x1b[0m" in out  # 3xx bold cyan
    assert "\x1b[" not in replayed(seed(), color=False)


def test_marks_and_tls_in_replay():
    transcript = read((SAMPLES / "swaks-starttls-auth.txt").read_text(encoding="utf-8"))
    out = replayed(transcript, view=View(marks=Marks.SWAKS))
    assert "<- 220 2.0.0 Ready to start TLS" in out
    assert "<~ 334 VXNlcm5hbWU6\n    ↳ challenge decodes to: Username:" in out
    assert " ~> AUTH LOGIN" in out
    assert "550: " in out  # the meaning of the failure code


def test_hints_can_be_turned_off():
    assert "↳" not in replayed(seed(), view=View(hints=False))


def test_timestamps_show_recorded_times_and_latency():
    transcript = Transcript(header=Header(), notation="jsonl", events=(
        ServerReply(t=0.05, code=220, lines=("220 hi",)),
        ClientLine(t=1.0, line="NOOP"),
        ServerReply(t=1.02, code=250, lines=("250 ok",)),
    ))
    out = replayed(transcript, view=View(timestamps=True))
    assert "[   1.000] NOOP" in out and "[   1.020] 250 ok  (20.0 ms)" in out


def test_paced_replay_sleeps_the_recorded_gaps_scaled_and_capped():
    transcript = Transcript(header=Header(), notation="jsonl", events=(
        ServerReply(t=0.5, code=220, lines=("220 hi",)),
        ClientLine(t=2.5, line="NOOP"),
        ServerReply(t=2.6, code=250, lines=("250 ok",)),
        ClientLine(t=100.0, line="QUIT"),
    ))
    slept = []
    replayed(transcript, instant=False, speed=2.0, sleep=slept.append, max_pause=5.0)
    assert slept == pytest.approx([1.0, 0.05, 2.5])


def test_a_paste_without_times_gets_a_plausible_pace():
    times = timeline(seed().events)
    assert times[0] == 0.0 and times == sorted(times) and times[-1] > 5


def test_step_mode_one_exchange_per_key_and_q_quits():
    keys = iter(["\n", " ", "q"])
    out = replayed(seed(), instant=False, step=True, read_key=lambda: next(keys))
    greeting = "220 mymailserver.com ESMTP Postfix\n    ↳ the server is ready: introduce yourself with EHLO <your host name>\n"
    assert out == greeting + (
        "ehlo h1.home.net\n" + "".join(line + "\n" for line in replayed(seed()).split("\n")[3:12])
        + "auth login dXNlcm5hbWU=\n    ↳ decoded: username\n"
        "334 UGFzc3dvcmQ6\n    ↳ challenge decodes to: Password:\n"
        "    ↳ answer with a base64 line (a lone * cancels)\n"
    )


def test_step_mode_to_the_end_and_the_prompt_on_a_terminal():
    out = TTY()
    assert replay_offline(seed(), out, color=False, step=True, read_key=lambda: "\n") is True
    text = out.getvalue()
    assert "221 Bye" in text and "[1/8] any key: next, q: quit" in text and "\r\x1b[2K" in text


def test_steps_group_a_message_and_pipelined_commands():
    transcript = read((SAMPLES / "exim-v.txt").read_text(encoding="utf-8"))
    groups = steps(transcript.events)
    kinds = [[type(transcript.events[i]).__name__ for i in g] for g in groups]
    assert kinds[2] == ["ClientLine"] * 3 + ["ServerReply"] * 3 + ["Note"]  # MAIL, RCPT, DATA pipelined
    data = steps(seed().events)[7]  # after "data" and its 354: the message, the dot, the reply
    assert [seed().events[i].line for i in data[:-1]][-1] == "." and len(data) == 6


def test_renderer_pairs_ehlo_and_shows_reply_problems():
    renderer = Renderer(View())
    renderer.lines(ServerReply(t=None, code=220, lines=("220 hi",)))
    renderer.lines(ClientLine(t=None, line="EHLO me"))
    lines = renderer.lines(ServerReply(t=None, code=250, lines=("250-hi", "250 SIZE 1000")))
    assert "↳" in "".join(text for _, text in lines[1])
    odd = renderer.lines(ServerReply(t=None, code=None, lines=("what is this",)))
    assert any("no reply code" in "".join(t for _, t in line) for line in odd)
    raw = to_reply(ServerReply(t=None, code=221, lines=("221 bye",), raw=b"221 bye\n"))
    assert raw.lines[0].ending == b"\n"


def test_notes_are_shown_as_the_shell_does():
    transcript = Transcript(header=Header(), notation="jsonl", events=(
        Note(t=0.0, kind="info", text="connected to h:25"),
        Note(t=0.1, kind="tls", text="TLS started (STARTTLS): TLSv1.3"),
        Note(t=0.2, kind="error", text="warning: certificate NOT verified"),
        Note(t=0.3, kind="error", text="connection lost"),
    ))
    assert replayed(transcript) == (
        "* connected to h:25\n* TLS started (STARTTLS): TLSv1.3\n"
        "! warning: certificate NOT verified\n! connection lost\n"
    )


# ----- the command lines -------------------------------------------------------------


def run(main, argv, stdin=None, **kw):
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, stdout=out, stderr=err, stdin=stdin, **kw)
    return status, out.getvalue(), err.getvalue()


def test_convert_seed_to_swaks_and_html_files(tmp_path):
    status, out, err = run(convert_main, [str(SEED), "--to", "swaks"])
    assert status == 0 and err == ""
    assert out.startswith("<-  220 mymailserver.com ESMTP Postfix\n -> ehlo h1.home.net\n")
    page = tmp_path / "seed.html"
    assert run(convert_main, [str(SEED), "--to", "html", "-o", str(page)])[0] == 0
    assert "challenge decodes to: Password:" in page.read_text(encoding="utf-8")


def test_convert_from_stdin_with_redact():
    stdin = io.BytesIO(SEED.read_bytes())
    stdin.buffer = stdin
    status, out, _ = run(convert_main, ["-", "--to", "sc", "--redact"], stdin=stdin)
    assert status == 0 and "acodedb" not in out and "C: mail from:<user1@example.invalid>" in out


def test_convert_asciicast_and_jsonl_round_trip(tmp_path):
    status, cast, _ = run(convert_main, [str(SEED), "--to", "asciicast"])
    assert status == 0 and json.loads(cast.splitlines()[0])["version"] == 2
    jsonl = tmp_path / "seed.jsonl"
    run(convert_main, [str(SEED), "--to", "jsonl", "-o", str(jsonl)])
    assert run(convert_main, [str(jsonl), "--to", "jsonl"])[1] == jsonl.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, message", [
    (["/nonexistent/file.txt", "--to", "swaks"], "smtpshell convert: /nonexistent/file.txt: no such file\n"),
    (["{tmp}", "--to", "swaks"], "is a directory"),
    (["{prose}", "--to", "swaks"], "not a transcript: no SMTP session found"),
    (["{seed}", "--to", "pdf"], "argument --to: invalid choice: 'pdf'"),
    (["{seed}"], "the following arguments are required: --to"),
    (["{seed}", "--to", "html", "--style", "nosuchstyle"], "--style nosuchstyle: no such pygments style"),
    (["{seed}", "--to", "text", "-o", "/nonexistent/dir/out.txt"], "cannot write"),
])
def test_convert_errors_are_one_clear_line_and_status_2(tmp_path, argv, message):
    prose = tmp_path / "prose.txt"
    prose.write_text("Nothing to see here.\n")
    argv = [a.format(tmp=tmp_path, prose=prose, seed=SEED) for a in argv]
    status, out, err = run(convert_main, argv)
    assert status == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_replay_main_instant_and_colour_choices():
    status, out, err = run(replay_main, [str(SEED), "--instant"], env={})
    assert status == 0 and err == "" and "challenge decodes to: Password:" in out and "\x1b[" not in out
    status, out, _ = run(replay_main, [str(SEED), "--instant", "--color", "always", "--marks", "sc"], env={})
    assert "\x1b[" in out and "S: " in out


def test_replay_main_colour_auto_on_a_terminal_honours_no_color():
    out, err = TTY(), io.StringIO()
    replay_main([str(SEED), "--instant"], stdout=out, stderr=err, env={})
    assert "\x1b[" in out.getvalue()
    out = TTY()
    replay_main([str(SEED), "--instant"], stdout=out, stderr=err, env={"NO_COLOR": "1"})
    assert "\x1b[" not in out.getvalue()


def test_replay_main_step_with_keys_from_a_pipe():
    stdin = io.StringIO("\n\nq\n")
    status, out, _ = run(replay_main, [str(SEED), "--step"], stdin=stdin, env={})
    assert status == 0 and "auth login" in out and "235" not in out


@pytest.mark.parametrize("argv, message", [
    (["/nonexistent"], "no such file"),
    (["{seed}", "--speed", "0"], "must be more than 0"),
    (["{seed}", "--speed", "2", "--instant"], "not allowed with argument"),
])
def test_replay_main_errors(argv, message):
    status, _, err = run(replay_main, [a.format(seed=SEED) for a in argv], env={})
    assert status == 2 and message in err and err.count("\n") == 1


def test_help_exits_0(capsys):
    assert convert_main(["--help"]) == 0
    assert "--redact" in capsys.readouterr().out
    assert replay_main(["--help"]) == 0
    assert "--step" in capsys.readouterr().out


def test_hand_typed_sasl_answers_are_decoded_with_the_password_masked():
    out = replayed(read(SEED.read_text(encoding="utf-8"), show_secrets=True))
    assert "auth login dXNlcm5hbWU=\n    ↳ decoded: username\n" in out
    assert "cGFzc3dvcmQ=\n    ↳ decoded: *** (password)\n" in out
    assert "password\n" not in out.replace("(password)", "")


@pytest.mark.parametrize("marks", list(Marks))
def test_message_lines_are_shown_dot_stuffed_and_read_back_the_same(marks):
    """Replay shows DATA content as on the wire, as the live shell does: the replay's own
    output, read as a transcript, is the same message (a leading dot doubled, not lost)."""
    events = (ServerReply(t=None, code=220, lines=("220 mx.example ESMTP",)), ClientLine(t=None, line="EHLO me"),
              ServerReply(t=None, code=250, lines=("250 mx.example",)),
              ClientLine(t=None, line="MAIL FROM:<a@example.com>"), ServerReply(t=None, code=250, lines=("250 ok",)),
              ClientLine(t=None, line="RCPT TO:<b@example.com>"), ServerReply(t=None, code=250, lines=("250 ok",)),
              ClientLine(t=None, line="DATA"), ServerReply(t=None, code=354, lines=("354 go ahead",)),
              *(ClientLine(t=None, line=text, data=True) for text in (".dot", "..two", "plain")),
              ClientLine(t=None, line="."), ServerReply(t=None, code=250, lines=("250 queued",)))
    shown = replayed(Transcript(header=Header(), events=events, notation="jsonl"), view=View(marks=marks))
    assert "..dot" in shown and "...two" in shown
    assert [e.line for e in read(shown).client_lines if e.data] == [".dot", "..two", "plain"]


def test_ctrl_c_in_step_mode_leaves_the_cursor_on_a_new_line(tmp_path):
    """^C at the step prompt: exit 130, and the shell's prompt does not land on the replay's line."""
    path = tmp_path / "seed.txt"
    path.write_text(SEED.read_text(encoding="utf-8"))
    out, err = TTY(), io.StringIO()

    def interrupted():
        raise KeyboardInterrupt

    status = replay_main([str(path), "--step", "--color", "never"], stdout=out, stderr=err, read_key=interrupted)
    assert status == 130
    assert out.getvalue().endswith("\n"), repr(out.getvalue()[-80:])


def test_bdat_content_is_shown_as_it_is_not_dot_stuffed():
    """BDAT has no dot-stuffing (RFC 3030): a chunk line that starts with a dot replays as it is."""
    text = ("S: 220 mx ESMTP\nC: EHLO me\nS: 250-mx\nS: 250 CHUNKING\nC: MAIL FROM:<a@example.com>\nS: 250 ok\n"
            "C: RCPT TO:<b@example.com>\nS: 250 ok\nC: BDAT 10 LAST\nC: .dotbdat\nS: 250 queued\n")
    shown = replayed(read(text))
    assert "\n.dotbdat\n" in shown and "..dotbdat" not in shown
