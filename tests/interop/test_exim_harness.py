"""The Exim harness itself, proved with the standard library's smtplib only.

If these fail, the interop tests of smtpshell against Exim cannot mean anything: fix
.ci/mta/exim-start first.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # tests/interop is not a package; conftest is only importable for typing
    from conftest import EximInstance

CLIENT_NAME = "client.example.test"  # our EHLO name; avoids smtplib's slow getfqdn()
TIMEOUT = 10.0
# smtp: plain text (AUTH offered there too); starttls: the same port after STARTTLS;
# smtps: implicit TLS.
LISTENERS = ("smtp", "starttls", "smtps")
MECHS = ("PLAIN", "LOGIN", "CRAM-MD5")  # Exim's plaintext and cram_md5 authenticators
BANNER = re.compile(rb"mx\.example\.test ESMTP Exim 4\.\d+ \w{3}, \d+ \w{3} \d{4} [\d:]{8} [+-]\d{4}")


# --- connections ---------------------------------------------------------------------------


def tls_context(exim: EximInstance) -> ssl.SSLContext:
    """Verify certificates against the harness CA only."""
    return ssl.create_default_context(cafile=str(exim.cafile))


@contextlib.contextmanager
def session(exim: EximInstance, listener: str) -> Iterator[smtplib.SMTP]:
    """An SMTP session after EHLO: `smtp` in plain text, `starttls` after STARTTLS + EHLO,
    `smtps` over implicit TLS."""
    smtp: smtplib.SMTP
    if listener == "smtps":
        smtp = smtplib.SMTP_SSL(exim.host, exim.smtps_port, local_hostname=CLIENT_NAME,
                                timeout=TIMEOUT, context=tls_context(exim))
    else:
        smtp = smtplib.SMTP(exim.host, exim.port, local_hostname=CLIENT_NAME, timeout=TIMEOUT)
    with smtp:
        smtp.ehlo()
        if listener == "starttls":
            smtp.starttls(context=tls_context(exim))
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


def starttls_raw(exim: EximInstance, server_hostname: str, context: ssl.SSLContext) -> dict:
    """EHLO + STARTTLS by hand, verifying for SERVER_HOSTNAME (smtplib always verifies for the
    name it connected to); return the peer certificate."""
    with socket.create_connection((exim.host, exim.port), timeout=TIMEOUT) as sock:
        with sock.makefile("rwb") as stream:
            assert read_reply(stream)[-1].startswith(b"220 ")
            stream.write(b"EHLO " + CLIENT_NAME.encode() + b"\r\n")
            stream.flush()
            assert b"250-STARTTLS" in read_reply(stream)
            stream.write(b"STARTTLS\r\n")
            stream.flush()
            assert read_reply(stream) == [b"220 TLS go ahead"]
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            with tls.makefile("rwb") as stream:
                stream.write(b"EHLO " + CLIENT_NAME.encode() + b"\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"250 ")
                stream.write(b"QUIT\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"221 ")
            return tls.getpeercert()


def authenticate(smtp: smtplib.SMTP, mech: str, user: str, password: str) -> tuple[int, bytes]:
    """AUTH MECH with smtplib's own client for it; the reply, also when it is a failure."""
    smtp.user, smtp.password = user, password
    client = {"PLAIN": smtp.auth_plain, "LOGIN": smtp.auth_login, "CRAM-MD5": smtp.auth_cram_md5}
    try:
        return smtp.auth(mech, client[mech], initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as failure:
        return failure.smtp_code, failure.smtp_error


# --- greeting, EHLO, TLS ---------------------------------------------------------------------


def test_plain_port_greets_with_the_exim_banner(exim: EximInstance) -> None:
    with smtplib.SMTP(local_hostname=CLIENT_NAME, timeout=TIMEOUT) as smtp:
        code, text = smtp.connect(exim.host, exim.port)
        assert code == 220 and BANNER.fullmatch(text), text


def test_smtps_greets_with_220_after_implicit_tls(exim: EximInstance) -> None:
    # By hand: smtplib.SMTP_SSL checks the greeting code but does not keep its text.
    with socket.create_connection((exim.host, exim.smtps_port), timeout=TIMEOUT) as raw:
        with tls_context(exim).wrap_socket(raw, server_hostname=exim.host) as tls:
            assert tls.version() in {"TLSv1.2", "TLSv1.3"}
            with tls.makefile("rwb") as stream:
                greeting = read_reply(stream)
                assert len(greeting) == 1 and greeting[0].startswith(b"220 ")
                assert BANNER.fullmatch(greeting[0][4:]), greeting
                stream.write(b"QUIT\r\n")
                stream.flush()
                assert read_reply(stream)[-1].startswith(b"221 ")


def test_ehlo_offers_starttls_auth_and_extensions(exim: EximInstance) -> None:
    with session(exim, "smtp") as smtp:
        features = smtp.esmtp_features
        for keyword in ("starttls", "pipelining", "chunking", "8bitmime", "smtputf8", "dsn", "size"):
            assert keyword in features, f"{keyword} missing from {features}"
        # AUTH over plain text is offered on purpose (server_advertise_condition = true).
        assert tuple(features["auth"].split()) == exim.mechs == MECHS


@pytest.mark.parametrize("listener", ["starttls", "smtps"])
def test_over_tls_auth_is_offered_and_starttls_is_not(exim: EximInstance, listener: str) -> None:
    with session(exim, listener) as smtp:
        assert "starttls" not in smtp.esmtp_features
        assert tuple(smtp.esmtp_features["auth"].split()) == exim.mechs


def test_starttls_verifies_against_the_ca_for_localhost(exim: EximInstance) -> None:
    cert = starttls_raw(exim, "localhost", tls_context(exim))
    assert ("DNS", "localhost") in cert["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    assert (("commonName", "localhost"),) in cert["subject"]


def test_starttls_verifies_against_the_ca_for_127_0_0_1(exim: EximInstance) -> None:
    with session(exim, "starttls") as smtp:
        assert smtp.sock.version() in {"TLSv1.2", "TLSv1.3"}


def test_certificate_fails_without_the_harness_ca(exim: EximInstance) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        starttls_raw(exim, "localhost", ssl.create_default_context())


def test_certificate_fails_for_another_name(exim: EximInstance) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        starttls_raw(exim, "mx.example.test", tls_context(exim))


# --- AUTH ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("listener", LISTENERS)
def test_auth_succeeds(exim: EximInstance, listener: str, mech: str) -> None:
    with session(exim, listener) as smtp:
        assert authenticate(smtp, mech, exim.user, exim.password) == (235, b"Authentication succeeded")


@pytest.mark.parametrize("mech", MECHS)
def test_auth_accepts_the_user_with_its_domain(exim: EximInstance, mech: str) -> None:
    with session(exim, "starttls") as smtp:
        assert authenticate(smtp, mech, exim.address, exim.password)[0] == 235


@pytest.mark.parametrize("mech", MECHS)
def test_wrong_password_is_535(exim: EximInstance, mech: str) -> None:
    with session(exim, "smtp") as smtp:
        reply = authenticate(smtp, mech, exim.user, "not-" + exim.password)
        assert reply == (535, b"Incorrect authentication data")


def test_auth_login_prompts_are_the_usual_ones(exim: EximInstance) -> None:
    # "Username:" and "Password:", base64, as clients (and smtpshell's hints) expect.
    with session(exim, "smtp") as smtp:
        assert smtp.docmd("AUTH", "LOGIN") == (334, b"VXNlcm5hbWU6")
        assert smtp.docmd("YWxpY2U=") == (334, b"UGFzc3dvcmQ6")  # alice
        assert smtp.docmd("*") == (501, b"Authentication cancelled")


# --- relay policy ----------------------------------------------------------------------------


def test_unauthenticated_relay_is_refused(exim: EximInstance) -> None:
    with session(exim, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt("someone@elsewhere.invalid") == (550, b"relay not permitted")


def test_authenticated_relay_is_accepted(exim: EximInstance) -> None:
    with session(exim, "starttls") as smtp:
        smtp.login(exim.user, exim.password)
        assert smtp.mail(exim.address)[0] == 250
        # Accepted, and would be thrown away (:blackhole:): nothing ever leaves the machine.
        assert smtp.rcpt("someone@elsewhere.invalid") == (250, b"Accepted")
        assert smtp.rset()[0] == 250


def test_unknown_local_user_is_550(exim: EximInstance) -> None:
    with session(exim, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt(f"nobody-here@{exim.domain}") == (550, b"Unrouteable address")


# --- delivery --------------------------------------------------------------------------------


def message(exim: EximInstance, marker: str, body: bytes, recipient: str | None = None) -> bytes:
    """A small message with CRLF line ends; MARKER makes it findable in the Maildir."""
    head = (
        f"From: someone@example.org\r\nTo: {recipient or exim.address}\r\n"
        f"Subject: harness {marker}\r\nMessage-ID: <{marker}@client.example.test>\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize("localpart", ["alice", "bob", "postmaster"])
def test_each_mailbox_receives(exim: EximInstance, localpart: str) -> None:
    marker = uuid.uuid4().hex
    recipient = f"{localpart}@{exim.domain}"
    with session(exim, "smtp") as smtp:
        smtp.sendmail("someone@example.org", [recipient], message(exim, marker, b"hi\r\n", recipient))
    delivered = exim.wait_for_delivery(localpart, containing=marker.encode()).read_bytes()
    assert f"Envelope-to: {recipient}\n".encode() in delivered


def test_dot_stuffed_line_arrives_unstuffed(exim: EximInstance) -> None:
    marker = uuid.uuid4().hex
    # Exactly these bytes go on the wire: the body lines are already dot-stuffed.
    wire = message(exim, marker, b"first\r\n..hidden\r\n...two dots\r\nlast\r\n") + b".\r\n"
    with session(exim, "smtp") as smtp:
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt(exim.address)[0] == 250
        assert smtp.docmd("DATA")[0] == 354
        smtp.send(wire)
        code, text = smtp.getreply()
        assert code == 250 and re.fullmatch(rb"OK id=[\w-]+", text), text
    delivered = exim.wait_for_delivery(exim.user, containing=marker.encode()).read_bytes()
    # Exim stores messages with LF line ends.
    assert b"\nfirst\n.hidden\n..two dots\nlast\n" in delivered
    assert b"..hidden" not in delivered


def test_bdat_content_is_not_unstuffed(exim: EximInstance) -> None:
    marker = uuid.uuid4().hex
    chunk = message(exim, marker, b"..not stuffed in BDAT\r\n")
    with session(exim, "smtp") as smtp:
        assert "chunking" in smtp.esmtp_features
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt(exim.address)[0] == 250
        smtp.putcmd("BDAT", f"{len(chunk)} LAST")
        smtp.send(chunk)
        code, text = smtp.getreply()
        # Exim answers BDAT LAST with two lines: "250-195 byte chunk, total 195", "250 OK id=…".
        assert code == 250, text
        assert re.fullmatch(rb"(\d+) byte chunk, total \1\nOK id=[\w-]+", text), text
        assert text.startswith(b"%d byte chunk" % len(chunk))
    delivered = exim.wait_for_delivery(exim.user, containing=marker.encode()).read_bytes()
    assert b"\n..not stuffed in BDAT\n" in delivered


def test_smtputf8_mail_is_delivered(exim: EximInstance) -> None:
    marker = uuid.uuid4().hex
    body = f"Subject: grüße {marker}\r\nMessage-ID: <{marker}@client.example.test>\r\n\r\nhällo\r\n"
    with session(exim, "smtp") as smtp:
        assert smtp.mail("jörg@example.org", ["SMTPUTF8"]) == (250, b"OK")
        assert smtp.rcpt(exim.address)[0] == 250
        assert smtp.data(body.encode())[0] == 250
    delivered = exim.wait_for_delivery(exim.user, containing=marker.encode()).read_bytes()
    assert "Return-path: <jörg@example.org>\n".encode() in delivered
    assert "\nhällo\n".encode() in delivered
