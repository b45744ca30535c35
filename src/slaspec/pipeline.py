"""The pipeline: agreement source -> parse -> load uses -> check -> suppress -> compile, in order.

Like an environment that runs the compiler stages one after another, this module is the one
place that knows their order; the CLI and the tests call it instead of wiring stages by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slaspec import suppressions
from slaspec.diagnostics import Diagnostic, Severity, sort_key
from slaspec.loader import Program, Reader, load
from slaspec.semantics import check
from slaspec.source import Source

if TYPE_CHECKING:
    from slaspec.compiler import Agreement


@dataclass(frozen=True, slots=True)
class Checked:
    """An agreement after every check: its findings, and the compiled form when it has no errors."""

    program: Program
    diagnostics: tuple[Diagnostic, ...]
    agreement: Agreement | None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The findings of error severity."""
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


def check_agreement(root: Source, read: Reader, today: dt.date, compile_: bool = True) -> Checked:
    """Run every stage up to compilation; `today` anchors checks that look ahead in time.

    `compile_=False` stops after the checks (all `lint` needs), which also spares loading the
    compiler.
    """
    program = load(root, read)
    found: list[Diagnostic] = list(program.diagnostics)
    for parsed in program.files:
        found.extend(parsed.diagnostics)
    scope = None
    if program.ok:
        semantic, scope = check(program, today)
        found.extend(semantic)
    remaining: list[Diagnostic] = []
    by_file = {parsed.source.name: parsed for parsed in program.files}
    for name, parsed in by_file.items():
        mine = [d for d in found if d.file == name]
        if parsed.document is not None:
            mine = suppressions.apply(mine, parsed)
        remaining.extend(mine)
    remaining.extend(d for d in found if d.file not in by_file)
    unique = sorted(set(remaining), key=sort_key)
    agreement = None
    # Names, types and units must be right to compile, even where a comment silences them.
    structural = any(d.code < "SLA300" and d.severity is Severity.ERROR for d in found)
    has_errors = any(d.severity is Severity.ERROR for d in unique)
    if (
        compile_
        and scope is not None
        and not (has_errors or structural)
        and program.root.document is not None
    ):
        from slaspec.compiler import compile_agreement

        agreement = compile_agreement(program, scope)
    return Checked(program, tuple(unique), agreement)
