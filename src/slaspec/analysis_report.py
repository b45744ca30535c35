"""Analysis reports: a Report with its analysis -> Markdown for a pull request, JUnit XML for CI.

Both take everything from the Report document (`Report.analysis` must be set), so any format
can be written from the one object a replay builds. Verdicts are shared by the two formats:

- A clock or cadence is judged by the agreement's attainment targets that name it: its
  attainment over the whole replay, met / (met + breached), must keep each target's bound. With
  no attainment target the agreement promises every cycle, so one breached cycle fails it (as
  `slaspec replay --fail-on breach` does). With no cycle met or breached there is nothing to
  judge, and the JUnit case is skipped.
- A target fails when it was missed in a complete period; partial periods (not over at as-of)
  are shown but never judged, and a target with no complete period judged is skipped.

Every CRM value (owners, lead ids, attribute values) is escaped for its format: Markdown table
cells escape `|`, HTML and emphasis characters and fold line breaks; XML escapes markup and
replaces characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from slaspec.render import (
    count,
    days,
    duration,
    goal_of,
    goal_text,
    local_time,
    period_label,
    revenue_text,
    share_text,
    target_sentence,
    target_status,
)
from slaspec.report import (
    AnalysisOut,
    ClosedLoopOut,
    OutcomesOut,
    Report,
    RuleStatsOut,
    RuleSummary,
    TargetOut,
    TargetPeriodOut,
    percent,
)

GITHUB_COMMENT_LIMIT = 65_536
"""Characters GitHub accepts in a comment or job summary."""
MARKDOWN_BUDGET = 60_000
"""The Markdown report stays under this many characters, leaving room for a caller's heading."""
MAX_MARKDOWN_ROWS = 30
"""Rows of an unbounded table (attribute values, owners) shown in Markdown."""
MAX_PERIODS = 12
"""The latest periods of each target shown in Markdown."""
TOP_BOTTLENECKS = 5
MAX_CELL = 120
"""Characters of a CRM value shown in a Markdown cell."""

Status = Literal["pass", "fail", "skip"]
_ICON = {"pass": "✅", "fail": "❌", "skip": "⏳"}


# ---------------------------------------------------------------- verdicts


@dataclass(frozen=True, slots=True)
class Judgement:
    """Whether a clock, cadence or target passed, and why in one line."""

    status: Status
    message: str
    details: tuple[str, ...] = ()


def _analysis(report: Report) -> AnalysisOut:
    if report.analysis is None:
        raise ValueError("this report format needs the analysis: set Report.analysis")
    return report.analysis


def _points(value: Fraction, goal: Fraction) -> str:
    """The distance between two ratios in percentage points, one decimal."""
    return f"{float(abs(value - goal) * 100):.1f} points"


def _exact(goal: float) -> Fraction:
    return Fraction(Decimal(repr(goal)))


def judge_rule(rule: RuleSummary, targets: Sequence[TargetOut]) -> Judgement:
    """A clock or cadence against its attainment targets, or against no breach at all."""
    o = rule.overall
    judged = o.met + o.breached
    own = [t for t in targets if t.kind == "attainment" and t.subject == rule.name]
    if not judged:
        return Judgement("skip", "no cycle was met or breached by as-of: nothing to judge")
    value = Fraction(o.met, judged)
    measured = f"attainment {percent(o.attainment)} ({count(o.met)} of {count(judged)} cycles met)"
    if not own:
        if not o.breached:
            return Judgement("pass", f"{measured}; no attainment target: every cycle must be met")
        return Judgement(
            "fail",
            f"{measured}: {count(o.breached)} breached; the agreement sets no attainment "
            "target, so every cycle must be met",
        )
    failed: list[str] = []
    kept: list[str] = []
    for target in own:
        goal = _exact(target.goal)
        text = f"{goal_text(target)} (target {target.name})"
        if (value >= goal) if target.bound == "at least" else (value <= goal):
            kept.append(text)
        else:
            side = "below" if target.bound == "at least" else "above"
            failed.append(f"{_points(value, goal)} {side} the goal of {text}")
    if failed:
        return Judgement("fail", f"{measured} is " + "; and ".join(failed))
    return Judgement("pass", f"{measured} keeps " + " and ".join(kept))


