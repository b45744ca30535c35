"""The diagnostics catalogue: docs/diagnostics.md documents every rule code, with real examples.

The document has one section per code of `slaspec.diagnostics.RULES`, in code order, headed
`## SLA101 undefined-name` (SARIF output and the index table link to GitHub's anchor for it,
`#sla101-undefined-name`). A section states `Severity: **error**` (or warning), then a
**Failing** example, the text it prints, and a **Fixed** example. Examples are fenced blocks:

- ```sla       an agreement. Without an `agreement` header line it is appended (after a blank
               line) to the ```sla prelude block at the top of the document; with one it is the
               whole file. It is checked as `agreement.sla`.
- ```csv       an excerpt of a canonical event log, read as `leads.csv` with `slaspec.readers`
               and prepared against the prelude agreement. `timezone=ZONE` after `csv` declares
               the log time zone.
- ```console   `$ slaspec ...` lines, run in-process in an empty folder holding the files that
               `_console_files()` gives for the code (one set for the failing example, one for
               the fixed one); lint's exit code is checked against the table in the document.
- ```scenarios a scenario test file (docs/testing.md), checked as `agreement.scenarios`; the
               agreement it tests is the prelude, found beside it as `agreement.sla`.

The failing example yields its code (or, for a code in CAUGHT_FIRST, the code of the earlier
check that always pre-empts it) and the fixed example yields neither it nor any error (and
shows no output). The ```text block after a failing example is what it prints (the text
reporter, or the console); outputs longer than MAX_SHOWN findings keep their first and last
findings. Run `SLASPEC_UPDATE_GOLDEN=1 pytest tests/test_diagnostics_catalogue.py` to rewrite
those blocks and the index table, then review the diff.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from slaspec import reporters
from slaspec.compiler import Agreement
from slaspec.diagnostics import RULES, Diagnostic, Severity
from slaspec.pipeline import check_agreement
from slaspec.readers import ReadOptions, read_log
from slaspec.source import Source

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "diagnostics.md"
UPDATE = os.environ.get("SLASPEC_UPDATE_GOLDEN") == "1"
TODAY = dt.date(2026, 3, 2)
AGREEMENT_NAME = "agreement.sla"
LOG_NAME = "leads.csv"
SCENARIOS_NAME = "agreement.scenarios"
EXAMPLE_KINDS = ("sla", "csv", "console", "scenarios")
MAX_SHOWN = 6
KEPT_HEAD = 3
KEPT_TAIL = 2

_HEADING = re.compile(r"^## (?P<code>SLA\d{3}) (?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)$")
_SEVERITY = re.compile(r"^Severity: \*\*(?P<severity>[a-z]+)\*\*")
_ROLE = re.compile(r"^\*\*(?P<role>Failing|Fixed)\*\*")
_FENCE = re.compile(r"^```(?P<info>[^`]*)$")
_HEADER_LINE = re.compile(r'^agreement "', re.MULTILINE)
INDEX_HEADER = "| code | name | severity | summary |"
_FINDING = re.compile(r"(?P<severity>error|warning)\[(?P<code>SLA\d{3})\]")

# A console example's folder: file paths and their text (or bytes, for files that are not text).
Files = Mapping[str, str | bytes]


# ---------------------------------------------------------------- reading the document


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced block: its info string, its text and the 0-based lines of its two fences."""

    info: str
    body: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Example:
    """A failing or fixed example: its kind (sla, csv, console), options, text, and output."""

    kind: str
    options: tuple[str, ...]
    fence: Fence
    output: Fence | None


