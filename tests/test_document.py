"""The agreement document: goldens of the examples, plain-English phrasing, escaping, the outline.

Goldens: the Markdown of each example agreement is its committed rendering beside it
(agreements/NAME.md, which `slaspec render --check` keeps current in CI); its HTML and both
formats of tests/data/document/every_construct.sla are under tests/data/document/. Every golden
lists the public holidays of 2026. SLASPEC_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, TODAY, check_text, golden
from slaspec import nodes as n
from slaspec.cli import read_source
from slaspec.compiler import Agreement
from slaspec.document import (
    Heading,
    Items,
    Lifecycle,
    Phrases,
    Quote,
    Table,
    Wording,
    md_escape,
    outline,
    render_html,
    render_markdown,
    series,
    slug,
    wording_of,
)
from slaspec.pipeline import Checked, check_agreement
from slaspec.source import Source
from slaspec.svg import lifecycle_svg

FOLDER = DATA / "document"
EXAMPLES = sorted((ROOT / "agreements").glob("*.sla"))
EVERY = FOLDER / "every_construct.sla"
YEAR = 2026


def _checked(path: Path) -> Checked:
    source = read_source(str(path))
    assert isinstance(source, Source), source
    checked = check_agreement(source, read_source, TODAY)
    assert checked.agreement is not None, checked.diagnostics
    return checked


def _documents(path: Path) -> tuple[Agreement, Wording]:
    checked = _checked(path)
    assert checked.agreement is not None
    return checked.agreement, wording_of(checked.program)


def _without_diagram(markdown: str) -> str:
    return re.sub(r"```+mermaid\n.*?\n```+\n", "", markdown, flags=re.DOTALL)


def _html_text(page: str) -> str:
    """The visible text of an HTML page, without the style sheet and the diagram."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    page = re.sub(r"<svg.*?</svg>", "", page, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", page)


# ---------------------------------------------------------------- goldens


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_markdown_is_its_committed_rendering(path: Path) -> None:
    agreement, wording = _documents(path)
    golden(path.with_suffix(".md"), render_markdown(agreement, YEAR, wording))


def _page(agreement: Agreement, wording: Wording) -> str:
    """The HTML page with its diagram, which svg.py draws and tests, as a placeholder."""
    page = render_html(agreement, YEAR, wording)
    diagram = lifecycle_svg(agreement)
    assert page.count(diagram) == 1
    return page.replace(diagram, "<svg><!-- svg.lifecycle_svg(agreement) --></svg>")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_html_golden(path: Path) -> None:
    agreement, wording = _documents(path)
    golden(FOLDER / f"{path.stem}.html", _page(agreement, wording))


def test_every_construct_goldens() -> None:
    agreement, wording = _documents(EVERY)
    golden(FOLDER / "every_construct.md", render_markdown(agreement, YEAR, wording))
    golden(FOLDER / "every_construct.html", _page(agreement, wording))


@pytest.mark.parametrize("path", [*EXAMPLES, EVERY], ids=lambda p: p.stem)
def test_markdown_has_the_diagram_and_every_part_of_the_agreement(path: Path) -> None:
    agreement, wording = _documents(path)
    markdown = render_markdown(agreement, YEAR, wording)
    say = Phrases(agreement, wording)
    diagram = re.search(r"^```mermaid\n(.*?)\n```$", markdown, flags=re.DOTALL | re.MULTILINE)
    assert diagram is not None
    assert diagram.group(1) + "\n" == agreement.graph.to_mermaid()
    headings = re.findall(r"^### (.*)$", markdown, flags=re.MULTILINE)
    for name in agreement.stages:
        assert md_escape(say.stage(name)) in headings
        assert re.search(rf"^    {name}\W", diagram.group(1), flags=re.MULTILINE)
    for source, target in agreement.handoffs:
        route = md_escape(f"{say.stage(source)} \u2192 {say.stage(target)}")
        assert any(route in heading for heading in headings), route
    for name in (*agreement.clocks, *agreement.cadences):
        assert md_escape(say.rule(name)) in headings
    for rule in agreement.targets.values():
        assert f"**{md_escape(say.target(rule))}**" in markdown
    for party in agreement.parties:
        assert f"| {md_escape(party.signatory)} |" in markdown
    for spec in agreement.calendars.values():
        if spec.holiday_sets:
            assert f"Public holidays in {YEAR}:" in markdown


