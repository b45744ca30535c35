"""CPU and wall time of each stage of a replay of one log, as `slaspec replay` runs them.

Usage: python benchmarks/bench_stages.py [--log PATH] [--rows N] [--jobs 1|2] [--apart]
                                         [--profile read|prepare|fold|analysis]

Stages: start-up (imports, agreement, calendars); reading the CSV and `prepare`, streamed one
into the other as the command does (`--apart` reads the whole log into a list first, to time
the two alone; `--jobs 2` reads through `cli_parallel.read_log`, the second half in a forked
process); the fold (`Engine.replay_lead` of every lead with the summary tally); and the analysis
tallies the text summary adds (`Analyser`). The cyclic garbage collector is paused, as the
command pauses it. `--rows N` keeps the first N rows of the log (a slice for profiling).
`--profile STAGE` prints a cProfile summary of that stage. On a shared machine compare CPU
times, and ratios measured in one run; wall times move with the load.
"""

from __future__ import annotations

import time

_STARTED = time.process_time()

import argparse  # noqa: E402 - after the clock starts, so start-up includes the imports
import cProfile  # noqa: E402
import gc  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TypeVar  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_log import AGREEMENT, load_agreement  # noqa: E402

from slaspec import cli_parallel, readers  # noqa: E402
from slaspec.analysis import Analyser  # noqa: E402
from slaspec.compiler import Agreement  # noqa: E402
from slaspec.events import Event  # noqa: E402
from slaspec.replay import Engine, Prepared, prepare  # noqa: E402
from slaspec.report import Tally  # noqa: E402
from slaspec.results import LeadResult  # noqa: E402

_T = TypeVar("_T")


def timed(label: str, work: Callable[[], _T], profile: str | None) -> _T:
    """Run one stage and print its CPU and wall time (and its profile when asked)."""
    profiler = cProfile.Profile() if profile == label else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = work()
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:>14}: {cpu:6.2f} s CPU {wall:6.2f} s wall")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return result


def log_text(path: str, rows: int | None) -> str:
    """The decoded log, cut after `rows` rows when given."""
    text = readers.decode(Path(path).read_bytes(), path)
    assert isinstance(text, str), text
    if rows is None:
        return text
    cut = 0
    for _ in range(rows + 1):
        cut = text.index("\n", cut) + 1
    return text[:cut]


def items(text: str, name: str, jobs: int) -> Iterable[Event | readers.Rejected]:
    """The log's items, read as `slaspec replay` reads them with `jobs` processes."""
    return cli_parallel.read_log(text, name, "csv", readers.ReadOptions(), jobs=jobs)


def fold(engine: Engine, prepared: Prepared) -> list[LeadResult]:
    """Replay every lead and count the summary, as a chunk of the command does."""
    tally = Tally()
    results = []
    for lead, rows in prepared.leads.items():
        result = engine.replay_lead(lead, rows, prepared.as_of)
        tally.add(result)
        results.append(result)
    return results


def analyse(agreement: Agreement, as_of: int, results: list[LeadResult]) -> None:
    """The analysis tallies of the text summary (grouped by source, as by default)."""
    analyser = Analyser(agreement, as_of, ("source",))
    for result in results:
        analyser.add(result)
    analyser.finish()


def read_and_prepare(agreement: Agreement, args: argparse.Namespace) -> Prepared:
    """Read the log and prepare it, together or apart; the text is dropped on return."""
    text = log_text(args.log, args.rows)
    if not args.apart:
        stream = items(text, args.log, args.jobs)
        return timed("read + prepare", lambda: prepare(agreement, stream, None), args.profile)
    read = timed("read", lambda: list(items(text, args.log, args.jobs)), args.profile)
    return timed("prepare", lambda: prepare(agreement, read, None), args.profile)


def main() -> None:
    """Time each stage of one replay."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="/tmp/harbour-1m.events.csv")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--jobs", type=int, choices=(1, 2), default=1)
    parser.add_argument("--apart", action="store_true", help="time reading and prepare apart")
    parser.add_argument("--profile", choices=("read", "prepare", "fold", "analysis"))
    args = parser.parse_args()
    gc.disable()
    agreement = load_agreement(AGREEMENT)
    engine = Engine(agreement)
    print(f"{'start-up':>14}: {time.process_time() - _STARTED:6.2f} s CPU")
    prepared = read_and_prepare(agreement, args)
    results = timed("fold", lambda: fold(engine, prepared), args.profile)
    timed("analysis", lambda: analyse(agreement, prepared.as_of, results), args.profile)
    print(f"{len(prepared.leads):,} leads, {prepared.accounting}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if children.ru_utime:
        print(f"forked reader: {children.ru_utime + children.ru_stime:.2f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
