"""The practice server, seen from a client: what it says, what it advertises, what it keeps.

Each test runs a real PracticeServer on 127.0.0.1, port 0, in the test's event loop, and talks
to it with raw asyncio streams (exact bytes on the wire) or with the stdlib smtplib in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import hmac
import json
import logging
import mailbox
import os
import re
import signal
import smtplib
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from email import message_from_bytes
from pathlib import Path

import pytest

from smtpshell.protocol.auth import SUPPORTED as CLIENT_MECHANISMS
from smtpshell.server.practice import DEMO_USERS, DemoUser, PracticeServer, serve_main
from smtpshell.server.store import MaildirStore

REPLY_TIMEOUT = 10.0
ALICE = DEMO_USERS[0]


# --- a raw client: bytes out exactly as given, whole replies in ---


class Wire:
    """A client on asyncio streams that sends exact bytes and reads whole (multi-line) replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting: list[str] = []

    async def reply(self) -> list[str]:
        """One reply, ``250-…`` lines up to the ``250 `` line, without CRLFs."""
        lines = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
            assert raw.endswith(b"\r\n"), f"reply line cut short: {raw!r} after {lines}"
            line = raw[:-2].decode("utf-8", "surrogateescape")
            lines.append(line)
            if line[3:4] != "-":
                return lines

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self, line: str) -> list[str]:
        await self.send(line.encode() + b"\r\n")
        return await self.reply()

    async def ehlo(self) -> set[str]:
        """The EHLO keywords (with their parameters) the server advertised."""
        reply = await self.command("EHLO laptop")
        assert reply[-1].startswith("250 "), reply
        return {line[4:] for line in reply[1:]}

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        reply = await self.command("STARTTLS")
        assert reply == ["220 2.0.0 Ready to start TLS"]
        await self.writer.start_tls(context, server_hostname=server_hostname)

    async def eof(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(), REPLY_TIMEOUT)


@contextlib.asynccontextmanager
async def wire_to(server: PracticeServer) -> AsyncIterator[Wire]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    wire = Wire(reader, writer)
    try:
        wire.greeting = await wire.reply()
        yield wire
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


def verifying_context(server: PracticeServer, *, strict: bool = False) -> ssl.SSLContext:
    """A client context that trusts only the server's certificate file (as ``--cafile``)."""
    context = ssl.create_default_context(cafile=server.cafile)
    if strict:  # what Python 3.13's create_default_context() sets
        context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def stored_messages(maildir: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((maildir / "new").iterdir())]


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


pytestmark = pytest.mark.usefixtures("private_tempdir")  # tests/integration/conftest.py


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[PracticeServer]:
    async with PracticeServer(maildir=tmp_path / "Maildir") as server:
        yield server


# --- greeting and EHLO ---


