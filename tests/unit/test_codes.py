"""Explanations of reply codes, enhanced status codes, EHLO keywords and common failures, from the
package-data tables: every row well formed and found by its public lookup, the registries covered,
every source a known RFC (or a named vendor or draft), every common failure matched from a reply
as real servers write it."""

import fnmatch
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from smtpshell.protocol import codes
from smtpshell.protocol.replies import ReplyParser

TABLES = resources.files("smtpshell.protocol.tables")
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# table -> (key format, number of tab-separated fields)
TSV = {
    "reply_codes.tsv": (re.compile(r"[2-5][0-9]{2}"), 4),
    "enhanced_codes.tsv": (re.compile(r"X\.[0-9]{1,3}\.[0-9]{1,3}"), 4),
    "enhanced_parts.tsv": (re.compile(r"[245]\.XXX\.YYY|X\.[0-9]{1,3}\.YYY"), 4),
    # RFC 5321 ehlo-keyword, plus what vendors really send: "PIPE_CONNECT", "AUTH=" (the old form)
    "ehlo_keywords.tsv": (re.compile(r"[A-Z0-9][A-Z0-9_-]*=?"), 5),
    "sasl_mechanisms.tsv": (re.compile(r"[A-Z0-9][A-Z0-9_-]*"), 4),
}
OTHER_TABLES = {"failures.json", "verbs.tsv", "routine_replies.tsv"}  # verbs.tsv: test_toolbar.py; routine_replies.tsv below

# Every RFC a table cites, with its title: a typo in a source ("RFC 7327") fails here.
KNOWN_RFCS = {
    821: "Simple Mail Transfer Protocol (1982)",
    1845: "SMTP Service Extension for Checkpoint/Restart",
    1870: "SMTP Service Extension for Message Size Declaration",
    1985: "SMTP Service Extension for Remote Message Queue Starting",
    2034: "SMTP Service Extension for Returning Enhanced Error Codes",
    2195: "IMAP/POP AUTHorize Extension for Simple Challenge/Response (CRAM-MD5)",
    2645: "On-Demand Mail Relay (ODMR) SMTP with Dynamic IP Addresses",
    2831: "Using Digest Authentication as a SASL Mechanism",
    2852: "Deliver By SMTP Service Extension",
    2920: "SMTP Service Extension for Command Pipelining",
    3030: "SMTP Service Extensions for Transmission of Large and Binary MIME Messages",
    3207: "SMTP Service Extension for Secure SMTP over Transport Layer Security",
    3461: "SMTP Service Extension for Delivery Status Notifications",
    3463: "Enhanced Mail System Status Codes",
    3865: "A No Soliciting SMTP Service Extension",
    3885: "SMTP Service Extension for Message Tracking",
    3886: "An Extensible Message Format for Message Tracking Responses",
    4141: "SMTP and MIME Extensions for Content Conversion",
    4405: "SMTP Service Extension for Indicating the Responsible Submitter of an E-Mail Message",
    4422: "Simple Authentication and Security Layer (SASL)",
    4468: "Message Submission BURL Extension",
    4505: "Anonymous SASL Mechanism",
    4616: "The PLAIN SASL Mechanism",
    4752: "The Kerberos V5 (GSSAPI) SASL Mechanism",
    4865: "SMTP Submission Service Extension for Future Message Release",
    4954: "SMTP Service Extension for Authentication",
    5248: "A Registry for SMTP Enhanced Mail System Status Codes",
    5321: "Simple Mail Transfer Protocol",
    5336: "SMTP Extension for Internationalized Email Addresses (experimental)",
    5802: "Salted Challenge Response Authentication Mechanism (SCRAM)",
    6152: "SMTP Service Extension for 8-bit MIME Transport",
    6331: "Moving DIGEST-MD5 to Historic",
    6376: "DomainKeys Identified Mail (DKIM) Signatures",
    6531: "SMTP Extension for Internationalized Email",
    6710: "Simple Mail Transfer Protocol Extension for Message Transfer Priorities",
    7208: "Sender Policy Framework (SPF)",
    7293: "The Require-Recipient-Valid-Since Header Field and SMTP Service Extension",
    7372: "Email Authentication Status Codes",
    7504: "SMTP 521 and 556 Reply Codes",
    7505: "A \"Null MX\" No Service Resource Record for Domains That Accept No Mail",
    7601: "Message Header Field for Indicating Message Authentication Status",
    7628: "A Set of SASL Mechanisms for OAuth (OAUTHBEARER)",
    7677: "SCRAM-SHA-256 and SCRAM-SHA-256-PLUS SASL Mechanisms",
    8617: "The Authenticated Received Chain (ARC) Protocol",
    8689: "SMTP Require TLS Option",
    9422: "The LIMITS SMTP Service Extension",
}
KNOWN_OTHER_SOURCES = {
    # vendors whose extensions or mechanisms are not in an RFC
    "Postfix", "Exim", "Sendmail", "Microsoft", "Google",
    # drafts the IANA registries (or the mechanism) refer to
    "draft-levine-mailbomb-header", "draft-murchison-sasl-login",
}


