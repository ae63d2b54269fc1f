"""A large message through smtpshell's ``:file``, against a plain socket and swaks.

All three send the same message into the same sink, Postfix's ``smtp-sink`` on
127.0.0.1 (a free port), and each run is a whole process, timed from start to
exit (startup included). The message is generated in a temporary directory:
headers and 78-character lines with CRLF endings and no line starting with a
dot, so the plain socket can write the file's bytes as they are and still send
exactly what smtpshell sends (smtpshell checks every chunk, and would convert
and dot-stuff if it had to; the ``LF file`` row shows that slower path).

    python bench/bench_large_message.py                  # 100 MB and 10 MB, 5 runs each
    python bench/bench_large_message.py --runs 7 --write # also rewrite bench/RESULTS.md

Reported: the median wall time of the runs, throughput (MB/s, 1 MB = 10^6 bytes)
from that median, the ratio to the plain socket's throughput, and the peak RSS of
the client process (``wait4``'s ``ru_maxrss``). Goal: smtpshell at no less than
0.5x the plain socket's throughput, with the same peak RSS for 10 MB and 100 MB.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import free_port, machine, update_section, wait_listening  # bench/common.py (run as python bench/bench_large_message.py)

SINK = "/usr/sbin/smtp-sink"
LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n"
SENDER, RECIPIENT = "sender@example.test", "rcpt@example.test"

PLAIN_CLIENT = r"""
import socket, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.create_connection((host, port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
replies = sock.makefile("rb")
def reply():
    while True:
        line = replies.readline()
        if line[3:4] != b"-":
            return line
reply()
for command in (b"EHLO bench", b"MAIL FROM:<%s>", b"RCPT TO:<%s>", b"DATA"):
    sock.sendall(command + b"\r\n")
    reply()
with open(path, "rb") as message:
    while chunk := message.read(1 << 20):
        sock.sendall(chunk)
sock.sendall(b".\r\n")
last = reply()
sock.sendall(b"QUIT\r\n")
reply()
sys.exit(0 if last.startswith(b"250") else 1)
""".replace("%s", SENDER, 1).replace("%s", RECIPIENT, 1)


@dataclass
class Run:
    seconds: float
    maxrss_kb: int


def make_message(path: Path, size: int, *, lf: bool = False) -> int:
    """A message of about ``size`` bytes; ``lf``: bare LF endings and a dot-led line in 100."""
    head = (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: bench {size} bytes\r\n"
            "Message-ID: <bench@example.test>\r\n\r\n").encode()
    block = LINE * 99 + b"." + LINE
    if lf:
        head, block = head.replace(b"\r\n", b"\n"), block.replace(b"\r\n", b"\n")
    written = 0
    with open(path, "wb") as out:
        out.write(head)
        written += len(head)
        while written < size:
            out.write(block if lf else LINE * 100)
            written += len(block) if lf else len(LINE) * 100
    return path.stat().st_size





def start_sink() -> tuple[subprocess.Popen, int]:
    if not os.path.exists(SINK):
        sys.exit(f"{SINK} not found: install the postfix package (it ships smtp-sink)")
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([SINK, *user, f"127.0.0.1:{port}", "64"])
    wait_listening(proc, port, "smtp-sink", 10)
    return proc, port


def clients(port: int) -> dict[str, callable]:
    """name -> function(path) -> argv."""
    def smtpshell(path: Path) -> list[str]:
        return [sys.executable, "-m", "smtpshell", "127.0.0.1", str(port), "--color", "never",
                "-c", "EHLO bench", "-c", f"MAIL FROM:<{SENDER}>", "-c", f"RCPT TO:<{RECIPIENT}>",
                "-c", "DATA", "-c", f":file {path}", "-c", ":expect 250", "-c", "QUIT"]

    def plain(path: Path) -> list[str]:
        return [sys.executable, "-c", PLAIN_CLIENT, "127.0.0.1", str(port), str(path)]

    def swaks(path: Path) -> list[str]:
        return ["swaks", "--server", f"127.0.0.1:{port}", "--from", SENDER, "--to", RECIPIENT,
                "--data", f"@{path}", "--suppress-data"]

    out = {"plain socket": plain, "smtpshell": smtpshell}
    if shutil.which("swaks"):
        out["swaks"] = swaks
    return out


def run_once(argv: list[str]) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()  # drained as it comes; smtpshell prints ~20 lines, swaks ~30
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed (exit {proc.returncode}):\n{output.decode(errors='replace')[-2000:]}")
    return Run(seconds=seconds, maxrss_kb=usage.ru_maxrss)



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=float, default=100, help="the large message (default 100 MB)")
    p.add_argument("--small-mb", type=float, default=10, help="the smaller one, for the memory comparison")
    p.add_argument("--runs", type=int, default=5, help="timed runs per row (after one warm-up)")
    p.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = p.parse_args(argv)

    sink, port = start_sink()
    load_before = os.getloadavg()[0]
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="smtpshell-bench-") as tmp:
            big, small, lf = Path(tmp) / "big.eml", Path(tmp) / "small.eml", Path(tmp) / "big-lf.eml"
            empty = Path(tmp) / "empty.eml"
            sizes = {big: make_message(big, int(args.size_mb * 1e6)),
                     small: make_message(small, int(args.small_mb * 1e6)),
                     lf: make_message(lf, int(args.size_mb * 1e6), lf=True),
                     empty: make_message(empty, 0)}
            cases = []
            for name, argv_for in clients(port).items():
                cases.append((name, argv_for, big))
                if name != "swaks":
                    cases.append((name, argv_for, small))
                    cases.append((name, argv_for, empty))  # the fixed cost: start, connect, one tiny message
            cases.append(("smtpshell (LF file, 1% dot lines)", clients(port)["smtpshell"], lf))
            # Round robin, so that a busy moment on the machine hits every client alike;
            # the first round warms the page cache and the bytecode and is not counted.
            results: dict[int, list[Run]] = {i: [] for i in range(len(cases))}
            for round_ in range(args.runs + 1):
                for i, (name, argv_for, path) in enumerate(cases):
                    run = run_once(argv_for(path))
                    if round_:
                        results[i].append(run)
                print(f"  round {round_}/{args.runs} done", file=sys.stderr)
            plain_rate = {}
            for i, (name, argv_for, path) in enumerate(cases):
                median = statistics.median(r.seconds for r in results[i])
                rate = sizes[path] / 1e6 / median
                if name == "plain socket":
                    plain_rate[path.stat().st_size] = rate
                rows.append((name, sizes[path], median, rate, max(r.maxrss_kb for r in results[i])))
    finally:
        sink.terminate()
        sink.wait()

    reference = {size: rate for size, rate in plain_rate.items()}
    base = max(reference.items())[1]
    lines = [
        "| client | message | median time | throughput | vs plain socket | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, size, median, rate, rss in rows:
        ref = reference.get(size, base)
        if size < 1e6:  # the fixed cost: no throughput to speak of
            lines.append(f"| {name} | {size} bytes | {median:.2f} s | — | — | {rss / 1024:.0f} MB |")
            continue
        lines.append(f"| {name} | {size / 1e6:.1f} MB | {median:.2f} s | {rate:.0f} MB/s | "
                     f"{rate / ref:.2f}x | {rss / 1024:.0f} MB |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_results(table, args, (load_before, os.getloadavg()[0]))
    return 0


def write_results(table: str, args, load: tuple[float, float]) -> None:
    """Rewrite this benchmark's section of bench/RESULTS.md; its notes and the other sections stay."""
    header = f"""Measured {datetime.date.today().isoformat()} on {machine()}; sink: Postfix's `smtp-sink` on 127.0.0.1.
{args.runs} timed runs per row, round robin over the rows after one warm-up round; median wall
time of the whole client process (startup included); throughput from that median (1 MB = 10^6
bytes); ratio against the plain socket sending the same message; peak RSS of the client process.
Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end."""
    update_section("Large message (`bench/bench_large_message.py`)", header, table)


if __name__ == "__main__":
    sys.exit(main())
