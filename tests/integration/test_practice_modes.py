"""The practice server's modes for class (``smtpshell serve --mode …``), seen from a client.

Each test runs a real PracticeServer on 127.0.0.1, port 0, in the test's event loop, and talks
to it over the wire with the raw client of test_practice_server. No test sleeps: the greylist
gets a clock the test moves, the tarpit is timed with the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smtpshell.server.modes import MODE_NAMES, Modes, parse_modes
from smtpshell.server.practice import DEMO_USERS, PracticeServer, serve_main
from smtpshell.shell.core import Target
from smtpshell.shell.script import run_script
from tests.integration.test_practice_server import b64, stored_messages, verifying_context, wire_to
from tests.support.script import lines

ALICE = DEMO_USERS[0]
HOSTNAME = "smtpshell.test"
AUTH_PLAIN = "AUTH PLAIN " + b64(f"\0{ALICE.name}\0{ALICE.password}")


pytestmark = pytest.mark.usefixtures("private_tempdir")  # tests/integration/conftest.py


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, *names: str, clock: FakeClock | None = None, **settings: object
) -> AsyncIterator[PracticeServer]:
    modes = Modes(names=frozenset(names), **settings)
    extra = {"clock": clock} if clock is not None else {}
    async with PracticeServer(maildir=tmp_path / "Maildir", modes=modes, **extra) as server:
        yield server


async def transaction(wire, sender: str, recipient: str) -> tuple[list[str], list[str]]:
    return await wire.command(f"MAIL FROM:<{sender}>"), await wire.command(f"RCPT TO:<{recipient}>")


# --- the option ---


def test_modes_combine_by_repeating_and_by_commas() -> None:
    assert parse_modes(["greylist,relay", "TARPIT", " size , "]) == {"greylist", "relay", "tarpit", "size"}
    assert parse_modes([]) == frozenset()


def test_unknown_mode_is_a_usage_error_listing_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(["--port", "0", "--mode", "greylist,teapot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: smtpshell serve")
    assert "unknown mode 'teapot'" in err
    assert ", ".join(MODE_NAMES) in err


@pytest.mark.parametrize("option", ["--flaky-rate=2", "--tarpit-delay=-1", "--size-limit=0"])
def test_bad_mode_settings_are_usage_errors(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert serve_main(["--port", "0", option]) == 2
    assert "error:" in capsys.readouterr().err


# --- the intro ---


async def test_intro_announces_each_active_mode_on_one_line(tmp_path: Path) -> None:
    async with serving(tmp_path, *MODE_NAMES) as server:
        intro = server.intro().splitlines()
    [first] = [index for index, line in enumerate(intro) if line.startswith("  Modes ")]
    announced = intro[first : first + len(MODE_NAMES)]
    assert [line[16:].split()[0] for line in announced] == list(MODE_NAMES)
    for line, code in zip(announced, ["451", "554", "late", "530", "550", "552", "421"]):
        assert code in line, line
    assert "  Modes " not in "\n".join(intro[first + len(MODE_NAMES) :])


async def test_intro_without_modes_says_none(tmp_path: Path) -> None:
    async with serving(tmp_path) as server:
        intro = server.intro()
    assert "Modes" not in intro
    assert "mail to any address is accepted" in intro


async def test_intro_names_the_relay_domain(tmp_path: Path) -> None:
    async with serving(tmp_path, "relay", domain="school.test") as server:
        intro = server.intro()
    assert "mail for @school.test accepted; other domains after AUTH only" in intro
    assert "outside @school.test gets 554" in intro


# --- greylist ---


async def test_greylist_defers_the_first_try_and_accepts_a_retry_after_the_delay(tmp_path: Path) -> None:
    clock = FakeClock()
    async with serving(tmp_path, "greylist", clock=clock, greylist_delay=5) as server, wire_to(server) as wire:
        await wire.ehlo()
        mail, rcpt = await transaction(wire, "a@example.com", "b@example.com")
        assert mail == ["250 2.1.0 Sender <a@example.com> ok"]
        assert rcpt == ["451 4.7.1 <b@example.com>: Greylisted, please try again in 5 seconds"]
        clock.now += 3  # too early: still deferred, with the time left
        assert await wire.command("RCPT TO:<b@example.com>") == [
            "451 4.7.1 <b@example.com>: Greylisted, please try again in 2 seconds"
        ]
        other = await wire.command("RCPT TO:<c@example.com>")  # another triplet: its own first try
        assert other[0].startswith("451 4.7.1 <c@example.com>")
        clock.now += 2
        assert await wire.command("RCPT TO:<b@example.com>") == ["250 2.1.5 Recipient <b@example.com> ok"]
        assert await wire.command("RSET") == ["250 2.0.0 OK"]
        _, again = await transaction(wire, "a@example.com", "b@example.com")  # remembered
        assert again == ["250 2.1.5 Recipient <b@example.com> ok"]


async def test_greylist_remembers_a_triplet_across_connections(tmp_path: Path) -> None:
    clock = FakeClock()
    async with serving(tmp_path, "greylist", clock=clock, greylist_delay=1) as server:
        async with wire_to(server) as wire:
            await wire.ehlo()
            _, rcpt = await transaction(wire, "a@example.com", "b@example.com")
            assert rcpt[0].startswith("451 4.7.1 ")
        clock.now += 1
        async with wire_to(server) as wire:
            await wire.ehlo()
            _, rcpt = await transaction(wire, "a@example.com", "b@example.com")
            assert rcpt == ["250 2.1.5 Recipient <b@example.com> ok"]


# --- relay ---


async def test_relay_refuses_other_domains_and_accepts_its_own(tmp_path: Path) -> None:
    async with serving(tmp_path, "relay") as server, wire_to(server) as wire:
        await wire.ehlo()
        assert await wire.command("MAIL FROM:<a@elsewhere.test>") == ["250 2.1.0 Sender <a@elsewhere.test> ok"]
        assert await wire.command("RCPT TO:<b@elsewhere.test>") == [
            "554 5.7.1 <b@elsewhere.test>: Relay access denied"
        ]
        assert await wire.command("RCPT TO:<bob@Example.COM>") == ["250 2.1.5 Recipient <bob@Example.COM> ok"]
        assert await wire.command(f"RCPT TO:<alice@{HOSTNAME}>") == [f"250 2.1.5 Recipient <alice@{HOSTNAME}> ok"]


async def test_relay_lets_an_authenticated_client_send_anywhere(tmp_path: Path) -> None:
    async with serving(tmp_path, "relay") as server, wire_to(server) as wire:
        await wire.ehlo()
        auth = await wire.command(AUTH_PLAIN)
        assert auth[0].startswith("235 "), auth
        _, rcpt = await transaction(wire, "alice@example.com", "b@elsewhere.test")
        assert rcpt == ["250 2.1.5 Recipient <b@elsewhere.test> ok"]


# --- tarpit ---


async def test_tarpit_delays_every_reply(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    delay = 0.05
    async with serving(tmp_path, "tarpit", tarpit_delay=delay) as server:
        started = loop.time()
        async with wire_to(server) as wire:
            assert loop.time() - started >= delay  # the greeting too
            for line in ("EHLO laptop", "NOOP", "MAIL FROM:<a@example.com>"):
                sent = loop.time()
                reply = await wire.command(line)
                assert loop.time() - sent >= delay, (line, reply)
            assert reply == ["250 2.1.0 Sender <a@example.com> ok"]


async def test_tarpit_delays_a_multiline_reply_once_not_each_line(tmp_path: Path) -> None:
    """The intro says every reply comes late: EHLO's ten lines come late together, not one by one."""
    loop = asyncio.get_running_loop()
    delay = 0.3
    async with serving(tmp_path, "tarpit", tarpit_delay=delay) as server, wire_to(server) as wire:
        await wire.send(b"EHLO laptop\r\n")
        arrived = []
        while True:
            line = await asyncio.wait_for(wire.reader.readline(), 30)
            arrived.append(loop.time())
            if line[3:4] != b"-":
                break
        assert len(arrived) > 5
        assert arrived[-1] - arrived[0] < delay  # line by line would be (lines - 1) x delay apart