@dataclass(frozen=True, slots=True)
class Section:
    """One code's section of the catalogue."""

    code: str
    name: str
    severity: str | None
    failing: tuple[Example, ...]
    fixed: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The parsed document: the prelude, the sections in order, and malformed headings."""

    prelude: str | None
    sections: tuple[Section, ...]
    malformed: tuple[str, ...]


class _Draft:
    """A section while its lines are read."""

    def __init__(self, code: str, name: str) -> None:
        self.code = code
        self.name = name
        self.severity: str | None = None
        self.role: str | None = None
        self.examples: dict[str, list[Example]] = {"Failing": [], "Fixed": []}
        self.last: tuple[str, Example] | None = None

    def add_fence(self, fence: Fence) -> None:
        words = fence.info.split()
        kind = words[0] if words else ""
        if kind == "text" and self.last is not None:
            role, example = self.last
            self.examples[role][-1] = Example(example.kind, example.options, example.fence, fence)
            self.last = None
            return
        self.last = None
        if kind in EXAMPLE_KINDS and self.role is not None:
            example = Example(kind, tuple(words[1:]), fence, None)
            self.examples[self.role].append(example)
            self.last = (self.role, example)

    def done(self) -> Section:
        return Section(
            self.code,
            self.name,
            self.severity,
            tuple(self.examples["Failing"]),
            tuple(self.examples["Fixed"]),
        )


def parse_catalogue(markdown: str) -> Catalogue:
    """Split the document into its prelude and its code sections."""
    lines = markdown.splitlines()
    prelude: str | None = None
    sections: list[Section] = []
    malformed: list[str] = []
    draft: _Draft | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence is not None:
            end = index + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            body = "".join(f"{item}\n" for item in lines[index + 1 : end])
            block = Fence(fence.group("info").strip(), body, index, end)
            if draft is not None:
                draft.add_fence(block)
            elif block.info == "sla prelude":
                prelude = body
            index = end + 1
            continue
        if line.startswith("## "):
            if draft is not None:
                sections.append(draft.done())
                draft = None
            heading = _HEADING.match(line)
            if heading is not None:
                draft = _Draft(heading.group("code"), heading.group("name"))
            elif line.startswith("## SLA"):
                malformed.append(line)
        elif draft is not None:
            severity = _SEVERITY.match(line)
            role = _ROLE.match(line)
            if severity is not None and draft.severity is None:
                draft.severity = severity.group("severity")
            elif role is not None:
                draft.role = role.group("role")
        index += 1
    if draft is not None:
        sections.append(draft.done())
    return Catalogue(prelude, tuple(sections), tuple(malformed))


def with_output(markdown: str, code: str, output: str) -> str:
    """The document with the output block of `code`'s failing example replaced or added."""
    section = _section(parse_catalogue(markdown), code)
    example = section.failing[0]
    lines = markdown.splitlines()
    shown = output.rstrip("\n").split("\n")
    if example.output is not None:
        lines[example.output.first + 1 : example.output.last] = shown
    else:
        after = example.fence.last + 1
        lines[after:after] = ["", "```text", *shown, "```"]
    return "\n".join(lines) + "\n"


def shorten(output: str) -> str:
    """The output with the middle findings left out when there are more than MAX_SHOWN."""
    blocks = output.rstrip("\n").split("\n\n")
    findings, rest = blocks[:-1], blocks[-1:]
    if len(findings) <= MAX_SHOWN:
        return output.rstrip("\n") + "\n"
    left_out = len(findings) - KEPT_HEAD - KEPT_TAIL
    marker = f"[... {left_out} more findings like these ...]"
    kept = [*findings[:KEPT_HEAD], marker, *findings[-KEPT_TAIL:], *rest]
    return "\n\n".join(kept) + "\n"


def index_rows() -> list[str]:
    """The rows of the index table: every rule with a link to its section."""
    return [
        f"| [{code}](#{code.lower()}-{rule.name}) | {rule.name} | {rule.severity.value} "
        f"| {rule.summary} |"
        for code, rule in sorted(RULES.items())
    ]


def _index_span(lines: list[str]) -> tuple[int, int]:
    """The 0-based range of the index table's rows (after its header and separator lines)."""
    start = lines.index(INDEX_HEADER) + 2
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def with_index(markdown: str) -> str:
    """The document with its index table rewritten from RULES."""
    lines = markdown.splitlines()
    start, end = _index_span(lines)
    lines[start:end] = index_rows()
    return "\n".join(lines) + "\n"