@pytest.mark.parametrize("path", [*EXAMPLES, EVERY], ids=lambda p: p.stem)
def test_rendering_is_deterministic(path: Path) -> None:
    first = _documents(path)
    second = _documents(path)
    assert render_markdown(*first[:1], YEAR, first[1]) == render_markdown(
        second[0], YEAR, second[1]
    )
    assert render_html(first[0], YEAR, first[1]) == render_html(second[0], YEAR, second[1])


# ---------------------------------------------------------------- no language syntax leaks

# Words and operators of the agreement language that must never reach the reader.
DSL_TOKENS = (
    ">=", "<=", "!=", " = ", " < ", " > ", "->", " in [", "not in", "is set", "is not set",
    "since entering", "by owner", "starts when", "stops when", "cancels when", "pauses while",
    "exits when", "warn at", "cycles met", "worked by", "leads entering", "max dwell",
    "each week at", "each month at", "each quarter at", "each year at", "handoff ",
    "activity call", "E+",
)  # fmt: skip
# Clause keywords followed by what the language writes after them.
DSL_PATTERNS = (
    r"\bgoal \d", r"\d business (hour|day|minute)s? if\b", r"\b\d+(\.\d+)? ?%\s*of \w+ cycles",
    r"(?m)^\s*(goal|criteria|requires|responsible|owner|definition|aliases|calendar|starts|"
    r"stops|cancels|pauses|exits|each|party|version|effective|timezone|open|closed|public "
    r"holidays|working day|members|initial|terminal|max dwell)\b",
)  # fmt: skip


def _prose(markdown: str) -> str:
    """What the reader reads as sentences: no diagram, CRM values or field-column names."""
    text = _without_diagram(markdown)
    text = text.split("## Lead information")[0]
    text = "\n".join(line for line in text.splitlines() if "Recorded in the CRM as" not in line)
    return re.sub(r"\u201c[^\u201d]*\u201d", "\u201cvalue\u201d", text)


def test_every_construct_renders_in_plain_english() -> None:
    agreement, wording = _documents(EVERY)
    markdown = render_markdown(agreement, YEAR, wording)
    html_text = _html_text(render_html(agreement, YEAR, wording))
    prose = _prose(markdown)
    for token in DSL_TOKENS:
        assert token not in prose, token
    for pattern in DSL_PATTERNS:
        assert not re.search(pattern, prose), pattern
    for token in DSL_TOKENS:
        if token not in (" < ", " > "):  # the agreement's own title holds escaped markup
            assert token not in _prose(html_text.replace("&lt;", "<").replace("&gt;", ">")), token
    # Names of rules and stages appear as their titles, never as identifiers.
    assert re.findall(r"\b\w+_\w+\b", prose) == []
    assert not re.search(r"\b(true|false)\b", prose)
    # Each criterion line is one bullet of its handoff.
    bullets = len(re.findall(r"^- [A-Z].*\.$", prose, flags=re.MULTILINE))
    conditions = sum(len(h.criteria) + len(h.required) for h in agreement.handoffs.values())
    assert bullets >= conditions


