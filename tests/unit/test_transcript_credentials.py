"""Credentials in transcripts read from other notations are masked as the shell records them:
``convert`` to every format and offline ``replay`` show ``***`` unless --show-secrets."""

import base64
import io
from pathlib import Path

import pytest

from smtpshell.cli_transcripts import convert_main, replay_main
from smtpshell.transcript.readers import read

SAMPLES = Path(__file__).parent / "samples_transcript"
SWAKS = SAMPLES / "swaks-starttls-auth.txt"
PASSWORD = "d29uZGVybGFuZA=="  # base64 of the sample's password
FORMATS = ("jsonl", "text", "sc", "swaks", "html", "asciicast")


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def run(main, argv, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in argv], stdout=out, stderr=err, stdin=stdin)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_convert_masks_the_swaks_password_in_every_format(fmt):
    status, out, err = run(convert_main, [SWAKS, "--to", fmt])
    assert (status, err) == (0, "")
    assert PASSWORD not in out and "wonderland" not in out
    assert "***" in out
    assert b64("alice") in out  # the user name stays, as :auth LOGIN records it


@pytest.mark.parametrize("fmt", FORMATS)
def test_convert_show_secrets_keeps_them(fmt):
    status, out, _ = run(convert_main, [SWAKS, "--to", fmt, "--show-secrets"])
    assert status == 0 and PASSWORD in out


def test_convert_to_jsonl_marks_them_secret_as_the_recorder_does():
    _, out, _ = run(convert_main, [SWAKS, "--to", "jsonl"])
    assert '{"t": null, "dir": "client", "line": "***", "secret": true}' in out


def test_offline_replay_shows_no_password_and_no_decoded_hint_for_it():
    status, out, _ = run(replay_main, [SWAKS, "--instant", "--color", "never"])
    assert status == 0
    assert PASSWORD not in out and "decoded: *** (password)" not in out
    assert "334 UGFzc3dvcmQ6\n    ↳ challenge decodes to: Password:\n" in out
    _, shown, _ = run(replay_main, [SWAKS, "--instant", "--color", "never", "--show-secrets"])
    assert f"{PASSWORD}\n    ↳ decoded: *** (password)" in shown


TELNET = """Trying 127.0.0.1...
Connected to mx.example.com.
Escape character is '^]'.
220 mx.example.com ESMTP
EHLO me
250-mx.example.com
250 AUTH PLAIN LOGIN CRAM-MD5
{exchange}
MAIL FROM:<a@example.com>
250 ok
QUIT
221 bye
Connection closed by foreign host.
"""

SCRAM_FIRST = b64("n,,n=alice,r=abcdefgh")
SCRAM_FINAL = b64("c=biws,r=abcdefghijkl,p=cHJvb2Y=")


# (the exchange as typed, the client lines as masked: None for a line that stays as it was)
EXCHANGES = {
    "plain initial": (["AUTH PLAIN " + b64("\0alice\0wonderland"), "235 ok"], ["AUTH PLAIN ***"]),
    "plain answer": (["AUTH PLAIN", "334 ", b64("\0alice\0wonderland"), "235 ok"], ["AUTH PLAIN", "***"]),
    "login": (["AUTH LOGIN", "334 VXNlcm5hbWU6", b64("alice"), "334 UGFzc3dvcmQ6", b64("wonderland"), "235 ok"],
              ["AUTH LOGIN", b64("alice"), "***"]),
    "login initial": (["auth login " + b64("alice"), "334 UGFzc3dvcmQ6", b64("wonderland"), "235 ok"],
                      ["auth login " + b64("alice"), "***"]),
    "cram-md5": (["AUTH CRAM-MD5", "334 PDEyMzQ+", b64("alice 0123456789abcdef0123456789abcdef"), "235 ok"],
                 ["AUTH CRAM-MD5", "***"]),
    "xoauth2": (["AUTH XOAUTH2 " + b64("user=alice\x01auth=Bearer tok\x01\x01"), "235 ok"], ["AUTH XOAUTH2 ***"]),
    "oauthbearer": (["AUTH OAUTHBEARER " + b64("n,a=alice,\x01auth=Bearer tok\x01\x01"), "334 e30=", "AQ==",
                     "535 no"], ["AUTH OAUTHBEARER ***", "AQ=="]),
    "scram": (["AUTH SCRAM-SHA-256 " + SCRAM_FIRST, "334 " + b64("r=abcdefghijkl,s=c2FsdA==,i=4096"), SCRAM_FINAL,
               "235 ok"],
              ["AUTH SCRAM-SHA-256 " + SCRAM_FIRST, "***"]),
    "scram answers": (["AUTH SCRAM-SHA-1", "334 ", SCRAM_FIRST, "334 " + b64("r=abcdefghijkl,s=c2FsdA==,i=4096"),
                       SCRAM_FINAL, "235 ok"],
                      ["AUTH SCRAM-SHA-1", SCRAM_FIRST, "***"]),
    "cancelled": (["AUTH LOGIN", "334 VXNlcm5hbWU6", "*", "501 cancelled"], ["AUTH LOGIN", "*"]),
    "unknown mechanism": (["AUTH NTLM TlRMTVNTUAABAAAAB4IIAA==", "334 TlRMTVNTUAACAAAA", "TlRMTVNTUAADAAAA",
                           "235 ok"], ["AUTH NTLM ***", "***"]),
}


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_every_mechanism_is_masked_in_a_pasted_telnet_session(name):
    exchange, expected = EXCHANGES[name]
    transcript = read(TELNET.format(exchange="\n".join(exchange)))
    clients = [c.line for c in transcript.client_lines]
    assert clients[0] == "EHLO me" and clients[-2:] == ["MAIL FROM:<a@example.com>", "QUIT"]
    assert clients[1:-2] == expected
    assert [c.secret for c in transcript.client_lines[1:-2]] == [line.endswith("***") for line in expected]
    clear = read(TELNET.format(exchange="\n".join(exchange)), show_secrets=True)
    assert [c.line for c in clear.client_lines[1:-2]] == [line for line in exchange if not line[:3].isdigit()]


def test_a_telnet_paste_with_auth_plain_converts_masked(tmp_path):
    path = tmp_path / "telnet.txt"
    path.write_text(TELNET.format(exchange="AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\n235 2.7.0 ok"))
    for fmt in FORMATS:
        status, out, _ = run(convert_main, [path, "--to", fmt])
        assert status == 0 and "AGFsaWNlAHdvbmRlcmxhbmQ=" not in out, fmt
    _, text, _ = run(convert_main, [path, "--to", "text"])
    assert "AUTH PLAIN ***\n235 2.7.0 ok\n" in text


def test_a_recording_made_with_show_secrets_is_masked_when_converted():
    recording = ('{"smtpshell": 1, "host": "127.0.0.1", "port": 25}\n'
                 '{"t": 0.1, "dir": "server", "code": 220, "lines": ["220 mx"]}\n'
                 '{"t": 0.2, "dir": "client", "line": "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ="}\n'
                 '{"t": 0.3, "dir": "server", "code": 235, "lines": ["235 ok"]}\n')
    status, out, _ = run(convert_main, ["-", "--to", "sc"], stdin=io.StringIO(recording))
    assert status == 0 and "C: AUTH PLAIN ***" in out and "AGFsaWNl" not in out