def _section(catalogue: Catalogue, code: str) -> Section:
    matches = [section for section in catalogue.sections if section.code == code]
    assert len(matches) == 1, f"{code}: {len(matches)} sections"
    return matches[0]


def _document() -> Catalogue:
    return parse_catalogue(DOC.read_text(encoding="utf-8"))


def _prelude() -> str:
    prelude = _document().prelude
    assert prelude is not None, "docs/diagnostics.md has no ```sla prelude block"
    return prelude


# ---------------------------------------------------------------- running examples


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an example produced: finding codes, how many are errors, and the text shown."""

    codes: tuple[str, ...]
    errors: int
    text: str
    exits: tuple[int, ...] = ()


def _no_files(path: str) -> Source | Diagnostic:
    return Diagnostic("SLA002", f"no such file: {path}", path)


def agreement_text(body: str, prelude: str) -> str:
    """An example's agreement: taken whole when it has a header, else after the prelude."""
    return body if _HEADER_LINE.search(body) else f"{prelude}\n{body}"


def _outcome(diagnostics: tuple[Diagnostic, ...], sources: Mapping[str, Source]) -> Outcome:
    return Outcome(
        tuple(d.code for d in diagnostics),
        sum(1 for d in diagnostics if d.severity is Severity.ERROR),
        reporters.render_text(diagnostics, sources, False),
    )


def run_sla(body: str, prelude: str) -> Outcome:
    """Lint an agreement example as `agreement.sla`."""
    source = Source(AGREEMENT_NAME, agreement_text(body, prelude))
    checked = check_agreement(source, _no_files, TODAY)
    sources = {parsed.source.name: parsed.source for parsed in checked.program.files}
    return _outcome(checked.diagnostics, sources)


@functools.cache
def prelude_agreement() -> Agreement:
    """The prelude, compiled: the agreement every log example is prepared against."""
    checked = check_agreement(Source(AGREEMENT_NAME, _prelude()), _no_files, TODAY)
    assert checked.agreement is not None, [d.message for d in checked.diagnostics]
    return checked.agreement


def log_options(options: tuple[str, ...]) -> ReadOptions:
    """Read options from a csv block's info string (`timezone=ZONE`)."""
    zone: str | None = None
    for option in options:
        key, _, value = option.partition("=")
        assert key == "timezone" and value, f"unknown csv option `{option}`"
        zone = value
    return ReadOptions(log_timezone=zone)


def run_csv(body: str, options: tuple[str, ...], agreement: Agreement) -> Outcome:
    """Read a log example as `leads.csv` and prepare it against the agreement."""
    from slaspec.replay import prepare  # the replay engine is not needed to lint

    items = list(read_log(body, LOG_NAME, "csv", log_options(options)))
    prepared = prepare(agreement, items)
    return _outcome(prepared.rejections, {})


def run_scenarios(body: str, prelude: str) -> Outcome:
    """Check a scenario test file example as `agreement.scenarios`, beside the prelude."""
    from slaspec import scenarios  # only these examples need the replay engine

    def read(path: str) -> Source | Diagnostic:
        if path == AGREEMENT_NAME:
            return Source(AGREEMENT_NAME, prelude)
        return _no_files(path)

    suite = scenarios.load(Source(SCENARIOS_NAME, body), read, TODAY)
    return _outcome(suite.diagnostics, suite.sources)


