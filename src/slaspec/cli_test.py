"""The `slaspec test` command: paths -> scenario test files and their agreements -> report, exit.

Like cli.py, and unlike the core, this module does I/O: it walks folders for `.scenarios` files,
reads them and their agreements (through `cli.read_source`) and writes the report (through
`cli._write_output`). What it computes comes from the pure `scenarios` and `scenario_report`
modules. cli.py registers the command with `add_test_command` (imported inside `build_parser`,
since this module imports cli.py).

Exit codes: 0 every scenario passed, 1 a scenario failed or coverage is below the threshold,
2 a path, test file or agreement could not be used.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from slaspec.cli import (
    AGREEMENT_SUFFIX,
    UsageError,
    _parser_ready,
    _today,
    _write_output,
    read_source,
)
from slaspec.diagnostics import Diagnostic

if TYPE_CHECKING:
    from slaspec.pipeline import Checked

# cli.py's subcommands are parsers of its own ArgumentParser subclass.
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)

FORMATS = ("text", "json", "junit")
# scenarios.SUFFIX, spelled here because every command line registers this command, and the
# scenario engine (imported only when `slaspec test` runs) takes a twentieth of a second to
# load; tests/test_startup.py keeps the two equal.
SUFFIX = ".scenarios"


def add_test_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add `slaspec test` to the CLI's subcommands."""
    test = commands.add_parser("test", help="run the scenario tests kept beside agreements")
    test.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=f"scenario test files ({SUFFIX}), agreements (their tests are beside them) or folders",
    )
    test.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only the scenarios whose name matches this glob, e.g. '*breach*' (repeatable)",
    )
    test.add_argument(
        "--coverage",
        action="store_true",
        help="report which stages, handoffs, criteria, clocks, tiers and targets were exercised",
    )
    test.add_argument(
        "--coverage-threshold",
        type=threshold,
        metavar="PCT",
        help="exit 1 when an agreement's coverage is below PCT percent (implies --coverage)",
    )
    test.add_argument("--format", choices=FORMATS, default="text", help="output format")
    test.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    test.set_defaults(handler=cmd_test)


def threshold(text: str) -> Decimal:
    """A coverage threshold: a percentage from 0 to 100, with or without `%`."""
    try:
        value = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage such as 90") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 100")
    return value


def cmd_test(args: argparse.Namespace) -> int:
    """Run the scenario tests under the given paths and write the report."""
    from slaspec import scenario_report, scenarios

    renderers = {
        "text": scenario_report.render_text,
        "json": scenario_report.render_json,
        "junit": scenario_report.render_junit,
    }
    files, problems = find_test_files(args.paths)
    checked: dict[str, Checked | Diagnostic] = {}
    suites: list[scenarios.Suite] = []
    for path in files:
        source = read_source(path)
        if isinstance(source, Diagnostic):
            problems.append(source)
            continue
        test = scenarios.parse(source)
        agreement = scenarios.agreement_path(test)
        if agreement not in checked:
            checked[agreement] = _check(agreement)
        suites.append(scenarios.suite(test, checked[agreement]))
    run = scenarios.run_all(
        suites,
        args.run,
        with_coverage=args.coverage,
        threshold=args.coverage_threshold,
        problems=problems,
    )
    if args.run and run.scenarios == 0 and not run.could_not_run:
        shown = ", ".join(repr(pattern) for pattern in args.run)
        raise UsageError(f"--run {shown} matches no scenario")
    _write_output(renderers[args.format](run), args.output)
    return run.exit_code


def _check(path: str) -> Checked | Diagnostic:
    from slaspec.pipeline import check_agreement

    source = read_source(path)
    if isinstance(source, Diagnostic):
        return source
    _parser_ready()
    return check_agreement(source, read_source, _today())


def find_test_files(paths: Sequence[str]) -> tuple[list[str], list[Diagnostic]]:
    """The test files the paths name, in order and each once, and the paths that name none.

    A folder stands for every `.scenarios` file below it; an agreement for the test files
    beside it named after it (`harbour-b2b.scenarios`, `harbour-b2b.calls.scenarios`).
    """
    found: list[str] = []
    problems: list[Diagnostic] = []
    for path in paths:
        target = Path(path)
        if target.is_dir():
            inside = sorted(str(p) for p in target.rglob(f"*{SUFFIX}") if p.is_file())
            if not inside:
                problems.append(
                    Diagnostic(
                        "SLA003",
                        f"{path} is a folder with no {SUFFIX} files",
                        path,
                        help=f"write scenario tests beside an agreement, as NAME{SUFFIX}"
                        " (see docs/testing.md)",
                    )
                )
            found.extend(inside)
        elif not target.exists():
            problems.append(
                Diagnostic(
                    "SLA002",
                    f"no such file: {path}",
                    path,
                    help="check the path; it is relative to the current folder",
                )
            )
        elif path.endswith(AGREEMENT_SUFFIX):
            beside = _beside(target)
            if not beside:
                problems.append(
                    Diagnostic(
                        "SLA002",
                        f"no scenario tests beside {path}",
                        path,
                        help=f"write them in {target.with_suffix(SUFFIX)} (see docs/testing.md)",
                    )
                )
            found.extend(beside)
        elif path.endswith(SUFFIX):
            found.append(path)
        else:
            problems.append(
                Diagnostic(
                    "SLA003",
                    f"{path} is neither a scenario test file ({SUFFIX}) nor an "
                    f"agreement ({AGREEMENT_SUFFIX})",
                    path,
                    help=f"name {SUFFIX} files, the agreements they test, or folders",
                )
            )
    return list(dict.fromkeys(found)), problems


def _beside(agreement: Path) -> list[str]:
    stem = agreement.name.removesuffix(AGREEMENT_SUFFIX)
    folder = agreement.parent
    named = [folder / f"{stem}{SUFFIX}"]
    named += sorted(folder.glob(f"{stem}.*{SUFFIX}"))
    return [str(path) for path in named if path.is_file()]
