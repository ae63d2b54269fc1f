"""Interop tests against a real Postfix and a real Exim on loopback, started by
`.ci/mta/postfix-start` and `.ci/mta/exim-start`.

`bash .ci/mta/postfix-start STATE_DIR` (as root) writes `STATE_DIR/postfix.env`; point
`SMTPSHELL_POSTFIX_ENV` at it. Likewise `bash .ci/mta/exim-start OTHER_DIR` writes
`OTHER_DIR/exim.env` for `SMTPSHELL_EXIM_ENV`. Without them the tests that use the `postfix`
or `exim` fixture are skipped, unless `SMTPSHELL_INTEROP_REQUIRED=1` (CI), which turns the skip
into a failure.
The `practice` fixture needs nothing: it runs `smtpshell serve` (the practice server) on
127.0.0.1 with free ports, so `test_scenarios.py` plays the same scenarios against all three.
Everything in this directory carries the `interop` marker (`-m "not interop"` leaves it out).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ENV_VAR = "SMTPSHELL_POSTFIX_ENV"
REQUIRED_VAR = "SMTPSHELL_INTEROP_REQUIRED"
KEY_PREFIX = "SMTPSHELL_POSTFIX_"
EXIM_ENV_VAR = "SMTPSHELL_EXIM_ENV"
EXIM_KEY_PREFIX = "SMTPSHELL_EXIM_"
POLL_INTERVAL = 0.05  # seconds between looks at a Maildir while the MTA delivers
PRACTICE_START_TIMEOUT = 30.0  # seconds for `smtpshell serve` to print its intro
PRACTICE_READY = "Press Ctrl-C to stop the server."  # the intro's last line

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from tests/interop (and only those) as `interop`."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.interop)


class MaildirDeliveries:
    """What a running MTA with Maildir delivery offers the tests; its dataclass supplies
    `user`, `domain`, `maildir` (one Maildir per local part, unless `_new_dir` says otherwise)
    and `_delivery_log()`."""

    user: str
    domain: str
    maildir: Path

    def _delivery_log(self) -> Path | None:
        """The MTA's log, whose tail explains a delivery that did not happen."""
        return None

    def _new_dir(self, recipient_localpart: str) -> Path:
        """The `new/` folder where mail for LOCALPART@domain arrives."""
        return self.maildir / recipient_localpart / "new"

    @property
    def address(self) -> str:
        """The SASL user's own mailbox address."""
        return f"{self.user}@{self.domain}"

    def wait_for_delivery(
        self, recipient_localpart: str, timeout: float = 10.0, *, containing: bytes | None = None
    ) -> Path:
        """Return the newest message file delivered to LOCALPART@domain, waiting up to TIMEOUT s.

        With `containing`, only messages whose bytes contain it count: pass something unique to
        the message (a Message-ID), or an older delivery may be returned at once.
        """
        new_dir = self._new_dir(recipient_localpart)
        deadline = time.monotonic() + timeout
        while True:
            found = self._newest(new_dir, containing)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
        wanted = f" containing {containing!r}" if containing is not None else ""
        present = sorted(p.name for p in new_dir.iterdir()) if new_dir.is_dir() else "no such dir"
        pytest.fail(
            f"no message{wanted} delivered to {new_dir} within {timeout:g}s "
            f"(present: {present}){self._log_tail()}",
            pytrace=False,
        )

    @staticmethod
    def _newest(new_dir: Path, containing: bytes | None) -> Path | None:
        try:
            files = [p for p in new_dir.iterdir() if p.is_file()]
        except FileNotFoundError:
            return None
        # Newest first; the Maildir name (time-based) breaks ties.
        files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
        for path in files:
            if containing is None or containing in path.read_bytes():
                return path
        return None

    def _log_tail(self, lines: int = 20) -> str:
        log = self._delivery_log()
        if log is None or not log.is_file():
            return ""
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        return f"\nlast lines of {log}:\n" + "\n".join(tail)


@dataclass(frozen=True, kw_only=True)
class PostfixInstance(MaildirDeliveries):
    """The running Postfix, as described by the env file postfix-start wrote."""

    host: str
    port: int  # plain SMTP; STARTTLS offered; AUTH offered before TLS too
    submission_port: int  # STARTTLS required; AUTH after STARTTLS; AUTH required to send
    smtps_port: int  # implicit TLS; AUTH required to send
    cafile: Path  # the CA that signed the server certificate (CN/SAN localhost, IP 127.0.0.1)
    user: str  # SASL user, plain name ("alice"); "alice@example.test" works too
    password: str = field(repr=False)
    domain: str  # local delivery domain (example.test): alice, bob, postmaster
    maildir: Path  # one Maildir per local part: maildir / "alice" / "new"
    mechs: tuple[str, ...]  # SASL mechanisms Postfix advertises (all verified by the harness tests)
    maillog: Path | None = None  # Postfix's log, for diagnostics

    def _delivery_log(self) -> Path | None:
        return self.maillog


