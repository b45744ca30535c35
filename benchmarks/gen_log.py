"""Write the seeded 1,000,000-event canonical CSV log of agreements/harbour-b2b.sla.

Usage: python benchmarks/gen_log.py PATH [--events N] [--seed S] [--start DATE] [--days D]

About 135,000 leads (7-8 events each) arrive over a year. A small pilot run measures the
events per lead, the full run generates a few more leads than needed, and the file is cut at
exactly N events (the last lead may lose its final rows). The file is not committed: the
benchmarks regenerate it, byte-identically for the same arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import time
from collections.abc import Iterator
from pathlib import Path

from slaspec import generate
from slaspec.compiler import Agreement
from slaspec.pipeline import check_agreement
from slaspec.source import Source

ROOT = Path(__file__).resolve().parent.parent
AGREEMENT = ROOT / "agreements" / "harbour-b2b.sla"
PILOT_LEADS = 2000


def read(path: str) -> Source:
    """An agreement file as a Source."""
    return Source(path, Path(path).read_text(encoding="utf-8"))


def load_agreement(path: Path = AGREEMENT) -> Agreement:
    """The compiled agreement (it must have no errors)."""
    checked = check_agreement(read(str(path)), read, dt.date(2026, 11, 30))
    if checked.agreement is None:
        raise SystemExit(f"{path} has errors; run `slaspec lint {path}`")
    return checked.agreement


def write_log(
    path: str, events: int, seed: int, start: dt.date, days: int
) -> tuple[int, int, float, float]:
    """Write the log; the events and leads written, wall and CPU seconds."""
    agreement = load_agreement()
    wall, cpu = time.perf_counter(), time.process_time()
    pilot = sum(1 for _ in generate.generate(agreement, PILOT_LEADS, seed, start, days))
    leads = math.ceil(events / (pilot / PILOT_LEADS) * 1.03)
    rows = itertools.islice(generate.generate(agreement, leads, seed, start, days), events)
    tally = {"rows": 0, "leads": 0}

    def counted(rows: Iterator[generate.Row]) -> Iterator[generate.Row]:
        last = ""
        for row in rows:
            tally["rows"] += 1
            if row[0] != last:  # rows come lead by lead
                tally["leads"] += 1
                last = row[0]
            yield row

    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(generate.csv_lines(counted(rows), generate.columns(agreement)))
    return tally["rows"], tally["leads"], time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    """Write the log to the path on the command line and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="where to write the CSV")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start", default="2026-02-02", help="first day (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    start = dt.date.fromisoformat(args.start)
    events, leads, wall, cpu = write_log(args.path, args.events, args.seed, start, args.days)
    size = Path(args.path).stat().st_size
    print(
        f"wrote {args.path}: {events:,} events, {leads:,} leads, {size / 1e6:.1f} MB "
        f"in {wall:.1f} s wall, {cpu:.1f} s CPU"
    )


if __name__ == "__main__":
    main()
