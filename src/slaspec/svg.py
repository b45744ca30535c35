"""Charts: a compiled Agreement and the numbers of an Analysis -> inline SVG text.

Every function is pure and returns one `<svg role="img">` element with a `<title>` and a
`<desc>`, styled by attributes only (no ids, no CSS classes, no markers), so several charts can
sit in one HTML page, in a Markdown document or in a file of their own. Every text is escaped and
every coordinate is written with one decimal, so the same input gives the same bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from slaspec.analysis import (
    Commitment,
    Funnel,
    Heatmap,
    StageStats,
    TargetStats,
    Verdict,
    main_path,
)
from slaspec.compiler import Agreement
from slaspec.results import human_duration

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2933"
MUTED = "#52606d"
GRID = "#d9e2ec"
PAPER = "#ffffff"
PRIMARY = "#2f6690"
PRIMARY_LIGHT = "#9cc3e0"
MET = "#2f6690"
MISSED = "#b4472f"
PARTIAL = "#9aa5b1"
TERMINAL = "#243b53"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The heatmap's colour ramp, from no breach to the busiest hour (a single-hue blue ramp that
# stays readable in grey and for the common colour-vision deficiencies).
_RAMP = ((0xEE, 0xF3, 0xF8), (0x10, 0x3A, 0x63))


def esc(text: object) -> str:
    """Text escaped for an SVG or HTML text node or attribute."""
    return html.escape(str(text), quote=True)


def num(value: float) -> str:
    """A coordinate with one fixed decimal, so output never depends on float printing."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def count(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def percent(value: float | None, decimals: int = 1) -> str:
    """A ratio as a percentage, or a dash when there is none."""
    if value is None:
        return "-"
    return f"{value * 100:.{decimals}f}%"


def _width(text: str, size: float) -> float:
    """An estimate of the rendered width of text in the sans-serif stack."""
    return len(text) * size * 0.56


def _fit(text: str, size: float, room: float) -> str:
    """Text shortened with an ellipsis to fit a width."""
    if _width(text, size) <= room:
        return text
    keep = max(1, int(room / (size * 0.56)) - 1)
    return text[:keep].rstrip() + "\u2026"


def _text(
    x: float,
    y: float,
    text: str,
    size: float = 12,
    fill: str = INK,
    anchor: str = "start",
    weight: str | None = None,
    halo_: bool = False,
) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    # A white outline painted under the glyphs keeps a label readable over lines and bars.
    halo = f' stroke="{PAPER}" stroke-width="3" paint-order="stroke"' if halo_ else ""
    return (
        f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" fill="{fill}"'
        f' text-anchor="{anchor}"{bold}{halo}>{esc(text)}</text>'
    )


def _rect(
    x: float,
    y: float,
    width: float,
    height: float,
    fill: str,
    stroke: str | None = None,
    radius: float = 0,
    extra: str = "",
) -> str:
    line = f' stroke="{stroke}" stroke-width="1"' if stroke else ""
    rounded = f' rx="{num(radius)}"' if radius else ""
    return (
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(width, 0))}"'
        f' height="{num(max(height, 0))}" fill="{fill}"{line}{rounded}{extra}/>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, extra: str = "") -> str:
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}"'
        f' stroke="{stroke}"{extra}/>'
    )


def _svg(width: float, height: float, title: str, desc: str, body: Iterable[str]) -> str:
    """The outer element: a labelled image of a fixed size that scales down with its container."""
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{num(width)}"'
            f' height="{num(height)}" viewBox="0 0 {num(width)} {num(height)}"'
            f' font-family="{esc(FONT)}">',
            f"<title>{esc(title)}</title><desc>{esc(desc)}</desc>",
            _rect(0, 0, width, height, PAPER),
            *body,
            "</svg>",
        ]
    )


# ---------------------------------------------------------------- the lifecycle

_BOX_W = 176.0
_BOX_H = 72.0
_GAP_X = 72.0
_GAP_Y = 92.0
_MARGIN = 24.0


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    row: int
    column: int

    @property
    def cx(self) -> float:
        return self.x + _BOX_W / 2

    @property
    def cy(self) -> float:
        return self.y + _BOX_H / 2


