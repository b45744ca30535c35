"""The `slaspec init` command: a folder and choices -> the scaffolded files on disk, exit.

Like cli.py, and unlike the core, this module does I/O: it looks at the folder, creates the
folders the files go in and writes them (through `cli._write_output`). What it writes comes
from the pure `scaffold` module. cli.py registers the command with `add_init_command` inside
`build_parser`, as it does for `slaspec test` and `slaspec diff`.

Exit codes: 0 the files were written, 2 a file it would write exists (without --force), an
option is wrong, or a file could not be written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeVar

from slaspec import __version__, scaffold
from slaspec.cli import EXIT_OK, UsageError, _write_output

# cli.py's subcommands are parsers of its own ArgumentParser subclass.
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def add_init_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add `slaspec init` to the CLI's subcommands."""
    init = commands.add_parser(
        "init",
        help="start a repository: an agreement, its scenario tests, CI and pre-commit hooks",
    )
    init.add_argument(
        "folder",
        nargs="?",
        default=".",
        metavar="DIR",
        help="the repository's folder (default: the current folder; created if missing)",
    )
    init.add_argument(
        "--name",
        help="the agreement's name: agreements/NAME.sla (default: the folder's name)",
    )
    init.add_argument(
        "--ci",
        choices=scaffold.CI_CHOICES,
        default="github",
        help="the CI file to write: .github/workflows/slaspec.yml, .gitlab-ci.yml or none",
    )
    init.add_argument(
        "--holidays",
        choices=tuple(scaffold.HOLIDAY_PRESETS),
        default=scaffold.DEFAULT_HOLIDAYS,
        help="the public holidays of the office calendar (default: %(default)s)",
    )
    init.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the calendar's IANA time zone (default: the holiday set's, e.g. America/New_York)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")
    init.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    """Write the scaffold into the folder and print what was written and what to run next."""
    folder = Path(args.folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{args.folder} is not a folder")
    name = args.name
    if name is None:
        name = scaffold.default_name(folder.resolve().name)
    options = scaffold.Options(name, __version__, args.ci, args.holidays, args.timezone)
    problem = scaffold.check_options(options)
    if problem is not None:
        raise UsageError(problem)
    files = scaffold.scaffold(options)
    targets = [(folder / file.path, file) for file in files]
    if not args.force:
        existing = [file.path for target, file in targets if target.exists()]
        if existing:
            listed = ", ".join(existing)
            raise UsageError(
                f"not writing into {args.folder}: {listed} already "
                f"{'exists' if len(existing) == 1 else 'exist'}; "
                "add --force to overwrite, or choose another --name or folder"
            )
    for target, _ in targets:
        if target.is_dir():
            raise UsageError(f"cannot write {target}: it is a folder")
    for target, file in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot create {target.parent}: {error.strerror}") from error
        _write_output(file.text, str(target))
    _write_output(scaffold.summary(options, args.folder, files, _in_git(folder)), None)
    return EXIT_OK


def _in_git(folder: Path) -> bool:
    """Whether the folder is inside a git work tree (it or a parent has `.git`)."""
    where = folder.resolve()
    return any((path / ".git").exists() for path in (where, *where.parents))
