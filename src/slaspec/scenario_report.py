"""Scenario test reports: a `scenarios.TestRun` -> text for people, JSON, or JUnit XML for CI.

Every renderer is a pure function of the run, and deterministic: files, scenarios and checks
come in file order, coverage items in the agreement's order, and no wall clock or duration is
written (so JUnit `time` attributes are left out).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from slaspec import reporters
from slaspec.diagnostics import Diagnostic
from slaspec.events import EventKind
from slaspec.replay import TraceEntry
from slaspec.results import human_duration
from slaspec.scenarios import (
    CATEGORIES,
    CheckResult,
    Coverage,
    LeadRun,
    ScenarioResult,
    SuiteRun,
    TestRun,
    show_time,
)
from slaspec.source import Source

JSON_FORMAT_VERSION = 1

# What a covered item of each category means, for the coverage table.
_CATEGORY_NOTES = {
    "stages": "entered",
    "handoffs": "taken",
    "criteria": "seen met and unmet",
    "clocks": "met and breached both tested",
    "tiers": "chosen",
    "targets": "fed",
}


# ---------------------------------------------------------------- text


def render_text(run: TestRun) -> str:
    """The run for a person: problems, each file's scenarios, failures with expected vs
    actual and the lead's timeline, coverage when measured, and a summary line."""
    out: list[str] = []
    diagnostics = run.diagnostics
    if diagnostics:
        out.append(reporters.render_text(diagnostics, _sources(run), False).rstrip("\n"))
        out.append("")
    for suite_run in run.suites:
        suite = suite_run.suite
        out.append(f"{suite.path} (agreement {suite.agreement_path})")
        if not suite.runnable:
            out.append("  not run: the file or its agreement has errors (above)")
        elif not suite_run.results:
            out.append("  no scenario selected")
        for result in suite_run.results:
            mark = "PASS" if result.passed else "FAIL"
            out.append(f"  {mark}  {result.scenario.name}")
        out.append("")
    for suite_run in run.suites:
        for result in suite_run.results:
            if not result.passed:
                out.extend(failure_text(result))
                out.append("")
    if run.coverage is not None:
        for report in run.coverage:
            out.extend(coverage_text(report))
            out.append("")
    out.append(summary(run))
    return "\n".join(out) + "\n"


def failure_text(result: ScenarioResult) -> list[str]:
    """A failed scenario: each failed expectation, expected vs actual, and the timeline of
    each lead it is about."""
    scenario = result.scenario
    lines = [f"FAIL  {scenario.name}  [{scenario.file}:{scenario.line}]"]
    failures = result.failures
    for check in failures:
        lines.extend(check_text(check))
    leads = {lead for check in failures for lead in check.about}
    for run in result.leads:
        if run.lead in leads:
            lines.append("")
            lines.extend(timeline_text(run, result))
    return lines


def check_text(check: CheckResult) -> list[str]:
    """One expectation: where it is, what it expected and what happened."""
    about = f", lead {check.lead}" if check.lead is not None else ""
    return [
        f"  line {check.line}{about}",
        f"    expected: {check.expected}",
        f"    actual:   {check.actual}",
    ]


def timeline_text(run: LeadRun, result: ScenarioResult) -> list[str]:
    """A lead's timeline: each event as written, the stage after it, the running clocks and
    what started or ended, in replay order, then what was judged at as-of."""
    scenario = result.scenario
    zone = ZoneInfo(scenario.zone)
    lines = [
        f"  timeline of lead {run.lead} (times in {scenario.zone}; "
        f"as of {show_time(result.as_of, zone)})"
    ]
    for group in _grouped(run.trace):
        last = group[-1]
        when = show_time(last.time, zone)
        if last.row.file == "as-of":
            lines.append(f"    {when}  as of")
        else:
            lines.append(f"    {when}  {_event_words(last, scenario.event_lines)}")
            lines.append(f"        stage: {last.stage or '(none)'}")
            for rule, state, elapsed, due in last.clocks:
                due_text = f", due {show_time(due, zone)}" if due is not None else ""
                spent = human_duration(elapsed)
                lines.append(f"        {rule}: {state}, {spent} elapsed{due_text}")
        for entry in group:
            for note in entry.notes:
                lines.append(f"        - {note}")
    return lines


