"""A whole scripted transaction against Postfix's submission port: smtpshell, swaks, smtplib.

Each client is a fresh process that does EHLO, STARTTLS (verifying Postfix's
certificate against the test CA), EHLO again, AUTH PLAIN, MAIL, RCPT, DATA with a
small message and QUIT, against the private Postfix started by
``.ci/mta/postfix-start`` (``/tmp/pfx/postfix.env`` or the ``SMTPSHELL_POSTFIX_*``
variables). Each run is timed from process start to exit (startup included).

    set -a; . /tmp/pfx/postfix.env; set +a
    python bench/bench_transaction.py                   # 15 runs per row
    python bench/bench_transaction.py --runs 21 --write # also update bench/RESULTS.md

Rows: ``smtpshell --send`` (the one-shot send), ``smtpshell -c`` (the same
transaction as script lines), swaks (``--tls --tls-verify --tls-ca-path``) and a
minimal ``smtplib`` script; and, to read the gap, ``python -c "import asyncio, ssl"``
(no connection: the least an asyncio client in Python pays before its first byte). Reported: the median wall time, the ratio to swaks
(below 1 is faster) and the peak RSS. Goal: smtpshell no slower than swaks.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import machine, update_section  # bench/common.py (run as python bench/bench_transaction.py)

ENV_FILE = Path("/tmp/pfx/postfix.env")

SMTPLIB_CLIENT = r"""
import os, smtplib, ssl, sys
host, port, cafile, user, domain = sys.argv[1:6]
context = ssl.create_default_context(cafile=cafile)
with smtplib.SMTP(host, int(port)) as smtp:
    smtp.ehlo("bench")
    smtp.starttls(context=context)
    smtp.ehlo("bench")
    smtp.user, smtp.password = user, os.environ["SMTPSHELL_PASSWORD"]
    smtp.auth("PLAIN", smtp.auth_plain)
    address = f"{user}@{domain}"
    smtp.sendmail(address, [address],
                  f"From: {address}\r\nTo: {address}\r\nSubject: bench\r\n\r\nhello\r\n")
