"""Real exports through the presets: a Salesforce Data Export, the Olist funnel, hand-made files.

Every count is checked against the files read directly with `csv`, never through slaspec. The
Olist import is checked against the converter of tests/test_olist.py, which the replay there
checks against an independent computation: the preset must give the same events. Excerpts are
under tests/data/import/ (see their README.md files); the full originals are read too when
../shared is present.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import DATA, SHARED, check_text, requires_shared
from slaspec import readers
from slaspec.compiler import Agreement
from slaspec.events import Event
from slaspec.importer import (
    FileAccount,
    FileCounter,
    ImportOptions,
    UnknownStages,
    format_instant,
    import_export,
)
from slaspec.mapping import ExportMapping, load_mapping, preset
from slaspec.replay import replay
from slaspec.results import ReplayResult
from slaspec.source import Source
from test_olist import agreement as olist_agreement
from test_olist import canonical_log, excerpt, originals

SALESFORCE = DATA / "import" / "salesforce-de-sample-export"
SALESFORCE_ORIGINALS = SHARED / "data" / "realworld" / "salesforce-de-sample-export"
HANDMADE = DATA / "import" / "salesforce-handmade"
HUBSPOT = DATA / "import" / "hubspot"
SHA256 = {
    "Lead.csv": "2aba3f72eb35209ea99b2b7fcb14028bf1dc0e6d396fe37ce5bf2537fa20e9aa",
    "Opportunity.csv": "61360f39ccf5e81fe90ee65b7609780e05c8ea15152f4c3de50cb443bfac4458",
    "OpportunityHistory.csv": "8d8a6fb97ed5088ec10347ad41de709b3117b1ec8386c457c7b31ede0e93ee4e",
}


def preset_mapping(name: str) -> ExportMapping:
    packaged = preset(name)
    assert packaged is not None
    found = load_mapping(Source(name, packaged.read_text(encoding="utf-8")))
    assert isinstance(found, ExportMapping)
    return found


def import_files(
    name: str, files: list[tuple[str, str]], options: ImportOptions | None = None
) -> tuple[list[Event | readers.Rejected], list[FileAccount], UnknownStages]:
    """Import (file name, text) pairs with a preset, as one read."""
    mapping = preset_mapping(name)
    items: list[Event | readers.Rejected] = []
    accounts: list[FileAccount] = []
    unknown = UnknownStages()
    for file, text in files:
        counter = FileCounter(file)
        items += import_export(
            text, file, mapping, options or ImportOptions(), len(items), counter, unknown
        )
        accounts.append(counter.freeze())
        assert accounts[-1].balanced
    return items, accounts, unknown


def records(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def compiled(path: Path) -> Agreement:
    checked = check_text(path.read_text(encoding="utf-8"), path.name)
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


# ---------------------------------------------------------------- Salesforce Data Export


def test_the_salesforce_excerpt_is_the_original_export() -> None:
    readme = (SALESFORCE / "README.md").read_text(encoding="utf-8")
    for name, digest in SHA256.items():
        assert hashlib.sha256((SALESFORCE / name).read_bytes()).hexdigest() == digest
        assert digest in readme
    assert "None stated" in readme


@requires_shared
def test_the_salesforce_excerpt_matches_the_shared_originals() -> None:
    for name in SHA256:
        assert (SALESFORCE / name).read_bytes() == (SALESFORCE_ORIGINALS / name).read_bytes()


def test_opportunity_history_becomes_one_stage_event_per_row() -> None:
    history = text_of(SALESFORCE / "OpportunityHistory.csv")
    opportunities = text_of(SALESFORCE / "Opportunity.csv")
    agreement = compiled(DATA / "import" / "salesforce-opportunities.sla")
    known = (*agreement.stages, *agreement.aliases)
    items, accounts, unknown = import_files(
        "salesforce-opportunity-history",
        [("OpportunityHistory.csv", history), ("Opportunity.csv", opportunities)],
        ImportOptions(known_stages=known),
    )
    assert not unknown.counts
    assert [(a.file, a.entry, a.rows, a.mapped, a.events, a.rejected) for a in accounts] == [
        ("OpportunityHistory.csv", "opportunity-history", 62, 62, 62, 0),
        ("Opportunity.csv", "opportunities", 31, 31, 31, 0),
    ]
    events = [item for item in items if isinstance(item, Event)]
    assert len(events) == len(items)

    # Each history row, read with csv: the same opportunity, instant, stage and amount.
    rows = records(history)
    stages = [e for e in events if e.origin.file == "OpportunityHistory.csv"]
    assert [(e.lead, format_instant(e.time), e.value, dict(e.attributes).get("amount"))
            for e in stages] == [
        (r["OpportunityId"], r["CreatedDate"].replace(" ", "T") + "Z", r["StageName"],
         r["Amount"] or None)
        for r in rows
    ]  # fmt: skip
    assert [e.origin.row for e in stages] == list(range(2, 64))
    assert Counter(e.value for e in stages) == Counter(r["StageName"] for r in rows)

    # The opportunity table: attributes at creation; the null-id sentinel reads as empty.
    table = records(opportunities)
    updates = [e for e in events if e.origin.file == "Opportunity.csv"]
    assert [e.lead for e in updates] == [r["Id"] for r in table]
    sentinel = sum(r["CampaignId"] == "000000000000000AAA" for r in table)
    assert sentinel > 0
    assert sum("campaign" not in dict(e.attributes) for e in updates) == sentinel
    assert Counter(dict(e.attributes).get("source") for e in updates) == Counter(
        r["LeadSource"] or None for r in table
    )

    result = replay(agreement, items)
    assert result.rejections == ()
    a = result.accounting
    assert (a.read, a.replayed, a.rejected) == (93, 93, 0)
    assert {lead.lead for lead in result.leads} == {r["Id"] for r in table}
    finals = Counter(lead.final_stage for lead in result.leads)
    expected = Counter(agreement.stage_for(r["StageName"]) for r in table)
    assert finals == expected


def test_the_lead_table_gives_each_lead_its_attributes() -> None:
    leads = text_of(SALESFORCE / "Lead.csv")
    items, accounts, _ = import_files("salesforce-lead-history", [("Lead.csv", leads)])
    (account,) = accounts
    assert (account.entry, account.rows, account.mapped, account.events) == ("leads", 22, 22, 22)
    table = records(leads)
    events = [item for item in items if isinstance(item, Event)]
    assert [(e.lead, e.kind.name) for e in events] == [(r["Id"], "UPDATE") for r in table]
    assert Counter(dict(e.attributes)["source"] for e in events) == Counter(
        r["LeadSource"] for r in table
    )
    assert Counter(dict(e.attributes)["converted"] for e in events) == Counter(
        {"0": "false", "1": "true"}[r["IsConverted"]] for r in table
    )
    numbers = [dict(e.attributes).get("annual_revenue") for e in events]
    assert numbers == [r["AnnualRevenue"] or None for r in table]


def test_handmade_lead_history_and_tasks() -> None:
    history = text_of(HANDMADE / "LeadHistory.csv")
    items, (account,), _ = import_files("salesforce-lead-history", [("LeadHistory.csv", history)])
    assert (account.rows, account.mapped, account.rejected) == (10, 7, 0)
    assert account.skipped == (
        ("`IsDeleted` is `1`", 1),
        ("field `Owner` with `DataType` `Text`", 1),
        ("field `Phone` is not mapped", 1),
    )
    shown = [
        (e.lead[-5:], format_instant(e.time), e.kind.name.lower(), e.value, e.attributes)
        for e in items
        if isinstance(e, Event)
    ]
    assert shown == [
        ("vfEAF", "2026-03-02T09:15:00Z", "stage", "Open - Not Contacted", ()),
        ("vfEAF", "2026-03-02T10:02:00Z", "stage", "Working - Contacted", ()),
        ("vfEAF", "2026-03-02T10:05:00Z", "assign", "00546000002m2dKAAQ", ()),
        ("vfEAF", "2026-03-03T14:30:00Z", "update", None, (("rating", "Hot"),)),
        ("vfEAF", "2026-03-05T16:00:00Z", "stage", "Closed - Converted", ()),
        ("vgEAF", "2026-03-04T08:00:00Z", "stage", "Open - Not Contacted", ()),
        ("vgEAF", "2026-03-06T11:45:00Z", "stage", "Closed - Not Converted", ()),
    ]

    tasks = text_of(HANDMADE / "Task.csv")
    items, (account,), _ = import_files("salesforce-tasks", [("Task.csv", tasks)])
    assert (account.rows, account.mapped, account.rejected) == (7, 4, 0)
    assert account.skipped == (
        ("`IsDeleted` is `1`", 1),
        ("`WhoId` is ``", 1),
        ("activity `Task` is skipped by the mapping", 1),
    )
    assert [
        (e.lead[-5:], format_instant(e.time), e.value, e.actor, e.event_id, e.attributes)
        for e in items
        if isinstance(e, Event)
    ] == [
        ("vfEAF", "2026-03-02T10:20:00Z", "call", "00546000002m2dKAAQ", "00T4600000BbbbaAAA",
         (("call_result", "Left voicemail"), ("call_seconds", "35"), ("subject", "Call"))),
        ("vfEAF", "2026-03-02T11:00:00Z", "email", "00546000002m2dKAAQ", "00T4600000BbbbbAAA",
         (("subject", "Email: Welcome"),)),
        ("vfEAF", "2026-03-04T15:00:00Z", "meeting", "00546000002m2dKAAQ", "00T4600000BbbbcAAA",
         (("subject", "Discovery meeting"),)),
        ("vgEAF", "2026-03-06T12:00:00Z", "call", "00546000001l1cJAAQ", "00T4600000BbbbfAAA",
         (("subject", "Call back"),)),
    ]  # fmt: skip


# ---------------------------------------------------------------- HubSpot (hand-made)


def test_hubspot_contacts_and_engagements_replay_against_harbour() -> None:
    harbour = compiled(Path(__file__).resolve().parents[1] / "agreements" / "harbour-b2b.sla")
    contacts = readers.decode((HUBSPOT / "contacts.csv").read_bytes(), "contacts.csv")
    assert isinstance(contacts, str) and "\r\n" in contacts
    options = ImportOptions("Australia/Sydney", None, (*harbour.stages, *harbour.aliases))
    items, (account,), unknown = import_files("hubspot-contacts", [("contacts.csv", contacts)],
                                              options)  # fmt: skip
    assert (account.rows, account.mapped, account.events, account.rejected) == (4, 4, 14, 0)
    assert not unknown.counts
    engagements = text_of(HUBSPOT / "engagements.csv")
    more, (activity_account,), _ = import_files(
        "hubspot-engagements", [("engagements.csv", engagements)], options
    )
    assert (activity_account.rows, activity_account.mapped, activity_account.events) == (6, 4, 5)
    result = replay(harbour, [*items, *more])
    assert [r.code for r in result.rejections] == ["SLA923"]
    stays = {lead.lead: [stay.stage for stay in lead.stays] for lead in result.leads}
    assert stays == {
        "0007202": ["inquiry", "mql", "sql", "opportunity", "won"],
        "5101": ["inquiry", "mql", "sql"],
        "5103": ["inquiry"],
        "5104": ["inquiry"],
    }
    calls = Counter((e.lead, e.value) for e in more if isinstance(e, Event))
    assert calls == {("5101", "call"): 2, ("5101", "email"): 1, ("0007202", "call"): 1,
                     ("0007202", "meeting"): 1}  # fmt: skip


# ---------------------------------------------------------------- Olist


Files = Callable[[], tuple[str, str]]
SOURCES = [
    pytest.param(excerpt, id="excerpt"),
    pytest.param(originals, id="full", marks=requires_shared),
]


def essentials(event: Event) -> tuple[object, ...]:
    attributes = dict(event.attributes)
    return (event.lead, event.time, event.kind, event.value, event.actor, event.team,
            attributes.get("origin"))  # fmt: skip


def outcome(result: ReplayResult) -> tuple[object, ...]:
    cycles = sorted((c.lead, c.rule, c.outcome.value, c.elapsed) for c in result.cycles)
    violations = sorted((v.lead, v.rule, v.kind.value, v.at) for v in result.violations)
    return result.as_of, result.accounting, cycles, violations


@pytest.mark.parametrize("source", SOURCES)
def test_the_olist_preset_gives_the_events_of_the_checked_converter(source: Files) -> None:
    mqls, deals = source()
    items, accounts, _ = import_files(
        "olist-funnel",
        [("olist_marketing_qualified_leads_dataset.csv", mqls),
         ("olist_closed_deals_dataset.csv", deals)],
    )  # fmt: skip
    mql_rows, deal_rows = records(mqls), records(deals)
    assert [(a.entry, a.rows, a.mapped, a.events, a.rejected) for a in accounts] == [
        ("mqls", len(mql_rows), len(mql_rows), len(mql_rows), 0),
        ("deals", len(deal_rows), len(deal_rows), len(deal_rows), 0),
    ]
    imported = [item for item in items if isinstance(item, Event)]
    options = readers.ReadOptions("America/Sao_Paulo", "later")
    converted = [
        item
        for item in readers.read_log(canonical_log(mqls, deals), "olist.csv", "csv", options)
        if isinstance(item, Event)
    ]
    assert [essentials(e) for e in imported] == [essentials(e) for e in converted]
    # Every event points at its export row: MQLs from line 2 on, then deals from line 2 on.
    assert [e.origin.row for e in imported] == [
        *range(2, len(mql_rows) + 2), *range(2, len(deal_rows) + 2)
    ]  # fmt: skip
    olist = olist_agreement()
    assert outcome(replay(olist, items)) == outcome(replay(olist, converted))
    if source is originals:
        assert len({e.lead for e in imported}) == 8000
