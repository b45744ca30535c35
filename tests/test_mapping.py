"""Mapping files: TOML text -> ExportMapping, or SLA920 diagnostics located at file:line:col."""

from __future__ import annotations

import pytest

from slaspec import reporters
from slaspec.diagnostics import Diagnostic
from slaspec.mapping import (
    Attribute,
    Constant,
    ExportMapping,
    FieldRule,
    has_time_of_day,
    load_mapping,
    preset,
    preset_names,
)
from slaspec.source import Source

PRESETS = (
    "hubspot-contacts",
    "hubspot-engagements",
    "olist-funnel",
    "salesforce-lead-history",
    "salesforce-opportunity-history",
    "salesforce-tasks",
)

HISTORY = """\
version = 1
timezone = "UTC"

[[files]]
name = "history"
shape = "history"
lead = "LeadId"
timestamp = "CreatedDate"
timestamp_format = "%Y-%m-%d %H:%M:%S"
field = "Field"
value = "NewValue"

[files.fields]
Status = "stage"
Owner = { event = "assign", when = { DataType = "EntityId" } }
"""


def loaded(text: str, name: str = "m.toml") -> ExportMapping:
    found = load_mapping(Source(name, text))
    assert isinstance(found, ExportMapping), found
    return found


def problems(text: str, name: str = "m.toml") -> list[str]:
    """Each problem as `line:col message | help`."""
    source = Source(name, text)
    found = load_mapping(source)
    assert not isinstance(found, ExportMapping)
    shown: list[str] = []
    for diagnostic in found:
        assert diagnostic.code == "SLA920"
        assert diagnostic.span is not None, diagnostic
        line, column = source.position(diagnostic.span.start)
        shown.append(f"{line}:{column} {diagnostic.message} | {diagnostic.help}")
    return shown


def test_every_preset_is_listed_and_valid() -> None:
    assert preset_names() == PRESETS
    for name in PRESETS:
        packaged = preset(name)
        assert packaged is not None
        text = packaged.read_text(encoding="utf-8")
        mapping = loaded(text, name)
        assert mapping.name == name
        assert mapping.description
        # Each preset says which export it expects and how to produce it from the CRM.
        assert text.startswith(f"# Preset `{name}`: ")
        assert "Produce it:" in text or name == "olist-funnel"
    assert preset("hubspot") is None


def test_a_history_mapping_reads_into_models() -> None:
    mapping = loaded(HISTORY)
    (entry,) = mapping.files
    assert entry.shape == "history"
    assert entry.rule("Status") == FieldRule(event="stage")
    assert entry.rule("Owner") == FieldRule(event="assign", when={"DataType": "EntityId"})
    assert entry.rule("Phone") is None
    assert entry.columns() == ("LeadId", "CreatedDate", "Field", "NewValue", "DataType")
    assert entry.optional_columns() == ()
    assert mapping.entry("history") is entry
    assert entry.missing(["LeadId", "Field"]) == ["CreatedDate", "NewValue", "DataType"]
    assert mapping.entry("nothing") is None