def layout(agreement: Agreement) -> dict[str, tuple[int, int]]:
    """Stage -> (row, column): the main path on row 0, other stages beside their neighbours."""
    path = main_path(agreement)
    cells: dict[str, tuple[int, int]] = {stage: (0, index) for index, stage in enumerate(path)}
    taken = set(cells.values())
    neighbours: dict[str, list[str]] = {name: [] for name in agreement.stages}
    for source, target in agreement.handoffs:
        neighbours[source].append(target)
        neighbours[target].append(source)
    waiting = [name for name in agreement.stages if name not in cells]
    # Off-path stages go under the mean column of their placed neighbours; a stage whose
    # neighbours are all unplaced waits for them, and isolated stages fill free cells last.
    while waiting:
        placeable = [name for name in waiting if any(other in cells for other in neighbours[name])]
        chosen = placeable[0] if placeable else waiting[0]
        columns = [cells[other][1] for other in neighbours[chosen] if other in cells]
        wanted = (2 * sum(columns) + len(columns)) // (2 * len(columns)) if columns else 0
        cells[chosen] = _free(taken, wanted)
        taken.add(cells[chosen])
        waiting.remove(chosen)
    return cells


def _free(taken: set[tuple[int, int]], wanted: int) -> tuple[int, int]:
    """The free cell nearest to a column, on the first row below the main path that has one."""
    row = 1
    while True:
        for shift in range(0, 64):
            for column in (wanted + shift, wanted - shift) if shift else (wanted,):
                if column >= 0 and (row, column) not in taken:
                    return row, column
        row += 1


def _boxes(cells: Mapping[str, tuple[int, int]], top: float) -> dict[str, _Box]:
    return {
        name: _Box(_MARGIN + column * (_BOX_W + _GAP_X), top + row * (_BOX_H + _GAP_Y), row, column)
        for name, (row, column) in cells.items()
    }


def _clip(box: _Box, toward_x: float, toward_y: float) -> tuple[float, float]:
    """Where the segment from a box's centre toward a point leaves the box."""
    dx, dy = toward_x - box.cx, toward_y - box.cy
    if dx == 0 and dy == 0:
        return box.cx, box.cy
    scale = min(
        (_BOX_W / 2) / abs(dx) if dx else math.inf,
        (_BOX_H / 2) / abs(dy) if dy else math.inf,
    )
    return box.cx + dx * scale, box.cy + dy * scale


def _arrowhead(x: float, y: float, from_x: float, from_y: float, size: float, fill: str) -> str:
    angle = math.atan2(y - from_y, x - from_x)
    left = (x - size * math.cos(angle - 0.45), y - size * math.sin(angle - 0.45))
    right = (x - size * math.cos(angle + 0.45), y - size * math.sin(angle + 0.45))
    points = " ".join(f"{num(px)},{num(py)}" for px, py in ((x, y), left, right))
    return f'<polygon points="{points}" fill="{fill}"/>'


