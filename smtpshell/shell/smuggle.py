"""``:smuggle-check``: which malformed end-of-data sequences does a server take as the end?

Rules
-----
- Only for servers one runs: the check says so first, then asks (y/N) in the shell; a
  script must pass ``--yes`` (scripts never prompt).
- It tests the server the shell is connected to (or was last), with the shell's
  connection options (implicit TLS, STARTTLS, PROXY header), in connections of its own:
  one per variant, so that each verdict stands alone. The shell's own connection is left
  as it was. AUTH is not repeated.
- Per variant: greeting, EHLO, (STARTTLS, EHLO), MAIL, RCPT, DATA, each waiting for its
  reply; then one write (:func:`smtpshell.protocol.smuggling.payload`); then, once the
  first reply came, QUIT. Every reply before QUIT's 221 answers something in the payload,
  so the verdict needs no timing (:func:`smtpshell.protocol.smuggling.classify`).
- A refusal of MAIL or RCPT stops the check (it would repeat for every variant); a
  timeout or a close makes that variant inconclusive and the check goes on.
- Everything each connection sends and receives reaches the shell's listeners (a
  recording, :save) on the shell's clock; the screen shows a short account per variant
  and a table at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from smtpshell.highlight import tokens as tok
from smtpshell.net import connection as net
from smtpshell.protocol import smuggling
from smtpshell.protocol.smuggling import Outcome, Variant, Verdict
from smtpshell.settings import ExitStatus
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.protocol.replies import Reply
    from smtpshell.shell.core import Shell

USAGE = ":smuggle-check --from A --to B [--variants LIST] [--yes]"

WARNING = ("smuggle-check sends deliberately malformed end-of-data sequences (SMTP smuggling, "
           "CVE-2023-51764 and kin) to {where}, and delivers up to two test messages per variant to <{to}>. "
           "Use it ONLY on servers you run or are authorised to test.")


class Usage(ValueError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # never exit: the shell goes on
        raise Usage(message)


def _parser() -> _Parser:
    p = _Parser(prog=":smuggle-check", add_help=False)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", dest="recipient", required=True)
    p.add_argument("--variants", default=None)
    p.add_argument("--yes", "-y", action="store_true")
    return p


@dataclass(frozen=True, kw_only=True)
class Options:
    sender: str
    recipient: str
    variants: tuple[Variant, ...]
    yes: bool = False


def parse_options(arg: str) -> Options:
    """The words after :smuggle-check; raises Usage."""
    from smtpshell.shell.send import split_words  # quotes honoured, backslashes kept (escapes)

    try:
        words = split_words(arg)
    except ValueError as exc:
        raise Usage(str(exc)) from None
    ns = _parser().parse_args(words)
    variants = parse_variants(ns.variants) if ns.variants else smuggling.VARIANTS
    return Options(sender=ns.sender, recipient=ns.recipient, variants=variants, yes=ns.yes)


def parse_variants(spec: str) -> tuple[Variant, ...]:
    """``lf.lf,cr.cr`` or escapes (``\\n.\\r\\n``, as :raw reads them), comma-separated."""
    from smtpshell.shell.commands import unescape

    out: list[Variant] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        named = smuggling.variant_named(item)
        if named is not None:
            out.append(named)
            continue
        if "\\" not in item:
            names = ", ".join(v.name for v in smuggling.VARIANTS)
            raise Usage(f"no variant {item!r} (names: {names}; or escapes like '\\n.\\r\\n')")
        try:
            sequence = unescape(item)
        except ValueError as exc:
            raise Usage(f"variant {item!r}: {exc}") from None
        out.append(Variant(name=smuggling.escaped(sequence), sequence=sequence))
    if not out:
        raise Usage("--variants names no variant")
    return tuple(out)


# ----- one variant -------------------------------------------------------------


@dataclass
class Result:
    variant: Variant
    outcome: Outcome
    stop: ExitStatus | None = None  # the check cannot go on: REFUSED (MAIL or RCPT refused), CONNECTION


class _Probe:
    """The observer of one check connection: keeps the replies after the payload and hands
    every event to the shell's listeners, on the clock of the shell's own connection."""

    def __init__(self, shell: "Shell") -> None:
        self.shell = shell
        self.conn: net.Connection | None = None
        self.collecting = False
        self.replies: list["Reply"] = []
        self.closed = False
        self.done = asyncio.Event()  # set at QUIT's 221 or the close
        self.errors: list[str] = []

    def __call__(self, event: net.NetEvent) -> None:
        if isinstance(event, net.Received) and self.collecting:
            self.replies.append(event.event.reply)
            if event.event.reply.code == 221:
                self.done.set()
        elif isinstance(event, net.Closed):
            self.closed = True
            self.done.set()
        elif isinstance(event, net.NetError):
            self.errors.append(event.text)
        listeners = self.shell.listeners
        if listeners:
            base = self.shell.conn
            if base is not None and self.conn is not None:
                event = replace(event, t=event.t + base.now() - self.conn.now())
            for listener in list(listeners):
                listener(event)


class _SetupFailed(Exception):
    def __init__(self, text: str, *, stop: ExitStatus | None = None) -> None:
        super().__init__(text)
        self.stop = stop


async def _step(conn: net.Connection, line: str, ok: tuple[int, ...], steps: list[str], *,
                stop: ExitStatus | None = None) -> None:
    verb = line.split()[0]
    try:
        reply = await conn.command(line)
    except net.ReplyTimeout:
        raise _SetupFailed(f"no reply to {verb} (timeout)") from None
    except net.ConnectionClosed:
        raise _SetupFailed(f"the connection closed after {verb}") from None
    steps.append(f"{verb} {reply.code}")
    if reply.code not in ok:
        text = reply.lines[0].text if reply.lines else ""
        raise _SetupFailed(f"{line} refused: {reply.code} {text}".rstrip(), stop=stop)


async def run_variant(shell: "Shell", variant: Variant, *, sender: str, recipient: str, marker: str,
                      index: int, total: int) -> Result:
    """One variant in a connection of its own; shows what happened; returns the verdict."""
    target = shell.target
    probe = _Probe(shell)
    conn = net.Connection(
        observer=probe, timeout=shell.settings.timeout,
        tls_options=shell.tls_options(server_name=target.server_name), lmtp=shell.settings.lmtp,
    )
    probe.conn = conn
    shell.emit(display.note_line(f"[{index}/{total}] {variant.name}  {variant.shown}"))
    steps: list[str] = []
    try:
        try:
            await conn.open(target.host, target.port, implicit_tls=target.implicit_tls,
                            family=shell.settings.family, unix=target.unix, preamble=shell._proxy_header())
        except net.ConnectError as exc:
            return _setup_result(shell, variant, f"could not connect: {exc}", steps, stop=ExitStatus.CONNECTION)
        try:
            greeting = await conn.reply_to(conn.session.greeting)
            steps.append(str(greeting.code))
            if greeting.code != 220:
                raise _SetupFailed(f"greeting {greeting.code}", stop=ExitStatus.REFUSED)
            hello = f"{'LHLO' if shell.settings.lmtp else 'EHLO'} {shell.hello_name()}"
            await _step(conn, hello, (250,), steps, stop=ExitStatus.REFUSED)
            if _wants_starttls(shell):
                await _step(conn, "STARTTLS", (220,), steps, stop=ExitStatus.REFUSED)
                if not conn.session.tls:
                    raise _SetupFailed("the TLS handshake failed" + (f": {probe.errors[-1]}" if probe.errors else ""),
                                       stop=ExitStatus.CONNECTION)
                await _step(conn, hello, (250,), steps, stop=ExitStatus.REFUSED)
            refused = ExitStatus.REFUSED
            await _step(conn, f"MAIL FROM:<{smuggling.bare_address(sender)}>", (250,), steps, stop=refused)
            await _step(conn, f"RCPT TO:<{smuggling.bare_address(recipient)}>", (250, 251), steps, stop=refused)
            await _step(conn, "DATA", (354,), steps, stop=refused)
        except _SetupFailed as exc:
            return _setup_result(shell, variant, str(exc), steps, stop=exc.stop)
        except (net.ReplyTimeout, net.ConnectionClosed) as exc:
            return _setup_result(shell, variant, str(exc) or "the connection closed", steps)
        shell.emit(display.hint_line("setup: " + " · ".join(steps)))
        data = smuggling.payload(variant, mail_from=sender, rcpt_to=recipient, marker=marker)
        probe.collecting = True
        first = None
        timed_out = False
        try:
            # The payload ends with the lone dot; end_data() writes it after the rest, in the same write.
            out = conn.end_data(data[:-len(smuggling.LONE_DOT)])
            shell.emit(display.hint_line(
                f"sent {len(data)} bytes in one write: a message, {variant.shown}, a smuggled MAIL FROM, "
                f"RCPT TO, DATA and message, then \\r\\n.\\r\\n"))
            first = await conn.reply_to(out.command)
            if not conn.closed:
                conn.send_line("QUIT")  # answered only after everything in the payload
                await asyncio.wait_for(probe.done.wait(), shell.settings.timeout)
        except (net.ReplyTimeout, TimeoutError):
            timed_out = True
        except (net.ConnectionClosed, net.NotConnected):
            pass
        replies = probe.replies
        after = replies[1:] if first is not None and replies else replies
        outcome = smuggling.classify(first, after, closed=probe.closed, timed_out=timed_out)
        quiet = replace(shell.view, hints=False, timestamps=False)
        for reply in replies:
            shell.emit(*display.reply_lines(reply, quiet, tls=conn.session.tls))
        shell.emit(verdict_line(outcome))
        return Result(variant=variant, outcome=outcome)
    finally:
        await conn.close()


def _wants_starttls(shell: "Shell") -> bool:
    """STARTTLS for each check connection when the shell used it (option or typed)."""
    if shell.target.implicit_tls:
        return False
    if shell.settings.starttls:
        return True
    return bool(shell.conn is not None and shell.conn.session.tls and not shell.conn.implicit_tls)


def _setup_result(shell: "Shell", variant: Variant, text: str, steps: list[str], *,
                  stop: ExitStatus | None = None) -> Result:
    if steps:
        shell.emit(display.hint_line("setup: " + " · ".join(steps)))
    shell.error(text)
    outcome = Outcome(verdict=Verdict.INCONCLUSIVE, what=text)
    return Result(variant=variant, outcome=outcome, stop=stop)


# ----- what the screen shows ------------------------------------------------------


_VERDICT_TOKENS = {
    Verdict.END_OF_DATA: tok.ERROR,
    Verdict.END_REFUSED: tok.WARNING,
    Verdict.CONTENT: tok.code_token(250),
    Verdict.REJECTED: tok.code_token(250),
    Verdict.INCONCLUSIVE: tok.WARNING,
}

_VERDICT_SHOWN = {
    Verdict.END_OF_DATA: "END OF DATA: smuggling possible",
    Verdict.END_REFUSED: "end of data, smuggled commands refused",
    Verdict.CONTENT: "not end of data",
    Verdict.REJECTED: "not end of data (refused)",
    Verdict.INCONCLUSIVE: "inconclusive",
}


def verdict_line(outcome: Outcome) -> display.Line:
    return [(tok.NOTE, "  → "), (_VERDICT_TOKENS[outcome.verdict], _VERDICT_SHOWN[outcome.verdict]),
            (tok.NOTE, ": "), *display.visible(outcome.what, tok.NOTE)]


def results_table(results: list[Result], *, where: str) -> list[display.Line]:
    """The final table: variant, bytes, what the server did, verdict."""
    out = [display.note_line(f"smuggle-check results for {where}:")]
    name_w = max(len("variant"), *(len(r.variant.name) for r in results))
    bytes_w = max(len("bytes"), *(len(r.variant.shown) for r in results))
    verdict_w = max(len(_VERDICT_SHOWN[r.outcome.verdict]) for r in results)
    out.append([(tok.NOTE, f"  {'variant':<{name_w}}  {'bytes':<{bytes_w}}  {'verdict':<{verdict_w}}  what the server did")])
    for r in results:
        verdict = _VERDICT_SHOWN[r.outcome.verdict]
        out.append([
            (tok.NOTE, f"  {r.variant.name:<{name_w}}  "),
            (tok.ESCAPE, f"{r.variant.shown:<{bytes_w}}"),
            (tok.PLAIN, "  "),
            (_VERDICT_TOKENS[r.outcome.verdict], f"{verdict:<{verdict_w}}"),
            (tok.PLAIN, "  "),
            *display.visible(r.outcome.what, tok.NOTE),
        ])
    return out


def summary_hints(results: list[Result], *, recipient: str, run_id: str) -> list[str]:
    hints = [f"each message carries '{smuggling.MARKER_HEADER}: {run_id}-N outer|smuggled' (N: the variant's "
             f"number); an END OF DATA verdict means <{smuggling.bare_address(recipient)}> got two messages "
             "for one sent"]
    if any(r.outcome.verdict.vulnerable for r in results):
        hints.append("a server that ends DATA anywhere but <CR><LF>.<CR><LF> is the receiving half of SMTP "
                     "smuggling. Postfix: smtpd_forbid_bare_newline = normalize (the default from 3.9; \"no\" "
                     "before, in the releases that have it; mind smtpd_forbid_bare_newline_exclusions); "
                     "Exim 4.97.1 and Sendmail 8.18.1 refuse these sequences by default")
    return hints


# ----- the command -----------------------------------------------------------------


async def cmd_smuggle_check(shell: "Shell", arg: str) -> None:
    """Test your own server for SMTP smuggling: which end-of-data variants end a message.

    :smuggle-check --from A --to B [--variants LIST] [--yes]
    ONLY for servers you run or are authorised to test. For each variant, a
    connection of its own: EHLO (STARTTLS if the shell used it), MAIL, RCPT,
    DATA, then one write: a message, the variant, a smuggled MAIL FROM,
    RCPT TO, DATA and second message, then the proper \\r\\n.\\r\\n. A server
    that answers the smuggled MAIL FROM took the variant as end of data.
    Variants (default: all): lf.lf lf.crlf crlf.lf cr.cr cr.crlf crlf.cr
    lf.cr crlf.nul.crlf, or escapes such as '\\n.\\r\\n'; comma-separated.
    The shell asks before it starts; scripts need --yes.
    """
    from smtpshell.shell.core import raise_if_script

    try:
        options = parse_options(arg)
    except Usage as exc:
        shell.usage_error(f"{exc}; usage: {USAGE}")
        return
    target = shell.target
    if target is None or target.mx is not None:
        shell.error("connect to the server to test first (:connect HOST [PORT]); :smuggle-check tests that server")
        raise_if_script(shell, "not connected", ExitStatus.CONNECTION)
        return
    where = net.format_hostport(target.host, target.port)
    shell.warn(WARNING.format(where=where, to=smuggling.bare_address(options.recipient)))
    if not options.yes:
        if not shell.interactive:
            shell.usage_error(":smuggle-check in a script needs --yes (a script never asks)")
            return
        ask = shell.ask_confirm
        if ask is None or not await ask(f"run :smuggle-check against {where}? [y/N] "):
            shell.note("smuggle-check not run")
            return
    import secrets

    run_id = secrets.token_hex(4)
    total = len(options.variants)
    shell.note(f"smuggle-check of {where}: {total} variant{'s' * (total != 1)}, each in a connection of its own "
               f"(the shell's connection stays as it is); run {run_id}")
    results: list[Result] = []
    for index, variant in enumerate(options.variants, 1):
        result = await run_variant(shell, variant, sender=options.sender, recipient=options.recipient,
                                   marker=f"{run_id}-{index}", index=index, total=total)
        results.append(result)
        if result.stop is not None:
            shell.error("smuggle-check stopped: this would fail the same way for every variant")
            break
    shell.emit(*results_table(results, where=where))
    if shell.view.hints:
        shell.emit(*(display.hint_line(h) for h in summary_hints(results, recipient=options.recipient, run_id=run_id)))
    if results and results[-1].stop is not None:
        raise_if_script(shell, "smuggle-check could not run", results[-1].stop)