# --- tls-required ---


async def test_tls_required_refuses_mail_and_auth_before_starttls(tmp_path: Path) -> None:
    async with serving(tmp_path, "tls-required") as server, wire_to(server) as wire:
        keywords = await wire.ehlo()
        assert "STARTTLS" in keywords
        assert not any(keyword.startswith("AUTH") for keyword in keywords)  # only after STARTTLS
        assert await wire.command("MAIL FROM:<a@example.com>") == ["530 5.7.0 Must issue a STARTTLS command first"]
        assert await wire.command("AUTH PLAIN") == ["530 5.7.0 Must issue a STARTTLS command first"]
        assert await wire.command("NOOP") == ["250 2.0.0 OK"]
        await wire.starttls(verifying_context(server), HOSTNAME)
        keywords = await wire.ehlo()
        assert any(keyword.startswith("AUTH ") for keyword in keywords)
        assert await wire.command("MAIL FROM:<a@example.com>") == ["250 2.1.0 Sender <a@example.com> ok"]


async def test_tls_required_and_relay_combined(tmp_path: Path) -> None:
    async with serving(tmp_path, "tls-required", "relay") as server, wire_to(server) as wire:
        await wire.ehlo()
        assert (await wire.command("MAIL FROM:<a@example.com>"))[0].startswith("530 5.7.0 ")
        await wire.starttls(verifying_context(server), HOSTNAME)
        await wire.ehlo()
        _, rcpt = await transaction(wire, "a@example.com", "b@elsewhere.test")
        assert rcpt == ["554 5.7.1 <b@elsewhere.test>: Relay access denied"]
        auth = await wire.command(AUTH_PLAIN)
        assert auth[0].startswith("235 "), auth
        assert await wire.command("RCPT TO:<b@elsewhere.test>") == ["250 2.1.5 Recipient <b@elsewhere.test> ok"]


# --- strict-lf ---