async def test_greeting_names_the_host_and_says_what_to_type(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        assert wire.greeting == ["220 smtpshell.test ESMTP smtpshell practice server - type EHLO to begin"]


async def test_ehlo_advertises_the_promised_extensions(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        keywords = await wire.ehlo()
    assert {
        "PIPELINING",
        "SIZE 10240000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    } <= keywords
    auth = next(keyword for keyword in keywords if keyword.startswith("AUTH "))
    # every mechanism :auth knows but DIGEST-MD5, Historic (RFC 6331): not one to teach
    assert set(auth.split()[1:]) == set(CLIENT_MECHANISMS) - {"DIGEST-MD5"}


async def test_ehlo_lists_auth_mechanisms_strongest_first(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        reply = await wire.command("EHLO laptop")
    [auth] = [line for line in reply if line[4:].startswith("AUTH ")]
    assert auth == "250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN OAUTHBEARER XOAUTH2"


async def test_pipelined_commands_get_their_replies_in_order(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        await wire.send(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
        )
        replies = [await wire.reply() for _ in range(4)]
        await wire.send(b"Subject: pipelined\r\n\r\nhello\r\n.\r\n")
        accepted = await wire.reply()
    assert replies == [
        ["250 2.1.0 Sender <a@example.com> ok"],
        ["250 2.1.5 Recipient <b@example.com> ok"],
        ["250 2.1.5 Recipient <c@example.com> ok"],
        ["354 End data with <CR><LF>.<CR><LF>"],
    ]
    assert re.fullmatch(r"250 2\.0\.0 Message accepted for delivery as [0-9A-F]{10}", accepted[0])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["NOOP"], "250 2.0.0 "),
        (["RSET"], "250 2.0.0 "),
        (["RCPT TO:<b@example.com>"], "503 5.5.1 "),
        (["DATA"], "503 5.5.1 "),
        (["MAIL FROM:<a@example.com>", "MAIL FROM:<a@example.com>"], "503 5.5.1 "),
        (["MAIL FROM:<a@example.com> SIZE=99999999"], "552 5.3.4 "),
        (["MAIL FROM:<a@example.com> NOSUCH=1"], "555 5.5.4 "),
        (["MAIL FROM:<a@example.com>", "RCPT TO:<>"], "501 5.1.3 "),
        (["FROBNICATE"], "500 5.5.2 "),
        (["VRFY alice"], "252 2.0.0 "),
        (["QUIT"], "221 2.0.0 "),
    ],
    ids=lambda value: "|".join(value) if isinstance(value, list) else value.strip(),
)
async def test_replies_carry_enhanced_status_codes(
    server: PracticeServer, lines: list[str], expected: str
) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        for line in lines:
            reply = await wire.command(line)
    assert reply[0].startswith(expected), reply


# --- STARTTLS ---


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1", "smtpshell.test"])
@pytest.mark.parametrize("strict", [False, True], ids=["default", "x509-strict"])
async def test_starttls_certificate_verifies_with_cafile(
    server: PracticeServer, server_hostname: str, strict: bool
) -> None:
    async with wire_to(server) as wire:
        assert "STARTTLS" in await wire.ehlo()
        await wire.starttls(verifying_context(server, strict=strict), server_hostname)
        keywords = await wire.ehlo()
        ssl_object = wire.writer.get_extra_info("ssl_object")
        assert ssl_object.version() in {"TLSv1.2", "TLSv1.3"}
        assert await wire.command("QUIT") == ["221 2.0.0 Bye"]
    assert "STARTTLS" not in keywords  # RFC 3207: not offered again
    assert any(keyword.startswith("AUTH ") for keyword in keywords)
    alt_names = ssl_object.getpeercert()["subjectAltName"]
    assert {("DNS", "localhost"), ("DNS", "smtpshell.test"), ("IP Address", "127.0.0.1")} <= set(alt_names)
    assert any(kind == "IP Address" and value.startswith("0:0:0:0:0:0:0:1") for kind, value in alt_names)


async def test_certificate_of_another_server_is_refused(
    server: PracticeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smtpshell.server")
    async with PracticeServer(maildir=tmp_path / "other") as other, wire_to(server) as wire:
        await wire.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            await wire.starttls(verifying_context(other), "localhost")
    async with wire_to(server) as wire:  # and the server goes on serving
        assert "STARTTLS" in await wire.ehlo()
    assert "TLS handshake failed" in caplog.text


async def test_smtplib_starttls_then_login_and_send(server: PracticeServer) -> None:
    context = verifying_context(server)

    def session() -> tuple[int, bytes]:
        with smtplib.SMTP(server.host, server.port, local_hostname="laptop", timeout=REPLY_TIMEOUT) as client:
            client.starttls(context=context)
            client.login(ALICE.name, ALICE.password)
            client.sendmail("alice@example.com", ["bob@example.com"], b"Subject: tls\r\n\r\nover TLS\r\n")
            return client.noop()

    assert await asyncio.to_thread(session) == (250, b"2.0.0 OK")
    [stored] = stored_messages(server.maildir)
    received = message_from_bytes(stored)["Received"]
    assert "with ESMTPSA" in received and "authenticated as alice" in received and "using TLSv1." in received


# --- AUTH ---


def smtplib_auth(
    server: PracticeServer, mechanism: str, user: str, password: str, initial: bool
) -> tuple[int, bytes]:
    """AUTH with one chosen mechanism, as smtplib does it; returns the final reply."""

    def session() -> tuple[int, bytes]:
        with smtplib.SMTP(server.host, server.port, local_hostname="laptop", timeout=REPLY_TIMEOUT) as client:
            client.ehlo()
            client.user, client.password = user, password
            authobject = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
            try:
                return client.auth(mechanism, authobject, initial_response_ok=initial)
            except smtplib.SMTPAuthenticationError as error:
                return error.smtp_code, error.smtp_error

    return session()


MECHANISMS = [("PLAIN", True), ("PLAIN", False), ("LOGIN", True), ("LOGIN", False), ("CRAM-MD5", False)]


@pytest.mark.parametrize(("mechanism", "initial"), MECHANISMS)
@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda user: user.name)
async def test_auth_succeeds_for_demo_users(
    server: PracticeServer, mechanism: str, initial: bool, user: DemoUser
) -> None:
    reply = await asyncio.to_thread(smtplib_auth, server, mechanism, user.name, user.password, initial)
    assert reply == (235, b"2.7.0 Authentication successful")


@pytest.mark.parametrize(("mechanism", "initial"), MECHANISMS)
@pytest.mark.parametrize(("name", "password"), [("alice", "not-wonderland"), ("mallory", "wonderland")])
async def test_auth_with_wrong_credentials_gives_535_5_7_8(
    server: PracticeServer, mechanism: str, initial: bool, name: str, password: str
) -> None:
    reply = await asyncio.to_thread(smtplib_auth, server, mechanism, name, password, initial)
    assert reply == (535, b"5.7.8 Authentication credentials invalid")


async def test_auth_login_by_hand_shows_aiosmtpd_prompts(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        [user_prompt] = await wire.command("AUTH LOGIN")
        [password_prompt] = await wire.command(b64(ALICE.name))
        done = await wire.command(b64(ALICE.password))
        again = await wire.command("AUTH PLAIN " + b64(f"\0{ALICE.name}\0{ALICE.password}"))
    assert user_prompt.startswith("334 ") and base64.b64decode(user_prompt[4:]) == b"User Name\x00"
    assert password_prompt.startswith("334 ") and base64.b64decode(password_prompt[4:]) == b"Password\x00"
    assert done == ["235 2.7.0 Authentication successful"]
    assert again == ["503 5.5.1 Already authenticated"]


async def test_auth_cram_md5_by_hand(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        [challenge_line] = await wire.command("AUTH CRAM-MD5")
        challenge = base64.b64decode(challenge_line[4:])
        digest = hmac.new(ALICE.password.encode(), challenge, hashlib.md5).hexdigest()
        done = await wire.command(b64(f"{ALICE.name} {digest}"))
    assert challenge_line.startswith("334 ")
    assert re.fullmatch(rb"<\d+\.\d+@smtpshell\.test>", challenge)
    assert done == ["235 2.7.0 Authentication successful"]


async def test_auth_require_tls_refuses_auth_before_starttls(tmp_path: Path) -> None:
    async with PracticeServer(maildir=tmp_path / "Maildir", auth_require_tls=True) as server:
        async with wire_to(server) as wire:
            before = await wire.ehlo()
            refused = await wire.command("AUTH PLAIN " + b64(f"\0{ALICE.name}\0{ALICE.password}"))
            await wire.starttls(verifying_context(server), "localhost")
            after = await wire.ehlo()
            accepted = await wire.command("AUTH PLAIN " + b64(f"\0{ALICE.name}\0{ALICE.password}"))
        assert "AUTH ONLY AFTER STARTTLS" in server.intro().upper()
    assert not any(keyword.startswith("AUTH") for keyword in before)
    assert refused[0].startswith("538 5.7.11 ")
    assert any(keyword.startswith("AUTH ") for keyword in after)
    assert accepted == ["235 2.7.0 Authentication successful"]


# --- AUTH: SCRAM (RFC 5802 / RFC 7677), by hand on the wire ---


SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}


class ScramClient:
    """The client's side of RFC 5802, written out here so the server is checked independently."""

    def __init__(self, mechanism: str, user: str, password: str, *, gs2: str = "n,,") -> None:
        self.hash = SCRAM_HASHES[mechanism]
        self.password = password
        self.gs2 = gs2
        self.bare = f"n={user},r=client-nonce-123"
        self.server_signature = b""

    def first(self) -> str:
        return b64(self.gs2 + self.bare)

    def final(self, server_first_line: str) -> str:
        assert server_first_line.startswith("334 ")
        server_first = base64.b64decode(server_first_line[4:]).decode()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        assert attrs["r"].startswith("client-nonce-123") and attrs["i"] == "4096"
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), base64.b64decode(attrs["s"]), 4096)
        client_key = hmac.digest(salted, b"Client Key", self.hash)
        without_proof = f"c={b64(self.gs2)},r={attrs['r']}"
        auth_message = f"{self.bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.new(self.hash, client_key).digest(), auth_message, self.hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = hmac.digest(hmac.digest(salted, b"Server Key", self.hash), auth_message, self.hash)
        return b64(f"{without_proof},p={b64(proof)}")


@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "empty-334-first"])
@pytest.mark.parametrize("mechanism", list(SCRAM_HASHES))
async def test_scram_by_hand_proves_both_sides(server: PracticeServer, mechanism: str, initial: bool) -> None:
    client = ScramClient(mechanism, ALICE.name, ALICE.password)
    async with wire_to(server) as wire:
        await wire.ehlo()
        if initial:
            [server_first] = await wire.command(f"AUTH {mechanism} {client.first()}")
        else:
            assert await wire.command(f"AUTH {mechanism}") == ["334 "]
            [server_first] = await wire.command(client.first())
        [server_final] = await wire.command(client.final(server_first))
        done = await wire.command("")
        await wire.command("MAIL FROM:<alice@example.com>")
        await wire.command("RCPT TO:<bob@example.com>")
        await wire.command("DATA")
        await wire.send(b"Subject: scram\r\n\r\nhi\r\n.\r\n")
        await wire.reply()
    assert server_final == "334 " + b64(b"v=" + base64.b64encode(client.server_signature))
    assert done == ["235 2.7.0 Authentication successful"]
    [stored] = stored_messages(server.maildir)
    assert b"authenticated as alice" in stored


