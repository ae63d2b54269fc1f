"""Live replay against a real Postfix: a session recorded with the shell (STARTTLS, AUTH, DATA)
replays with no differences; against the submission listener (AUTH only after STARTTLS) the
EHLO capability changes show without counting; the seed's telnet session shows what Postfix
refuses today."""

import json
import uuid
from pathlib import Path
from tests.support.process import run_cli_sync

SEED = Path(__file__).parents[1] / "unit" / "samples_transcript" / "seed-telnet-esmtp-auth-session.txt"


def smtpshell(*args, stdin: str = "", env=None, tmp_path):
    return run_cli_sync(*args, stdin=stdin, env={"COLUMNS": "80", **(env or {})}, tmp_path=tmp_path)


def record_session(postfix, tmp_path, msgid: str) -> Path:
    """The seed's session as a person types it today, recorded: STARTTLS, :auth, a message."""
    path = tmp_path / "postfix.jsonl"
    script = [
        "ehlo client.example.test",
        "starttls",
        "ehlo client.example.test",
        f":auth LOGIN {postfix.user}",
        ":expect 235",
        f"mail from:<norbert@{postfix.domain}>",
        f"rcpt to:<{postfix.address}>",
        "data",
        "subject: live replay",
        f"Message-ID: <{msgid}@smtpshell.test>",
        "",
        "Enter the actual mailtext here...blabla.",
        ".hidden line that starts with a dot",
        ".",
        ":expect 250",
        "quit",
    ]
    result = smtpshell("127.0.0.1", postfix.port, "--cafile", postfix.cafile, "--record", path,
                       stdin="\n".join(script) + "\n", env={"SMTPSHELL_PASSWORD": postfix.password},
                       tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert postfix.password not in path.read_text()
    return path


def delivered(postfix, msgid: str) -> list[Path]:
    new_dir = postfix.maildir / postfix.user / "new"
    return [p for p in new_dir.iterdir() if msgid.encode() in p.read_bytes()]


def test_a_recording_against_postfix_replays_with_no_differences(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    path = record_session(postfix, tmp_path, msgid)
    postfix.wait_for_delivery(postfix.user, containing=msgid.encode())

    result = smtpshell("replay", path, "--to", "127.0.0.1", postfix.port, "--cafile", postfix.cafile,
                       "--user", postfix.user, env={"SMTPSHELL_PASSWORD": postfix.password}, tmp_path=tmp_path)
    out = result.stdout
    assert (result.returncode, result.stderr) == (0, ""), out + result.stderr
    assert "220 mx.example.test ESMTP Postfix" in out
    assert "TLS started (STARTTLS): TLSv1." in out and "verified: trusted issuer" in out
    assert "AUTH redone as alice with LOGIN" in out
    assert "≠" not in out
    assert out.rstrip().endswith("* 10 steps, 0 differences")
    assert postfix.password not in out

    result = smtpshell("replay", path, "--to", f"127.0.0.1:{postfix.port}", "--cafile", postfix.cafile,
                       "--user", postfix.user, "--json", "--strict", env={"SMTPSHELL_PASSWORD": postfix.password},
                       tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [s["new"]["code"] for s in report["steps"]] == [220, 250, 220, 250, 235, 250, 250, 354, 250, 221]
    assert report["summary"]["differences"] == 0
    # Each replay sent the message again, dot-stuffed as recorded.
    postfix.wait_for_delivery(postfix.user, containing=msgid.encode())
    copies = delivered(postfix, msgid)
    assert all(b"\n.hidden line that starts with a dot\n" in p.read_bytes() for p in copies)


def test_the_submission_listener_shows_capability_changes_without_counting_them(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    path = record_session(postfix, tmp_path, msgid)
    result = smtpshell("replay", path, "--to", "127.0.0.1", postfix.submission_port, "--cafile", postfix.cafile,
                       "--user", postfix.user, env={"SMTPSHELL_PASSWORD": postfix.password}, tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    first_ehlo = out.split("\n   3 starttls")[0]
    assert "↳ capabilities: removed AUTH" in first_ehlo  # AUTH only after STARTTLS there
    assert out.rstrip().endswith("* 10 steps, 0 differences")


def test_the_seed_session_against_postfix(postfix, tmp_path):
    result = smtpshell("replay", SEED, "--to", "127.0.0.1", postfix.port, tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "   1 (greeting)  → 220 mx.example.test ESMTP Postfix" in out
    # The seed's hand-made base64 credentials ("username"/"password") are sent as recorded, and refused.
    assert "≠  3 auth login ***  → 535 5.7.8" in out
    assert "≠  5 rcpt to:<info@acodedb.com>  → 554 5.7.1 <info@acodedb.com>: Relay access denied" in out
    assert "~  7 .  → not sent: no 354 to DATA now" in out
    assert "   8 quit  → 221 2.0.0 Bye" in out
    assert "! 8 steps, 3 differences:" in out
    assert "dXNlcm5hbWU=" not in out and "cGFzc3dvcmQ=" not in out


def test_a_bdat_session_against_postfix(postfix, tmp_path):
    msgid = uuid.uuid4().hex
    path = tmp_path / "bdat.jsonl"
    message = f"Subject: bdat\\r\\nMessage-ID: <{msgid}@smtpshell.test>\\r\\n\\r\\n.not stuffed in BDAT\\r\\n"
    script = ["EHLO client.example.test", f"MAIL FROM:<norbert@{postfix.domain}>", f"RCPT TO:<{postfix.address}>",
              f":bdat {message} --last", ":expect 250", "QUIT"]
    result = smtpshell("127.0.0.1", postfix.port, "--record", path, stdin="\n".join(script) + "\n", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    postfix.wait_for_delivery(postfix.user, containing=msgid.encode())

    result = smtpshell("replay", path, "--to", "127.0.0.1", postfix.port, "--strict", tmp_path=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "   5 BDAT 102 LAST  → 250 2.0.0 Ok: 102 bytes queued as " in out
    assert "with its chunk of " in out
    assert out.rstrip().endswith("* 6 steps, 0 differences")