def sources(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def assert_known_source(text: str):
    assert text and text == text.strip()
    for source in sources(text):
        m = re.fullmatch(r"RFC ([0-9]+)", source)
        if m:
            assert int(m.group(1)) in KNOWN_RFCS, f"unknown RFC in source {text!r}"
        else:
            assert source in KNOWN_OTHER_SOURCES, f"unknown source {source!r}"


def table_lines(name):
    for number, line in enumerate(TABLES.joinpath(name).read_text("utf-8").splitlines(), 1):
        if line and not line.startswith("#"):
            yield number, line


ROWS = [
    pytest.param(name, line, id=f"{name}:{number}")
    for name in sorted(TSV)
    for number, line in table_lines(name)
]


# ----- the tables are well formed --------------------------------------------------------------------


def test_every_table_is_known():
    names = sorted(e.name for e in TABLES.iterdir() if e.name.endswith((".tsv", ".json", ".toml")))
    assert names == sorted([*TSV, *OTHER_TABLES])


def test_every_table_is_shipped_as_package_data():
    """A table missing from [tool.setuptools.package-data] is missing from the wheel."""
    config = tomllib.loads(PYPROJECT.read_text("utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["smtpshell.protocol"]
    for name in [*TSV, *OTHER_TABLES]:
        assert any(fnmatch.fnmatch(f"tables/{name}", glob) for glob in globs), name


@pytest.mark.parametrize(("table", "line"), ROWS)
def test_row_is_well_formed(table, line):
    key_format, width = TSV[table]
    fields = line.split("\t")
    assert len(fields) == width, "tab-separated fields: " + " | ".join(fields)
    assert key_format.fullmatch(fields[0])
    for field in fields:
        assert field and field == field.strip()
    source = fields[3]
    assert_known_source(source)
    if table == "ehlo_keywords.tsv":
        assert fields[4] in ("IANA", "vendor")
        if fields[4] == "IANA":
            assert not fields[0].startswith("X")  # RFC 5321 2.2.2: X keywords are never registered
    if table == "sasl_mechanisms.tsv":
        assert fields[2] in ("readable", "hashed", "token", "safe")


@pytest.mark.parametrize("table", sorted(TSV))
def test_keys_are_unique(table):
    keys = [line.split("\t")[0] for _, line in table_lines(table)]
    assert keys
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("table", "line"), ROWS)
def test_row_is_found_by_its_lookup(table, line):
    key, meaning, detail, source, *rest = line.split("\t")
    if table == "reply_codes.tsv":
        assert codes.explain_code(int(key)) == meaning
        assert codes.code_source(int(key)) == source
        assert codes.code_info(int(key)).detail == detail
    elif table == "enhanced_codes.tsv":
        for cls in "245":
            assert codes.explain_enhanced(cls + key[1:]) == meaning
            assert codes.enhanced_info(cls + key[1:]).source == source
    elif table == "enhanced_parts.tsv":
        if key[0] in "245":
            assert codes.enhanced_class(f"{key[0]}.0.0").meaning == meaning
        else:
            assert codes.enhanced_subject(f"5.{key.split('.')[1]}.0").meaning == meaning
    elif table == "sasl_mechanisms.tsv":
        assert codes.sasl_info(key.lower()).meaning == meaning
    else:
        info = codes.keyword_info(key.lower())
        assert (info.meaning, info.detail, info.source, info.registry) == (meaning, detail, source, rest[0])
        explained = codes.explain_keyword(key)
        if key.rstrip("=") == "SIZE":
            assert explained.startswith("message size")
        elif key.rstrip("=") in ("AUTH", "X-EXPS"):
            assert "login methods" in explained
        elif key == "LIMITS":
            assert explained.startswith("limits")
        else:
            assert explained.startswith(meaning)


# ----- the registries are covered --------------------------------------------------------------------

# RFC 5321 4.2.3, and the codes later RFCs added.
REPLY_CODES = {
    "RFC 5321": [211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455,
                 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555],
    "RFC 4954": [235, 334, 432, 454, 530, 534, 535, 538],
    "RFC 3207": [220, 454, 530],
    "RFC 7504": [521, 556],
    "RFC 1985": [253, 458, 459],
    "RFC 5248": [523, 525],  # the basic codes the enhanced code registry pairs with X.7.10 and X.7.13
}


@pytest.mark.parametrize(("rfc", "code"), [(rfc, code) for rfc, cs in REPLY_CODES.items() for code in cs])
def test_reply_codes_of_the_rfcs_are_all_there(rfc, code):
    assert rfc in sources(codes.code_source(code))


def _range(subject, last):
    return [f"X.{subject}.{detail}" for detail in range(last + 1)]


# The enumerated codes of the IANA SMTP Enhanced Status Codes registry, as confirmed (see the
# registry's CSV, RFC 7372 for X.7.20..X.7.26, RFC 7505 for X.1.10 and X.7.27, the
# mailbomb draft for X.7.28, RFC 8617 5.2.2 for X.7.29, RFC 8689 for X.7.30), with the
# document that defines each.
REGISTRY_ENHANCED = {
    **{code: "RFC 3463" for code in ["X.0.0", *_range(1, 8), *_range(2, 4), *_range(3, 5),
                                     *_range(4, 7), *_range(5, 5), *_range(6, 5), *_range(7, 7)]},
    "X.1.9": "RFC 3886", "X.1.10": "RFC 7505",
    "X.3.6": "RFC 6710",
    "X.5.6": "RFC 4954",
    "X.6.6": "RFC 4468", "X.6.7": "RFC 6531", "X.6.8": "RFC 6531", "X.6.9": "RFC 6531", "X.6.10": "RFC 6531",
    "X.7.8": "RFC 4954", "X.7.9": "RFC 4954", "X.7.10": "RFC 5248", "X.7.11": "RFC 4954",
    "X.7.12": "RFC 4954", "X.7.13": "RFC 5248", "X.7.14": "RFC 5248", "X.7.15": "RFC 6710",
    "X.7.16": "RFC 6710", "X.7.17": "RFC 7293", "X.7.18": "RFC 7293", "X.7.19": "RFC 7293",
    **{f"X.7.{n}": "RFC 7372" for n in range(20, 27)},
    "X.7.27": "RFC 7505", "X.7.28": "draft-levine-mailbomb-header", "X.7.29": "RFC 8617",
    "X.7.30": "RFC 8689",
}


def test_enhanced_codes_are_exactly_the_confirmed_registry():
    """Nothing missing, and nothing invented: a new row needs a confirmed registry entry here."""
    keys = {line.split("\t")[0] for _, line in table_lines("enhanced_codes.tsv")}
    assert keys == set(REGISTRY_ENHANCED)


@pytest.mark.parametrize(("code", "rfc"), sorted(REGISTRY_ENHANCED.items()))
def test_enhanced_code_names_its_defining_document(code, rfc):
    assert rfc in sources(codes.enhanced_info("5" + code[1:]).source)


def test_enhanced_class_and_subject_sub_codes():
    assert [codes.enhanced_class(f"{c}.0.0").meaning for c in "245"] == [
        "success", "persistent transient failure", "permanent failure"]
    assert codes.enhanced_subject("5.7.1").meaning == "security or policy status"
    assert all(codes.enhanced_subject(f"4.{n}.0") for n in range(8))
    assert codes.enhanced_subject("4.8.0") is None
    assert codes.enhanced_class("3.0.0") is None


# The IANA SMTP Service Extensions registry (keyword -> defining document).
REGISTRY_KEYWORDS = {
    "SEND": "RFC 821", "SOML": "RFC 821", "SAML": "RFC 821", "TURN": "RFC 821",
    "VRFY": "RFC 5321", "EXPN": "RFC 5321", "HELP": "RFC 5321",
    "8BITMIME": "RFC 6152", "SIZE": "RFC 1870", "VERB": "Sendmail", "ONEX": "Sendmail",
    "CHUNKING": "RFC 3030", "BINARYMIME": "RFC 3030", "CHECKPOINT": "RFC 1845",
    "PIPELINING": "RFC 2920", "DSN": "RFC 3461", "ETRN": "RFC 1985",
    "ENHANCEDSTATUSCODES": "RFC 2034", "STARTTLS": "RFC 3207", "NO-SOLICITING": "RFC 3865",
    "MTRK": "RFC 3885", "SUBMITTER": "RFC 4405", "ATRN": "RFC 2645", "AUTH": "RFC 4954",
    "BURL": "RFC 4468", "FUTURERELEASE": "RFC 4865", "UTF8SMTP": "RFC 5336",
    "CONPERM": "RFC 4141", "CONNEG": "RFC 4141", "MT-PRIORITY": "RFC 6710", "RRVS": "RFC 7293",
    "SMTPUTF8": "RFC 6531", "DELIVERBY": "RFC 2852", "REQUIRETLS": "RFC 8689", "LIMITS": "RFC 9422",
}
VENDOR_KEYWORDS = {
    "AUTH=": "RFC 4954", "XCLIENT": "Postfix", "XFORWARD": "Postfix", "PIPECONNECT": "Exim",
    "PIPE_CONNECT": "Exim", "PRDR": "Exim", "XUSR": "Sendmail", "XEXCH50": "Microsoft",
    "X-EXPS": "Microsoft", "X-LINK2STATE": "Microsoft", "X-ANONYMOUSTLS": "Microsoft",
    "XRDST": "Microsoft", "XSHADOW": "Microsoft",
}


@pytest.mark.parametrize(("keyword", "source"), sorted(REGISTRY_KEYWORDS.items()))
def test_registered_keywords_are_all_there(keyword, source):
    info = codes.keyword_info(keyword)
    assert info.registry == "IANA"
    assert source in sources(info.source)


@pytest.mark.parametrize(("keyword", "source"), sorted(VENDOR_KEYWORDS.items()))
def test_common_vendor_keywords_are_there(keyword, source):
    info = codes.keyword_info(keyword)
    assert info.registry == "vendor"
    assert source in sources(info.source)


def test_no_unconfirmed_keyword_is_in_the_table():
    iana = {line.split("\t")[0] for _, line in table_lines("ehlo_keywords.tsv") if line.endswith("\tIANA")}
    assert iana == set(REGISTRY_KEYWORDS)
    assert codes.keyword_info("ULTRASIZE") is None  # a draft's keyword, never registered


# ----- the common failures -----------------------------------------------------------------------------

FAILURES = codes.failures()


def test_failure_table_is_well_formed():
    ids = [f.id for f in FAILURES]
    assert len(ids) == len(set(ids))
    for failure in FAILURES:
        assert failure.codes and all(200 <= c < 600 for c in failure.codes), failure.id
        assert set(failure.alone) <= set(failure.codes), failure.id
        assert failure.pattern or failure.enhanced or failure.alone, failure.id
        for code in failure.enhanced:
            assert codes.enhanced_info("5" + code[1:]) is not None, (failure.id, code)
        assert failure.title and failure.hint and failure.causes and failure.tries, failure.id
        assert len(failure.hint) <= 70, failure.id  # one short inline line
        assert_known_source(failure.source)
        assert failure.examples, failure.id


def parse(text: str):
    parser = ReplyParser()
    (reply,) = parser.feed(text.encode() + b"\r\n") + parser.feed(b"")
    return reply


def reply_text(reply) -> str:
    text = " ".join(reply.texts)
    return text.removeprefix(reply.enhanced).lstrip() if reply.enhanced else text


EXAMPLES = [
    pytest.param(failure.id, example.reply, id=f"{failure.id}:{n}")
    for failure in FAILURES
    for n, example in enumerate(failure.examples)
]


@pytest.mark.parametrize(("failure_id", "line"), EXAMPLES)
def test_each_example_is_matched_by_its_own_failure(failure_id, line):
    reply = parse(line)
    failure = codes.match_failure(reply.code, reply.enhanced, reply_text(reply))
    assert failure is not None and failure.id == failure_id


# The failures the issue names, each from a reply as Postfix, Exim, Gmail or aiosmtpd write it.
REAL_REPLIES = [
    ("530 5.7.0 Must issue a STARTTLS command first", "starttls-required"),
    ("535 5.7.8 Error: authentication failed: authentication failure", "auth-failed"),
    ("535 Incorrect authentication data", "auth-failed"),
    ("554 5.7.1 <x@elsewhere.example>: Relay access denied", "relay-denied"),
    ("550 relay not permitted", "relay-denied"),
    ("554 5.7.1 <unknown[198.51.100.9]>: Client host rejected: Access denied", "client-access-denied"),
    ("550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
     "unknown-user"),
    ("450 4.2.0 <b@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/",
     "greylisting"),
    ("451 4.7.1 Greylisted, please try again", "greylisting"),
    ("550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users",
     "dmarc"),
    ("552 5.3.4 Message size exceeds fixed limit", "message-too-big"),
    ("421 mx.example: Too many concurrent SMTP connections; please try again later.", "too-many-connections"),
    ("550 SMTP AUTH is required", "auth-required"),
    ("538 5.7.11 Encryption required for requested authentication mechanism", "auth-encryption-required"),
    ("556 5.1.10 Recipient address has null MX", "null-mx-recipient"),
    ("521 5.3.2 Host does not accept mail", "host-accepts-no-mail"),
    ("550 5.7.27 Sender address has null MX", "null-mx-sender"),
    ("451 4.3.0 Temporary local problem - please try later", "local-problem"),
    ("550 5.7.23 Message rejected due to: SPF fail - not authorized", "spf-fail"),
    ("450 4.2.0 Mailbox busy", "mailbox-busy"),
    ("503 5.5.1 Error: need MAIL command", "need-mail"),
    ("503 5.5.1 Bad sequence of commands", "bad-sequence"),
    ("501 5.5.4 Syntax: MAIL FROM:<address>", "syntax"),
    ("555 5.5.4 Unsupported option: FOO=1", "params-not-recognised"),
    ("555 MAIL FROM parameters not recognized or not implemented", "params-not-recognised"),
]


@pytest.mark.parametrize(("line", "failure_id"), REAL_REPLIES)
def test_common_failures_from_real_replies(line, failure_id):
    reply = parse(line)
    assert codes.match_failure(reply.code, reply.enhanced, reply_text(reply)).id == failure_id


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "failure_id"),
    [
        (535, None, "", "auth-failed"),  # a code alone, for `explain 535`
        (530, None, "", "login-or-tls-required"),
        (556, None, "", "null-mx-recipient"),
        (None, "5.7.26", "", "dmarc"),  # an enhanced code alone, for `explain 5.7.26`
        (None, "4.7.26", "", "dmarc"),
        (None, "5.1.1", "", "unknown-user"),
        (None, "5.01.001", "", "unknown-user"),  # RFC 3463 allows leading zeros
        (None, "nonsense", "", None),
        (550, None, "", None),  # 550 alone says too little
        (None, "5.7.1", "", None),
        (250, "2.0.0", "Ok", None),
        (550, "5.7.1", "Relay access denied", "relay-denied"),
        (451, None, "relay access denied", "relay-denied"),  # case does not matter
        (552, "5.7.1", "Relay access denied", None),  # a code the entry does not list
    ],
)
def test_match_failure(code, enhanced, text, failure_id):
    failure = codes.match_failure(code, enhanced, text)
    assert (failure.id if failure else None) == failure_id


