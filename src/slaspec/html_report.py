"""HTML report: a replay Report, its Analysis and the first violations -> one self-contained page.

The page is a single file with inline CSS and SVG (slaspec.svg draws every chart) and one small
inline script that sorts the violations table; it loads nothing, so it opens offline, and it is
complete with scripts off. It shows aggregates only: the violations table lists at most
VIOLATIONS_SHOWN rows and says where the full list is. render.render_template fills the
jinja2 template, which autoescapes; the SVG it marks safe is escaped by slaspec.svg.
"""

from __future__ import annotations

import datetime as dt
import shlex
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from slaspec import svg
from slaspec.analysis import Analysis, Verdict
from slaspec.compiler import Agreement
from slaspec.render import render_template
from slaspec.report import Report
from slaspec.results import Violation, human_duration

VIOLATIONS_SHOWN = 1000
"""How many violations the HTML table lists; the CSV and JSON reports list all of them."""
MAX_ROWS_LISTED = 3
"""How many input rows a violation's row cell names before it says how many more there are."""

_US = 1_000_000
# A target chart of this many periods or fewer is narrow enough to sit beside another.
_NARROW_PERIODS = 12
_KIND_LABELS = {
    "invalid_entry": "Invalid entry",
    "illegal_transition": "Illegal transition",
    "criteria_unmet": "Criteria unmet",
    "stall": "Stall",
    "clock_breached": "Clock breached",
    "cadence_breached": "Cadence breached",
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the page: an anchor, a heading, what it shows, and the SVG."""

    key: str
    heading: str
    caption: str
    svg: str
    wide: bool = True  # a narrow chart shares its row with the next one


@dataclass(frozen=True, slots=True)
class ViolationRow:
    """A violations table row as text, with the sort key of its time."""

    lead: str
    kind: str
    rule: str
    responsible: str
    at: str
    at_key: int
    clause: str
    message: str
    conditions: tuple[tuple[str, str], ...]
    rows: str
    version: str  # the agreement version that judged it; empty without versions


def local_time(micros: int, zone: zoneinfo.ZoneInfo) -> str:
    """An instant as local date and time to the minute, with the zone's abbreviation."""
    moment = dt.datetime.fromtimestamp(micros // _US, zone)
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _rows(violation: Violation) -> str:
    """The input rows behind a violation, grouped by file: `log.csv rows 12, 15`."""
    listed = violation.rows[:MAX_ROWS_LISTED]
    groups: list[tuple[str, list[str]]] = []
    for origin in listed:
        if groups and groups[-1][0] == origin.file:
            groups[-1][1].append(str(origin.row))
        else:
            groups.append((origin.file, [str(origin.row)]))
    text = "; ".join(
        f"{file} row{'s' if len(rows) > 1 else ''} {', '.join(rows)}" for file, rows in groups
    )
    extra = len(violation.rows) - len(listed)
    if extra > 0:
        text += f" and {extra:,} more"
    return text


def _violation_row(violation: Violation, zone: zoneinfo.ZoneInfo) -> ViolationRow:
    return ViolationRow(
        lead=violation.lead,
        kind=violation.kind.value,
        rule=violation.rule,
        responsible=violation.responsible or "",
        at=local_time(violation.at, zone),
        at_key=violation.at,
        clause=violation.clause,
        message=violation.message,
        conditions=violation.details,
        rows=_rows(violation),
        version=violation.version or "",
    )


def full_list_command(report: Report) -> str:
    """The command that writes every violation of this replay to a CSV file."""
    agreements = [item.path for item in report.inputs if item.kind == "agreement"][:1]
    history: list[str] = []
    for version in report.agreement.versions or ():
        if version.files and version.files[0] not in agreements:
            history += ["--history", version.files[0]]
    logs = [item.path for item in report.inputs if item.kind == "log"]
    words = ["slaspec", "replay", *agreements, *history, *logs, "--report", "csv=violations.csv"]
    return shlex.join(words)


def _charts(analysis: Analysis, agreement: Agreement, report: Report) -> list[Chart]:
    flows = analysis.bottlenecks.flows
    volumes = {(flow.source, flow.target): flow.count for flow in flows if flow.declared}
    entered = dict(analysis.overall.entered)
    limits = {
        name: stage.max_dwell.micros
        for name, stage in agreement.stages.items()
        if stage.max_dwell is not None
    }
    heatmap = analysis.accountability.heatmap
    charts = [
        Chart(
            "lifecycle",
            "Lifecycle and handoff volumes",
            "Each box is a stage; the main path runs left to right and the other stages sit "
            "beside it. Each arrow is a declared handoff, labelled with the number of stays that "
            "ended by moving along it; thicker arrows carried more leads. Dark boxes are "
            "terminal stages.",
            svg.lifecycle_svg(agreement, volumes),
        ),
        Chart(
            "funnel",
            "Funnel along the main path",
            "Bars: distinct leads that entered each stage. Between bars: of the leads that "
            "entered a stage, the share that later entered the next one.",
            svg.funnel_svg(analysis.funnel, entered),
        ),
        Chart(
            "dwell",
            "Dwell time per stage",
            "Business time of completed stays on each stage's calendar: the dark bar reaches "
            "the median, the light bar the 90th percentile, the black tick the longest stay; "
            "the red line is the stage's max dwell.",
            svg.dwell_svg(analysis.bottlenecks.stages, limits),
        ),
        Chart(
            "heatmap",
            "When breaches start",
            f"Breached clock and cadence cycles ({heatmap.total:,} in all) by the weekday and "
            f"hour they started, in {analysis.timezone}. Darker cells had more.",
            svg.heatmap_svg(heatmap),
        ),
    ]
    for target in analysis.targets:
        verdict = target.verdict.value if target.verdict is not None else "not judged yet"
        charts.append(
            Chart(
                f"target-{target.name}",
                f"Target: {target.title}",
                f"{target.clause}: each {target.period}, {target.bound} "
                + (
                    f"{target.goal:,} leads enter {target.subject}"
                    if target.kind == "volume"
                    else f"{svg.percent(float(target.goal), 0)} ({target.kind} of {target.subject})"
                )
                + (f" within {target.window}" if target.window else "")
                + f". Kept in {target.met} of {target.met + target.missed} complete"
                f" {target.period}s, so the target is {verdict}.",
                svg.target_svg(target),
                wide=len(target.periods) > _NARROW_PERIODS,
            )
        )
    charts.append(
        Chart(
            "scorecard",
            "Team scorecard",
            "Each team's commitments over the whole replay; where the agreement sets a target "
            "for the same measure, its goal and how many complete periods kept it.",
            svg.scorecard_svg(analysis.accountability.scorecard, agreement.teams),
        )
    )
    kinds = sorted(report.violations_by_kind.items(), key=lambda item: (-item[1], item[0]))
    charts.append(
        Chart(
            "violations-by-kind",
            "Violations by kind",
            "Every violation of the replay, counted by the kind of promise it broke.",
            svg.bars_svg([(_KIND_LABELS.get(kind, kind), n) for kind, n in kinds],
                         "Violations by kind"),
        )
    )  # fmt: skip
    return charts


def render_html(
    report: Report,
    analysis: Analysis,
    agreement: Agreement,
    violations: Sequence[Violation],
    violation_total: int,
) -> str:
    """The replay report as one self-contained HTML page."""
    zone = zoneinfo.ZoneInfo(analysis.timezone)
    shown = list(violations[:VIOLATIONS_SHOWN])
    capped = violation_total > len(shown)
    stages = analysis.bottlenecks.stages
    breaches = sum(rule.outcomes.breached for rule in analysis.accountability.rules)
    scorecard = analysis.accountability.scorecard
    figures = [
        ("Rows read", f"{report.accounting.read:,}"),
        ("Leads", f"{analysis.overall.leads:,}"),
        ("Won at as-of", f"{analysis.overall.won:,}"),
        ("Violations", f"{violation_total:,}"),
        ("Breached cycles", f"{breaches:,}"),
        (
            "Targets missed",
            f"{sum(t.verdict is Verdict.MISSED for t in analysis.targets)} of "
            f"{len(analysis.targets)}",
        ),
    ]
    return render_template(
        "report.html.j2",
        report=report,
        analysis=analysis,
        agreement=agreement,
        as_of=local_time(analysis.as_of, zone),
        first_event=(
            local_time(analysis.first_event, zone) if analysis.first_event is not None else None
        ),
        figures=figures,
        charts=_charts(analysis, agreement, report),
        undeclared=[flow for flow in analysis.bottlenecks.flows if not flow.declared],
        stages=stages,
        ranking=analysis.bottlenecks.ranking,
        rules=report.rules,
        scorecard=scorecard,
        loops=analysis.closed_loop,
        overall=analysis.overall,
        violations=[_violation_row(v, zone) for v in shown],
        violation_total=violation_total,
        capped=capped,
        command=full_list_command(report),
        versions=report.agreement.versions or [],
        version_column=len(report.agreement.versions or ()) > 1,
        kind_labels=_KIND_LABELS,
        human=human_duration,
        percent=svg.percent,
        local=lambda micros: local_time(micros, zone),
    )
