"""Project scaffolding: a name and a few choices -> the files of a new slaspec repository.

`slaspec init` writes what `scaffold` returns: a small but complete agreement, scenario tests that
cover all of it, a CI file (GitHub Actions or GitLab CI) and a pre-commit configuration using the
hooks of `.pre-commit-hooks.yaml`. Nothing here touches the disk, so the same options always give
the same files; cli_init.py checks the folder and writes them.

The scenarios are dated in March 2026, a month in which none of the holiday presets has a public
holiday, and written in office hours, which no time zone's clock change falls in; so they pass
whichever preset and zone are chosen, and `tests/test_scaffold.py` runs them for each.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CI_CHOICES = ("github", "gitlab", "none")
# Each holiday preset and the time zone its calendar uses unless --timezone says otherwise.
HOLIDAY_PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "US": "America/New_York",
        "CA-ON": "America/Toronto",
        "GB-ENG": "Europe/London",
        "DE": "Europe/Berlin",
        "FR": "Europe/Paris",
        "NL": "Europe/Amsterdam",
        "AU-NSW": "Australia/Sydney",
        "NZ-AUK": "Pacific/Auckland",
        "none": "UTC",
    }
)
DEFAULT_HOLIDAYS = "US"
DEFAULT_NAME = "company"
AGREEMENTS = "agreements"
GITHUB_WORKFLOW = ".github/workflows/slaspec.yml"
GITLAB_CI = ".gitlab-ci.yml"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOKS_REPO = "https://github.com/slaspec/slaspec"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_RELEASE = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?")
_SLOT = re.compile(r"<<(\w+)>>")


@dataclass(frozen=True, slots=True)
class Options:
    """What `slaspec init` was asked for; `version` is the running slaspec's, pinned in CI."""

    name: str
    version: str
    ci: str = "github"
    holidays: str = DEFAULT_HOLIDAYS
    timezone: str | None = None

    @property
    def zone(self) -> str:
        """The calendar's time zone: --timezone, else the holiday preset's."""
        return self.timezone or HOLIDAY_PRESETS[self.holidays]


@dataclass(frozen=True, slots=True)
class ScaffoldFile:
    """One file to write: its path relative to the project folder (with `/`), its text and role."""

    path: str
    text: str
    role: str


def check_options(options: Options) -> str | None:
    """Why the options cannot be scaffolded, or None when they can."""
    if not _NAME.fullmatch(options.name):
        return (
            f"--name {options.name!r} cannot name an agreement file: use letters, digits, `-` and "
            "`_` (starting with a letter or digit, at most 64), e.g. --name acme-sla"
        )
    if options.ci not in CI_CHOICES:
        return f"--ci {options.ci!r}: choose one of {', '.join(CI_CHOICES)}"
    if options.holidays not in HOLIDAY_PRESETS:
        return f"--holidays {options.holidays!r}: choose one of {', '.join(HOLIDAY_PRESETS)}"
    if options.timezone is not None:
        try:
            ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return (
                f"--timezone {options.timezone!r} is not an IANA time zone; write one such as "
                "Europe/Paris or America/Chicago"
            )
    return None


def default_name(folder: str) -> str:
    """The agreement's name when --name is not given: the folder's, made a safe file name."""
    # Accents are dropped rather than the letters they sit on: "Café Noir" -> "cafe-noir".
    plain = unicodedata.normalize("NFKD", folder).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:64].rstrip("-")
    return slug if _NAME.fullmatch(slug) else DEFAULT_NAME


def scaffold(options: Options) -> tuple[ScaffoldFile, ...]:
    """Every file of a new project, in the order they are listed to the user."""
    problem = check_options(options)
    if problem is not None:
        raise ValueError(problem)
    name = options.name
    files = [
        ScaffoldFile(f"{AGREEMENTS}/{name}.sla", agreement_text(options), "the agreement"),
        ScaffoldFile(
            f"{AGREEMENTS}/{name}.scenarios", scenarios_text(options), "its scenario tests"
        ),
    ]
    ci = _ci_file(options)
    if ci is not None:
        files.append(ci)
    files.append(
        ScaffoldFile(
            PRE_COMMIT_CONFIG,
            pre_commit_config(options.version),
            "pre-commit hooks: fmt, lint and test",
        )
    )
    return tuple(files)


def _ci_file(options: Options) -> ScaffoldFile | None:
    match options.ci:
        case "github":
            return ScaffoldFile(
                GITHUB_WORKFLOW,
                github_workflow(options.version),
                "GitHub Actions: lint, test and diff on pull requests",
            )
        case "gitlab":
            return ScaffoldFile(
                GITLAB_CI,
                gitlab_ci(options.version),
                "GitLab CI: lint, test and diff on merge requests",
            )
        case "none":
            return None
        case other:
            raise ValueError(f"--ci {other!r}: choose one of {', '.join(CI_CHOICES)}")


