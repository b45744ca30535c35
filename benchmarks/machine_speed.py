"""How fast this machine is right now, for reading a benchmark run taken beside it.

Usage: python benchmarks/machine_speed.py [--mib N] [--repeat R]

Prints, for each repeat, the cost of a new page (one byte written into each page of a fresh
anonymous mapping of N MiB, in microseconds a page) and the CPU time of a pure-Python
loop (two million multiplications). The shared machine has stretches where a new page costs
several times its usual 2-3 us and where the same Python code takes more CPU; the 1M replay's
slowest runs fall on them (docs/performance.md, fifteenth round). Taken just before a run, the
figures tell a slow moment from a slow build only loosely: the slow moments are often shorter
than a run.
"""

from __future__ import annotations

import argparse
import mmap
import time

PAGE = mmap.PAGESIZE  # 4 KiB here


def new_page_us(mib: int) -> float:
    """Microseconds per page to touch `mib` MiB of fresh anonymous memory."""
    size = mib << 20
    mapping = mmap.mmap(-1, size)
    try:
        start = time.perf_counter()
        for offset in range(0, size, PAGE):
            mapping[offset] = 1
        return (time.perf_counter() - start) / (size // PAGE) * 1e6
    finally:
        mapping.close()


def loop_seconds() -> float:
    """CPU seconds of a fixed pure-Python loop."""
    start = time.process_time()
    sum(i * i for i in range(2_000_000))
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=128, help="fresh memory to touch (MiB)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.mib < 1 or args.repeat < 1:
        parser.error("--mib and --repeat must be at least 1")
    for _ in range(args.repeat):
        print(f"new page {new_page_us(args.mib):.2f} us, Python loop {loop_seconds():.3f} s CPU")


if __name__ == "__main__":
    main()