@pytest.mark.parametrize(("name", "password"), [("alice", "not-wonderland"), ("mallory", "wonderland")])
async def test_scram_with_wrong_credentials_gives_535_with_the_rfc_error(
    server: PracticeServer, name: str, password: str
) -> None:
    client = ScramClient("SCRAM-SHA-256", name, password)
    async with wire_to(server) as wire:
        await wire.ehlo()
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-256 {client.first()}")
        refused = await wire.command(client.final(server_first))
    assert refused == [
        "535 5.7.8 Authentication credentials invalid: SCRAM-SHA-256: proof p= does not match the password of"
        f" '{name}' (e=invalid-proof)"
    ]


@pytest.mark.parametrize(
    ("client_first", "expected"),
    [
        (b"p=tls-unique,,n=alice,r=abc", "504 5.5.4 SCRAM-SHA-1: client-first-message asks for channel binding"),
        (b"n,,r=abc", "501 5.5.2 SCRAM-SHA-1: client-first-message 'r=abc' must be n=<user>,r=<nonce>"),
        (b"hello", "501 5.5.2 SCRAM-SHA-1: client-first-message 'hello' does not start with a GS2 header"),
        (b"n,,m=x,n=alice,r=abc", "504 5.5.4 SCRAM-SHA-1: client-first-message requires an extension"),
        (b"n,,n=\xffalice,r=abc", "501 5.5.2 SCRAM-SHA-1: client-first-message is not UTF-8 (e=invalid-encoding)"),
        (b"n,,n=alice,r=a\r\n250 b", "501 5.5.2 SCRAM-SHA-1: client-first-message nonce r='a\\r\\n250 b' is not"),
    ],
)
async def test_scram_malformed_client_first_is_refused_clearly(
    server: PracticeServer, client_first: bytes, expected: str
) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        [reply] = await wire.command("AUTH SCRAM-SHA-1 " + b64(client_first))
        after = await wire.command("NOOP")
    assert reply.startswith(expected), reply
    assert reply.endswith(")") and "(e=" in reply
    assert after == ["250 2.0.0 OK"]


