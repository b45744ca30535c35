"""Time `slaspec replay agreements/harbour-b2b.sla LOG --format json -o /dev/null` end to end.

Usage: python benchmarks/bench_replay.py [--log PATH] [--events N] [--repeat R]

Without `--log`, the seeded 1,000,000-event log is written first (benchmarks/gen_log.py, in
this process) into a temporary folder; with `--log PATH` that file is used, and written first
if it does not exist. The replay runs as a child process, exactly as a user would run it; the
script prints its exit code, wall time and the child's peak RSS (getrusage RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_log import AGREEMENT, write_log

ROOT = Path(__file__).resolve().parent.parent


def slaspec_command() -> list[str]:
    """The installed `slaspec` command, or the same entry point through this Python."""
    found = shutil.which("slaspec")
    if found is not None:
        return [found]
    return [sys.executable, "-c", "from slaspec.cli import entry; entry()"]


def children_peak_rss_mib() -> float:
    """Peak RSS of the largest waited-for child process, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def ensure_log(path: str, events: int) -> None:
    """Write the benchmark log at `path` unless it is already there."""
    if Path(path).exists():
        print(f"log: {path} (existing, {Path(path).stat().st_size / 1e6:.1f} MB)")
        return
    written, leads, wall, cpu = write_log(path, events, 2026, dt.date(2026, 2, 2), 365)
    print(f"log: {path}: {written:,} events, {leads:,} leads")
    print(f"     written in {wall:.1f} s ({cpu:.1f} s CPU)")


def run_replay(log: str) -> tuple[int, float, str]:
    """Run the replay command once; its exit code, wall seconds and the tail of its stderr."""
    command = [
        *slaspec_command(),
        "replay",
        str(AGREEMENT.relative_to(ROOT)),
        log,
        "--format",
        "json",
        "-o",
        os.devnull,
    ]
    print("command:", " ".join(command))
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return done.returncode, time.perf_counter() - start, done.stderr[-2000:]


def main() -> None:
    """Prepare the log, run the replay and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="the log to replay (written first if missing)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = args.log or str(Path(folder) / "harbour-b2b.1m.events.csv")
        ensure_log(log, args.events)
        for run in range(args.repeat):
            code, wall, stderr = run_replay(log)
            print(f"replay {run + 1}: exit {code}, wall {wall:.1f} s")
            if stderr.strip():
                print("stderr (tail):", stderr.strip(), sep="\n")
        print(f"peak RSS of the replay: {children_peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
