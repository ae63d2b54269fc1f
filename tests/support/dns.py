"""A tiny authoritative DNS server on 127.0.0.1 (UDP, port 0) for the MX tests.

It answers from a dict ``{name: {TYPE: [rdata, ...]}}`` with dnspython's message module:
a name absent from the dict is NXDOMAIN, a present name without the asked type is an empty
NOERROR answer (what "no MX records" looks like). ``env`` is the value for
``SMTPSHELL_DNS_SERVER``. Every question is kept in ``queries`` as ``(name, TYPE)``.

By hand: ``python -m tests.support.dns 'example.test MX 10 mx1.example.test.'
'mx1.example.test A 127.0.0.1'`` serves until Ctrl-C and prints the SMTPSHELL_DNS_SERVER line.
"""

from __future__ import annotations

import asyncio
import sys

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, list[str]]]


class DnsServer:
    def __init__(self, zone: Zone, *, ttl: int = 300) -> None:
        self.zone = {name.lower().rstrip("."): records for name, records in zone.items()}
        self.ttl = ttl
        self.host = "127.0.0.1"
        self.port = 0
        self.queries: list[tuple[str, str]] = []
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def env(self) -> str:
        return f"{self.host}:{self.port}"

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        records = self.zone.get(name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif records.get(rdtype):
            response.answer.append(dns.rrset.from_text_list(question.name, self.ttl, "IN", rdtype, records[rdtype]))
        return response.to_wire()

    async def start(self) -> "DnsServer":
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, 0))
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def __aenter__(self) -> "DnsServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            reply = self.server.answer(data)
        except Exception:  # a malformed query: no answer, as a real server might drop it
            return
        self.transport.sendto(reply, addr)


def zone_from_lines(lines: list[str]) -> Zone:
    """``NAME TYPE RDATA...`` lines into a zone dict."""
    zone: Zone = {}
    for line in lines:
        name, rdtype, rdata = line.split(None, 2)
        zone.setdefault(name.rstrip(".").lower(), {}).setdefault(rdtype.upper(), []).append(rdata)
    return zone


async def _serve(lines: list[str]) -> None:
    async with DnsServer(zone_from_lines(lines)) as server:
        print(f"SMTPSHELL_DNS_SERVER={server.env}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(_serve(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
