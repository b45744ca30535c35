"""Result records (and `Origin`, the row a record points at): hand-written constructors that
behave as frozen dataclasses' do."""

from __future__ import annotations

import dataclasses
import pickle
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
CASES: list[tuple[Any, dict[str, Any]]] = [
    (Stay, STAY),
    (Cycle, CYCLE),
    (Violation, VIOLATION),
    (LeadResult, LEAD),
]


@pytest.mark.parametrize(("cls", "values"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_record_is_built_compared_and_kept_as_a_frozen_dataclass_would_be(
    cls: Any, values: dict[str, Any]
) -> None:
    fields = dataclasses.fields(cls)
    complete = {f.name: values.get(f.name, f.default) for f in fields}
    by_name = cls(**values)
    in_order = cls(*complete.values())
    # Every field is set, each from its own argument, in the dataclass's order.
    assert [getattr(in_order, f.name) for f in fields] == list(complete.values())
    assert in_order == by_name and hash(in_order) == hash(by_name)
    assert in_order != cls(**{**values, "lead": "L2"})
    shown = ", ".join(f"{f.name}={complete[f.name]!r}" for f in fields if f.repr)
    assert repr(by_name) == f"{cls.__name__}({shown})"
    assert dataclasses.replace(by_name, lead="L2") == cls(**{**values, "lead": "L2"})
    assert dataclasses.asdict(by_name)["lead"] == "L1"
    again = pickle.loads(pickle.dumps(by_name))
    assert type(again) is cls and again == by_name


def test_records_keep_their_defaults_and_the_version_out_of_repr() -> None:
    cycle = Cycle(**CYCLE)
    assert (cycle.count, cycle.required, cycle.version) == (0, 0, None)
    violation = Violation(**VIOLATION, started=1, wall=2)
    assert violation.details == () and violation.due is None and violation.wall == 2
    labelled = dataclasses.replace(violation, version="effective 2026-01-01")
    assert labelled != violation and repr(labelled) == repr(violation)
    with pytest.raises(TypeError):
        Stay(**{k: v for k, v in STAY.items() if k != "row"})


def test_an_origin_is_built_compared_and_kept_as_a_frozen_dataclass_would_be() -> None:
    # The dataclass Origin was before it became a compiled record (results.py), for comparison.
    @dataclasses.dataclass(frozen=True, slots=True)
    class Frozen:
        file: str
        row: int

    for built in (Origin("log.csv", 7), Origin(file="log.csv", row=7)):
        assert (built.file, built.row) == ("log.csv", 7)
        assert built == ROW and hash(built) == hash(ROW) == hash(Frozen("log.csv", 7))
        assert repr(built) == "Origin(file='log.csv', row=7)"
        assert built != Origin("log.csv", 8) and built != Origin("other.csv", 7)
        assert built != ("log.csv", 7)
        again = pickle.loads(pickle.dumps(built))
        assert type(again) is Origin and again == built
    assert [f.name for f in dataclasses.fields(Origin)] == ["file", "row"]
    assert {ROW: 1}[Origin("log.csv", 7)] == 1
    with pytest.raises(TypeError):
        Origin("log.csv")  # type: ignore[call-arg]


def test_activity_is_a_named_tuple_record() -> None:
    activity = Activity(5, "call", "ann@example.com", "sdr")
    assert activity == (5, "call", "ann@example.com", "sdr")
    assert (activity.time, activity.type, activity.actor, activity.team) == tuple(activity)
    assert repr(activity) == "Activity(time=5, type='call', actor='ann@example.com', team='sdr')"
