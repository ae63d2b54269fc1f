"""HOST [PORT] on the command line: HOST, HOST:PORT, [v6]:PORT, [v6], a bare v6 literal."""

import pytest

from smtpshell.net.address import parse_target


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("mail.example.com", None, ("mail.example.com", None)),
        ("mail.example.com:2525", None, ("mail.example.com", 2525)),
        ("mail.example.com", "587", ("mail.example.com", 587)),
        ("host", "587", ("host", 587)),
        ("192.0.2.1:25", None, ("192.0.2.1", 25)),
        ("[::1]:2525", None, ("::1", 2525)),
        ("[::1]", None, ("::1", None)),
        ("[::1]", "25", ("::1", 25)),
        ("::1", None, ("::1", None)),
        ("::1", "25", ("::1", 25)),
        ("2001:db8::25", None, ("2001:db8::25", None)),
        ("[2001:db8::25]:465", None, ("2001:db8::25", 465)),
        ("host", "1", ("host", 1)),
        ("host", "65535", ("host", 65535)),
        ("host:00025", None, ("host", 25)),
    ],
)
def test_parse_target(host, port, expected):
    assert parse_target(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("host", "0", "bad port '0'"),
        ("host", "70000", "bad port '70000'"),
        ("host", "65536", "bad port '65536'"),
        ("host", "abc", "bad port 'abc'"),
        ("host", "-1", "bad port '-1'"),
        ("host", "", "bad port ''"),
        ("host:0", None, "bad port '0'"),
        ("host:abc", None, "bad port 'abc'"),
        ("host:", None, "bad port ''"),
        ("[::1]:", None, "bad port ''"),
        ("[::1]:70000", None, "bad port '70000'"),
        ("host:25", "25", "the port is given twice"),
        ("[::1]:25", "587", "the port is given twice"),
        ("[::1", None, "missing ']'"),
        ("[::1]x", None, "unexpected 'x'"),
        ("[::1]25", None, "unexpected '25'"),
        ("", None, "no host given"),
        (":25", None, "no host given"),
        ("[]:25", None, "no host given"),
    ],
)
def test_parse_target_errors(host, port, message):
    with pytest.raises(ValueError) as info:
        parse_target(host, port)
    assert message in str(info.value)