def _edge_geometry(
    a: _Box, b: _Box, both_ways: bool
) -> tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Path data, label point, end point and the point the arrow comes from."""
    if a.row == b.row and b.column == a.column + 1:
        shift = -7.0 if both_ways else 0.0
        x1, x2, y = a.x + _BOX_W, b.x, a.cy + shift
        return f"M{num(x1)},{num(y)} L{num(x2)},{num(y)}", ((x1 + x2) / 2, y), (x2, y), (x1, y)
    if a.row == b.row and a.column == b.column + 1:
        shift = 7.0
        x1, x2, y = a.x, b.x + _BOX_W, a.cy + shift
        return f"M{num(x1)},{num(y)} L{num(x2)},{num(y)}", ((x1 + x2) / 2, y), (x2, y), (x1, y)
    if a.row == b.row:
        # A jump along a row arcs above the main path and below the rows under it.
        up = -1.0 if a.row == 0 else 1.0
        span = abs(b.column - a.column)
        lift = 26.0 + 14.0 * span
        x1, x2 = a.cx + (12 if b.column > a.column else -12), b.cx
        y1 = a.y if up < 0 else a.y + _BOX_H
        control = y1 + up * lift * 4 / 3
        path = (
            f"M{num(x1)},{num(y1)} C{num(x1)},{num(control)} {num(x2)},{num(control)}"
            f" {num(x2)},{num(y1)}"
        )
        return path, ((x1 + x2) / 2, y1 + up * lift), (x2, y1), (x2, control)
    # Between rows: a straight line from border to border, offset when both directions exist.
    dx, dy = b.cx - a.cx, b.cy - a.cy
    length = math.hypot(dx, dy)
    offset = 7.0 if both_ways else 0.0
    ox, oy = -dy / length * offset, dx / length * offset
    start = _clip(a, b.cx + ox, b.cy + oy)
    end = _clip(b, a.cx + ox, a.cy + oy)
    start = (start[0] + ox, start[1] + oy)
    end = (end[0] + ox, end[1] + oy)
    path = f"M{num(start[0])},{num(start[1])} L{num(end[0])},{num(end[1])}"
    # The label sits nearer the source: two arrows that cross at their middles keep both labels.
    label = (start[0] + (end[0] - start[0]) * 0.38, start[1] + (end[1] - start[1]) * 0.38)
    return path, label, end, start


def lifecycle_svg(
    agreement: Agreement, volumes: Mapping[tuple[str, str], int] | None = None
) -> str:
    """The lifecycle: stages as boxes along the main path, handoffs as arrows with their volumes."""
    cells = layout(agreement)
    rows = 1 + max((row for row, _ in cells.values()), default=0)
    columns = 1 + max((column for _, column in cells.values()), default=0)
    # Room above the main path and below the last row for the arcs of jumps along a row.
    spans_top = [
        abs(cells[b][1] - cells[a][1])
        for a, b in agreement.handoffs
        if cells[a][0] == cells[b][0] == 0 and abs(cells[b][1] - cells[a][1]) > 1
    ]
    spans_bottom = [
        abs(cells[b][1] - cells[a][1])
        for a, b in agreement.handoffs
        if cells[a][0] == cells[b][0] > 0 and abs(cells[b][1] - cells[a][1]) > 1
    ]
    top = _MARGIN + (30.0 + 14.0 * max(spans_top) if spans_top else 0.0)
    bottom = _MARGIN + (30.0 + 14.0 * max(spans_bottom) if spans_bottom else 0.0)
    boxes = _boxes(cells, top)
    width = 2 * _MARGIN + columns * _BOX_W + (columns - 1) * _GAP_X
    height = top + rows * _BOX_H + (rows - 1) * _GAP_Y + bottom
    largest = (
        max((volumes.get(pair, 0) for pair in agreement.handoffs), default=0) if volumes else 0
    )

    edges: list[str] = []
    labels: list[str] = []
    for (source, target), handoff in agreement.handoffs.items():
        both_ways = (target, source) in agreement.handoffs
        path, (lx, ly), end, before = _edge_geometry(boxes[source], boxes[target], both_ways)
        volume = volumes.get((source, target), 0) if volumes is not None else None
        stroke = 1.6
        colour = MUTED
        if volume is not None:
            share = math.sqrt(volume / largest) if largest else 0.0
            stroke = 1.2 + 5.0 * share
            colour = PRIMARY if volume else PARTIAL
        tip = f"{handoff.title} ({source} \u2192 {target})"
        if volume is not None:
            tip += f": {count(volume)} leads"
        dash = ' stroke-dasharray="4 3"' if volume == 0 else ""
        edges.append(
            f'<g><title>{esc(tip)}</title><path d="{path}" fill="none" stroke="{colour}"'
            f' stroke-width="{num(stroke)}"{dash}/>'
            + _arrowhead(*end, *before, 7.0 + stroke, colour)
            + "</g>"
        )
        if volume is not None:
            text = count(volume)
            room = _width(text, 11) + 10
            labels.append(
                _rect(lx - room / 2, ly - 9, room, 18, PAPER, GRID, 9)
                + _text(lx, ly + 4, text, 11, INK, "middle", "600")
            )

    nodes: list[str] = []
    for name, stage in agreement.stages.items():
        box = boxes[name]
        fill, ink, muted = (TERMINAL, PAPER, "#d9e2ec") if stage.terminal else (PAPER, INK, MUTED)
        border = TERMINAL if stage.terminal else "#9fb3c8"
        parts = [
            f"<g><title>{esc(stage.title)} ({esc(name)})"
            f"{esc(', owner ' + stage.owner) if stage.owner else ''}</title>",
            _rect(box.x, box.y, _BOX_W, _BOX_H, fill, border, 6),
            _text(box.x + 10, box.y + 20, _fit(name, 13, _BOX_W - 20), 13, ink, "start", "700"),
            _text(box.x + 10, box.y + 36, _fit(stage.title, 11, _BOX_W - 20), 11, muted),
        ]
        facts = [f"owner {stage.owner}"] if stage.owner else []
        if stage.terminal:
            facts.append("terminal")
        elif stage.max_dwell is not None:
            facts.append(f"max dwell {stage.max_dwell.text}")
        for line, fact in enumerate(facts):
            parts.append(
                _text(box.x + 10, box.y + 51 + 13 * line, _fit(fact, 10, _BOX_W - 20), 10, muted)
            )
        if stage.initial and box.column == 0:
            parts.append(
                f'<circle cx="{num(box.x - 14)}" cy="{num(box.cy)}" r="5.0" fill="{INK}"/>'
                + _line(box.x - 9, box.cy, box.x - 1, box.cy, INK, ' stroke-width="1.6"')
            )
        elif stage.initial:
            # Further right the left side takes arrows from the previous stage: mark from above.
            x = box.x + _BOX_W - 18
            parts.append(
                f'<circle cx="{num(x)}" cy="{num(box.y - 14)}" r="5.0" fill="{INK}"/>'
                + _line(x, box.y - 9, x, box.y - 1, INK, ' stroke-width="1.6"')
            )
        parts.append("</g>")
        nodes.append("".join(parts))

    spine = main_path(agreement)
    desc = (
        f"{len(agreement.stages)} stages and {len(agreement.handoffs)} handoffs. Main path: "
        + (" \u2192 ".join(spine) if spine else "none")
        + "."
    )
    if volumes is not None:
        desc += " " + "; ".join(
            f"{a} \u2192 {b}: {count(volumes.get((a, b), 0))}" for a, b in agreement.handoffs
        )
    return _svg(width, height, f"Lifecycle of {agreement.title}", desc, [*edges, *nodes, *labels])


# ---------------------------------------------------------------- the funnel


def funnel_svg(funnel: Funnel, entered: Mapping[str, int]) -> str:
    """The main path as centred bars of leads entered, with the cohort conversion of each step."""
    stages = funnel.path
    width, label_w, bar_h, step_h = 760.0, 150.0, 30.0, 26.0
    room = width - label_w - 120
    height = 20 + len(stages) * bar_h + max(len(stages) - 1, 0) * step_h + 16
    largest = max((entered.get(stage, 0) for stage in stages), default=0)
    body: list[str] = []
    y = 20.0
    centre = label_w + room / 2
    for index, stage in enumerate(stages):
        value = entered.get(stage, 0)
        bar = room * value / largest if largest else 0.0
        bar = max(bar, 2.0) if value else 0.0
        body.append(_text(label_w - 12, y + bar_h / 2 + 4, _fit(stage, 12, label_w - 16), 12,
                          INK, "end", "600"))  # fmt: skip
        if value:
            body.append(_rect(centre - bar / 2, y, bar, bar_h, PRIMARY, radius=3))
        body.append(_text(centre + max(bar, 0) / 2 + 8, y + bar_h / 2 + 4, count(value), 12))
        y += bar_h
        if index < len(funnel.steps):
            step = funnel.steps[index]
            note = (
                f"\u2193 {percent(step.value)} reached {step.target}"
                f" ({count(step.converted)} of {count(step.entered)})"
            )
            body.append(_text(centre, y + step_h / 2 + 4, note, 11, MUTED, "middle"))
            y += step_h
    desc = "Distinct leads entering each stage of the main path: " + "; ".join(
        f"{stage} {count(entered.get(stage, 0))}" for stage in stages
    )
    return _svg(width, height, "Funnel along the main path", desc, body)


# ---------------------------------------------------------------- dwell distributions

_MINUTE = 60 * 1_000_000
_HOUR = 60 * _MINUTE


def _log_ticks(largest: float) -> list[int]:
    """Ticks from one minute by powers of ten of hours, up to one past the largest value."""
    ticks = [_MINUTE, 10 * _MINUTE, _HOUR]
    while ticks[-1] < largest:
        ticks.append(ticks[-1] * 10)
    return ticks


def _tick_label(micros: int) -> str:
    return f"{micros // _HOUR}h" if micros >= _HOUR else f"{micros // _MINUTE}m"


def dwell_svg(stages: Sequence[StageStats], limits: Mapping[str, int] | None = None) -> str:
    """Business time of completed stays per stage: median and 90th percentile bars, maximum tick.

    `limits` maps a stage to its `max dwell` in business microseconds, drawn as a red line.
    The axis is logarithmic: stays run from minutes to weeks.
    """
    limits = limits or {}
    shown = [stage for stage in stages if not stage.terminal]
    largest = max(
        [float(stage.dwell.max or 0) for stage in shown]
        + [float(limit) for name, limit in limits.items() if any(s.stage == name for s in shown)]
        + [float(_HOUR)]
    )
    ticks = _log_ticks(largest)
    low, high = math.log10(ticks[0]), math.log10(ticks[-1])
    left, width, row_h = 150.0, 760.0, 52.0
    right = width - 24
    top = 34.0
    height = top + len(shown) * row_h + 44

    def x_of(micros: float) -> float:
        value = min(max(math.log10(max(micros, ticks[0])), low), high)
        return left + (right - left) * (value - low) / (high - low)

    body: list[str] = []
    for tick in ticks:
        x = x_of(tick)
        body.append(_line(x, top - 6, x, top + len(shown) * row_h, GRID))
        body.append(_text(x, top + len(shown) * row_h + 16, _tick_label(tick), 11, MUTED,
                          "middle"))  # fmt: skip
    body.append(
        _text((left + right) / 2, height - 8, "business time in the stage (log scale)", 11, MUTED,
              "middle")
    )  # fmt: skip
    legend_x = left
    for colour, label in ((PRIMARY, "to median"), (PRIMARY_LIGHT, "median to 90th percentile")):
        body.append(_rect(legend_x, 8, 12, 12, colour, radius=2))
        body.append(_text(legend_x + 17, 18, label, 11, MUTED))
        legend_x += 24 + _width(label, 11)
    body.append(_line(legend_x, 8, legend_x, 20, INK, ' stroke-width="2"'))
    body.append(_text(legend_x + 6, 18, "longest", 11, MUTED))
    legend_x += 60
    body.append(_line(legend_x, 6, legend_x, 22, MISSED, ' stroke-width="2"'))
    body.append(_text(legend_x + 6, 18, "max dwell limit", 11, MUTED))
    for index, stage in enumerate(shown):
        y = top + index * row_h
        summary = stage.dwell
        body.append(_text(left - 12, y + 18, _fit(stage.stage, 12, left - 16), 12, INK, "end",
                          "600"))  # fmt: skip
        if summary.count and summary.median is not None and summary.p90 is not None:
            median_x, p90_x = x_of(summary.median), x_of(summary.p90)
            body.append(_rect(left, y + 8, median_x - left, 16, PRIMARY))
            body.append(_rect(median_x, y + 8, p90_x - median_x, 16, PRIMARY_LIGHT))
            if summary.max is not None:
                max_x = x_of(summary.max)
                body.append(_line(p90_x, y + 16, max_x, y + 16, MUTED))
                body.append(_line(max_x, y + 6, max_x, y + 26, INK, ' stroke-width="2"'))
            note = (
                f"median {human_duration(round(summary.median))} \u00b7 90th percentile"
                f" {human_duration(round(summary.p90))} \u00b7 longest"
                f" {human_duration(summary.max or 0)} \u00b7 {count(summary.count)} stays"
            )
        else:
            note = "no completed stays"
        if stage.open:
            note += f" \u00b7 {count(stage.open)} open now"
        body.append(_text(left, y + 40, note, 11, MUTED))
        limit = limits.get(stage.stage)
        if limit is not None:
            lx = x_of(limit)
            body.append(_line(lx, y + 2, lx, y + 30, MISSED, ' stroke-width="2"'))
    desc = "; ".join(
        f"{stage.stage}: median "
        + (human_duration(round(stage.dwell.median)) if stage.dwell.median is not None else "-")
        + ", 90th percentile "
        + (human_duration(round(stage.dwell.p90)) if stage.dwell.p90 is not None else "-")
        for stage in shown
    )
    return _svg(width, height, "Dwell time per stage", desc or "No stages.", body)


# ---------------------------------------------------------------- the breach heatmap


def _ramp(share: float) -> str:
    low, high = _RAMP
    parts = (round(a + (b - a) * share) for a, b in zip(low, high, strict=True))
    return "#" + "".join(f"{part:02x}" for part in parts)


def heatmap_svg(heatmap: Heatmap, title: str = "Breaches by weekday and hour") -> str:
    """A 7 x 24 grid of breached cycles by the weekday and local hour they started."""
    cell, left, top = 28.0, 48.0, 34.0
    width = left + 24 * cell + 20
    height = top + 7 * cell + 58
    largest = max((value for day in heatmap.counts for value in day), default=0)
    body: list[str] = []
    for hour in range(0, 24, 2):
        body.append(_text(left + hour * cell + cell / 2, top - 8, f"{hour:02d}", 10, MUTED,
                          "middle"))  # fmt: skip
    for day, row in enumerate(heatmap.counts):
        y = top + day * cell
        body.append(_text(left - 8, y + cell / 2 + 4, WEEKDAYS[day], 11, INK, "end"))
        for hour, value in enumerate(row):
            share = value / largest if largest else 0.0
            colour = _ramp(share) if value else "#f8fafc"
            x = left + hour * cell
            body.append(
                f"<g><title>{WEEKDAYS[day]} {hour:02d}:00\u2013{(hour + 1) % 24:02d}:00:"
                f" {count(value)} breached</title>"
                + _rect(x + 1, y + 1, cell - 2, cell - 2, colour, radius=2)
                + (
                    _text(x + cell / 2, y + cell / 2 + 4, str(value), 9,
                          PAPER if share > 0.55 else INK, "middle")
                    if value
                    else ""
                )
                + "</g>"
            )  # fmt: skip
    axis_y = top + 7 * cell + 16
    body.append(_text(left + 12 * cell, axis_y, "hour the cycle started (local time)", 11,
                      MUTED, "middle"))  # fmt: skip
    legend_y = axis_y + 14
    steps = 6
    body.append(_text(left, legend_y + 11, "0", 10, MUTED, "end"))
    for step in range(steps):
        body.append(_rect(left + 6 + step * 22, legend_y, 22, 14, _ramp(step / (steps - 1))))
    body.append(_text(left + 12 + steps * 22, legend_y + 11, f"{count(largest)} breached"
                      " (busiest hour)", 10, MUTED))  # fmt: skip
    body.append(_text(width - 20, legend_y + 11, f"{count(heatmap.total)} breaches in all", 10,
                      MUTED, "end"))  # fmt: skip
    days = [sum(row) for row in heatmap.counts]
    desc = (
        f"{count(heatmap.total)} breached cycles. By weekday: "
        + ", ".join(f"{WEEKDAYS[day]} {count(days[day])}" for day in range(len(days)))
        + "."
    )
    return _svg(width, height, title, desc, body)


# ---------------------------------------------------------------- targets per period


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 4, 6 or 8 times a power of ten at or above a value.

    Each of these splits into round quarters, the axis's four intervals.
    """
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 4, 6, 8, 10):
        if factor * power >= value:
            return float(factor * power)
    return float(10 * power)


