"""Time `slaspec.analysis.analyse` against the replay it analyses, in one process.

Usage: python benchmarks/bench_analysis.py [--log PATH] [--events N] [--repeat R]

Without `--log`, the seeded log of `agreements/harbour-b2b.sla` with N events (default 100,000;
benchmarks/gen_log.py) is written into a temporary folder first; with `--log PATH` that file is
used, and written first if it does not exist. The log is read once; then the replay and the
analysis (grouped by `source`, revenue from `amount`) each run R times and the best wall and
CPU times are printed with their ratio. Issue 4 allows the analysis at most 25% of the replay
time on the 1,000,000-event log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_log import load_agreement, write_log

from slaspec import readers
from slaspec.analysis import analyse
from slaspec.replay import replay

TARGET_RATIO = 0.25
T = TypeVar("T")


def timed(repeat: int, run: Callable[[], T]) -> tuple[T, float, float]:
    """The last result, and the best wall and CPU seconds of `repeat` runs (at least one)."""
    times: list[tuple[float, float]] = []
    while True:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
        if len(times) >= repeat:
            return result, min(w for w, _ in times), min(c for _, c in times)


def measure(log: str, repeat: int) -> None:
    agreement = load_agreement()
    start = time.perf_counter()
    text = Path(log).read_text(encoding="utf-8")
    items = list(readers.read_log(text, Path(log).name, "csv", readers.ReadOptions()))
    print(f"read: {len(items):,} rows in {time.perf_counter() - start:.2f} s")
    result, replay_wall, replay_cpu = timed(repeat, lambda: replay(agreement, items))
    print(f"replay:  {replay_wall:.3f} s wall, {replay_cpu:.3f} s CPU, {len(result.leads):,} leads")
    _, wall, cpu = timed(
        repeat, lambda: analyse(agreement, result, group_by=("source",), money_field="amount")
    )
    print(f"analyse: {wall:.3f} s wall, {cpu:.3f} s CPU")
    ratio = cpu / replay_cpu
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"analyse / replay (CPU): {ratio:.1%}, {verdict} the {TARGET_RATIO:.0%} budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", help="the canonical CSV log to use (written if missing)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = args.log or str(Path(folder) / "harbour.events.csv")
        if not Path(log).exists():
            written, leads, wall, _ = write_log(log, args.events, 2026, dt.date(2026, 2, 2), 365)
            print(f"log: {log}: {written:,} events, {leads:,} leads, written in {wall:.1f} s")
        measure(log, args.repeat)


if __name__ == "__main__":
    main()