def _grouped(trace: Sequence[TraceEntry]) -> list[list[TraceEntry]]:
    """Trace entries of one line together: a stage or activity line carrying attribute values
    is replayed as an update and the event, at the same instant."""
    groups: list[list[TraceEntry]] = []
    for entry in trace:
        if groups and groups[-1][-1].row == entry.row and entry.row.file != "as-of":
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def _event_words(entry: TraceEntry, written: Mapping[int, str]) -> str:
    text = written.get(entry.row.row)
    where = f"(line {entry.row.row})"
    if text is not None:
        return f"{text}   {where}"
    kind = entry.kind.name.lower() if entry.kind is not EventKind.UPDATE else "update"
    return f"{kind} {entry.value or ''}".rstrip() + f"   {where}"


def coverage_text(report: Coverage) -> list[str]:
    """Coverage of one agreement: a line per category and every item not covered."""
    lines = [
        f"Coverage of {report.agreement}: {percent_text(report.percent)} "
        f"({report.covered} of {report.total})"
    ]
    missing: list[str] = []
    for category in CATEGORIES:
        items = report.category(category)
        if not items:
            continue
        covered = sum(1 for item in items if item.covered)
        lines.append(f"  {category:<9} {covered:>3} of {len(items):<3} {_CATEGORY_NOTES[category]}")
        missing.extend(
            f"    {category:<9} {item.name}: {item.missing}" for item in items if not item.covered
        )
    if missing:
        lines.append("  not covered:")
        lines.extend(missing)
    return lines


def percent_text(value: Decimal) -> str:
    """A percentage rounded down to one decimal (so nothing short of 100 shows as 100%)."""
    floored = value.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return f"{format(floored.normalize(), 'f')}%"


def summary(run: TestRun) -> str:
    """The last line: how many scenarios ran, passed and failed, and why the run failed."""
    total, failed = run.scenarios, run.failed
    files = len(run.suites)
    parts = [
        f"{_plural(total, 'scenario')} in {_plural(files, 'file')}: "
        f"{total - failed} passed, {failed} failed."
    ]
    broken = sum(1 for suite_run in run.suites if not suite_run.suite.runnable)
    if run.problems or broken:
        parts.append("Some tests could not run: see the errors above.")
    for report in run.below_threshold:
        assert run.threshold is not None
        parts.append(
            f"Coverage of {report.agreement} is {percent_text(report.percent)}, below the "
            f"threshold of {format(run.threshold.normalize(), 'f')}%."
        )
    return " ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _sources(run: TestRun) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for suite_run in run.suites:
        sources.update(suite_run.suite.sources)
    return sources


# ---------------------------------------------------------------- JSON


