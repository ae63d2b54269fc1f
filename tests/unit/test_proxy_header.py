"""The PROXY protocol header encoder against the examples and sizes of HAProxy's
proxy-protocol.txt (versions 1 and 2), and against aiosmtpd's independent parser."""

import asyncio
import ipaddress
import struct

import pytest
from aiosmtpd.proxy_protocol import AF, PROTO, V2_CMD, get_proxy

from smtpshell.protocol import proxy
from smtpshell.protocol.proxy import Endpoint, parse_endpoint


def ep(text: str) -> Endpoint:
    return parse_endpoint(text)


# ----- version 1 (section 2.1) -----------------------------------------------------


def test_v1_spec_example():
    # "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" (section 2.1's example)
    assert proxy.encode_v1(ep("192.168.0.1:56324"), ep("192.168.0.11:443")) == (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    )


@pytest.mark.parametrize(
    ("src", "dst", "length"),
    [
        # The maximum lengths a receiver must accept, CRLF included (section 2.1).
        ("255.255.255.255:65535", "255.255.255.255:65535", 56),
        ("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 104),
    ],
)
def test_v1_worst_case_lengths(src, dst, length):
    header = proxy.encode_v1(ep(src), ep(dst))
    assert len(header) == length
    assert header.endswith(b"65535 65535\r\n")
    assert header.startswith(b"PROXY TCP4 " if length == 56 else b"PROXY TCP6 ")


def test_v1_unknown_short_form_is_15_bytes():
    assert proxy.encode_v1_unknown() == b"PROXY UNKNOWN\r\n"
    assert len(proxy.encode_v1_unknown()) == 15


def test_v1_ipv6_is_written_compressed():
    header = proxy.encode_v1(ep("[2001:db8:0:0::7]:40000"), ep("[2001:db8::25]:25"))
    assert header == b"PROXY TCP6 2001:db8::7 2001:db8::25 40000 25\r\n"


# ----- version 2 (section 2.2) -----------------------------------------------------


def test_v2_signature_is_the_spec_bytes():
    assert proxy.V2_SIGNATURE == bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])


def test_v2_tcp4_matches_haproxy_output():
    # A v2 header written by HAProxy itself (172.19.0.1:42578 -> 172.19.0.3:80).
    expected = bytes.fromhex("0d0a0d0a000d0a515549540a 2111000c ac130001 ac130003 a652 0050".replace(" ", ""))
    assert proxy.encode_v2(ep("172.19.0.1:42578"), ep("172.19.0.3:80")) == expected


def test_v2_tcp4_layout_and_length():
    header = proxy.encode_v2(ep("192.0.2.1:4242"), ep("198.51.100.1:25"))
    assert len(header) == 16 + 12
    ver_cmd, fam, length = struct.unpack("!BBH", header[12:16])
    assert (ver_cmd, fam, length) == (0x21, 0x11, 12)  # v2 PROXY, AF_INET STREAM
    assert header[16:20] == ipaddress.ip_address("192.0.2.1").packed
    assert header[20:24] == ipaddress.ip_address("198.51.100.1").packed
    assert struct.unpack("!HH", header[24:28]) == (4242, 25)


def test_v2_tcp6_layout_and_length():
    header = proxy.encode_v2(ep("[2001:db8::7]:40000"), ep("[2001:db8::25]:25"))
    assert len(header) == 16 + 36
    assert header[12:16] == bytes([0x21, 0x21, 0x00, 36])  # AF_INET6 STREAM
    assert header[16:32] == ipaddress.ip_address("2001:db8::7").packed
    assert struct.unpack("!HH", header[48:52]) == (40000, 25)


def test_v2_local_has_no_addresses():
    assert proxy.encode_v2_local() == proxy.V2_SIGNATURE + bytes([0x20, 0x00, 0x00, 0x00])


# ----- against an independent parser (aiosmtpd's) ----------------------------------


def parse_with_aiosmtpd(header: bytes):
    async def run():
        reader = asyncio.StreamReader()
        reader.feed_data(header)
        reader.feed_eof()
        return await get_proxy(reader)

    return asyncio.run(run())


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    ("src", "dst", "family"),
    [
        ("192.0.2.1:4242", "198.51.100.1:25", AF.INET),
        ("[2001:db8::7]:65535", "[2001:db8::25]:0", AF.INET6),
    ],
)
def test_aiosmtpd_reads_what_we_write(version, src, dst, family):
    data = parse_with_aiosmtpd(proxy.header_for(src, dst, version=version))
    assert data.valid, data.error
    assert data.version == version
    assert (data.family, data.protocol) == (family, PROTO.STREAM)
    assert str(Endpoint(address=data.src_addr, port=data.src_port)) == src
    assert str(Endpoint(address=data.dst_addr, port=data.dst_port)) == dst
    if version == 2:
        assert data.command == V2_CMD.PROXY


# ----- endpoints and errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("192.0.2.1", "ADDR:PORT expected"),
        ("192.0.2.1:", "the port must be a number"),
        ("192.0.2.1:65536", "the port must be a number"),
        ("192.0.2.1:x", "the port must be a number"),
        ("mail.example.com:25", "is not an IP address"),
        ("2001:db8::1:25", "write an IPv6 address as [ADDR]:PORT"),
        ("[2001:db8::1]25", "write an IPv6 address as [ADDR]:PORT"),
        ("[nope]:25", "is not an IP address"),
    ],
)
def test_bad_endpoints(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_endpoint(text)


def test_families_must_match():
    with pytest.raises(ValueError, match="both ends in one family"):
        proxy.header_for("192.0.2.1:1", "[2001:db8::1]:25", version=1)
    with pytest.raises(ValueError, match="both ends in one family"):
        proxy.header_for("[2001:db8::1]:1", "192.0.2.1:25", version=2)


def test_only_versions_1_and_2():
    with pytest.raises(ValueError, match="only 1 and 2"):
        proxy.header_for("192.0.2.1:1", "192.0.2.2:25", version=3)


# ----- what the shell says it sent -----------------------------------------------------


def test_describe_v1():
    header = proxy.header_for("192.0.2.1:4242", "198.51.100.1:25", version=1)
    assert proxy.describe(header) == (
        "PROXY v1 header sent (43 bytes): PROXY TCP4 192.0.2.1 198.51.100.1 4242 25"
    )


@pytest.mark.parametrize(
    ("src", "dst", "expected"),
    [
        ("192.0.2.1:4242", "198.51.100.1:25", "PROXY v2 header sent (28 bytes): PROXY TCP4 192.0.2.1:4242 -> 198.51.100.1:25"),
        ("[2001:db8::7]:1", "[2001:db8::25]:25",
         "PROXY v2 header sent (52 bytes): PROXY TCP6 [2001:db8::7]:1 -> [2001:db8::25]:25"),
    ],
)
def test_describe_v2(src, dst, expected):
    assert proxy.describe(proxy.header_for(src, dst, version=2)) == expected


def test_describe_v2_local_and_other_bytes():
    assert proxy.describe(proxy.encode_v2_local()).endswith("LOCAL (no addresses)")
    assert proxy.describe(b"junk") == "4 bytes sent before the greeting: b'junk'"
