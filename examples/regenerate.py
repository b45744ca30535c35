"""Regenerate the example event logs in this folder, byte for byte.

Usage: python examples/regenerate.py [--check]

Each log is `slaspec.generate` run on one agreement of agreements/ with the arguments in
EXAMPLES; the same arguments always give the same bytes. With `--check` nothing is written:
the script exits 1 if a committed file differs from what it would write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

from slaspec.generate import generate_csv_text
from slaspec.pipeline import check_agreement
from slaspec.source import Source

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True, slots=True)
class Example:
    """One example log and the generator arguments that make it."""

    agreement: str
    leads: int
    seed: int
    start: dt.date
    days: int

    @property
    def output(self) -> str:
        """The log's file name in examples/."""
        return f"{Path(self.agreement).stem}.events.csv"

    @property
    def command(self) -> str:
        """The equivalent `slaspec generate` command, run from the repository root."""
        return (
            f"slaspec generate {self.agreement} --leads {self.leads} --seed {self.seed} "
            f"--start {self.start.isoformat()} --days {self.days} -o examples/{self.output}"
        )


EXAMPLES = (
    Example("agreements/harbour-b2b.sla", 3000, 9, dt.date(2026, 2, 2), 180),
    Example("agreements/saas-waterfall.sla", 4000, 12, dt.date(2026, 1, 5), 180),
    Example("agreements/solo-consultant.sla", 500, 12, dt.date(2026, 3, 2), 180),
)


def _read(path: str) -> Source:
    return Source(path, (ROOT / path).read_text(encoding="utf-8"))


def render(example: Example) -> str:
    """The example's log as CSV text."""
    checked = check_agreement(_read(example.agreement), _read, dt.date(2026, 11, 30))
    if checked.agreement is None:
        raise SystemExit(f"{example.agreement} has errors; run `slaspec lint` on it")
    return generate_csv_text(
        checked.agreement, example.leads, example.seed, example.start, example.days
    )


def main() -> int:
    """Write (or, with --check, compare) every example log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    status = 0
    for example in EXAMPLES:
        data = render(example).encode("utf-8")
        target = HERE / example.output
        if args.check:
            same = target.exists() and target.read_bytes() == data
            print(f"{'ok     ' if same else 'DIFFERS'} {target.relative_to(ROOT)}")
            status = max(status, 0 if same else 1)
        else:
            target.write_bytes(data)
            print(f"wrote {target.relative_to(ROOT)} ({len(data) / 1e6:.2f} MB): {example.command}")
    return status


if __name__ == "__main__":
    sys.exit(main())
