"""SASL client mechanisms (smtpshell.protocol.auth): the RFC test vectors, the failure paths,
what the user is shown, and the property that no password or token is ever shown."""

import ast
import base64
import hashlib
import hmac
import json
import pickle
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol import auth as sasl
from smtpshell.protocol.auth import (
    SUPPORTED,
    AuthError,
    Secret,
    Step,
    create,
    describe_response,
    encode_response,
    strongest,
)
from smtpshell.protocol.sasl.digest_md5 import DigestMD5, parse_directives
from smtpshell.protocol.sasl.saslprep import saslprep


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def scram_server_signature(hash_name: str, password: str, salt: bytes, iterations: int, auth_message: str) -> str:
    """An independent RFC 5802 3 computation of ServerSignature (the test's own server)."""
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return b64(hmac.new(server_key, auth_message.encode(), hash_name).digest())


# ----- Secret ------------------------------------------------------------------------------

def test_secret_is_masked_everywhere_but_reveal():
    secret = Secret("wonderland")
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert f"{secret}" == "***" and f"{secret:>5}" == "  ***"
    assert "wonderland" not in repr([secret]) and "wonderland" not in repr({"p": secret})
    assert secret.reveal() == "wonderland"


def test_secret_refuses_pickling_and_non_str():
    with pytest.raises(TypeError):
        pickle.dumps(Secret("wonderland"))
    with pytest.raises(TypeError):
        Secret(b"wonderland")  # type: ignore[arg-type]


# ----- PLAIN (RFC 4616 4) --------------------------------------------------------------------

# (id, authzid, user, password, message on the wire, shown)
PLAIN_VECTORS = [
    ("rfc4616 first", "", "tim", "tanstaaftanstaaf", b"\0tim\0tanstaaftanstaaf", "authzid='' user=tim password=***"),
    ("rfc4616 second", "Ursel", "Kurt", "xipj3plmq", b"Ursel\0Kurt\0xipj3plmq",
     "authzid='Ursel' user=Kurt password=***"),
    ("utf-8", "", "zoë", "pässwörd", "\0zoë\0pässwörd".encode(), "authzid='' user=zoë password=***"),
]


@pytest.mark.parametrize(("authzid", "user", "password", "wire", "shown"), [v[1:] for v in PLAIN_VECTORS],
                         ids=[v[0] for v in PLAIN_VECTORS])
def test_plain_vectors(authzid, user, password, wire, shown):
    mech = create("PLAIN", user, Secret(password), authzid=authzid)
    step = mech.initial()
    assert step is not None
    assert (step.response, step.shown, step.secret) == (wire, shown, True)
    assert encode_response(step, initial=True) == b64(wire)
    assert mech.done
    assert mech.finish(235, "2.7.0 Authentication successful") == []


def test_plain_rfc4616_first_example_base64():
    step = create("plain", "tim", Secret("tanstaaftanstaaf")).initial()
    assert encode_response(step, initial=True) == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"


def test_plain_without_initial_response_waits_for_the_empty_334():
    mech = create("PLAIN", "tim", Secret("tanstaaftanstaaf"), initial_response=False)
    assert mech.initial() is None
    assert not mech.done
    step = mech.respond(b"")
    assert step.response == b"\0tim\0tanstaaftanstaaf"
    assert mech.done


def test_a_non_empty_first_challenge_for_a_client_first_mechanism_is_noted():
    mech = create("PLAIN", "tim", Secret("tanstaaftanstaaf"), initial_response=False)
    step = mech.respond(b"hello\x07")
    assert step.response == b"\0tim\0tanstaaftanstaaf"
    assert step.notes[0].startswith("the server sent a non-empty challenge 'hello\\x07'")


def test_plain_a_second_challenge_is_an_error_and_finish_says_why():
    mech = create("PLAIN", "tim", Secret("tanstaaftanstaaf"))
    mech.initial()
    with pytest.raises(AuthError, match=r"PLAIN challenge: unexpected after the last response: 'what\?'"):
        mech.respond(b"what?")
    notes = mech.finish(501, "5.7.0 cancelled")
    assert notes and notes[0].startswith("the exchange stopped: PLAIN challenge")


@pytest.mark.parametrize(("user", "password", "authzid"), [("a\0b", "p", ""), ("a", "p\0q", ""), ("a", "p", "x\0y")])
def test_plain_refuses_nul_inside_a_field(user, password, authzid):
    with pytest.raises(ValueError, match="NUL"):
        create("PLAIN", user, Secret(password), authzid=authzid)


# ----- LOGIN -----------------------------------------------------------------------------------

LOGIN_PROMPTS = [
    ("postfix", b"Username:", b"Password:"),
    ("aiosmtpd", b"User Name\x00", b"Password\x00"),
    ("empty", b"", b""),
    ("misleading", b"Password:", b"Username:"),  # the order counts, never the text
]