def next_steps(options: Options, folder: str, in_git: bool = True) -> tuple[str, ...]:
    """The commands to run after `slaspec init`, in order (from `git init` when the folder is
    not in a git repository yet)."""
    steps = [] if folder in ("", ".") else [f"cd {shlex.quote(folder)}"]
    if not in_git:
        steps.append("git init")
    steps += [
        f"slaspec lint {AGREEMENTS}/",
        f"slaspec test {AGREEMENTS}/ --coverage",
        "pre-commit install",
    ]
    ci = _ci_file(options)
    added = [AGREEMENTS, PRE_COMMIT_CONFIG]
    if ci is not None:
        added.insert(1, ci.path.split("/")[0])
    steps.append(
        f"git add {' '.join(added)} && git commit -m 'Add the marketing and sales agreement'"
    )
    return tuple(steps)


def summary(
    options: Options, folder: str, files: tuple[ScaffoldFile, ...], in_git: bool = True
) -> str:
    """What `slaspec init` prints: the files it wrote, with their roles, and the next commands."""
    where = "" if folder in ("", ".") else f" in {folder}"
    width = max(len(file.path) for file in files)
    lines = [f"Wrote {len(files)} files{where}:"]
    lines += [f"  {file.path.ljust(width)}  {file.role}" for file in files]
    lines += ["", "Next:"]
    lines += [f"  {step}" for step in next_steps(options, folder, in_git)]
    return "\n".join(lines) + "\n"


def _fill(template: str, values: Mapping[str, str]) -> str:
    # A slot without a value is a bug in this module: KeyError says which.
    return _SLOT.sub(lambda match: values[match.group(1)], template)


def _title(name: str) -> str:
    words = re.split(r"[-_]+", name)
    return " ".join(word[:1].upper() + word[1:] for word in words if word)


def _pin(version: str) -> str:
    """The pip requirement for this slaspec: pinned to a release, else the latest."""
    return f"slaspec=={version}" if _RELEASE.fullmatch(version) else "slaspec"


def _rev(version: str) -> str:
    """The hook repository's tag for this slaspec: a release's, else the main branch."""
    return f"v{version}" if _RELEASE.fullmatch(version) else "main"


# ---------------------------------------------------------------- the agreement


def agreement_text(options: Options) -> str:
    """The agreement: three teams, an office calendar, eight stages, a speed-to-lead clock, a
    follow-up cadence and two monthly targets."""
    holidays = "" if options.holidays == "none" else f"    public holidays {options.holidays}\n"
    return _fill(
        _AGREEMENT,
        {
            "name": options.name,
            "title": _title(options.name),
            "zone": options.zone,
            "holidays": holidays,
        },
    )


