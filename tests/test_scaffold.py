"""The scaffold of `slaspec init`: the agreement lints clean, is formatted and its scenarios pass
with full coverage for every holiday preset; the YAML files are well formed; output is fixed.

Goldens live in tests/data/scaffold/CASE/ (one folder per case, holding the files as written);
set SLASPEC_UPDATE_GOLDEN=1 to rewrite them (review the diff).

The YAML files are read with `read_yaml`, a reader of the small YAML subset the scaffold and
docs/ci.md use (block mappings and sequences, flow sequences of scalars, quoted and plain
scalars, literal blocks), strict about everything else, so no YAML library is needed; where
PyYAML happens to be installed, a test checks that both read the files alike.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, TODAY, check_text, golden, memory_reader
from slaspec import formatter, scaffold, scenarios
from slaspec.parser import parse
from slaspec.source import Source

GOLDEN = DATA / "scaffold"
VERSION = "0.1.0"
CASES = {
    "github-us": scaffold.Options("acme-widgets", VERSION),
    "gitlab-au-nsw": scaffold.Options("harbour", VERSION, ci="gitlab", holidays="AU-NSW"),
    "no-ci-no-holidays": scaffold.Options(
        "kowhai_consulting", VERSION, ci="none", holidays="none", timezone="Pacific/Auckland"
    ),
}


# ---------------------------------------------------------------- a strict reader of YAML


class YamlError(ValueError):
    """Text outside the YAML subset `read_yaml` accepts, or malformed."""


_KEY = re.compile(r"[A-Za-z0-9_.-]+")
# Plain scalars may not start with these (YAML reads them as something else, or refuses them),
# nor with `-`, `?` or `:` followed by a space.
_INDICATORS = "[]{}&*!%@`|>'\",#"


class _Reader:
    def __init__(self, text: str) -> None:
        if "\t" in text:
            raise YamlError("a tab character")
        if text and not text.endswith("\n"):
            raise YamlError("no newline at the end")
        self.lines = text.split("\n")[:-1]
        self.at = 0

    def _indent(self, line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    def _skip(self) -> None:
        while self.at < len(self.lines):
            stripped = self.lines[self.at].strip()
            if stripped and not stripped.startswith("#"):
                return
            self.at += 1

    def peek(self) -> int:
        """The indent of the next meaningful line, or -1 at the end."""
        self._skip()
        return self._indent(self.lines[self.at]) if self.at < len(self.lines) else -1

    def _content(self) -> str:
        return self.lines[self.at].strip()

    def document(self) -> Any:
        if self.peek() != 0:
            raise YamlError("the document must start at column 0")
        value = self.node(0)
        if self.peek() != -1:
            raise YamlError(f"line {self.at + 1}: unexpected indentation")
        return value

    def node(self, indent: int) -> Any:
        content = self._content()
        if content == "-" or content.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.peek() == indent:
            content = self._content()
            if not (content == "-" or content.startswith("- ")):
                break
            rest = content[1:]
            inner = rest.lstrip(" ")
            if not inner:
                self.at += 1
                deeper = self.peek()
                if deeper <= indent:
                    raise YamlError(f"line {self.at}: an empty sequence item")
                items.append(self.node(deeper))
                continue
            column = indent + 1 + len(rest) - len(inner)
            if inner in ("|", "|-"):
                self.at += 1
                items.append(self.literal(indent, inner))
            elif _split_key(inner) is not None:
                # A mapping that starts on the dash's line: read it as if it began on its own.
                self.lines[self.at] = " " * column + inner
                items.append(self.mapping(column))
            else:
                self.at += 1
                items.append(_scalar(inner))
        return items

    def mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self.peek() == indent:
            content = self._content()
            if content == "-" or content.startswith("- "):
                break
            split = _split_key(content)
            if split is None:
                raise YamlError(f"line {self.at + 1}: expected `key: value`, got {content!r}")
            key, rest = split
            if key in result:
                raise YamlError(f"line {self.at + 1}: duplicate key {key!r}")
            self.at += 1
            if rest in ("|", "|-"):
                result[key] = self.literal(indent, rest)
            elif rest:
                result[key] = _scalar(rest)
            else:
                deeper = self.peek()
                if deeper > indent:
                    result[key] = self.node(deeper)
                elif deeper == indent and self._content().startswith("- "):
                    result[key] = self.sequence(indent)
                else:
                    result[key] = None
        if self.peek() > indent:
            raise YamlError(f"line {self.at + 1}: unexpected indentation")
        return result

    def literal(self, parent: int, style: str) -> str:
        block: list[str] = []
        width: int | None = None
        while self.at < len(self.lines):
            line = self.lines[self.at]
            if line.strip() and self._indent(line) <= parent:
                break
            if line.strip() and width is None:
                width = self._indent(line)
            if line.strip() and width is not None and self._indent(line) < width:
                raise YamlError(f"line {self.at + 1}: a literal block line is indented less")
            block.append(line[width:] if width is not None else "")
            self.at += 1
        if width is None:
            raise YamlError(f"line {self.at}: an empty literal block")
        text = "\n".join(block).rstrip("\n")
        return text if style == "|-" else text + "\n"


def _split_key(content: str) -> tuple[str, str] | None:
    key, colon, rest = content.partition(":")
    if not colon or not _KEY.fullmatch(key) or (rest and not rest.startswith(" ")):
        return None
    return key, _strip_comment(rest.strip())


def _strip_comment(text: str) -> str:
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and (index == 0 or text[index - 1] in " [,"):
            quote = char
        elif char == "#" and index > 0 and text[index - 1] == " ":
            return text[:index].rstrip()
    return text


def _scalar(text: str) -> Any:
    text = _strip_comment(text)
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'") or "'" in text[1:-1].replace("''", ""):
            raise YamlError(f"a malformed single-quoted scalar {text!r}")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise YamlError(f"a malformed double-quoted scalar {text!r}") from error
        if not isinstance(value, str):
            raise YamlError(f"not a string: {text!r}")
        return value
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlError(f"an unclosed flow sequence {text!r}")
        inside = text[1:-1].strip()
        return [_scalar(item.strip()) for item in inside.split(",")] if inside else []
    if not text or text[0] in _INDICATORS or (text[0] in "-?:" and text[1:2] in ("", " ")):
        raise YamlError(f"a plain scalar YAML would not read as text: {text!r}")
    if ": " in text or text.endswith(":"):
        raise YamlError(f"an ambiguous plain scalar {text!r}")
    return text


def read_yaml(text: str) -> Any:
    """The YAML document as dicts, lists and strings (None for an empty value)."""
    return _Reader(text).document()


READER_CASES = [
    ("a: 1\nb: x y\n", {"a": "1", "b": "x y"}),
    ("a:\n  - x\n  - 'y z'\n", {"a": ["x", "y z"]}),
    ("a:\n- x\n- y\n", {"a": ["x", "y"]}),
    (
        "- id: x\n  args: [., '--flag', \"q\"]\n- id: y\n",
        [
            {"id": "x", "args": [".", "--flag", "q"]},
            {"id": "y"},
        ],
    ),
    (
        "run: |\n  one\n\n  # kept\n    two\nnext: z\n",
        {"run": "one\n\n# kept\n  two\n", "next": "z"},
    ),
    ("a: ${{ !cancelled() }}  # comment\n", {"a": "${{ !cancelled() }}"}),
    ("# only a comment\nkey:\n", {"key": None}),
    ("s:\n  - |\n    x \\\n      y\n  - z\n", {"s": ["x \\\n  y\n", "z"]}),
    ("q: 'it''s'\n", {"q": "it's"}),
    ("if: github.event_name == 'pull_request'\n", {"if": "github.event_name == 'pull_request'"}),
]
READER_ERRORS = [
    "a: 1\na: 2\n",  # duplicate key
    "a:\n\tb: 1\n",  # tab
    "a: {b: 1}\n",  # flow mapping
    "a: b: c\n",  # ambiguous
    "a: 'open\n",  # unclosed quote
    "a:\n    b: 1\n  c: 2\n",  # bad dedent
    "a: 1",  # no final newline
    "a: *alias\n",
    "  a: 1\n",
]


@pytest.mark.parametrize(("text", "expected"), READER_CASES)
def test_yaml_reader_reads_the_subset(text: str, expected: Any) -> None:
    assert read_yaml(text) == expected


@pytest.mark.parametrize("text", READER_ERRORS)
def test_yaml_reader_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(YamlError):
        read_yaml(text)


# ---------------------------------------------------------------- goldens and determinism


def _files(options: scaffold.Options) -> dict[str, str]:
    return {file.path: file.text for file in scaffold.scaffold(options)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scaffold_matches_golden(case: str) -> None:
    files = _files(CASES[case])
    folder = GOLDEN / case
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        golden(folder / path, text)
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == sorted(files)


def test_scaffold_is_deterministic_and_lists_its_files_in_order() -> None:
    options = CASES["github-us"]
    assert scaffold.scaffold(options) == scaffold.scaffold(options)
    assert [file.path for file in scaffold.scaffold(options)] == [
        "agreements/acme-widgets.sla",
        "agreements/acme-widgets.scenarios",
        ".github/workflows/slaspec.yml",
        ".pre-commit-config.yaml",
    ]
    gitlab = scaffold.scaffold(CASES["gitlab-au-nsw"])
    assert [file.path for file in gitlab][2] == ".gitlab-ci.yml"
    assert len(scaffold.scaffold(CASES["no-ci-no-holidays"])) == 3


@pytest.mark.parametrize(
    ("version", "pin", "rev"),
    [
        ("0.1.0", "slaspec==0.1.0", "v0.1.0"),
        ("1.2.0rc1", "slaspec==1.2.0rc1", "v1.2.0rc1"),
        ("0.0.0+unknown", "slaspec", "main"),
        ("0.2.0.dev3+g1234", "slaspec", "main"),
    ],
)
def test_ci_pins_the_running_release(version: str, pin: str, rev: str) -> None:
    workflow = read_yaml(scaffold.github_workflow(version))
    assert workflow["env"]["SLASPEC"] == pin
    assert read_yaml(scaffold.gitlab_ci(version))["variables"]["SLASPEC"] == pin
    assert read_yaml(scaffold.pre_commit_config(version))["repos"][0]["rev"] == rev


# ---------------------------------------------------------------- the agreement and its tests


def _check_scaffold(options: scaffold.Options) -> scenarios.TestRun:
    files = _files(options)
    agreement = f"agreements/{options.name}.sla"
    tests = f"agreements/{options.name}.scenarios"
    checked = check_text(files[agreement], agreement)
    assert [d.code for d in checked.diagnostics] == []
    parsed = parse(Source(agreement, files[agreement]))
    assert formatter.check_formatted(parsed)
    suite = scenarios.load(Source(tests, files[tests]), memory_reader(files), TODAY)
    assert suite.diagnostics == ()
    return scenarios.run_all([suite], with_coverage=True, threshold=Decimal(100))


@pytest.mark.parametrize("holidays", sorted(scaffold.HOLIDAY_PRESETS))
def test_every_holiday_preset_lints_clean_and_its_scenarios_cover_it(holidays: str) -> None:
    run = _check_scaffold(scaffold.Options("acme", VERSION, holidays=holidays))
    assert (run.scenarios, run.failed, run.exit_code) == (5, 0, 0)
    assert run.coverage is not None
    (coverage,) = run.coverage
    assert coverage.percent == 100
    assert coverage.agreement == "agreements/acme.sla"


@pytest.mark.parametrize(
    "zone", ["UTC", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Europe/London"]
)
def test_scenarios_pass_in_any_time_zone(zone: str) -> None:
    run = _check_scaffold(scaffold.Options("acme", VERSION, timezone=zone))
    assert run.exit_code == 0
    assert (
        'timezone "' + zone + '"'
        in _files(scaffold.Options("acme", VERSION, timezone=zone))["agreements/acme.sla"]
    )


def test_the_scenarios_are_checks_that_can_fail() -> None:
    # Were hot leads only those scored 95 or more, the hot lead's scenario must fail, and the
    # one-hour tier would go untested.
    options = scaffold.Options("acme", VERSION)
    files = _files(options)
    files["agreements/acme.sla"] = files["agreements/acme.sla"].replace(
        "if score >= 85", "if score >= 95"
    )
    suite = scenarios.load(
        Source("agreements/acme.scenarios", files["agreements/acme.scenarios"]),
        memory_reader(files),
        TODAY,
    )
    run = scenarios.run_all([suite], with_coverage=True, threshold=Decimal(100))
    assert suite.diagnostics == ()
    assert run.failed == 1
    assert run.exit_code == 1
    assert run.coverage is not None and run.coverage[0].percent < 100


def test_agreement_names_its_holidays_and_zone() -> None:
    us = _files(scaffold.Options("acme", VERSION))["agreements/acme.sla"]
    assert "    public holidays US\n" in us
    assert 'timezone "America/New_York"' in us
    nsw = _files(scaffold.Options("acme", VERSION, holidays="AU-NSW"))["agreements/acme.sla"]
    assert "    public holidays AU-NSW\n" in nsw
    assert 'timezone "Australia/Sydney"' in nsw
    none = _files(scaffold.Options("acme", VERSION, holidays="none"))["agreements/acme.sla"]
    assert "public holidays" not in none
    assert 'timezone "UTC"' in none


_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)


@settings(max_examples=15, deadline=None)
@given(name=_names)
def test_any_valid_name_gives_a_clean_formatted_agreement(name: str) -> None:
    options = scaffold.Options(name, VERSION)
    assert scaffold.check_options(options) is None
    files = _files(options)
    agreement = f"agreements/{name}.sla"
    assert set(files) >= {agreement, f"agreements/{name}.scenarios"}
    assert check_text(files[agreement], agreement).diagnostics == ()
    assert formatter.check_formatted(parse(Source(agreement, files[agreement])))


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (scaffold.Options("a.b", VERSION), "--name 'a.b' cannot name an agreement file"),
        (scaffold.Options("-x", VERSION), "--name '-x'"),
        (scaffold.Options("", VERSION), "--name ''"),
        (scaffold.Options("x" * 65, VERSION), "at most 64"),
        (scaffold.Options('a"b', VERSION), "--name"),
        (scaffold.Options("acme", VERSION, ci="jenkins"), "--ci 'jenkins': choose one of"),
        (scaffold.Options("acme", VERSION, holidays="IE"), "--holidays 'IE': choose one of"),
        (scaffold.Options("acme", VERSION, timezone="Mars/Base"), "not an IANA time zone"),
        (scaffold.Options("acme", VERSION, timezone="../etc"), "not an IANA time zone"),
    ],
)
def test_bad_options_are_refused_with_a_reason(options: scaffold.Options, message: str) -> None:
    problem = scaffold.check_options(options)
    assert problem is not None and message in problem
    with pytest.raises(ValueError, match=re.escape(message)):
        scaffold.scaffold(options)


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("acme", "acme"),
        ("Acme Widgets", "acme-widgets"),
        ("revops_2026", "revops-2026"),
        ("  ", "company"),
        ("", "company"),
        ("Ünïcode", "unicode"),
        ("Café Noir", "cafe-noir"),
        ("日本", "company"),
        ("x" * 80, "x" * 64),
    ],
)
def test_default_name_comes_from_the_folder(folder: str, name: str) -> None:
    assert scaffold.default_name(folder) == name


def test_next_steps_start_where_the_user_is() -> None:
    options = scaffold.Options("acme", VERSION)
    assert scaffold.next_steps(options, ".")[0] == "slaspec lint agreements/"
    assert scaffold.next_steps(options, "my repo")[0] == "cd 'my repo'"
    assert scaffold.next_steps(options, "repo", in_git=False)[:2] == ("cd repo", "git init")
    gitlab = scaffold.Options("acme", VERSION, ci="gitlab")
    assert ".gitlab-ci.yml" in scaffold.next_steps(gitlab, ".")[-1]


# ---------------------------------------------------------------- the YAML files


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def test_github_workflow_has_the_three_jobs() -> None:
    workflow = read_yaml(scaffold.github_workflow(VERSION))
    assert workflow["name"] == "slaspec"
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["lint", "test", "diff"]
    uses = {
        name: [s.get("uses", "").split("@")[0] for s in _steps(job)] for name, job in jobs.items()
    }
    for name in jobs:
        assert uses[name][:2] == ["actions/checkout", "actions/setup-python"]
        assert all(
            set(step) <= {"name", "uses", "with", "run", "if", "env"} for step in _steps(jobs[name])
        )
    assert "github/codeql-action/upload-sarif" in uses["lint"]
    assert jobs["lint"]["permissions"]["security-events"] == "write"
    upload = next(s for s in _steps(jobs["lint"]) if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == "slaspec.sarif"
    assert "mikepenz/action-junit-report" in uses["test"]
    assert jobs["test"]["permissions"]["checks"] == "write"
    assert jobs["diff"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["diff"]["permissions"]["pull-requests"] == "write"
    assert _steps(jobs["diff"])[0]["with"]["fetch-depth"] == "0"
    comment = _steps(jobs["diff"])[-1]["run"]
    assert "gh pr comment" in comment and "--body-file slaspec-diff.md" in comment


def test_gitlab_ci_has_the_three_jobs() -> None:
    ci = read_yaml(scaffold.gitlab_ci(VERSION))
    assert ci["stages"] == ["check"]
    assert ci["default"]["before_script"] == ['pip install "$SLASPEC"']
    jobs = {key: value for key, value in ci.items() if key.startswith("slaspec-")}
    assert list(jobs) == ["slaspec-lint", "slaspec-test", "slaspec-diff"]
    assert all(job["stage"] == "check" for job in jobs.values())
    assert jobs["slaspec-test"]["artifacts"]["reports"]["junit"] == "slaspec-junit.xml"
    assert jobs["slaspec-lint"]["artifacts"]["paths"] == ["slaspec.sarif"]
    assert jobs["slaspec-diff"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert jobs["slaspec-diff"]["variables"] == {"GIT_DEPTH": "0"}
    assert "merge_requests/$CI_MERGE_REQUEST_IID/notes" in jobs["slaspec-diff"]["script"][-1]


def test_pre_commit_config_uses_the_published_hooks() -> None:
    config = read_yaml(scaffold.pre_commit_config(VERSION))
    (repo,) = config["repos"]
    assert repo["repo"] == scaffold.HOOKS_REPO
    assert [hook["id"] for hook in repo["hooks"]] == ["slaspec-fmt", "slaspec-lint", "slaspec-test"]
    assert repo["hooks"][2]["args"] == ["agreements/"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_yaml_reads_alike_with_pyyaml_when_installed(case: str) -> None:
    yaml = pytest.importorskip("yaml")
    for path, text in _files(CASES[case]).items():
        if path.endswith((".yml", ".yaml")):
            # BaseLoader reads every scalar as text, as read_yaml does (`on:` stays a key).
            expected = yaml.load(text, Loader=yaml.BaseLoader)
            assert _none_to_empty(read_yaml(text)) == expected


def _none_to_empty(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        return {key: _none_to_empty(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_none_to_empty(item) for item in value]
    return value


def test_golden_folder_has_no_stray_cases() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == sorted(CASES)
