"""Time to an interactive prompt: smtpshell in a pseudo-terminal, against importing prompt_toolkit.

The bench starts the practice server once (``smtpshell serve`` on a free port of
127.0.0.1), then, for each run, spawns ``smtpshell 127.0.0.1 PORT`` in a
pseudo-terminal (pexpect, 120x40, ``PROMPT_TOOLKIT_NO_CPR=1``, HOME and the XDG
directories in a temporary directory, so an empty history and no config file) and
times from the spawn until ``smtp>`` appears after the server's 220 greeting. Then
it ends the shell with Ctrl-D (not timed).

    python bench/bench_startup.py                   # 15 runs per row
    python bench/bench_startup.py --runs 21 --write # also update bench/RESULTS.md

Peers, in the same invocation and round robin:

- ``import prompt_toolkit.shortcuts``: ``python -c "import prompt_toolkit.shortcuts"``
  as a plain subprocess, timed from spawn to exit: the import-only time the goal
  refers to (``PromptSession`` lives there; ``import prompt_toolkit`` imports it too).
- ``prompt_toolkit prompt``: a three-line script that prints a line and shows
  ``PromptSession().prompt("smtp> ")``, timed in the pseudo-terminal exactly as
  smtpshell is (spawn until ``smtp>``): the least any prompt_toolkit shell pays.
- ``python -c pass``: the interpreter's own start.

Goal: smtpshell under 1.5x the import-only time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import pexpect

from common import free_port, machine, update_section, wait_listening  # bench/common.py (run as python bench/bench_startup.py)

PROMPT_ONLY = ("from prompt_toolkit import PromptSession\n"
               "print('220 ready')\n"
               "PromptSession().prompt('smtp> ')\n")





def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "smtpshell", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_listening(proc, port, "the practice server", 20)
    return proc, port


def to_prompt(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` in a pty until ``smtp>`` follows a 220."""
    started = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(40, 120), timeout=20)
    try:
        child.expect(b"220")
        child.expect(b"smtp>")
        seconds = time.perf_counter() - started
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return seconds


def to_exit(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15, help="timed runs per row (after one warm-up)")
    p.add_argument("--write", action="store_true", help="update this section of bench/RESULTS.md")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="smtpshell-bench-") as home:
        env = {**os.environ, "HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color",
               **{f"XDG_{k}_HOME": home for k in ("CONFIG", "DATA", "STATE", "CACHE")}}
        env.pop("NO_COLOR", None)
        server, port = start_server(env)
        py = sys.executable
        cases = {
            "smtpshell (to `smtp>`, pty)":
                lambda: to_prompt([py, "-m", "smtpshell", "127.0.0.1", str(port)], env),
            "import prompt_toolkit.shortcuts (to exit)":
                lambda: to_exit([py, "-c", "import prompt_toolkit.shortcuts"], env),
            "prompt_toolkit prompt (to `smtp>`, pty)":
                lambda: to_prompt([py, "-c", PROMPT_ONLY], env),
            "python -c pass (to exit)": lambda: to_exit([py, "-c", "pass"], env),
        }
        load_before = os.getloadavg()[0]
        results: dict[str, list[float]] = {name: [] for name in cases}
        try:
            for round_ in range(args.runs + 1):  # round 0 warms up and is not counted
                for name, run in cases.items():
                    seconds = run()
                    if round_:
                        results[name].append(seconds)
                print(f"  round {round_}/{args.runs} done", file=sys.stderr)
        finally:
            server.send_signal(signal.SIGINT)  # as Ctrl-C: it removes its temporary Maildir
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        load_after = os.getloadavg()[0]

    medians = {name: statistics.median(r) for name, r in results.items()}
    base = medians["import prompt_toolkit.shortcuts (to exit)"]
    lines = ["| client | median time | vs import prompt_toolkit.shortcuts | goal: under 1.5x |",
             "|---|---:|---:|---|"]
    for name, median in medians.items():
        goal = ("—" if not name.startswith("smtpshell")
                else "met" if median < 1.5 * base else "not met")
        lines.append(f"| {name} | {median * 1000:.0f} ms | {median / base:.2f}x | {goal} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        header = (f"Measured {datetime.date.today().isoformat()} on {machine()}; prompt_toolkit "
                  f"{prompt_toolkit_version()}; the practice server (`smtpshell serve`) on "
                  "127.0.0.1.\n"
                  f"{args.runs} timed runs per row, round robin over the rows after one warm-up "
                  "round; median wall time. Rows marked pty: spawned in a pseudo-terminal "
                  "(pexpect, `PROMPT_TOOLKIT_NO_CPR=1`, empty HOME) and timed until `smtp>` "
                  "appears after the 220 greeting; rows marked exit: a plain subprocess timed "
                  "from spawn to exit.\n"
                  f"Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at "
                  "the end.")
        update_section("Startup (`bench/bench_startup.py`)", header, table)
    return 0


def prompt_toolkit_version() -> str:
    from importlib.metadata import version
    return version("prompt_toolkit")


if __name__ == "__main__":
    sys.exit(main())
