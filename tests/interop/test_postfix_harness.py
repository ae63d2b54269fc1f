"""The Postfix harness itself, proved with the standard library's smtplib only.

If these fail, the interop tests of smtpshell against Postfix cannot mean anything: fix
.ci/mta/postfix-start first.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import smtplib
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # tests/interop is not a package; conftest is only importable for typing
    from conftest import PostfixInstance

CLIENT_NAME = "client.example.test"  # our EHLO name; avoids smtplib's slow getfqdn()
TIMEOUT = 10.0
LISTENERS = ("smtp", "submission", "smtps")  # smtp: AUTH over plain text; others: over TLS


# --- connections ---------------------------------------------------------------------------


def tls_context(postfix: PostfixInstance) -> ssl.SSLContext:
    """Verify certificates against the harness CA only."""
    return ssl.create_default_context(cafile=str(postfix.cafile))


@contextlib.contextmanager
def session(postfix: PostfixInstance, listener: str) -> Iterator[smtplib.SMTP]:
    """An SMTP session after EHLO: `smtp` in plain text, `submission` after STARTTLS + EHLO,
    `smtps` over implicit TLS."""
    context = tls_context(postfix)
    smtp: smtplib.SMTP
    if listener == "smtps":
        smtp = smtplib.SMTP_SSL(
            postfix.host,
            postfix.smtps_port,
            local_hostname=CLIENT_NAME,
            timeout=TIMEOUT,
            context=context,
        )
    else:
        port = postfix.port if listener == "smtp" else postfix.submission_port
        smtp = smtplib.SMTP(postfix.host, port, local_hostname=CLIENT_NAME, timeout=TIMEOUT)
    with smtp:
        smtp.ehlo()
        if listener == "submission":
            smtp.starttls(context=context)
            smtp.ehlo()
        yield smtp


def read_reply(stream) -> list[bytes]:
    """One SMTP reply (all its lines) from a binary file object."""
    lines = []
    while True:
        line = stream.readline()
        assert line, f"connection closed after {lines!r}"
        lines.append(line.rstrip(b"\r\n"))
        if line[3:4] != b"-":
            return lines


def starttls_raw(postfix: PostfixInstance, server_hostname: str, context: ssl.SSLContext) -> dict:
    """EHLO + STARTTLS by hand on the port-25 listener, verifying for SERVER_HOSTNAME (smtplib
    always verifies for the name it connected to); return the peer certificate."""
    with socket.create_connection((postfix.host, postfix.port), timeout=TIMEOUT) as sock:
        with sock.makefile("rwb") as stream:
            assert read_reply(stream)[-1].startswith(b"220 ")
            stream.write(b"EHLO " + CLIENT_NAME.encode() + b"\r\n")
            stream.flush()
            assert b"250-STARTTLS" in read_reply(stream)
            stream.write(b"STARTTLS\r\n")
            stream.flush()
            assert read_reply(stream)[-1].startswith(b"220 ")
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            with tls.makefile("rwb") as stream:
                stream.write(b"EHLO " + CLIENT_NAME.encode() + b"\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"250 ")
                stream.write(b"QUIT\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"221 ")
            return tls.getpeercert()


# --- SASL clients for mechanisms smtplib lacks ----------------------------------------------
# smtplib.SMTP.auth(mech, authobject) calls authobject() for the initial response (None: no
# initial response), then authobject(challenge_bytes) for each 334, and base64s what it returns.


def scram(hash_name: str, user: str, password: str) -> Callable[..., str | None]:
    """An RFC 5802 SCRAM client (no channel binding) that also checks the server's signature."""
    cnonce = secrets.token_urlsafe(18)
    saslname = user.replace("=", "=3D").replace(",", "=2C")
    client_first_bare = f"n={saslname},r={cnonce}"
    state: dict[str, bytes] = {}

    def step(challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return "n,," + client_first_bare
        text = challenge.decode()
        fields = dict(item.split("=", 1) for item in text.split(","))
        if "v" in fields:  # server-final-message
            assert hmac.compare_digest(base64.b64decode(fields["v"]), state["server_signature"])
            return ""
        assert fields["r"].startswith(cnonce), "server nonce must extend ours"
        salted = hashlib.pbkdf2_hmac(
            hash_name, password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", hash_name)
        stored_key = hashlib.new(hash_name, client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{client_first_bare},{text},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, hash_name)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", hash_name)
        state["server_signature"] = hmac.digest(server_key, auth_message, hash_name)
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    return step


def digest_md5(user: str, password: str, digest_uri: str) -> Callable[..., str | None]:
    """An RFC 2831 DIGEST-MD5 client (qop=auth only); checks the server's rspauth."""
    cnonce = secrets.token_hex(16)
    state: dict[str, str] = {}

    def md5(data: bytes) -> bytes:
        return hashlib.md5(data).digest()

    def step(challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return None  # DIGEST-MD5 has no initial response
        fields = {
            key: value.strip('"')
            for key, value in re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^,]*)', challenge.decode())
        }
        if "rspauth" in fields:
            assert fields["rspauth"] == state["rspauth"]
            return ""
        realm, nonce = fields.get("realm", ""), fields["nonce"]
        a1 = md5(f"{user}:{realm}:{password}".encode()) + f":{nonce}:{cnonce}".encode()
        ha1 = md5(a1).hex()

        def response_value(a2: str) -> str:
            ha2 = hashlib.md5(a2.encode()).hexdigest()
            return hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()

        state["rspauth"] = response_value(f":{digest_uri}")
        return (
            f'charset=utf-8,username="{user}",realm="{realm}",nonce="{nonce}",nc=00000001,'
            f'cnonce="{cnonce}",digest-uri="{digest_uri}",qop=auth,'
            f"response={response_value(f'AUTHENTICATE:{digest_uri}')}"
        )

    return step


def authenticator(smtp: smtplib.SMTP, mech: str, user: str, password: str) -> Callable:
    """The authobject for MECH: smtplib's own where it has one, ours otherwise."""
    smtp.user, smtp.password = user, password
    builtin = {"PLAIN": smtp.auth_plain, "LOGIN": smtp.auth_login, "CRAM-MD5": smtp.auth_cram_md5}
    if mech in builtin:
        return builtin[mech]
    if mech == "SCRAM-SHA-1":
        return scram("sha1", user, password)
    if mech == "SCRAM-SHA-256":
        return scram("sha256", user, password)
    if mech == "DIGEST-MD5":
        return digest_md5(user, password, "smtp/mx.example.test")
    raise AssertionError(f"no client for {mech} in this test")


CLIENT_MECHS = ("PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")
REQUIRED_MECHS = ("PLAIN", "LOGIN")


# --- greeting, EHLO, TLS ---------------------------------------------------------------------


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_plain_listeners_greet_with_220(postfix: PostfixInstance, listener: str) -> None:
    port = postfix.port if listener == "smtp" else postfix.submission_port
    with smtplib.SMTP(local_hostname=CLIENT_NAME, timeout=TIMEOUT) as smtp:
        code, text = smtp.connect(postfix.host, port)
        assert (code, text) == (220, b"mx.example.test ESMTP Postfix")


def test_smtps_greets_with_220_after_implicit_tls(postfix: PostfixInstance) -> None:
    # By hand: smtplib.SMTP_SSL checks the greeting code but does not keep its text.
    with socket.create_connection((postfix.host, postfix.smtps_port), timeout=TIMEOUT) as raw:
        with tls_context(postfix).wrap_socket(raw, server_hostname=postfix.host) as tls:
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
            with tls.makefile("rwb") as stream:
                assert read_reply(stream) == [b"220 mx.example.test ESMTP Postfix"]
                stream.write(b"QUIT\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"221 ")


def test_smtp_port_ehlo_offers_starttls_auth_and_extensions(postfix: PostfixInstance) -> None:
    with session(postfix, "smtp") as smtp:
        features = smtp.esmtp_features
        for keyword in ("starttls", "pipelining", "chunking", "smtputf8", "dsn", "8bitmime",
                        "enhancedstatuscodes", "size"):
            assert keyword in features, f"{keyword} missing from {features}"
        # AUTH over plain text is offered on purpose (smtpd_tls_auth_only = no).
        assert tuple(features["auth"].split()) == postfix.mechs


def test_submission_offers_auth_only_after_starttls(postfix: PostfixInstance) -> None:
    with smtplib.SMTP(postfix.host, postfix.submission_port, local_hostname=CLIENT_NAME,
                      timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        assert "starttls" in smtp.esmtp_features
        assert "auth" not in smtp.esmtp_features
        # TLS is required before a transaction.
        assert smtp.mail(f"alice@{postfix.domain}")[0] == 530
        smtp.starttls(context=tls_context(postfix))
        smtp.ehlo()
        assert "starttls" not in smtp.esmtp_features
        assert tuple(smtp.esmtp_features["auth"].split()) == postfix.mechs


def test_smtps_ehlo_offers_auth_and_no_starttls(postfix: PostfixInstance) -> None:
    with session(postfix, "smtps") as smtp:
        assert "starttls" not in smtp.esmtp_features
        assert tuple(smtp.esmtp_features["auth"].split()) == postfix.mechs


def test_starttls_verifies_against_the_ca_for_localhost(postfix: PostfixInstance) -> None:
    cert = starttls_raw(postfix, "localhost", tls_context(postfix))
    assert ("DNS", "localhost") in cert["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    assert (("commonName", "localhost"),) in cert["subject"]


def test_starttls_verifies_against_the_ca_for_127_0_0_1(postfix: PostfixInstance) -> None:
    with session(postfix, "submission") as smtp:
        assert smtp.sock.version() in {"TLSv1.2", "TLSv1.3"}


def test_certificate_fails_without_the_harness_ca(postfix: PostfixInstance) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        starttls_raw(postfix, "localhost", ssl.create_default_context())


def test_certificate_fails_for_another_name(postfix: PostfixInstance) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        starttls_raw(postfix, "mx.example.test", tls_context(postfix))


# --- AUTH ------------------------------------------------------------------------------------


def test_every_offered_mechanism_is_covered_here(postfix: PostfixInstance) -> None:
    assert set(REQUIRED_MECHS) <= set(postfix.mechs)
    assert set(postfix.mechs) <= set(CLIENT_MECHS), "add a client for the new mechanism"


@pytest.mark.parametrize("mech", CLIENT_MECHS)
@pytest.mark.parametrize("listener", LISTENERS)
def test_auth_succeeds(postfix: PostfixInstance, listener: str, mech: str) -> None:
    if mech not in postfix.mechs:
        pytest.skip(f"{mech} not offered by this Postfix (offered: {' '.join(postfix.mechs)})")
    with session(postfix, listener) as smtp:
        auth = authenticator(smtp, mech, postfix.user, postfix.password)
        code, text = smtp.auth(mech, auth, initial_response_ok=True)
        assert (code, text) == (235, b"2.7.0 Authentication successful")


@pytest.mark.parametrize("mech", CLIENT_MECHS)
def test_auth_accepts_the_user_with_its_realm(postfix: PostfixInstance, mech: str) -> None:
    if mech not in postfix.mechs:
        pytest.skip(f"{mech} not offered")
    with session(postfix, "submission") as smtp:
        auth = authenticator(smtp, mech, postfix.address, postfix.password)
        assert smtp.auth(mech, auth)[0] == 235


@pytest.mark.parametrize("mech", CLIENT_MECHS)
def test_wrong_password_is_535(postfix: PostfixInstance, mech: str) -> None:
    if mech not in postfix.mechs:
        pytest.skip(f"{mech} not offered")
    with session(postfix, "submission") as smtp:
        auth = authenticator(smtp, mech, postfix.user, "not-" + postfix.password)
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            smtp.auth(mech, auth)
        assert failure.value.smtp_code == 535
        assert failure.value.smtp_error.startswith(b"5.7.8 ")


# --- relay policy ----------------------------------------------------------------------------


def test_unauthenticated_relay_is_refused(postfix: PostfixInstance) -> None:
    with session(postfix, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt("someone@elsewhere.invalid") == (
            554,
            b"5.7.1 <someone@elsewhere.invalid>: Relay access denied",
        )


def test_authenticated_relay_is_accepted(postfix: PostfixInstance) -> None:
    with session(postfix, "submission") as smtp:
        smtp.login(postfix.user, postfix.password)
        assert smtp.mail(postfix.address)[0] == 250
        # Accepted, and would be discarded: the instance never sends mail off the machine.
        assert smtp.rcpt("someone@elsewhere.invalid")[0] == 250
        assert smtp.rset()[0] == 250


def test_submission_requires_auth_even_for_local_mail(postfix: PostfixInstance) -> None:
    with session(postfix, "submission") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        code, text = smtp.rcpt(postfix.address)
        assert code == 554 and text.startswith(b"5.7.1 ")


def test_unknown_local_user_is_550(postfix: PostfixInstance) -> None:
    with session(postfix, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        code, text = smtp.rcpt(f"nobody-here@{postfix.domain}")
        assert code == 550 and text.startswith(b"5.1.1 ")


# --- delivery --------------------------------------------------------------------------------


def message(postfix: PostfixInstance, marker: str, body: bytes) -> bytes:
    """A small message with CRLF line ends; MARKER makes it findable in the Maildir."""
    head = (
        f"From: someone@example.org\r\nTo: {postfix.address}\r\n"
        f"Subject: harness {marker}\r\nMessage-ID: <{marker}@client.example.test>\r\n\r\n"
    )
    return head.encode() + body


def test_dot_stuffed_line_arrives_unstuffed(postfix: PostfixInstance) -> None:
    marker = uuid.uuid4().hex
    # Exactly these bytes go on the wire: the body lines are already dot-stuffed.
    wire = message(postfix, marker, b"first\r\n..hidden\r\n...two dots\r\nlast\r\n") + b".\r\n"
    with session(postfix, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt(postfix.address)[0] == 250
        assert smtp.docmd("DATA")[0] == 354
        smtp.send(wire)
        code, text = smtp.getreply()
        assert code == 250 and text.startswith(b"2.0.0 Ok: queued as "), text
    delivered = postfix.wait_for_delivery(postfix.user, containing=marker.encode()).read_bytes()
    # Postfix stores messages with LF line ends.
    assert b"\nfirst\n.hidden\n..two dots\nlast\n" in delivered
    assert b"..hidden" not in delivered


def test_bdat_content_is_not_unstuffed(postfix: PostfixInstance) -> None:
    marker = uuid.uuid4().hex
    chunk = message(postfix, marker, b"..not stuffed in BDAT\r\n")
    with session(postfix, "smtp") as smtp:
        assert "chunking" in smtp.esmtp_features
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt(postfix.address)[0] == 250
        smtp.putcmd("BDAT", f"{len(chunk)} LAST")
        smtp.send(chunk)
        code, text = smtp.getreply()
        # Postfix counts the bytes for BDAT: "2.0.0 Ok: 195 bytes queued as 4F2B81206D5".
        assert code == 250 and re.match(rb"2\.0\.0 Ok: \d+ bytes queued as ", text), text
    delivered = postfix.wait_for_delivery(postfix.user, containing=marker.encode()).read_bytes()
    assert b"\n..not stuffed in BDAT\n" in delivered