def test_every_construct_fixture_uses_every_construct() -> None:
    """The fixture keeps exercising the whole language, so the plain-English test means it."""
    checked = _checked(EVERY)
    seen: set[str] = set()
    for parsed in checked.program.files:
        assert parsed.document is not None
        stack: list[object] = [parsed.document]
        while stack:
            node = stack.pop()
            seen.add(type(node).__name__)
            if isinstance(node, tuple):
                stack.extend(node)
            elif hasattr(node, "__dataclass_fields__"):
                stack.extend(getattr(node, name) for name in node.__dataclass_fields__)
    expected = {
        name
        for name, value in vars(n).items()
        if isinstance(value, type) and hasattr(value, "__dataclass_fields__")
    }
    assert expected - seen == set()
    text = EVERY.read_text(encoding="utf-8")
    for op in ("= ", "!= ", "< ", "<= ", "> ", ">= "):
        assert f" {op}" in text
    for period in ("week", "month", "quarter", "year"):
        assert f"each {period} at" in text


# ---------------------------------------------------------------- phrasing

CRITERIA_AGREEMENT = """
agreement "Phrases":
    effective 2026-03-02
    calendar office
fields:
    score: number
    amount: money AUD
    source: enum [web, referral, partner, event]
    country: string
    email: string
    consent: boolean
    born: date
    touched: datetime
activities call, email, meeting
team sdr "Sales development"
team marketing
calendar office "Sydney office hours":
    timezone "Australia/Sydney"
    open monday to friday 09:00-17:00
stage a "Inquiry":
    owner marketing
    initial
stage b "Accepted":
    owner sdr
    terminal
handoff a -> b:
    criteria {criterion}
"""


@pytest.mark.parametrize(
    ("criterion", "english"),
    [
        ("score >= 60", "score is 60 or more"),
        ("score <= 60", "score is 60 or less"),
        ("score < 7.50", "score is less than 7.5"),
        ("score > -3", "score is more than -3"),
        ("score = 60", "score is 60"),
        ("amount > 5000", "amount is more than AUD 5,000"),
        ("source = web", "source is \u201cweb\u201d"),
        ("source != web", "source is recorded and is not \u201cweb\u201d"),
        ("source in [referral, partner]", "source is \u201creferral\u201d or \u201cpartner\u201d"),
        ("source in [referral]", "source is \u201creferral\u201d"),
        (
            'country not in ["CU", "IR", "KP"]',
            "country is recorded and is none of \u201cCU\u201d, \u201cIR\u201d or \u201cKP\u201d",
        ),
        ('country not in ["CU"]', "country is recorded and is not \u201cCU\u201d"),
        ("email is set", "email is recorded"),
        ("email is not set", "email is not recorded"),
        ("consent = true", "consent is yes"),
        ("consent != false", "consent is recorded and is not no"),
        ("born <= 2026-03-31", "born is on or before 31 March 2026"),
        ("born > 2026-03-31", "born is after 31 March 2026"),
        (
            "touched >= 2026-03-31T09:00+11:00",
            "touched is at or after 31 March 2026 at 09:00 (UTC+11:00)",
        ),
        ("touched < 2026-03-31T09:00:30Z", "touched is before 31 March 2026 at 09:00:30 (UTC)"),
        ("touched within 30 days", "touched is within the past 30 days"),
        (
            "born within 1 business day",
            "born is within the past 1 business day of Sydney office hours",
        ),
        ("not touched within 2 hours", "touched is not recorded or is not within the past 2 hours"),
        ("not score >= 60", "score is not recorded or is less than 60"),
        ("not source = web", "source is not recorded or is not \u201cweb\u201d"),
        (
            "not source in [web, event]",
            "source is not recorded or is neither \u201cweb\u201d nor \u201cevent\u201d",
        ),
        ("not country not in [\"CU\"]", "country is not recorded or is \u201cCU\u201d"),
        ("not email is set", "email is not recorded"),
        ("not not email is set", "email is recorded"),
        ("not (email is set or score > 1)", "neither email is recorded nor score is more than 1"),
        ("not (email is set and score > 1)", "not both email is recorded and score is more than 1"),
        (
            "not (email is set or score > 1 or consent = true)",
            "none of email is recorded, score is more than 1 or consent is yes",
        ),
        (
            "at least 6 call by sdr since entering b",
            "at least 6 calls by Sales development have been logged since the lead last "
            "entered Accepted",
        ),
        ("at least 1 meeting", "at least 1 meeting has been logged since the lead entered Inquiry"),
        (
            "at least 2 call, email by owner",
            "at least 2 call or email activities by the team that owns the lead's stage have "
            "been logged since the lead entered Inquiry",
        ),
        ("not at least 1 call", "no call has been logged since the lead entered Inquiry"),
        (
            "not at least 3 call, email",
            "fewer than 3 call or email activities have been logged since the lead entered Inquiry",
        ),
        (
            "score >= 60 or source in [referral, partner]",
            "score is 60 or more, or source is \u201creferral\u201d or \u201cpartner\u201d",
        ),
        ("email is set and score > 1", "email is recorded and score is more than 1"),
        (
            "email is set and score > 1 and consent = true",
            "email is recorded, score is more than 1 and consent is yes",
        ),
        (
            "score > -3 and (score < 90 or consent = false)",
            "score is more than -3, and either score is less than 90 or consent is no",
        ),
        (
            "score > 1 and consent = true or email is set",
            "either both score is more than 1 and consent is yes, or email is recorded",
        ),
        (
            "(score > 1 or consent = true) and (email is set or born = 2026-01-01)",
            "either score is more than 1 or consent is yes, and either email is recorded or "
            "born is on 1 January 2026",
        ),
    ],
)  # fmt: skip
def test_criterion_phrasing(criterion: str, english: str) -> None:
    checked = check_text(CRITERIA_AGREEMENT.format(criterion=criterion))
    assert checked.agreement is not None, checked.diagnostics
    (expr,) = checked.agreement.handoffs[("a", "b")].criteria
    say = Phrases(checked.agreement, wording_of(checked.program))
    assert say.criterion(expr, "a") == english