def test_a_pattern_beats_an_enhanced_code():
    # postgrey greylists with 450 4.2.0, which is also "mailbox busy"'s enhanced code
    assert codes.match_failure(450, "4.2.0", "Recipient address rejected: Greylisted").id == "greylisting"
    assert codes.match_failure(450, "4.2.0", "try later").id == "mailbox-busy"


# ----- lookups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (535, "authentication credentials invalid"),
        (550, "mailbox unavailable (not found, no access, or rejected for policy)"),
        (556, "domain does not accept mail (null MX)"),
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
    assert codes.code_source(521) == "RFC 7504"
    assert codes.code_source(599) is None


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("5.7.8", "authentication credentials invalid"),
        ("4.7.8", "authentication credentials invalid"),
        ("5.1.1", "bad destination mailbox address (no such user)"),
        ("2.0.0", "other undefined status"),
        ("5.7.26", "multiple authentication checks failed"),
        ("5.7.30", "REQUIRETLS support required"),
        ("5.7.007", "message integrity failure"),  # 1 to 3 digits, RFC 3463
        ("3.7.8", None),  # no such class in RFC 3463
        ("1.1.1", None),
        ("X.7.8", None),
        ("5.99.99", None),
        ("5.7.54", None),  # Microsoft's, not in the registry
        ("5.4.8", None),
        ("5.7", None),
        ("5.7.8.1", None),
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
        ("AUTH", ("CRAM-MD5", "SCRAM-SHA-256"), "login methods: CRAM-MD5 SCRAM-SHA-256"),
        ("AUTH", (), "login methods: none listed"),
        ("AUTH=", ("LOGIN",), "login methods (old AUTH= form): LOGIN — LOGIN shows the password "
                              "to anyone on the way without TLS"),
        ("LIMITS", ("RCPTMAX=100", "MAILMAX=5"), "limits: recipients per message 100, messages per connection 5"),
        ("XCLIENT", ("NAME", "ADDR"), "the client may override connection attributes, for proxies and tests "
                                      "(Postfix); attributes: NAME ADDR"),
        ("DELIVERBY", ("240",), "deliver-by time limits (BY=), at least 240 seconds"),
        ("pipelining", (), "commands may be sent without waiting for each reply"),
        ("XSOMETHING", (), "a vendor extension (not registered with IANA)"),
        ("NOSUCHTHING", (), None),
        ("=", (), None),
    ],
)
def test_explain_keyword(keyword, params, meaning):
    assert codes.explain_keyword(keyword, params) == meaning


