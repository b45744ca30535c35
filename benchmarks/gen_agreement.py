"""Write a large, valid agreement (1,000 stages, 5,000 handoffs) for the lint benchmark.

Usage: python benchmarks/gen_agreement.py PATH [--stages N] [--handoffs M] [--seed S]

The agreement lints clean: one initial stage, every stage reachable and able to reach a
terminal stage, every stage owned, every team, field, activity and calendar used, and a few
clocks with tiered goals on a business calendar. The same arguments write the same bytes.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

TEAMS = 10
ACTIVITIES = ("call", "email", "meeting")
REGIONS = ("apac", "emea", "amer")


def agreement_text(stages: int, handoffs: int, seed: int) -> str:
    """The agreement's source text."""
    if stages < 3:
        raise ValueError("need at least 3 stages (one initial, two terminal)")
    rng = random.Random(seed)
    working = stages - 2  # s0000 .. plus the terminal stages `won` and `lost`
    names = [f"s{i:04d}" for i in range(working)]
    lines = [
        'agreement "Benchmark agreement":',
        '    version "1"',
        "    effective 2026-01-05",
        '    party marketing "Marketing" signed by "A. Marketer" as "Head of Marketing"',
        '    party sales "Sales" signed by "B. Seller" as "Head of Sales"',
        "    calendar office",
        "",
        "fields:",
        '    score: number "lead score, 0-100"',
        f"    region: enum [{', '.join(REGIONS)}]",
        '    amount: money AUD "deal value"',
        "",
        f"activities {', '.join(ACTIVITIES)}",
        "",
    ]
    for team in range(TEAMS):
        lines += [
            f'team team{team:02d} "Team {team}":',
            f'    members "rep{team:02d}@example.com"',
            "",
        ]
    lines += [
        'calendar office "Office hours":',
        '    timezone "Australia/Sydney"',
        "    open monday to friday 09:00-12:00, 13:00-17:30",
        "    public holidays AU-NSW",
        '    closed 2026-12-24 to 2027-01-01 "Shutdown"',
        "",
    ]
    for index, name in enumerate(names):
        lines += [f"stage {name}:", f"    owner team{index % TEAMS:02d}"]
        if index == 0:
            lines.append("    initial")
        if index % 50 == 25:
            lines.append("    max dwell 10 business days")
        lines.append("")
    lines += ["stage won:", "    owner team00", "    terminal", ""]
    lines += ["stage lost:", "    owner team00", "    terminal", ""]

    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(source: str, target: str) -> None:
        if source != target and (source, target) not in seen:
            seen.add((source, target))
            edges.append((source, target))

    # A spine makes every stage reachable and every stage able to finish.
    for index, name in enumerate(names):
        add(name, names[index + 1] if index + 1 < working else "won")
        add(name, "lost")
    while len(edges) < handoffs:
        add(names[rng.randrange(working)], names[rng.randrange(working)])
    for number, (source, target) in enumerate(edges[:handoffs]):
        head = f"handoff {source} -> {target}"
        if target == "won":
            lines += [f"{head}:", "    requires amount", "    criteria amount > 0", ""]
            continue
        match number % 7:
            case 1:
                lines += [f"{head}:", f"    criteria score >= {number % 90}", ""]
            case 2:
                region = REGIONS[number % len(REGIONS)]
                lines += [f"{head}:", f"    criteria region in [{region}] or score > 50", ""]
            case 4:
                activity = ACTIVITIES[number % len(ACTIVITIES)]
                lines += [
                    f"{head}:",
                    f"    criteria at least 1 {activity} by owner since entering {source}",
                    "",
                ]
            case _:
                lines += [head, ""]
    for clock in range(5):
        entered = names[(clock * 97 + 10) % working]
        answering = f"team{(clock * 3) % TEAMS:02d}"
        lines += [
            f'clock response{clock} "Response {clock}":',
            f"    starts when lead enters {entered}",
            f"    stops when activity call, email by {answering}",
            "    cancels when lead enters lost",
            "    goal 1 business hour if score >= 80",
            "    goal 4 business hours if region = apac",
            "    goal 1 business day",
            "    warn at 75%",
            f"    responsible {answering}",
            "",
        ]
    lines += [
        'cadence follow_up "Follow-up calls":',
        f"    starts when lead enters {names[1]}",
        f"    requires at least 3 call, meeting by team{1 % TEAMS:02d} within 5 business days",
        f"    exits when lead leaves {names[1]}",
        "",
        'target volume "Leads into the second stage":',
        f"    each month at least 100 leads enter {names[1]}",
        "    responsible team01",
        "",
        'target response_attainment "Response on time":',
        "    each month at least 90% of response0 cycles met",
        "    responsible team00",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Write the agreement to the path on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="where to write the .sla file")
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--handoffs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    text = agreement_text(args.stages, args.handoffs, args.seed)
    Path(args.path).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