async def test_scram_malformed_client_final_and_bad_base64(server: PracticeServer) -> None:
    client = ScramClient("SCRAM-SHA-256", ALICE.name, ALICE.password)
    async with wire_to(server) as wire:
        await wire.ehlo()
        bad_base64 = await wire.command("AUTH SCRAM-SHA-256 not/base64!")
        await wire.command(f"AUTH SCRAM-SHA-256 {client.first()}")
        garbled = await wire.command(b64("c=biws,p=AAAA"))
        await wire.command(f"AUTH SCRAM-SHA-256 {client.first()}")
        other_binding = await wire.command(b64("c=eSws,r=client-nonce-123x,p=AAAA"))
    assert bad_base64 == ["501 5.5.2 Can't decode base64"]
    assert garbled == [
        "501 5.5.2 SCRAM-SHA-256: client-final-message must be c=<binding>,r=<nonce>,...,p=<proof> (e=other-error)"
    ]
    assert other_binding[0].startswith("535 5.7.8 ") and "(e=channel-bindings-dont-match)" in other_binding[0]


async def test_scram_cancelled_with_star_mid_exchange(server: PracticeServer) -> None:
    client = ScramClient("SCRAM-SHA-1", ALICE.name, ALICE.password)
    async with wire_to(server) as wire:
        await wire.ehlo()
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-1 {client.first()}")
        cancelled = await wire.command("*")
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-1 {client.first()}")  # and it can start again
        await wire.command(client.final(server_first))
        cancelled_at_the_end = await wire.command("*")
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-1 {client.first()}")
        await wire.command(client.final(server_first))
        done = await wire.command("")
    assert cancelled == cancelled_at_the_end == ["501 5.7.0 Auth aborted"]
    assert done == ["235 2.7.0 Authentication successful"]


