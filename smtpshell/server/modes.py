"""The practice server's misbehaviour modes, for class (``smtpshell serve --mode NAME``).

Each mode makes the server behave as real servers do when something is in the way, with the
replies real servers write (Postfix's wording where Postfix has one):

- ``greylist``: the first RCPT of each (client IP, MAIL FROM, RCPT TO) triplet gets ``451``;
  the same triplet is accepted once the delay has passed.
- ``relay``: recipients outside the domain (or the server's own name) get ``554 5.7.1 <addr>: Relay access denied``,
  unless the client has logged in (AUTH).
- ``tarpit``: every reply is sent after a delay.
- ``tls-required``: MAIL, RCPT, DATA, AUTH… before STARTTLS get ``530 5.7.0``; AUTH is
  advertised only after STARTTLS.
- ``strict-lf``: a message with a bare LF (one without its CR) is refused after its final dot
  and the connection closed, as Postfix 3.9 does with ``smtpd_forbid_bare_newline = reject``.
- ``size``: a small SIZE limit, enforced on ``MAIL FROM:<…> SIZE=`` and on the message.
- ``flaky``: any command may get ``421`` and the connection closes.

:class:`Modes` is the frozen choice made on the command line; :class:`ModeRules` is what a
running server keeps (the greylist's memory, the random numbers, the clock) and the hooks
:class:`~smtpshell.server.smtp.PracticeSMTP` and the handler call. Both are pure: no I/O.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["MODE_NAMES", "ModeRules", "Modes", "parse_modes"]

MODE_NAMES: tuple[str, ...] = ("greylist", "relay", "tarpit", "tls-required", "strict-lf", "size", "flaky")
"""Every mode, in the order the intro lists them."""

S451_GREYLISTED = "451 4.7.1 {address}: Greylisted, please try again in {seconds} seconds"
S554_RELAY_DENIED = "554 5.7.1 {address}: Relay access denied"
S530_STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
S550_BARE_LF = "550 5.5.2 {hostname} Error: bare <LF> received"
S552_TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
S421_FLAKY = "421 4.3.2 {hostname} Service not available, closing transmission channel"

NEEDS_TLS = frozenset({"MAIL", "RCPT", "DATA", "BDAT", "AUTH", "VRFY", "EXPN", "ETRN"})
"""Commands ``tls-required`` refuses before STARTTLS (HELO, EHLO, NOOP, RSET, QUIT… still work)."""

# aiosmtpd's own words for a message that is too big (before PracticeSMTP adds a 5.3.4).
_ATOP_SIZE = re.compile(r"552 (Error: message size exceeds fixed maximum message size|Error: Too much mail data)\Z")
_BARE_LF = re.compile(rb"(?<!\r)\n")


def parse_modes(values: Iterable[str]) -> frozenset[str]:
    """The mode names in ``--mode`` values (each may be a comma-separated list).

    Raises ValueError naming the unknown mode and listing the known ones.
    """
    names = set()
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in MODE_NAMES:
                raise ValueError(f"unknown mode {name!r} (choose from {', '.join(MODE_NAMES)})")
            names.add(name)
    return frozenset(names)


@dataclass(frozen=True, kw_only=True)
class Modes:
    """Which modes are on, and their settings (the ``serve`` options of the same names)."""

    names: frozenset[str] = frozenset()
    greylist_delay: float = 5.0
    """Seconds before a greylisted triplet is accepted."""
    domain: str = "example.com"
    """``relay``: the only domain mail is accepted for, without AUTH."""
    tarpit_delay: float = 2.0
    """Seconds before each reply."""
    size_limit: int = 10_240
    """``size``: the SIZE advertised and enforced, in bytes."""
    flaky_rate: float = 0.2
    """Chance that a command gets ``421`` and the connection closes."""
    seed: int | None = None
    """Seed of ``flaky``'s random numbers: the same seed, the same failures."""

    def __post_init__(self) -> None:
        unknown = set(self.names) - set(MODE_NAMES)
        if unknown:
            raise ValueError(f"unknown mode {sorted(unknown)[0]!r} (choose from {', '.join(MODE_NAMES)})")
        if not 0.0 <= self.flaky_rate <= 1.0:
            raise ValueError(f"flaky rate must be between 0 and 1: {self.flaky_rate}")
        if self.greylist_delay < 0 or self.tarpit_delay < 0:
            raise ValueError("delays cannot be negative")
        if self.size_limit < 1:
            raise ValueError(f"size limit must be at least 1 byte: {self.size_limit}")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)

    def ordered(self) -> tuple[str, ...]:
        """The active modes, in :data:`MODE_NAMES` order."""
        return tuple(name for name in MODE_NAMES if name in self.names)

    def data_size_limit(self, default: int) -> int:
        """What the server advertises as SIZE and enforces."""
        return min(self.size_limit, default) if "size" in self else default

    def intro_lines(self) -> list[str]:
        """One line per active mode: what a student will meet, and what to try."""
        text = {
            "greylist": (
                f"greylist      RCPT gets 451 the first time; send it again after {_seconds(self.greylist_delay)}"
            ),
            "relay": f"relay         RCPT outside @{self.domain} gets 554 Relay access denied; :auth first",
            "tarpit": f"tarpit        every reply comes {_seconds(self.tarpit_delay)} late: watch --timestamps",
            "tls-required": "tls-required  MAIL and AUTH get 530 until STARTTLS (then EHLO again)",
            "strict-lf": (
                "strict-lf     a bare LF in a message gets 550 and a hang-up; after DATA: :raw a\\nb\\r\\n.\\r\\n"
            ),
            "size": (
                f"size          SIZE {self.size_limit}: bigger mail gets 552; "
                "try MAIL FROM:<a@example.com> SIZE=99999"
            ),
            "flaky": f"flaky         about {self.flaky_rate:.0%} of commands get 421 and a hang-up: :reconnect",
        }
        return [text[name] for name in self.ordered()]