_AGREEMENT = """\
# The service-level agreement between marketing and sales of <<title>>.
#
# `slaspec init` wrote this as a starting point. Change the teams, stages, criteria, clocks and
# targets to what your teams agree, and keep the scenario tests beside it (<<name>>.scenarios)
# in step: `slaspec lint`, `slaspec fmt --check` and `slaspec test --coverage` check both.

agreement "<<title>> marketing and sales SLA":
    version "1"
    effective 2026-03-02
    party marketing "Marketing" signed by "Head of Marketing"
    party sales "Sales" signed by "Head of Sales"
    calendar office

fields:
    score: number "lead score, 0-100: fit and engagement"
    email: string "business e-mail address of the contact"
    source: enum [website, webinar, referral, paid_search, event]
    reject_reason: enum [no_response, no_budget, no_need, bad_timing]
    amount: money "first-year value of the deal"

activities call, email, meeting

team marketing "Marketing"

team sdr "Sales development"

team sales "Account executives"

calendar office "Office hours":
    timezone "<<zone>>"
    open monday to friday 09:00-17:00
<<holidays>>
# ---------------------------------------------------------------- stages

stage inquiry "Inquiry":
    owner marketing
    definition "A person has raised a hand (form, webinar, chat, event) and is in the CRM."
    initial

stage mql "Marketing qualified lead":
    owner marketing
    definition \"\"\"Marketing vouches for the lead: a business e-mail address and a score of 60 or
        more, or a referral. Sales development looks at every MQL.\"\"\"
    # MQLs left unread for two working days go cold.
    max dwell 2 business days

stage sal "Sales accepted lead":
    owner sdr
    definition "Sales development has accepted the MQL and is calling to book a discovery call."

stage sql "Sales qualified lead":
    owner sales
    definition "Need, authority and timing are confirmed; an account executive owns the lead."

stage opportunity "Opportunity":
    owner sales
    definition "A discovery call has been held and a deal with a value is in the pipeline."

stage won "Closed won":
    owner sales
    definition "The customer has signed."
    terminal

stage lost "Closed lost":
    owner sales
    definition "The deal ended without a sale."
    terminal

stage nurture "Nurture":
    owner marketing
    definition "Not ready to buy now; marketing keeps in touch until the lead engages again."

# ---------------------------------------------------------------- handoffs

handoff inquiry -> mql "Marketing qualifies":
    criteria email is set and (score >= 60 or source = referral)

handoff inquiry -> nurture "Not ready to buy"

handoff mql -> sal "Sales development accepts"

handoff sal -> sql "Sales development qualifies"

handoff sal -> nurture "Sales development recycles":
    requires reject_reason

handoff sql -> opportunity "Account executive opens a deal":
    requires amount
    criteria at least 1 meeting by sales since entering sql

handoff opportunity -> won "Deal signed"

handoff opportunity -> lost "Deal lost"

handoff nurture -> mql "Engages again"

# ---------------------------------------------------------------- clocks and cadences

clock speed_to_lead "Speed to lead":
    starts when lead enters mql
    stops when activity call, email by sdr
    # A lead recycled before anyone called is out of the queue: the clock is withdrawn.
    cancels when lead enters nurture
    goal 1 business hour if score >= 85
    goal 4 business hours
    warn at 75%
    # The MQL stage belongs to marketing, but the first call is sales development's job.
    responsible sdr

cadence sal_follow_up "Follow-up of an accepted lead":
    starts when lead enters sal
    requires at least 3 call, email by sdr within 5 business days
    exits when lead leaves sal
    responsible sdr

# ---------------------------------------------------------------- monthly targets

target mql_volume "MQLs delivered":
    each month at least 100 leads enter mql
    responsible marketing

target mql_to_sql "MQL to SQL conversion":
    each month at least 25% of leads entering mql reach sql within 30 days
    responsible sdr
"""


# ---------------------------------------------------------------- the scenario tests


def scenarios_text(options: Options) -> str:
    """Scenario tests that pass and cover every stage, handoff, criterion, clock, tier and
    target of the agreement."""
    if options.holidays == "none":
        holidays = "The calendar has no public holidays."
    else:
        holidays = f"March 2026 has no public holiday in {options.holidays}."
    return _fill(
        _SCENARIOS,
        {"name": options.name, "title": _title(options.name), "holidays": holidays},
    )


