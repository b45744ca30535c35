"""Exactness harness for replay speed work: save every output of many replays, compare later.

Usage: python benchmarks/exactness.py save DIR           # record the outputs of this code
       python benchmarks/exactness.py compare DIR        # record again and diff byte for byte
       python benchmarks/exactness.py big LOG            # sha256 of the outputs of a big log
                                                         # (its items also read in two processes)

Each case is an agreement, a log and read options; for each the script writes the `repr` of
every item the reader yields, of the prepared input (rows of every lead, as-of, accounting,
rejections), of every `LeadResult`, the `explain` timelines of sampled leads, and the JSON,
CSV and text reports (`build_report` + `render`). The cases: the three example logs (at their
own as-of and at an early one), and harsh generated logs for the three agreements and
tests/data/replay/base.sla: shuffled rows, duplicates (also a rejected or different row that
repeats a kept id), junk rows, quoted cells, timestamps written with other offsets and shapes,
breaches, stalls and pauses, plus offset-less copies read with a log time zone under each DST
policy, and a JSON Lines copy. A speed change is exact when `compare` reports no difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from slaspec import cli_parallel, generate, readers
from slaspec.compiler import Agreement
from slaspec.pipeline import check_agreement
from slaspec.render import render_csv, render_json, render_text
from slaspec.replay import Engine, TraceEntry, prepare, replay_prepared
from slaspec.report import build_report
from slaspec.source import Source

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 30)
AGREEMENTS = {
    "harbour-b2b": ROOT / "agreements" / "harbour-b2b.sla",
    "saas-waterfall": ROOT / "agreements" / "saas-waterfall.sla",
    "solo-consultant": ROOT / "agreements" / "solo-consultant.sla",
    "base": ROOT / "tests" / "data" / "replay" / "base.sla",
}
HARSH = generate.Profile(
    breach=0.4,
    stall=0.4,
    unmet=0.3,
    shortfall=0.4,
    skip=0.15,
    bad_entry=0.1,
    reopen=0.1,
    duplicate=0.1,
    team_cell=0.4,
    alias=0.5,
)
US = 1_000_000
PLAIN = readers.ReadOptions()


@dataclass(frozen=True)
class Case:
    """One replay to record."""

    name: str
    agreement: str
    text: str
    fmt: readers.LogFormat = "csv"
    options: readers.ReadOptions = PLAIN
    as_of: int | None = None


def load(path: Path) -> Agreement:
    """A compiled agreement."""

    def read(name: str) -> Source:
        return Source(name, Path(name).read_text(encoding="utf-8"))

    checked = check_agreement(read(str(path)), read, TODAY)
    assert checked.agreement is not None, path
    return checked.agreement


def _instant(text: str) -> int:
    moment = dt.datetime.fromisoformat(text)
    return int(moment.timestamp()) * US + moment.microsecond


def _reshape(rng: random.Random, stamp: str) -> str:
    """The same instant written in another accepted shape (or, rarely, a broken one)."""
    moment = dt.datetime.fromisoformat(stamp)
    pick = rng.random()
    if pick < 0.55:
        return stamp
    if pick < 0.65:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if pick < 0.72:
        return moment.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()
    if pick < 0.78:
        return stamp[:-3] + stamp[-2:]  # +HHMM
    if pick < 0.82:
        return stamp.replace("T", " ")
    if pick < 0.86:
        return stamp[:19] + f".{rng.randrange(1_000_000):06d}" + stamp[19:]
    if pick < 0.88:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dt%H:%M:%Sz")
    if pick < 0.90:
        return stamp[:16] + stamp[19:]  # no seconds
    if pick < 0.92:
        return " " + stamp + " "
    if pick < 0.93:
        return moment.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()[:-3]  # -05
    if pick < 0.94:
        return stamp[:10]  # a date only: rejected
    if pick < 0.95:
        return stamp.replace("-", "/", 2)  # rejected
    if pick < 0.96:
        return stamp[:11] + "25" + stamp[13:]  # hour 25: rejected
    return stamp


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def harsh_csv(agreement: Agreement, seed: int, leads: int, start: dt.date, days: int) -> str:
    """A generated log made hostile: shuffled, reshaped, duplicated, junk rows, quoted cells."""
    rng = random.Random(seed)
    header = list(generate.columns(agreement))
    column = {name: i for i, name in enumerate(header)}
    rows = [
        list(cells)
        for cells in generate.generate(agreement, leads, seed, start, days, profile=HARSH)
    ]
    out: list[list[str]] = []
    for cells in rows:
        cells[column["timestamp"]] = _reshape(rng, cells[column["timestamp"]])
        out.append(cells)
        roll = rng.random()
        if roll < 0.04:
            out.append(list(cells))  # an exact duplicate
        elif roll < 0.06:
            twin = list(cells)
            twin[column["type"]] = "stagee"  # rejected, yet carries a kept id
            out.append(twin)
        elif roll < 0.07:
            twin = list(cells)
            twin[column["actor"]] = "someone.else@example.com"  # same id, different row
            out.append(twin)
    junk = [
        ["", "2026-03-02T09:00:00+11:00", "stage", "inquiry"],
        ["J-1", "2026-03-02T09:00:00+11:00", "stage", "nowhere"],
        ["J-1", "2026-03-02T09:00:00+11:00", "update", "x"],
        ["J-2", "2026-03-02T09:00:00+11:00", "activity", ""],
        ["J-3", "yesterday", "stage", "inquiry"],
        ["J-3", "1700000000", "stage", "inquiry"],
        ["J-4", "2026-03-02T09:00:00+11:00", "Stage", "inquiry"],
        ["J-5", "2026-02-30T09:00:00+11:00", "stage", "inquiry"],
        ["J-5", "2026-03-02T09:00:00+19:00", "stage", "inquiry"],
        ["J-6", "2026-03-02T09:00:00", "stage", "inquiry"],
        [" J-7 ", " 2026-03-02T09:00:00+11:00 ", " stage ", " inquiry ", " a ", " b "],
    ]
    for cells in junk:
        out.append(cells + [""] * (len(header) - len(cells)))
    for name in agreement.fields:
        # A cell that does not fit its field rejects the row (SLA911), for every field kind.
        cells = ["J-8", "2026-03-03T10:00:00+11:00", "update"] + [""] * (len(header) - 3)
        cells[column[name]] = "$1,000 & 1e3"
        out.append(cells)
    rng.shuffle(out)
    lines = [",".join(header) + "\n"]
    for cells in out:
        pick = rng.random()
        if pick < 0.05:
            text = ",".join(_quote(cell) for cell in cells)
        elif pick < 0.06 and column.get("email") is not None:
            quoted = list(cells)
            quoted[column["email"]] = _quote("Smith, Ann\n<ann@example.com>")
            text = ",".join(quoted)
        else:
            text = ",".join(cells)
        lines.append(text + ("\r\n" if pick > 0.97 else "\n"))
    lines.insert(len(lines) // 2, "\n")  # a blank line
    lines.insert(len(lines) // 3, "J-9,2026-03-02T09:00:00+11:00,stage\n")  # ragged
    lines.insert(len(lines) // 4, ",".join(header) + "\n")  # the header again
    lines.insert(len(lines) // 5, 'J-10,"2026-03-02T09:00:00+11:00,stage,inquiry\n')  # bad quote
    return "".join(lines)


def naive_csv(text: str, zone: str) -> str:
    """The log with every valid offset timestamp rewritten as wall time in `zone`, no offset."""
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    at = header.index("timestamp")
    out = [lines[0]]
    tz = ZoneInfo(zone)
    for number, line in enumerate(lines[1:]):
        cells = line.rstrip("\r\n").split(",")
        if '"' not in line and len(cells) == len(header):
            try:
                moment = dt.datetime.fromisoformat(cells[at].strip())
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                local = moment.astimezone(tz).replace(tzinfo=None)
                stamp = local.isoformat()
                if number % 3 == 0 and local.minute == 0 and local.second == 0:
                    stamp = local.strftime("%Y-%m-%dT%H:%M")
                cells[at] = stamp
                line = ",".join(cells) + "\n"
        out.append(line)
    # Wall times that fall in Sydney's DST gap (4 Oct 2026) and fold (5 Apr 2026).
    blank = [""] * (len(header) - 4)
    for lead, stamp in (("D-1", "2026-10-04T02:30:00"), ("D-2", "2026-04-05T02:30:00")):
        out.append(",".join([lead, stamp, "stage", "inquiry", *blank]) + "\n")
        out.append(",".join([lead, stamp[:11] + "03:45:00", "update", "", *blank]) + "\n")
    return "".join(out)


def jsonl(text: str) -> str:
    """A CSV log (no quoted cells) as JSON Lines, attributes flat or nested, some nulls."""
    lines = text.splitlines()
    header = lines[0].split(",")
    out = []
    for number, line in enumerate(lines[1:]):
        cells = line.split(",")
        if '"' in line or len(cells) != len(header):
            continue
        row: dict[str, object] = {}
        attributes: dict[str, object] = {}
        for name, cell in zip(header, cells, strict=True):
            if name in readers.RESERVED_COLUMNS:
                if cell:
                    row[name] = cell
            elif cell:
                (attributes if number % 2 else row)[name] = cell
            elif number % 11 == 0:
                row[name] = None
        if attributes:
            row["attributes"] = attributes
        out.append(json.dumps(row))
    return "\n".join(out) + "\n"


def cases() -> Iterator[Case]:
    """Every case, examples first."""
    for name in ("harbour-b2b", "saas-waterfall", "solo-consultant"):
        text = (ROOT / "examples" / f"{name}.events.csv").read_text(encoding="utf-8")
        yield Case(f"example-{name}", name, text)
        stamps = sorted(_instant(line.split(",")[1]) for line in text.splitlines()[1:])
        early = stamps[len(stamps) // 3]
        yield Case(f"example-{name}-early", name, text, as_of=early)
    starts = {
        "harbour-b2b": dt.date(2026, 2, 2),
        "saas-waterfall": dt.date(2026, 1, 5),
        "solo-consultant": dt.date(2026, 3, 2),
        "base": dt.date(2026, 3, 2),
    }
    for seed, (name, start) in enumerate(starts.items(), start=3):
        agreement = load(AGREEMENTS[name])
        text = harsh_csv(agreement, seed, 500, start, 60)
        yield Case(f"harsh-{name}", name, text)
        middle = _instant(f"{start + dt.timedelta(days=30)}T12:00:00+11:00")
        yield Case(f"harsh-{name}-early", name, text, as_of=middle)
        # Around both of Sydney's 2026 clock changes, read as local wall time.
        dst = harsh_csv(agreement, seed + 10, 300, dt.date(2026, 3, 20), 200)
        for policy in ("reject", "earlier", "later"):
            yield Case(
                f"naive-{name}-{policy}",
                name,
                naive_csv(dst, "Australia/Sydney"),
                options=readers.ReadOptions("Australia/Sydney", policy),
            )
        yield Case(f"jsonl-{name}", name, jsonl(text), fmt="jsonl")
        yield Case(f"offsets-{name}", name, dst)


def check_split_read(case: Case) -> None:
    """Raise unless reading in two processes gives the items and counts of one process.

    Quotes and carriage returns stop a split, so they are taken out of the text first (both
    reads see the same text, which is all the comparison needs).
    """
    text = case.text.replace('"', "").replace("\r", "")
    one, two = readers.ReadCounter(), readers.ReadCounter()
    serial = list(readers.read_log(text, "log.csv", "csv", case.options, 3, one))
    limit = cli_parallel.PARALLEL_MIN_CHARS
    cli_parallel.PARALLEL_MIN_CHARS = 0
    try:
        assert cli_parallel._split(text) is not None, case.name
        split = list(cli_parallel.read_log(text, "log.csv", "csv", case.options, 3, two, 2))
    finally:
        cli_parallel.PARALLEL_MIN_CHARS = limit
    if repr(split) != repr(serial) or one.freeze() != two.freeze():
        raise AssertionError(f"{case.name}: the split read differs")


def record(case: Case, agreement: Agreement, engine: Engine) -> dict[str, str]:
    """Every output of one case, by file name."""
    counter = readers.ReadCounter()
    items = list(readers.read_log(case.text, "log." + case.fmt, case.fmt, case.options, 0, counter))
    prepared = prepare(agreement, items, case.as_of)
    result = replay_prepared(engine, prepared)
    files = {
        "read.txt": "\n".join(repr(item) for item in items) + f"\n{counter.freeze()!r}\n",
        "prepared.txt": "\n".join(
            [
                repr((prepared.as_of, prepared.accounting)),
                *(repr(d) for d in prepared.rejections),
                *(f"{lead}: {rows!r}" for lead, rows in prepared.leads.items()),
            ]
        )
        + "\n",
        "leads.txt": "\n".join(repr(lead) for lead in result.leads) + "\n",
    }
    timelines = []
    for number, lead in enumerate(prepared.leads):
        if number % 7 == 0:
            trace: list[TraceEntry] = []
            engine.replay_lead(lead, prepared.leads[lead], prepared.as_of, trace)
            timelines.append(f"{lead}: {trace!r}")
    files["timelines.txt"] = "\n".join(timelines) + "\n"
    report = build_report(agreement, result, [], "0", "0", counter.dst_resolved)
    files["report.json"] = render_json(report)
    files["report.csv"] = render_csv(report)
    files["report.txt"] = render_text(report)
    return files


def record_all(folder: Path) -> None:
    """Write every case's outputs under folder/CASE/."""
    engines: dict[str, tuple[Agreement, Engine]] = {}
    for case in cases():
        if case.agreement not in engines:
            agreement = load(AGREEMENTS[case.agreement])
            engines[case.agreement] = (agreement, Engine(agreement))
        agreement, engine = engines[case.agreement]
        target = folder / case.name
        target.mkdir(parents=True, exist_ok=True)
        (target / "log.txt").write_text(case.text, encoding="utf-8")
        for name, text in record(case, agreement, engine).items():
            (target / name).write_text(text, encoding="utf-8")
        if case.fmt == "csv":
            check_split_read(case)
        print(f"{case.name}: recorded", file=sys.stderr)