async def test_strict_lf_refuses_a_message_with_a_bare_lf_and_hangs_up(tmp_path: Path) -> None:
    async with serving(tmp_path, "strict-lf") as server, wire_to(server) as wire:
        await wire.ehlo()
        await transaction(wire, "a@example.com", "b@example.com")
        assert (await wire.command("DATA"))[0].startswith("354 ")
        await wire.send(b"Subject: smuggled\r\n\r\nhello\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n")
        assert await wire.reply() == [f"550 5.5.2 {HOSTNAME} Error: bare <LF> received"]
        assert await wire.eof() == b""
    assert stored_messages(tmp_path / "Maildir") == []


async def test_strict_lf_accepts_crlf_messages(tmp_path: Path) -> None:
    async with serving(tmp_path, "strict-lf") as server, wire_to(server) as wire:
        await wire.ehlo()
        await transaction(wire, "a@example.com", "b@example.com")
        await wire.command("DATA")
        await wire.send(b"Subject: fine\r\n\r\nhello\r\n.\r\n")
        assert (await wire.reply())[0].startswith("250 2.0.0 Message accepted")
    assert len(stored_messages(tmp_path / "Maildir")) == 1


# --- size ---


async def test_size_advertises_a_small_limit_and_enforces_it(tmp_path: Path) -> None:
    async with serving(tmp_path, "size", size_limit=1000) as server, wire_to(server) as wire:
        assert "SIZE 1000" in await wire.ehlo()
        too_big = await wire.command("MAIL FROM:<a@example.com> SIZE=1001")
        assert too_big == ["552 5.3.4 Message size exceeds fixed limit"]
        await transaction(wire, "a@example.com", "b@example.com")
        await wire.command("DATA")
        await wire.send(b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" + (b"y" * 78 + b"\r\n") * 20 + b".\r\n")
        assert await wire.reply() == ["552 5.3.4 Message size exceeds fixed limit"]
        assert await wire.command("NOOP") == ["250 2.0.0 OK"]  # the connection goes on
    assert stored_messages(tmp_path / "Maildir") == []


# --- flaky ---


async def test_flaky_says_421_and_closes(tmp_path: Path) -> None:
    async with serving(tmp_path, "flaky", flaky_rate=1.0) as server, wire_to(server) as wire:
        assert wire.greeting[0].startswith("220 ")
        reply = await wire.command("EHLO laptop")
        assert reply == [f"421 4.3.2 {HOSTNAME} Service not available, closing transmission channel"]
        assert await wire.eof() == b""


async def test_flaky_with_a_seed_fails_the_same_commands_each_run(tmp_path: Path) -> None:
    async def codes() -> list[str]:
        seen = []
        async with serving(tmp_path, "flaky", flaky_rate=0.5, seed=7) as server:
            while len(seen) < 12:
                async with wire_to(server) as wire:
                    while len(seen) < 12:
                        code = (await wire.command("NOOP"))[0][:3]
                        seen.append(code)
                        if code == "421":
                            assert await wire.eof() == b""
                            break
        return seen

    first = await codes()
    assert first == await codes()
    assert {"250", "421"} == set(first)


async def test_flaky_rate_zero_never_fails(tmp_path: Path) -> None:
    async with serving(tmp_path, "flaky", flaky_rate=0.0) as server, wire_to(server) as wire:
        for _ in range(20):
            assert await wire.command("NOOP") == ["250 2.0.0 OK"]


# --- the shell explains what the modes say ---


@pytest.mark.parametrize(
    ("names", "script", "reply", "hint"),
    [
        (("relay",), ["EHLO me", "MAIL FROM:<a@example.com>", "RCPT TO:<b@elsewhere.test>"], "554 5.7.1", "relay"),
        (("tls-required",), ["EHLO me", "MAIL FROM:<a@example.com>"], "530 5.7.0", "STARTTLS, then EHLO again"),
    ],
)
async def test_the_shell_explains_a_mode_reply(make_shell, tmp_path: Path, names, script, reply, hint) -> None:
    async with serving(tmp_path, *names) as server:
        shell, out = make_shell(cafile=str(server.cafile))
        assert await shell.connect(Target(host=server.host, port=server.port))
        await run_script(shell, lines(*script))
        await shell.close_quietly()
    text = out.text
    assert reply in text
    assert hint.lower() in text[text.index(reply) :].lower(), text


def test_mode_replies_have_their_explanations() -> None:
    from smtpshell.protocol.codes import match_failure
    from smtpshell.server import modes

    expected = {
        modes.S451_GREYLISTED.format(address="<b@example.com>", seconds=5): "greylisting",
        modes.S554_RELAY_DENIED.format(address="<b@elsewhere.test>"): "relay-denied",
        modes.S530_STARTTLS_FIRST: "starttls-required",
        modes.S550_BARE_LF.format(hostname=HOSTNAME): "bare-lf",
        modes.S552_TOO_BIG: "message-too-big",
        modes.S421_FLAKY.format(hostname=HOSTNAME): "closing",
    }
    for reply, failure in expected.items():
        code, enhanced, text = reply.split(" ", 2)
        matched = match_failure(int(code), enhanced, text)
        assert matched is not None and matched.id == failure, reply
