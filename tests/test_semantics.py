"""Semantic checks: each rule on small agreements, `use` files, and a golden full report."""

from __future__ import annotations

import pytest

from conftest import DATA, check_text, codes, golden
from slaspec import reporters

BASE = """\
agreement "Test agreement":
    version "1"
    effective 2026-01-01
    party marketing "Marketing" signed by "Ann Lee" as "Head of Marketing"
    calendar office

fields:
    score: number
    source: enum [web, referral, "paid search"]
    country: string
    demo_on: date
    vip: boolean
    amount: money AUD

activities call, email

team marketing "Marketing":
    members "ann@example.com"
team sales "Sales":
    members "tom@example.com"

calendar office "Office hours":
    timezone "Australia/Sydney"
    open monday to friday 09:00-12:00, 13:00-17:00

stage inquiry "Inquiry":
    owner marketing
    initial

stage mql "Marketing qualified lead":
    owner marketing

stage sal "Sales accepted lead":
    owner sales
    max dwell 5 business days

stage won "Won":
    owner sales
    terminal

stage lost "Lost":
    owner sales
    terminal

handoff inquiry -> mql:
    criteria score >= 50 and source in [web, referral] and country is set

handoff mql -> sal:
    criteria vip = true or amount > 1000 or demo_on within 30 days

handoff sal -> won
handoff sal -> lost:
    criteria at least 2 call, email by sales since entering sal

clock first_touch "First touch":
    starts when lead enters sal
    stops when activity call, email by sales
    cancels when lead enters lost
    goal 1 business hour if score >= 90
    goal 4 business hours
    warn at 75%
    responsible sales
"""


def test_base_agreement_is_clean() -> None:
    checked = check_text(BASE)
    assert checked.diagnostics == ()
    assert checked.agreement is not None
    assert list(checked.agreement.stages) == ["inquiry", "mql", "sal", "won", "lost"]


def replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(replace("enters sal\n", "enters sall\n"), ["SLA101"], id="undefined-stage"),
        pytest.param(
            replace("owner sales\n    max", "owner saless\n    max"),
            ["SLA101"],
            id="undefined-team",
        ),
        pytest.param(replace("score >= 50", "scor >= 50"), ["SLA101"], id="undefined-field"),
        pytest.param(
            replace("at least 2 call,", "at least 2 calls,"), ["SLA101"], id="undefined-activity"
        ),
        pytest.param(
            replace('stage lost "Lost"', 'stage won "Lost"'),
            ["SLA102", "SLA101", "SLA101"],
            id="duplicate-stage",
        ),
        pytest.param(replace("score >= 50", 'score >= "high"'), ["SLA201"], id="number-vs-text"),
        pytest.param(
            replace("source in [web, referral]", "source in [web, referal]"),
            ["SLA201"],
            id="enum-value",
        ),
        pytest.param(
            replace("source in [web, referral]", "source > web"), ["SLA201"], id="enum-ordered"
        ),
        pytest.param(replace("vip = true", "vip = 1"), ["SLA201"], id="boolean-vs-number"),
        pytest.param(
            replace("demo_on within", "country within"), ["SLA702", "SLA201"], id="within-non-date"
        ),
        pytest.param(replace("goal 4 business hours", "goal 4 d"), ["SLA203"], id="bare-d"),
        pytest.param(replace("goal 4 business hours", "goal 4 months"), ["SLA203"], id="months"),
        pytest.param(
            replace("goal 4 business hours", "goal 4 fortnights"), ["SLA202"], id="unknown-unit"
        ),
        pytest.param(
            replace("goal 4 business hours", "goal 4 business weeks"),
            ["SLA202"],
            id="business-weeks",
        ),
        pytest.param(
            replace("    calendar office\n", "\n"),
            ["SLA703", "SLA205", "SLA205", "SLA205"],
            id="no-calendar",
        ),
        pytest.param(
            replace(
                "open monday to friday 09:00-12:00, 13:00-17:00",
                "open monday to thursday 09:00-17:00\n    open friday 09:00-12:00",
            ),
            ["SLA204"],
            id="business-days-underivable",
        ),
        pytest.param(
            replace("09:00-12:00, 13:00-17:00", "09:00-12:00, 11:00-17:00"),
            ["SLA602"],
            id="overlap",
        ),
        pytest.param(
            replace("09:00-12:00, 13:00-17:00", "12:00-09:00"),
            ["SLA603", "SLA204"],
            id="backwards-window",
        ),
        pytest.param(
            replace('"Australia/Sydney"', '"Australia/Sidney"'), ["SLA207"], id="timezone"
        ),
        pytest.param(replace("    initial\n", "\n"), ["SLA301"], id="no-initial"),
        pytest.param(replace("handoff sal -> won\n", ""), ["SLA302"], id="unreachable"),
        pytest.param(
            replace(
                "handoff sal -> won\nhandoff sal -> lost:",
                "handoff sal -> won\nhandoff won -> lost:",
            ),
            ["SLA304"],
            id="terminal-out",
        ),
        pytest.param(
            replace("handoff sal -> won\n", "handoff sal -> won\nhandoff sal -> sal\n"),
            ["SLA305"],
            id="self-handoff",
        ),
        pytest.param(
            replace("handoff sal -> won\n", "handoff sal -> won\nhandoff sal -> won\n"),
            ["SLA109"],
            id="duplicate-handoff",
        ),
        pytest.param(
            replace("stops when activity call, email by sales", "stops when lead enters inquiry"),
            ["SLA401"],
            id="stop-never",
        ),
        pytest.param(
            replace("stops when activity call, email by sales", "stops when lead is created"),
            ["SLA401"],
            id="stop-on-create",
        ),
        pytest.param(
            replace(
                "    goal 1 business hour if score >= 90\n    goal 4 business hours\n",
                "    goal 4 business hours\n    goal 1 business hour if score >= 90\n",
            ),
            ["SLA402"],
            id="tier-after-catch-all",
        ),
        pytest.param(
            replace("    goal 4 business hours\n", "    goal 4 business hours if vip = true\n"),
            ["SLA403"],
            id="no-catch-all",
        ),
        pytest.param(
            replace("max dwell 5 business days", "max dwell 2 business hours"),
            ["SLA404"],
            id="dwell-shorter",
        ),
        pytest.param(
            replace("score >= 50 and", "score >= 50 and score < 40 and"),
            ["SLA501"],
            id="contradiction",
        ),
        pytest.param(
            replace("country is set", "country is set and country is not set"),
            ["SLA501"],
            id="set-and-unset",
        ),
        pytest.param(
            replace("country is set", 'country = "AU" and country = "NZ"'),
            ["SLA501"],
            id="two-equals",
        ),
        pytest.param(replace("warn at 75%", "warn at 100%"), ["SLA206"], id="warn-100"),
        pytest.param(replace("money AUD", "money dollars"), ["SLA206"], id="currency"),
        pytest.param(replace("    effective 2026-01-01\n", ""), ["SLA006"], id="no-effective"),
        pytest.param(
            replace("    owner marketing\n    initial", "    initial"), ["SLA006"], id="no-owner"
        ),
        pytest.param(
            replace("activities call, email", "activities call, email, meeting"),
            ["SLA704"],
            id="unused-activity",
        ),
        pytest.param(
            replace('team sales "Sales":', 'team spare\nteam sales "Sales":'),
            ["SLA701"],
            id="unused-team",
        ),
        pytest.param(
            replace("    amount: money AUD\n", "    amount: money AUD\n    notes: string\n"),
            ["SLA702"],
            id="unused-field",
        ),
        pytest.param(
            replace('members "tom@example.com"', 'members "tom@example.com", "ann@example.com"'),
            ["SLA108"],
            id="actor-two-teams",
        ),
    ],
)
def test_rule(text: str, expected: list[str]) -> None:
    assert codes(check_text(text)) == expected


def test_terminal_with_outgoing_handoff_is_reported_at_the_handoff() -> None:
    text = replace("handoff sal -> won\n", "handoff sal -> won\nhandoff won -> sal\n")
    checked = check_text(text)
    assert codes(checked) == ["SLA304"]
    diagnostic = checked.diagnostics[0]
    assert diagnostic.span is not None
    assert text[diagnostic.span.start : diagnostic.span.end] == "handoff won -> sal"


def test_did_you_mean_names_the_closest_stage() -> None:
    checked = check_text(replace("enters sal\n", "enters sall\n"))
    assert checked.diagnostics[0].help == "did you mean `sal`?"


def test_aliases_cannot_map_to_two_stages() -> None:
    text = replace(
        "    owner marketing\n\nstage sal", "    owner marketing\n    aliases MQL\n\nstage sal"
    )
    text = text.replace(
        "    owner sales\n    max dwell", "    owner sales\n    aliases MQL\n    max dwell", 1
    )
    assert codes(check_text(text)) == ["SLA107"]


