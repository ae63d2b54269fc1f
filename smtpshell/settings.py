"""Settings: one frozen value object built by the CLI; XDG paths."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class ExitStatus(enum.IntEnum):
    """What a run's exit status means (listed in --help)."""

    OK = 0
    EXPECT_FAILED = 1  # an :expect did not match (or a script step failed)
    USAGE = 2  # bad command line or bad script line
    CONNECTION = 3  # could not connect, TLS failed, or the connection was lost
    REFUSED = 4  # the server refused a command (4xx/5xx) and no :expect looked at it
    INTERRUPTED = 130  # Ctrl-C in a script


EXIT_STATUS_HELP = """exit status:
  0    success
  1    an :expect did not match the last reply
  2    usage error (bad option, unreadable script file)
  3    connection or TLS failure (refused, timeout, certificate, lost connection)
  4    the server answered a command with 4xx/5xx and no :expect checked that reply
  130  interrupted"""


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str | None = None
    port: int | None = None
    tls: bool = False  # implicit TLS
    starttls: bool = False
    lmtp: bool = False
    socket: str | None = None  # --socket PATH: a UNIX domain socket instead of HOST
    proxy: tuple[str, str] | None = None  # --proxy SRC:PORT DST:PORT: send a PROXY header first
    proxy_version: int = 1  # --proxy-version 1|2
    mx: str | None = None  # --mx DOMAIN: connect to the domain's first MX host that answers
    ehlo: str | None = None
    timeout: float = 30.0
    family: int = 0  # socket.AF_INET / AF_INET6 / 0
    insecure: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    sni: str | None = None
    tls_min: str | None = None
    color: str = "auto"  # auto | always | never
    style: str | None = None
    marks: str = "bare"
    timestamps: bool = False
    hints: bool = True
    record: str | None = None
    show_secrets: bool = False  # unmasked credentials in recordings (only when asked)
    user: str | None = None  # --user: authenticate after connecting
    auth_mechanism: str | None = None  # --auth MECH
    password_file: str | None = None
    commands: tuple[str, ...] = ()  # -c lines
    script_file: str | None = None  # -f
    pipeline: bool = False  # --pipeline: script lines grouped into PIPELINING writes (shell/pipeline.py)
    demo: bool = False
    demo_modes: tuple[str, ...] = ()  # --demo-mode: the practice server's modes (server/modes.py)
    history: bool = True
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def default_port(self) -> int:
        if self.tls:
            return 465
        if self.lmtp:
            return 24
        return 25

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else self.default_port

    def use_color(self, is_tty: bool) -> bool:
        if self.color == "always":
            return True
        if self.color == "never":
            return False
        return is_tty and not self.env.get("NO_COLOR")


def state_dir(env: dict[str, str] | None = None) -> "Path":
    """$XDG_STATE_HOME/smtpshell (default ~/.local/state/smtpshell)."""
    from pathlib import Path  # lazy: scripts never need it

    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return Path(base) / "smtpshell"


def history_path(env: dict[str, str] | None = None) -> "Path":
    return state_dir(env) / "history"
