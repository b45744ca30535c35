"""Diagnostics: the table of stable rule codes, and the Diagnostic every stage reports."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from slaspec.source import Span


class Severity(enum.Enum):
    """How bad a finding is; `error` findings make an agreement unusable."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    """One stable diagnostic code with its short name and default severity."""

    code: str
    name: str
    severity: Severity
    summary: str


_E = Severity.ERROR
_W = Severity.WARNING

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        # SLA0xx: reading and parsing
        Rule("SLA001", "syntax-error", _E, "The text does not follow the agreement grammar."),
        Rule("SLA002", "file-not-found", _E, "A path given on the command line does not exist."),
        Rule("SLA003", "not-a-file", _E, "A path names a directory or device, not a file."),
        Rule("SLA004", "not-text", _E, "A file is binary or not UTF-8 text."),
        Rule("SLA005", "duplicate-clause", _E, "A clause that may appear once appears twice."),
        Rule("SLA006", "missing-clause", _E, "A block lacks a clause it needs."),
        Rule("SLA007", "too-many-errors", _E, "Parsing stopped reporting after many errors."),
        # SLA1xx: names
        Rule("SLA101", "undefined-name", _E, "A name is used but never declared."),
        Rule("SLA102", "duplicate-name", _E, "Two declarations share one name."),
        Rule("SLA103", "use-not-found", _E, "A `use` names a file that cannot be read."),
        Rule("SLA104", "use-cycle", _E, "Files `use` each other in a cycle."),
        Rule(
            "SLA105", "not-shareable", _E, "A used file declares something only an agreement may."
        ),
        Rule("SLA106", "missing-header", _E, "An agreement file has no `agreement` header."),
        Rule("SLA107", "duplicate-alias", _E, "One CRM value is mapped to two stages."),
        Rule("SLA108", "actor-in-two-teams", _E, "One actor is listed in two teams."),
        Rule("SLA109", "duplicate-handoff", _E, "The same handoff is declared twice."),
        # SLA2xx: types, units and values
        Rule(
            "SLA201",
            "type-mismatch",
            _E,
            "A criterion compares a field with the wrong kind of value.",
        ),
        Rule("SLA202", "unknown-unit", _E, "A duration has a unit slaspec does not know."),
        Rule("SLA203", "ambiguous-unit", _E, "A duration unit could mean two things."),
        Rule(
            "SLA204",
            "no-working-day",
            _E,
            "`business days` on a calendar whose working day is unknown.",
        ),
        Rule("SLA205", "no-calendar", _E, "Business time is used where no calendar applies."),
        Rule("SLA206", "invalid-value", _E, "A date, time, number or percentage is out of range."),
        Rule("SLA207", "unknown-timezone", _E, "A time zone is not an IANA zone name."),
        Rule("SLA208", "unknown-holidays", _E, "A public-holiday set is not known to `holidays`."),
        # SLA3xx: the lifecycle graph
        Rule("SLA301", "no-initial-stage", _E, "No stage is declared initial."),
        Rule("SLA302", "unreachable-stage", _E, "A stage cannot be reached from an initial stage."),
        Rule("SLA303", "dead-end-stage", _E, "No terminal stage can be reached from a stage."),
        Rule("SLA304", "terminal-has-handoffs", _E, "A terminal stage has outgoing handoffs."),
        Rule("SLA305", "self-handoff", _W, "A handoff leads from a stage to itself."),
        # SLA4xx: clocks, cadences and targets
        Rule(
            "SLA401",
            "stop-never-follows-start",
            _E,
            "A clock's stop can never happen after its start.",
        ),
        Rule(
            "SLA402",
            "unreachable-goal-tier",
            _E,
            "A goal tier follows a catch-all and never applies.",
        ),
        Rule(
            "SLA403",
            "no-catch-all-goal",
            _E,
            "A clock's goal tiers may leave a lead without a goal.",
        ),
        Rule(
            "SLA404",
            "dwell-shorter-than-clock",
            _W,
            "A stage's dwell limit is shorter than a clock in it.",
        ),
        Rule(
            "SLA405", "conversion-to-self", _E, "A conversion target converts a stage into itself."
        ),
        # SLA5xx: criteria
        Rule("SLA501", "contradictory-criteria", _E, "Criteria no lead can ever meet."),
        # SLA6xx: calendars
        Rule("SLA601", "no-open-time", _E, "A calendar has no open time in the next 366 days."),
        Rule("SLA602", "overlapping-windows", _E, "Two open windows of one day overlap."),
        Rule("SLA603", "empty-window", _E, "An open window or closure ends before it starts."),
        # SLA7xx: unused declarations
        Rule("SLA701", "unused-team", _W, "A team is declared but nothing refers to it."),
        Rule("SLA702", "unused-field", _W, "A field is declared but no criterion reads it."),
        Rule("SLA703", "unused-calendar", _W, "A calendar is declared but nothing uses it."),
        Rule(
            "SLA704", "unused-activity", _W, "An activity type is declared but nothing counts it."
        ),
        # SLA8xx: suppressions
        Rule("SLA801", "suppression-without-reason", _E, "An ignore comment gives no reason."),
        Rule("SLA802", "unused-suppression", _W, "An ignore comment suppresses nothing."),
        Rule("SLA803", "unknown-code", _E, "An ignore comment names a code that does not exist."),
        # SLA9xx: event logs (one finding per rejected row or unreadable file)
        Rule(
            "SLA901",
            "log-not-readable",
            _E,
            "A log file is missing, a directory, empty or not text.",
        ),
        Rule("SLA902", "missing-column", _E, "A log lacks a required column."),
        Rule("SLA903", "bad-timestamp", _E, "A timestamp is not an ISO 8601 instant."),
        Rule(
            "SLA904",
            "naive-timestamp",
            _E,
            "A timestamp has no offset and no log time zone is declared.",
        ),
        Rule(
            "SLA905", "nonexistent-local-time", _E, "A local time falls in a daylight-saving gap."
        ),
        Rule(
            "SLA906",
            "ambiguous-local-time",
            _E,
            "A local time occurs twice (daylight-saving fold).",
        ),
        Rule(
            "SLA907",
            "bad-event-type",
            _E,
            "A row's `type` is not stage, activity, update or assign.",
        ),
        Rule(
            "SLA908", "missing-value", _E, "A stage, activity or assign row has an empty `value`."
        ),
        Rule(
            "SLA909",
            "malformed-row",
            _E,
            "A row cannot be read (wrong cell count, bad JSON, NUL byte).",
        ),
        Rule(
            "SLA910", "unknown-stage", _E, "A stage value is not a stage or alias of the agreement."
        ),
        Rule(
            "SLA911",
            "bad-field-value",
            _E,
            "An attribute value does not fit its declared field type.",
        ),
        Rule("SLA912", "missing-lead", _E, "A row has an empty `lead_id`."),
        # SLA92x-93x: CRM exports read through a mapping (slaspec import)
        Rule(
            "SLA920",
            "invalid-mapping",
            _E,
            "A mapping file is not valid TOML or does not follow the mapping format.",
        ),
        Rule(
            "SLA921",
            "unmatched-export",
            _E,
            "An export file fits no entry of the mapping, or several equally well.",
        ),
        Rule(
            "SLA922",
            "bad-export-timestamp",
            _E,
            "An export timestamp is empty or does not match the declared format.",
        ),
        Rule(
            "SLA923",
            "unmapped-value",
            _E,
            "A changed field, activity or stage value is not one the mapping names.",
        ),
        Rule(
            "SLA924",
            "bad-export-cell",
            _E,
            "An attribute cell does not fit the coercion the mapping declares.",
        ),
        Rule("SLA925", "row-without-events", _E, "A wide export row has no date to give an event."),
        # SLA95x: scenario tests
        Rule(
            "SLA950",
            "scenario-syntax",
            _E,
            "A line of a scenario test file does not follow its format.",
        ),
        Rule(
            "SLA951",
            "scenario-undefined-name",
            _E,
            "A scenario names a stage, rule, field, team or activity the agreement lacks.",
        ),
        Rule(
            "SLA952",
            "scenario-invalid-value",
            _E,
            "A time, value or expectation in a scenario test cannot be right.",
        ),
        Rule(
            "SLA953",
            "duplicate-scenario",
            _E,
            "Two scenarios share a name, or a scenario has two blocks for one lead.",
        ),
        Rule(
            "SLA954",
            "untestable-agreement",
            _E,
            "A scenario test file's agreement cannot be read or has errors.",
        ),
        # SLA96x: agreement versions (slaspec replay --history; versions.check_versions)
        Rule(
            "SLA960",
            "different-agreement",
            _E,
            "Files given as versions of one agreement have different titles.",
        ),
        Rule(
            "SLA961",
            "same-effective-date",
            _E,
            "Two versions of an agreement take effect on the same date.",
        ),
        Rule(
            "SLA962",
            "same-version-label",
            _E,
            "Two versions of an agreement have the same `version` text.",
        ),
        Rule("SLA963", "no-effective-date", _E, "A version of an agreement has no effective date."),
        Rule(
            "SLA964",
            "effective-order",
            _E,
            "Versions come into force in another order than their dates, by their time zones.",
        ),
        Rule(
            "SLA965",
            "stage-spelling-conflict",
            _E,
            "A stage name or alias means one stage in one version and another in another.",
        ),
        Rule(
            "SLA966",
            "field-type-conflict",
            _E,
            "A field has one type in one version and another type in another.",
        ),
        Rule(
            "SLA967",
            "rule-kind-conflict",
            _E,
            "A rule name is a clock in one version and a cadence in another.",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a rule code, where it is, what is wrong and how to fix it."""

    code: str
    message: str
    file: str | None = None
    span: Span | None = None
    help: str | None = None
    row: int | None = None
    column: str | None = None
    severity_override: Severity | None = None

    @property
    def severity(self) -> Severity:
        """The rule's severity unless this finding overrides it."""
        if self.severity_override is not None:
            return self.severity_override
        return RULES[self.code].severity

    @property
    def rule(self) -> Rule:
        """The rule this finding belongs to."""
        return RULES[self.code]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A help line naming the closest candidate, when one is close enough."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"did you mean `{close[0]}`?" if close else None


def sort_key(diagnostic: Diagnostic) -> tuple[str, int, int, str, str]:
    """Order findings by file, then position, then code, so output is deterministic."""
    start = diagnostic.span.start if diagnostic.span is not None else -1
    row = diagnostic.row if diagnostic.row is not None else -1
    return (diagnostic.file or "", start, row, diagnostic.code, diagnostic.message)