def test_alias_used_as_a_stage_name_in_a_rule_is_an_error() -> None:
    text = replace(
        "    owner marketing\n\nstage sal",
        "    owner marketing\n    aliases marketingqualifiedlead\n\nstage sal",
    )
    text = text.replace("lead enters sal\n", "lead enters marketingqualifiedlead\n")
    checked = check_text(text)
    assert codes(checked) == ["SLA101"]
    assert checked.diagnostics[0].help == "write `mql`"


def test_errors_in_every_statement_are_reported_in_one_run() -> None:
    text = BASE + "\nstage broken\n\nclock also broken:\n    starts whenever\n"
    checked = check_text(text)
    assert codes(checked) == ["SLA001", "SLA001"]
    assert checked.agreement is None


# ---------------------------------------------------------------- use


SHARED_FILE = """\
fields:
    score: number

team marketing:
    members "ann@example.com"
"""


def test_use_shares_fields_and_teams() -> None:
    text = 'use "shared/common.sla"\n' + BASE.replace("    score: number\n", "").replace(
        'team marketing "Marketing":\n    members "ann@example.com"\n', ""
    )
    checked = check_text(text, "main.sla", {"shared/common.sla": SHARED_FILE})
    assert checked.diagnostics == ()
    assert checked.agreement is not None
    assert "score" in checked.agreement.fields
    assert checked.agreement.roster["ann@example.com"] == "marketing"


def test_use_paths_are_relative_to_the_using_file() -> None:
    files = {"agreements/lib/common.sla": SHARED_FILE}
    text = 'use "lib/common.sla"\n' + BASE.replace("    score: number\n", "").replace(
        'team marketing "Marketing":\n    members "ann@example.com"\n', ""
    )
    checked = check_text(text, "agreements/main.sla", files)
    assert checked.diagnostics == ()


def test_missing_use_file() -> None:
    checked = check_text('use "nope.sla"\n' + BASE, "main.sla")
    assert codes(checked) == ["SLA103"]
    assert "nope.sla" in checked.diagnostics[0].message


def test_use_cycle() -> None:
    files = {"a.sla": 'use "b.sla"\n', "b.sla": 'use "a.sla"\n'}
    checked = check_text('use "a.sla"\n' + BASE, "main.sla", files)
    assert codes(checked) == ["SLA104"]
    assert "a.sla -> b.sla -> a.sla" in checked.diagnostics[0].message


def test_used_file_may_not_declare_stages() -> None:
    files = {"lib.sla": "stage extra:\n    owner marketing\n"}
    checked = check_text('use "lib.sla"\n' + BASE, "main.sla", files)
    assert codes(checked) == ["SLA105"]
    assert checked.diagnostics[0].file == "lib.sla"


def test_unused_declarations_in_used_files_are_not_reported() -> None:
    files = {"lib.sla": "fields:\n    spare: string\n"}
    assert check_text('use "lib.sla"\n' + BASE, "main.sla", files).diagnostics == ()


def test_file_of_shared_declarations_lints_alone() -> None:
    assert check_text(SHARED_FILE, "common.sla").diagnostics == ()


def test_lifecycle_without_header_is_reported() -> None:
    text = BASE[BASE.index("fields:") :]
    found = codes(check_text(text))
    assert "SLA106" in found
    assert found.count("SLA106") == 1


# ---------------------------------------------------------------- suppressions


def test_suppressed_warning_is_gone_and_reason_is_required() -> None:
    text = replace(
        "    amount: money AUD\n",
        "    amount: money AUD\n    notes: string  # slaspec: ignore[SLA702] -- kept for reports\n",
    )
    assert check_text(text).diagnostics == ()
    bare = text.replace(" -- kept for reports", "")
    assert codes(check_text(bare)) == ["SLA801"]


def test_suppressing_an_error_does_not_compile_a_broken_agreement() -> None:
    text = replace("enters sal\n", "enters sall  # slaspec: ignore[SLA101] -- testing\n")
    checked = check_text(text)
    assert codes(checked) == []
    assert checked.agreement is None


# ---------------------------------------------------------------- golden


def test_golden_report_of_a_file_with_many_problems() -> None:
    path = DATA / "lint" / "many-problems.sla"
    checked = check_text(path.read_text(encoding="utf-8"), "many-problems.sla")
    sources = {p.source.name: p.source for p in checked.program.files}
    text = reporters.render_text(list(checked.diagnostics), sources, color=False)
    golden(DATA / "lint" / "many-problems.expected.txt", text)
