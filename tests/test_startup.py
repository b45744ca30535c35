"""Start-up: what a command loads before it can work, checked in a fresh interpreter.

Every command line registers every subcommand, and `slaspec replay` and `slaspec lint` are run
in CI and pre-commit hooks many times a day, so libraries and modules that only some commands
use are imported where those commands run. These tests pin that down by the modules loaded,
not by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

import pytest

from conftest import ROOT
from slaspec import cli_import, cli_render, cli_test, mapping, scenario_report, scenarios

# Loaded only by the commands that use them: (module, the commands that need it).
ON_DEMAND = {
    "networkx": "graph, render (the lifecycle graph)",
    "jinja2": "HTML reports",
    "slaspec.html_report": "HTML reports",
    "slaspec.svg": "HTML reports and documents",
    "slaspec.scenarios": "test",
    "slaspec.scenario_report": "test",
    "slaspec.document": "render",
    "slaspec.importer": "import, and replays of CRM exports",
    "slaspec.mapping": "import, and replays of CRM exports",
    "slaspec.generate": "generate",
    "slaspec.diff": "diff",
    "pyarrow": "replays of a single CSV log of 8 MB or more (slaspec.columnar)",
    "slaspec.columnar": "replays of a single CSV log of 8 MB or more",
    "slaspec.columnar_parse": "replays of a single CSV log of 8 MB or more",
}
# What only replays, explain and schema need: a lint or fmt in a pre-commit hook skips them.
REPORTING = ("pydantic", "slaspec.report", "slaspec.render", "slaspec.analysis", "slaspec.readers")

_PROBE = """
import contextlib, io, json, sys
from slaspec import cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(sys.argv[1:])
print(json.dumps({"exit": code, "loaded": sorted(set(sys.modules) & set(json.loads(WATCHED)))}))
"""


def _loaded(*argv: str, watched: Iterable[str] = ON_DEMAND) -> set[str]:
    """The watched modules a fresh interpreter has loaded after running the command."""
    code = _PROBE.replace("WATCHED", repr(json.dumps(sorted(watched))))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exit"] == 0, done.stderr
    return set(result["loaded"])


@pytest.mark.parametrize(
    "argv",
    [
        ["lint", "agreements/"],
        ["replay", "agreements/harbour-b2b.sla", "examples/harbour-b2b.events.csv"],
        [
            "replay",
            "agreements/solo-consultant.sla",
            "examples/solo-consultant.events.csv",
            "--format",
            "json",
            "--report",
            f"csv={os.devnull}",
        ],
    ],
    ids=["lint", "replay-text", "replay-json-csv"],
)
def test_lint_and_replay_load_nothing_they_do_not_use(argv: list[str]) -> None:
    assert _loaded(*argv) == set()


@pytest.mark.parametrize("argv", [["lint", "agreements/"], ["fmt", "--check", "agreements/"]])
def test_lint_and_fmt_load_no_report_machinery(argv: list[str]) -> None:
    assert _loaded(*argv, watched=REPORTING) == set()


def test_the_probe_sees_what_a_command_loads() -> None:
    # Drawing the lifecycle is what networkx is for; without this the test above proves nothing.
    assert "networkx" in _loaded("graph", "agreements/harbour-b2b.sla")
    replayed = ["replay", "agreements/solo-consultant.sla", "examples/solo-consultant.events.csv"]
    assert _loaded(*replayed, watched=REPORTING) == set(REPORTING)


def test_constants_spelled_out_for_start_up_match_their_modules() -> None:
    assert cli_test.SUFFIX == scenarios.SUFFIX
    assert set(cli_test.FORMATS) == {
        name.removeprefix("render_") for name in dir(scenario_report) if name.startswith("render_")
    }
    assert cli_render.FORMATS == ("markdown", "html")
    assert cli_import._preset_names() == mapping.preset_names()


def test_the_probe_sees_pyarrow_when_columns_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLASPEC_COLUMNAR", "1")  # the shortcut whatever the log's size
    replayed = ["replay", "agreements/solo-consultant.sla", "examples/solo-consultant.events.csv"]
    assert _loaded(*replayed) == {"pyarrow", "slaspec.columnar", "slaspec.columnar_parse"}
