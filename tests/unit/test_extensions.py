"""EHLO capabilities: keywords and parameters, the old AUTH= form, duplicates, SIZE."""

import pytest

from smtpshell.protocol.extensions import Capabilities, Change, compare, parse_ehlo
from smtpshell.protocol.replies import ReplyParser


def ehlo(*keyword_lines: str, name: str = "mx.example.com") -> Capabilities:
    lines = [name, *keyword_lines]
    wire = "".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}\r\n" for i, text in enumerate(lines))
    (reply,) = ReplyParser().feed(wire.encode())
    return parse_ehlo(reply)


def test_greeting_and_lines():
    caps = ehlo("PIPELINING", "SIZE 1000", name="mx.example.com Hello client [192.0.2.1]")
    assert caps.greeting == "mx.example.com Hello client [192.0.2.1]"
    assert caps.lines == ("PIPELINING", "SIZE 1000")
    assert list(caps.keywords) == ["PIPELINING", "SIZE"]


def test_single_line_reply_has_no_keywords():
    caps = ehlo()
    assert caps.keywords == {}
    assert caps.auth_mechanisms == ()
    assert caps.size_limit is None
    assert "PIPELINING" not in caps


@pytest.mark.parametrize(
    ("lines", "mechanisms"),
    [
        (["AUTH PLAIN LOGIN"], ("PLAIN", "LOGIN")),
        (["AUTH=PLAIN LOGIN"], ("PLAIN", "LOGIN")),
        (["auth=login"], ("LOGIN",)),
        (["AUTH PLAIN LOGIN CRAM-MD5", "AUTH=LOGIN"], ("PLAIN", "LOGIN", "CRAM-MD5")),
        (["AUTH=LOGIN PLAIN", "AUTH GSSAPI NTLM LOGIN"], ("LOGIN", "PLAIN", "GSSAPI", "NTLM")),
        (["AUTH plain login"], ("PLAIN", "LOGIN")),
        (["AUTH PLAIN", "AUTH XOAUTH2"], ("PLAIN", "XOAUTH2")),
        (["AUTH"], ()),
        (["PIPELINING"], ()),
    ],
)
def test_auth_mechanisms(lines, mechanisms):
    assert ehlo(*lines).auth_mechanisms == mechanisms


@pytest.mark.parametrize(
    "lines",
    [
        ("AUTH PLAIN LOGIN", "AUTH=login"),
        ("AUTH PLAIN LOGIN", "AUTH login"),
        ("AUTH PLAIN login", "AUTH=LOGIN"),
    ],
)
def test_duplicate_mechanisms_differing_in_case_are_one(lines):
    # Mechanism names are case-insensitive (RFC 4422 3.1): "login" and "LOGIN" are one,
    # so AUTH completion and the :caps table must not list LOGIN twice.
    assert ehlo(*lines).auth_mechanisms == ("PLAIN", "LOGIN")


def test_auth_equals_folds_into_auth():
    caps = ehlo("AUTH=PLAIN LOGIN")
    assert "AUTH" in caps
    assert "AUTH=PLAIN" not in caps.keywords
    assert list(caps.keywords) == ["AUTH"]


@pytest.mark.parametrize(
    ("lines", "limit"),
    [
        (["SIZE 10240000"], 10240000),
        (["SIZE 0"], None),  # 0: no fixed limit
        (["SIZE"], None),
        (["SIZE unlimited"], None),
        (["size 52428800"], 52428800),
        ([], None),
    ],
)
def test_size_limit(lines, limit):
    assert ehlo(*lines).size_limit == limit


@pytest.mark.parametrize("asked", ["STARTTLS", "starttls", "StartTls"])
def test_keywords_case_insensitive(asked):
    caps = ehlo("starttls", "8bitmime")
    assert asked in caps
    assert "8BITMIME" in caps
    assert caps.params(asked.lower()) == ()


def test_params_kept_in_order():
    caps = ehlo("DSN", "LIMITS RCPTMAX=100 MAILMAX=10", "X-FOO a b c")
    assert caps.params("limits") == ("RCPTMAX=100", "MAILMAX=10")
    assert caps.params("X-FOO") == ("a", "b", "c")
    assert caps.params("DSN") == ()
    assert caps.params("NOPE") == ()


def test_duplicate_keyword_params_merged_without_repeats():
    caps = ehlo("X-FOO a b", "X-FOO b c")
    assert caps.params("X-FOO") == ("a", "b", "c")


def test_blank_capability_line_skipped():
    (reply,) = ReplyParser().feed(b"250-mx\r\n250-\r\n250 PIPELINING\r\n")
    caps = parse_ehlo(reply)
    assert list(caps.keywords) == ["PIPELINING"]


def test_compare_before_and_after_starttls_as_postfix_submission_does():
    """Postfix on 587: STARTTLS withdrawn, AUTH offered only over TLS, SIZE raised (a made-up change)."""
    plain = ehlo("PIPELINING", "SIZE 10240000", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME")
    tls = ehlo("PIPELINING", "SIZE 20480000", "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME")
    assert compare(plain, tls) == [
        Change("changed", "SIZE", before=("10240000",), after=("20480000",)),
        Change("added", "AUTH", after=("PLAIN", "LOGIN")),
        Change("removed", "STARTTLS", before=()),
    ]


def test_compare_ignores_case_of_parameters_only():
    assert compare(ehlo("AUTH plain login"), ehlo("AUTH PLAIN LOGIN")) == []
    assert compare(ehlo("AUTH PLAIN LOGIN"), ehlo("AUTH LOGIN PLAIN"))[0].kind == "changed"