async def test_scram_server_final_wants_an_empty_answer(server: PracticeServer) -> None:
    client = ScramClient("SCRAM-SHA-1", ALICE.name, ALICE.password)
    async with wire_to(server) as wire:
        await wire.ehlo()
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-1 {client.first()}")
        await wire.command(client.final(server_first))
        refused = await wire.command(b64("ok"))
    assert refused == [
        "501 5.5.2 SCRAM-SHA-1: the answer to the server-final-message (v=) must be an empty line"
    ]


@pytest.mark.parametrize(("gs2", "ok"), [("n,a=alice,", True), ("y,,", True), ("n,a=bob,", False)])
async def test_scram_authzid_and_the_y_flag(server: PracticeServer, gs2: str, ok: bool) -> None:
    client = ScramClient("SCRAM-SHA-256", ALICE.name, ALICE.password, gs2=gs2)
    async with wire_to(server) as wire:
        await wire.ehlo()
        [server_first] = await wire.command(f"AUTH SCRAM-SHA-256 {client.first()}")
        [reply] = await wire.command(client.final(server_first))
        if ok:
            assert reply.startswith("334 ")
            [reply] = await wire.command("")
    if ok:
        assert reply == "235 2.7.0 Authentication successful"
    else:
        assert reply == "535 5.7.8 Authentication credentials invalid: alice may act only as alice, not as 'bob'"


# --- AUTH: OAuth bearer tokens (XOAUTH2, OAUTHBEARER), by hand on the wire ---


def xoauth2(user: str, token: str) -> str:
    return b64(f"user={user}\x01auth=Bearer {token}\x01\x01")


def oauthbearer(user: str, token: str) -> str:
    return b64(f"n,a={user},\x01host=localhost\x01port=25\x01auth=Bearer {token}\x01\x01")


BEARERS = {"XOAUTH2": xoauth2, "OAUTHBEARER": oauthbearer}
ACKS = {"XOAUTH2": "", "OAUTHBEARER": "AQ=="}  # an empty line; the byte 0x01 (RFC 7628 3.2.3)
STATUS = {"XOAUTH2": "401", "OAUTHBEARER": "invalid_token"}


@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "empty-334-first"])
@pytest.mark.parametrize("mechanism", list(BEARERS))
@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda user: user.name)
async def test_bearer_token_succeeds(server: PracticeServer, mechanism: str, initial: bool, user: DemoUser) -> None:
    message = BEARERS[mechanism](user.name, user.token)
    async with wire_to(server) as wire:
        await wire.ehlo()
        if initial:
            done = await wire.command(f"AUTH {mechanism} {message}")
        else:
            assert await wire.command(f"AUTH {mechanism}") == ["334 "]
            done = await wire.command(message)
    assert done == ["235 2.7.0 Authentication successful"]