def _shortfall(target: TargetOut, row: TargetPeriodOut) -> str:
    """What a period measured and how far it is from the goal."""
    goal = _exact(target.goal)
    if target.kind == "volume":
        gap = abs(Fraction(row.part) - goal)
        side = "short of" if target.bound == "at least" else "over"
        return f"{row.period.label} {count(row.part)} leads, {gap} {side} {goal_text(target)}"
    assert row.whole
    value = Fraction(row.part, row.whole)
    side = "below" if target.bound == "at least" else "above"
    return (
        f"{row.period.label} {share_text(row.part, row.whole, row.value)}, "
        f"{_points(value, goal)} {side} {goal_text(target)}"
    )


def _period_line(target: TargetOut, row: TargetPeriodOut) -> str:
    verdict: str = "-" if row.verdict is None else row.verdict
    if row.period.partial and row.verdict is not None:
        verdict += " so far (partial: not judged)"
    note = ""
    if row.immature:
        note = f"; {count(row.immature)} immature, {count(row.undecided)} undecided"
    return f"{row.period.label}: {share_text(row.part, row.whole, row.value)} {verdict}{note}"


def judge_target(target: TargetOut) -> Judgement:
    """A target over its complete periods: failed when any of them was missed."""
    details = tuple(_period_line(target, row) for row in target.periods)
    judged = target.met + target.missed
    if not judged:
        return Judgement("skip", target_status(target), details)
    if not target.missed:
        return Judgement("pass", target_status(target), details)
    missed = [
        _shortfall(target, row)
        for row in target.periods
        if not row.period.partial and row.verdict == "missed"
    ]
    shown = "; ".join(missed[:5]) + (f"; and {len(missed) - 5} more" if len(missed) > 5 else "")
    return Judgement(
        "fail",
        f"missed in {target.missed} of {judged} complete {target.period}s: {shown}",
        details,
    )


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def md(text: str) -> str:
    """Text as literal text in a GitHub table cell: no markup, links, mentions, HTML or breaks."""
    text = _CONTROL.sub("\ufffd", _LINE_BREAK.sub(" ", text))
    # An entity for `@` shows the same character but notifies nobody (`@sales-team`).
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace("@", "&#64;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def crm(text: str) -> str:
    """A CRM value (owner, lead, attribute value) as a cell, cut to MAX_CELL characters."""
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return md(text)


def _code(name: str) -> str:
    """An agreement name as inline code (names are identifiers, so no backtick inside)."""
    return f"`{name}`" if re.fullmatch(r"[A-Za-z0-9_.\- >]+", name) else md(name)


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A GitHub table; `align` has one letter per column: l(eft), r(ight) or c(entre)."""
    marks = {"l": "---", "r": "--:", "c": ":-:"}
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _capped(
    rows: list[list[str]], noun: str, limit: int = MAX_MARKDOWN_ROWS
) -> tuple[list[list[str]], list[str]]:
    if len(rows) <= limit:
        return rows, []
    more = len(rows) - limit
    return rows[:limit], [
        "",
        f"_… and {count(more)} more {noun}; every one is in the JSON report._",
    ]


def render_markdown(report: Report) -> str:
    """The weekly report as GitHub-flavoured Markdown, under GitHub's comment size limit."""
    analysis = _analysis(report)
    sections: list[tuple[bool, list[str]]] = [
        (True, _md_heading(report)),
        (True, _md_rules(report, analysis)),
        (True, _md_targets(analysis)),
        (True, _md_scorecard(analysis)),
        (False, _md_bottlenecks(analysis)),
        (False, _md_funnel(analysis)),
        *((False, _md_closed_loop(analysis, loop)) for loop in analysis.closed_loop),
        (False, _md_accountability(analysis)),
    ]
    footer = [
        f"<sub>slaspec {md(report.slaspec_version)} · holidays {md(report.holidays_version)}"
        f" · report schema {report.schema_version} · as of {report.as_of}</sub>"
    ]
    kept = [lines for _, lines in sections]
    # Optional sections go, last first, until the comment fits.
    for index in reversed(range(len(sections))):
        if len(_joined([*kept, footer])) <= MARKDOWN_BUDGET:
            break
        if not sections[index][0]:
            title = kept[index][0]
            kept[index] = [
                title,
                "",
                "_Left out to stay under GitHub's comment size limit; see the JSON report._",
            ]
    text = _joined([*kept, footer])
    if len(text) > MARKDOWN_BUDGET:
        cut = text.rfind("\n", 0, MARKDOWN_BUDGET - 200)
        text = text[:cut] + "\n\n_Truncated to stay under GitHub's comment size limit._\n"
    return text


def _joined(sections: Sequence[Sequence[str]]) -> str:
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _md_heading(report: Report) -> list[str]:
    agreement = report.agreement
    version = f" (version {md(agreement.version)})" if agreement.version else ""
    a = report.accounting
    total = sum(report.violations_by_kind.values())
    return [
        f"## {md(agreement.title)}{version}",
        "",
        f"As of **{local_time(report.as_of, agreement.timezone)}** · "
        f"{count(a.replayed)} of {count(a.read)} rows replayed "
        f"({count(a.rejected)} rejected, {count(a.duplicate)} duplicate, "
        f"{count(a.after_as_of)} after as-of) · {count(total)} violations",
        *_md_versions(report),
    ]


def _md_versions(report: Report) -> list[str]:
    """Which versions of the agreement judged the cycles, when the replay was given several."""
    versions = report.agreement.versions
    if not versions:
        return []
    listed = ", ".join(f"{_code(v.label)} from {md(v.effective or 'the start')}" for v in versions)
    lead = "Each cycle is judged by the agreement version in force when it started"
    return ["", f"{lead}: {listed}."]


def _md_rules(report: Report, analysis: AnalysisOut) -> list[str]:
    lines = ["### Clocks and cadences"]
    if not report.rules:
        return [*lines, "", "The agreement declares no clock or cadence."]
    rows: list[list[str]] = []
    for rule in report.rules:
        o = rule.overall
        judgement = judge_rule(rule, analysis.targets)
        rows.append(
            [
                _ICON[judgement.status],
                f"{_code(rule.name)} {md(rule.title)}",
                percent(o.attainment),
                count(o.met),
                count(o.breached),
                count(o.pending),
                count(o.at_risk),
                md(judgement.message),
            ]
        )
    headers = ["", "rule", "attainment", "met", "breached", "pending", "at risk", "verdict"]
    return [*lines, "", *_md_table(headers, rows, "clrrrrrl")]


def _md_targets(analysis: AnalysisOut) -> list[str]:
    lines = ["### Targets"]
    if not analysis.targets:
        return [*lines, "", "The agreement declares no target."]
    summary = [
        [
            _ICON[judge_target(t).status],
            f"{_code(t.name)} {md(t.title)}",
            md(target_sentence(t)),
            md(t.responsible or "-"),
            md(target_status(t)),
        ]
        for t in analysis.targets
    ]
    out = [*lines, "", *_md_table(["", "target", "goal", "team", "result"], summary, "cllll")]
    rows: list[list[str]] = []
    older = 0
    for t in analysis.targets:
        shown = t.periods[-MAX_PERIODS:]
        older += len(t.periods) - len(shown)
        for row in shown:
            partial = row.period.partial
            icon = (
                "⏳"
                if partial or row.verdict is None
                else _ICON["pass" if row.verdict == "met" else "fail"]
            )
            note = []
            if partial:
                note.append(f"partial: {row.verdict or '-'} so far, not judged")
            if row.immature:
                note.append(f"{count(row.immature)} immature ({count(row.undecided)} undecided)")
            if row.whole == 0:
                note.append("no leads in the cohort")
            rows.append(
                [
                    icon,
                    _code(t.name),
                    md(period_label(row.period)),
                    share_text(row.part, row.whole, row.value),
                    md(goal_text(t)),
                    md("; ".join(note)),
                ]
            )
    out += ["", *_md_table(["", "target", "period", "value", "goal", "note"], rows, "cllrll")]
    if older:
        out += ["", f"_{count(older)} earlier periods are in the JSON report._"]
    out += [
        "",
        f"_Periods in {md(analysis.timezone)}. ⏳ a partial period (not over at as-of) or one "
        "with no leads: shown, never judged. Immature: cohort members whose window was still "
        "open at as-of._",
    ]
    return out


def _md_scorecard(analysis: AnalysisOut) -> list[str]:
    lines = ["### Scorecard"]
    card = analysis.accountability.scorecard
    if not card:
        return [*lines, "", "No commitments to score."]
    rows: list[list[str]] = []
    for line in card:
        icon = "—" if line.verdict is None else _ICON["pass" if line.verdict == "met" else "fail"]
        judged = f"{line.periods_met} of {line.periods_judged}" if line.target else "—"
        goal = "—"
        if line.goal is not None and line.bound is not None:
            goal = md(goal_of(line))
        rows.append(
            [
                icon,
                crm(line.team or "(no team)"),
                md(line.kind),
                md(line.title),
                share_text(line.part, line.whole, line.value),
                _code(line.target) if line.target else "—",
                goal,
                judged,
            ]
        )
    headers = ["", "team", "commitment", "what", "measured", "target", "goal", "periods met"]
    return [
        *lines,
        "",
        *_md_table(headers, rows, "cllllrlr"),
        "",
        "_Measured over the whole replay; the verdict is the target's, over its complete periods "
        "(— : no target declared for it)._",
    ]


def _md_bottlenecks(analysis: AnalysisOut) -> list[str]:
    lines = ["### Top bottlenecks"]
    b = analysis.bottlenecks
    if not b.ranking:
        return [*lines, "", "No stage held a lead."]
    stages = {s.stage: s for s in b.stages}
    total = sum(lost.business_seconds for lost in b.ranking)
    rows: list[list[str]] = []
    for lost in b.ranking[:TOP_BOTTLENECKS]:
        s = stages[lost.stage]
        longest = s.longest[0] if s.longest else None
        rows.append(
            [
                _code(s.stage),
                duration(lost.business_seconds),
                percent(lost.business_seconds / total if total else None),
                duration(s.dwell.median_seconds),
                duration(s.dwell.p90_seconds),
                count(s.open),
                f"{crm(longest.lead)} {duration(longest.business_seconds)}" if longest else "—",
                f"{count(s.stalled_now)} of limit {md(s.limit)}" if s.limit else "—",
            ]
        )
    headers = [
        "stage",
        "business time lost",
        "share",
        "median dwell",
        "p90 dwell",
        "in stage now",
        "waiting longest",
        "over limit now",
    ]
    return [
        *lines,
        "",
        *_md_table(headers, rows, "lrrrrrll"),
        "",
        "_Business time on each stage's calendar, open stays counted to as-of; dwell is over "
        "completed stays._",
    ]


def _md_funnel(analysis: AnalysisOut) -> list[str]:
    funnel = analysis.funnel
    lines = ["### Funnel"]
    if not funnel.steps:
        return [*lines, "", "The main path has a single stage."]
    rows = [
        [f"{_code(s.source)} → {_code(s.target)}", count(s.entered), count(s.converted),
         percent(s.value)]
        for s in funnel.steps
    ]  # fmt: skip
    return [*lines, "", *_md_table(["step", "entered", "converted", "conversion"], rows, "lrrr")]


def _md_closed_loop(analysis: AnalysisOut, loop: ClosedLoopOut) -> list[str]:
    won = ", ".join(_code(s) for s in analysis.won_stages) or "none"
    money = (
        f"{_code(analysis.money_field)} summed over won leads"
        if analysis.money_field
        else "not counted (no money field)"
    )
    lines = [
        f"### Closed loop by {_code(loop.attribute)}",
        "",
        f"_Won: {won}; revenue: {money}; conversion: of the leads that entered a step's first "
        "stage, those that later entered its second._",
    ]
    steps = analysis.funnel.steps
    rows: list[list[str]] = [
        [
            crm(g.value),
            count(g.leads),
            count(g.won),
            percent(g.won / g.leads if g.leads else None),
            revenue_text(g.revenue),
            days(g.time_to_won.median_seconds),
            *(percent(s.value) for s in g.steps),
        ]
        for g in loop.groups
    ]
    shown, note = _capped(rows, "values")
    overall = analysis.overall
    total = [
        "**all leads**",
        count(overall.leads),
        count(overall.won),
        percent(overall.won / overall.leads if overall.leads else None),
        revenue_text(overall.revenue),
        days(overall.time_to_won.median_seconds),
        *(percent(s.value) for s in overall.steps),
    ]
    headers = [
        md(loop.attribute),
        "leads",
        "won",
        "win rate",
        "revenue",
        "median days to won",
        *(f"{md(s.source)}→{md(s.target)}" for s in steps),
    ]
    table = _md_table(headers, [*shown, total], "l" + "r" * (len(headers) - 1))
    return [*lines, "", *table, *note]


def _md_accountability(analysis: AnalysisOut) -> list[str]:
    lines = ["### Attainment by owner and month"]
    if not analysis.accountability.rules:
        return [*lines, "", "No clock or cadence."]
    for rule in analysis.accountability.rules:
        lines += ["", *_md_rule_detail(rule)]
    return lines


def _md_rule_detail(rule: RuleStatsOut) -> list[str]:
    def row(label: str, o: OutcomesOut) -> list[str]:
        return [label, count(o.met), count(o.breached), count(o.pending), percent(o.attainment)]

    heads = ["met", "breached", "pending", "attainment"]
    owners, note = _capped(
        [row(crm(b.key or "(no owner)"), b.outcomes) for b in rule.by_owner], "owners"
    )
    months = [row(md(period_label(p.period)), p.outcomes) for p in rule.by_month]
    return [
        "<details>",
        # Markdown is not parsed inside an HTML block: escape for HTML instead.
        f"<summary><code>{html.escape(rule.rule)}</code> ({rule.kind}) {html.escape(rule.title)}"
        f": {percent(rule.outcomes.attainment)}</summary>",
        "",
        *_md_table(["owner at as-of", *heads], owners, "lrrrr"),
        *note,
        "",
        *_md_table(["month of start", *heads], months, "lrrrr"),
        "",
        "</details>",
    ]


# ---------------------------------------------------------------- JUnit

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can hold: forbidden characters replaced (ElementTree escapes the rest)."""
    return _XML_INVALID.sub("\ufffd", text)


def _where(clause: str) -> dict[str, str]:
    file, _, line = clause.rpartition(":")
    return {"file": _xml(file), "line": line} if file and line.isdigit() else {}


def render_junit(report: Report) -> str:
    """JUnit XML: a testsuite of clocks and cadences and one of targets, a testcase for each."""
    analysis = _analysis(report)
    rules = [(rule, judge_rule(rule, analysis.targets)) for rule in report.rules]
    targets = [(target, judge_target(target)) for target in analysis.targets]
    every = [j for _, j in rules] + [j for _, j in targets]
    title = _xml(report.agreement.title)
    root = ET.Element(
        "testsuites",
        {
            "name": f"slaspec replay: {title}",
            "tests": str(len(every)),
            "failures": str(sum(j.status == "fail" for j in every)),
            "errors": "0",
            "skipped": str(sum(j.status == "skip" for j in every)),
        },
    )
    clocks = _suite(root, "clocks and cadences", [j for _, j in rules], report)
    for rule, judgement in rules:
        case = ET.SubElement(
            clocks,
            "testcase",
            {
                "name": _xml(f"{rule.name}: {rule.title}"),
                "classname": f"slaspec.{rule.kind}s",
                **_where(rule.clause),
            },
        )
        details = [
            f"{team.team or '(no team)'}: {percent(team.attainment)} "
            f"({team.met} met, {team.breached} breached, {team.pending} pending)"
            for team in rule.by_team
        ]
        _outcome(case, judgement, "AttainmentBelowGoal", details)
    suite = _suite(root, "targets", [j for _, j in targets], report)
    for target, judgement in targets:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": _xml(f"{target.name}: {target.title}"),
                "classname": "slaspec.targets",
                **_where(target.clause),
            },
        )
        _outcome(case, judgement, "TargetMissed", [target_sentence(target), *judgement.details])
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(
    root: ET.Element, name: str, judgements: Sequence[Judgement], report: Report
) -> ET.Element:
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": name,
            "tests": str(len(judgements)),
            "failures": str(sum(j.status == "fail" for j in judgements)),
            "errors": "0",
            "skipped": str(sum(j.status == "skip" for j in judgements)),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("agreement", report.agreement.title),
        ("agreement_version", report.agreement.version),
        ("as_of", report.as_of),
        ("timezone", report.agreement.timezone),
    ):
        ET.SubElement(properties, "property", {"name": key, "value": _xml(value)})
    return suite


def _outcome(case: ET.Element, judgement: Judgement, kind: str, details: Sequence[str]) -> None:
    text = _xml("\n".join([judgement.message, *details]) + "\n")
    match judgement.status:
        case "fail":
            failure = ET.SubElement(case, "failure", {"message": _xml(judgement.message),
                                                      "type": kind})  # fmt: skip
            failure.text = text
        case "skip":
            ET.SubElement(case, "skipped", {"message": _xml(judgement.message)})
            ET.SubElement(case, "system-out").text = text
        case "pass":
            ET.SubElement(case, "system-out").text = text
