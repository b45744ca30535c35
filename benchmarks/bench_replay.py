"""Time `slaspec replay agreements/harbour-b2b.sla LOG` end to end, as a user runs it.

Usage: python benchmarks/bench_replay.py [--log PATH] [--events N] [--repeat R]
                                         [--formats text,json] [--jobs N]

Without `--log`, the seeded 1,000,000-event log is written first (benchmarks/gen_log.py, in
this process) into a temporary folder; with `--log PATH` that file is used, and written first
if it does not exist. Each run is a child process writing its report to /dev/null: the default
text summary first (the issue's target), then `--format json` reported separately. For each
run the script prints the exit code, the wall time, the CPU time (user + system, including the
worker process the replay forks on a multi-core machine, and each part), the page faults and
the peak RSS, all from the child's own resource usage (`os.wait4`). The machine may be shared:
compare CPU times, and ratios measured in one run, rather than raw wall times. On this
machine a new page costs 2-3 us, and several times that on its slow stretches: a run whose
system CPU is well above its usual share (under 1 s for the 1M text summary) met one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_log import AGREEMENT, write_log

ROOT = Path(__file__).resolve().parent.parent
TARGET_WALL_SECONDS = 5.0
TARGET_PEAK_MIB = 1536


def slaspec_command() -> list[str]:
    """The `slaspec` command installed beside this Python (a virtual environment's or a Python
    version's own `bin`), else the one on PATH, else the same entry point through this Python.
    The first is the command itself: on PATH there may be a version manager's shim in front of
    it (pyenv's runs bash and `pyenv exec` first, about 0.07 s a run on this machine)."""
    beside = Path(sys.executable).parent / "slaspec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("slaspec")
    if found is not None:
        return [found]
    return [sys.executable, "-c", "from slaspec.cli import entry; entry()"]


def ensure_log(path: str, events: int) -> None:
    """Write the benchmark log at `path` unless it is already there."""
    if Path(path).exists():
        print(f"log: {path} (existing, {Path(path).stat().st_size / 1e6:.1f} MB)")
        return
    written, leads, wall, cpu = write_log(path, events, 2026, dt.date(2026, 2, 2), 365)
    print(f"log: {path}: {written:,} events, {leads:,} leads")
    print(f"     written in {wall:.1f} s ({cpu:.1f} s CPU)")


class Run(NamedTuple):
    """One replay's figures, from the child's own resource usage."""

    code: int
    wall: float  # seconds
    user: float  # CPU seconds, the forked worker's included
    system: float
    faults: int  # minor page faults (new pages, mostly)
    peak: float  # MiB
    stderr: str  # its tail


def run_replay(log: str, fmt: str, jobs: str | None) -> Run:
    """Run the replay once."""
    command = [
        *slaspec_command(),
        "replay",
        str(AGREEMENT.relative_to(ROOT)),
        log,
        "--format",
        fmt,
        "-o",
        os.devnull,
    ]
    env = dict(os.environ)
    if jobs is not None:
        env["SLASPEC_JOBS"] = jobs
    print("command:", " ".join(command), f"(SLASPEC_JOBS={jobs})" if jobs else "")
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")[-2000:]
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Run(
        child.returncode, wall, usage.ru_utime, usage.ru_stime, usage.ru_minflt, peak, stderr
    )


def main() -> None:
    """Prepare the log, run the replays and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="the log to replay (written first if missing)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--formats", default="text,json", help="comma-separated, text first")
    parser.add_argument("--jobs", choices=("1", "2"), help="force SLASPEC_JOBS for the runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = args.log or str(Path(folder) / "harbour-b2b.1m.events.csv")
        ensure_log(log, args.events)
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        for fmt in args.formats.split(","):
            for run in range(args.repeat):
                done = run_replay(log, fmt, args.jobs)
                print(
                    f"{fmt} run {run + 1}: exit {done.code}, wall {done.wall:.2f} s, "
                    f"cpu {done.user + done.system:.2f} s (user {done.user:.2f} s, system "
                    f"{done.system:.2f} s), {done.faults:,} page faults, "
                    f"peak RSS {done.peak:.0f} MiB"
                )
                if done.stderr.strip():
                    print("stderr (tail):", done.stderr.strip(), sep="\n")
                if fmt == "text":
                    verdict = (
                        "within"
                        if done.wall < TARGET_WALL_SECONDS and done.peak < TARGET_PEAK_MIB
                        else "OVER"
                    )
                    print(
                        f"target < {TARGET_WALL_SECONDS:.0f} s wall and < "
                        f"{TARGET_PEAK_MIB / 1024:.1f} GiB: {verdict}"
                    )


if __name__ == "__main__":
    main()
