"""`slaspec init` in-process: the files it writes, what it prints, and when it refuses.

Until cli.py registers the command, the tests add it to cli.py's parser with `add_init_command`
(the same call `build_parser` makes once wired), so `cli.main` runs it with its real error
handling. The printed summary is compared with tests/data/scaffold/init-output.txt
(SLASPEC_UPDATE_GOLDEN=1 rewrites it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, golden
from slaspec import __version__, cli, cli_init, scaffold
from slaspec.cli_init import add_init_command

GOLDEN = DATA / "scaffold"
_BUILD_PARSER = cli.build_parser


def parser_with_init() -> argparse.ArgumentParser:
    """cli.py's parser, with `init` added when cli.py does not register it yet."""
    parser = _BUILD_PARSER()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "init" not in commands.choices:
        add_init_command(commands)
    return parser


@dataclass(frozen=True)
class Run:
    """What one call of `main` did."""

    code: int
    out: str
    err: str


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., Run]:
    """Run `slaspec ARGS` in-process, in tmp_path, with `init` available."""
    monkeypatch.setattr(cli, "build_parser", parser_with_init)
    monkeypatch.chdir(tmp_path)

    def call(*args: str) -> Run:
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return call


def _written(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def _expected(name: str, **choices: str) -> dict[str, str]:
    options = scaffold.Options(name, __version__, **choices)
    return {file.path: file.text for file in scaffold.scaffold(options)}


def test_init_writes_the_scaffold_and_says_what_next(
    run: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether the temporary folder is in a git work tree depends on the machine; say it is not.
    monkeypatch.setattr(cli_init, "_in_git", lambda folder: False)
    result = run("init", "repo", "--name", "acme")
    assert (result.code, result.err) == (0, "")
    assert _written(tmp_path / "repo") == _expected("acme")
    golden(GOLDEN / "init-output.txt", result.out)


def test_init_in_the_current_git_repository(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    result = run("init", "--name", "acme", "--ci", "gitlab", "--holidays", "AU-NSW")
    assert result.code == 0
    assert " in " not in result.out.splitlines()[0]
    steps = result.out.split("Next:\n")[1].splitlines()
    assert steps[0] == "  slaspec lint agreements/"
    assert "git init" not in result.out
    assert _written(tmp_path) == _expected("acme", ci="gitlab", holidays="AU-NSW")


def test_git_work_tree_is_found_from_any_folder_inside(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    inside = tmp_path / "a" / "b"
    inside.mkdir(parents=True)
    assert cli_init._in_git(inside)
    assert cli_init._in_git(tmp_path / "not-yet-made")


def test_the_name_defaults_to_the_folder(run: Callable[..., Run], tmp_path: Path) -> None:
    folder = tmp_path / "Acme RevOps"
    folder.mkdir()
    result = run("init", str(folder), "--ci", "none")
    assert result.code == 0
    assert sorted(_written(folder)) == [
        ".pre-commit-config.yaml",
        "agreements/acme-revops.scenarios",
        "agreements/acme-revops.sla",
    ]


def test_the_written_project_passes_its_own_checks(
    run: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", "repo", "--name", "acme", "--timezone", "Europe/Berlin").code == 0
    monkeypatch.chdir(tmp_path / "repo")
    assert run("lint", "agreements/") == Run(0, "All checks passed.\n", "")
    assert run("fmt", "--check", "agreements/") == Run(0, "", "")
    tested = run("test", "agreements/", "--coverage-threshold", "100")
    assert tested.code == 0, tested.out
    assert "Coverage of agreements/acme.sla: 100%" in tested.out


def test_init_refuses_to_overwrite_and_changes_nothing(
    run: Callable[..., Run], tmp_path: Path
) -> None:
    agreements = tmp_path / "agreements"
    agreements.mkdir()
    (agreements / "acme.sla").write_text("# ours\n", encoding="utf-8")
    result = run("init", "--name", "acme")
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        "slaspec: error: not writing into .: agreements/acme.sla already exists; add --force "
        "to overwrite, or choose another --name or folder\n"
    )
    assert _written(tmp_path) == {"agreements/acme.sla": "# ours\n"}


def test_init_lists_every_file_in_the_way(run: Callable[..., Run], tmp_path: Path) -> None:
    assert run("init", "--name", "acme").code == 0
    result = run("init", "--name", "acme", "--ci", "gitlab")
    assert result.code == 2
    assert (
        "agreements/acme.sla, agreements/acme.scenarios, .pre-commit-config.yaml already exist"
        in result.err
    )
    assert not (tmp_path / ".gitlab-ci.yml").exists()


def test_init_keeps_unrelated_files(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Revenue operations\n", encoding="utf-8")
    (tmp_path / "agreements").mkdir()
    (tmp_path / "agreements" / "other.sla").write_text("# another\n", encoding="utf-8")
    assert run("init", "--name", "acme").code == 0
    written = _written(tmp_path)
    assert written["README.md"] == "# Revenue operations\n"
    assert written["agreements/other.sla"] == "# another\n"
    assert set(_expected("acme")) < set(written)


def test_force_overwrites(run: Callable[..., Run], tmp_path: Path) -> None:
    assert run("init", "--name", "acme").code == 0
    (tmp_path / "agreements" / "acme.sla").write_text("# edited\n", encoding="utf-8")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n", encoding="utf-8")
    result = run("init", "--name", "acme", "--force")
    assert result.code == 0
    assert _written(tmp_path) == _expected("acme")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "acme.v2"), "--name 'acme.v2' cannot name an agreement file"),
        (("--timezone", "Mars/Olympus"), "--timezone 'Mars/Olympus' is not an IANA time zone"),
        (("--holidays", "IE"), "argument --holidays: invalid choice: 'IE'"),
        (("--ci", "jenkins"), "argument --ci: invalid choice: 'jenkins'"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    run: Callable[..., Run], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run("init", *args)
    assert result.code == 2
    assert message in result.err
    assert _written(tmp_path) == {}


def test_a_file_is_not_a_folder(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x\n", encoding="utf-8")
    result = run("init", "notes.txt", "--name", "acme")
    assert (result.code, result.err) == (2, "slaspec: error: notes.txt is not a folder\n")


def test_a_folder_where_a_file_goes_is_reported(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / ".pre-commit-config.yaml").mkdir()
    result = run("init", "--name", "acme", "--force")
    assert result.code == 2
    assert "cannot write .pre-commit-config.yaml: it is a folder" in result.err
    assert not (tmp_path / "agreements").exists()


def test_help_lists_the_options(run: Callable[..., Run]) -> None:
    result = run("init", "--help")
    assert result.code == 0
    for option in ("DIR", "--name", "--ci", "--holidays", "--timezone", "--force"):
        assert option in result.out
