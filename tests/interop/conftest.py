"""Interop tests against a real Postfix on loopback, started by `.ci/mta/postfix-start`.

`bash .ci/mta/postfix-start STATE_DIR` (as root) writes `STATE_DIR/postfix.env`; point
`SMTPSHELL_POSTFIX_ENV` at it. Without it every test here is skipped, unless
`SMTPSHELL_INTEROP_REQUIRED=1` (CI), which turns the skip into a failure.
Everything in this directory carries the `interop` marker (`-m "not interop"` leaves it out).
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ENV_VAR = "SMTPSHELL_POSTFIX_ENV"
REQUIRED_VAR = "SMTPSHELL_INTEROP_REQUIRED"
KEY_PREFIX = "SMTPSHELL_POSTFIX_"
POLL_INTERVAL = 0.05  # seconds between looks at a Maildir while Postfix delivers

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from tests/interop (and only those) as `interop`."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.interop)


@dataclass(frozen=True, kw_only=True)
class PostfixInstance:
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
        new_dir = self.maildir / recipient_localpart / "new"
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
        if self.maillog is None or not self.maillog.is_file():
            return ""
        tail = self.maillog.read_text(errors="replace").splitlines()[-lines:]
        return f"\nlast lines of {self.maillog}:\n" + "\n".join(tail)


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


def load_postfix(path: Path) -> PostfixInstance:
    """Build a PostfixInstance from the env file at PATH; fail naming what is missing."""
    try:
        env = read_env_file(path)
    except (OSError, ValueError) as exc:
        pytest.fail(f"{ENV_VAR}={path}: cannot read it: {exc}", pytrace=False)

    def get(name: str) -> str:
        key = KEY_PREFIX + name
        if key not in env:
            pytest.fail(f"{ENV_VAR}={path}: {key} missing", pytrace=False)
        return env[key]

    maillog = env.get(KEY_PREFIX + "MAILLOG")
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
        maillog=Path(maillog) if maillog else None,
    )


@pytest.fixture(scope="session")
def postfix() -> PostfixInstance:
    """The Postfix started by .ci/mta/postfix-start; skips (or fails in CI) when there is none."""
    env_path = os.environ.get(ENV_VAR)
    if not env_path:
        reason = (
            "no Postfix: run .ci/mta/postfix-start STATE_DIR (as root) and set "
            f"{ENV_VAR}=STATE_DIR/postfix.env"
        )
        if os.environ.get(REQUIRED_VAR) == "1":
            pytest.fail(f"{reason} ({REQUIRED_VAR}=1)", pytrace=False)
        pytest.skip(reason)
    return load_postfix(Path(env_path))
