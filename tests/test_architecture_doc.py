"""docs/architecture.md: every dump block is what docs/architecture/dump.py produces today.

The dump script wires the stages by hand; the tests here also check that the hand-wired blocks
match what the CLI prints for the same files (lint, graph, explain, replay --format json), so
the walkthrough cannot drift from the real command. SLASPEC_UPDATE_GOLDEN=1 rewrites the blocks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import ROOT, TODAY, UPDATE_GOLDEN, memory_reader
from slaspec import formatter
from slaspec.parser import parse
from slaspec.pipeline import check_agreement
from slaspec.source import Source

FOLDER = ROOT / "docs" / "architecture"
DOCUMENT = ROOT / "docs" / "architecture.md"
SCRIPT = FOLDER / "dump.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture_dump", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


dump = _load_script()
CURRENT = dump.dumps()
NAMES = [item.name for item in CURRENT]
BY_NAME = {item.name: item for item in CURRENT}

if UPDATE_GOLDEN:
    DOCUMENT.write_text(dump.update(DOCUMENT.read_text(encoding="utf-8"), CURRENT), "utf-8")


def _documented() -> dict[str, Any]:
    return dict(dump.blocks(DOCUMENT.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- the blocks are current


def test_the_document_marks_every_dump_once_in_order() -> None:
    assert list(_documented()) == NAMES
    assert len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_block_is_current(name: str) -> None:
    documented = _documented()
    assert name in documented, f"docs/architecture.md has no `<!-- dump: {name} -->` block"
    block = documented[name]
    assert block.info == BY_NAME[name].info
    assert block.text == BY_NAME[name].text, (
        f"the `{name}` block of docs/architecture.md is stale; rerun with "
        "SLASPEC_UPDATE_GOLDEN=1 (or python docs/architecture/dump.py --write) and review the diff"
    )


def test_dumps_are_deterministic_and_free_of_machine_details() -> None:
    again = dump.dumps()
    assert again == CURRENT
    for item in CURRENT:
        assert item.text.endswith("\n") and item.text.strip(), item.name
        assert not re.search(r"0x[0-9a-fA-F]{6,}", item.text), f"{item.name}: a memory address"
        for machine_detail in (str(ROOT), str(Path.home()), "/tmp", "\\"):
            assert machine_detail not in item.text, f"{item.name}: {machine_detail!r}"
        # A line of only backticks would close the fence early.
        assert not re.search(r"(?m)^`{3,}\s*$", item.text), item.name


def _prose() -> str:
    """The document without its dump blocks."""
    markdown = DOCUMENT.read_text(encoding="utf-8")
    prose: str = dump.update(markdown, [dump.Dump(name, "text", "") for name in NAMES])
    return prose


def test_prose_names_only_clauses_and_rows_the_dumps_show() -> None:
    shown = "".join(item.text for item in CURRENT)
    prose = _prose()
    clauses = sorted(set(re.findall(r"walkthrough\.sla:\d+", prose)))
    assert clauses != []
    for clause in clauses:
        assert f"'{clause}'" in shown or f"clause {clause}" in shown, (
            f"docs/architecture.md mentions {clause}, which no dump shows as a clause; "
            "update the prose to the regenerated dumps"
        )
    for line in sorted({int(n) for n in re.findall(r"(?i)\blines? (\d+)", prose)}):
        assert f"row={line})" in shown, f"the prose mentions log line {line}, which no dump shows"


# ---------------------------------------------------------------- the walkthrough itself


def test_walkthrough_lints_clean_and_is_formatted() -> None:
    text = (FOLDER / "walkthrough.sla").read_text(encoding="utf-8")
    checked = check_agreement(Source("walkthrough.sla", text), memory_reader({}), TODAY)
    assert [f"{d.code} {d.message}" for d in checked.diagnostics] == []
    assert checked.agreement is not None
    agreement = checked.agreement
    assert len(agreement.stages) == 4
    assert [h for h in agreement.handoffs.values() if h.criteria] != []
    assert [len(c.goals) for c in agreement.clocks.values()] == [2]
    assert formatter.check_formatted(parse(Source("walkthrough.sla", text)))


def test_walkthrough_log_is_small_and_exercises_every_bucket() -> None:
    assert BY_NAME["log"].text.count("\n") - 1 <= 10
    prepared = BY_NAME["prepared"].text
    assert "rejected=2, duplicate=1" in prepared


def test_broken_copies_break_what_they_say() -> None:
    text = (FOLDER / "walkthrough.sla").read_text(encoding="utf-8")
    assert parse(Source("broken.sla", dump.syntax_broken(text))).document is None
    semantic = dump.semantic_broken(text)
    checked = check_agreement(Source("broken.sla", semantic), memory_reader({}), TODAY)
    assert [d.code for d in checked.diagnostics] == ["SLA101"]
    with pytest.raises(ValueError, match="exactly once"):
        dump.syntax_broken(text.replace('stage sal "Sales accepted lead":', "stage sal:"))


# ---------------------------------------------------------------- the blocks match the CLI


def _cli(
    args: list[str],
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    from slaspec import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setenv("NO_COLOR", "1")
    cli.main(args)
    return capsys.readouterr().out


def test_explain_block_is_what_slaspec_explain_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["explain", "walkthrough.sla", "walkthrough.csv", "--lead", dump.LEAD]
    assert _cli(args, FOLDER, monkeypatch, capsys) == BY_NAME["explain"].text


def test_mermaid_block_is_what_slaspec_graph_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["graph", "walkthrough.sla", "--format", "mermaid"]
    assert _cli(args, FOLDER, monkeypatch, capsys) == BY_NAME["mermaid"].text


def test_report_block_is_an_excerpt_of_slaspec_replay_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "walkthrough.sla", "walkthrough.csv", "--format", "json"]
    report = json.loads(_cli(args, FOLDER, monkeypatch, capsys))
    excerpt = json.loads(BY_NAME["report"].text)
    for key, value in excerpt.items():
        if key == "violations":
            assert report[key][: len(value)] == value
        else:
            assert report[key] == value, key


def test_lint_blocks_are_what_slaspec_lint_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (FOLDER / "walkthrough.sla").read_text(encoding="utf-8")
    broken = tmp_path / "broken.sla"
    broken.write_text(dump.syntax_broken(text), encoding="utf-8")
    assert _cli(["lint", "broken.sla"], tmp_path, monkeypatch, capsys) == (
        BY_NAME["syntax-error"].text
    )
    broken.write_text(dump.semantic_broken(text), encoding="utf-8")
    shown = BY_NAME["semantic-error"].text
    assert _cli(["lint", "broken.sla"], tmp_path, monkeypatch, capsys) in shown
    github = _cli(["lint", "--format", "github", "broken.sla"], tmp_path, monkeypatch, capsys)
    assert github in shown


# ---------------------------------------------------------------- the block machinery


MARKDOWN = (
    "intro\n"
    "<!-- dump: one -->\n"
    "```text\n"
    "old\n"
    "```\n"
    "middle, with a fence that is not marked:\n"
    "```text\n"
    "kept\n"
    "```\n"
    "<!-- dump: two -->\n"
    "````python\n"
    "```\n"
    "x = 1\n"
    "````\n"
    "end\n"
)


def test_blocks_are_found_with_their_info_and_text() -> None:
    found = dump.blocks(MARKDOWN)
    assert list(found) == ["one", "two"]
    assert (found["one"].info, found["one"].text) == ("text", "old\n")
    assert (found["two"].info, found["two"].text) == ("python", "```\nx = 1\n")


def test_update_rewrites_only_the_marked_blocks() -> None:
    current = [dump.Dump("one", "text", "new\n"), dump.Dump("two", "json", "{}\n")]
    updated = dump.update(MARKDOWN, current)
    assert updated == (
        "intro\n<!-- dump: one -->\n```text\nnew\n```\n"
        "middle, with a fence that is not marked:\n```text\nkept\n```\n"
        "<!-- dump: two -->\n```json\n{}\n```\nend\n"
    )
    assert dump.update(updated, current) == updated


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("<!-- dump: one -->\ntext\n", "not followed by a fenced block"),
        ("<!-- dump: one -->\n```text\nnever closed\n", "never closed"),
        ("<!-- dump: one -->\n```\n```\n<!-- dump: one -->\n```\n```\n", "two blocks"),
    ],
)
def test_badly_marked_blocks_are_errors(markdown: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dump.blocks(markdown)


def test_update_refuses_blocks_and_dumps_that_do_not_pair_up() -> None:
    with pytest.raises(ValueError, match=r"blocks without a dump: \['two'\]"):
        dump.update(MARKDOWN, [dump.Dump("one", "text", "x\n")])
    with pytest.raises(ValueError, match=r"dumps without a block: \['three'\]"):
        dump.update(
            MARKDOWN,
            [dump.Dump(name, "text", "x\n") for name in ("one", "two", "three")],
        )


def test_script_prints_checks_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dump.main([]) == 0
    assert capsys.readouterr().out == "\n".join(item.markdown() for item in CURRENT)
    stale = tmp_path / "architecture.md"
    stale.write_text(
        dump.update(DOCUMENT.read_text(encoding="utf-8"), CURRENT).replace(
            BY_NAME["mermaid"].markdown(), dump.Dump("mermaid", "mermaid", "old\n").markdown()
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(dump, "DOCUMENT", stale)
    assert dump.main(["--check"]) == 1
    assert capsys.readouterr().out == "stale blocks in architecture.md: mermaid\n"
    assert dump.main(["--write"]) == 0
    assert dump.main(["--check"]) == 0
    assert dump.blocks(stale.read_text(encoding="utf-8"))["mermaid"] == BY_NAME["mermaid"]


def test_script_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
