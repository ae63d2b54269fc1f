"""XCLIENT (Postfix XCLIENT_README): xtext encoding, the line built, the warnings, and what the
session does with the 220 (a new session: EHLO needed again)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpshell.protocol import xclient
from smtpshell.protocol.session import Phase, Session


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("mail.example.com", "mail.example.com"),
        ("192.0.2.1", "192.0.2.1"),
        ("IPV6:2001:db8::1", "IPV6:2001:db8::1"),
        ("[UNAVAILABLE]", "[UNAVAILABLE]"),
        ("a b", "a+20b"),  # space is outside "!".."~"
        ("a+b", "a+2Bb"),  # '+' and '=' are always encoded (RFC 3461 4)
        ("x=y", "x+3Dy"),
        ("tab\there", "tab+09here"),
        ("ü", "+C3+BC"),  # non-ASCII: its UTF-8 bytes
        ("~!", "~!"),
        ("\x7f", "+7F"),
        ("", ""),
    ],
)
def test_xtext_encode(value, encoded):
    assert xclient.xtext_encode(value) == encoded
    assert xclient.xtext_decode(encoded) == value


@given(st.text())
def test_xtext_round_trip_and_alphabet(value):
    encoded = xclient.xtext_encode(value)
    assert all(33 <= ord(c) <= 126 and c != "=" for c in encoded)
    assert xclient.xtext_decode(encoded) == value


def test_xtext_decode_keeps_a_lone_plus():
    assert xclient.xtext_decode("a+zz+4") == "a+zz+4"


def test_build_line_encodes_values():
    attrs = xclient.parse_attributes(["name=client.example", "HELO=my helo", "ADDR=192.0.2.7"])
    assert attrs == [("NAME", "client.example"), ("HELO", "my helo"), ("ADDR", "192.0.2.7")]
    assert xclient.build_line(attrs) == "XCLIENT NAME=client.example HELO=my+20helo ADDR=192.0.2.7"


@pytest.mark.parametrize("word", ["NAME", "=value", "plain"])
def test_parse_attributes_wants_name_equals_value(word):
    with pytest.raises(ValueError, match="is not NAME=VALUE"):
        xclient.parse_attributes([word])


@pytest.mark.parametrize(
    ("name", "value", "sent", "noted"),
    [
        ("ADDR", "2001:db8::1", "IPV6:2001:db8::1", True),
        ("DESTADDR", "[2001:db8::25]", "IPV6:2001:db8::25", True),
        ("ADDR", "IPV6:2001:db8::1", "IPV6:2001:db8::1", False),
        ("ADDR", "192.0.2.1", "192.0.2.1", False),
        ("ADDR", "[UNAVAILABLE]", "[UNAVAILABLE]", False),
        ("NAME", "2001:db8::1", "2001:db8::1", False),
        ("ADDR", "not-an-address", "not-an-address", False),
    ],
)
def test_normalise_adds_ipv6_prefix(name, value, sent, noted):
    out, note = xclient.normalise(name, value)
    assert out == sent
    assert (note is not None) == noted


@pytest.mark.parametrize(
    ("attrs", "advertised", "expected"),
    [
        ([("NAME", "x"), ("ADDR", "192.0.2.1")], ("NAME", "ADDR"), []),
        ([("NAME", "x")], None, []),
        ([("COLOR", "red")], None, ["COLOR is not an XCLIENT attribute"]),
        ([("LOGIN", "alice")], ("NAME", "ADDR"), ["the server did not list LOGIN after XCLIENT"]),
        ([("ADDR", "nowhere")], None, ["ADDR=nowhere: not an IP address"]),
        ([("ADDR", "IPV6:nope")], None, ["ADDR=IPV6:nope: not an IP address"]),
        ([("PORT", "99999")], None, ["PORT=99999: not a port number"]),
        ([("DESTPORT", "x")], None, ["DESTPORT=x: not a port number"]),
        ([("PROTO", "LMTP")], None, ["PROTO=LMTP: Postfix accepts SMTP or ESMTP"]),
        ([("PROTO", "esmtp"), ("NAME", "[TEMPUNAVAIL]"), ("ADDR", "[UNAVAILABLE]")], None, []),
    ],
)
def test_warnings(attrs, advertised, expected):
    got = xclient.warnings(attrs, advertised)
    assert len(got) == len(expected)
    for text, start in zip(got, expected):
        assert text.startswith(start), text


@pytest.mark.parametrize(
    ("line", "login"),
    [
        ("XCLIENT NAME=x LOGIN=alice", "alice"),
        ("XCLIENT login=bob+40example.com", "bob@example.com"),
        ("XCLIENT LOGIN=[UNAVAILABLE]", None),
        ("XCLIENT NAME=x", None),
    ],
)
def test_login_of(line, login):
    assert xclient.login_of(line) == login


# ----- the session -----------------------------------------------------------------

EHLO = b"250-mx.example\r\n250-PIPELINING\r\n250-XCLIENT NAME ADDR PROTO HELO LOGIN\r\n250 8BITMIME\r\n"


def greeted() -> Session:
    session = Session()
    session.receive_data(b"220 mx.example ESMTP\r\n")
    session.send_line("EHLO client.example")
    session.receive_data(EHLO)
    while session.next_event():
        pass
    assert session.greeted and "XCLIENT" in session.capabilities
    return session


def test_xclient_220_starts_a_new_session():
    session = greeted()
    out = session.send_line("XCLIENT NAME=spike.example ADDR=192.0.2.7 LOGIN=alice")
    assert out.warnings == ()  # advertised: no warning
    session.receive_data(b"220 mx.example ESMTP\r\n")
    event = session.next_event()
    assert event.command is out.command and event.reply.code == 220
    assert session.phase is Phase.READY
    assert not session.greeted and session.capabilities is None
    assert session.auth_user == "alice"  # Postfix treats LOGIN as the SASL login
    warnings = session.send_line("MAIL FROM:<a@example.com>").warnings
    assert any("MAIL before EHLO" in w for w in warnings)


def test_xclient_refused_keeps_the_session():
    session = greeted()
    session.send_line("XCLIENT NAME=spike.example")
    session.receive_data(b"550 5.7.0 Error: insufficient authorization\r\n")
    session.next_event()
    assert session.greeted and session.capabilities is not None


def test_xclient_not_advertised_is_warned():
    session = Session()
    session.receive_data(b"220 mx.example ESMTP\r\n")
    session.send_line("EHLO client.example")
    session.receive_data(b"250-mx.example\r\n250 PIPELINING\r\n")
    out = session.send_line("XCLIENT NAME=x")
    assert "the server did not advertise XCLIENT" in out.warnings
