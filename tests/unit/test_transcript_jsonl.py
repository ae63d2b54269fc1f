"""The native JSONL format and the recorder: NetEvents in, one flushed line per event out,
byte-exact round trips, secrets masked, a cut-short last line tolerated, write errors reported once."""

import base64
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpshell.net import connection as net
from smtpshell.protocol.session import ReplyEvent, ServerClosed, Session
from smtpshell.transcript.capture import Capture, client_from_wire
from smtpshell.transcript.events import ClientLine, Header, Note, ServerReply, TranscriptError, decode_line
from smtpshell.transcript.jsonl import Recorder, RecordingError, _dumps, encode_event, read_jsonl, write_jsonl
from smtpshell.transcript.readers import read
from smtpshell.transcript.writers import write

SAMPLES = Path(__file__).parent / "samples_transcript"


class Wire:
    """A protocol Session driven by hand, producing the NetEvents a Connection would."""

    def __init__(self, observer):
        self.session = Session()
        self.observer = observer
        self.t = 0.0

    def tick(self, dt=0.25):
        self.t = round(self.t + dt, 6)
        return self.t

    def connected(self, tls=None):
        self.observer(net.Connected(t=self.t, host="mx.example.net", port=25, peer="192.0.2.25:25", tls=tls))

    def server(self, data: bytes):
        self.session.receive_data(data)
        while (event := self.session.next_event()) is not None:
            if isinstance(event, ReplyEvent):
                self.observer(net.Received(t=self.tick(), event=event, latency=0.01))
            elif isinstance(event, ServerClosed):
                self.observer(net.Closed(t=self.tick(), mid_reply=event.mid_reply, expected=event.expected,
                                         reason="the server closed the connection"))

    def send(self, line: str, **kw):
        out = self.session.send_line(line, **kw)
        self.observer(net.Sent(t=self.tick(), outgoing=out))
        return out

    def data(self, *lines: bytes):
        wire = b"".join(self.session.send_data_line(line) for line in lines)
        self.observer(net.SentData(t=self.tick(), data=wire))

    def end_data(self, last: bytes = b""):
        content = self.session.send_data_line(last) if last else b""
        out = self.session.end_data()
        if content:
            self.observer(net.SentData(t=self.tick(), data=content))
        self.observer(net.Sent(t=self.tick(), outgoing=out))