def test_constants_attributes_and_optional_columns() -> None:
    mapping = loaded(
        """\
[[files]]
name = "contacts"
shape = "wide"
lead = "Record ID"
team = { value = "marketing" }
attributes_at = "Create Date"
skip_when = { Archived = ["true"] }
attributes = { Email = "email", Score = { name = "score", type = "number", decimal = "," } }

[files.stages]
"Became a Lead Date" = "lead"
"Became a Customer Date" = "customer"
"""
    )
    entry = mapping.files[0]
    assert entry.team == Constant(value="marketing")
    assert entry.attributes["Score"] == Attribute(name="score", type="number", decimal=",")
    assert entry.columns() == ("Record ID", "Create Date")
    assert entry.missing(["Record ID"]) == ["Create Date"]
    assert entry.optional_columns() == (
        "Email",
        "Score",
        "Became a Lead Date",
        "Became a Customer Date",
        "Archived",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            HISTORY.replace('shape = "history"', 'shape = "histroy"'),
            "6:1 `files.0.shape`: Input should be 'history', 'wide' or 'activities' | write "
            "`history`, `wide` or `activities`",
            id="unknown-shape",
        ),
        pytest.param(
            HISTORY.replace("timestamp_format", "timestamp_fromat"),
            "9:1 unknown key `timestamp_fromat` in `files` | did you mean `timestamp_format`?",
            id="misspelt-key",
        ),
        pytest.param(
            HISTORY.replace('timezone = "UTC"', 'timezone = "Europe/Berln"'),
            "2:1 `timezone`: `Europe/Berln` is not an IANA time zone name; did you mean "
            "`Europe/Berlin`? | use an IANA name such as `Europe/Berlin`, `America/New_York` or "
            "`UTC`",
            id="zone",
        ),
        pytest.param(
            HISTORY.replace('"%Y-%m-%d %H:%M:%S"', '"dd/mm/yyyy"'),
            "9:1 `files.0.timestamp_format`: `dd/mm/yyyy` is not a timestamp format: write "
            "`iso`, `excel`, `epoch-s`, `epoch-ms` or a strptime pattern such as `%d/%m/%Y "
            "%H:%M` | declare the export's format, e.g. `%d/%m/%Y %H:%M` (day first) or "
            "`%m/%d/%Y %I:%M %p` (month first); slaspec never guesses",
            id="date-format",
        ),
        pytest.param(
            HISTORY.replace('field = "Field"', 'stages = { a = "b" }\nfield = "Field"'),
            "10:1 `files.0`: `stages` do not apply to a `history` file | see docs/import.md for "
            "the format",
            id="key-of-another-shape",
        ),
        pytest.param(
            HISTORY.replace('value = "NewValue"\n', ""),
            "4:1 `files.0`: a `history` file needs `value` | see docs/import.md for the format",
            id="missing-shape-key",
        ),
        pytest.param(
            HISTORY.replace('Status = "stage"', 'Status = "stages"'),
            "14:1 `files.0.fields.Status`: `stages` is not one of `stage`, `assign`, `activity`, "
            "`update`, `skip` | see docs/import.md for the format",
            id="bad-field-rule",
        ),
        pytest.param(
            HISTORY.replace('lead = "LeadId"\n', ""),
            "4:1 `files.0.lead` is missing | add `lead = ...`; see docs/import.md for what it "
            "holds",
            id="missing-key",
        ),
        pytest.param(
            HISTORY.replace("[[files]]", "[[files]"),
            "4:8 the mapping is not valid TOML: Expected ']]' at the end of an array declaration "
            '| write `key = "value"` pairs under `[table]` headers; quote keys with spaces, e.g. '
            '`"Became a Lead Date" = "lead"`',
            id="toml",
        ),
    ],
)
def test_problems_point_at_their_key_and_say_how_to_fix(text: str, expected: str) -> None:
    assert expected in problems(text)


def test_the_second_entry_is_found_by_its_header() -> None:
    text = HISTORY + '\n[[files]]\nname = "x"\nshape = "wide"\nlead = "id"\ncolour = "red"\n'
    assert problems(text) == [
        "21:1 unknown key `colour` in `files` | the keys here are "
        + ", ".join(
            [
                "name",
                "shape",
                "description",
                "match",
                "require",
                "lead",
                "lead_separator",
                "timestamp",
                "timestamp_format",
                "timezone",
                "actor",
                "team",
                "event_id",
                "attributes",
                "skip_when",
                "field",
                "value",
                "event",
                "fields",
                "other_fields",
                "stages",
                "attributes_at",
                "activity",
                "activities",
                "other_activities",
            ]
        )
    ]


def test_entries_need_distinct_names_and_a_file_needs_one() -> None:
    doubled = HISTORY + HISTORY.split("\n", 2)[2]
    assert any("two `[[files]]` entries are named `history`" in p for p in problems(doubled))
    inner = HISTORY.replace('Status = "stage"', 'Status = { evnt = "stage" }')
    assert problems(inner) == [
        "14:1 `files.0.fields.Status.event` is missing | add `event = ...`; see docs/import.md "
        "for what it holds",
        "14:12 unknown key `evnt` in `files.fields.Status` | did you mean `event`?",
    ]
    assert problems("version = 1\n") == [
        "1:1 `files` is missing | add one `[[files]]` table per kind of export file"
    ]


def test_a_problem_renders_with_file_line_column_and_caret() -> None:
    text = HISTORY.replace("timestamp_format", "timestamp_fromat")
    source = Source("crm.toml", text)
    found = load_mapping(source)
    assert not isinstance(found, ExportMapping)
    assert all(isinstance(d, Diagnostic) for d in found)
    shown = reporters.render_text(list(found), {"crm.toml": source}, False)
    assert shown.startswith(
        "crm.toml:9:1: error[SLA920] unknown key `timestamp_fromat` in `files`\n"
        "  |\n"
        '9 | timestamp_fromat = "%Y-%m-%d %H:%M:%S"\n'
        "  | ^^^^^^^^^^^^^^^^\n"
        "  = help: did you mean `timestamp_format`?\n"
    )


@pytest.mark.parametrize(
    ("fmt", "timed"),
    [("iso", True), ("excel", True), ("%d/%m/%Y", False), ("%d/%m/%Y %H:%M", True),
     ("%m/%d/%Y %I %p", True), ("%Y-%m-%d", False)],
)  # fmt: skip
def test_date_only_formats_are_told_apart(fmt: str, timed: bool) -> None:
    assert has_time_of_day(fmt) is timed
