"""The `slaspec render` command: documents on stdout or in a file, --check, --year, exit codes.

The tests run `cli.main` in-process with the render command registered (`add_render_command`,
which cli.py's `build_parser` calls once it is wired; until then the tests add it themselves).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path

import pytest

from conftest import DATA, ROOT
from slaspec import cli, cli_render
from slaspec.cli_render import add_render_command

EXAMPLES = sorted((ROOT / "agreements").glob("*.sla"))
HARBOUR = ROOT / "agreements" / "harbour-b2b.sla"
YEAR = "2026"


@pytest.fixture(autouse=True)
def _render_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main with `render` among its commands, whether or not cli.py registers it yet."""
    original = cli.build_parser

    def build() -> argparse.ArgumentParser:
        parser = original()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) and "render" not in action.choices:
                add_render_command(action)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["render", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_committed_renderings_are_current(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    committed = path.with_suffix(".md")
    assert run(capsys, str(path), "--year", YEAR, "--check", str(committed)) == (0, "", "")


def test_markdown_on_stdout_and_html_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, str(HARBOUR), "--year", YEAR)
    assert (code, err) == (0, "")
    assert out == HARBOUR.with_suffix(".md").read_text(encoding="utf-8")

    page = tmp_path / "harbour.html"
    assert run(capsys, str(HARBOUR), "--format", "html", "--year", YEAR, "-o", str(page)) == (
        0,
        "",
        "",
    )
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "Olivia Brennan" in text
    assert run(capsys, str(HARBOUR), "--format", "html", "--year", YEAR, "--check", str(page)) == (
        0,
        "",
        "",
    )


def test_check_prints_a_diff_and_exits_1_when_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "harbour-b2b.md"
    current = HARBOUR.with_suffix(".md").read_text(encoding="utf-8")
    stale.write_text(current.replace("4 business hours", "8 business hours"), encoding="utf-8")
    code, out, err = run(capsys, str(HARBOUR), "--year", YEAR, "--check", str(stale))
    assert (code, err) == (1, "")
    assert out.startswith(f"--- {stale}\n+++ {stale} (rendered from {HARBOUR})\n")
    assert "\n-**Sales development must log a call or email within 8 business hours" in out
    assert "\n+**Sales development must log a call or email within 4 business hours" in out
    assert out.endswith(
        f"{stale} is out of date with {HARBOUR}; render it again with: "
        f"slaspec render {HARBOUR} --format markdown --year 2026 -o {stale}\n"
    )
    # The file is left as it was.
    assert "8 business hours" in stale.read_text(encoding="utf-8")


def test_check_of_a_missing_rendering_is_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.md"
    code, out, _ = run(capsys, str(HARBOUR), "--year", YEAR, "--check", str(missing))
    assert code == 1
    assert out.startswith(f"--- {missing}\n+++ ")
    assert "+# Harbour Analytics marketing and sales SLA\n" in out
    assert not missing.exists()


def test_check_without_final_newline_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.md"
    cut.write_text(HARBOUR.with_suffix(".md").read_text(encoding="utf-8").rstrip("\n"), "utf-8")
    code, out, _ = run(capsys, str(HARBOUR), "--year", YEAR, "--check", str(cut))
    assert code == 1
    assert "\\ No newline at end of file\n" in out


def test_check_accepts_windows_line_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crlf = tmp_path / "crlf.md"
    crlf.write_bytes(HARBOUR.with_suffix(".md").read_bytes().replace(b"\n", b"\r\n"))
    assert run(capsys, str(HARBOUR), "--year", YEAR, "--check", str(crlf)) == (0, "", "")


def test_check_of_a_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, str(HARBOUR), "--check", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"slaspec: error: --check: {tmp_path} is a directory")


def test_year_defaults_to_today(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_render, "_today", lambda: dt.date(2031, 5, 5))
    code, out, _ = run(capsys, str(HARBOUR))
    assert code == 0
    assert "Public holidays in 2031:" in out
    assert "| Monday 26 January | Australia Day |" not in out
    assert "| Monday 27 January | Australia Day |" in out


@pytest.mark.parametrize("value", ["soon", "1899", "2200", "-1"])
def test_bad_year_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(HARBOUR), f"--year={value}")
    assert (code, out) == (2, "")
    assert "argument --year" in err


def test_output_and_check_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(HARBOUR), "-o", "a.md", "--check", "b.md")
    assert code == 2
    assert "not allowed with argument" in err


def test_agreement_with_errors_prints_the_diagnostics_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.sla"
    broken.write_text(
        'agreement "Broken":\n    effective 2026-03-02\nteam t\n'
        "stage a:\n    owner nobody\n    initial\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, str(broken))
    assert (code, out) == (2, "")
    assert "error[SLA101]" in err
    assert f"slaspec: {broken} has errors" in err


def test_missing_agreement_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(tmp_path / "absent.sla"))
    assert (code, out) == (2, "")
    assert "SLA002" in err


def test_used_files_are_read_relative_to_the_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DATA / "document", tmp_path / "document")
    agreement = tmp_path / "document" / "every_construct.sla"
    code, out, _ = run(capsys, str(agreement), "--year", YEAR)
    assert code == 0
    assert out == (DATA / "document" / "every_construct.md").read_text(encoding="utf-8")
