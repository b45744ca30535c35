"""Which modules run compiled by mypyc, and the guard that keeps a stale build from running.

An install compiles the replay's hot modules with mypyc when it can (hatch_build.py at the top
of the repository; docs/decisions.md says why). The extension modules sit beside their sources,
and Python imports an extension module before a source of the same name. An editable install
compiles once, at install time: after an edit to one of those sources the extension would still
run the code as it was. So the build records the sha256 of every source it compiled in
`_compiled.json`, and `guard` (run when the package is imported) compares them; when any source
differs, or none was compiled, every one of those modules is imported from its source. All or
none: compiled modules call each other directly, not through the import system.

The compiled and the interpreted modules give byte-identical results (tests/test_native.py).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
STAMP = "_compiled.json"


class _Sources(MetaPathFinder):
    """Imports the named modules of this package from their `.py` sources."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in self.names:
            return None
        source = PACKAGE / f"{name}.py"
        loader = importlib.machinery.SourceFileLoader(fullname, str(source))
        return importlib.util.spec_from_file_location(fullname, source, loader=loader)


def recorded() -> dict[str, str]:
    """The compiled modules of this install with the sha256 of the source each was built from."""
    try:
        stamp = (PACKAGE / STAMP).read_text(encoding="utf-8")
    except OSError:
        return {}
    modules = json.loads(stamp).get("modules", {})
    return {str(name): str(digest) for name, digest in modules.items()}


def stale(modules: dict[str, str]) -> list[str]:
    """The compiled modules whose source no longer is the one they were built from."""
    found = []
    for name, digest in sorted(modules.items()):
        try:
            source = (PACKAGE / f"{name}.py").read_bytes()
        except OSError:
            continue  # an install without sources: only the extension can be imported
        if hashlib.sha256(source).hexdigest() != digest:
            found.append(name)
    return found


def prefer_sources(names: frozenset[str] | None = None) -> None:
    """Import the given modules (by default every compiled one) from their sources from now on.

    For the guard below, and for tests that compare the interpreted engine with the compiled one
    in a fresh interpreter; a module already imported stays as it is.
    """
    chosen = frozenset(recorded()) if names is None else names
    if chosen and not any(isinstance(f, _Sources) for f in sys.meta_path):
        sys.meta_path.insert(0, _Sources(chosen))


def guard() -> None:
    """Run the compiled modules only when they were built from the sources beside them."""
    modules = recorded()
    if modules and stale(modules):
        prefer_sources(frozenset(modules))


def compiled() -> tuple[str, ...]:
    """The modules of this package that run compiled in this interpreter (once imported)."""
    return tuple(
        sorted(
            name.rpartition(".")[2]
            for name, module in list(sys.modules.items())
            if name.startswith(f"{__package__}.")
            and str(getattr(module, "__file__", "")).endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES)
            )
        )
    )
