"""Charts: layout of the lifecycle, every chart well-formed, labelled, escaped and deterministic."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, check_text
from slaspec import svg
from slaspec.analysis import (
    Commitment,
    Funnel,
    FunnelStep,
    Heatmap,
    Period,
    StageStats,
    Summary,
    TargetPeriod,
    TargetStats,
    Verdict,
    main_path,
)
from slaspec.compiler import Agreement

SVG = "{http://www.w3.org/2000/svg}"
AGREEMENTS = sorted((ROOT / "agreements").glob("*.sla"))
HOUR = 3_600_000_000


def compiled(path: Path) -> Agreement:
    checked = check_text(path.read_text(encoding="utf-8"), path.name)
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


def parse(text: str) -> ET.Element:
    """The chart as XML: it must be well-formed, a labelled image, with a title and a desc."""
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text
    assert desc is not None and desc.text
    assert "id=" not in text and "<script" not in text and "href" not in text
    # Fixed decimals everywhere: no float repr leaks (no exponent, no long fractions).
    for number in re.findall(r' (?:x|y|x1|y1|x2|y2|width|height|r|cx|cy)="([^"]*)"', text):
        assert re.fullmatch(r"-?\d+\.\d", number), number
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


HARBOUR = compiled(ROOT / "agreements" / "harbour-b2b.sla")


# ---------------------------------------------------------------- formatting helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0"),
        (-0.04, "0.0"),
        (1.25, "1.2"),
        (1.35, "1.4"),
        (1e-9, "0.0"),
        (12345.678, "12345.7"),
    ],
)
def test_num_has_one_fixed_decimal(value: float, text: str) -> None:
    assert svg.num(value) == text


@settings(max_examples=200)
@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
def test_num_never_prints_an_exponent_or_negative_zero(value: float) -> None:
    text = svg.num(value)
    assert re.fullmatch(r"-?\d+\.\d", text)
    assert text != "-0.0"


def test_percent_and_count() -> None:
    assert (svg.percent(0.8465), svg.percent(None), svg.percent(0.9, 0)) == ("84.7%", "-", "90%")
    assert svg.count(1234567) == "1,234,567"


def test_esc_escapes_markup_and_quotes() -> None:
    assert (
        svg.esc("<a href=\"x\">'&'</a>")
        == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
    )


# ---------------------------------------------------------------- the lifecycle


def test_harbour_layout_puts_the_main_path_on_top_and_the_others_beside_their_neighbours() -> None:
    cells = svg.layout(HARBOUR)
    path = main_path(HARBOUR)
    assert path == ("inquiry", "mql", "sal", "sql", "opportunity", "won")
    assert [cells[stage] for stage in path] == [(0, column) for column in range(6)]
    # nurture is linked to mql (1), sal (2) and sql (3): under their mean column.
    assert cells["nurture"] == (1, 2)
    # lost is reached only from opportunity (4).
    assert cells["lost"] == (1, 4)


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda path: path.name)
def test_every_example_lays_out_without_overlap(path: Path) -> None:
    agreement = compiled(path)
    cells = svg.layout(agreement)
    assert set(cells) == set(agreement.stages)
    assert len(set(cells.values())) == len(cells)
    on_path = main_path(agreement)
    assert {stage for stage, (row, _) in cells.items() if row == 0} == set(on_path)


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda path: path.name)
def test_lifecycle_draws_every_stage_and_handoff(path: Path) -> None:
    agreement = compiled(path)
    text = svg.lifecycle_svg(agreement)
    root = parse(text)
    shown = texts(root)
    for name in agreement.stages:
        assert name in shown
    # One arrow (a path with a polygon head) per handoff, none without.
    arrows = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}path") is not None]
    assert len(arrows) == len(agreement.handoffs)
    assert all(g.find(f"{SVG}polygon") is not None for g in arrows)
    assert svg.lifecycle_svg(agreement) == text


def test_lifecycle_labels_each_handoff_with_its_volume_and_styles_terminals() -> None:
    volumes = {pair: 10 * (index + 1) ** 2 for index, pair in enumerate(HARBOUR.handoffs)}
    volumes[("opportunity", "lost")] = 0
    root = parse(svg.lifecycle_svg(HARBOUR, volumes))
    shown = texts(root)
    for pair, volume in volumes.items():
        assert svg.count(volume) in shown, pair
    titles = [g.findtext(f"{SVG}title") or "" for g in root.iter(f"{SVG}g")]
    assert "Deal lost (opportunity \u2192 lost): 0 leads" in titles
    # Terminal stages are dark boxes with light text; the others are white.
    fills = {
        g.findtext(f"{SVG}title", "").split(" (")[0]: g.find(f"{SVG}rect").get("fill")  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
        if g.find(f"{SVG}rect") is not None and g.find(f"{SVG}path") is None
    }
    assert fills["Closed won"] == fills["Closed lost"] == svg.TERMINAL
    assert fills["Inquiry"] == svg.PAPER
    # The busiest handoff has the thickest arrow.
    widths = {
        g.findtext(f"{SVG}title", ""): float(g.find(f"{SVG}path").get("stroke-width", "0"))  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
        if g.find(f"{SVG}path") is not None
    }
    busiest = max(widths, key=lambda title: widths[title])
    assert busiest.endswith(f": {svg.count(max(volumes.values()))} leads")
    assert widths["Deal lost (opportunity \u2192 lost): 0 leads"] == min(widths.values())


def test_lifecycle_escapes_titles() -> None:
    text = (ROOT / "agreements" / "solo-consultant.sla").read_text(encoding="utf-8")
    title = re.search(r'agreement "([^"]*)"', text)
    assert title is not None
    hostile = text.replace(title.group(0), 'agreement "<script>alert(1)</script> & co"', 1)
    checked = check_text(hostile, "solo.sla")
    assert checked.agreement is not None, checked.diagnostics
    drawn = svg.lifecycle_svg(checked.agreement)
    assert "<script>" not in drawn
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in drawn
    root = parse(drawn)
    assert root.findtext(f"{SVG}title") == "Lifecycle of <script>alert(1)</script> & co"


# ---------------------------------------------------------------- the other charts


def test_funnel_shows_counts_and_conversions() -> None:
    funnel = Funnel(
        ("a", "b", "c"),
        (FunnelStep("a", "b", 200, 50, 0.25), FunnelStep("b", "c", 60, 0, 0.0)),
    )
    root = parse(svg.funnel_svg(funnel, {"a": 200, "b": 60, "c": 0}))
    shown = texts(root)
    assert {"a", "b", "c", "200", "60", "0"} <= set(shown)
    assert "\u2193 25.0% reached b (50 of 200)" in shown
    assert "\u2193 0.0% reached c (0 of 60)" in shown
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == svg.PRIMARY]
    assert [float(r.get("width", "0")) for r in bars] == [490.0, 147.0]


def _summary(*values: int) -> Summary:
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2] if ordered else None
    return Summary(len(ordered), sum(ordered), middle, ordered[-1] if ordered else None,
                   ordered[-1] if ordered else None)  # fmt: skip


def _stage(name: str, dwell: Summary, terminal: bool = False, open_: int = 0) -> StageStats:
    empty = _summary()
    return StageStats(name, name.title(), None, terminal, None, dwell.count, dwell.count, (),
                      dwell, empty, open_, empty, empty, (), 0, 0, 0)  # fmt: skip


def test_dwell_chart_orders_median_p90_and_limit_on_a_log_axis() -> None:
    stages = [
        _stage("quick", _summary(HOUR // 60, HOUR // 6, HOUR)),
        _stage("slow", _summary(HOUR, 10 * HOUR, 100 * HOUR), open_=3),
        _stage("idle", _summary()),
        _stage("done", _summary(HOUR), terminal=True),
    ]
    root = parse(svg.dwell_svg(stages, {"slow": 17 * HOUR}))
    shown = texts(root)
    assert "done" not in shown  # terminal stages have no dwell to show
    assert "no completed stays" in shown
    assert any("median 10h 00m" in line and "3 open now" in line for line in shown)
    assert {"1m", "10m", "1h", "10h", "100h"} <= set(shown)
    limit = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke") == svg.MISSED]
    # One limit line in the legend, one on the slow stage between 10h and 100h.
    assert len(limit) == 2
    ticks = {
        t.text: float(t.get("x", "0")) for t in root.iter(f"{SVG}text") if t.text in ("10h", "100h")
    }
    assert ticks["10h"] < float(limit[1].get("x1", "0")) < ticks["100h"]


def test_heatmap_has_a_cell_per_hour_and_darker_means_more() -> None:
    counts = [[0] * 24 for _ in range(7)]
    counts[1][10] = 24
    counts[2][9] = 6
    heatmap = Heatmap(tuple(tuple(day) for day in counts), 30)
    root = parse(svg.heatmap_svg(heatmap))
    cells = {
        (g.findtext(f"{SVG}title") or ""): g.find(f"{SVG}rect").get("fill")  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
    }
    assert len(cells) == 7 * 24
    assert cells["Tue 10:00\u201311:00: 24 breached"] == "#103a63"
    light = cells["Wed 09:00\u201310:00: 6 breached"]
    assert light not in ("#103a63", "#f8fafc")
    assert cells["Sun 23:00\u201300:00: 0 breached"] == "#f8fafc"
    assert "30 breaches in all" in texts(root)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=168, max_size=168))
def test_heatmap_is_well_formed_and_deterministic_for_any_counts(flat: list[int]) -> None:
    heatmap = Heatmap(tuple(tuple(flat[d * 24 : d * 24 + 24]) for d in range(7)), sum(flat))
    text = svg.heatmap_svg(heatmap)
    assert text == svg.heatmap_svg(heatmap)
    parse(text)


def _period(label: str, partial: bool = False) -> Period:
    return Period("month", label, 0, 1, partial)


def _target(kind: str, goal: Decimal, rows: list[TargetPeriod]) -> TargetStats:
    return TargetStats("t", "A <target>", kind, "month", "at least", goal, "mql", None,  # type: ignore[arg-type]
                       None, "a.sla:1", tuple(rows), 1, 1, Verdict.MISSED)  # fmt: skip


def test_target_chart_draws_the_goal_line_and_colours_each_period() -> None:
    rows = [
        TargetPeriod(_period("2026-01"), 9, 10, 0.9, Verdict.MET),
        TargetPeriod(_period("2026-02"), 5, 10, 0.5, Verdict.MISSED),
        TargetPeriod(_period("2026-03"), 0, 0, None, None),
        TargetPeriod(_period("2026-04", partial=True), 4, 4, 1.0, Verdict.MET),
    ]
    text = svg.target_svg(_target("conversion", Decimal("0.8"), rows))
    root = parse(text)
    assert "&lt;target&gt;" in text
    shown = texts(root)
    assert "goal at least 80%" in shown
    assert {"2026-01", "2026-02", "2026-03", "2026-04", "90.0%", "50.0%"} <= set(shown)
    goal = next(ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray") == "6 3")
    hundred = next(t for t in root.iter(f"{SVG}text") if t.text == "100%")
    zero = next(t for t in root.iter(f"{SVG}text") if t.text == "0%")
    top, bottom = float(hundred.get("y", "0")) - 4, float(zero.get("y", "0")) - 4
    assert float(goal.get("y1", "0")) == pytest.approx(bottom - 0.8 * (bottom - top), abs=0.1)
    bars = [g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")]
    fills = [None if bar is None else bar.get("fill") for bar in bars]
    assert fills == [svg.MET, svg.MISSED, None, svg.MET]
    assert bars[3] is not None and bars[3].get("fill-opacity") == "0.45"


def test_volume_target_axis_counts_leads() -> None:
    rows = [TargetPeriod(_period("2026-01"), 126, None, 126.0, Verdict.MET),
            TargetPeriod(_period("2026-02"), 322, None, 322.0, Verdict.MET)]  # fmt: skip
    shown = texts(parse(svg.target_svg(_target("volume", Decimal(120), rows))))
    assert {"goal at least 120", "126", "322", "400", "0"} <= set(shown)


def test_scorecard_groups_by_team_and_marks_the_goal() -> None:
    lines = [
        Commitment("sdr", "speed", "first_touch", "First touch", 85, 100, 0.85, "ft",
                   Decimal("0.9"), "at least", 5, 2, Verdict.MISSED),
        Commitment("sdr", "criteria", "sdr", "Criteria met", 9, 10, 0.9, None, None, None,
                   0, 0, None),
        Commitment("marketing", "volume", "mql", "MQLs", 1102, None, None, "v", Decimal(120),
                   "at least", 5, 4, Verdict.MISSED),
        Commitment(None, "speed", "x", "Unowned <clock>", 0, 0, None, None, None, None, 0, 0,
                   None),
    ]  # fmt: skip
    text = svg.scorecard_svg(lines, {"sdr": "Sales development"})
    root = parse(text)
    shown = texts(root)
    assert shown.index("Sales development (sdr)") < shown.index("First touch")
    assert "marketing" in shown and "(no team)" in shown
    assert "85.0% (85 of 100)" in shown and "1,102 leads" in shown
    assert "goal at least 90%: 2 of 5 periods met \u2014 missed" in shown
    assert "Unowned &lt;clock&gt;" in text
    bar = next(r for r in root.iter(f"{SVG}rect") if r.get("fill") == svg.MISSED)
    assert float(bar.get("width", "0")) == pytest.approx(0.85 * 300, abs=0.1)


def test_bars_escape_labels_and_scale_to_the_largest() -> None:
    root = parse(svg.bars_svg([("<b>stall</b>", 40), ("clock", 10), ("none", 0)], "Kinds"))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == svg.PRIMARY]
    assert [float(r.get("width", "0")) for r in bars] == [380.0, 95.0, 0.0]
    assert "<b>stall</b>" in texts(root)
