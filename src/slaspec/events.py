"""Events: one row of the canonical lead log as pure data, with its origin (file, line) and order.

Instants are `int` microseconds since the Unix epoch, UTC. `Origin.row` is the 1-based physical
line number of the line on which the record starts, counted as a text editor or spreadsheet
counts: in a CSV log the header is line 1 and the first data row is line 2 (a record whose quoted
cell spans several lines keeps the number of its first line); in a JSON Lines log the first line
is line 1. Messages call it "line".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Where a row came from (file, line): a record of the compiled results module, because a
# replay keeps one per row; it belongs here as much as there.
from slaspec.results import Origin as Origin

# The years a replay covers: business calendars (slaspec.calendar, which defines the same
# bounds) answer for instants from 1900-01-01T00:00Z up to, not including, 2200-01-01T00:00Z.
# A timestamp or a datetime cell outside them is refused where it is read.
FIRST_YEAR = 1900
LAST_YEAR = 2199
EARLIEST = -2_208_988_800_000_000  # 1900-01-01T00:00Z, microseconds since the Unix epoch
LATEST = 7_258_118_400_000_000  # 2200-01-01T00:00Z


def outside_years(shown: str) -> str:
    """The message for a time outside the years covered, `shown` as the user wrote it."""
    return (
        f"{shown} is outside the years {FIRST_YEAR}-{LAST_YEAR}, the only years business "
        "calendars cover"
    )


class EventKind(enum.IntEnum):
    """What an event does; the value is its kind rank when events share a timestamp."""

    UPDATE = 0
    ASSIGN = 1
    STAGE = 2
    ACTIVITY = 3


# The `type` column's exact spellings (case-sensitive, after trimming).
EVENT_TYPES: Mapping[str, EventKind] = MappingProxyType(
    {
        "update": EventKind.UPDATE,
        "assign": EventKind.ASSIGN,
        "stage": EventKind.STAGE,
        "activity": EventKind.ACTIVITY,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """One event of one lead, as read from the canonical log."""

    lead: str
    time: int
    kind: EventKind
    value: str | None
    actor: str | None
    team: str | None
    event_id: str | None
    # Sorted by name; raw trimmed text; None is a JSON null, which clears the attribute.
    attributes: tuple[tuple[str, str | None], ...]
    origin: Origin
    # Position among all rows of one read (rejected rows included), across files.
    seq: int


def sort_key(event: Event) -> tuple[int, int, int]:
    """Replay order of semantics.md section 4: timestamp, kind rank, then input order."""
    return (event.time, event.kind, event.seq)