CLOCK_AGREEMENT = """
agreement "Clocks":
    effective 2026-03-02
    calendar sydney
fields:
    score: number
activities call, email, meeting
team marketing "Marketing"
team sdr "Sales development"
calendar sydney "Sydney office hours":
    timezone "Australia/Sydney"
    open monday to friday 09:00-17:00
stage mql "Marketing qualified lead":
    owner marketing
    initial
stage sal "Sales accepted lead":
    owner sdr
stage won:
    owner sdr
    terminal
handoff mql -> sal
handoff sal -> won
{rule}
"""


@pytest.mark.parametrize(
    ("rule", "english"),
    [
        (
            "clock first_touch:\n    starts when lead enters mql\n"
            "    stops when activity call, email by sdr\n"
            "    goal 1 business hour if score >= 85\n    goal 4 business hours\n",
            "Sales development must log a call or email within 4 business hours of the lead "
            "entering Marketing qualified lead \u2014 1 business hour when score is 85 or more "
            "\u2014 on Sydney office hours.",
        ),
        (
            "clock pickup:\n    starts when handoff mql -> sal\n    stops when activity meeting\n"
            "    goal 30 minutes\n",
            "A meeting must be logged within 30 minutes of the lead moving from Marketing "
            "qualified lead to Sales accepted lead, in wall-clock time, around the clock.",
        ),
        (
            "clock close:\n    starts when lead is created\n    stops when lead enters won\n"
            "    stops when activity email by owner\n    goal 2 business days\n",
            "One of these must happen within 2 business days of the lead being created in the "
            "CRM, on Sydney office hours: the lead enters Won; or an email by the team that owns "
            "the lead's stage is logged.",
        ),
        (
            "cadence calls:\n    starts when lead enters sal\n"
            "    requires at least 6 call by sdr within 10 business days\n",
            "Sales development must log at least 6 calls within 10 business days of the lead "
            "entering Sales accepted lead, on Sydney office hours.",
        ),
        (
            "cadence touches:\n    starts when lead is assigned\n"
            "    requires at least 3 call, email within 2 days\n",
            "At least 3 call or email activities (in any mix) have to be logged within 2 days of "
            "the lead being assigned to an owner, in wall-clock time, around the clock.",
        ),
        (
            "target volume:\n    each month at least 120 leads enter mql\n",
            "Each month, at least 120 leads enter Marketing qualified lead.",
        ),
        (
            "target conversion:\n    each quarter at most 7.5% of leads entering mql reach won "
            "within 30 days\n",
            "Each quarter, at most 7.5% of the leads that enter Marketing qualified lead go on "
            "to reach Won within 30 days.",
        ),
        (
            "target worked:\n    each week at least 95% of leads entering sal worked by sdr "
            "within 1 business day\n",
            "Each week, at least 95% of the leads that enter Sales accepted lead get at least one "
            "activity of any kind from Sales development within 1 business day of entering it "
            "(on Sydney office hours).",
        ),
    ],
)
def test_rule_phrasing(rule: str, english: str) -> None:
    checked = check_text(CLOCK_AGREEMENT.format(rule=rule))
    agreement = checked.agreement
    assert agreement is not None, checked.diagnostics
    say = Phrases(agreement, wording_of(checked.program))
    sentences = [
        *(say.clock(c) for c in agreement.clocks.values()),
        *(say.cadence(c) for c in agreement.cadences.values()),
        *(say.target(t) for t in agreement.targets.values()),
    ]
    assert sentences == [english]