def seed_session(observer):
    """The seed's session, as the net layer reports it (AUTH typed by hand)."""
    w = Wire(observer)
    w.connected()
    w.server(b"220 mymailserver.com ESMTP Postfix\r\n")
    w.send("ehlo h1.home.net")
    w.server(b"250-mymailserver.com\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
    w.send("auth login dXNlcm5hbWU=")
    w.server(b"334 UGFzc3dvcmQ6\r\n")
    w.send("cGFzc3dvcmQ=")
    w.server(b"235 Authentication successful\r\n")
    w.send("mail from:<norbert@acodedb.com>")
    w.server(b"250 Ok\r\n")
    w.send("data")
    w.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    w.data(b"subject:test", b"", b".hidden", b"250 apples")
    w.end_data(b"caf\xe9")  # the last line goes with the dot, as the shell sends it
    w.server(b"250 Ok: queued as 308EBE0575E7\r\n")
    w.send("quit")
    w.server(b"221 Bye\n")  # a bare LF: kept exactly
    w.server(b"")
    return w


def record(tmp_path, **kw) -> Path:
    path = tmp_path / "session.jsonl"
    recorder = Recorder(path, host="mymailserver.com", port=25, started="2024-01-01T10:00:00.000+00:00", **kw)
    recorder.capture._start, recorder.capture._clock = 0.0, lambda: 0.0  # times: the events' own
    seed_session(recorder)
    recorder.close()
    return path


def test_recorder_writes_the_header_then_one_line_per_event(tmp_path):
    path = record(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["smtpshell"] == 1 and header["host"] == "mymailserver.com" and header["port"] == 25
    assert header["started"] == "2024-01-01T10:00:00.000+00:00" and header["version"]
    objs = [json.loads(line) for line in lines[1:]]
    assert objs[0] == {"t": 0.0, "dir": "info", "text": "connected to mx.example.net:25 (192.0.2.25:25)"}
    assert objs[1] == {"t": 0.25, "dir": "server", "code": 220, "lines": ["220 mymailserver.com ESMTP Postfix"]}
    assert objs[2] == {"t": 0.5, "dir": "client", "line": "ehlo h1.home.net"}
    times = [o["t"] for o in objs]
    assert times == sorted(times)


def test_secrets_are_masked_unless_asked(tmp_path):
    objs = [json.loads(line) for line in record(tmp_path).read_text().splitlines()[1:]]
    clients = [o for o in objs if o["dir"] == "client"]
    assert {"t": clients[1]["t"], "dir": "client", "line": "auth login ***", "secret": True} == clients[1]
    assert clients[2]["line"] == "***" and clients[2]["secret"] is True
    text = (tmp_path / "session.jsonl").read_text()
    assert "dXNlcm5hbWU=" not in text and "cGFzc3dvcmQ=" not in text
    shown = [json.loads(line) for line in record(tmp_path, show_secrets=True).read_text().splitlines()[1:]]
    assert [o["line"] for o in shown if o["dir"] == "client"][1:3] == ["auth login dXNlcm5hbWU=", "cGFzc3dvcmQ="]


def test_message_content_is_one_unstuffed_line_each_with_raw_only_where_needed(tmp_path):
    transcript = read(record(tmp_path).read_text())
    data = [e for e in transcript.client_lines if e.data]
    assert [e.line for e in data] == ["subject:test", "", ".hidden", "250 apples", "caf\\xe9"]
    assert [e.raw for e in data] == [None, None, None, None, b"caf\xe9\r\n"]
    assert data[2].wire == b"..hidden\r\n"  # stuffed on the wire
    dot = transcript.client_lines[-2]
    assert dot.line == "." and not dot.data
    assert [r.code for r in transcript.replies] == [220, 250, 334, 235, 250, 354, 250, 221]
    assert transcript.replies[-1].raw == b"221 Bye\n"
    assert transcript.events[-1] == Note(t=transcript.events[-1].t, kind="info", text="connection closed")


def test_jsonl_round_trips_byte_for_byte(tmp_path):
    original = record(tmp_path).read_bytes()
    transcript = read(original.decode("utf-8"))
    assert transcript.notation == "jsonl"
    assert write(transcript, "jsonl").encode("utf-8") == original
    assert write_jsonl(read_jsonl(original.decode("utf-8"))).encode("utf-8") == original


def test_every_sample_converted_to_jsonl_round_trips():
    for path in sorted(SAMPLES.glob("*.txt")):
        once = write(read(path.read_text(encoding="utf-8")), "jsonl")
        assert write(read(once), "jsonl") == once, path.name


def test_a_last_line_cut_short_is_tolerated_anywhere_in_it(tmp_path):
    text = record(tmp_path).read_text()
    complete = text.rstrip("\n").rsplit("\n", 1)[0] + "\n"
    events = len(read_jsonl(complete))
    for cut in range(len(complete) + 1, len(text) - 1):
        assert len(read_jsonl(text[:cut])) in (events, events + 1)


def test_a_bad_line_in_the_middle_is_an_error_with_its_number(tmp_path):
    lines = record(tmp_path).read_text().splitlines(keepends=True)
    lines[3] = lines[3][:10] + "\n"
    with pytest.raises(TranscriptError, match="line 4: not JSON"):
        read_jsonl("".join(lines))


def test_event_fields_are_checked():
    head = '{"smtpshell": 1, "host": null, "port": null, "started": null, "version": null}\n'
    for bad, message in [
        ('{"t": "soon", "dir": "info", "text": "x"}', "'t'"),
        ('{"t": 1.0, "dir": "server", "code": "250", "lines": []}', "'code'"),
        ('{"t": 1.0, "dir": "server", "code": true, "lines": []}', "'code'"),
        ('{"t": 1.0, "dir": "server", "code": 250, "lines": [1]}', "'lines'"),
        ('{"t": 1.0, "dir": "client", "line": "x", "raw": "!!"}', "base64"),
        ('{"t": Infinity, "dir": "info", "text": "x"}', "'t'"),
        ('[1, 2]', "not a JSON object"),
    ]:
        with pytest.raises(TranscriptError, match=message):
            read_jsonl(head + bad + "\n")


def test_write_jsonl_takes_events_and_adds_a_header():
    events = [ClientLine(t=None, line="NOOP"), ServerReply(t=1.5, code=250, lines=("250 ok",))]
    text = write_jsonl(events)
    assert text.splitlines()[0] == '{"smtpshell": 1, "host": null, "port": null, "started": null, "version": null}'
    assert read_jsonl(text) == [Header(), *events]


def test_raw_bytes_sent_with_raw_outside_data():
    capture = Capture(keep=True)
    capture(net.Connected(t=0.0, host="h", port=25, peer="h:25", tls=None))
    capture(net.SentData(t=0.1, data=b"NOOP\n"))  # :raw NOOP\n: a bare LF
    capture(net.SentData(t=0.2, data=b"NOOP\r\n"))
    raw_lf, plain = capture.events[1:]
    assert raw_lf == ClientLine(t=raw_lf.t, line="NOOP\n", raw=b"NOOP\n")
    assert plain.raw is None and plain.line == "NOOP"
    assert base64.b64decode(json.loads(write_jsonl(capture.events).splitlines()[2])["raw"]) == b"NOOP\n"


def test_times_follow_the_capture_clock_across_reconnects():
    now = [100.0]
    capture = Capture(keep=True, clock=lambda: now[0])
    now[0] = 102.0  # the recording started 2 s before the connection
    capture(net.Connected(t=0.0, host="h", port=25, peer="h:25", tls=None))
    capture(net.NetError(t=1.0, text="oops"))
    now[0] = 110.0  # a second connection: its clock starts again at 0
    capture(net.Connected(t=0.0, host="h", port=25, peer="h:25", tls=None))
    assert [e.t for e in capture.events] == [2.0, 3.0, 10.0]


def test_a_write_error_raises_once_then_recording_stops():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(RecordingError, match="/dev/full.*No space left"):
        Recorder("/dev/full", host="h", port=25)
    errors = []
    recorder = Recorder("/dev/full", host="h", port=25, on_error=errors.append)
    assert len(errors) == 1 and recorder.closed
    recorder(net.NetError(t=0.0, text="more"))  # ignored, no second report
    assert len(errors) == 1


def test_a_write_error_mid_session_is_reported_once(tmp_path, monkeypatch):
    recorder = Recorder(tmp_path / "r.jsonl", host="h", port=25)
    real_write = os.write

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(RecordingError, match="stopped: No space left on device"):
        recorder(net.NetError(t=0.0, text="x"))
    recorder(net.NetError(t=0.1, text="y"))  # no second error
    monkeypatch.setattr(os, "write", real_write)
    assert recorder.closed and recorder.error is not None


def test_cannot_record_into_a_missing_directory(tmp_path):
    with pytest.raises(RecordingError, match="cannot record to .*No such file"):
        Recorder(tmp_path / "nowhere" / "r.jsonl", host="h", port=25)


def test_the_recording_is_private(tmp_path):
    path = record(tmp_path)
    assert path.stat().st_mode & 0o077 == 0


def test_lone_surrogates_in_a_foreign_file_become_visible_text():
    head = '{"smtpshell": 1, "host": "h\\udcff", "port": 25, "started": null, "version": null}\n'
    line = '{"t": 1.0, "dir": "server", "code": 250, "lines": ["250 \\udd00"]}\n'
    header, reply = read_jsonl(head + line)
    assert header.host == "h\\xff" and reply.lines == ("250 \\xed\\xb4\\x80",)
    assert write_jsonl([header, reply]).encode("utf-8")


def test_save_the_session_so_far_from_a_kept_capture(tmp_path):
    from smtpshell.transcript.jsonl import save_jsonl

    capture = Capture(keep=True)
    seed_session(capture)
    path = tmp_path / "saved.jsonl"
    save_jsonl(path, [Header(host="mymailserver.com", port=25), *capture.events])
    transcript = read(path.read_text(encoding="utf-8"))
    assert [r.code for r in transcript.replies] == [220, 250, 334, 235, 250, 354, 250, 221]
    with pytest.raises(RecordingError, match="cannot save to"):
        save_jsonl(tmp_path / "no" / "such.jsonl", capture.events)


# The fast paths for message content (a 100 MB message is 1.5 million lines) must give exactly
# what the general paths give.


def _client_from_wire_general(t, wire, data):
    body = wire[:-2] if wire.endswith(b"\r\n") else wire
    if data and body.startswith(b"."):
        body = body[1:]
    event = ClientLine(t=t, line=decode_line(body), data=data)
    return event if event.wire == wire else replace(event, raw=wire)


@given(st.sampled_from([b"", b".", b"..", b"\r", b"\n", b"a", b"\xc3\xa9", b"\xff"]),
        st.binary(max_size=6), st.booleans(), st.booleans())
def test_content_lines_from_the_wire_as_the_general_path_reads_them(head, rest, data, crlf):
    wire = head + rest + (b"\r\n" if crlf else b"")
    assert client_from_wire(1.5, wire, data=data) == _client_from_wire_general(1.5, wire, data)


@given(st.one_of(st.none(), st.floats(0, 1e6)), st.text())
def test_content_lines_encode_as_json_dumps_would(t, line):
    event = ClientLine(t=t, line=line, data=True)
    assert encode_event(event) == _dumps({"t": t, "dir": "client", "line": line, "data": True})
