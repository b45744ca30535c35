"""Instructions per lead of the fold, counted by valgrind: a measure the machine's load cannot move.

Usage: python benchmarks/bench_instructions.py [--log PATH] [--rows N] [--python PYTHON]

Wall and CPU times on this machine swing by half from one minute to the next, so two builds
compared by time need many alternating runs. Callgrind counts the instructions each function
executes, the same on a quiet minute and a busy one. This runs `bench_fold.py` under callgrind,
counting only inside `Engine.replay_lead` (the compiled fold), once with one pass over the leads
and once with two: the difference is one steady-state pass, without the first pass's one-time
work (the calendars' tables for the years the log covers). It prints instructions per lead and
per row, and the results digest (equal digests: equal results).

Needs valgrind (`apt-get install valgrind`). On a 30,000-row slice each of the two runs takes
about a minute and a half.
Counts compare builds of the same Python on the same machine; they are not a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLD = "CPyPy_replay___Engine___replay_lead"  # the compiled fold's entry point (mypyc's name)


def counted(python: str, log: str, rows: int, passes: int, scratch: Path) -> tuple[int, str]:
    """Instructions executed inside the fold, and bench_fold's summary line."""
    out = scratch / f"callgrind.{passes}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        f"--toggle-collect={FOLD}",
        python,
        str(HERE / "bench_fold.py"),
        "--log",
        log,
        "--rows",
        str(rows),
        "--passes",
        str(passes),
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if totals is None:
        raise SystemExit(f"no totals in {out}: is the fold compiled? ({FOLD} never ran)")
    summary = next(line for line in run.stdout.splitlines() if "leads, best of" in line)
    return int(totals.group(1)), summary


def main() -> None:
    """Print the steady-state instructions of one pass of the fold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="/tmp/harbour-1m.events.csv")
    parser.add_argument("--rows", type=int, default=30_000)
    # The interpreter itself, not a wrapper script (pyenv's shim would be what valgrind runs).
    parser.add_argument("--python", default=os.path.realpath(sys.executable))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        one, summary = counted(args.python, args.log, args.rows, 1, Path(scratch))
        two, _ = counted(args.python, args.log, args.rows, 2, Path(scratch))
    leads = int(summary.split(" leads")[0].replace(",", ""))
    digest = summary.rsplit(" ", 1)[-1]
    steady = two - one
    print(
        f"{leads:,} leads ({args.rows:,} rows): {steady:,} instructions a pass, "
        f"{steady / leads:,.0f} a lead, {steady / args.rows:,.0f} a row; "
        f"first pass {one:,}; results sha256 {digest}"
    )


if __name__ == "__main__":
    main()
