"""The fold alone: `Engine.replay_lead` of every lead of a slice of the 1M log, per lead.

Usage: python benchmarks/bench_fold.py [--log PATH] [--rows N] [--passes P] [--interpreted]

Reads and prepares the log's first N rows (300,000 by default), then replays every lead P times
(3) and prints the best pass's CPU time, per lead, and a digest of the `repr` of every result.
`--interpreted` imports the modules that the install compiled with mypyc from their sources
(slaspec.native.prefer_sources), so the two can be compared one run after the other; the
digests must be equal. The cyclic garbage collector is paused, as the command pauses it.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    """Time the fold of every lead of a slice of the log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="/tmp/harbour-1m.events.csv")
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--interpreted", action="store_true")
    parser.add_argument(
        "--all-attributes",
        action="store_true",
        help="results show every attribute (by default, those `slaspec replay` shows: the ones "
        "its analysis reads)",
    )
    args = parser.parse_args()
    from slaspec import native

    if args.interpreted:
        native.prefer_sources()
    from bench_stages import items, log_text
    from gen_log import AGREEMENT, load_agreement

    from slaspec.replay import Engine, prepare

    gc.disable()
    agreement = load_agreement(AGREEMENT)
    prepared = prepare(agreement, items(log_text(args.log, args.rows), "log.csv", 1), None)
    shown = None
    if not args.all_attributes:
        from slaspec import cli

        defaults = argparse.Namespace(group_by=None, money_field=None, won_stage=None)
        shown = cli._analyser(defaults, agreement, prepared.as_of).attributes_read()
    engine = Engine(agreement, shown)
    leads = list(prepared.leads.items())
    best = float("inf")
    results = []
    for _ in range(args.passes):
        started = time.process_time()
        results = [engine.replay_lead(lead, rows, prepared.as_of) for lead, rows in leads]
        best = min(best, time.process_time() - started)
    digest = hashlib.sha256()
    for result in results:
        digest.update(repr(result).encode())
    compiled = ", ".join(native.compiled()) or "none"
    print(
        f"{len(leads):,} leads, best of {args.passes}: {best:.3f} s CPU, "
        f"{best / len(leads) * 1e6:.1f} us a lead; compiled: {compiled}; "
        f"results sha256 {digest.hexdigest()[:16]}"
    )


if __name__ == "__main__":
    main()
