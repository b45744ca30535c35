"""Time `slaspec lint` of a generated 1,000-stage, 5,000-handoff agreement, in-process.

Usage: python benchmarks/bench_lint.py [--stages N] [--handoffs M] [--repeat R] [--profile]

Writes the agreement (benchmarks/gen_agreement.py) into a temporary folder, then runs
`slaspec.cli.main(["lint", path])` and prints the wall time, the CPU time and the peak RSS of
this process. The first run is cold (grammar, holiday tables and caches are built inside it);
`--repeat` adds warm runs. `--profile` runs once more under cProfile and prints the functions
that take the most time. The target is under 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_agreement import agreement_text

from slaspec.cli import main as slaspec_main

TARGET_SECONDS = 2.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def lint_once(path: str) -> tuple[int, float, float]:
    """Run the lint; its exit code, wall seconds and CPU seconds."""
    quiet = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(quiet):
        code = slaspec_main(["lint", path])
    return code, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--handoffs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="warm runs after the cold one")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "benchmark.sla")
        Path(path).write_text(agreement_text(args.stages, args.handoffs, 1), encoding="utf-8")
        print(f"agreement: {args.stages} stages, {args.handoffs} handoffs -> {path}")
        code, wall, cpu = lint_once(path)
        print(f"cold lint: exit {code}, wall {wall:.3f} s, cpu {cpu:.3f} s")
        if code != 0:
            print("slaspec lint reported findings or failed; run it by hand to see them")
        for run in range(args.repeat):
            code, wall, cpu = lint_once(path)
            print(f"warm lint {run + 1}: exit {code}, wall {wall:.3f} s, cpu {cpu:.3f} s")
        print(f"peak RSS: {peak_rss_mib():.1f} MiB")
        verdict = "within" if wall < TARGET_SECONDS else "OVER"
        print(f"target < {TARGET_SECONDS:.0f} s: {verdict} (last run)")
        if args.profile:
            profiler = cProfile.Profile()
            with contextlib.redirect_stdout(io.StringIO()):
                profiler.runcall(slaspec_main, ["lint", path])
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
