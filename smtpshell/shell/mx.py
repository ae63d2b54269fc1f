"""MX lookup: ``smtpshell --mx DOMAIN`` and ``:mx DOMAIN``.

What a sending MTA does (RFC 5321 5.1), shown step by step: look up the domain's MX records,
sort them by preference, look up each host's addresses, then connect to the first address that
answers with a greeting, saying why each one before it did not. Special cases:

- a null MX (RFC 7505: one record ``0 .``): the domain accepts no mail;
- no MX records: the domain's own A/AAAA records stand in (the "implicit MX");
- NXDOMAIN: the domain does not exist.

dnspython is imported only here, and only when a lookup runs. ``SMTPSHELL_DNS_SERVER``
(``127.0.0.1:5353``, ``[::1]:53``, ``192.0.2.53``) sends the queries to that server instead of
the system's resolvers (for tests, and for asking one server on purpose).

Addresses are tried IPv4 first, then IPv6 (``-4``/``-6`` keep one family); equal preferences
keep a fixed order (by name) so a session is repeatable, where an MTA would shuffle them.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smtpshell.protocol.session import Phase
from smtpshell.transcript import display

if TYPE_CHECKING:
    from smtpshell.shell.core import Shell

DNS_SERVER_ENV = "SMTPSHELL_DNS_SERVER"


@dataclass(frozen=True, kw_only=True)
class MxHost:
    preference: int
    name: str  # without the final dot
    addresses: tuple[str, ...] = ()
    problem: str | None = None  # why there are no addresses


@dataclass(frozen=True, kw_only=True)
class MxResult:
    domain: str
    hosts: tuple[MxHost, ...] = ()
    implicit: bool = False  # no MX records: the domain's own addresses (RFC 5321 5.1)
    null_mx: bool = False  # RFC 7505: the domain accepts no mail
    error: str | None = None  # the lookup failed (NXDOMAIN, timeout, ...)
    notes: tuple[str, ...] = field(default=())

    @property
    def candidates(self) -> list[tuple[MxHost, str]]:
        """(host, address) in the order to try them."""
        return [(host, address) for host in self.hosts for address in host.addresses]


# ----- what the shell shows (pure) -----------------------------------------------


def result_lines(result: MxResult) -> list[display.Line]:
    if result.error:
        return [display.error_line(result.error)]
    if result.null_mx:
        return [display.error_line(
            f"{result.domain} accepts no mail: its only MX record is the null MX \"0 .\" (RFC 7505)"
        )]
    lines = [display.note_line(note) for note in result.notes]
    if result.implicit:
        lines.append(display.note_line(
            f"{result.domain} has no MX records: its own address records stand in "
            "(the implicit MX, RFC 5321 5.1)"
        ))
    else:
        count = len(result.hosts)
        lines.append(display.note_line(
            f"MX records of {result.domain}, in preference order ({count} host{'s' if count != 1 else ''}):"
        ))
    width = max((len(h.name) for h in result.hosts), default=0)
    for host in result.hosts:
        shown = ", ".join(host.addresses) if host.addresses else f"(no address: {host.problem or 'none found'})"
        lines.append(display.note_line(f"  {host.preference:>5} {host.name:<{width}}  {shown}"))
    if result.hosts and not result.candidates:
        lines.append(display.error_line(f"no MX host of {result.domain} has an address to connect to"))
    return lines


# ----- the lookup ------------------------------------------------------------------


def parse_server(text: str) -> tuple[str, int]:
    """``SMTPSHELL_DNS_SERVER``: ``ADDR``, ``ADDR:PORT`` or ``[V6ADDR]:PORT``."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.lstrip(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{DNS_SERVER_ENV}={text}: bad port {port!r}")
    return host, int(port) if port else 53


def make_resolver(env: dict[str, str], timeout: float):
    """A dnspython async resolver: the system's, or the one server ``SMTPSHELL_DNS_SERVER`` names."""
    import dns.asyncresolver

    server = env.get(DNS_SERVER_ENV)
    if server:
        host, port = parse_server(server)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 5.0)
    return resolver


async def lookup(domain: str, *, env: dict[str, str], timeout: float = 30.0, family: int = 0) -> MxResult:
    """The MX hosts of ``domain`` with their addresses (never raises for DNS trouble)."""
    import dns.exception
    import dns.name
    import dns.resolver

    domain = domain.strip().rstrip(".")
    try:
        resolver = make_resolver(env, timeout)
        qname = dns.name.from_text(domain)
    except dns.resolver.NoResolverConfiguration:
        return MxResult(domain=domain, error="no DNS resolver configured (/etc/resolv.conf); "
                        f"{DNS_SERVER_ENV}=ADDR[:PORT] names one")
    except (ValueError, dns.exception.DNSException) as exc:
        return MxResult(domain=domain, error=f"cannot look up {domain!r}: {exc}")
    try:
        answer = await resolver.resolve(qname, "MX")
    except dns.resolver.NXDOMAIN:
        return MxResult(domain=domain, error=f"{domain} does not exist (NXDOMAIN): no mail can be delivered there")
    except dns.resolver.NoAnswer:
        host = await _host(resolver, 0, domain, family)
        return MxResult(domain=domain, hosts=(host,), implicit=True)
    except dns.exception.Timeout:
        return MxResult(domain=domain, error=f"no answer from DNS within {timeout:g} s for the MX records of {domain}")
    except dns.exception.DNSException as exc:
        return MxResult(domain=domain, error=f"MX lookup for {domain} failed: {exc}")
    records = sorted(
        ((rr.preference, "" if rr.exchange == dns.name.root else rr.exchange.to_text(omit_final_dot=True))
         for rr in answer),
        key=lambda pair: (pair[0], pair[1].lower()),
    )
    notes = []
    if any(name == "" for _, name in records):
        if len(records) == 1:
            return MxResult(domain=domain, null_mx=True)
        notes.append("a null MX \"0 .\" among other MX records (RFC 7505 wants it alone): left out")
        records = [(pref, name) for pref, name in records if name != ""]
    hosts = await asyncio.gather(*(_host(resolver, pref, name, family) for pref, name in records))
    return MxResult(domain=domain, hosts=tuple(hosts), notes=tuple(notes))