@pytest.mark.parametrize(
    ("tls", "warning"),
    [
        (None, " — PLAIN and LOGIN show the password to anyone on the way without TLS"),
        (False, " — PLAIN and LOGIN show the password to anyone on the way: STARTTLS first"),
        (True, ""),
    ],
)
def test_auth_hint_warns_of_readable_passwords_unless_encrypted(tls, warning):
    assert codes.explain_keyword("AUTH", ("PLAIN", "LOGIN", "CRAM-MD5"), tls=tls) == (
        "login methods: PLAIN LOGIN CRAM-MD5" + warning)


def test_keyword_details_name_each_mechanism_and_its_exposure():
    lines = codes.keyword_details("AUTH", ("PLAIN", "SCRAM-SHA-256", "FOO"))
    assert lines[0].startswith("PLAIN: user and password in one base64 line; sends the password readable")
    assert "use it only over TLS (RFC 4616)" in lines[0]
    assert "never sends the password (RFC 7677)" in lines[1]
    assert lines[2] == "FOO: a mechanism not in smtpshell's table"
    assert codes.keyword_details("SIZE", ("10240000",)) == ["10240000 bytes = 10 MB"]
    assert codes.keyword_details("PIPELINING") == []


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


def test_routine_replies_table_names_known_verbs_and_routine_codes():
    from smtpshell.protocol.verbs import verbs

    known = set(verbs()) | {"GREETING", "GREETING LMTP", ".", "BDAT LAST"}
    table = codes._routine()
    assert table, "routine_replies.tsv is empty"
    for (verb, code), (hint, with_id) in table.items():
        assert verb in known, verb
        assert code in (220, 221, 250), (verb, code)
        assert hint and not hint.endswith("."), (verb, hint)
        assert not with_id or ("{id}" in with_id and with_id.startswith(hint)), verb


@pytest.mark.parametrize(("text", "queue_id"), [
    ("2.0.0 Ok: queued as 4F49520E01C", "4F49520E01C"),  # Postfix
    ("OK id=1tPSR2-000123-AB", "1tPSR2-000123-AB"),  # Exim
    ("2.0.0 Message accepted for delivery as 8DF1B5F8E2", "8DF1B5F8E2"),  # the practice server
    ("2.0.0 OK  1701234567 a1-20020a17090a0b0100b00-gsmtp", None),  # Gmail: no queue id said
    ("2.0.0 Ok, as you asked", None),
])
def test_the_queue_id_of_an_accepted_message_is_named(text, queue_id):
    hint = codes.routine_hint(".", 250, text)
    assert hint.startswith("message accepted: the server is responsible for delivering it now")
    if queue_id:
        assert hint.endswith(f" · queue id {queue_id}: look it up in the server's log")
    else:
        assert "queue id" not in hint
    assert codes.routine_hint("BDAT LAST", 250, text) == hint
    assert codes.routine_hint("BDAT", 250, text) == "chunk accepted · next: BDAT with the next chunk (the last with LAST)"
