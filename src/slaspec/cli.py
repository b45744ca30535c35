"""The command line: arguments -> pipeline calls -> output files and exit codes.

This is the only module that opens files, prints, reads the environment or exits. Exit codes:
0 clean, 1 findings (or, for fmt --check, files that would change), 2 could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from slaspec import __version__, formatter, reporters
from slaspec.diagnostics import Diagnostic, Severity, sort_key
from slaspec.parser import parse
from slaspec.pipeline import Checked, check_agreement
from slaspec.source import Source

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
AGREEMENT_SUFFIX = ".sla"
DOCS_URI = "https://github.com/slaspec/slaspec/blob/main/docs/diagnostics.md"


class UsageError(Exception):
    """A command-line mistake: reported on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"slaspec: error: {message}\n")
        sys.stderr.write(f"Run `{self.prog} --help` for the options.\n")
        raise SystemExit(EXIT_ERROR)


# ---------------------------------------------------------------- reading files


def read_source(path: str) -> Source | Diagnostic:
    """Read an agreement file, or say why it cannot be read."""
    target = Path(path)
    if path == "-":
        return Source("<stdin>", sys.stdin.read())
    if not target.exists():
        return Diagnostic(
            "SLA002",
            f"no such file: {path}",
            path,
            help="check the path; it is relative to the current folder",
        )
    if not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        return Diagnostic("SLA003", f"{path} is {kind}", path, help="name an agreement file (.sla)")
    try:
        data = target.read_bytes()
    except OSError as error:
        return Diagnostic("SLA002", f"cannot read {path}: {error.strerror}", path)
    return decode_source(path, data)


def decode_source(path: str, data: bytes) -> Source | Diagnostic:
    """Decode agreement bytes as UTF-8 text (a byte-order mark is allowed)."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return Diagnostic(
            "SLA004",
            f"{path} is a binary file (NUL byte on line {line})",
            path,
            help="an agreement is a UTF-8 text file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Diagnostic(
            "SLA004",
            f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line})",
            path,
            help="save the file as UTF-8",
        )
    return Source(path, text.replace("\r\n", "\n"))


def expand_paths(paths: Sequence[str]) -> Iterator[str]:
    """Files named directly, and the .sla files below directories, in sorted order."""
    for path in paths:
        target = Path(path)
        if target.is_dir():
            found = sorted(str(p) for p in target.rglob(f"*{AGREEMENT_SUFFIX}") if p.is_file())
            if not found:
                yield path  # reported as "a directory" by read_source
            yield from found
        else:
            yield path


# ---------------------------------------------------------------- output helpers


def _use_color(stream: TextIO, choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or "NO_COLOR" in os.environ:
        return False
    return stream.isatty()


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from error


def _today() -> dt.date:
    return dt.date.today()


def _check_file(path: str) -> tuple[Checked | None, dict[str, Source], list[Diagnostic]]:
    source = read_source(path)
    if isinstance(source, Diagnostic):
        return None, {}, [source]
    checked = check_agreement(source, read_source, _today())
    sources = {parsed.source.name: parsed.source for parsed in checked.program.files}
    return checked, sources, list(checked.diagnostics)


def _load_agreement(path: str) -> Checked:
    """Check an agreement for a command that needs it compiled; exit 2 when it has errors."""
    checked, sources, diagnostics = _check_file(path)
    if checked is None or checked.agreement is None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        sys.stderr.write(
            reporters.render_text(errors, sources, _use_color(sys.stderr, "auto"))
        )
        sys.stderr.write(f"slaspec: {path} has errors; fix them (see `slaspec lint {path}`).\n")
        raise SystemExit(EXIT_ERROR)
    return checked


# ---------------------------------------------------------------- commands


def cmd_lint(args: argparse.Namespace) -> int:
    diagnostics: list[Diagnostic] = []
    sources: dict[str, Source] = {}
    could_not_run = False
    files = list(expand_paths(args.paths))
    for path in files:
        checked, found_sources, found = _check_file(path)
        if checked is None:
            could_not_run = True
        sources.update(found_sources)
        diagnostics.extend(found)
    unique = sorted(set(diagnostics), key=sort_key)
    if args.format == "text":
        text = reporters.render_text(unique, sources, _use_color(sys.stdout, args.color))
    elif args.format == "json":
        text = reporters.render_json(unique, sources)
    elif args.format == "sarif":
        text = reporters.render_sarif(unique, sources, __version__, DOCS_URI)
    else:
        text = reporters.render_github(unique, sources)
    _write_output(text, args.output)
    if could_not_run:
        return EXIT_ERROR
    return EXIT_FINDINGS if unique else EXIT_OK


def cmd_fmt(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in expand_paths(args.paths):
        source = read_source(path)
        if isinstance(source, Diagnostic):
            sys.stderr.write(reporters.render_text([source], {}, False))
            status = EXIT_ERROR
            continue
        parsed = parse(source)
        if parsed.document is None:
            sys.stderr.write(
                reporters.render_text(
                    list(parsed.diagnostics), {source.name: source}, _use_color(sys.stderr, "auto")
                )
            )
            sys.stderr.write(f"slaspec: not formatting {path}: fix the syntax errors first.\n")
            status = EXIT_ERROR
            continue
        formatted = formatter.format_document(parsed)
        changed = formatted != source.text
        if path == "-":
            sys.stdout.write(formatted)
            continue
        if args.diff:
            if changed:
                sys.stdout.write(formatter.diff(parsed, path))
                status = max(status, EXIT_FINDINGS)
        elif args.check:
            if changed:
                sys.stdout.write(f"would reformat {path}\n")
                status = max(status, EXIT_FINDINGS)
        elif changed:
            Path(path).write_text(formatted, encoding="utf-8")
            sys.stdout.write(f"reformatted {path}\n")
    return status


def cmd_graph(args: argparse.Namespace) -> int:
    checked = _load_agreement(args.path)
    assert checked.agreement is not None
    graph = checked.agreement.graph
    render: Callable[[], str] = {
        "mermaid": graph.to_mermaid,
        "dot": graph.to_dot,
        "json": graph.to_json,
    }[args.format]
    _write_output(render(), args.output)
    return EXIT_OK


# ---------------------------------------------------------------- argument parsing


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="slaspec",
        description="Service-level agreements between marketing and sales, as code.",
    )
    parser.add_argument("--version", action="version", version=f"slaspec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    lint = commands.add_parser("lint", help="check agreement files and report every problem")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="agreement files or folders")
    lint.add_argument(
        "--format", choices=("text", "json", "sarif", "github"), default="text", help="output format"
    )
    lint.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    lint.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    lint.set_defaults(handler=cmd_lint)

    fmt = commands.add_parser("fmt", help="rewrite agreement files in the canonical layout")
    fmt.add_argument("paths", nargs="+", metavar="PATH", help="agreement files or folders, or -")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    mode.add_argument("--diff", action="store_true", help="print a diff instead of writing")
    fmt.set_defaults(handler=cmd_fmt)

    graph = commands.add_parser("graph", help="draw the lifecycle of an agreement")
    graph.add_argument("path", metavar="AGREEMENT")
    graph.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid")
    graph.add_argument("-o", "--output", metavar="FILE", help="write to FILE")
    graph.set_defaults(handler=cmd_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run slaspec with the given arguments; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        result: int = args.handler(args)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_ERROR
    except UsageError as error:
        sys.stderr.write(f"slaspec: error: {error}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("slaspec: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return result


def entry() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
