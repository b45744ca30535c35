"""`slaspec import` and `slaspec replay --mapping/--preset`, in-process; outputs and exit codes.

Until cli.py registers the command itself, the fixture below adds it to the parser the way
cli.py will (`add_import_command`, `add_mapping_options` on replay and explain, and
`mapped_logs` in `_replay_inputs`); once cli.py does, the fixture leaves the parser alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import DATA, ROOT, golden
from slaspec import cli, readers
from slaspec.cli_import import add_import_command, add_mapping_options, mapped_logs
from slaspec.events import Event
from slaspec.report import Report

OLIST = DATA / "olist"
MQLS = str(OLIST / "olist_marketing_qualified_leads_dataset.csv")
DEALS = str(OLIST / "olist_closed_deals_dataset.csv")
HUBSPOT = DATA / "import" / "hubspot"
HARBOUR = str(ROOT / "agreements" / "harbour-b2b.sla")
GOLDEN = DATA / "import" / "cli"


@pytest.fixture(autouse=True)
def _wired(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    monkeypatch.chdir(ROOT)
    built = cli.build_parser

    def commands_of(
        parser: argparse.ArgumentParser,
    ) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    if "import" in commands_of(built()).choices:
        yield
        return

    def build_parser() -> argparse.ArgumentParser:
        parser = built()
        commands = commands_of(parser)
        add_import_command(commands)
        for name in ("replay", "explain"):
            add_mapping_options(commands.choices[name])
        return parser

    inputs = cli._replay_inputs

    def replay_inputs(args: argparse.Namespace):  # type: ignore[no-untyped-def]
        checked, logs, options, as_of = inputs(args)
        return checked, mapped_logs(args, checked) or logs, options, as_of

    monkeypatch.setattr(cli, "build_parser", build_parser)
    monkeypatch.setattr(cli, "_replay_inputs", replay_inputs)
    yield


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_back(path: Path) -> list[Event]:
    fmt = readers.sniff_format(str(path), path.read_bytes()[:64])
    items = list(readers.read_log(path.read_text(encoding="utf-8"), path.name, fmt,
                                  readers.ReadOptions()))  # fmt: skip
    assert all(isinstance(item, Event) for item in items)
    return [item for item in items if isinstance(item, Event)]


def relative(text: str) -> str:
    return text.replace(str(ROOT) + "/", "")


def test_import_olist_with_its_preset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "olist.events.csv"
    code, stdout, stderr = run(
        capsys, "import", "--preset", "olist-funnel", MQLS, DEALS, "-o", str(out)
    )
    assert (code, stderr) == (0, "")
    assert relative(stdout).replace(str(tmp_path), "TMP") == (
        "tests/data/olist/olist_marketing_qualified_leads_dataset.csv (entry mqls): 300 rows: "
        "300 mapped into 300 events, 0 rejected, 0 skipped\n"
        "tests/data/olist/olist_closed_deals_dataset.csv (entry deals): 46 rows: 46 mapped into "
        "46 events, 0 rejected, 0 skipped\n"
        "\n"
        "Wrote 346 events of 300 leads to TMP/olist.events.csv.\n"
    )
    events = read_back(out)
    assert len(events) == 346
    assert out.read_text(encoding="utf-8").splitlines()[0] == (
        "lead_id,timestamp,type,value,actor,team,event_id,business_segment,business_type,"
        "declared_monthly_revenue,landing_page_id,lead_type,origin,seller_id,sr_id"
    )
    jsonl = tmp_path / "olist.jsonl"
    assert run(capsys, "import", "--preset", "olist-funnel", MQLS, DEALS, "-o", str(jsonl))[0] == 0
    assert [e.time for e in read_back(jsonl)] == [e.time for e in events]


def test_import_hubspot_against_an_agreement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "contacts.csv"
    code, stdout, stderr = run(
        capsys, "import", "--preset", "hubspot-contacts", str(HUBSPOT / "contacts.csv"),
        "--agreement", HARBOUR, "--log-timezone", "Australia/Sydney", "-o", str(out),
    )  # fmt: skip
    assert (code, stderr) == (0, "")
    assert "4 rows: 4 mapped into 14 events, 0 rejected, 0 skipped" in stdout
    assert "columns not in the file (read as empty): `Lead Status`" in stdout

    code, stdout, _ = run(
        capsys, "import", "--preset", "hubspot-engagements", str(HUBSPOT / "engagements.csv"),
        "--log-timezone", "Australia/Sydney", "-o", str(tmp_path / "activities.csv"),
    )  # fmt: skip
    assert code == 1
    golden(GOLDEN / "hubspot-engagements.txt", relative(stdout).replace(str(tmp_path), "TMP"))


def test_unknown_stages_are_listed_with_a_did_you_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    agreement = tmp_path / "short.sla"
    agreement.write_text(
        (ROOT / "agreements" / "harbour-b2b.sla")
        .read_text(encoding="utf-8")
        .replace("aliases salesqualifiedlead", "aliases salesqualified"),
        encoding="utf-8",
    )
    code, stdout, _ = run(
        capsys, "import", "--preset", "hubspot-contacts", str(HUBSPOT / "contacts.csv"),
        "--agreement", str(agreement), "--log-timezone", "Australia/Sydney",
        "-o", str(tmp_path / "out.csv"),
    )  # fmt: skip
    assert code == 1
    assert "error[SLA910] `salesqualifiedlead` is not a stage of the agreement" in stdout
    assert (
        "Unknown stage values (not a stage or alias of the agreement, or not mapped):\n"
        "  `salesqualifiedlead`: 2 rows, first at tests/data/import/hubspot/contacts.csv:2; "
        "did you mean `salesqualified`?\n"
    ) in relative(stdout)


def test_naive_times_without_a_zone_are_rejected_not_guessed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, stdout, _ = run(
        capsys, "import", "--preset", "hubspot-contacts", str(HUBSPOT / "contacts.csv"),
        "-o", str(tmp_path / "out.csv"),
    )  # fmt: skip
    assert code == 1
    assert stdout.count("error[SLA904]") == 4
    assert "4 rows: 0 mapped into 0 events, 4 rejected, 0 skipped" in stdout


def test_a_broken_mapping_is_reported_at_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mapping = tmp_path / "crm.toml"
    mapping.write_text(
        '[[files]]\nname = "a"\nshape = "wide"\nlead = "id"\nstage = { A = "a" }\n',
        encoding="utf-8",
    )
    code, stdout, stderr = run(
        capsys, "import", "--mapping", str(mapping), MQLS, "-o", str(tmp_path / "o.csv")
    )
    assert (code, stdout) == (2, "")
    assert stderr.replace(str(tmp_path), "TMP") == (
        "slaspec: error: the mapping TMP/crm.toml has errors; fix them:\n"
        "\n"
        "TMP/crm.toml:5:1: error[SLA920] unknown key `stage` in `files`\n"
        "  |\n"
        '5 | stage = { A = "a" }\n'
        "  | ^^^^^\n"
        "  = help: did you mean `stages`?\n"
        "\n"
        "Found 1 error in 1 file.\n"
    )
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", MQLS, "-o", "x.csv"], "say how to read the exports: --mapping FILE or"),
        (["import", "--preset", "olist-funnel", "-o", "x.csv"], "name the export files"),
        (["import", "--preset", "olist-funnel", MQLS], "name the log to write with -o FILE"),
        (["import", "--preset", "olist", MQLS, "-o", "x.csv"],
         "--preset olist: no such preset; did you mean `olist-funnel`?"),
        (["import", "--mapping", "nowhere.toml", MQLS, "-o", "x.csv"],
         "--mapping: no such file: nowhere.toml"),
        (["import", "--preset", "olist-funnel", MQLS, "-o", "x.csv", "--log-timezone", "Mars/Base"],
         "--log-timezone: the log time zone `Mars/Base` is not an IANA time zone name"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, stderr = run(capsys, *argv)
    assert code == 2
    assert message in stderr


def test_no_readable_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    code, stdout, stderr = run(
        capsys, "import", "--preset", "olist-funnel", str(tmp_path / "none.csv"), "-o", str(out)
    )
    assert code == 2
    assert "error[SLA901] no such log file" in stdout
    assert "no export could be read; nothing was written" in stderr
    assert not out.exists()


def test_presets_are_listed_and_shown(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(capsys, "import", "--list-presets")
    assert code == 0
    assert [line.split()[0] for line in stdout.splitlines()] == [
        "hubspot-contacts", "hubspot-engagements", "olist-funnel", "salesforce-lead-history",
        "salesforce-opportunity-history", "salesforce-tasks",
    ]  # fmt: skip
    code, stdout, _ = run(capsys, "import", "--show-preset", "salesforce-tasks")
    assert code == 0
    assert stdout.startswith("# Preset `salesforce-tasks`")
    assert 'name = "salesforce-tasks"' in stdout


def test_windows_1252_exports_with_a_declared_encoding(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "mqls.csv"
    export.write_bytes(
        "mql_id,first_contact_date,landing_page_id,origin\r\nm1,2018-02-01,página,social\r\n"
        .encode("cp1252")
    )  # fmt: skip
    out = tmp_path / "o.csv"
    code, stdout, stderr = run(
        capsys, "import", "--preset", "olist-funnel", str(export), "-o", str(out)
    )
    assert code == 2
    assert "error[SLA901]" in stdout and "--encoding cp1252" in stdout
    assert "no export could be read" in stderr
    argv = ["import", "--preset", "olist-funnel", str(export), "-o", str(out)]
    code, stdout, _ = run(capsys, *argv, "--encoding", "cp1252")
    assert code == 0
    (event,) = read_back(out)
    assert dict(event.attributes)["landing_page_id"] == "página"


# ---------------------------------------------------------------- replay in one command


def test_replay_reads_an_export_through_a_preset(capsys: pytest.CaptureFixture[str]) -> None:
    agreement = str(OLIST / "olist.sla")
    code, stdout, stderr = run(
        capsys, "replay", agreement, MQLS, DEALS, "--preset", "olist-funnel", "--format", "json"
    )
    assert code == 0, stderr
    report = Report.model_validate_json(stdout)
    accounting = report.accounting
    assert (accounting.read, accounting.replayed, accounting.rejected) == (346, 346, 0)
    assert {item.path: item.kind for item in report.inputs} == {
        agreement: "agreement",
        "preset:olist-funnel": "mapping",
        MQLS: "log",
        DEALS: "log",
    }
    from slaspec.mapping import preset

    packaged = preset("olist-funnel")
    assert packaged is not None
    digest = hashlib.sha256(packaged.read_text(encoding="utf-8").encode("utf-8")).hexdigest()
    assert [i.sha256 for i in report.inputs if i.kind == "mapping"] == [digest]
    raw = json.loads(stdout)
    anomaly = [v for v in raw["violations"] if v["lead"] == "b91cf8812365f50ff4bda4bcd6206b05"]
    assert [v["kind"] for v in anomaly] == ["invalid_entry", "illegal_transition", "clock_breached"]
    # Findings point at the export rows, not at an intermediate file.
    assert {row["file"] for v in anomaly for row in v["rows"]} <= {MQLS, DEALS}


def test_replay_of_an_export_matches_replay_of_its_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    agreement = str(OLIST / "olist.sla")
    log = tmp_path / "olist.events.csv"
    assert run(capsys, "import", "--preset", "olist-funnel", MQLS, DEALS, "-o", str(log))[0] == 0
    _, direct, _ = run(capsys, "replay", agreement, MQLS, DEALS, "--preset", "olist-funnel")
    _, via_log, _ = run(capsys, "replay", agreement, str(log))
    strip = [line for line in direct.splitlines() if "sha256" not in line and ".csv" not in line]
    again = [line for line in via_log.splitlines() if "sha256" not in line and ".csv" not in line]
    assert strip == again


def test_explain_reads_an_export_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(
        capsys, "explain", str(OLIST / "olist.sla"), MQLS, DEALS, "--preset", "olist-funnel",
        "--lead", "b91cf8812365f50ff4bda4bcd6206b05",
    )  # fmt: skip
    assert code == 0
    assert "olist_closed_deals_dataset.csv" in stdout


def test_replay_without_a_mapping_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run(
        capsys, "replay", "agreements/solo-consultant.sla", "examples/solo-consultant.events.csv"
    )
    assert (code, stderr) == (0, "")


def test_several_presets_combine_into_one_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    handmade = DATA / "import" / "salesforce-handmade"
    sample = DATA / "import" / "salesforce-de-sample-export"
    out = tmp_path / "leads.jsonl"
    code, stdout, _ = run(
        capsys, "import", "--preset", "salesforce-lead-history", "--preset", "salesforce-tasks",
        str(handmade / "LeadHistory.csv"), str(sample / "Lead.csv"), str(handmade / "Task.csv"),
        "-o", str(out),
    )  # fmt: skip
    assert code == 0
    assert [line.split(" (entry ")[1].split(")")[0] for line in stdout.splitlines()
            if "(entry " in line] == ["lead-history", "leads", "tasks"]  # fmt: skip
    events = read_back(out)
    assert len(events) == 7 + 22 + 4
    assert {e.kind.name for e in events} == {"STAGE", "ASSIGN", "UPDATE", "ACTIVITY"}


def test_replay_a_hubspot_export_with_its_activities_in_one_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stdout, stderr = run(
        capsys, "replay", HARBOUR, str(HUBSPOT / "contacts.csv"), str(HUBSPOT / "engagements.csv"),
        "--preset", "hubspot-contacts", "--preset", "hubspot-engagements",
        "--log-timezone", "Australia/Sydney", "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    report = Report.model_validate_json(stdout)
    a = report.accounting
    assert (a.read, a.replayed, a.rejected, a.duplicate) == (20, 19, 1, 0)
    (rejection,) = report.rejections
    assert (rejection.file, rejection.row, rejection.code) == (
        str(HUBSPOT / "engagements.csv"), 7, "SLA923"
    )  # fmt: skip


def test_the_import_guide_shows_real_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    accounting = guide.split("## Where every row went", 1)[1].split("```text\n", 1)[1]
    shown = accounting.split("```", 1)[0]
    for name in ("olist_marketing_qualified_leads_dataset.csv", "olist_closed_deals_dataset.csv"):
        (tmp_path / name).write_bytes((OLIST / name).read_bytes())
    (tmp_path / "olist.sla").write_bytes((OLIST / "olist.sla").read_bytes())
    monkeypatch.chdir(tmp_path)
    files = ["olist_marketing_qualified_leads_dataset.csv", "olist_closed_deals_dataset.csv"]
    code, stdout, _ = run(capsys, "import", "--preset", "olist-funnel", *files,
                          "-o", "olist.events.csv")  # fmt: skip
    assert (code, stdout) == (0, shown)
    olist = guide.split("## Olist marketing funnel", 1)[1].split("```console\n", 1)[1]
    command, replayed = olist.split("```", 1)[0].split("\n", 1)
    code, stdout, _ = run(capsys, *command.removeprefix("$ slaspec ").split())
    assert code == 0
    assert stdout.startswith(replayed)