def target_svg(target: TargetStats) -> str:
    """One bar per period coloured by its verdict, with the goal drawn as a line."""
    ratio = target.kind != "volume"
    goal = float(target.goal)
    values = [row.value for row in target.periods]
    largest = max([value for value in values if value is not None] + [goal])
    ceiling = 1.0 if ratio else _nice_ceiling(largest * 1.1)
    if ratio and largest > 1.0:
        ceiling = _nice_ceiling(largest)
    left, top, plot_h = 56.0, 30.0, 170.0
    columns = max(len(target.periods), 1)
    slot = min(64.0, max(14.0, 620.0 / columns))
    width = left + columns * slot + 130
    height = top + plot_h + 58

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * min(value, ceiling) / ceiling

    body: list[str] = []
    for tick in range(5):
        value = ceiling * tick / 4
        y = y_of(value)
        body.append(_line(left, y, left + columns * slot, y, GRID))
        label = percent(value, 0) if ratio else count(round(value))
        body.append(_text(left - 6, y + 4, label, 10, MUTED, "end"))
    every = max(1, math.ceil(28.0 / slot))
    goal_y = y_of(float(target.goal))
    for index, row in enumerate(target.periods):
        x = left + index * slot
        bar_w = slot * 0.7
        if row.verdict is Verdict.MET:
            colour = MET
        elif row.verdict is Verdict.MISSED:
            colour = MISSED
        else:
            colour = PARTIAL
        shown = (
            "no data" if row.value is None else (percent(row.value) if ratio else count(row.part))
        )
        detail = (
            f"{row.period.label}: {shown}"
            + (f" ({count(row.part)} of {count(row.whole)})" if row.whole is not None else "")
            + (" \u2014 partial period" if row.period.partial else "")
            + (f" \u2014 {row.verdict.value}" if row.verdict is not None else "")
        )
        bar = ""
        if row.value is not None:
            y = y_of(row.value)
            hatch = ' fill-opacity="0.45"' if row.period.partial else ""
            bar = _rect(x + (slot - bar_w) / 2, y, bar_w, top + plot_h - y, colour, extra=hatch)
            if slot >= 40:
                label_y, ink = y - 4, INK
                # A label the goal line would strike moves inside a tall bar, or above the line.
                if label_y - 9 < goal_y + 2 and label_y + 2 > goal_y - 2:
                    if top + plot_h - y > 24:
                        label_y, ink = y + 13, PAPER
                    else:
                        label_y = goal_y - 5
                bar += _text(x + slot / 2, label_y, shown, 10, ink, "middle",
                             halo_=ink == INK)  # fmt: skip
        body.append(f"<g><title>{esc(detail)}</title>{bar}</g>")
        if index % every == 0:
            body.append(_text(x + slot / 2, top + plot_h + 14, row.period.label, 10, MUTED,
                              "middle"))  # fmt: skip
    goal_text = percent(goal, 0) if ratio else count(round(goal))
    body.append(
        _line(left - 2, goal_y, left + columns * slot + 4, goal_y, INK,
              ' stroke-width="2" stroke-dasharray="6 3"')
    )  # fmt: skip
    body.append(_text(left + columns * slot + 8, goal_y + 4, f"goal {target.bound} {goal_text}",
                      11, INK, "start", "600"))  # fmt: skip
    legend_x = left
    legend_y = top + plot_h + 34
    keys = [(MET, "met"), (MISSED, "missed")]
    if any(row.value is not None and row.verdict is None for row in target.periods):
        keys.append((PARTIAL, "not judged"))
    for colour, label in keys:
        body.append(_rect(legend_x, legend_y - 10, 12, 12, colour, radius=2))
        body.append(_text(legend_x + 17, legend_y, label, 11, MUTED))
        legend_x += 30 + _width(label, 11)
    body.append(_rect(legend_x, legend_y - 10, 12, 12, PRIMARY, radius=2,
                      extra=' fill-opacity="0.45"'))  # fmt: skip
    body.append(_text(legend_x + 17, legend_y, "pale: period not over at as-of", 11, MUTED))
    unit = "leads" if target.kind == "volume" else "share"
    body.append(
        f'<text x="14.0" y="{num(top + plot_h / 2)}" font-size="11.0" fill="{MUTED}"'
        f' text-anchor="middle" transform="rotate(-90 14.0 {num(top + plot_h / 2)})">'
        f"{esc(unit)} per {esc(target.period)}</text>"
    )
    desc = (
        f"{target.title}: goal {target.bound} {goal_text} each {target.period}; "
        f"{target.met} complete periods met, {target.missed} missed. "
        + "; ".join(
            f"{row.period.label} "
            + ("-" if row.value is None else percent(row.value) if ratio else count(row.part))
            for row in target.periods
        )
    )
    return _svg(width, height, f"{target.title} per {target.period}", desc, body)


