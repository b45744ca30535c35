"""The `slaspec diff` command: two agreement versions (files or REV:path), logs -> report, exit.

Like cli.py, and unlike the core, this module does I/O: it reads agreement files (through
`cli.read_source`), runs `git show REV:path` for a version kept in git, reads the logs of
`--impact` (through cli.py's log reader) and writes the report (through `cli._write_output`).
What it computes comes from the pure `diff` module, imported only when the command runs, since
it brings the replay engine and the analysis with it. cli.py registers the command with
`add_diff_command` inside `build_parser`, as it does for `slaspec test`.

Exit codes: 0 no change of a kind named by `--fail-on` (or no `--fail-on`), 1 such a change,
2 a version could not be read or has errors, or a log could not be read.
"""

from __future__ import annotations

import argparse
import posixpath
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from slaspec.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    _gc_paused,
    _Logs,
    _parse_instant,
    _parser_ready,
    _report_file_errors,
    _today,
    _write_output,
    add_log_reading_options,
    decode_source,
    read_source,
)
from slaspec.diagnostics import Diagnostic, Severity
from slaspec.source import Source

if TYPE_CHECKING:
    from slaspec.diff import Impact, Version
    from slaspec.loader import Reader

# cli.py's subcommands are parsers of its own ArgumentParser subclass.
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)

FORMATS = ("text", "markdown", "json")
FAIL_ON = ("loosened", "removed", "any")


def add_diff_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add `slaspec diff` to the CLI's subcommands."""
    diff = commands.add_parser(
        "diff", help="what a change to an agreement means, and what it would have done"
    )
    diff.add_argument(
        "old", metavar="OLD", help="the agreement before: a file, or REV:path for a git revision"
    )
    diff.add_argument(
        "new", metavar="NEW", help="the agreement after: a file, or REV:path for a git revision"
    )
    diff.add_argument("--format", choices=FORMATS, default="text", help="output format")
    diff.add_argument(
        "--fail-on",
        action="append",
        choices=FAIL_ON,
        default=[],
        help="exit 1 when a change of this kind exists (repeatable; `any`: any change)",
    )
    diff.add_argument(
        "--impact",
        action="append",
        default=[],
        metavar="LOG",
        help="replay this canonical event log under both versions and compare (repeatable)",
    )
    add_log_reading_options(diff)
    diff.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare two versions of an agreement, with their impact on logs, and write the report."""
    from slaspec import diff as semantic

    old = load_version(args.old)
    new = load_version(args.new)
    changes = semantic.compare(old, new)
    found = _impact(args, old, new) if args.impact else None
    _write_output(semantic.RENDERERS[args.format](changes, found), args.output)
    return EXIT_FINDINGS if changes.fails(args.fail_on) else EXIT_OK


def split_revision(spec: str) -> tuple[str, str] | None:
    """(REV, path) for a `REV:path` argument; None for a file path (an existing file wins)."""
    if spec == "-" or ":" not in spec or Path(spec).exists():
        return None
    revision, _, path = spec.partition(":")
    return revision, path


def resolve(spec: str) -> tuple[Source | Diagnostic, Reader]:
    """The root source an OLD or NEW argument names, and the reader for the files it uses."""
    split = split_revision(spec)
    if split is None:
        return read_source(spec), read_source
    revision, path = split
    reader = git_reader(revision, cwd_relative=path.startswith(("./", "../")))
    return reader(path), reader


def git_reader(revision: str, cwd_relative: bool = False) -> Reader:
    """A reader of files as they are in a git revision: `git show REV:path`.

    Paths are relative to the repository's top, as in git, unless the root file was named
    relative to the current folder (`REV:./x.sla`), when the files it uses are too.
    """

    def read(path: str) -> Source | Diagnostic:
        shown = path
        if cwd_relative and not path.startswith(("./", "../", "/")):
            shown = f"./{path}"
        spec = f"{revision}:{shown}"
        try:
            done = subprocess.run(["git", "show", spec], capture_output=True, check=False)
        except OSError as error:
            return Diagnostic(
                "SLA002",
                f"cannot run git to read {spec}: {error.strerror}",
                spec,
                help="install git, or compare two files",
            )
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = reason[0].removeprefix("fatal: ") if reason else f"exit {done.returncode}"
            return Diagnostic(
                "SLA002",
                f"cannot read {spec} from git: {detail}",
                spec,
                help="write REV:path with a revision git knows (HEAD~1, main, a tag) and the "
                "path from the top of the repository",
            )
        if done.stdout.startswith(f"tree {spec}\n".encode()):
            return Diagnostic(
                "SLA003", f"{spec} is a folder in git, not a file", spec, help="name a .sla file"
            )
        return decode_source(posixpath.normpath(path), done.stdout)

    return read


def load_version(spec: str) -> Version:
    """The checked, compiled version an OLD or NEW argument names; a UsageError when it has
    errors or cannot be read."""
    from slaspec import diff as semantic
    from slaspec import reporters
    from slaspec.pipeline import check_agreement

    root, reader = resolve(spec)
    if isinstance(root, Diagnostic):
        advice = f" ({root.help})" if root.help else ""
        raise UsageError(f"{root.message}{advice}")
    _parser_ready()
    checked = check_agreement(root, reader, _today())
    if checked.agreement is None:
        errors = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
        sources = {parsed.source.name: parsed.source for parsed in checked.program.files}
        shown = reporters.render_text(errors, sources, False).rstrip("\n")
        raise UsageError(f"{spec} has errors; fix them before comparing:\n{shown}")
    return semantic.version(spec, checked)


def _impact(args: argparse.Namespace, old: Version, new: Version) -> Impact:
    from slaspec import diff as semantic
    from slaspec import readers

    options = readers.ReadOptions(args.log_timezone, args.dst_policy)
    problem = readers.check_options(options)
    if problem is not None:
        advice = f"; {problem.help}" if problem.help else ""
        raise UsageError(f"--log-timezone: {problem.message}{advice}")
    as_of = _parse_instant(args.as_of, "--as-of") if args.as_of else None
    logs = _Logs(args.impact, options, args.encoding)
    with _gc_paused():
        items = list(logs.items())
    _report_file_errors(logs, False)
    if logs.readable == 0:
        raise UsageError("no log given to --impact could be read; nothing to replay")
    with _gc_paused():
        return semantic.impact(old.agreement, new.agreement, items, as_of, tuple(args.impact))
