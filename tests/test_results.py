"""Result records: the fast builders the replay uses give exactly the records their classes do."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slaspec.events import Origin
from slaspec.results import (
    Activity,
    Cycle,
    LeadResult,
    Outcome,
    Stay,
    Violation,
    ViolationKind,
    builder,
    new_cycle,
    new_lead_result,
    new_stay,
    new_violation,
)

ROW = Origin("log.csv", 7)
STAY = {
    "lead": "L1",
    "stage": "mql",
    "entered": 10,
    "left": None,
    "next_stage": None,
    "dwell": 5,
    "wall": 8,
    "row": ROW,
}
CYCLE = {
    "lead": "L1",
    "rule": "first_touch",
    "kind": "clock",
    "index": 2,
    "started": 10,
    "start_row": ROW,
    "tier": 1,
    "goal": 3_600_000_000,
    "goal_text": "1 business hour",
    "calendar": "sydney",
    "due": None,
    "ended": 20,
    "end_row": Origin("log.csv", 9),
    "judged_at": 20,
    "outcome": Outcome.MET,
    "at_risk": False,
    "elapsed": 10,
    "wall": 10,
    "paused": 0,
    "responsible": None,
}
VIOLATION = {
    "lead": "L1",
    "kind": ViolationKind.STALL,
    "rule": "mql",
    "clause": "a.sla:3",
    "responsible": "marketing",
    "at": 30,
    "rows": (ROW,),
    "message": "stayed too long",
}
LEAD = {
    "lead": "L1",
    "first_time": 1,
    "last_time": 2,
    "final_stage": "mql",
    "owner": None,
    "events": 3,
    "stays": (Stay(**STAY),),
    "cycles": (),
    "violations": (),
    "activities": (Activity(1, "call", "ann", None),),
    "attributes": (("score", "72"),),
}
CASES: list[tuple[Any, Any, dict[str, Any]]] = [
    (Stay, new_stay, STAY),
    (Cycle, new_cycle, CYCLE),
    (Violation, new_violation, VIOLATION),
    (LeadResult, new_lead_result, LEAD),
]


@pytest.mark.parametrize(
    ("cls", "build", "values"), CASES, ids=lambda c: getattr(c, "__name__", "")
)
def test_builder_gives_the_record_the_class_gives(
    cls: Any, build: Any, values: dict[str, Any]
) -> None:
    expected = cls(**values)
    for built in (build(**values), build(*values.values())):
        assert type(built) is cls
        assert built == expected and hash(built) == hash(expected)
        assert repr(built) == repr(expected)
        assert dataclasses.replace(built, lead="L2") == dataclasses.replace(expected, lead="L2")
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.lead = "L3"


def test_builder_keeps_the_defaults_and_every_field() -> None:
    cycle = new_cycle(**CYCLE)
    assert (cycle.count, cycle.required) == (0, 0)
    violation = new_violation(**VIOLATION, started=1, wall=2)
    assert violation == Violation(**VIOLATION, started=1, wall=2)
    assert violation.details == () and violation.due is None
    with pytest.raises(TypeError):
        new_stay(**{k: v for k, v in STAY.items() if k != "row"})
    for cls, build, _ in CASES:
        assert build is not builder(cls)  # built once, at import
        names = [f.name for f in dataclasses.fields(cls)]
        assert list(build.__code__.co_varnames[: len(names)]) == names


def test_activity_is_a_named_tuple_record() -> None:
    activity = Activity(5, "call", "ann@example.com", "sdr")
    assert activity == (5, "call", "ann@example.com", "sdr")
    assert (activity.time, activity.type, activity.actor, activity.team) == tuple(activity)
    assert repr(activity) == "Activity(time=5, type='call', actor='ann@example.com', team='sdr')"
