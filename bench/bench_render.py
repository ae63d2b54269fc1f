"""Rendering a 100,000-line transcript: ``smtpshell replay --instant`` against ``pygmentize``.

The transcript is generated in a temporary directory, in telnet notation as
people paste it: many sessions, each ``$ telnet mx.example.test 25`` with its
``Trying``/``Connected``/``Escape character`` chatter, the 220 greeting, EHLO and
its multi-line reply, AUTH PLAIN, MAIL, one to three RCPTs (now and then a 550
or a 450 greylisting reply), DATA with headers and a body of 10 to 60 lines
(some starting with a dot, dot-stuffed), the 250 queued reply, QUIT, 221 and
``Connection closed by foreign host.``; a session in ten ends with RSET and no
message. Seeded, so every run renders the same file.

    python bench/bench_render.py                   # 100,000 lines, 9 runs per row
    python bench/bench_render.py --runs 9 --write  # also update bench/RESULTS.md

Rows, each a fresh process writing to a file in the temporary directory, timed
from spawn to exit, round robin:

- ``smtpshell replay FILE --instant --color always > out`` (reads the notation,
  assembles the sessions, writes them with colours and hints, as the shell shows them);
- the same with ``--no-hints`` (colours only, no explanations under the replies);
- ``pygmentize -l smtp -f terminal FILE > out`` (smtpshell's lexer, with pygments's
  own terminal formatter): the reference.

Goal: smtpshell no slower than pygmentize.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, update_section  # bench/common.py (run as python bench/bench_render.py)

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua invoice meeting report quarterly "
         "attached please find regards thanks tomorrow schedule").split()
EHLO_REPLY = ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "AUTH PLAIN LOGIN",
              "AUTH=PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"]


def session(rng: random.Random, n: int) -> list[str]:
    host = f"mx{n % 7}.example.test"
    user = f"user{n % 50}"
    sender, rcpts = f"{user}@example.org", [f"rcpt{rng.randrange(1000)}@example.test"
                                            for _ in range(rng.randint(1, 3))]
    out = [f"$ telnet {host} 25", "Trying 192.0.2.25...", f"Connected to {host}.",
           "Escape character is '^]'.", f"220 {host} ESMTP Postfix (Debian/GNU)",
           f"EHLO client{n}.example.org", f"250-{host}"]
    out += [f"250-{k}" for k in EHLO_REPLY[:-1]] + [f"250 {EHLO_REPLY[-1]}"]
    token = base64.b64encode(f"\0{user}\0secret{n}".encode()).decode()
    out += [f"AUTH PLAIN {token}", "235 2.7.0 Authentication successful",
            f"MAIL FROM:<{sender}> SIZE={rng.randrange(500, 90000)}", "250 2.1.0 Ok"]
    accepted = 0
    for rcpt in rcpts:
        out.append(f"RCPT TO:<{rcpt}>")
        roll = rng.random()
        if roll < 0.1:
            out.append(f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in "
                       "virtual mailbox table")
        elif roll < 0.15:
            out.append(f"450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see "
                       "http://postgrey.schweikert.ch/help/example.test.html")
        else:
            out.append("250 2.1.5 Ok")
            accepted += 1
    if accepted and n % 10:
        out += ["DATA", "354 End data with <CR><LF>.<CR><LF>",
                f"From: {user.title()} <{sender}>", f"To: <{rcpts[0]}>",
                f"Subject: {' '.join(rng.choices(WORDS, k=4))}",
                f"Date: Mon, 2 Nov 2026 10:{n % 60:02d}:00 +0000",
                f"Message-ID: <{n}.{rng.randrange(10**9)}@example.org>", ""]
        for _ in range(rng.randint(10, 60)):
            line = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
            # Dot-stuffed: an empty line so becomes "..", not a lone "." (which would end the message).
            out.append(("." + (line or ".")) if rng.random() < 0.02 else line)
        out += [".", f"250 2.0.0 Ok: queued as {rng.randrange(16**10):010X}"]
    else:
        out += ["RSET", "250 2.0.0 Ok"]
    out += ["QUIT", "221 2.0.0 Bye", "Connection closed by foreign host.", ""]
    return out


def make_transcript(path: Path, lines: int, seed: int = 5321) -> int:
    rng, out, n = random.Random(seed), [], 0
    while len(out) < lines:
        out += session(rng, n)
        n += 1
    path.write_text("\n".join(out) + "\n")
    return n


def run_once(argv: list[str], out: Path, env: dict[str, str]) -> float:
    with open(out, "wb") as sink:
        started = time.perf_counter()
        proc = subprocess.run(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed (exit {proc.returncode}):\n"
                 f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return seconds



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=100_000, help="transcript length (default 100,000)")
    p.add_argument("--runs", type=int, default=9, help="timed runs per row (after one warm-up)")
    p.add_argument("--write", action="store_true", help="update this section of bench/RESULTS.md")
    args = p.parse_args(argv)

    # The pygmentize beside this interpreter: the one that sees smtpshell's lexer.
    pygmentize = str(Path(sys.executable).parent / "pygmentize")
    if not Path(pygmentize).exists():
        pygmentize = shutil.which("pygmentize") or sys.exit("pygmentize not found (pip install pygments)")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    with tempfile.TemporaryDirectory(prefix="smtpshell-bench-") as tmp:
        src, out = Path(tmp) / "sessions.txt", Path(tmp) / "out"
        sessions = make_transcript(src, args.lines)
        n_lines, n_bytes = len(src.read_text().splitlines()), src.stat().st_size
        replay = [sys.executable, "-m", "smtpshell", "replay", str(src), "--instant",
                  "--color", "always"]
        cases = {"smtpshell replay --instant --color always": replay,
                 "smtpshell replay … --no-hints": [*replay, "--no-hints"],
                 "pygmentize -l smtp -f terminal": [pygmentize, "-l", "smtp", "-f", "terminal",
                                                    str(src)]}
        load_before = os.getloadavg()[0]
        results: dict[str, list[float]] = {name: [] for name in cases}
        sizes: dict[str, int] = {}
        for round_ in range(args.runs + 1):  # round 0 warms up and is not counted
            for name, case_argv in cases.items():
                seconds = run_once(case_argv, out, env)
                sizes[name] = out.stat().st_size
                if round_:
                    results[name].append(seconds)
            print(f"  round {round_}/{args.runs} done", file=sys.stderr)
        load_after = os.getloadavg()[0]

    medians = {name: statistics.median(r) for name, r in results.items()}
    base = medians["pygmentize -l smtp -f terminal"]
    lines = ["| client | median time | lines/s | output | vs pygmentize | goal: no slower |",
             "|---|---:|---:|---:|---:|---|"]
    for name, median in medians.items():
        goal = "—" if not name.startswith("smtpshell") else "met" if median <= base else "not met"
        lines.append(f"| {name} | {median:.2f} s | {n_lines / median / 1000:.0f} k | "
                     f"{sizes[name] / 1e6:.1f} MB | {median / base:.2f}x | {goal} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        header = (f"Measured {datetime.date.today().isoformat()} on {machine()}.\n"
                  f"Transcript: {n_lines:,} lines ({n_bytes / 1e6:.1f} MB), {sessions:,} "
                  "sessions in telnet notation, generated (seeded) by the script.\n"
                  f"{args.runs} timed runs per row, round robin over the rows after one warm-up "
                  "round; median wall time of the whole process (start to exit), output "
                  "written to a file; ratio against pygmentize's median.\n"
                  f"Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at "
                  "the end.")
        update_section("Render (`bench/bench_render.py`)", header, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