def test_accountable_team_follows_the_semantics() -> None:
    rules = (
        "clock entered:\n    starts when lead enters sal\n    stops when activity call\n"
        "    goal 1 business day\n"
        "clock charged:\n    starts when lead enters mql\n    stops when activity call\n"
        "    goal 1 business day\n    responsible sdr\n"
        "clock created:\n    starts when lead is created\n    stops when activity call\n"
        "    goal 1 business day\n"
    )
    checked = check_text(CLOCK_AGREEMENT.format(rule=rules))
    assert checked.agreement is not None, checked.diagnostics
    say = Phrases(checked.agreement)
    accountable = [say.accountable(c) for c in checked.agreement.clocks.values()]
    assert accountable == [
        "Sales development",
        "Sales development",
        "the team that owns the lead's stage when it starts",
    ]


@pytest.mark.parametrize(
    ("items", "conjunction", "joined"),
    [
        ([], "and", ""),
        (["a"], "and", "a"),
        (["a", "b"], "or", "a or b"),
        (["a", "b", "c"], "and", "a, b and c"),
        (["a or b", "c"], "or", "a or b, or c"),
    ],
)
def test_series(items: list[str], conjunction: str, joined: str) -> None:
    assert series(items, conjunction) == joined


# ---------------------------------------------------------------- the outline and calendars


def test_outline_sections_and_calendar_facts() -> None:
    agreement, wording = _documents(ROOT / "agreements" / "harbour-b2b.sla")
    document = outline(agreement, YEAR, wording)
    sections = [b.text for b in document.blocks if isinstance(b, Heading) and b.level == 2]
    assert sections == [
        "Parties and signatories", "Lifecycle", "Stages", "Handoffs", "Response times",
        "Follow-up cadences", "Targets", "Calendars", "Teams", "Lead information",
    ]  # fmt: skip
    assert sum(isinstance(b, Lifecycle) for b in document.blocks) == 1
    assert sum(isinstance(b, Quote) for b in document.blocks) == len(agreement.stages)
    tables = [b for b in document.blocks if isinstance(b, Table)]
    week = next(t for t in tables if t.head == ("Days", "Open"))
    assert week.rows == (
        ("Monday to Friday", "09:00\u201312:00 and 13:00\u201317:30"),
        ("Saturday and Sunday", "closed"),
    )
    holidays = next(t for t in tables if t.head == ("Date", "Holiday"))
    assert ("Monday 26 January", "Australia Day") in holidays.rows
    facts = [i.text for b in document.blocks if isinstance(b, Items) for i in b.items]
    assert "7.5 hours of open time." in facts
    assert "24 December 2026 to 1 January 2027 (all day): Christmas shutdown" in facts
    assert "23 December 2026, 13:00\u201317:30: End-of-year team afternoon" in facts
    assert [(s.party, s.name, s.role) for s in document.signatories] == [
        ("Harbour Analytics Marketing", "Olivia Brennan", "Head of Marketing"),
        ("Harbour Analytics Sales", "Daniel Okafor", "Sales Director"),
    ]


