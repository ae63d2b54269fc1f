"""The practice server: a real ESMTP server on 127.0.0.1 that needs no mail infrastructure.

:class:`PracticeServer` runs inside an already running event loop (``smtpshell --demo``
starts it beside the shell); :func:`serve_main` runs it alone (``smtpshell serve``).
aiosmtpd and cryptography are imported only when a server starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from smtpshell.server.certs import VALID_DAYS, certificate_names, make_self_signed
from smtpshell.server.intro import format_intro, host_port
from smtpshell.server.modes import MODE_NAMES, ModeRules, Modes, parse_modes
from smtpshell.server.store import MaildirStore
from smtpshell.server.users import AUTH_MECHANISMS, DEMO_USERS, DemoUser, UserBook

if TYPE_CHECKING:
    from smtpshell.server.smtp import PracticeSMTP

__all__ = ["DEMO_USERS", "DemoUser", "Modes", "PracticeServer", "serve_main"]

SIZE_LIMIT = 10_240_000
"""Advertised as ``SIZE 10240000``: the largest message the server accepts, in bytes."""
GREETING = "ESMTP smtpshell practice server - type EHLO to begin"
"""Follows ``220 <hostname>`` in the greeting."""
DEFAULT_HOSTNAME = "smtpshell.test"
SERVE_DEFAULT_PORT = 2525
CLOSE_GRACE_SECONDS = 2.0
"""How long clients get to take their ``421`` and close before they are cut off."""


class MaildirError(OSError):
    """The Maildir cannot be made or opened (a problem with ``--maildir``, not with the address)."""


class PracticeServer:
    """An ESMTP server for practice: STARTTLS, AUTH for demo users, any recipient, a Maildir.

    With *tls_port* (0: any free port) it also listens there with implicit TLS (TLS from the
    first byte, as on port 465), with the same policy.

    Use ``async with PracticeServer() as server:`` or :meth:`start` / :meth:`aclose`; both
    must run in the event loop that serves the clients.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int | None = None,
        maildir: str | os.PathLike[str] | None = None,
        hostname: str = DEFAULT_HOSTNAME,
        users: Iterable[DemoUser] = DEMO_USERS,
        auth_require_tls: bool = False,
        modes: Modes = Modes(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """*modes*: how to misbehave for class; *clock* times the greylist (tests pass their own)."""
        _check_hostname(hostname)
        self.host = host
        self.port = port
        """The port asked for; after :meth:`start`, the port really bound."""
        self.tls_port = tls_port
        """The implicit-TLS port asked for (None: no such listener); after :meth:`start`, the
        port really bound."""
        self.hostname = hostname
        self.users = tuple(users)
        self.modes = modes
        self.rules = ModeRules(modes=modes, hostname=hostname, clock=clock)
        """What the modes remember (the greylist), shared by every connection."""
        self.auth_require_tls = auth_require_tls or self.rules.auth_require_tls
        self._given_maildir = Path(maildir).expanduser().absolute() if maildir is not None else None
        self._maildir = self._given_maildir
        self._cafile: Path | None = None
        self._cert_names: tuple[str, ...] = ()
        self._workdir: Path | None = None
        self._server: asyncio.Server | None = None
        self._tls_server: asyncio.Server | None = None
        self._connections: set[PracticeSMTP] = set()

    def __repr__(self) -> str:
        state = "serving" if self._server is not None else "stopped"
        return f"<PracticeServer {self.host}:{self.port} {state}>"

    @property
    def maildir(self) -> Path:
        """Root of the stdlib :class:`mailbox.Maildir`; messages land in ``maildir / "new"``."""
        if self._maildir is None:
            raise RuntimeError("the practice server makes its Maildir when it starts")
        return self._maildir

    @property
    def cafile(self) -> Path:
        """PEM of the self-signed certificate, for a client's ``--cafile``."""
        if self._cafile is None:
            raise RuntimeError("the practice server makes its certificate when it starts")
        return self._cafile

    async def start(self) -> None:
        """Make a certificate and the Maildir, then listen (port 0: any free port)."""
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already started")
        from smtpshell.server.handler import PracticeHandler
        from smtpshell.server.smtp import PracticeSMTP

        _quiet_aiosmtpd_log()
        loop = asyncio.get_running_loop()
        workdir = Path(tempfile.mkdtemp(prefix="smtpshell-server-"))
        try:
            names = certificate_names(self.hostname, self.host)
            certs = await asyncio.to_thread(make_self_signed, workdir, common_name=self.hostname, names=names)
            store = MaildirStore(self._given_maildir or workdir / "Maildir")
            try:
                await asyncio.to_thread(store.open)
            except OSError as error:
                reason = error.strerror or str(error)
                where = f" ({error.filename})" if error.filename and str(error.filename) != str(store.root) else ""
                raise MaildirError(error.errno, f"cannot use {store.root} as the Maildir: {reason}{where}") from error
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(certs.certfile, certs.keyfile)
            handler = PracticeHandler(store=store, rules=self.rules)
            book = await asyncio.to_thread(UserBook, self.users)  # PBKDF2 for SCRAM: not in the loop

            def protocol(implicit_tls: bool = False) -> PracticeSMTP:
                return PracticeSMTP(
                    handler,
                    users=book,
                    connections=self._connections,
                    rules=self.rules,
                    implicit_tls=implicit_tls,
                    hostname=self.hostname,
                    ident=GREETING,
                    tls_context=tls,
                    data_size_limit=self.modes.data_size_limit(SIZE_LIMIT),
                    enable_SMTPUTF8=True,
                    decode_data=False,
                    auth_require_tls=self.auth_require_tls,
                    loop=loop,
                )

            server = await loop.create_server(protocol, self.host, self.port)
            tls_server = None
            if self.tls_port is not None:
                try:
                    tls_server = await loop.create_server(
                        functools.partial(protocol, implicit_tls=True), self.host, self.tls_port, ssl=tls
                    )
                except BaseException:
                    server.close()
                    raise
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._server = server
        self._tls_server = tls_server
        if tls_server is not None:
            self.tls_port = tls_server.sockets[0].getsockname()[1]
        self._workdir = workdir
        self._maildir = store.root
        self._cafile = certs.certfile
        self._cert_names = names
        self.port = server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Say 421 to connected clients, stop listening, and remove the files it made.

        A Maildir given by the caller is left as it is.
        """
        servers = [server for server in (self._server, self._tls_server) if server is not None]
        self._server = self._tls_server = None
        for server in servers:
            server.close()
        if servers:
            await self._close_connections()
        for server in servers:
            with contextlib.suppress(TimeoutError):  # Python 3.12+ waits for every connection
                await asyncio.wait_for(server.wait_closed(), CLOSE_GRACE_SECONDS)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def _close_connections(self) -> None:
        for connection in list(self._connections):
            connection.shut_down()
        pending = [connection.closed for connection in self._connections]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE_SECONDS)
        for connection in list(self._connections):
            connection.abort()

    async def __aenter__(self) -> PracticeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def intro(self) -> str:
        """What the server says at start: address, users, where mail goes, what to type."""
        return format_intro(
            host=self.host,
            port=self.port,
            tls_port=self.tls_port,
            users=self.users,
            maildir=self.maildir,
            cafile=self.cafile,
            cert_names=self._cert_names,
            valid_days=VALID_DAYS,
            auth_require_tls=self.auth_require_tls,
            mechanisms=AUTH_MECHANISMS,
            modes=self.modes,
        )


def serve_main(argv: list[str]) -> int:
    """``smtpshell serve``: run the practice server until Ctrl-C or SIGTERM; 0 when stopped."""
    parser = _serve_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else 0
    try:
        modes = Modes(
            names=parse_modes(args.mode),
            greylist_delay=args.greylist_delay,
            domain=args.domain,
            tarpit_delay=args.tarpit_delay,
            size_limit=args.size_limit,
            flaky_rate=args.flaky_rate,
            seed=args.seed,
        )
    except ValueError as error:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: --mode: {error}", file=sys.stderr)
        return 2
    server = PracticeServer(
        host=args.host,
        port=args.port,
        tls_port=args.tls_port,
        maildir=args.maildir,
        hostname=args.hostname,
        modes=modes,
    )
    try:
        return asyncio.run(_serve(server))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        return 0


async def _serve(server: PracticeServer) -> int:
    stop = asyncio.Event()
    with _stop_on_signals(stop.set), _activity_to_stdout():
        try:
            await server.start()
        except MaildirError as error:
            print(f"smtpshell serve: {error.strerror}; choose another --maildir (a folder you can write to)",
                  file=sys.stderr)
            return 1
        except OSError as error:
            where = host_port(server.host, server.port)
            print(f"smtpshell serve: cannot start the practice server on {where}: {error}", file=sys.stderr)
            return 1
        try:
            print(server.intro(), flush=True)
            print("Press Ctrl-C to stop the server.", flush=True)
            await stop.wait()
        finally:
            await server.aclose()
    print("\nPractice server stopped.", flush=True)
    return 0


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call *stop* (on Windows, Ctrl-C raises instead)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop)
        except (NotImplementedError, RuntimeError):
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smtpshell serve",
        description=(
            "Run the practice SMTP server: ESMTP with STARTTLS (a self-signed certificate made "
            "at start), AUTH for demo users (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN "
            "with a password; OAUTHBEARER, XOAUTH2 with a token), PIPELINING, CHUNKING (BDAT), "
            "mail for any address kept in a Maildir; optionally a second port with implicit TLS "
            "(--tls-port). Stop it with Ctrl-C."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=SERVE_DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--tls-port",
        type=_port,
        metavar="PORT",
        help="also listen on PORT with implicit TLS (TLS from the first byte, as on port 465; "
        "connect with smtpshell --tls); 0 picks a free one (default: no such port)",
    )
    parser.add_argument(
        "--maildir",
        metavar="DIR",
        help="keep mail in this Maildir, created if needed (default: a temporary one, removed at exit)",
    )
    parser.add_argument(
        "--hostname",
        type=_hostname,
        default=DEFAULT_HOSTNAME,
        metavar="NAME",
        help="name in the greeting and the certificate (default: %(default)s)",
    )
    _add_mode_options(parser)
    return parser


def _add_mode_options(parser: argparse.ArgumentParser) -> None:
    defaults = Modes()
    group = parser.add_argument_group(
        "misbehaving for class",
        "--mode makes the server behave as real servers do when something is in the way; "
        "modes combine (repeat --mode, or list them with commas).",
    )
    group.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="MODE[,MODE...]",
        help=f"one of: {', '.join(MODE_NAMES)}",
    )
    group.add_argument(
        "--greylist-delay",
        type=_non_negative,
        default=defaults.greylist_delay,
        metavar="SECONDS",
        help="greylist: how long before a retry is accepted (default: %(default)g)",
    )
    group.add_argument(
        "--domain",
        type=_hostname,
        default=defaults.domain,
        help="relay: the domain mail is accepted for without AUTH (default: %(default)s)",
    )
    group.add_argument(
        "--tarpit-delay",
        type=_non_negative,
        default=defaults.tarpit_delay,
        metavar="SECONDS",
        help="tarpit: the delay before each reply (default: %(default)g)",
    )
    group.add_argument(
        "--size-limit",
        type=_positive_int,
        default=defaults.size_limit,
        metavar="BYTES",
        help="size: the SIZE advertised and enforced (default: %(default)s)",
    )
    group.add_argument(
        "--flaky-rate",
        type=_rate,
        default=defaults.flaky_rate,
        metavar="P",
        help="flaky: the chance, 0 to 1, that a command gets 421 (default: %(default)g)",
    )
    group.add_argument(
        "--seed", type=int, default=None, help="flaky: seed the random numbers, for the same failures each run"
    )


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds (0 or more): {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a number of bytes (1 or more): {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"not a probability (0 to 1): {text!r}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return port


def _hostname(text: str) -> str:
    try:
        _check_hostname(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _check_hostname(hostname: str) -> None:
    if (
        not hostname
        or len(hostname) > 253
        or not hostname.isascii()
        or not all(char.isalnum() or char in "-._" for char in hostname)
    ):
        raise ValueError(f"not a host name (letters, digits, '-', '.', '_'): {hostname!r}")


def _quiet_aiosmtpd_log() -> None:
    # aiosmtpd logs every unknown command and its own deprecations as warnings; unconfigured,
    # those reach stderr through logging's last resort and would scribble over the REPL.
    aiosmtpd_log = logging.getLogger("mail.log")
    if not aiosmtpd_log.handlers:
        aiosmtpd_log.addHandler(logging.NullHandler())


@contextlib.contextmanager
def _activity_to_stdout() -> Iterator[None]:
    """For a classroom: connections, logins and stored messages, one line each on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s  %(message)s", datefmt="%H:%M:%S"))
    activity = logging.getLogger("smtpshell.server")
    level, propagate = activity.level, activity.propagate
    activity.addHandler(handler)
    activity.setLevel(logging.INFO)
    activity.propagate = False
    try:
        yield
    finally:
        activity.removeHandler(handler)
        activity.setLevel(level)
        activity.propagate = propagate
