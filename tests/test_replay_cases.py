"""Golden replay cases: one folder per rule or tricky case under tests/data/replay/.

A case folder holds `events.csv` (or `events.jsonl`), optionally its own `agreement.sla` (else
`base.sla` beside the folders is used), optionally `options.txt` (extra `slaspec replay` flags on
one line, e.g. `--as-of 2026-03-03T00:00:00+11:00`), a `README.md` saying what the case shows
and why the expected result is right, and `expected.txt`: the compact summary below. Run with
SLASPEC_UPDATE_GOLDEN=1 to rewrite expected files, and review the diff.

A folder with an `xfail.txt` holds a case where the engine disagrees with the semantics: its
`expected.txt` is written by hand from docs/semantics.md, the file's text is the reason, and
the test is a strict expected failure (it fails loudly once the engine is fixed, so the marker
is removed with the fix). Its expected file is never rewritten from the engine's output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shlex
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import DATA, TODAY, golden
from slaspec import readers
from slaspec.diagnostics import Diagnostic
from slaspec.events import Event
from slaspec.pipeline import check_agreement
from slaspec.replay import Engine, prepare, replay_prepared
from slaspec.report import attainment
from slaspec.results import Cycle, ReplayResult
from slaspec.source import Source

CASES = DATA / "replay"
SEMANTICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "semantics.md"
# In docs/semantics.md, `<!-- events: CASE -->` or `<!-- expected: CASE -->` marks the next fenced
# block as lines quoted from that case's log or expected.txt.
QUOTE = re.compile(r"<!-- (events|expected): ([a-z0-9-]+) -->")
CASE_LINK = re.compile(r"\(\.\./tests/data/replay/([a-z0-9-]+)/\)")


def case_folders() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if p.is_dir())


def case_params() -> list[object]:
    """Every case folder, marked as a strict expected failure when it holds an xfail.txt."""
    params: list[object] = []
    for folder in case_folders():
        reason_file = folder / "xfail.txt"
        if reason_file.exists():
            reason = " ".join(reason_file.read_text(encoding="utf-8").split())
            mark = pytest.mark.xfail(strict=True, reason=reason)
            params.append(pytest.param(folder, marks=mark, id=folder.name))
        else:
            params.append(pytest.param(folder, id=folder.name))
    return params


def read(path: str) -> Source | Diagnostic:
    target = Path(path)
    if not target.is_file():
        return Diagnostic("SLA002", f"no such file: {path}", path)
    return Source(path, target.read_text(encoding="utf-8"))


def local(micros: int | None, zone: ZoneInfo) -> str:
    if micros is None:
        return "-"
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S")


def seconds(micros: int | None) -> str:
    if micros is None:
        return "-"
    whole, fraction = divmod(micros, 1_000_000)
    return f"{whole}s" if not fraction else f"{whole}.{fraction:06d}s"


def summarise(result: ReplayResult, zone: ZoneInfo) -> str:
    """A compact, reviewable listing of everything a replay decided."""
    a = result.accounting
    dst = f" dst_resolved={a.dst_resolved}" if a.dst_resolved else ""
    lines = [
        f"as-of {local(result.as_of, zone)}",
        f"rows read={a.read} replayed={a.replayed} rejected={a.rejected} "
        f"duplicate={a.duplicate} after_as_of={a.after_as_of}{dst}",
    ]
    for diagnostic in result.rejections:
        lines.append(f"rejected row {diagnostic.row} {diagnostic.code} {diagnostic.message}")
    for lead in result.leads:
        lines.append(f"lead {lead.lead}: final stage {lead.final_stage}")
        for stay in lead.stays:
            left = local(stay.left, zone) if stay.left is not None else "open"
            lines.append(
                f"  stay {stay.stage} {local(stay.entered, zone)} -> {left} "
                f"dwell={seconds(stay.dwell)} wall={seconds(stay.wall)}"
            )
        for c in lead.cycles:
            risk = " at_risk" if c.at_risk else ""
            extra = f" count={c.count}/{c.required}" if c.kind == "cadence" else ""
            lines.append(
                f"  {c.kind} {c.rule}#{c.index} {c.outcome.value}{risk} tier={c.tier} "
                f"goal={c.goal_text} start={local(c.started, zone)} due={local(c.due, zone)} "
                f"end={local(c.ended, zone)} elapsed={seconds(c.elapsed)} "
                f"paused={seconds(c.paused)} team={c.responsible}{extra}"
            )
        for v in lead.violations:
            rows = ",".join(str(origin.row) for origin in v.rows)
            lines.append(
                f"  violation {v.kind.value} {v.rule} team={v.responsible} "
                f"at={local(v.at, zone)} rows={rows}: {v.message}"
            )
            for condition, seen in v.details:
                lines.append(f"    failed {condition} (seen {seen})")
    by_rule: defaultdict[str, list[Cycle]] = defaultdict(list)
    for cycle in result.cycles:
        by_rule[cycle.rule].append(cycle)
    for rule in sorted(by_rule):
        tally = attainment(by_rule[rule], None)
        ratio = "-" if tally.attainment is None else f"{tally.met}/{tally.met + tally.breached}"
        lines.append(
            f"attainment {rule} met={tally.met} breached={tally.breached} "
            f"pending={tally.pending} at_risk={tally.at_risk} cancelled={tally.cancelled} "
            f"attainment={ratio}"
        )
    return "\n".join(lines) + "\n"


def run_case(folder: Path) -> tuple[ReplayResult, ZoneInfo]:
    own = folder / "agreement.sla"
    agreement_path = own if own.exists() else CASES / "base.sla"
    checked = check_agreement(read(str(agreement_path)), read, TODAY)  # type: ignore[arg-type]
    assert checked.agreement is not None, checked.diagnostics
    options_file = folder / "options.txt"
    flags = shlex.split(options_file.read_text()) if options_file.exists() else []
    as_of: int | None = None
    log_timezone: str | None = None
    policy = "reject"
    while flags:
        flag = flags.pop(0)
        value = flags.pop(0)
        if flag == "--as-of":
            moment = dt.datetime.fromisoformat(value)
            as_of = (
                int((moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 1_000_000
            )
        elif flag == "--log-timezone":
            log_timezone = value
        elif flag == "--dst-policy":
            policy = value
        else:
            raise AssertionError(f"unknown option {flag} in {options_file}")
    options = readers.ReadOptions(log_timezone, policy)  # type: ignore[arg-type]
    items: list[Event | readers.Rejected] = []
    seq = 0
    dst_resolved = 0
    logs: tuple[tuple[str, readers.LogFormat], ...] = (
        ("events.csv", "csv"),
        ("events.jsonl", "jsonl"),
    )
    for name, fmt in logs:
        path = folder / name
        if path.exists():
            counter = readers.ReadCounter()
            text = path.read_text(encoding="utf-8")
            items.extend(readers.read_log(text, name, fmt, options, seq, counter))
            seq += counter.rows
            dst_resolved += counter.dst_resolved
    agreement = checked.agreement
    result = replay_prepared(Engine(agreement), prepare(agreement, items, as_of))
    # The readers count DST resolutions; the CLI adds them to the accounting the same way.
    accounting = dataclasses.replace(result.accounting, dst_resolved=dst_resolved)
    return dataclasses.replace(result, accounting=accounting), ZoneInfo(agreement.timezone)


@pytest.mark.parametrize("folder", case_params())
def test_replay_case(folder: Path) -> None:
    assert (folder / "README.md").exists(), "every case says what it shows"
    result, zone = run_case(folder)
    assert result.accounting.balanced
    actual = summarise(result, zone)
    if (folder / "xfail.txt").exists():
        # Hand-written from the semantics; the engine's output must never overwrite it.
        assert actual == (folder / "expected.txt").read_text(encoding="utf-8")
    else:
        golden(folder / "expected.txt", actual)


def doc_quotes() -> list[tuple[int, str, str, list[str]]]:
    """Every quoted block of docs/semantics.md: (line, kind, case, the block's lines)."""
    lines = SEMANTICS_DOC.read_text(encoding="utf-8").splitlines()
    quotes: list[tuple[int, str, str, list[str]]] = []
    for number, line in enumerate(lines):
        marker = QUOTE.fullmatch(line.strip())
        if marker is None:
            continue
        assert lines[number + 1].startswith("```"), f"line {number + 1}: no block after marker"
        end = lines.index("```", number + 2)
        quotes.append((number + 1, marker[1], marker[2], lines[number + 2 : end]))
    return quotes


def test_semantics_doc_quotes_the_cases_verbatim() -> None:
    quotes = doc_quotes()
    assert quotes, "docs/semantics.md quotes the golden cases"
    for line, kind, case, block in quotes:
        folder = CASES / case
        if kind == "expected":
            source = (folder / "expected.txt").read_text(encoding="utf-8").splitlines()
        else:
            source = [
                text
                for name in ("events.csv", "events.jsonl")
                if (folder / name).exists()
                for text in (folder / name).read_text(encoding="utf-8").splitlines()
            ]
        assert block, f"docs/semantics.md:{line}: empty quote of {case}"
        missing = [text for text in block if text not in source]
        assert not missing, f"docs/semantics.md:{line}: not in {case}/{kind}: {missing}"


def test_semantics_doc_links_existing_cases_and_every_case_is_shown() -> None:
    text = SEMANTICS_DOC.read_text(encoding="utf-8")
    linked = set(CASE_LINK.findall(text))
    names = {folder.name for folder in case_folders()}
    assert linked <= names, sorted(linked - names)
    assert names <= linked, f"cases the doc never mentions: {sorted(names - linked)}"