_SCENARIOS = """\
# Scenario tests of the <<title>> agreement (<<name>>.sla), written by `slaspec init`.
#
# Times are office time in the agreement's zone: open 09:00-17:00 on weekdays, so a business
# day is 8 hours. <<holidays>> Run them with
# `slaspec test agreements/ --coverage`; a change to the agreement that changes what happens
# to one of these leads makes a test fail.

scenario "A hot MQL is called within the hour and becomes a customer":
    lead L1:
        Mon 2026-03-02 09:00  enters inquiry with score=90, email=jo@acme.example, source=webinar
        09:30  enters mql by marketing
        10:00  call by sdr
        10:30  enters sal by sdr
        11:00  call by sdr
        Tue 2026-03-03 10:00  email by sdr
        Wed 2026-03-04 10:00  call by sdr
        Thu 2026-03-05 10:00  enters sql by sdr
        11:00  meeting by sales
        Fri 2026-03-06 10:00  enters opportunity by sales with amount=24000
        Mon 2026-03-16 10:00  enters won by sales
        expect path inquiry -> mql -> sal -> sql -> opportunity -> won
        expect speed_to_lead met, due Mon 2026-03-02 10:30, goal 1 business hour
        expect sal_follow_up met, count 3
        expect no violations

scenario "A warm MQL called the next morning breaches speed to lead":
    lead L2:
        Mon 2026-03-02 13:00  enters inquiry with score=70, email=kim@kea.example, source=website
        13:30  enters mql by marketing
        # Four business hours from 13:30: three and a half on Monday, half an hour on Tuesday.
        Tue 2026-03-03 10:00  call by sdr
        expect speed_to_lead breached, due Tue 2026-03-03 09:30, goal 4 business hours
        expect violation clock_breached speed_to_lead, at Tue 2026-03-03 09:30, team sdr
    expect attainment speed_to_lead 0 of 1

scenario "An accepted lead called once in a week misses the follow-up cadence":
    lead L3:
        Mon 2026-03-09 09:00  enters inquiry with score=65, email=sam@kite.example, source=event
        09:15  enters mql by marketing
        09:45  email by sdr
        10:00  enters sal by sdr
        Tue 2026-03-10 10:00  call by sdr
        Tue 2026-03-17 10:00  enters nurture by sdr with reject_reason=no_response
        expect path inquiry -> mql -> sal -> nurture
        expect speed_to_lead met, goal 4 business hours
        expect sal_follow_up breached, count 1
        expect violation cadence_breached sal_follow_up, at Mon 2026-03-16 10:00, team sdr

scenario "Handoffs that skip their criteria are flagged":
    lead L4:
        Mon 2026-03-09 11:00  enters inquiry with score=40, source=website
        11:30  enters mql by marketing
        12:00  call by sdr
        13:00  enters sal by sdr
        14:00  enters nurture by sdr
        expect violation criteria_unmet inquiry -> mql
        expect violation criteria_unmet sal -> nurture
        expect sal_follow_up cancelled
    lead L5:
        Tue 2026-03-10 09:00  enters inquiry with score=75, email=ana@ash.nz, source=paid_search
        09:30  enters mql by marketing
        10:00  call by sdr
        11:00  enters sal by sdr
        14:00  enters sql by sdr
        Wed 2026-03-11 10:00  enters opportunity by sales
        Fri 2026-03-20 15:00  enters lost by sales
        expect path inquiry -> mql -> sal -> sql -> opportunity -> lost
        expect violation criteria_unmet sql -> opportunity

scenario "A referral not ready to buy comes back from nurture":
    lead L6:
        Mon 2026-03-02 09:00  enters inquiry with email=lee@fern.example, source=referral
        10:00  enters nurture by marketing
        Thu 2026-03-19 09:00  set score=80
        09:00  enters mql by marketing
        09:40  email by sdr
        expect path inquiry -> nurture -> mql
        expect speed_to_lead met, due Thu 2026-03-19 13:00, goal 4 business hours
        expect no violations
"""


# ---------------------------------------------------------------- CI and hooks


def github_workflow(version: str) -> str:
    """The GitHub Actions workflow: lint with SARIF upload, tests with JUnit, diff with impact
    as a pull-request comment."""
    return _fill(_GITHUB, {"pin": _pin(version)})


_GITHUB = """\
# slaspec checks of the agreements, written by `slaspec init` (see docs/ci.md of slaspec).
# lint uploads its findings to code scanning (SARIF); test publishes the scenario results
# (JUnit); on a pull request, diff comments what the change does to each agreement and what it
# would have done to past leads.
name: slaspec

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read

env:
  SLASPEC: "<<pin>>"
  # A CRM export in the canonical event-log format, replayed under both versions of a changed
  # agreement. Until there is one, each diff replays a seeded sample log made for the agreement.
  IMPACT_LOG: events/crm-export.csv

jobs:
  lint:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      security-events: write
    steps:
      - uses: actions/checkout@v5
      - uses: actions/setup-python@v6
        with:
          python-version: "3.12"
      - run: pip install "$SLASPEC"
      - name: Lint
        run: slaspec lint agreements/ --format sarif -o slaspec.sarif
      - name: Upload the findings to code scanning
        if: ${{ !cancelled() }}
        uses: github/codeql-action/upload-sarif@v4
        with:
          sarif_file: slaspec.sarif
          category: slaspec
      - name: Annotate the findings
        if: failure()
        run: slaspec lint agreements/ --format github
      - name: Check the layout
        if: ${{ !cancelled() }}
        run: slaspec fmt --check agreements/

  test:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      checks: write
    steps:
      - uses: actions/checkout@v5
      - uses: actions/setup-python@v6
        with:
          python-version: "3.12"
      - run: pip install "$SLASPEC"
      - name: Scenario tests
        run: slaspec test agreements/ --coverage-threshold 100 --format junit -o slaspec-junit.xml
      - name: Publish the results
        if: ${{ !cancelled() }}
        uses: mikepenz/action-junit-report@v5
        with:
          report_paths: slaspec-junit.xml
          check_name: slaspec scenarios

  diff:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@v5
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v6
        with:
          python-version: "3.12"
      - run: pip install "$SLASPEC"
      - name: Compare each changed agreement with the base branch
        env:
          BASE: ${{ github.event.pull_request.base.sha }}
        run: |
          : > slaspec-diff.md
          for file in $(git diff --name-only "$BASE" HEAD -- 'agreements/*.sla'); do
            # An agreement added or removed has no other version to compare with.
            if [ ! -f "$file" ] || ! git cat-file -e "$BASE:$file" 2>/dev/null; then
              continue
            fi
            log="$IMPACT_LOG"
            if [ ! -f "$log" ]; then
              log="$RUNNER_TEMP/sample.events.csv"
              slaspec generate "$file" --leads 2000 --seed 1 -o "$log"
            fi
            slaspec diff "$BASE:$file" "$file" --impact "$log" --format markdown >> slaspec-diff.md
            echo >> slaspec-diff.md
          done
      - name: Comment on the pull request
        env:
          GH_TOKEN: ${{ github.token }}
          PR: ${{ github.event.pull_request.number }}
        run: |
          if [ -s slaspec-diff.md ]; then
            gh pr comment "$PR" --body-file slaspec-diff.md --edit-last --create-if-none
          fi
"""