@pytest.mark.parametrize("mechanism", list(BEARERS))
@pytest.mark.parametrize(("name", "token"), [("alice", "wrong-token"), ("alice", "bob-demo-token"), ("mallory", "x")])
async def test_bearer_wrong_token_gets_a_json_report_then_535(
    server: PracticeServer, mechanism: str, name: str, token: str
) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        [report] = await wire.command(f"AUTH {mechanism} {BEARERS[mechanism](name, token)}")
        final = await wire.command(ACKS[mechanism])
    assert report.startswith("334 ")
    expected = {"status": STATUS[mechanism], "schemes": "Bearer", "scope": "smtp"}
    assert json.loads(base64.b64decode(report[4:])) == expected
    assert final == ["535 5.7.8 Authentication credentials invalid"]


@pytest.mark.parametrize(
    ("mechanism", "answer", "expected"),
    [
        ("OAUTHBEARER", "", "501 5.5.2 OAUTHBEARER: after the error report the client must send the byte 0x01"
                            " (base64 AQ==), RFC 7628 §3.2.3"),
        ("XOAUTH2", "AQ==", "501 5.5.2 XOAUTH2: after the error report the client must send an empty line"),
        ("OAUTHBEARER", "*", "501 5.7.0 Auth aborted"),
        ("XOAUTH2", "*", "501 5.7.0 Auth aborted"),
    ],
)
async def test_bearer_error_report_needs_the_right_acknowledgement(
    server: PracticeServer, mechanism: str, answer: str, expected: str
) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        await wire.command(f"AUTH {mechanism} {BEARERS[mechanism]('alice', 'wrong-token')}")
        assert await wire.command(answer) == [expected]
        assert await wire.command(f"AUTH {mechanism} {BEARERS[mechanism]('alice', 'alice-demo-token')}") == [
            "235 2.7.0 Authentication successful"
        ]


@pytest.mark.parametrize(
    ("mechanism", "message", "expected"),
    [
        ("XOAUTH2", "user=alice\x01auth=Bearer alice-demo-token\x01",
         "501 5.5.2 XOAUTH2: the message must end with ^A^A (two 0x01 bytes)"),
        ("XOAUTH2", "user=alice\x01auth=Basic YWxpY2U=\x01\x01",
         "501 5.5.2 XOAUTH2: auth= must be 'Bearer <token>' (RFC 6750 token characters)"),
        ("OAUTHBEARER", "auth=Bearer alice-demo-token\x01\x01",
         "501 5.5.2 OAUTHBEARER: the message must start with a GS2 header like 'n,a=alice,'"),
        ("OAUTHBEARER", "p=tls-unique,a=alice,\x01auth=Bearer alice-demo-token\x01\x01",
         "504 5.5.4 OAUTHBEARER: the GS2 header asks for channel binding ('p=tls-unique')"),
    ],
)
async def test_bearer_malformed_message_is_refused_without_echoing_the_token(
    server: PracticeServer, mechanism: str, message: str, expected: str
) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        [reply] = await wire.command(f"AUTH {mechanism} {b64(message)}")
    assert reply.startswith(expected), reply
    assert "alice-demo-token" not in reply


# --- what the server keeps ---


async def test_dot_stuffed_line_is_stored_unstuffed_under_envelope_headers(server: PracticeServer) -> None:
    content = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\tdot tab\r\nlast\r\n"
    on_the_wire = b"Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\tdot tab\r\nlast\r\n.\r\n"
    async with wire_to(server) as wire:
        await wire.ehlo()
        await wire.command("MAIL FROM:<alice@example.com>")
        await wire.command("RCPT TO:<bob@example.com>")
        await wire.command("RCPT TO:<carol@example.org>")
        assert (await wire.command("DATA"))[0].startswith("354 ")
        await wire.send(on_the_wire)
        [accepted] = await wire.reply()
        await wire.command("QUIT")
    queue_id = accepted.rsplit(" ", 1)[1]

    [stored] = stored_messages(server.maildir)
    headers, separator, body = stored.partition(content)
    assert separator and body == b"", "the message must follow the added headers byte for byte"
    assert headers.startswith(
        b"Return-Path: <alice@example.com>\r\n"
        b"X-Smtpshell-Rcpt-To: <bob@example.com>\r\n"
        b"X-Smtpshell-Rcpt-To: <carol@example.org>\r\n"
        b"Received: from laptop ([127.0.0.1])\r\n"
    )
    assert f"with ESMTP id {queue_id};".encode() in headers
    [(_, message)] = mailbox.Maildir(server.maildir, create=False).items()
    assert message["Subject"] == "dots" and message["Return-Path"] == "<alice@example.com>"


