"""docs/ci.md, the CI files `slaspec init` writes and .pre-commit-hooks.yaml: every `slaspec`
command line in them parses with the real CLI parser, the docs show exactly what the scaffold
writes, and the hook manifest follows pre-commit's schema.

Command lines are found in the shell of YAML files (`run`, `script`, `before_script`), in
console blocks of the docs (`$ slaspec ...`), in inline code starting with `slaspec ` in the
docs' prose, in the hooks' `entry` and `args`, and in the next steps `slaspec init` prints.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from slaspec import __version__, cli, scaffold
from test_cli_init import parser_with_init
from test_scaffold import read_yaml

DOC = ROOT / "docs" / "ci.md"
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!-- (?P<kind>scaffold|init-output)(?:: (?P<path>\S+))? -->$")
_INLINE = re.compile(r"(?<!`)`(slaspec [^`]+)`(?!`)")
_SHELL_KEYS = {"run", "script", "before_script", "after_script"}
_CONTROL = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
_REDIRECT = {">", ">>", "<", ">&", "<&"}
_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "time"}
# pre-commit's hook manifest keys (https://pre-commit.com/#new-hooks) and the required ones.
_HOOK_KEYS = {
    "id", "name", "entry", "language", "files", "exclude", "types", "types_or",
    "exclude_types", "always_run", "fail_fast", "verbose", "pass_filenames", "require_serial",
    "description", "language_version", "minimum_pre_commit_version", "args", "stages",
}  # fmt: skip
_HOOK_REQUIRED = {"id", "name", "entry", "language"}


# ---------------------------------------------------------------- reading the sources


def _blocks(text: str) -> Iterator[tuple[str, str, str | None]]:
    """Each fenced block of a Markdown text: (info string, body, marker line above it)."""
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index].rstrip("\n"))
        if opened is None:
            index += 1
            continue
        marker = lines[index - 1].strip() if index and lines[index - 1].startswith("<!--") else None
        end = index + 1
        while not lines[end].startswith("```"):
            end += 1
        yield opened.group(1), "".join(lines[index + 1 : end]), marker
        index = end + 1


def _prose(text: str) -> str:
    """The text outside fenced blocks."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _shell_texts(value: Any, key: str | None = None) -> Iterator[str]:
    """The shell scripts in a YAML document: the values of run/script keys, anywhere in it."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _shell_texts(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _shell_texts(item, key)
    elif isinstance(value, str) and key in _SHELL_KEYS:
        yield value


def slaspec_commands(script: str) -> list[list[str]]:
    """The argument lists of the `slaspec` commands in a shell script, redirections removed."""
    found: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        words = iter(list(lexer))
        for word in words:
            if word in _CONTROL:
                found.append(command)
                command = []
            elif word in _REDIRECT:
                next(words, None)
            else:
                command.append(word)
        found.append(command)
    for command in found:
        while command and command[0] in _KEYWORDS:
            del command[0]
    return [command for command in found if command[:1] == ["slaspec"]]


def _console_commands(body: str) -> Iterator[list[str]]:
    lines = body.replace("\\\n", " ").splitlines()
    for line in lines:
        if line.startswith("$ "):
            yield from slaspec_commands(line[2:])


def _doc_commands() -> list[tuple[str, list[str]]]:
    text = DOC.read_text(encoding="utf-8")
    commands: list[tuple[str, list[str]]] = []
    for info, body, _ in _blocks(text):
        if info == "yaml":
            for script in _shell_texts(read_yaml(body)):
                commands += [("docs yaml", command) for command in slaspec_commands(script)]
        elif info in ("console", "sh", "bash"):
            commands += [("docs console", command) for command in _console_commands(body)]
    return commands


def _scaffold_commands() -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for ci in scaffold.CI_CHOICES:
        options = scaffold.Options("acme", __version__, ci=ci)
        for file in scaffold.scaffold(options):
            if file.path.endswith((".yml", ".yaml")):
                for script in _shell_texts(read_yaml(file.text)):
                    commands += [(file.path, c) for c in slaspec_commands(script)]
        for step in scaffold.next_steps(options, "repo", in_git=False):
            commands += [("next steps", c) for c in slaspec_commands(step)]
    return commands


def _hooks() -> list[dict[str, Any]]:
    hooks = read_yaml(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


def _hook_commands() -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    config = read_yaml(scaffold.pre_commit_config(__version__))
    overrides = {hook["id"]: hook.get("args") for hook in config["repos"][0]["hooks"]}
    for hook in _hooks():
        for args in (hook.get("args", []), overrides.get(hook["id"])):
            if args is None:
                continue
            files = ["agreements/acme.sla"] if hook.get("pass_filenames") != "false" else []
            commands.append((hook["id"], [*shlex.split(hook["entry"]), *args, *files]))
    return commands


ALL_COMMANDS = _doc_commands() + _scaffold_commands() + _hook_commands()


# ---------------------------------------------------------------- every command line parses


def _parses(argv: list[str]) -> str | None:
    """Why the command line does not parse, or None when it does."""
    parser = parser_with_init()
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return "argparse refused it"
    for report in getattr(args, "report", None) or ():
        fmt = report.partition("=")[0]
        if fmt not in cli.REPORT_FORMATS:
            return f"--report {report}: no such format"
    return None


@pytest.mark.parametrize(
    ("where", "command"),
    ALL_COMMANDS,
    ids=[f"{where}: {' '.join(command)[:60]}" for where, command in ALL_COMMANDS],
)
def test_command_line_parses(where: str, command: list[str], capsys: Any) -> None:
    problem = _parses(command[1:])
    assert problem is None, (
        f"{where}: `{shlex.join(command)}`: {problem}\n{capsys.readouterr().err}"
    )


def test_the_extraction_finds_every_kind_of_command() -> None:
    def seen(where: str) -> set[str]:
        return {command[1] for place, command in ALL_COMMANDS if place == where}

    assert seen(".github/workflows/slaspec.yml") == {"lint", "fmt", "test", "diff", "generate"}
    assert seen(".gitlab-ci.yml") == {"lint", "fmt", "test", "diff", "generate"}
    assert seen("docs yaml") == {"lint", "fmt", "test", "diff", "generate"}
    assert seen("docs console") >= {"init", "generate", "diff", "replay"}
    assert seen("next steps") == {"lint", "test"}
    assert {where for where, _ in _hook_commands()} == {
        "slaspec-fmt",
        "slaspec-lint",
        "slaspec-test",
    }


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            "slaspec lint a/ --format sarif -o x.sarif || true",
            [["slaspec", "lint", "a/", "--format", "sarif", "-o", "x.sarif"]],
        ),
        (
            'slaspec diff "$B:$f" "$f" --impact "$log" >> d.md',
            [["slaspec", "diff", "$B:$f", "$f", "--impact", "$log"]],
        ),
        (
            "if [ -f x ]; then slaspec test a/ \\\n  --coverage; fi",
            [["slaspec", "test", "a/", "--coverage"]],
        ),
        ("for f in a b; do slaspec fmt $f; done", [["slaspec", "fmt", "$f"]]),
        ("echo slaspec lint # not a command of its own", []),
        ("# slaspec lint a comment", []),
    ],
)  # fmt: skip
def test_command_extraction(script: str, expected: list[list[str]]) -> None:
    assert slaspec_commands(script) == expected


def test_a_wrong_option_is_caught() -> None:
    assert _parses(["lint", "agreements/", "--format", "junit"]) is not None
    assert _parses(["test", "agreements/", "--threshold", "100"]) is not None
    assert _parses(["replay", "a.sla", "l.csv", "--report", "pdf=x.pdf"]) is not None
    assert _parses(["replay", "a.sla", "l.csv", "--format", "markdown"]) is None


def test_replay_has_the_report_formats_the_docs_use() -> None:
    assert {"markdown", "junit", "html"} <= set(cli.REPORT_FORMATS)


def test_inline_commands_in_the_prose() -> None:
    spans = _INLINE.findall(_prose(DOC.read_text(encoding="utf-8")))
    assert spans, "docs/ci.md names no command"
    parser = parser_with_init()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(commands, dict)
    for span in spans:
        words = shlex.split(span)
        assert words[1] in commands, f"`{span}` names no command"
        if len(words) > 2:
            assert _parses(words[1:]) is None, f"`{span}` does not parse"


# ---------------------------------------------------------------- the docs show the scaffold


def _marked_blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for _, body, marker in _blocks(DOC.read_text(encoding="utf-8")):
        matched = _MARKER.match(marker or "")
        if matched is not None:
            found[matched.group("path") or matched.group("kind")] = body
    return found


def test_docs_show_what_init_writes() -> None:
    blocks = _marked_blocks()
    assert set(blocks) == {
        ".github/workflows/slaspec.yml",
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
        "init-output",
    }
    pinned = re.search(r'SLASPEC: "slaspec==([^"]+)"', blocks[".github/workflows/slaspec.yml"])
    assert pinned is not None
    # The docs may show an older release's pin; everything else must be what init writes now.
    version = pinned.group(1)
    assert blocks[".github/workflows/slaspec.yml"] == scaffold.github_workflow(version)
    assert blocks[".gitlab-ci.yml"] == scaffold.gitlab_ci(version)
    assert blocks[".pre-commit-config.yaml"] == scaffold.pre_commit_config(version)


def test_docs_show_what_init_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    body = _marked_blocks()["init-output"]
    command, _, shown = body.partition("\n")
    assert command.startswith("$ slaspec init ")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "build_parser", parser_with_init)
    assert cli.main(shlex.split(command)[2:]) == 0
    assert capsys.readouterr().out == shown


def test_every_yaml_block_is_well_formed() -> None:
    blocks = [body for info, body, _ in _blocks(DOC.read_text(encoding="utf-8")) if info == "yaml"]
    assert len(blocks) == 3
    for body in blocks:
        assert isinstance(read_yaml(body), dict)


def test_docs_list_every_init_option_and_holiday_preset() -> None:
    text = DOC.read_text(encoding="utf-8")
    for preset in scaffold.HOLIDAY_PRESETS:
        assert f"`{preset}`" in text
    init = next(a for a in parser_with_init()._actions if a.dest == "command").choices["init"]
    for action in init._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help"):
                assert f"| `{option}" in text, f"docs/ci.md does not describe {option}"


# ---------------------------------------------------------------- the hook manifest


def test_manifest_follows_the_pre_commit_schema() -> None:
    hooks = _hooks()
    assert [hook["id"] for hook in hooks] == ["slaspec-fmt", "slaspec-lint", "slaspec-test"]
    for hook in hooks:
        assert _HOOK_REQUIRED <= set(hook) <= _HOOK_KEYS, hook["id"]
        assert hook["language"] == "python"
        assert hook["entry"].startswith("slaspec ")
        assert all(isinstance(value, (str, list)) for value in hook.values())
        if "pass_filenames" in hook:
            assert hook["pass_filenames"] in ("true", "false")
        re.compile(hook["files"])


@pytest.mark.parametrize(
    ("hook", "path", "runs"),
    [
        ("slaspec-fmt", "agreements/acme.sla", True),
        ("slaspec-fmt", "agreements/acme.scenarios", False),
        ("slaspec-fmt", "agreements/acme.sla.orig", False),
        ("slaspec-lint", "shared/calendars.sla", True),
        ("slaspec-lint", "README.md", False),
        ("slaspec-test", "agreements/acme.sla", True),
        ("slaspec-test", "agreements/acme.calls.scenarios", True),
        ("slaspec-test", "agreements/notes.txt", False),
    ],
)
def test_hooks_run_on_the_right_files(hook: str, path: str, runs: bool) -> None:
    # pre-commit matches `files` with re.search against the path from the repository's top.
    (found,) = [h for h in _hooks() if h["id"] == hook]
    assert bool(re.search(found["files"], path)) is runs


def test_scaffold_config_uses_only_hooks_the_manifest_has() -> None:
    config = read_yaml(scaffold.pre_commit_config(__version__))
    used = [hook["id"] for hook in config["repos"][0]["hooks"]]
    assert used == [hook["id"] for hook in _hooks()]
