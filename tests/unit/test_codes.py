"""Explanations of reply codes, enhanced status codes and EHLO keywords, from the package-data
tables: every row loads and is found by its public lookup."""

import re
from importlib import resources

import pytest

from smtpshell.protocol import codes

TABLES = resources.files("smtpshell.protocol.tables")
KEY_FORMAT = {
    "reply_codes.tsv": re.compile(r"[2-5][0-9]{2}"),
    "enhanced_codes.tsv": re.compile(r"X\.[0-9]{1,3}\.[0-9]{1,3}"),
    "ehlo_keywords.tsv": re.compile(r"[A-Z0-9][A-Z0-9-]*"),
}


def table_rows():
    rows = []
    for entry in sorted(TABLES.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".tsv"):
            continue
        for number, line in enumerate(entry.read_text("utf-8").splitlines(), 1):
            if line and not line.startswith("#"):
                rows.append(pytest.param(entry.name, line, id=f"{entry.name}:{number}"))
    return rows


ROWS = table_rows()


def test_every_table_is_known():
    names = sorted(e.name for e in TABLES.iterdir() if e.name.endswith(".tsv"))
    assert names == sorted(KEY_FORMAT)


@pytest.mark.parametrize(("table", "line"), ROWS)
def test_row_loads_and_is_found_by_its_lookup(table, line):
    fields = line.split("\t")
    assert len(fields) == 3, "key, meaning, source: tab-separated"
    key, meaning, source = fields
    assert KEY_FORMAT[table].fullmatch(key)
    assert meaning and meaning == meaning.strip()
    assert source and source == source.strip()
    if table == "reply_codes.tsv":
        assert codes.explain_code(int(key)) == meaning
        assert codes.code_source(int(key)) == source
    elif table == "enhanced_codes.tsv":
        for cls in "245":
            assert codes.explain_enhanced(cls + key[1:]) == meaning
    else:
        explained = codes.explain_keyword(key)
        if key == "SIZE":
            assert explained.startswith("message size")
        elif key == "AUTH":
            assert explained.startswith("SMTP authentication")
        else:
            assert explained == meaning
            assert codes.explain_keyword(key.lower()) == meaning


@pytest.mark.parametrize("table", sorted(KEY_FORMAT))
def test_keys_are_unique(table):
    keys = [
        line.split("\t")[0]
        for line in TABLES.joinpath(table).read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(keys) == len(set(keys))
    assert keys


# ----- lookups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (535, "authentication credentials invalid"),
        (550, "mailbox unavailable (not found, no access, or rejected for policy)"),
        (599, "permanent failure: do not retry as is"),
        (499, "temporary failure: try again later"),
        (299, "success"),
        (399, "intermediate: the server waits for more"),
        (199, None),
        (699, None),
    ],
)
def test_explain_code(code, meaning):
    assert codes.explain_code(code) == meaning


def test_code_source():
    assert codes.code_source(535) == "RFC 4954"
    assert codes.code_source(599) is None


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("5.7.8", "authentication credentials invalid"),
        ("4.7.8", "authentication credentials invalid"),
        ("5.1.1", "bad destination mailbox address (no such user)"),
        ("2.0.0", "other undefined status"),
        ("3.7.8", None),  # no such class in RFC 3463
        ("1.1.1", None),
        ("X.7.8", None),
        ("5.99.99", None),
        ("5.7", None),
        ("", None),
    ],
)
def test_explain_enhanced(code, meaning):
    assert codes.explain_enhanced(code) == meaning


@pytest.mark.parametrize(
    ("keyword", "params", "meaning"),
    [
        ("SIZE", ("10240000",), "maximum message size 10 MB"),  # PRODUCT.md's own example
        ("SIZE", ("1000",), "maximum message size 1 kB"),
        ("SIZE", ("0",), "message size declared with SIZE=, no fixed limit"),
        ("SIZE", (), "message size declared with SIZE=, no fixed limit"),
        ("size", ("abc",), "message size declared with SIZE=, no fixed limit"),
        ("AUTH", ("PLAIN", "LOGIN"), "SMTP authentication with: PLAIN LOGIN"),
        ("AUTH", (), "SMTP authentication with: none listed"),
        ("pipelining", (), "commands may be sent without waiting for each reply"),
        ("XSOMETHING", (), "a vendor extension (not registered with IANA)"),
        ("NOSUCHTHING", (), None),
    ],
)
def test_explain_keyword(keyword, params, meaning):
    assert codes.explain_keyword(keyword, params) == meaning


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1 kB"),
        (1500, "1.5 kB"),
        (10**6, "1 MB"),
        (10240000, "10 MB"),  # the docstring's example
        (2 * 10**9, "2 GB"),
    ],
)
def test_human_size(n, shown):
    assert codes.human_size(n) == shown


@pytest.mark.parametrize("n", [999_999, 999_500, 999_999_999, 1500 * 10**9, 10**13])
def test_human_size_never_uses_exponent_notation(n):
    shown = codes.human_size(n)
    number, unit = shown.split(" ")
    assert "e" not in number, shown
    scale = {"bytes": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}[unit]
    assert abs(float(number) * scale - n) <= 0.01 * n


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("VXNlcm5hbWU6", b"Username:"),
        ("  UGFzc3dvcmQ6  ", b"Password:"),
        ("=", b""),
        ("not base64!", None),
        ("VXNlcm5hbWU", None),  # bad padding
    ],
)
def test_decode_b64(text, decoded):
    assert codes.decode_b64(text) == decoded