def run_console(
    body: str,
    files: Files,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Outcome:
    """Write the files and run each `$ slaspec` line in the folder holding them."""
    from slaspec import cli  # the CLI imports every stage; parsing the doc must not need it

    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NO_COLOR", "1")
    printed: list[str] = []
    exits: list[int] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        assert line.startswith("$ slaspec "), f"a console example runs `$ slaspec ...`: {line}"
        exits.append(cli.main(shlex.split(line)[2:]))
        captured = capsys.readouterr()
        printed.append(captured.out + captured.err)
    text = "".join(printed)
    found = [match.group("code") for match in _FINDING.finditer(text)]
    errors = sum(1 for match in _FINDING.finditer(text) if match.group("severity") == "error")
    return Outcome(tuple(found), errors, text, tuple(exits))


# ---------------------------------------------------------------- files of console examples


def _block(text: str, opening: str) -> str:
    """The top-level statement of `text` whose first line is `opening`, with its blank line."""
    pattern = re.compile(rf"^{re.escape(opening)}\n(?:[ \t]+\S.*\n)*\n?", re.MULTILINE)
    match = pattern.search(text)
    assert match is not None, f"the prelude has no `{opening}` block"
    return match.group(0)


def _console_files() -> dict[str, tuple[Files, Files]]:
    """Per code: the files of the failing example's folder and of the fixed example's folder."""
    prelude = _prelude()
    header = _block(prelude, 'agreement "Example marketing and sales SLA":')
    office = _block(prelude, "calendar office:")
    teams = _block(prelude, "team marketing:") + _block(prelude, "team sales:")
    target = "target mql_volume:\n    each month at least 50 leads enter mql\n"
    without_office = prelude.replace(office, "")
    without_shared = without_office.replace(teams, "")
    log = "lead_id,timestamp,type,value\n" + "".join(
        f"L-{n:04d},2026-03-02T09:{n:02d}:00+11:00,stage,inquiry\n" for n in range(60)
    )
    latin = prelude.replace("Jane Doe", "Renée Lefèvre")
    assert latin != prelude
    return {
        "SLA002": ({"contracts/acme.sla": prelude}, {"contracts/acme.sla": prelude}),
        "SLA003": ({"drafts/acme.txt": prelude}, {"drafts/acme.sla": prelude}),
        "SLA004": ({"acme.sla": latin.encode("cp1252")}, {"acme.sla": latin.encode("utf-8")}),
        "SLA007": (
            {"leads.csv": log, "acme.sla": prelude},
            {"leads.csv": log, "acme.sla": prelude},
        ),
        "SLA103": (
            {
                "contracts/acme.sla": 'use "shared/office.sla"\n\n' + without_office,
                "shared/office.sla": office,
            },
            {
                "contracts/acme.sla": 'use "../shared/office.sla"\n\n' + without_office,
                "shared/office.sla": office,
            },
        ),
        "SLA104": (
            {
                "contracts/acme.sla": 'use "../shared/office.sla"\n\n' + without_shared,
                "shared/office.sla": 'use "teams.sla"\n\n' + office,
                "shared/teams.sla": 'use "office.sla"\n\n' + teams,
            },
            {
                "contracts/acme.sla": 'use "../shared/office.sla"\n\n' + without_shared,
                "shared/office.sla": 'use "teams.sla"\n\n' + office,
                "shared/teams.sla": teams,
            },
        ),
        "SLA105": (
            {
                "contracts/acme.sla": 'use "../shared/teams.sla"\n\n' + prelude.replace(teams, ""),
                "shared/teams.sla": teams + target,
            },
            {
                "contracts/acme.sla": 'use "../shared/teams.sla"\n\n'
                + prelude.replace(teams, "")
                + "\n"
                + target,
                "shared/teams.sla": teams,
            },
        ),
        "SLA106": ({"acme.sla": prelude.replace(header, "")}, {"acme.sla": prelude}),
        **_import_console_files(),
        **_version_console_files(),
    }


def _import_console_files() -> dict[str, tuple[Files, Files]]:
    """The exports and mappings of the `slaspec import` examples (SLA920-SLA925)."""
    head = "Record ID,Email,Create Date,Became a Lead Date,Became a Marketing Qualified Lead Date\n"
    contacts = head + (
        "101,ann@example.com,2026-03-02 09:15,2026-03-02 09:15,2026-03-02 10:02\n"
        "102,bob@example.com,2026-03-02 13:30,2026-03-02 13:30,\n"
    )
    resaved = head + "101,ann@example.com,02/03/2026 09:15,02/03/2026 09:15,02/03/2026 10:02\n"
    undated = head + (
        "101,ann@example.com,2026-03-02 09:15,2026-03-02 09:15,2026-03-02 10:02\n"
        "102,bob@example.com,,,\n"
    )
    crm = (
        'timezone = "Australia/Sydney"\n\n[[files]]\nname = "contacts"\nshape = "wide"\n'
        'lead = "Record ID"\nattributes_at = "Create Date"\n'
        'stage = { "Became a Lead Date" = "inquiry" }\n'
    )
    engagements = (
        'timezone = "Australia/Sydney"\n\n[[files]]\nname = "activities"\n'
        'shape = "activities"\nlead = "Contact ID"\ntimestamp = "Activity date"\n'
        'activity = "Activity type"\nother_activities = "reject"\n\n[files.activities]\n'
        'Call = "call"\nEmail = "email"\n'
    )
    activities = (
        "Contact ID,Activity date,Activity type\n101,2026-03-02 10:30,Call\n"
        "101,2026-03-03 14:00,Meeting\n"
    )
    leads_toml = (
        'timezone = "Europe/Berlin"\n\n[[files]]\nname = "leads"\nshape = "wide"\n'
        'lead = "Lead"\nattributes_at = "Created"\n'
        'attributes = { Score = { name = "score", type = "number" } }\n'
    )
    leads = 'Lead,Created,Score\nL-1,2026-03-02 09:15,"72,5"\n'
    mqls = "mql_id,first_contact_date,landing_page_id,origin\nm1,2018-02-01,p1,social\n"
    sellers = "seller_id,seller_zip_code_prefix,seller_city,seller_state\ns1,13023,campinas,SP\n"
    return {
        "SLA920": (
            {"crm.toml": crm, "contacts.csv": contacts},
            {"crm.toml": crm.replace("stage =", "stages ="), "contacts.csv": contacts},
        ),
        "SLA921": ({"sellers.csv": sellers}, {"mqls.csv": mqls}),
        "SLA922": ({"contacts.csv": resaved}, {"contacts.csv": contacts}),
        "SLA923": (
            {"engagements.toml": engagements, "engagements.csv": activities},
            {
                "engagements.toml": engagements + 'Meeting = "meeting"\n',
                "engagements.csv": activities,
            },
        ),
        "SLA924": (
            {"leads.toml": leads_toml, "leads.csv": leads},
            {
                "leads.toml": leads_toml.replace('"number" }', '"number", decimal = "," }'),
                "leads.csv": leads,
            },
        ),
        "SLA925": ({"contacts.csv": undated}, {"contacts.csv": contacts}),
    }


def _version_console_files() -> dict[str, tuple[Files, Files]]:
    """The agreement versions of the `slaspec replay --history` examples (SLA960-SLA967):
    `acme.sla` (the prelude, version 1 from 2026-03-02), an older version in `history/`, and
    a log with a lead in each version's time."""
    newest = _prelude()
    older = newest.replace('version "1"', 'version "0.9"').replace(
        "effective 2026-03-02", "effective 2026-01-05"
    )
    assert older != newest
    log = (
        "lead_id,timestamp,type,value,actor,score,email,source,last_engaged\n"
        "L-1,2026-01-12T09:00:00+11:00,stage,inquiry,automation@example.com,72,"
        "ann@example.com,website,2026-01-12T09:00:00+11:00\n"
        "L-1,2026-01-12T10:00:00+11:00,stage,mql,automation@example.com,,,,\n"
        "L-1,2026-01-12T11:30:00+11:00,activity,call,sam@example.com,,,,\n"
        "L-2,2026-03-09T09:00:00+11:00,stage,inquiry,automation@example.com,65,"
        "bob@example.com,webinar,2026-03-09T09:00:00+11:00\n"
        "L-2,2026-03-09T10:00:00+11:00,stage,mql,automation@example.com,,,,\n"
        "L-2,2026-03-09T11:00:00+11:00,activity,email,sam@example.com,,,,\n"
    )
    history = "history/acme-2026-01.sla"

    def pair(old: str, new: str = newest) -> Files:
        return {"acme.sla": new, history: old, "leads.csv": log}

    def edit(text: str, *edits: tuple[str, str]) -> str:
        for before, after in edits:
            assert before in text, before
            text = text.replace(before, after)
        return text

    mql_alias = '    aliases "Marketing Qualified"\n'
    sql = 'stage sql "Sales qualified lead":\n    owner sales\n'
    # Midnight of 2026-03-02 at UTC+14 comes before midnight of 2026-03-01 at UTC-12.
    kiritimati = edit(
        newest,
        ("    calendar office\n", '    calendar office\n    timezone "Pacific/Kiritimati"\n'),
    )
    baker = ("    calendar office\n", '    calendar office\n    timezone "Etc/GMT+12"\n')
    clock = (
        "clock first_touch:\n    starts when lead enters mql\n"
        "    stops when activity call, email, meeting by sales\n    goal 4 business hours\n"
    )
    cadence = (
        "cadence {name}:\n    starts when lead enters mql\n"
        "    requires at least 2 call by sales within 2 business days\n"
    )
    return {
        "SLA960": (
            pair(
                edit(
                    older, ('"Example marketing and sales SLA"', '"Example marketing & sales SLA"')
                )
            ),
            pair(older),
        ),
        "SLA961": (
            pair(edit(older, ("effective 2026-01-05", "effective 2026-03-02"))),
            pair(older),
        ),
        "SLA962": (pair(edit(older, ('version "0.9"', 'version "1"'))), pair(older)),
        "SLA963": (pair(edit(older, ("    effective 2026-01-05\n", ""))), pair(older)),
        "SLA964": (
            pair(edit(older, ("effective 2026-01-05", "effective 2026-03-01"), baker), kiritimati),
            pair(edit(older, ("effective 2026-01-05", "effective 2026-02-27"), baker), kiritimati),
        ),
        "SLA965": (
            pair(edit(older, (mql_alias, ""), (sql, sql + mql_alias))),
            pair(edit(older, (sql, sql + '    aliases "Sales Qualified"\n'))),
        ),
        "SLA966": (
            pair(edit(older, ("    email: string\n", "    email: boolean\n"))),
            pair(older),
        ),
        "SLA967": (
            pair(edit(older, (clock, cadence.format(name="first_touch")))),
            pair(
                edit(older, (clock, cadence.format(name="first_touch"))),
                edit(newest, ("clock first_touch:", "clock first_response:")),
            ),
        ),
    }


# ---------------------------------------------------------------- the document's structure


def _codes_in_document() -> list[str]:
    return [section.code for section in _document().sections]


CODES = sorted(RULES)
# What docs/diagnostics.md says slaspec exits with: 2 when a path or a mapping cannot be used,
# or when files given as versions of one agreement are not.
VERSION_CODES = tuple(f"SLA96{n}" for n in range(8))
COULD_NOT_RUN = ("SLA002", "SLA003", "SLA004", "SLA920", *VERSION_CODES)
# Codes a check earlier in the pipeline always pre-empts: the failing example shows that finding
# (the section says so). A version without an effective date never compiles (SLA006).
CAUGHT_FIRST = {"SLA963": "SLA006"}

# Findings the current implementation prints without a help line (STYLE.md asks for one).
WITHOUT_HELP: dict[str, str] = {}


def test_every_rule_has_exactly_one_section_in_code_order() -> None:
    assert _document().malformed == ()
    assert _codes_in_document() == CODES


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.lower())
    return kept.replace(" ", "-")


