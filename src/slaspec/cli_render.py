"""The `slaspec render` command: an agreement file -> its signing document (Markdown or HTML), exit.

Like cli.py, and unlike the core, this module does I/O, through cli.py's helpers: it reads the
agreement (`cli._load_agreement`, which prints the errors and exits 2 when it has any), reads
the committed rendering that `--check` compares with (`cli.read_source`) and writes the document
or the diff (`cli._write_output`). What it writes comes from the pure `document` module. cli.py
registers the command with `add_render_command` inside `build_parser`.

Exit codes: 0 written (or, with --check, up to date), 1 --check found the committed rendering out
of date (a unified diff is printed), 2 the agreement has errors or a file could not be used.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Iterable
from typing import TypeVar

from slaspec.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    _load_agreement,
    _today,
    _write_output,
    read_source,
)
from slaspec.diagnostics import Diagnostic

# cli.py's subcommands are parsers of its own ArgumentParser subclass.
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)

FORMATS = ("markdown", "html")


def year(text: str) -> int:
    """A calendar year the holiday tables can list."""
    from slaspec import calendar as cal

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year such as 2026") from None
    if not cal.FIRST_YEAR <= value <= cal.LAST_YEAR:
        raise argparse.ArgumentTypeError(
            f"{value} is outside {cal.FIRST_YEAR}-{cal.LAST_YEAR}, the years calendars cover"
        )
    return value


def add_render_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add `slaspec render` to the CLI's subcommands."""
    render = commands.add_parser(
        "render", help="write the agreement as a document for the people who sign it"
    )
    render.add_argument("agreement", metavar="AGREEMENT", help="the agreement file (.sla), or -")
    render.add_argument("--format", choices=FORMATS, default="markdown", help="output format")
    render.add_argument(
        "--year",
        type=year,
        metavar="YEAR",
        help="the year whose public holidays the calendars list (default: this year)",
    )
    where = render.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write the document to FILE")
    where.add_argument(
        "--check",
        metavar="FILE",
        help="write nothing; exit 1 with a diff when FILE differs from a fresh rendering",
    )
    render.set_defaults(handler=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    """Render an agreement as a document, or check a committed rendering against it."""
    # Imported here, not at the top: every command line registers this command.
    from slaspec.document import render_html, render_markdown, wording_of

    checked = _load_agreement(args.agreement)
    assert checked.agreement is not None
    shown_year = args.year if args.year is not None else _today().year
    render = {"markdown": render_markdown, "html": render_html}[args.format]
    text = render(checked.agreement, shown_year, wording_of(checked.program))
    if args.check is None:
        _write_output(text, args.output)
        return EXIT_OK
    committed = _committed(args.check)
    if committed == text:
        return EXIT_OK
    diff = difflib.unified_diff(
        committed.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=args.check,
        tofile=f"{args.check} (rendered from {args.agreement})",
    )
    command = ["slaspec", "render", args.agreement, "--format", args.format]
    if args.year is not None:
        command += ["--year", str(args.year)]
    command += ["-o", args.check]
    advice = (
        f"{args.check} is out of date with {args.agreement}; "
        f"render it again with: {shlex.join(command)}\n"
    )
    _write_output("".join(_terminated(diff)) + advice, None)
    return EXIT_FINDINGS


def _committed(path: str) -> str:
    """The committed rendering's text ('' when the file does not exist yet)."""
    found = read_source(path)
    if isinstance(found, Diagnostic):
        if found.code == "SLA002" and found.message.startswith("no such file"):
            return ""
        advice = f" ({found.help})" if found.help else ""
        raise UsageError(f"--check: {found.message}{advice}")
    return found.text


def _terminated(lines: Iterable[str]) -> list[str]:
    """Diff lines, each ending in a line break (a file without a final one still diffs)."""
    out: list[str] = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return out
