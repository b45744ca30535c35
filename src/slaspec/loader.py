"""Loading: a root agreement file and the files it `use`s -> a Program of parsed sources.

The loader never opens files itself: the caller passes `read`, which returns a Source or a
Diagnostic explaining why the file could not be read. `use` paths are relative to the file
that names them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from slaspec import nodes as n
from slaspec.diagnostics import Diagnostic
from slaspec.parser import Parsed, parse
from slaspec.source import Source

Reader = Callable[[str], Source | Diagnostic]


@dataclass(frozen=True, slots=True)
class Program:
    """The root file and every file it uses, each parsed once, with loading diagnostics."""

    root: Parsed
    modules: tuple[Parsed, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def files(self) -> tuple[Parsed, ...]:
        """The root first, then the used files in the order they were first reached."""
        return (self.root, *self.modules)

    @property
    def ok(self) -> bool:
        """True when every file parsed (semantic checks can run)."""
        return all(parsed.document is not None for parsed in self.files)


def resolve(base: str, path: str) -> str:
    """The path of a `use`d file, relative to the directory of the file naming it."""
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    directory = posixpath.dirname(base)
    return (
        posixpath.normpath(posixpath.join(directory, path))
        if directory
        else posixpath.normpath(path)
    )


def load(root: Source, read: Reader) -> Program:
    """Parse the root source and, transitively, every file it uses."""
    diagnostics: list[Diagnostic] = []
    parsed_root = parse(root)
    modules: dict[str, Parsed] = {}
    order: list[str] = []

    def visit(parsed: Parsed, stack: tuple[str, ...]) -> None:
        if parsed.document is None:
            return
        for declaration in parsed.document.declarations:
            if not isinstance(declaration, n.Use):
                continue
            target = resolve(parsed.source.name, declaration.path.value)
            if target in stack:
                chain = " -> ".join((*stack[stack.index(target) :], target))
                diagnostics.append(
                    Diagnostic(
                        "SLA104",
                        f"`use` cycle: {chain}",
                        parsed.source.name,
                        declaration.span,
                        help="shared declarations belong in a file that uses nothing back",
                    )
                )
                continue
            if target in modules:
                continue
            result = read(target)
            if isinstance(result, Diagnostic):
                diagnostics.append(
                    Diagnostic(
                        "SLA103",
                        f"cannot use `{declaration.path.value}`: {result.message}",
                        parsed.source.name,
                        declaration.path.span,
                        help=f"the path is relative to this file's folder (resolved to `{target}`)",
                    )
                )
                continue
            module = parse(result)
            modules[target] = module
            order.append(target)
            visit(module, (*stack, target))

    visit(parsed_root, (root.name,))
    return Program(parsed_root, tuple(modules[name] for name in order), tuple(diagnostics))