async def _host(resolver, preference: int, name: str, family: int) -> MxHost:
    types = [t for t, fam in (("A", socket.AF_INET), ("AAAA", socket.AF_INET6)) if family in (0, fam)]
    found = await asyncio.gather(*(_addresses(resolver, name, t) for t in types))
    addresses = tuple(a for addrs, _ in found for a in addrs)
    problems = [p for _, p in found if p]
    return MxHost(preference=preference, name=name, addresses=addresses,
                  problem=None if addresses else (problems[0] if problems else f"no {' or '.join(types)} record"))


async def _addresses(resolver, name: str, rdtype: str) -> tuple[list[str], str | None]:
    import dns.exception
    import dns.resolver

    try:
        answer = await resolver.resolve(name + ".", rdtype)
    except dns.resolver.NXDOMAIN:
        return [], f"{name} does not exist (NXDOMAIN)"
    except dns.resolver.NoAnswer:
        return [], None
    except dns.exception.Timeout:
        return [], f"no {rdtype} answer in time"
    except dns.exception.DNSException as exc:
        return [], f"{rdtype} lookup failed: {exc}"
    return [rr.address for rr in answer], None


# ----- connecting --------------------------------------------------------------------


async def look_up_and_show(shell: "Shell", domain: str) -> MxResult:
    """Resolve ``domain``'s MX hosts and their addresses, and show them."""
    env = shell.settings.env
    server = env.get(DNS_SERVER_ENV)
    asking = f" (asking {server})" if server else ""
    shell.note(f"looking up the MX records of {domain}{asking} …")
    result = await lookup(domain, env=env, timeout=shell.settings.timeout, family=shell.settings.family)
    shell.emit(*result_lines(result))
    return result


async def connect_first(shell: "Shell", result: MxResult, port: int, *, implicit_tls: bool = False) -> bool:
    """Connect to the first address that greets, saying why each one before it did not."""
    from smtpshell.shell.core import Target

    candidates = result.candidates
    if not candidates:
        shell.connection_failed = True
        return False
    for index, (host, address) in enumerate(candidates):
        if index:
            shell.note(f"trying the next: {host.name} ({address})")
        target = Target(host=address, port=port, implicit_tls=implicit_tls, server_name=host.name)
        ok = await shell.connect(target)
        if shell.connected and shell.session.phase is Phase.GREETING:
            shell.error(f"{host.name} ({address}) sent no greeting: not waiting for it")
            await shell.close_quietly()
            continue
        if shell.connected:
            return ok
    count = len(candidates)
    shell.error(f"no MX host of {result.domain} answered ({count} address{'es' if count != 1 else ''} tried)")
    shell.connection_failed = True
    return False


async def connect_mx(shell: "Shell", domain: str, port: int, *, implicit_tls: bool = False) -> bool:
    """--mx DOMAIN: look up, show, and connect to the first address that greets."""
    result = await look_up_and_show(shell, domain)
    return await connect_first(shell, result, port, implicit_tls=implicit_tls)


async def cmd_mx(shell: "Shell", arg: str) -> None:
    """Look up DOMAIN's MX hosts and connect to the first that answers.

    :mx DOMAIN [PORT] [--tls] [--list]
    Shows the MX records in preference order with each host's addresses, then
    connects (as :connect) to the first address that greets, saying why each
    one before it did not. A null MX ("0 .", RFC 7505) means the domain takes
    no mail; no MX at all means its own A/AAAA records (RFC 5321 5.1).
    --list only shows them; the current connection stays open until there is
    an MX host to try. IPv4 addresses are tried before IPv6 (-4 / -6 keep one).
    """
    from smtpshell.net.address import parse_target

    words = arg.split()
    flags = {w for w in words if w.startswith("--")}
    words = [w for w in words if not w.startswith("--")]
    if flags - {"--tls", "--list"} or not words or len(words) > 2:
        shell.usage_error("usage: :mx DOMAIN [PORT] [--tls] [--list]")
        return
    try:
        domain, port = parse_target(words[0], words[1] if len(words) > 1 else None)
    except ValueError as exc:
        shell.usage_error(str(exc))
        return
    implicit = "--tls" in flags
    result = await look_up_and_show(shell, domain)
    if "--list" in flags or not result.candidates:
        return  # the current connection (if any) stays
    if port is None:
        port = 465 if implicit else (24 if shell.settings.lmtp else 25)
    if shell.connected:
        await shell.quit()
    shell.quitting = False
    await connect_first(shell, result, port, implicit_tls=implicit)