"""


def postfix() -> dict[str, str]:
    """The SMTPSHELL_POSTFIX_* settings, from the environment or /tmp/pfx/postfix.env."""
    env = {k: v for k, v in os.environ.items() if k.startswith("SMTPSHELL_POSTFIX_")}
    if "SMTPSHELL_POSTFIX_SUBMISSION_PORT" not in env and ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            if m := re.match(r"(SMTPSHELL_POSTFIX_\w+)=(.*)", line):
                env[m[1]] = m[2].strip("'\"")
    missing = [k for k in ("HOST", "SUBMISSION_PORT", "CAFILE", "USER", "PASSWORD", "DOMAIN")
               if f"SMTPSHELL_POSTFIX_{k}" not in env]
    if missing:
        sys.exit("Postfix not configured: start it with .ci/mta/postfix-start and source "
                 f"its postfix.env (missing: {', '.join(missing)})")
    return {k.removeprefix("SMTPSHELL_POSTFIX_"): v for k, v in env.items()}


def clients(pf: dict[str, str]) -> dict[str, list[str]]:
    """name -> argv; the password goes in SMTPSHELL_PASSWORD (swaks takes it as an argument)."""
    host, port, ca, user = pf["HOST"], pf["SUBMISSION_PORT"], pf["CAFILE"], pf["USER"]
    address = f"{user}@{pf['DOMAIN']}"
    shell = [sys.executable, "-m", "smtpshell", host, port, "--cafile", ca, "--starttls",
             "--user", user, "--auth", "PLAIN", "--ehlo", "bench", "--color", "never",
             "--no-history"]
    out = {
        "smtpshell --send": [*shell, "--send", "--from", address, "--to", address,
                             "--subject", "bench", "--body", "hello"],
        "smtpshell -c": [*shell, "-c", f"MAIL FROM:<{address}>", "-c", f"RCPT TO:<{address}>",
                         "-c", "DATA", "-c", f"From: {address}", "-c", f"To: {address}",
                         "-c", "Subject: bench", "-c", "", "-c", "hello", "-c", ".",
                         "-c", ":expect 250", "-c", "QUIT"],
        "smtplib": [sys.executable, "-c", SMTPLIB_CLIENT, host, port, ca, user, pf["DOMAIN"]],
        # Not a client: the floor under any asyncio client in Python, for reading the gap.
        "python -c 'import asyncio, ssl'": [sys.executable, "-c", "import asyncio, ssl"],
    }
    if os.environ.get("SSL_CERT_FILE"):
        # With SSL_CERT_FILE set OpenSSL loads that whole bundle before the handshake (net/tls.py
        # honours it); without it smtpshell reads the hashed CA directory on demand. Both shown.
        out["smtpshell -c (SSL_CERT_FILE unset)"] = ["env", "-u", "SSL_CERT_FILE", *out["smtpshell -c"]]
    if shutil.which("swaks"):
        out["swaks"] = ["swaks", "--server", f"{host}:{port}", "--ehlo", "bench", "--tls",
                        "--tls-verify", "--tls-ca-path", ca, "--auth", "PLAIN",
                        "--auth-user", user, "--auth-password", pf["PASSWORD"],
                        "--from", address, "--to", address, "--h-Subject", "bench",
                        "--body", "hello"]
    return out


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds from spawn to exit, and peak RSS in KiB."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.stdout.close()
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        sys.exit(f"{argv[0]} failed (exit {code}):\n{output.decode(errors='replace')[-2000:]}")
    if argv[0] == "swaks" and b"TLS started" not in output:
        sys.exit("swaks did not start TLS:\n" + output.decode(errors="replace")[-2000:])
    return seconds, usage.ru_maxrss



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15, help="timed runs per row (after one warm-up)")
    p.add_argument("--write", action="store_true", help="update this section of bench/RESULTS.md")
    args = p.parse_args(argv)

    pf = postfix()
    env = {**os.environ, "SMTPSHELL_PASSWORD": pf["PASSWORD"], "NO_COLOR": "1"}
    cases = clients(pf)
    load_before = os.getloadavg()[0]
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in cases}
    for round_ in range(args.runs + 1):  # round robin; round 0 warms up and is not counted
        for name, client_argv in cases.items():
            run = run_once(client_argv, env)
            if round_:
                results[name].append(run)
        print(f"  round {round_}/{args.runs} done", file=sys.stderr)
    load_after = os.getloadavg()[0]

    medians = {name: statistics.median(s for s, _ in runs) for name, runs in results.items()}
    base = medians.get("swaks")
    lines = ["| client | median time | vs swaks | peak RSS | goal: no slower than swaks |",
             "|---|---:|---:|---:|---|"]
    for name, median in medians.items():
        ratio = f"{median / base:.2f}x" if base else "—"
        goal = ("—" if not name.startswith("smtpshell") or not base
                else "met" if median <= base else "not met")
        rss = max(r for _, r in results[name]) / 1024
        lines.append(f"| {name} | {median * 1000:.0f} ms | {ratio} | {rss:.0f} MB | {goal} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        header = (f"Measured {datetime.date.today().isoformat()} on {machine()}; Postfix "
                  f"{postfix_version()} on {pf['HOST']}, submission port.\n"
                  f"{args.runs} timed runs per row, round robin over the rows after one warm-up "
                  "round; median wall time of the whole client process (start to exit); ratio "
                  "against swaks's median (below 1 is faster); peak RSS of the client process.\n"
                  f"Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at "
                  "the end.")
        update_section("Transaction (`bench/bench_transaction.py`)", header, table)
    return 0


def postfix_version() -> str:
    try:
        out = subprocess.run(["/usr/sbin/postconf", "-d", "mail_version"],
                             capture_output=True, text=True).stdout
    except OSError:
        return ""
    return out.split("=")[-1].strip()


if __name__ == "__main__":
    sys.exit(main())