def render_json(run: TestRun) -> str:
    """The run as JSON with sorted keys."""
    sources = _sources(run)
    document: dict[str, Any] = {
        "version": JSON_FORMAT_VERSION,
        "exit_code": run.exit_code,
        "problems": [_diagnostic_json(d, sources) for d in run.problems],
        "files": [_suite_json(suite_run, sources) for suite_run in run.suites],
        "coverage": None
        if run.coverage is None
        else [_coverage_json(report) for report in run.coverage],
        "coverage_threshold": None if run.threshold is None else float(run.threshold),
        "summary": {
            "files": len(run.suites),
            "scenarios": run.scenarios,
            "passed": run.scenarios - run.failed,
            "failed": run.failed,
            "could_not_run": run.could_not_run,
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _diagnostic_json(diagnostic: Diagnostic, sources: dict[str, Source]) -> dict[str, Any]:
    location = reporters.locate(diagnostic, sources)
    return {
        "code": diagnostic.code,
        "name": diagnostic.rule.name,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "help": diagnostic.help,
        "file": diagnostic.file,
        "line": location.line if location is not None else diagnostic.row,
        "column": location.column if location is not None else None,
    }


def _suite_json(suite_run: SuiteRun, sources: dict[str, Source]) -> dict[str, Any]:
    suite = suite_run.suite
    if not suite.runnable:
        status = "error"
    elif suite_run.failed:
        status = "failed"
    else:
        status = "passed"
    return {
        "path": suite.path,
        "agreement": suite.agreement_path,
        "status": status,
        "diagnostics": [_diagnostic_json(d, sources) for d in suite.diagnostics],
        "scenarios": [_scenario_json(result) for result in suite_run.results],
    }


def _scenario_json(result: ScenarioResult) -> dict[str, Any]:
    zone = ZoneInfo(result.scenario.zone)
    return {
        "name": result.scenario.name,
        "line": result.scenario.line,
        "status": "passed" if result.passed else "failed",
        "as_of": show_time(result.as_of, zone),
        "checks": [
            {
                "line": check.line,
                "lead": check.lead,
                "expected": check.expected,
                "actual": check.actual,
                "passed": check.passed,
            }
            for check in result.checks
        ],
    }


def _coverage_json(report: Coverage) -> dict[str, Any]:
    return {
        "agreement": report.agreement,
        "covered": report.covered,
        "total": report.total,
        "percent": float(report.percent),
        "items": [
            {
                "category": item.category,
                "name": item.name,
                "covered": item.covered,
                "missing": None if item.covered else item.missing,
            }
            for item in report.items
        ],
    }


# ---------------------------------------------------------------- JUnit


def render_junit(run: TestRun) -> str:
    """The run as JUnit XML: a testsuite per file, a testcase per scenario, a failure per
    failed scenario, and an error case for a file (or a path) that could not run."""
    sources = _sources(run)
    broken = sum(1 for suite_run in run.suites if not suite_run.suite.runnable)
    errors = broken + (1 if run.problems else 0)
    root = ET.Element(
        "testsuites",
        {
            "name": "slaspec test",
            "tests": str(run.scenarios + errors),
            "failures": str(run.failed),
            "errors": str(errors),
        },
    )
    if run.problems:
        suite = _testsuite(root, "slaspec test", 1, 0, 1)
        case = ET.SubElement(suite, "testcase", {"name": "paths", "classname": "slaspec test"})
        _error(case, run.problems, sources)
    coverage = {report.agreement: report for report in run.coverage or ()}
    for suite_run in run.suites:
        test = suite_run.suite
        runnable = test.runnable
        element = _testsuite(
            root,
            test.path,
            len(suite_run.results) + (0 if runnable else 1),
            suite_run.failed,
            0 if runnable else 1,
        )
        report = coverage.get(test.agreement_path)
        if report is not None:
            properties = ET.SubElement(element, "properties")
            ET.SubElement(
                properties,
                "property",
                {"name": "coverage", "value": percent_text(report.percent)},
            )
        classname = _classname(test.path)
        if not runnable:
            case = ET.SubElement(
                element, "testcase", {"name": "(test file)", "classname": classname}
            )
            _error(case, test.diagnostics, sources)
        for result in suite_run.results:
            case = ET.SubElement(
                element,
                "testcase",
                {
                    "name": result.scenario.name,
                    "classname": classname,
                    "file": result.scenario.file,
                    "line": str(result.scenario.line),
                },
            )
            if not result.passed:
                failures = result.failures
                failure = ET.SubElement(
                    case,
                    "failure",
                    {
                        "message": f"{_plural(len(failures), 'expectation')} failed: "
                        + "; ".join(f"line {c.line}: {c.expected}" for c in failures),
                        "type": "ScenarioFailure",
                    },
                )
                failure.text = "\n".join(failure_text(result)) + "\n"
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def _testsuite(root: ET.Element, name: str, tests: int, failures: int, errors: int) -> ET.Element:
    return ET.SubElement(
        root,
        "testsuite",
        {
            "name": name,
            "tests": str(tests),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": "0",
        },
    )


def _error(case: ET.Element, diagnostics: Sequence[Diagnostic], sources: dict[str, Source]) -> None:
    errors = list(diagnostics)
    first = errors[0] if errors else None
    message = f"{first.code} {first.message}" if first is not None else "could not run"
    element = ET.SubElement(case, "error", {"message": message, "type": "CouldNotRun"})
    element.text = reporters.render_text(errors, sources, False)


def _classname(path: str) -> str:
    """A test file's path as a JUnit class name: `agreements.harbour-b2b`."""
    stem = path.removesuffix(".scenarios").lstrip("./")
    return stem.replace("/", ".")
