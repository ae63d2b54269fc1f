"""The practice server's SASL logic without I/O: SCRAM (RFC 5802/7677 vectors), bearer tokens, users."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from smtpshell.server import bearer
from smtpshell.server.scram import HASHES, ScramError, ScramKeys, ScramServer, decoy_keys, derive_keys
from smtpshell.server.users import DEMO_USERS, DemoUser, UserBook

# ----- SCRAM: the RFCs' example exchanges, server side ------------------------------------

RFC_EXCHANGES = {
    # RFC 5802 §5: user "user", password "pencil"
    "SCRAM-SHA-1": {
        "salt": "QSXCR+Q6sek8bf92",
        "server_nonce": "3rfcNHYJY1ZVvWVs7j",
        "client_first": "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
        "server_first": "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "client_final": "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        "server_final": "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    },
    # RFC 7677 §3: the same user and password
    "SCRAM-SHA-256": {
        "salt": "W22ZaJ0SNY7soEsUEjb6gQ==",
        "server_nonce": "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "client_first": "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "server_first": "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "client_final": "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "server_final": "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    },
}


def rfc_server(mechanism: str, *, password: str = "pencil") -> ScramServer:
    vector = RFC_EXCHANGES[mechanism]
    keys = derive_keys(mechanism, password, salt=base64.b64decode(vector["salt"]))
    return ScramServer(mechanism, {"user": keys}.get, nonce=vector["server_nonce"])


@pytest.mark.parametrize("mechanism", RFC_EXCHANGES)
def test_rfc_example_exchange_gives_the_rfc_server_messages(mechanism: str) -> None:
    vector = RFC_EXCHANGES[mechanism]
    server = rfc_server(mechanism)
    assert server.first(vector["client_first"].encode()).decode() == vector["server_first"]
    assert server.final(vector["client_final"].encode()).decode() == vector["server_final"]
    assert server.verified and server.user == "user" and server.authzid == ""


@pytest.mark.parametrize("mechanism", RFC_EXCHANGES)
def test_rfc_proof_against_another_password_is_invalid_proof(mechanism: str) -> None:
    vector = RFC_EXCHANGES[mechanism]
    server = rfc_server(mechanism, password="not-pencil")
    server.first(vector["client_first"].encode())
    with pytest.raises(ScramError) as caught:
        server.final(vector["client_final"].encode())
    assert caught.value.error == "invalid-proof"
    assert "does not match the password of 'user'" in str(caught.value)
    assert not server.verified


def test_stored_keys_are_what_rfc_5802_section_3_says_and_nothing_more() -> None:
    salt = base64.b64decode(RFC_EXCHANGES["SCRAM-SHA-256"]["salt"])
    keys = derive_keys("SCRAM-SHA-256", "pencil", salt=salt)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    assert keys.stored_key == hashlib.sha256(client_key).digest()
    assert keys.server_key == hmac.digest(salted, b"Server Key", "sha256")
    assert {name for name in vars(keys)} == {"salt", "iterations", "stored_key", "server_key"}
    assert keys.iterations == 4096
    assert keys.stored_key.hex() not in repr(keys) and "keys=***" in repr(keys)


def test_a_random_salt_per_derivation() -> None:
    assert derive_keys("SCRAM-SHA-1", "x").salt != derive_keys("SCRAM-SHA-1", "x").salt
    assert len(derive_keys("SCRAM-SHA-1", "x").salt) == 16


# ----- SCRAM: a full exchange with a client written here -----------------------------------


def client_final_for(mechanism: str, password: str, client_first_bare: str, server_first: str,
                     gs2: str = "n,,") -> tuple[str, bytes]:
    """RFC 5802 client computation: (client-final-message, expected ServerSignature)."""
    hash_name = HASHES[mechanism]
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    without_proof = f"c={base64.b64encode(gs2.encode()).decode()},r={attrs['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.new(hash_name, client_key).digest(), auth_message, hash_name)
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_signature = hmac.digest(hmac.digest(salted, b"Server Key", hash_name), auth_message, hash_name)
    return f"{without_proof},p={base64.b64encode(proof).decode()}", server_signature


@pytest.mark.parametrize("mechanism", HASHES)
@pytest.mark.parametrize("gs2", ["n,,", "y,,", "n,a=alice,"])
def test_demo_user_exchange_succeeds_with_server_signature(mechanism: str, gs2: str) -> None:
    book = UserBook(DEMO_USERS)
    server = ScramServer(mechanism, lambda name: book.scram_keys(mechanism, name))
    bare = "n=alice,r=client-nonce"
    server_first = server.first(f"{gs2}{bare}".encode()).decode()
    assert server_first.startswith("r=client-nonce") and len(server_first.split(",")[0]) > len("r=client-nonce") + 8
    client_final, expected = client_final_for(mechanism, "wonderland", bare, server_first, gs2)
    assert server.final(client_final.encode()) == b"v=" + base64.b64encode(expected)
    assert server.authzid == ("alice" if "a=" in gs2 else "")


def test_names_with_comma_and_equals_are_unescaped() -> None:
    keys = derive_keys("SCRAM-SHA-1", "pw")
    server = ScramServer("SCRAM-SHA-1", {"a,b=c": keys}.get)
    bare = "n=a=2Cb=3Dc,r=abc"
    server_first = server.first(f"n,a=x=2Cy,{bare}".encode()).decode()
    client_final, _ = client_final_for("SCRAM-SHA-1", "pw", bare, server_first, gs2="n,a=x=2Cy,")
    server.final(client_final.encode())
    assert server.user == "a,b=c" and server.authzid == "x,y"


def test_unknown_user_gets_a_stable_salt_and_fails_like_a_wrong_password() -> None:
    secret = b"server secret"
    salts = []
    for _ in range(2):
        server = ScramServer("SCRAM-SHA-256", {}.get, decoy_secret=secret)
        server_first = server.first(b"n,,n=mallory,r=abc").decode()
        salts.append(server_first.split(",")[1])
        assert server_first.endswith(",i=4096")
        client_final, _ = client_final_for("SCRAM-SHA-256", "anything", "n=mallory,r=abc", server_first)
        with pytest.raises(ScramError) as caught:
            server.final(client_final.encode())
        assert caught.value.error == "invalid-proof"
    assert salts[0] == salts[1]
    assert decoy_keys("SCRAM-SHA-256", "mallory", secret).salt != decoy_keys("SCRAM-SHA-256", "eve", secret).salt


@pytest.mark.parametrize(
    ("client_first", "error", "words"),
    [
        (b"p=tls-unique,,n=alice,r=abc", "channel-binding-not-supported", "asks for channel binding ('p=tls-unique')"),
        (b"x,,n=alice,r=abc", "other-error", "GS2 flag 'x' is not n, y or p="),
        (b"n=alice,r=abc", "other-error", "does not start with a GS2 header"),
        (b"n,b=alice,n=alice,r=abc", "other-error", "is not a=<authzid>"),
        (b"n,,m=ext,n=alice,r=abc", "extensions-not-supported", "requires an extension"),
        (b"n,,r=abc,n=alice", "other-error", "must be n=<user>,r=<nonce>"),
        (b"n,,n=alice", "other-error", "must be n=<user>,r=<nonce>"),
        (b"n,,n=al=41ice,r=abc", "invalid-username-encoding", "'=' must be =2C or =3D"),
        (b"n,,n=,r=abc", "other-error", "empty name"),
        (b"n,,n=alice,r=", "other-error", "nonce r='' is not printable ASCII"),
        (b"n,,n=alice,r=a\tb", "other-error", "is not printable ASCII"),
        (b"n,,n=alice,r=abc,noequals", "other-error", "is not an attribute"),
        (b"n,,n=\xff,r=abc", "invalid-encoding", "is not UTF-8"),
    ],
)
def test_malformed_client_first_names_the_rfc_error(client_first: bytes, error: str, words: str) -> None:
    server = ScramServer("SCRAM-SHA-1", {"alice": derive_keys("SCRAM-SHA-1", "pw")}.get)
    with pytest.raises(ScramError) as caught:
        server.first(client_first)
    assert caught.value.error == error
    assert words in str(caught.value) and f"(e={error})" in str(caught.value)


def started(mechanism: str = "SCRAM-SHA-1") -> tuple[ScramServer, str]:
    server = ScramServer(mechanism, {"alice": derive_keys(mechanism, "pw")}.get, nonce="SERVER")
    return server, server.first(b"n,,n=alice,r=abc").decode()


@pytest.mark.parametrize(
    ("client_final", "error", "words"),
    [
        (b"c=biws,r=abcSERVER", "other-error", "must be c=<binding>,r=<nonce>,...,p=<proof>"),
        (b"r=abcSERVER,c=biws,p=AAAA", "other-error", "must be c=<binding>"),
        (b"c=biws,r=abcOTHER,p=AAAA", "other-error", "r='abcOTHER' is not the nonce of this exchange"),
        (b"c=!!,r=abcSERVER,p=AAAA", "invalid-encoding", "c='!!' is not base64"),
        (b"c=eSws,r=abcSERVER,p=AAAA", "channel-bindings-dont-match", "(expected c=biws)"),
        (b"c=biws,r=abcSERVER,p=!!", "invalid-encoding", "proof p= is not base64"),
        (b"c=biws,r=abcSERVER,p=AAAA", "invalid-proof", "proof p= is 3 bytes, not 20"),
    ],
)
def test_malformed_client_final_names_the_rfc_error(client_final: bytes, error: str, words: str) -> None:
    server, _ = started()
    with pytest.raises(ScramError) as caught:
        server.final(client_final)
    assert caught.value.error == error
    assert words in str(caught.value)


def test_proof_is_never_echoed_in_an_error() -> None:
    server, server_first = started()
    client_final, _ = client_final_for("SCRAM-SHA-1", "wrong", "n=alice,r=abc", server_first)
    with pytest.raises(ScramError) as caught:
        server.final(client_final.encode())
    assert client_final.rpartition("p=")[2] not in str(caught.value)


def test_messages_out_of_order_are_a_local_error() -> None:
    server = ScramServer("SCRAM-SHA-1", {}.get)
    with pytest.raises(RuntimeError):
        server.final(b"c=biws,r=x,p=AAAA")
    server.first(b"n,,n=alice,r=abc")
    with pytest.raises(RuntimeError):
        server.first(b"n,,n=alice,r=abc")
    with pytest.raises(ValueError):
        ScramServer("SCRAM-SHA-1", {}.get, nonce="has,comma")


def test_long_input_is_cut_short_in_errors() -> None:
    server = ScramServer("SCRAM-SHA-1", {}.get)
    with pytest.raises(ScramError) as caught:
        server.first(b"n,,x" * 200)
    assert len(str(caught.value)) < 200


# ----- bearer tokens -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "user", "token", "host", "port"),
    [
        (b"n,a=alice,\x01host=mx.example\x01port=587\x01auth=Bearer alice-demo-token\x01\x01",
         "alice", "alice-demo-token", "mx.example", "587"),
        (b"n,,\x01auth=bearer tok.en~+/==\x01\x01", "", "tok.en~+/==", "", ""),  # the scheme in any case
        (b"y,a=a=2Cb=3Dc,\x01auth=Bearer tok3n\x01\x01", "a,b=c", "tok3n", "", ""),
    ],
)
def test_oauthbearer_initial_response_is_parsed(message: bytes, user: str, token: str, host: str, port: str) -> None:
    request = bearer.parse_oauthbearer(message)
    assert (request.user, request.token, request.host, request.port) == (user, token, host, port)
    assert token not in repr(request)


def test_xoauth2_initial_response_is_parsed() -> None:
    request = bearer.parse_xoauth2(b"user=alice@example.com\x01auth=Bearer ya29.abc-def\x01\x01")
    assert (request.user, request.token) == ("alice@example.com", "ya29.abc-def")


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (b"user=alice\x01auth=Bearer t\x01", "must end with ^A^A"),
        (b"auth=Bearer t\x01\x01", "no user= field"),
        (b"user=\x01auth=Bearer t\x01\x01", "no user= field, or an empty one"),
        (b"user=alice\x01\x01", "no auth= field"),
        (b"user=alice\x01auth=Basic dDp0\x01\x01", "auth= must be 'Bearer <token>'"),
        (b"user=alice\x01auth=Bearer \x01\x01", "auth= must be 'Bearer <token>'"),
        (b"user=alice\x01user=bob\x01auth=Bearer t\x01\x01", "user= appears twice"),
        (b"user=alice\x01no-equals\x01auth=Bearer t\x01\x01", "is not key=value"),
        (b"user=\xff\x01auth=Bearer t\x01\x01", "not UTF-8"),
    ],
)
def test_malformed_xoauth2_is_refused_with_a_reason(message: bytes, words: str) -> None:
    with pytest.raises(bearer.BearerError, match=words.replace("^", r"\^").replace("(", r"\(")):
        bearer.parse_xoauth2(message)


@pytest.mark.parametrize(
    ("message", "words", "channel_binding"),
    [
        (b"n,a=alice,auth=Bearer secret-token", "no ^A (0x01) after the GS2 header", False),
        (b"auth=Bearer secret-token\x01\x01", "must start with a GS2 header", False),
        (b"p=tls-unique,a=alice,\x01auth=Bearer secret-token\x01\x01", "asks for channel binding", True),
        (b"x,a=alice,\x01auth=Bearer secret-token\x01\x01", "GS2 flag must be n or y", False),
        (b"n,u=alice,\x01auth=Bearer secret-token\x01\x01", "must name the user as a=<user>", False),
        (b"n,a=al=ice,\x01auth=Bearer secret-token\x01\x01", "'=' must be =2C or =3D", False),
        (b"n,a=alice,\x01auth=Bearer secret-token\x01", "must end with ^A^A", False),
        (b"n,a=alice,\x01\x01", "no auth= field", False),
        (b"\x01", "must start with a GS2 header", False),  # the error acknowledgement, as a first message
    ],
)
def test_malformed_oauthbearer_is_refused_without_showing_the_token(
    message: bytes, words: str, channel_binding: bool
) -> None:
    with pytest.raises(bearer.BearerError) as caught:
        bearer.parse_oauthbearer(message)
    assert words in str(caught.value)
    assert caught.value.channel_binding is channel_binding
    assert "secret-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "status", "ack"), [("XOAUTH2", "401", b""), ("OAUTHBEARER", "invalid_token", b"\x01")]
)
def test_error_report_is_json_and_each_mechanism_has_its_acknowledgement(name: str, status: str, ack: bytes) -> None:
    mechanism = bearer.MECHANISMS[name]
    report = json.loads(bearer.error_report(mechanism))
    assert report == {"status": status, "schemes": "Bearer", "scope": "smtp"}
    assert mechanism.ack == ack


# ----- demo users --------------------------------------------------------------------------


def test_demo_users_have_printed_tokens_that_repr_hides() -> None:
    alice = DEMO_USERS[0]
    assert alice.token == "alice-demo-token"
    assert "alice-demo-token" not in repr(alice) and "wonderland" not in repr(alice)


def test_tokens_are_checked_per_user_and_an_empty_token_never_matches() -> None:
    book = UserBook([*DEMO_USERS, DemoUser(name="carol", password="pw")])
    assert book.check_token("alice", "alice-demo-token") is DEMO_USERS[0]
    assert book.check_token("", "bob-demo-token") is DEMO_USERS[1]  # OAUTHBEARER without a=
    assert book.check_token("bob", "alice-demo-token") is None
    assert book.check_token("mallory", "alice-demo-token") is None
    assert book.check_token("carol", "") is None and book.check_token("", "") is None


def test_user_book_keeps_scram_keys_per_user_and_mechanism() -> None:
    book = UserBook(DEMO_USERS)
    keys = {(mech, user.name): book.scram_keys(mech, user.name) for mech in HASHES for user in DEMO_USERS}
    assert all(isinstance(value, ScramKeys) for value in keys.values())
    assert len({value.salt for value in keys.values()}) == len(keys)  # a salt of its own each
    assert book.scram_keys("SCRAM-SHA-1", "mallory") is None


# ----- the replies -------------------------------------------------------------------------


def test_every_scram_error_has_a_reply_and_every_reply_constant_is_well_formed() -> None:
    import re

    from smtpshell.server import scram, smtp

    errors = {value for name, value in vars(scram).items() if name.isupper() and isinstance(value, str)
              and re.fullmatch(r"[a-z]+(-[a-z]+)+", value)}
    assert errors == set(smtp.SCRAM_FAILURES)
    for name, value in vars(smtp).items():
        if re.fullmatch(r"S\d{3}_[A-Z0-9_]+", name):  # named reply constants: code, enhanced code, text
            assert re.match(rf"{name[1:4]} {name[1]}\.\d\.\d+ \S", value), name