def gitlab_ci(version: str) -> str:
    """The GitLab CI file: the same three jobs, with a JUnit report and a merge-request note."""
    return _fill(_GITLAB, {"pin": _pin(version)})


_GITLAB = """\
# slaspec checks of the agreements, written by `slaspec init` (see docs/ci.md of slaspec).
# lint keeps its findings as SARIF (the first run only writes the file; the second reports them
# and fails the job); test reports the scenario results (JUnit); in a merge request pipeline,
# diff writes what the change does to each agreement, and what it would have done to past leads,
# as a note on the merge request.
stages:
  - check

variables:
  SLASPEC: "<<pin>>"
  # A CRM export in the canonical event-log format, replayed under both versions of a changed
  # agreement. Until there is one, each diff replays a seeded sample log made for the agreement.
  IMPACT_LOG: events/crm-export.csv

default:
  image: python:3.12
  before_script:
    - pip install "$SLASPEC"

slaspec-lint:
  stage: check
  script:
    - slaspec lint agreements/ --format sarif -o slaspec.sarif || true
    - slaspec lint agreements/
    - slaspec fmt --check agreements/
  artifacts:
    when: always
    paths:
      - slaspec.sarif

slaspec-test:
  stage: check
  script:
    - slaspec test agreements/ --coverage-threshold 100 --format junit -o slaspec-junit.xml || true
    - slaspec test agreements/ --coverage-threshold 100
  artifacts:
    when: always
    reports:
      junit: slaspec-junit.xml

slaspec-diff:
  stage: check
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  variables:
    GIT_DEPTH: "0"
  script:
    - BASE="$CI_MERGE_REQUEST_DIFF_BASE_SHA"
    - |
      : > slaspec-diff.md
      for file in $(git diff --name-only "$BASE" HEAD -- 'agreements/*.sla'); do
        # An agreement added or removed has no other version to compare with.
        if [ ! -f "$file" ] || ! git cat-file -e "$BASE:$file" 2>/dev/null; then
          continue
        fi
        log="$IMPACT_LOG"
        if [ ! -f "$log" ]; then
          log="$CI_PROJECT_DIR/sample.events.csv"
          slaspec generate "$file" --leads 2000 --seed 1 -o "$log"
        fi
        slaspec diff "$BASE:$file" "$file" --impact "$log" --format markdown >> slaspec-diff.md
        echo >> slaspec-diff.md
      done
    # Notes need a token with the api scope: a project access token in the masked CI/CD
    # variable SLASPEC_NOTE_TOKEN. Without it the diff is kept as an artifact only.
    - |
      if [ -s slaspec-diff.md ] && [ -n "${SLASPEC_NOTE_TOKEN:-}" ]; then
        curl --fail --silent --show-error --request POST \\
          --header "PRIVATE-TOKEN: $SLASPEC_NOTE_TOKEN" \\
          --data-urlencode "body@slaspec-diff.md" \\
          "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
      fi
  artifacts:
    when: always
    paths:
      - slaspec-diff.md
"""


def pre_commit_config(version: str) -> str:
    """The pre-commit configuration: slaspec's fmt, lint and test hooks."""
    return _fill(_PRE_COMMIT, {"repo": HOOKS_REPO, "rev": _rev(version)})


_PRE_COMMIT = """\
# pre-commit hooks (https://pre-commit.com), written by `slaspec init`: `pre-commit install`
# runs them before each commit, `pre-commit run --all-files` runs them now. fmt rewrites the
# agreements it changes (commit again after it), lint reports every problem, and test runs the
# scenario tests whenever an agreement or a test changes.
repos:
  - repo: <<repo>>
    rev: <<rev>>
    hooks:
      - id: slaspec-fmt
      - id: slaspec-lint
      - id: slaspec-test
        args: [agreements/]
"""