# ---------------------------------------------------------------- the team scorecard


def scorecard_svg(lines: Sequence[Commitment], teams: Mapping[str, str] | None = None) -> str:
    """Each team's commitments as bullet bars: the share achieved, the goal as a tick."""
    teams = teams or {}
    left, bar_left, bar_w, row_h = 16.0, 330.0, 300.0, 30.0
    width = bar_left + bar_w + 200
    body: list[str] = []
    y = 8.0
    team: str | object | None = object()
    for line in lines:
        if line.team != team:
            team = line.team
            name = "(no team)" if line.team is None else teams.get(line.team, line.team)
            label = name if line.team is None or name == line.team else f"{name} ({line.team})"
            y += 14
            body.append(_text(left, y + 10, label, 13, INK, "start", "700"))
            body.append(_line(left, y + 16, width - 16, y + 16, GRID))
            y += 24
        caption = f"{line.title}"
        body.append(_text(left + 8, y + 14, _fit(caption, 12, bar_left - left - 20), 12))
        body.append(_text(left + 8, y + 26, _fit(f"{line.kind} \u00b7 {line.subject}", 10,
                                                 bar_left - left - 20), 10, MUTED))  # fmt: skip
        colour = (
            MET if line.verdict is Verdict.MET else MISSED if line.verdict is Verdict.MISSED
            else PRIMARY
        )  # fmt: skip
        if line.whole is not None:
            body.append(_rect(bar_left, y + 4, bar_w, 16, "#eef2f6", radius=2))
            if line.value is not None:
                body.append(_rect(bar_left, y + 4, bar_w * min(line.value, 1.0), 16, colour,
                                  radius=2))  # fmt: skip
            if line.goal is not None and line.kind != "volume":
                gx = bar_left + bar_w * min(float(line.goal), 1.0)
                body.append(_line(gx, y, gx, y + 24, INK, ' stroke-width="2"'))
            measured = f"{percent(line.value)} ({count(line.part)} of {count(line.whole)})"
        else:
            measured = f"{count(line.part)} leads"
            body.append(_text(bar_left, y + 17, measured, 12, INK, "start", "600"))
            measured = ""
        if measured:
            body.append(_text(bar_left + bar_w + 10, y + 17, measured, 11, INK))
        if line.target is not None and line.goal is not None:
            goal = percent(float(line.goal), 0) if line.kind != "volume" else count(int(line.goal))
            verdict = line.verdict.value if line.verdict is not None else "not judged"
            judged = (
                f"goal {line.bound} {goal}: {line.periods_met} of {line.periods_judged}"
                f" periods met \u2014 {verdict}"
            )
            body.append(_text(bar_left, y + 32, judged, 10, colour if line.verdict else MUTED))
            y += 10
        y += row_h + 4
    height = y + 12
    legend = "Bars: share achieved over the whole replay; black tick: the target's goal."
    body.append(_text(left, height - 2, legend, 10, MUTED))
    height += 6
    desc = "; ".join(
        f"{line.team or '(no team)'} {line.kind} {line.subject}: "
        + (percent(line.value) if line.whole is not None else f"{count(line.part)} leads")
        + (f", {line.verdict.value}" if line.verdict is not None else "")
        for line in lines
    )
    return _svg(width, height, "Team scorecard", desc or "No commitments.", body)


# ---------------------------------------------------------------- plain bars


def bars_svg(items: Sequence[tuple[str, int]], title: str, unit: str = "") -> str:
    """Horizontal bars of labelled counts, in the order given."""
    left, width, bar_h = 170.0, 640.0, 22.0
    room = width - left - 90
    largest = max((value for _, value in items), default=0)
    height = 10 + len(items) * (bar_h + 8) + 6
    body: list[str] = []
    for index, (label, value) in enumerate(items):
        y = 10 + index * (bar_h + 8)
        bar = room * value / largest if largest else 0.0
        body.append(_text(left - 10, y + 15, _fit(label, 12, left - 14), 12, INK, "end"))
        body.append(_rect(left, y, max(bar, 1.0 if value else 0.0), bar_h, PRIMARY, radius=2))
        body.append(_text(left + bar + 8, y + 15, count(value) + (f" {unit}" if unit else ""),
                          12))  # fmt: skip
    desc = "; ".join(f"{label}: {count(value)}" for label, value in items) or "None."
    return _svg(width, max(height, 24.0), title, desc, body)