@pytest.mark.parametrize(("first", "second"), [p[1:] for p in LOGIN_PROMPTS], ids=[p[0] for p in LOGIN_PROMPTS])
def test_login_answers_user_then_password_whatever_the_prompts(first, second):
    mech = create("LOGIN", "alice", Secret("wonderland"))
    assert mech.initial() is None
    user = mech.respond(first)
    assert (user.response, user.shown, user.secret) == (b"alice", "alice", False)
    assert not mech.done
    password = mech.respond(second)
    assert (password.response, password.shown, password.secret) == (b"wonderland", "***", True)
    assert mech.done
    with pytest.raises(AuthError, match="LOGIN"):
        mech.respond(b"Again:")


def test_login_prompt_with_nul_is_shown_visibly_in_the_notes():
    mech = create("LOGIN", "alice", Secret("wonderland"))
    assert "User Name<NUL>" in " ".join(mech.respond(b"User Name\x00").notes)


def test_login_initial_response_form():
    mech = create("LOGIN", "alice", Secret("wonderland"), initial_response=True)
    step = mech.initial()
    assert step is not None and step.response == b"alice"
    assert encode_response(step, initial=True) == "YWxpY2U="
    assert mech.respond(b"Password:").response == b"wonderland"
    assert mech.done


# ----- CRAM-MD5 (RFC 2195 2) ----------------------------------------------------------------------

RFC2195_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"


def test_cram_md5_rfc2195_example():
    mech = create("CRAM-MD5", "tim", Secret("tanstaaftanstaaf"))
    assert mech.initial() is None
    assert base64.b64decode("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+") == RFC2195_CHALLENGE
    step = mech.respond(RFC2195_CHALLENGE)
    assert step.response == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert encode_response(step, initial=False) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert step.shown == "tim b913a602c7eda7a495b4e6e7334d3890"
    assert step.secret  # password-derived: masked in transcripts
    assert "challenge <1896.697170952@postoffice.reston.mci.net>" in step.notes
    assert "digest b913a602c7eda7a495b4e6e7334d3890" in step.notes
    assert any(n.startswith("HMAC-MD5 key: the password (***)") for n in step.notes)
    assert mech.done


def test_cram_md5_empty_challenge_is_an_error():
    with pytest.raises(AuthError, match="CRAM-MD5 challenge: empty"):
        create("CRAM-MD5", "tim", Secret("x")).respond(b"")


def test_cram_md5_has_no_initial_response():
    with pytest.raises(ValueError, match="no initial response"):
        create("CRAM-MD5", "tim", Secret("x"), initial_response=True)
    assert create("CRAM-MD5", "tim", Secret("x"), initial_response=False).initial() is None


# ----- SCRAM (RFC 5802 5, RFC 7677 3) -------------------------------------------------------------