@pytest.mark.parametrize(
    ("year", "row"),
    [(2026, "Monday 26 January"), (2027, "Tuesday 26 January"), (2028, "Wednesday 26 January")],
)
def test_holidays_are_those_of_the_year_asked(year: int, row: str) -> None:
    agreement, wording = _documents(ROOT / "agreements" / "harbour-b2b.sla")
    markdown = render_markdown(agreement, year, wording)
    assert f"Public holidays in {year}:" in markdown
    assert f"| {row} | Australia Day |" in markdown


def test_without_source_wording_calendars_are_named() -> None:
    agreement, _ = _documents(ROOT / "agreements" / "harbour-b2b.sla")
    markdown = render_markdown(agreement, YEAR)
    assert "on the Sydney calendar" in markdown
    assert "### Sydney\n" in markdown


def test_agreement_without_parties_or_rules() -> None:
    checked = check_text(
        'agreement "Bare":\n    effective 2026-03-02\nteam t\n'
        "stage a:\n    owner t\n    initial\nstage b:\n    owner t\n    terminal\nhandoff a -> b\n"
    )
    assert checked.agreement is not None, checked.diagnostics
    markdown = render_markdown(checked.agreement, YEAR)
    assert "## Parties" not in markdown
    assert "## Response times" not in markdown and "## Targets" not in markdown
    assert "## Calendars" not in markdown
    assert "Business time" not in markdown
    page = render_html(checked.agreement, YEAR)
    assert "Signatures" not in page


# ---------------------------------------------------------------- escaping and the HTML page


def test_agreement_text_is_escaped() -> None:
    agreement, wording = _documents(EVERY)
    markdown = render_markdown(agreement, YEAR, wording)
    page = render_html(agreement, YEAR, wording)
    for raw in ("<script>", "<b>", "<em>", "<&>"):
        assert raw not in _without_diagram(markdown)
        assert raw not in page
    assert "# Every construct \\<script\\>alert(1)\\</script\\> \\& \\*friends\\*" in markdown
    assert "| Marketing \\| Growth | Lee |" in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Dana &lt;b&gt;Smith&lt;/b&gt;" in page


def test_html_is_one_printable_self_contained_page() -> None:
    agreement, wording = _documents(ROOT / "agreements" / "harbour-b2b.sla")
    page = render_html(agreement, YEAR, wording)
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page and "<script" not in page and "src=" not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]
    assert "@media print" in page and "@page" in page
    assert page.count("<svg") == 1
    signing = page[page.index('<section class="signing"') :]
    for party in agreement.parties:
        block = signing[signing.index(party.title) :]
        block = block[: block.index("</div></div>") + 12]
        assert party.signatory in block and (party.role or "") in block
        assert block.count('class="line"') == 2
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert anchor in ids


def test_markdown_contents_links_match_github_anchors() -> None:
    agreement, wording = _documents(ROOT / "agreements" / "saas-waterfall.sla")
    markdown = render_markdown(agreement, YEAR, wording)
    anchors = re.findall(r"\]\(#([^)]+)\)", markdown)
    headings = re.findall(r"^## (.*)$", markdown, flags=re.MULTILINE)
    assert anchors == [slug(h) for h in headings]
    assert slug("Parties and signatories") == "parties-and-signatories"
    assert slug("Follow-up cadences") == "follow-up-cadences"