async def test_8bit_and_utf8_are_stored_faithfully(server: PracticeServer) -> None:
    body = "Subject: caf\u00e9\r\n\r\nGr\u00fc\u00dfe \u2603\r\n".encode() + b"raw \xff\xfe bytes\r\n"
    async with wire_to(server) as wire:
        await wire.ehlo()
        assert await wire.command("MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8 BODY=8BITMIME") == [
            "250 2.1.0 Sender <j\u00f6rg@b\u00fccher.example> ok"
        ]
        await wire.command("RCPT TO:<\u00e9lodie@example.com>")
        await wire.command("DATA")
        await wire.send(body + b".\r\n")
        assert (await wire.reply())[0].startswith("250 2.0.0 ")
    [stored] = stored_messages(server.maildir)
    assert stored.startswith("Return-Path: <j\u00f6rg@b\u00fccher.example>\r\n".encode())
    assert "X-Smtpshell-Rcpt-To: <\u00e9lodie@example.com>\r\n".encode() in stored
    assert stored.endswith(b"\r\n\r\n" + body.partition(b"\r\n\r\n")[2])
    assert stored.endswith(body)


async def test_a_message_that_cannot_be_stored_gets_451(
    server: PracticeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(self: MaildirStore, message: bytes) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(MaildirStore, "deliver", disk_full)
    async with wire_to(server) as wire:
        await wire.ehlo()
        for line in ("MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"):
            await wire.command(line)
        await wire.send(b"Subject: lost\r\n\r\n.\r\n")
        assert await wire.reply() == [f"451 4.3.0 Could not store the message: {os.strerror(errno.ENOSPC)}"]
        assert await wire.command("NOOP") == ["250 2.0.0 OK"]


async def test_null_sender_is_accepted_and_kept(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        assert await wire.command("MAIL FROM:<>") == ["250 2.1.0 Sender <> ok"]
        await wire.command("RCPT TO:<postmaster@example.com>")
        await wire.command("DATA")
        await wire.send(b"Subject: bounce\r\n\r\nundeliverable\r\n.\r\n")
        assert (await wire.reply())[0].startswith("250 2.0.0 ")
    [stored] = stored_messages(server.maildir)
    assert stored.startswith(b"Return-Path: <>\r\n")


async def test_control_characters_in_addresses_never_break_replies_or_headers(server: PracticeServer) -> None:
    async with wire_to(server) as wire:
        await wire.ehlo()
        sender = await wire.command("MAIL FROM:<a\rb@example.com>")
        await wire.command("RCPT TO:<bob@example.com>")
        await wire.command("DATA")
        await wire.send(b"Subject: cr\r\n\r\nx\r\n.\r\n")
        await wire.reply()
    assert sender == ["250 2.1.0 Sender <a\\x0db@example.com> ok"]
    [stored] = stored_messages(server.maildir)
    assert stored.startswith(b"Return-Path: <a\\x0db@example.com>\r\n")


# --- life cycle ---


async def test_intro_explains_where_who_and_what_to_type(server: PracticeServer) -> None:
    intro = server.intro()
    assert f"127.0.0.1:{server.port}" in intro
    for user in DEMO_USERS:
        assert f"{user.name} / {user.password}" in intro
        assert f"token {user.token}" in intro
    assert "AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN OAUTHBEARER XOAUTH2" in intro
    assert ":auth picks the strongest offered: SCRAM-SHA-256" in intro
    assert ":auth oauthbearer alice alice-demo-token" in intro
    assert str(server.maildir) in intro and str(server.cafile) in intro
    assert f"smtpshell 127.0.0.1 {server.port} --cafile {server.cafile}" in intro
    for step in ("EHLO laptop", "STARTTLS", ":auth login alice", "AUTH PLAIN", ":b64", "MAIL FROM:<", "RCPT TO:<", "DATA", "QUIT"):
        assert step in intro
    [token] = re.findall(r"AUTH PLAIN (\S+)", intro)
    assert base64.b64decode(token) == b"\0alice\0wonderland"


def test_demo_user_repr_hides_the_password() -> None:
    assert "wonderland" not in repr(ALICE) and "wonderland" not in str(ALICE)
    assert "alice-demo-token" not in repr(ALICE)
    assert DemoUser(name="alice", password="wonderland", token="alice-demo-token") == ALICE


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_aclose_says_421_to_connected_clients(tmp_path: Path, tls: bool) -> None:
    server = PracticeServer(maildir=tmp_path / "Maildir")
    await server.start()
    try:
        async with wire_to(server) as wire:
            await wire.ehlo()
            if tls:
                await wire.starttls(verifying_context(server), "localhost")
                await wire.ehlo()
            closing = asyncio.create_task(server.aclose())
            assert await wire.reply() == ["421 4.3.2 smtpshell.test practice server shutting down"]
            assert await wire.eof() == b""
            await closing
    finally:
        await server.aclose()


async def test_aclose_does_not_wait_for_a_client_stuck_in_starttls(tmp_path: Path) -> None:
    async with PracticeServer(maildir=tmp_path / "Maildir") as server, wire_to(server) as wire:
        await wire.ehlo()
        assert await wire.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        await asyncio.wait_for(server.aclose(), timeout=1.0)  # no handshake ever comes
        assert await wire.eof() == b""


async def test_aclose_removes_what_it_made_but_never_a_given_maildir(
    tmp_path: Path, private_tempdir: Path
) -> None:
    async with PracticeServer() as made:
        own_maildir, own_cafile = made.maildir, made.cafile
        assert own_maildir.is_dir() and own_cafile.is_file()
        assert own_cafile.is_relative_to(private_tempdir)
    assert not own_maildir.exists() and not own_cafile.exists()
    assert not list(private_tempdir.iterdir())

    given = tmp_path / "kept"
    async with PracticeServer(maildir=given) as server:
        async with wire_to(server) as wire:
            await wire.ehlo()
            for line in ("MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"):
                await wire.command(line)
            await wire.send(b"Subject: keep me\r\n\r\n.\r\n")
            await wire.reply()
        cafile = server.cafile
    assert server.maildir == given
    assert len(stored_messages(given)) == 1
    assert not cafile.exists()


async def test_an_existing_empty_folder_becomes_a_maildir(tmp_path: Path) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    async with PracticeServer(maildir=folder) as server:
        assert {path.name for path in server.maildir.iterdir()} == {"cur", "new", "tmp"}


# --- smtpshell serve ---


SERVE = "from smtpshell.server.practice import serve_main; raise SystemExit(serve_main(['--port', '0']))"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda signum: signum.name)
async def test_serve_main_explains_itself_serves_and_stops_cleanly(
    private_tempdir: Path, signum: signal.Signals
) -> None:
    env = {**os.environ, "TMPDIR": str(private_tempdir)}  # to check that serve removes its files
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        intro = []
        while not intro or "Press Ctrl-C" not in intro[-1]:
            line = await asyncio.wait_for(proc.stdout.readline(), REPLY_TIMEOUT)
            assert line, f"serve ended before its intro: {''.join(intro)!r}"
            intro.append(line.decode())
        [port] = re.findall(r"Listening on\s+127\.0\.0\.1:(\d+)", "".join(intro))
        assert "alice / wonderland" in "".join(intro)

        reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
        wire = Wire(reader, writer)
        try:
            assert (await wire.reply())[0].startswith("220 smtpshell.test ESMTP")
            assert "PIPELINING" in await wire.ehlo()
            proc.send_signal(signum)
            assert (await wire.reply())[0].startswith("421 4.3.2 ")
            assert await wire.eof() == b""
        finally:
            writer.close()
            await writer.wait_closed()

        out, err = await asyncio.wait_for(proc.communicate(), REPLY_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"Error" not in err, err.decode()
    assert b"Practice server stopped." in out
    assert not list(private_tempdir.iterdir()), "serve must remove its temporary directory"


def test_serve_main_usage_error_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(["--port", "not-a-port"]) == 2
    assert "usage: smtpshell serve" in capsys.readouterr().err


def test_serve_main_says_why_it_cannot_listen(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert serve_main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot start the practice server on 127.0.0.1:{port}" in err and "Traceback" not in err
