"""Shared test helpers: compile agreements from text, locate repository files."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from slaspec.diagnostics import Diagnostic
from slaspec.pipeline import Checked, check_agreement
from slaspec.source import Source

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"
TODAY = dt.date(2026, 11, 30)
UPDATE_GOLDEN = os.environ.get("SLASPEC_UPDATE_GOLDEN") == "1"


def memory_reader(files: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """A reader over in-memory files, for `use` tests."""

    def read(path: str) -> Source | Diagnostic:
        if path not in files:
            return Diagnostic("SLA002", f"no such file: {path}", path)
        return Source(path, files[path])

    return read


def check_text(
    text: str, name: str = "test.sla", files: Mapping[str, str] | None = None
) -> Checked:
    """Run every check on an agreement given as text."""
    return check_agreement(Source(name, text), memory_reader(files or {}), TODAY)


def codes(checked: Checked) -> list[str]:
    """The codes of every finding, in report order."""
    return [d.code for d in checked.diagnostics]


def golden(path: Path, actual: str) -> None:
    """Compare with a golden file, or rewrite it under SLASPEC_UPDATE_GOLDEN=1."""
    if UPDATE_GOLDEN or not path.exists():
        path.write_text(actual, encoding="utf-8")
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} was missing and has been written; review it")
    assert actual == path.read_text(encoding="utf-8")


requires_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared is not present")