def _normal(data: bytes) -> bytes:
    """The bytes without what other work changes while a baseline is in use: the `version`
    field `results` records gained (None in every replay here) and the report schema's
    version number."""
    data = data.replace(b", version=None", b"")
    return re.sub(rb'(schema_version": "|report schema )[0-9.]+', rb"\1", data)


def compare(saved: Path, fresh: Path) -> int:
    """Print each file that differs; the number of differences."""
    differences = 0
    for old in sorted(saved.rglob("*")):
        if old.is_dir():
            continue
        new = fresh / old.relative_to(saved)
        if not new.exists() or _normal(new.read_bytes()) != _normal(old.read_bytes()):
            differences += 1
            print(f"DIFFERS: {old.relative_to(saved)}")
    print(f"{differences} file(s) differ")
    return differences


def big(log: str) -> None:
    """sha256 of the read items, prepared rows and lead results of one large harbour log."""
    agreement = load(AGREEMENTS["harbour-b2b"])
    text = Path(log).read_text(encoding="utf-8")
    items = list(readers.read_log(text, log, "csv", readers.ReadOptions()))
    digest = hashlib.sha256()
    for item in items:
        digest.update(repr(item).encode())
    print("read:", digest.hexdigest())
    split = hashlib.sha256()
    for item in cli_parallel.read_log(text, log, "csv", readers.ReadOptions(), jobs=2):
        split.update(repr(item).encode())
    print("read in two processes:", split.hexdigest())
    del text
    prepared = prepare(agreement, items, None)
    del items
    digest = hashlib.sha256(repr((prepared.as_of, prepared.accounting)).encode())
    for lead, rows in prepared.leads.items():
        digest.update(f"{lead}: {rows!r}".encode())
    print("prepared:", digest.hexdigest())
    engine = Engine(agreement)
    digest = hashlib.sha256()
    for lead, rows in prepared.leads.items():
        digest.update(repr(engine.replay_lead(lead, rows, prepared.as_of)).encode())
    print("leads:", digest.hexdigest())


def main() -> None:
    """save DIR | compare DIR | big LOG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "compare", "big"))
    parser.add_argument("path")
    args = parser.parse_args()
    if args.action == "save":
        record_all(Path(args.path))
    elif args.action == "compare":
        fresh = Path(args.path + ".now")
        record_all(fresh)
        raise SystemExit(1 if compare(Path(args.path), fresh) else 0)
    else:
        big(args.path)


if __name__ == "__main__":
    main()