def test_sarif_help_links_lead_to_the_sections() -> None:
    docs = "https://example.com/docs/diagnostics.md"
    anchors = {github_anchor(f"{section.code} {section.name}") for section in _document().sections}
    findings = [Diagnostic(code, "finding", "a.sla") for code in CODES]
    sarif = json.loads(reporters.render_sarif(findings, {}, version="0", docs_uri=docs))
    links = {rule["helpUri"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert links == {f"{docs}#{anchor}" for anchor in anchors}


def test_links_within_the_document_lead_to_its_headings() -> None:
    markdown = DOC.read_text(encoding="utf-8")
    headings = {
        github_anchor(line.lstrip("#").strip())
        for line in markdown.splitlines()
        if re.match(r"#{1,6} ", line)
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", markdown))
    assert links - headings == set()
    assert len(links) > len(RULES)


def test_the_index_lists_every_rule() -> None:
    markdown = DOC.read_text(encoding="utf-8")
    if UPDATE:
        DOC.write_text(with_index(markdown), encoding="utf-8")
        return
    lines = markdown.splitlines()
    start, end = _index_span(lines)
    assert lines[start:end] == index_rows()


def test_the_sample_finding_in_the_introduction_is_real() -> None:
    markdown = DOC.read_text(encoding="utf-8")
    introduction = markdown[: markdown.index("\n## SLA")]
    sample = introduction.split("```text\n", 1)[1].split("```", 1)[0]
    output = _section(_document(), "SLA101").failing[0].output
    assert output is not None
    assert sample in output.body


def test_the_introduction_counts_the_prelude_lines_right() -> None:
    markdown = DOC.read_text(encoding="utf-8")
    stated = re.search(
        r"prelude has (\d+) lines, so an example's first line is line (\d+)", markdown
    )
    assert stated is not None
    lines = _prelude().count("\n")
    assert (int(stated.group(1)), int(stated.group(2))) == (lines, lines + 2)
    first = agreement_text("team partners\n", _prelude()).splitlines().index("team partners")
    assert first + 1 == lines + 2


def test_the_prelude_is_a_clean_agreement() -> None:
    outcome = run_sla(_prelude(), _prelude())
    assert outcome.codes == ()
    assert prelude_agreement().stages


def test_console_files_cover_exactly_the_console_examples() -> None:
    console = {
        section.code
        for section in _document().sections
        for example in (*section.failing, *section.fixed)
        if example.kind == "console"
    }
    assert console == set(_console_files())


@pytest.mark.parametrize("code", CODES)
def test_section_matches_its_rule(code: str) -> None:
    section = _section(_document(), code)
    rule = RULES[code]
    assert (section.name, section.severity) == (rule.name, rule.severity.value)
    assert len(section.failing) == 1, "one **Failing** example"
    assert len(section.fixed) == 1, "one **Fixed** example"
    assert section.failing[0].kind == section.fixed[0].kind
    assert UPDATE or section.failing[0].output is not None, "run with SLASPEC_UPDATE_GOLDEN=1"
    assert section.fixed[0].output is None


def _run(
    example: Example,
    code: str,
    role: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Outcome:
    body = example.fence.body
    if example.kind == "sla":
        return run_sla(body, _prelude())
    if example.kind == "csv":
        return run_csv(body, example.options, prelude_agreement())
    if example.kind == "scenarios":
        return run_scenarios(body, _prelude())
    files = _console_files()[code][role]
    return run_console(body, files, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("code", CODES)
def test_failing_example_yields_its_code_and_shows_its_output(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _section(_document(), code).failing[0]
    outcome = _run(example, code, 0, tmp_path, monkeypatch, capsys)
    assert CAUGHT_FIRST.get(code, code) in outcome.codes, outcome.text
    if example.kind == "console":
        assert set(outcome.exits) == {2 if code in COULD_NOT_RUN else 1}
    shown = shorten(outcome.text)
    if UPDATE:
        DOC.write_text(with_output(DOC.read_text(encoding="utf-8"), code, shown), "utf-8")
        return
    assert example.output is not None
    assert example.output.body == shown


@pytest.mark.parametrize("code", CODES)
def test_fixed_example_yields_neither_its_code_nor_errors(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _section(_document(), code).fixed[0]
    outcome = _run(example, code, 1, tmp_path, monkeypatch, capsys)
    assert code not in outcome.codes, outcome.text
    assert outcome.errors == 0, outcome.text
    if example.kind == "console":
        assert set(outcome.exits) == {0 if not outcome.codes else 1}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=WITHOUT_HELP[c]))
        if c in WITHOUT_HELP
        else c
        for c in CODES
    ],
)
def test_failing_example_finding_has_a_help_line(code: str) -> None:
    example = _section(_document(), code).failing[0]
    assert example.output is not None
    shown = CAUGHT_FIRST.get(code, code)
    blocks = [b for b in example.output.body.split("\n\n") if f"[{shown}]" in b.split("\n")[0]]
    assert blocks, f"the output shows no {shown} finding"
    assert all("= help: " in block for block in blocks), blocks


# ---------------------------------------------------------------- the harness itself

SAMPLE = """# Diagnostics

```sla prelude
team sales
```

## SLA101 undefined-name

Severity: **error**

Text.

**Failing**: a misspelt team.

```sla
stage x:
    owner sale
```

```text
old output
```

**Fixed**

```csv timezone=UTC
lead_id,timestamp,type,value
```

## SLA102: duplicate-name

## SLA103 use-not-found

**Failing**

```console
$ slaspec lint a.sla
```

**Fixed**

```console
$ slaspec lint b.sla
```
"""


def test_the_catalogue_is_read_into_sections_examples_and_outputs() -> None:
    catalogue = parse_catalogue(SAMPLE)
    assert catalogue.prelude == "team sales\n"
    assert catalogue.malformed == ("## SLA102: duplicate-name",)
    first, second = catalogue.sections
    assert (first.code, first.name, first.severity) == ("SLA101", "undefined-name", "error")
    (failing,) = first.failing
    assert (failing.kind, failing.fence.body) == ("sla", "stage x:\n    owner sale\n")
    assert failing.output is not None and failing.output.body == "old output\n"
    (fixed,) = first.fixed
    assert (fixed.kind, fixed.options, fixed.output) == ("csv", ("timezone=UTC",), None)
    assert (second.code, second.severity) == ("SLA103", None)
    assert second.failing[0].output is None


def test_an_output_block_is_replaced_or_added() -> None:
    replaced = with_output(SAMPLE, "SLA101", "new\noutput\n")
    assert "```text\nnew\noutput\n```" in replaced
    assert "old output" not in replaced
    assert replaced.replace("new\noutput", "old output") == SAMPLE
    added = with_output(SAMPLE, "SLA103", "All checks passed.\n")
    expected = "$ slaspec lint a.sla\n```\n\n```text\nAll checks passed.\n```\n\n**Fixed**"
    assert expected in added
    assert parse_catalogue(added).sections[1].failing[0].output is not None


def test_long_outputs_keep_their_first_and_last_findings() -> None:
    findings = [f"finding {n}\n  detail" for n in range(10)]
    output = "\n\n".join([*findings, "Found 10 errors in 1 file."]) + "\n"
    shown = shorten(output).rstrip("\n").split("\n\n")
    assert shown == [
        *findings[:KEPT_HEAD],
        "[... 5 more findings like these ...]",
        *findings[-KEPT_TAIL:],
        "Found 10 errors in 1 file.",
    ]
    short = "\n\n".join([*findings[:MAX_SHOWN], "Found 6 errors in 1 file."]) + "\n"
    assert shorten(short) == short


@pytest.mark.parametrize(
    ("body", "whole"),
    [
        ('agreement "Solo":\n    effective 2026-01-01\n', True),
        ('# notes\nagreement "Solo":\n    effective 2026-01-01\n', True),
        ("team partners\n", False),
        ('team partners "agreement "\n', False),
    ],
)
def test_an_example_with_a_header_is_a_whole_file(body: str, whole: bool) -> None:
    text = agreement_text(body, "PRELUDE\n")
    assert text == (body if whole else "PRELUDE\n\n" + body)
