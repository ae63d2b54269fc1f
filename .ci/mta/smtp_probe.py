"""Small stdlib-only SMTP helpers for the MTA scripts in .ci/mta/.

Subcommands (each prints its result on stdout, diagnostics on stderr, exit 1 on failure):

  free-ports N
      Print N distinct free TCP ports on 127.0.0.1, one per line. All N sockets are bound at
      the same time (port 0) so the kernel hands out distinct ports, then released.

  wait-ready --cafile F [--pidfile P] [--timeout S] PORT[:tls] ...
      Wait until every listed port on 127.0.0.1 answers with a 220 greeting (":tls" = implicit
      TLS, verified against F for the name 127.0.0.1). Polls by connecting; fails early when the
      master process named by P is gone; bounded by S seconds in total.

  auth-mechs --cafile F PORT
      EHLO, STARTTLS (verified against F), EHLO again; print the mechanisms of the AUTH keyword.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
RETRY_INTERVAL = 0.1  # seconds between connection attempts while Postfix starts


def free_ports(count: int) -> list[int]:
    """Bind COUNT sockets to port 0 together, so the ports are distinct, and return them."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def read_reply(stream) -> list[str]:
    """Read one (possibly multi-line) SMTP reply; return its lines without CRLF."""
    lines = []
    while True:
        raw = stream.readline(4096)
        if not raw:
            raise ConnectionError(f"connection closed after {lines!r}")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def tls_context(cafile: str) -> ssl.SSLContext:
    """A verifying client context that trusts only the test CA."""
    return ssl.create_default_context(cafile=cafile)


def greet(port: int, implicit_tls: bool, cafile: str, timeout: float) -> str:
    """Connect once, return the greeting line (raises OSError/ssl.SSLError when not ready)."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        if implicit_tls:
            sock = tls_context(cafile).wrap_socket(sock, server_hostname=HOST)
        with sock.makefile("rwb") as stream:
            reply = read_reply(stream)
            stream.write(b"QUIT\r\n")
            stream.flush()
        return reply[-1]
    finally:
        sock.close()


def master_alive(pidfile: str | None) -> bool:
    """True when no pidfile is given, it is not written yet, or its process exists."""
    if not pidfile:
        return True
    try:
        with open(pidfile, encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return True  # master has not written it yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(specs: list[str], cafile: str, pidfile: str | None, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    for spec in specs:
        port_text, _, mode = spec.partition(":")
        port, implicit_tls = int(port_text), mode == "tls"
        last_error = "no attempt"
        while True:
            try:
                greeting = greet(port, implicit_tls, cafile, timeout=5.0)
                if greeting.startswith("220"):
                    print(f"{HOST}:{port}: {greeting}")
                    break
                last_error = f"unexpected greeting {greeting!r}"
            except (OSError, ssl.SSLError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if not master_alive(pidfile):
                print(f"{HOST}:{port}: postfix master exited ({last_error})", file=sys.stderr)
                return 1
            if time.monotonic() >= deadline:
                message = f"{HOST}:{port}: not ready after {timeout:g}s ({last_error})"
                print(message, file=sys.stderr)
                return 1
            time.sleep(RETRY_INTERVAL)
    return 0


def auth_mechs(port: int, cafile: str) -> int:
    def ehlo(stream) -> list[str]:
        stream.write(b"EHLO probe.example.test\r\n")
        stream.flush()
        return read_reply(stream)

    with socket.create_connection((HOST, port), timeout=10.0) as sock:
        with sock.makefile("rwb") as stream:
            read_reply(stream)
            ehlo(stream)
            stream.write(b"STARTTLS\r\n")
            stream.flush()
            reply = read_reply(stream)
            if not reply[-1].startswith("220"):
                print(f"STARTTLS refused: {reply[-1]}", file=sys.stderr)
                return 1
        with tls_context(cafile).wrap_socket(sock, server_hostname=HOST) as tls:
            with tls.makefile("rwb") as stream:
                lines = ehlo(stream)
                stream.write(b"QUIT\r\n")
                stream.flush()
    for line in lines:
        words = line[4:].split()
        if words and words[0].upper() == "AUTH":
            print(" ".join(words[1:]))
            return 0
    print(f"no AUTH keyword after STARTTLS: {lines!r}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_free = sub.add_parser("free-ports")
    p_free.add_argument("count", type=int)
    p_wait = sub.add_parser("wait-ready")
    p_wait.add_argument("--cafile", required=True)
    p_wait.add_argument("--pidfile")
    p_wait.add_argument("--timeout", type=float, default=30.0)
    p_wait.add_argument("ports", nargs="+")
    p_mechs = sub.add_parser("auth-mechs")
    p_mechs.add_argument("--cafile", required=True)
    p_mechs.add_argument("port", type=int)
    args = parser.parse_args(argv)

    if args.command == "free-ports":
        print("\n".join(str(port) for port in free_ports(args.count)))
        return 0
    if args.command == "wait-ready":
        return wait_ready(args.ports, args.cafile, args.pidfile, args.timeout)
    return auth_mechs(args.port, args.cafile)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