def test_mermaid_fence_outgrows_backticks_in_titles() -> None:
    checked = check_text(
        'agreement "Ticks":\n    effective 2026-03-02\nteam t\n'
        'stage a "a ```` b":\n    owner t\n    initial\nstage b:\n    owner t\n    terminal\n'
        "handoff a -> b\n"
    )
    assert checked.agreement is not None, checked.diagnostics
    markdown = render_markdown(checked.agreement, YEAR)
    assert "`````mermaid\n" in markdown and "\n`````\n" in markdown


_UNESCAPE = re.compile(r"\\([\\`*\[\]<>|#~$&!{}_])")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
def test_md_escape_keeps_the_text_and_hides_markup(text: str) -> None:
    escaped = md_escape(text)
    assert _UNESCAPE.sub(r"\1", escaped) == " ".join(text.split())
    bare = _UNESCAPE.sub("", escaped)
    for special in "<>|*`[]$":
        assert special not in bare
    assert "\n" not in escaped


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("first_touch", "first_touch"),
        ("_lead_", "\\_lead\\_"),
        ("a | b", "a \\| b"),
        ("2026.1", "2026.1"),
        ("line\nbreak", "line break"),
        ("$5 & <b>", "\\$5 \\& \\<b\\>"),
    ],
)
def test_md_escape_cases(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def test_paragraphs_that_start_a_line_do_not_become_lists() -> None:
    checked = check_text(
        'agreement "A":\n    effective 2026-03-02\nteam t\n'
        'stage a:\n    owner t\n    definition "1. first, - second"\n    initial\n'
        'stage b:\n    owner t\n    definition "- dash"\n    terminal\nhandoff a -> b\n'
    )
    assert checked.agreement is not None, checked.diagnostics
    markdown = render_markdown(checked.agreement, YEAR)
    assert "> 1\\. first, - second\n" in markdown
    assert "> \\- dash\n" in markdown


def test_effective_date_and_version_facts() -> None:
    agreement, wording = _documents(ROOT / "agreements" / "solo-consultant.sla")
    markdown = render_markdown(agreement, YEAR, wording)
    assert markdown.startswith(
        "# Kowhai Consulting response standard\n\n**Version:** 1  \n"
        "**Effective from:** 2 March 2026  \n**Party:** Kowhai Consulting Ltd\n"
    )


def test_sentences_quoted_in_the_docs_are_real_renderings() -> None:
    docs = (ROOT / "docs" / "render.md").read_text(encoding="utf-8")
    rendered = " ".join(
        " ".join(path.with_suffix(".md").read_text(encoding="utf-8").split()) for path in EXAMPLES
    )
    quoted: list[str] = []
    for block in re.findall(r"(?:^> .*\n)+", docs, flags=re.MULTILINE):
        lines = [line.removeprefix("> ") for line in block.splitlines()]
        if all(line.startswith("- ") for line in lines):
            quoted.extend(f"- {line.removeprefix('- ')}" for line in lines)
        else:
            quoted.append(" ".join(lines))
    assert len(quoted) == 4
    for sentence in quoted:
        assert " ".join(sentence.split()) in rendered, sentence


def test_agreement_of_one_stage_has_no_handoff_section() -> None:
    checked = check_text(
        'agreement "One":\n    effective 2026-03-02\nteam t\n'
        "stage only:\n    owner t\n    initial\n    terminal\n"
    )
    assert checked.agreement is not None, checked.diagnostics
    markdown = render_markdown(checked.agreement, YEAR)
    assert "## Handoffs" not in markdown and "[Handoffs]" not in markdown
    assert "A lead starts in Only and ends in Only." in markdown