@dataclass(frozen=True, kw_only=True)
class EximInstance(MaildirDeliveries):
    """The running Exim, as described by the env file exim-start wrote."""

    host: str
    port: int  # plain SMTP; STARTTLS offered; AUTH offered before TLS too
    smtps_port: int  # implicit TLS; same policy as `port`
    cafile: Path  # the CA that signed the server certificate (CN/SAN localhost, IP 127.0.0.1)
    user: str  # SASL user, plain name ("alice"); "alice@example.test" works too
    password: str = field(repr=False)
    domain: str  # local delivery domain (example.test): alice, bob, postmaster
    maildir: Path  # one Maildir per local part: maildir / "alice" / "new"
    mechs: tuple[str, ...]  # SASL mechanisms Exim advertises (PLAIN LOGIN CRAM-MD5)
    mainlog: Path | None = None  # Exim's mainlog, for diagnostics

    def _delivery_log(self) -> Path | None:
        return self.mainlog


def read_env_file(path: Path) -> dict[str, str]:
    """Parse shell `KEY=value` lines (values may be quoted); comments and blanks ignored."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        key, sep, value = words[0].partition("=")
        if len(words) != 1 or not sep:
            raise ValueError(f"{path}:{number}: not a KEY=value line: {line!r}")
        values[key] = value
    return values


@dataclass(frozen=True, kw_only=True)
class EnvFile:
    """The KEY=value lines of an env file written by a .ci/mta/*-start script."""

    path: Path
    env_var: str  # the variable that named the file, for messages
    prefix: str  # SMTPSHELL_POSTFIX_, SMTPSHELL_EXIM_
    values: dict[str, str]

    @classmethod
    def load(cls, path: Path, env_var: str, prefix: str) -> EnvFile:
        try:
            values = read_env_file(path)
        except (OSError, ValueError) as exc:
            pytest.fail(f"{env_var}={path}: cannot read it: {exc}", pytrace=False)
        return cls(path=path, env_var=env_var, prefix=prefix, values=values)

    def get(self, name: str) -> str:
        """The value of PREFIX+NAME; fail the test naming it when it is missing."""
        key = self.prefix + name
        if key not in self.values:
            pytest.fail(f"{self.env_var}={self.path}: {key} missing", pytrace=False)
        return self.values[key]

    def optional_path(self, name: str) -> Path | None:
        """PREFIX+NAME as a path, or None when it is missing or empty."""
        value = self.values.get(self.prefix + name)
        return Path(value) if value else None


def load_postfix(path: Path) -> PostfixInstance:
    """Build a PostfixInstance from the env file at PATH; fail naming what is missing."""
    env = EnvFile.load(path, ENV_VAR, KEY_PREFIX)
    get = env.get
    return PostfixInstance(
        host=get("HOST"),
        port=int(get("PORT")),
        submission_port=int(get("SUBMISSION_PORT")),
        smtps_port=int(get("SMTPS_PORT")),
        cafile=Path(get("CAFILE")),
        user=get("USER"),
        password=get("PASSWORD"),
        domain=get("DOMAIN"),
        maildir=Path(get("MAILDIR")),
        mechs=tuple(get("MECHS").split()),
        maillog=env.optional_path("MAILLOG"),
    )


def load_exim(path: Path) -> EximInstance:
    """Build an EximInstance from the env file at PATH; fail naming what is missing."""
    env = EnvFile.load(path, EXIM_ENV_VAR, EXIM_KEY_PREFIX)
    get = env.get
    return EximInstance(
        host=get("HOST"),
        port=int(get("PORT")),
        smtps_port=int(get("SMTPS_PORT")),
        cafile=Path(get("CAFILE")),
        user=get("USER"),
        password=get("PASSWORD"),
        domain=get("DOMAIN"),
        maildir=Path(get("MAILDIR")),
        mechs=tuple(get("MECHS").split()),
        mainlog=env.optional_path("MAINLOG"),
    )


def env_file_or_skip(env_var: str, mta: str) -> Path:
    """The env file named by ENV_VAR, written by .ci/mta/<mta>-start; without it skip, or fail
    when interop is required (CI)."""
    env_path = os.environ.get(env_var)
    if not env_path:
        name = mta.lower()
        reason = (
            f"no {mta}: run .ci/mta/{name}-start STATE_DIR (as root) and set "
            f"{env_var}=STATE_DIR/{name}.env"
        )
        if os.environ.get(REQUIRED_VAR) == "1":
            pytest.fail(f"{reason} ({REQUIRED_VAR}=1)", pytrace=False)
        pytest.skip(reason)
    return Path(env_path)


@pytest.fixture(scope="session")
def postfix() -> PostfixInstance:
    """The Postfix started by .ci/mta/postfix-start; skips (or fails in CI) when there is none."""
    return load_postfix(env_file_or_skip(ENV_VAR, "Postfix"))


@pytest.fixture(scope="session")
def exim() -> EximInstance:
    """The Exim started by .ci/mta/exim-start; skips (or fails in CI) when there is none."""
    return load_exim(env_file_or_skip(EXIM_ENV_VAR, "Exim"))


@dataclass(frozen=True, kw_only=True)
class PracticeInstance(MaildirDeliveries):
    """The practice server as the `practice` fixture runs it: `smtpshell serve --port 0
    --tls-port 0 --mode relay --domain example.test --maildir DIR`. Its policy matches the MTAs':
    mail for @example.test without AUTH, other domains only after AUTH (`554 5.7.1 ... Relay
    access denied`). Every message lands in one Maildir, `maildir / "new"`, under
    `X-Smtpshell-Rcpt-To:` headers naming its recipients."""

    host: str
    port: int  # plain SMTP; STARTTLS offered; AUTH offered before TLS too
    smtps_port: int  # implicit TLS (--tls-port); same policy
    cafile: Path  # the server's self-signed certificate (localhost, 127.0.0.1, ::1, smtpshell.test)
    user: str  # a demo user: alice
    password: str = field(repr=False)
    token: str = field(repr=False)  # alice's OAuth token, for OAUTHBEARER and XOAUTH2
    domain: str  # example.test (--domain)
    maildir: Path  # the one Maildir: maildir / "new"
    mechs: tuple[str, ...]  # the SASL mechanisms the intro announces
    log: Path  # what `smtpshell serve` printed: the intro, then one line per event

    def _delivery_log(self) -> Path | None:
        return self.log

    def _new_dir(self, recipient_localpart: str) -> Path:
        return self.maildir / "new"


class _Drain:
    """Copies a process's output to a file as it comes (so the pipe never fills up) and
    tells when a given line has been seen (``ready``) or the output ended without it:
    ``seen`` is set either way, so a server that dies at start is noticed at once."""

    def __init__(self, stream, path: Path, ready_line: str) -> None:
        self.seen = threading.Event()
        self.ready = False
        self._stream, self._path, self._ready_line = stream, path, ready_line
        self._thread = threading.Thread(target=self._run, name=f"drain {path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._path.open("w") as log:
            for line in self._stream:
                log.write(line)
                log.flush()
                if line.rstrip("\n") == self._ready_line:
                    self.ready = True
                    self.seen.set()
        self.seen.set()  # the output ended (the process exited): whoever waits stops waiting

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def parse_practice_intro(intro: str) -> dict[str, str]:
    """Ports, certificate and SASL mechanisms from what `smtpshell serve` printed at start."""
    patterns = {
        "port": r"^  Listening on  127\.0\.0\.1:(\d+)  ",
        "smtps_port": r"^  Implicit TLS  127\.0\.0\.1:(\d+)  ",
        "cafile": r"^  Certificate   (\S+)$",
        "mechs": r"^ {16}AUTH ([A-Z0-9 -]+)$",
    }
    found = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, intro, re.M)
        if match is None:
            pytest.fail(f"smtpshell serve: no {key} in its intro ({pattern}):\n{intro}", pytrace=False)
        found[key] = match[1]
    return found


@pytest.fixture(scope="session")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PracticeInstance]:
    """`smtpshell serve` on 127.0.0.1 (free ports, implicit TLS too, relay mode for
    @example.test), for the whole session; stopped with SIGTERM at the end."""
    from smtpshell.server.practice import DEMO_USERS

    root = tmp_path_factory.mktemp("practice")
    maildir, log = root / "Maildir", root / "serve.log"
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    env.update(HOME=str(root), TMPDIR=str(root), XDG_STATE_HOME=str(root / "state"))  # its certificate under root
    command = [sys.executable, "-m", "smtpshell", "serve", "--port", "0", "--tls-port", "0",
               "--mode", "relay", "--domain", "example.test", "--maildir", str(maildir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    drain = _Drain(process.stdout, log, PRACTICE_READY)
    try:
        if not drain.seen.wait(PRACTICE_START_TIMEOUT) or not drain.ready:
            pytest.fail(f"smtpshell serve did not start within {PRACTICE_START_TIMEOUT:g}s "
                        f"(exit status {process.poll()}):\n{log.read_text()}", pytrace=False)
        intro = parse_practice_intro(log.read_text())
        alice = DEMO_USERS[0]
        yield PracticeInstance(
            host="127.0.0.1", port=int(intro["port"]), smtps_port=int(intro["smtps_port"]),
            cafile=Path(intro["cafile"]), user=alice.name, password=alice.password, token=alice.token,
            domain="example.test", maildir=maildir, mechs=tuple(intro["mechs"].split()), log=log,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        drain.join(timeout=10)
        process.stdout.close()