# (mechanism, client nonce, client-first, server-first, client-final, server-final)
SCRAM_VECTORS = [
    (
        "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
        "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    ),
    (
        "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    ),
]
SCRAM_IDS = [v[0] for v in SCRAM_VECTORS]


def scram_after_server_first(vector, password="pencil"):
    name, nonce, _, server_first, _, _ = vector
    mech = create(name, "user", Secret(password), nonce=nonce)
    mech.initial()
    step = mech.respond(server_first.encode())
    return mech, step


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_rfc_vectors(vector):
    name, nonce, client_first, server_first, client_final, server_final = vector
    mech = create(name.lower(), "user", Secret("pencil"), nonce=nonce)
    assert mech.name == name
    first = mech.initial()
    assert first is not None
    assert (first.response, first.shown, first.secret) == (client_first.encode(), client_first, False)
    final = mech.respond(server_first.encode())
    assert (final.response, final.shown, final.secret) == (client_final.encode(), client_final, True)
    assert not mech.done
    ack = mech.respond(server_final.encode())
    assert ack.response == b"" and encode_response(ack, initial=False) == ""
    assert mech.verified and mech.done
    notes = mech.finish(235, "2.7.0 Authentication successful")
    assert notes == ["server signature verified: mutual authentication complete"]


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_teaching_notes(vector):
    name, nonce, client_first, server_first, client_final, server_final = vector
    mech = create(name, "user", Secret("pencil"), nonce=nonce)
    first = mech.initial()
    assert f"client-first-message: {client_first}" in first.notes
    assert any("-PLUS is not supported" in n for n in first.notes)
    final = mech.respond(server_first.encode())
    text = "\n".join(final.notes)
    salt = dict(p.split("=", 1) for p in server_first.split(","))["s"]
    assert f"server-first-message: {server_first}" in final.notes
    assert f"salt s={salt}" in text and "iterations i=4096" in text
    assert f"client-final-message: {client_final}" in text
    assert f"expected server signature {server_final}" in text
    assert "password ***" in text
    ack = mech.respond(server_final.encode())
    assert f"server-final-message: {server_final}" in ack.notes
    assert any("server signature verified" in n for n in ack.notes)


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
@pytest.mark.parametrize("form", ["base64", "raw"])
def test_scram_server_final_as_data_with_the_235(vector, form):
    server_final = vector[5]
    mech, _ = scram_after_server_first(vector)
    data = b64(server_final) if form == "base64" else server_final
    notes = mech.finish(235, f"2.7.0 {data}")
    assert mech.verified
    assert f"server-final-message: {server_final}" in notes
    assert "(the server-final-message came as data with the 235)" in notes


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_wrong_server_signature_is_an_error(vector):
    mech, _ = scram_after_server_first(vector)
    wrong = "v=" + b64(b"\0" * (20 if vector[0] == "SCRAM-SHA-1" else 32))
    with pytest.raises(AuthError, match=rf"{vector[0]} server-final-message: server signature mismatch: got {wrong}"):
        mech.respond(wrong.encode())
    assert not mech.verified and not mech.done
    notes = mech.finish(235, "2.7.0 Authentication successful")
    assert len(notes) == 1 and notes[0].startswith("WARNING: the server said 235 although") and "mismatch" in notes[0]


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_wrong_password_gives_a_signature_the_server_cannot_match(vector):
    # the client computes with the wrong password: the genuine server signature does not match
    mech, _ = scram_after_server_first(vector, password="not-pencil")
    with pytest.raises(AuthError, match="mismatch"):
        mech.respond(vector[5].encode())


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_wrong_signature_with_the_235_is_a_warning(vector):
    mech, _ = scram_after_server_first(vector)
    notes = mech.finish(235, "2.7.0 " + b64("v=" + b64(b"forged")))
    assert not mech.verified
    assert notes[0].startswith("WARNING: the server said 235 although") and "mismatch" in notes[0]


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_235_without_a_server_signature_is_a_warning(vector):
    mech, _ = scram_after_server_first(vector)
    notes = mech.finish(235, "2.7.0 Okay authenticated")  # "Okay" is base64, but not of a v=
    assert notes == ["WARNING: 235 without a server signature (v=): the server did not prove it knows the password"]
    early = create(vector[0], "user", Secret("pencil"), nonce=vector[1])
    early.initial()
    assert early.finish(235, "2.7.0 ok")[0].startswith("WARNING: 235 before the server saw our proof")


def test_scram_535_after_the_proof_is_explained():
    mech, _ = scram_after_server_first(SCRAM_VECTORS[1])
    assert "rejected our proof" in mech.finish(535, "5.7.8 Error: authentication failed")[0]


@pytest.mark.parametrize("vector", SCRAM_VECTORS, ids=SCRAM_IDS)
def test_scram_server_error_e_is_reported(vector):
    mech, _ = scram_after_server_first(vector)
    with pytest.raises(AuthError, match="server-final-message: the server reports an error: e=invalid-proof"):
        mech.respond(b"e=invalid-proof")
    assert "e=invalid-proof" in mech.finish(535, "5.7.8 no")[0]


# (id, server-first after the client nonce "abc", what the error says)
SCRAM_BAD_SERVER_FIRST = [
    ("nonce not ours", b"r=xyzabc123,s=c2FsdA==,i=4096", "nonce r=xyzabc123 does not start with our nonce abc"),
    ("nonce missing", b"s=c2FsdA==,i=4096", "lacks r="),
    ("salt missing", b"r=abc123,i=4096", "lacks s="),
    ("iterations missing", b"r=abc123,s=c2FsdA==", "lacks i="),
    ("salt not base64", b"r=abc123,s=not*base64,i=4096", "salt s=not*base64 is not base64"),
    ("salt empty", b"r=abc123,s=,i=4096", "salt s= is empty"),
    ("iterations zero", b"r=abc123,s=c2FsdA==,i=0", "i=0 is not a positive number"),
    ("iterations text", b"r=abc123,s=c2FsdA==,i=many", "i=many is not a positive number"),
    ("iterations huge", b"r=abc123,s=c2FsdA==,i=999999999", "above this client's limit"),
    ("mandatory extension", b"m=ext,r=abc123,s=c2FsdA==,i=4096",
     "requires an extension this client does not know: m=ext"),
    ("error", b"e=unknown-user", "the server reports an error: e=unknown-user"),
    ("not attributes", b"hello", "malformed 'hello'"),
    ("empty", b"", "malformed ''"),
    ("not utf-8", b"r=abc\xff,s=c2FsdA==,i=1", "not UTF-8"),
]


@pytest.mark.parametrize(("server_first", "message"), [c[1:] for c in SCRAM_BAD_SERVER_FIRST],
                         ids=[c[0] for c in SCRAM_BAD_SERVER_FIRST])
@pytest.mark.parametrize("name", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_bad_server_first(name, server_first, message):
    mech = create(name, "user", Secret("pencil"), nonce="abc")
    mech.initial()
    with pytest.raises(AuthError, match=f"^{name} server-first-message: ") as info:
        mech.respond(server_first)
    assert message in str(info.value)


@pytest.mark.parametrize(("server_final", "message"), [
    (b"x=1", "has neither v= nor e="),
    (b"v=***", "is not base64"),
    (b"garbage", "malformed"),
])
def test_scram_bad_server_final(server_final, message):
    mech, _ = scram_after_server_first(SCRAM_VECTORS[0])
    with pytest.raises(AuthError, match=message):
        mech.respond(server_final)


def test_scram_few_iterations_and_a_nonce_with_nothing_added_are_noted():
    mech = create("SCRAM-SHA-256", "user", Secret("pencil"), nonce="abc")
    mech.initial()
    notes = "\n".join(mech.respond(b"r=abc,s=c2FsdA==,i=16").notes)
    assert "only 16 iterations" in notes
    assert "the server contributed no randomness" in notes


@pytest.mark.parametrize(("user", "escaped"), [
    ("a=b,c", "a=3Db=2Cc"), ("==", "=3D=3D"), (",", "=2C"), ("plain", "plain"),
])
def test_scram_saslname_escaping(user, escaped):
    first = create("SCRAM-SHA-256", user, Secret("p"), nonce="abc").initial()
    assert first.response == f"n,,n={escaped},r=abc".encode()


@pytest.mark.parametrize("name", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_with_authzid_binds_the_gs2_header_and_verifies(name):
    hash_name = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[name]
    mech = create(name, "alice", Secret("wonderland"), authzid="bob,=x", nonce="abc")
    first = mech.initial()
    assert first.response == b"n,a=bob=2C=3Dx,n=alice,r=abc"
    server_first = "r=abcSERVER,s=" + b64(b"salt") + ",i=4096"
    final = mech.respond(server_first.encode()).response.decode()
    c_value = b64("n,a=bob=2C=3Dx,")
    assert final.startswith(f"c={c_value},r=abcSERVER,p=")
    auth_message = f"n=alice,r=abc,{server_first},c={c_value},r=abcSERVER"
    v = scram_server_signature(hash_name, "wonderland", b"salt", 4096, auth_message)
    mech.respond(f"v={v}".encode())
    assert mech.verified


def test_scram_without_initial_response_waits_for_the_empty_334():
    mech = create("SCRAM-SHA-1", "user", Secret("pencil"), nonce="fyko+d2lbbFgONRv9qkxdawL", initial_response=False)
    assert mech.initial() is None
    assert mech.respond(b"").response == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"


def test_scram_random_nonces_differ_and_are_printable_without_comma():
    nonces = set()
    for _ in range(5):
        bare = create("SCRAM-SHA-256", "u", Secret("p")).initial().response.decode()
        nonce = bare.split(",r=", 1)[1]
        assert len(nonce) >= 24 and "," not in nonce and nonce.isprintable() and nonce.isascii()
        nonces.add(nonce)
    assert len(nonces) == 5


@pytest.mark.parametrize("nonce", ["", "a,b", "a b", "é", "\x01"])
def test_scram_bad_nonce_parameter(nonce):
    with pytest.raises(ValueError, match="nonce"):
        create("SCRAM-SHA-1", "u", Secret("p"), nonce=nonce)


@pytest.mark.parametrize("password", ["pen\u00adcil", "pencil\u200b", "ｐｅｎｃｉｌ"])
def test_scram_applies_saslprep_to_the_password(password):
    # soft hyphen and zero-width space map to nothing, fullwidth letters normalise (NFKC)
    mech, final = scram_after_server_first(SCRAM_VECTORS[1], password=password)
    assert final.response.decode() == SCRAM_VECTORS[1][4]
    assert any("SASLprep changed the password" in n for n in final.notes)
    mech.respond(SCRAM_VECTORS[1][5].encode())
    assert mech.verified


def test_scram_password_saslprep_refuses_is_used_unchanged():
    mech, final = scram_after_server_first(SCRAM_VECTORS[1], password="pen\x07cil")
    assert any("SASLprep refused the password" in n for n in final.notes)
    assert "U+0007" not in "\n".join(final.notes)  # no hint at which character the password holds
    server_first = SCRAM_VECTORS[1][3]
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = f"n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},c=biws,r={nonce}"
    v = scram_server_signature("sha256", "pen\x07cil", base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096, auth_message)
    mech.respond(f"v={v}".encode())
    assert mech.verified


# RFC 4013 3 examples
@pytest.mark.parametrize(("text", "prepared"), [
    ("I\u00adX", "IX"), ("user", "user"), ("USER", "USER"), ("\u00aa", "a"), ("\u2168", "IX"),
    ("a\u00a0b", "a b"), ("", ""), ("\u0627\u0031\u0628", "\u0627\u0031\u0628"),
])
def test_saslprep_rfc4013_examples(text, prepared):
    assert saslprep(text) == prepared


@pytest.mark.parametrize(("text", "message"), [
    ("\u0007", "ASCII control character U+0007"),
    ("\u0627\u0031", "right-to-left string must start and end"),
    ("\u0627a\u0627", "right-to-left and left-to-right characters mixed"),
    ("\ue000", "private use"),
])
def test_saslprep_prohibited(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        saslprep(text)


def test_scram_user_saslprep_is_noted():
    first = create("SCRAM-SHA-1", "\u2168", Secret("p"), nonce="abc").initial()
    assert first.response == b"n,,n=IX,r=abc"
    assert any("SASLprep turned the user name into 'IX'" in n for n in first.notes)
    odd = create("SCRAM-SHA-1", "a\x07", Secret("p"), nonce="abc").initial()
    assert odd.response == b"n,,n=a\x07,r=abc"
    assert any("sent unprepared" in n for n in odd.notes)


# ----- OAUTHBEARER (RFC 7628 4) -------------------------------------------------------------------

RFC7628_TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
OAUTHBEARER_VECTORS = [
    ("rfc7628 4.1 imap", 143,
     "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyI"
     "HZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"),
    ("rfc7628 4.2 smtp", 587,
     "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyI"
     "HZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"),
]


@pytest.mark.parametrize(("port", "expected"), [v[1:] for v in OAUTHBEARER_VECTORS],
                         ids=[v[0] for v in OAUTHBEARER_VECTORS])
def test_oauthbearer_rfc7628_examples(port, expected):
    mech = create("OAUTHBEARER", "user@example.com", Secret(RFC7628_TOKEN), host="server.example.com", port=port)
    step = mech.initial()
    assert encode_response(step, initial=True) == expected
    assert step.response == (f"n,a=user@example.com,\x01host=server.example.com\x01port={port}\x01"
                             f"auth=Bearer {RFC7628_TOKEN}\x01\x01").encode()
    assert step.shown == f"n,a=user@example.com,^Ahost=server.example.com^Aport={port}^Aauth=Bearer ***^A^A"
    assert step.secret and mech.done
    assert mech.finish(235, "Authentication successful") == []


RFC7628_ERROR = ("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJzY29wZSI6Imh0dHBzOi8vbWFpbC5"
                 "leGFtcGxlLmNvbS8ifQ==")


def test_oauthbearer_failure_flow_answers_the_error_with_0x01():
    mech = create("OAUTHBEARER", "user@example.com", Secret(RFC7628_TOKEN), host="server.example.com", port=587)
    mech.initial()
    step = mech.respond(base64.b64decode(RFC7628_ERROR))
    assert step.response == b"\x01" and not step.secret
    assert encode_response(step, initial=False) == "AQ=="
    summary = "server error: status=invalid_token schemes=bearer mac scope=https://mail.example.com/"
    assert summary in step.notes
    assert mech.error_report == {
        "status": "invalid_token", "schemes": "bearer mac", "scope": "https://mail.example.com/",
    }
    notes = mech.finish(535, "5.7.8 Authentication credentials invalid")
    assert notes[0] == summary and "fresh access token" in notes[1]
    # only one error report is expected
    with pytest.raises(AuthError, match="OAUTHBEARER"):
        mech.respond(b"{}")


def test_oauthbearer_error_challenge_that_is_not_json_is_still_acknowledged():
    mech = create("OAUTHBEARER", "u", Secret("tok"))
    mech.initial()
    step = mech.respond(b"oops")
    assert step.response == b"\x01"
    assert "not JSON" in step.notes[0]


def test_oauthbearer_without_user_host_port_and_without_initial_response():
    mech = create("OAUTHBEARER", "", Secret("tok"), initial_response=False)
    assert mech.initial() is None
    assert mech.respond(b"").response == b"n,,\x01auth=Bearer tok\x01\x01"
    mech = create("OAUTHBEARER", "a,b=c", Secret("tok"), authzid="", host="h")
    assert mech.initial().response == b"n,a=a=2Cb=3Dc,\x01host=h\x01auth=Bearer tok\x01\x01"


def test_bearer_error_with_an_unknown_status_has_no_hint():
    mech = create("OAUTHBEARER", "u", Secret("tok"))
    mech.initial()
    mech.respond(b'{"status":"teapot"}')
    assert mech.finish(535, "no") == ["server error: status=teapot"]


def test_oauthbearer_refuses_0x01_in_its_fields():
    with pytest.raises(ValueError, match="0x01"):
        create("OAUTHBEARER", "u", Secret("t"), host="a\x01b")


def test_bearer_json_array_error():
    mech = create("XOAUTH2", "u", Secret("tok"))
    mech.initial()
    assert "not an object" in mech.respond(b"[1, 2]").notes[0]


# ----- XOAUTH2 ---------------------------------------------------------------------------------------

def test_xoauth2_google_example():
    mech = create("XOAUTH2", "someuser@example.com", Secret("ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg"))
    step = mech.initial()
    assert step.response == (
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\x01\x01")
    assert encode_response(step, initial=True) == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJo"
        "ZG1semRHRXVZMjl0Q2cBAQ==")
    assert step.shown == "user=someuser@example.com^Aauth=Bearer ***^A^A"
    assert step.secret


def test_xoauth2_failure_flow_answers_with_an_empty_line():
    mech = create("XOAUTH2", "someuser@example.com", Secret("ya29.token"))
    mech.initial()
    error = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
    step = mech.respond(json.dumps(error).encode())
    assert step.response == b"" and encode_response(step, initial=False) == ""
    notes = mech.finish(535, "5.7.8 Username and Password not accepted")
    assert notes[0] == "server error: status=401 schemes=bearer scope=https://mail.google.com/"
    assert "fresh access token" in notes[1]


def test_xoauth2_refuses_0x01_in_the_user_and_an_authzid():
    with pytest.raises(ValueError, match="0x01"):
        create("XOAUTH2", "a\x01b", Secret("t"))
    with pytest.raises(ValueError, match="authzid"):
        create("XOAUTH2", "a", Secret("t"), authzid="b")


# ----- encode_response -----------------------------------------------------------------------------

@pytest.mark.parametrize(("response", "initial", "encoded"), [
    (b"", True, "="),
    (b"", False, ""),
    (b"\x01", False, "AQ=="),
    (b"alice", True, "YWxpY2U="),
    (b"alice", False, "YWxpY2U="),
])
def test_encode_response(response, initial, encoded):
    assert encode_response(Step(response=response, shown="", secret=False), initial=initial) == encoded


# ----- describe_response (a base64 answer typed by hand) -------------------------------------------

# (mechanism, typed text, step index, description)
DESCRIBE = [
    ("PLAIN", b64("\0alice\0wonderland"), 0, "authzid='' user=alice password=***"),
    ("plain", b64("bob\0alice\0wonderland"), 0, "authzid='bob' user=alice password=***"),
    ("PLAIN", b64("wonderland"), 0, "*** (10 bytes)"),
    ("LOGIN", b64("alice"), 0, "alice"),
    ("LOGIN", b64("wonderland"), 1, "*** (password)"),
    ("LOGIN", b64("wonderland"), 2, "*** (10 bytes)"),
    ("CRAM-MD5", b64("tim b913a602c7eda7a495b4e6e7334d3890"), 0, "tim b913a602c7eda7a495b4e6e7334d3890"),
    ("CRAM-MD5", b64("wonderland"), 0, "*** (10 bytes)"),
    ("SCRAM-SHA-256", b64("n,,n=user,r=abc"), 0, "n,,n=user,r=abc"),
    ("SCRAM-SHA-256", b64("c=biws,r=abcdef,p=dHzbZapW"), 1, "c=biws,r=abcdef,p=dHzbZapW"),
    ("SCRAM-SHA-1", b64("wonderland"), 0, "*** (10 bytes)"),
    ("SCRAM-SHA-1", b64("wonderland"), 1, "*** (10 bytes)"),
    ("XOAUTH2", b64("user=a\x01auth=Bearer wonderland\x01\x01"), 0, "user=a^Aauth=Bearer ***^A^A"),
    ("OAUTHBEARER", b64("n,,\x01auth=Bearer wonderland\x01\x01"), 0, "n,,^Aauth=Bearer ***^A^A"),
    ("OAUTHBEARER", "AQ==", 1, "^A (acknowledging the server's error)"),
    ("OAUTHBEARER", b64("wonderland"), 0, "*** (10 bytes)"),
    ("DIGEST-MD5", b64("username=\"alice\""), 0, "*** (16 bytes)"),
    (None, b64("wonderland"), 0, "*** (10 bytes)"),
    ("PLAIN", "=", 0, "(empty response)"),
    ("LOGIN", "", 0, "(empty response)"),
    ("LOGIN", "not base64!", 0, None),
]


@pytest.mark.parametrize(("mech", "typed", "index", "described"), DESCRIBE)
def test_describe_response(mech, typed, index, described):
    result = describe_response(mech, typed, index)
    assert result == described
    assert result is None or "wonderland" not in result


# ----- create, SUPPORTED, strongest --------------------------------------------------------------

def test_supported_names_create_mechanisms_of_that_name():
    assert SUPPORTED == ("SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN", "OAUTHBEARER",
                         "XOAUTH2")
    for name in SUPPORTED:
        assert create(name.lower(), "alice", Secret("x")).name == name


def test_create_unknown_mechanism_lists_the_supported_ones():
    with pytest.raises(ValueError,
                       match="unknown SASL mechanism 'NTLM': supported are SCRAM-SHA-256, .*, XOAUTH2"):
        create("NTLM", "alice", Secret("x"))


@pytest.mark.parametrize(("name", "what"), [("PLAIN", "password"), ("XOAUTH2", "token"), ("OAUTHBEARER", "token")])
def test_create_without_a_secret(name, what):
    with pytest.raises(ValueError, match=f"{name} needs a {what}"):
        create(name, "alice", None)


def test_create_accepts_a_plain_str_secret_and_wraps_it():
    assert create("PLAIN", "alice", "wonderland").initial().response == b"\0alice\0wonderland"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["LOGIN", "CRAM-MD5", "XOAUTH2"])
def test_create_refuses_an_authzid_the_mechanism_cannot_carry(name):
    with pytest.raises(ValueError, match="authzid"):
        create(name, "alice", Secret("x"), authzid="bob")


# (offered, token, expected)
STRONGEST = [
    (["PLAIN", "LOGIN"], False, "PLAIN"),
    (["LOGIN", "PLAIN", "CRAM-MD5"], False, "CRAM-MD5"),
    (["plain", "scram-sha-1", "SCRAM-SHA-256"], False, "SCRAM-SHA-256"),
    (["DIGEST-MD5", "SCRAM-SHA-1", "GSSAPI"], False, "SCRAM-SHA-1"),
    (["LOGIN"], False, "LOGIN"),
    (["XOAUTH2", "OAUTHBEARER"], False, None),  # a password is no token
    (["GSSAPI", "NTLM"], False, None),
    ([], False, None),
    (["PLAIN", "XOAUTH2", "OAUTHBEARER"], True, "OAUTHBEARER"),
    (["PLAIN", "xoauth2"], True, "XOAUTH2"),
    (["PLAIN", "LOGIN"], True, None),  # a token is no password
    ("PLAIN LOGIN CRAM-MD5", False, "CRAM-MD5"),
]


@pytest.mark.parametrize(("offered", "token", "expected"), STRONGEST)
def test_strongest(offered, token, expected):
    assert strongest(offered, token=token) == expected
    assert strongest(iter(offered) if not isinstance(offered, str) else offered, token=token) == expected


# ----- what the user sees: never the secret -------------------------------------------------------------

def run_exchange(name: str, password: str, *, fail: bool) -> list[str]:
    """Every text a user could see in one exchange (shown, notes, finish notes, reprs)."""
    mech = create(name, "alice", Secret(password), host="mx.example.test", port=587, nonce="abc")
    seen = [repr(mech)]
    steps = []
    first = mech.initial()
    if first is not None:
        steps.append(first)
    challenges = {
        "LOGIN": [b"Username:", b"Password:"],
        "CRAM-MD5": [b"<1.2@mx.example.test>"],
        "DIGEST-MD5": [b'realm="mx.example.test",nonce="n0nce",qop="auth",charset=utf-8,algorithm=md5-sess',
                       b"rspauth=00000000000000000000000000000000"],
        "SCRAM-SHA-1": [b"r=abcdef,s=" + b64(b"salt").encode() + b",i=4096", b"v=" + b64(b"x" * 20).encode()],
        "SCRAM-SHA-256": [b"r=abcdef,s=" + b64(b"salt").encode() + b",i=4096", b"v=" + b64(b"x" * 32).encode()],
        "XOAUTH2": [b'{"status":"401"}'] if fail else [],
        "OAUTHBEARER": [b'{"status":"invalid_token"}'] if fail else [],
    }.get(name, [])
    for challenge in challenges:
        try:
            steps.append(mech.respond(challenge))
        except AuthError as exc:
            seen.append(str(exc))
        seen.append(repr(mech))
    seen += mech.finish(535 if fail else 235, "2.7.0 " + b64("v=abc"))
    for step in steps:
        seen += [repr(step), step.shown, *step.notes]
    return seen


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(SUPPORTED), tail=st.text(min_size=4, max_size=20).filter(lambda s: "\0" not in s),
       fail=st.booleans())
def test_no_secret_in_anything_shown(name, tail, fail):
    password = "§" + tail  # a marker no fixed text contains, so any hit is a leak
    seen = "\n".join(run_exchange(name, password, fail=fail))
    assert password not in seen
    assert b64(password) not in seen
    assert "§" not in seen


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("fail", [False, True])
def test_no_secret_in_anything_shown_for_a_plain_password(name, fail):
    seen = "\n".join(run_exchange(name, "wonderland", fail=fail))
    assert "wonderland" not in seen and b64("wonderland") not in seen


def test_step_repr_masks_a_secret_response_only():
    masked = repr(Step(response=b"\0a\0wonderland", shown="x", secret=True))
    assert masked.startswith("Step(response=<13 bytes, masked>")
    assert "b'alice'" in repr(Step(response=b"alice", shown="alice", secret=False))


# ----- house rules ------------------------------------------------------------------------------------------

def test_sasl_modules_import_only_the_stdlib_and_the_protocol_package():
    root = Path(sasl.__file__).parent
    for path in [root / "auth.py", *sorted((root / "sasl").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith("smtpshell.protocol"), f"{path.name}: {name}"
                assert top not in {"socket", "asyncio", "ssl", "os", "io", "subprocess"}, \
                    f"{path.name} does I/O: {name}"


# ----- DIGEST-MD5 (RFC 2831) -------------------------------------------------------------------

RFC2831_CHALLENGE = b'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8'


def rfc2831_client(**kw) -> DigestMD5:
    """RFC 2831 section 4's example (IMAP, user chris, password secret, its cnonce)."""
    return DigestMD5(user="chris", secret=Secret("secret"), host="elwood.innosoft.com", service="imap",
                     cnonce="OA6MHXh6VqTrRk", **kw)


def test_digest_md5_rfc_2831_example():
    mech = rfc2831_client()
    assert mech.initial() is None  # the server speaks first
    step = mech.respond(RFC2831_CHALLENGE)
    assert step.response == (b'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",'
                             b'nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",'
                             b'response=d388dad90d4bbd760a152321f2143af7,qop=auth')
    assert step.secret and "secret" not in step.shown + "".join(step.notes)
    last = mech.respond(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
    assert last.response == b"" and mech.verified
    assert mech.finish(235, "2.7.0 Authentication successful") == [
        "server proof (rspauth) verified: mutual authentication complete"]


def test_digest_md5_a_wrong_rspauth_is_an_error_not_a_success():
    mech = rfc2831_client()
    mech.respond(RFC2831_CHALLENGE)
    with pytest.raises(AuthError, match="the server's proof does not match"):
        mech.respond(b"rspauth=ea40f60335c427b5527b84dbabcdfffe")
    assert mech.finish(235, "ok")[0].startswith("WARNING: the server said 235 although DIGEST-MD5 rspauth")


@pytest.mark.parametrize(("challenge", "problem"), [
    (b"", "empty: DIGEST-MD5 starts with the server's digest-challenge"),
    (b'realm="r",qop="auth",algorithm=md5-sess', "exactly one nonce= is required"),
    (b'nonce="a",nonce="b",algorithm=md5-sess', "exactly one nonce= is required"),
    (b'nonce="a",qop="auth"', "algorithm=md5-sess is required"),
    (b'nonce="a",qop="auth-int,auth-conf",algorithm=md5-sess', "this client does authentication only"),
    (b'nonce="a",algorithm=md5-sess,' + b"x" * 2100, "RFC 2831 allows 2048"),
    (b'nonce="unterminated,algorithm=md5-sess', "cannot read"),
])
def test_digest_md5_refuses_a_challenge_it_cannot_answer(challenge, problem):
    with pytest.raises(AuthError, match=re.escape(problem)):
        rfc2831_client().respond(challenge)


def test_digest_md5_quotes_escapes_several_realms_and_latin1():
    fields = parse_directives(r'realm="a\"b",realm="second",nonce="n",qop="auth,auth-int"')
    assert fields == {"realm": ['a"b', "second"], "nonce": ["n"], "qop": ["auth,auth-int"]}
    # charset=utf-8 and a name ISO 8859-1 can hold: hashed as ISO 8859-1 (RFC 2831 2.1.2.1), so
    # the response equals the one for the same text sent as Latin-1 without charset=utf-8.
    def response(user, charset):
        mech = DigestMD5(user=user, secret=Secret("pässword"), host="h", cnonce="c")
        text = mech.respond(b'nonce="n",qop="auth",algorithm=md5-sess' + charset).response.decode()
        return re.search(r"response=(\w+)", text).group(1)
    assert response("jürgen", b",charset=utf-8") == response("jürgen", b"")
    assert response("jürgen", b",charset=utf-8") != response("jurgen", b",charset=utf-8")