def _seconds(value: float) -> str:
    return f"{value:g} s"


@dataclass(kw_only=True)
class ModeRules:
    """The modes of one running server: the hooks its connections call, and what they remember."""

    modes: Modes
    hostname: str
    clock: Callable[[], float] = time.monotonic
    """For ``greylist``; tests pass their own."""
    _first_seen: dict[tuple[str, str, str], float] = field(default_factory=dict, repr=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.modes.seed)

    @property
    def reply_delay(self) -> float:
        """``tarpit``: seconds to wait before each reply (0 without it)."""
        return self.modes.tarpit_delay if "tarpit" in self.modes else 0.0

    @property
    def auth_require_tls(self) -> bool:
        """``tls-required``: AUTH is advertised (and taken) only after STARTTLS."""
        return "tls-required" in self.modes

    def before_command(self, command: str, *, tls: bool) -> str | None:
        """The reply to answer *command* with instead of running it, or None to run it."""
        if "flaky" in self.modes and self._random.random() < self.modes.flaky_rate:
            return S421_FLAKY.format(hostname=self.hostname)
        if "tls-required" in self.modes and not tls and command in NEEDS_TLS:
            return S530_STARTTLS_FIRST
        return None

    def closes_after(self, status: str) -> bool:
        """Whether the connection closes once *status* is sent: every ``421`` (RFC 5321 §3.8),
        and ``strict-lf``'s refusal (Postfix hangs up after it)."""
        return status.startswith("421 ") or status == S550_BARE_LF.format(hostname=self.hostname)

    def check_recipient(
        self, *, peer_ip: str, mail_from: str, address: str, shown: str, authenticated: bool
    ) -> str | None:
        """The reply refusing RCPT TO *address* (*shown* is it safe to echo), or None to accept."""
        if "relay" in self.modes and not authenticated and not self._is_local(address):
            return S554_RELAY_DENIED.format(address=shown)
        if "greylist" in self.modes:
            key = (peer_ip, mail_from.lower(), address.lower())
            now = self.clock()
            first = self._first_seen.setdefault(key, now)
            wait = self.modes.greylist_delay - (now - first)
            if wait > 0:
                return S451_GREYLISTED.format(address=shown, seconds=max(1, round(wait + 0.499)))
        return None

    def _is_local(self, address: str) -> bool:
        """In ``--domain`` or at the server's own name (as Postfix's mydestination has $myhostname)."""
        domain = address.rpartition("@")[2].rstrip(".").lower()
        return domain in (self.modes.domain.lower(), self.hostname.lower())

    def check_content(self, content: bytes) -> str | None:
        """``strict-lf``: the reply refusing a message with a bare LF (then hang up), or None."""
        if "strict-lf" in self.modes and _BARE_LF.search(content):
            return S550_BARE_LF.format(hostname=self.hostname)
        return None

    def reword(self, status: str) -> str:
        """``size``: aiosmtpd's replies for a message too big, in Postfix's words."""
        if "size" in self.modes and _ATOP_SIZE.match(status):
            return S552_TOO_BIG
        return status

