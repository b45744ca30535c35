"""The `slaspec import` command, and --mapping/--preset on replay: CRM exports -> canonical events.

Like cli.py, and unlike the core, this module does I/O, through cli.py's helpers: it reads the
mapping file and the agreement (`cli.read_source`, `cli._load_agreement`), the export files
(`cli._Logs._bytes`) and writes the canonical log and the summary (`cli._write_output`). What it
computes comes from the pure `mapping` and `importer` modules. cli.py registers the command with
`add_import_command` and adds `add_mapping_options` to `replay` and `explain`, whose
`_replay_inputs` asks `mapped_logs` for the logs when a mapping is given.

Exit codes of `slaspec import`: 0 every row was mapped or skipped by the mapping, 1 rows or files
were rejected, 2 the mapping, the agreement or every input could not be used.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

from slaspec.cli import EXIT_FINDINGS, EXIT_OK, Input, UsageError, _Logs, _write_output
from slaspec.diagnostics import Diagnostic, sort_key
from slaspec.events import Event
from slaspec.source import Source

if TYPE_CHECKING:
    # Imported where they are used: every command line registers `import` and the mapping
    # options, and only a command that reads exports needs the importer, the log reader, the
    # mappings (whose pydantic models take a while to build) and the report's input records.
    from slaspec import importer, readers
    from slaspec.mapping import ExportMapping
    from slaspec.pipeline import Checked

# cli.py's subcommands are parsers of its own ArgumentParser subclass.
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)

FORMATS = ("csv", "jsonl")


def add_mapping_options(command: argparse.ArgumentParser) -> None:
    """--mapping FILE and --preset NAME: read the inputs as CRM exports through mappings.

    Both repeat: each input is read by the first mapping with an entry that fits it, so a
    Salesforce history, its lead table and its tasks replay together.
    """
    command.add_argument(
        "--mapping",
        action="append",
        metavar="FILE",
        help="read the inputs as CRM exports described by this mapping file (docs/import.md; "
        "repeatable)",
    )
    command.add_argument(
        "--preset",
        action="append",
        metavar="NAME",
        help="read the inputs as CRM exports with a built-in mapping "
        f"({', '.join(_preset_names())}; repeatable)",
    )


def _preset_names() -> tuple[str, ...]:
    """`mapping.preset_names()`, listed without importing the mapping models.

    tests/test_startup.py keeps the two equal.
    """
    folder = resources.files("slaspec").joinpath("presets")
    names = (item.name for item in folder.iterdir())
    return tuple(sorted(name.removesuffix(".toml") for name in names if name.endswith(".toml")))


def add_import_command(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add `slaspec import` to the CLI's subcommands."""
    command = commands.add_parser(
        "import", help="turn CRM exports into a canonical event log, accounting for every row"
    )
    command.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="export files (CSV) the mapping describes"
    )
    add_mapping_options(command)
    command.add_argument("-o", "--output", metavar="FILE", help="the canonical log to write")
    command.add_argument(
        "--format", choices=FORMATS, help="log format (default: by the -o extension, else csv)"
    )
    command.add_argument(
        "--agreement",
        metavar="AGREEMENT",
        help="check stage values against this agreement's stages and aliases (did-you-mean)",
    )
    command.add_argument(
        "--log-timezone", metavar="ZONE", help="IANA zone of the exports' times (over the mapping)"
    )
    command.add_argument(
        "--dst-policy",
        choices=("reject", "earlier", "later"),
        help="local times in a DST gap or fold (over the mapping; default reject)",
    )
    command.add_argument("--encoding", help="text encoding of the exports (over the mapping)")
    command.add_argument(
        "--list-presets", action="store_true", help="list the built-in presets and exit"
    )
    command.add_argument(
        "--show-preset", metavar="NAME", help="print a preset's mapping file (to copy and adapt)"
    )
    command.set_defaults(handler=cmd_import)


# ---------------------------------------------------------------- reading the mapping


def load(args: argparse.Namespace) -> tuple[ExportMapping, ...]:
    """The mappings named by --mapping and --preset; a UsageError naming file:line:col if bad."""
    from slaspec import reporters
    from slaspec.mapping import ExportMapping, load_mapping

    mappings: list[ExportMapping] = []
    for source in _sources(args):
        found = load_mapping(source)
        if not isinstance(found, ExportMapping):
            shown = reporters.render_text(list(found), {source.name: source}, False)
            raise UsageError(f"the mapping {source.name} has errors; fix them:\n\n{shown.rstrip()}")
        mappings.append(found)
    return tuple(mappings)


def _sources(args: argparse.Namespace) -> list[Source]:
    """The texts of the mappings named by --mapping and --preset, in that order."""
    sources = [_mapping_source(path, None) for path in args.mapping or ()]
    sources += [_mapping_source(None, name) for name in args.preset or ()]
    return sources


def _mapping_source(path: str | None, name: str | None) -> Source:
    from slaspec.cli import read_source
    from slaspec.mapping import preset, preset_names

    if path is not None:
        source = read_source(path)
        if isinstance(source, Diagnostic):
            advice = f" ({source.help})" if source.help else ""
            raise UsageError(f"--mapping: {source.message}{advice}")
        return source
    assert name is not None
    packaged = preset(name)
    if packaged is None:
        from slaspec.diagnostics import did_you_mean

        starting = [known for known in preset_names() if known.startswith(name)]
        hint = did_you_mean(name, preset_names()) or (
            f"did you mean `{starting[0]}`?" if len(starting) == 1 else None
        )
        raise UsageError(
            f"--preset {name}: no such preset"
            + (f"; {hint}" if hint else "")
            + f" (presets: {', '.join(preset_names())})"
        )
    with resources.as_file(packaged) as real:
        source = read_source(str(real))
    assert not isinstance(source, Diagnostic), source
    return Source(f"preset:{name}", source.text)


# ---------------------------------------------------------------- the logs of a replay


class MappedLogs(_Logs):
    """The logs of a replay (or an import) read as CRM exports through a mapping.

    Rows come out as `_Logs.items` gives them: events and rejected rows in input order, each
    with a `seq`; whole-file problems go to `file_errors`. One export row can give several
    events (a wide row with several stage dates), so the replay's accounting counts events and
    rejected rows; `accounts` says where every export row went.
    """

    columnar = False  # exports are mapped row by row

    def __init__(
        self,
        paths: Sequence[str],
        encoding: str,
        mappings: Sequence[ExportMapping],
        options: importer.ImportOptions,
    ) -> None:
        from slaspec import importer, readers

        super().__init__(paths, readers.ReadOptions(), encoding)
        self.mappings = tuple(mappings)
        self.import_options = options
        self.file_counters: list[importer.FileCounter] = []
        self.unknown = importer.UnknownStages()

    def items(self) -> Iterator[Event | readers.Rejected]:
        from slaspec import importer, readers

        seq = 0
        for path in self.paths:
            data = self._bytes(path)
            if data is None:
                continue
            self.inputs.append(Input(path, hashlib.sha256(data).hexdigest(), "log"))
            text = readers.decode(data, path, self.encoding)
            if isinstance(text, Diagnostic):
                self.file_errors.append(text)
                continue
            self.readable += 1
            counter = importer.FileCounter(path)
            self.file_counters.append(counter)
            mapping = importer.choose_mapping(self.mappings, path, text)
            rows = importer.import_export(
                text, path, mapping, self.import_options, seq, counter, self.unknown
            )
            del data, text
            for item in rows:
                if isinstance(item, readers.Rejected) and item.whole_file:
                    self.file_errors.append(item.diagnostic)
                    continue
                seq += 1
                yield item

    @property
    def dst_resolved(self) -> int:
        return sum(counter.dst_resolved for counter in self.file_counters)

    @property
    def accounts(self) -> list[importer.FileAccount]:
        """Where the rows of each export file went."""
        return [counter.freeze() for counter in self.file_counters]


def mapped_logs(args: argparse.Namespace, checked: Checked) -> _Logs | None:
    """The logs of `slaspec replay`/`explain` read through --mapping/--preset; None without one.

    The command's --log-timezone and a --dst-policy other than `reject` win over the mapping's;
    --encoding wins when it is not the default utf-8. Stage values are checked against the
    agreement's stages and aliases, with a did-you-mean.
    """
    if not getattr(args, "mapping", None) and not getattr(args, "preset", None):
        return None
    mappings = load(args)
    encoding = args.encoding if args.encoding not in (None, "utf-8") else mappings[0].encoding
    policy = args.dst_policy if args.dst_policy != "reject" else None
    logs = MappedLogs(args.logs, encoding, mappings, _options(args, checked, policy))
    # The report records each mapping's digest beside the exports', so an auditor can
    # reproduce it (a preset is named preset:NAME; its text is the installed release's).
    for source in _sources(args):
        digest = hashlib.sha256(source.text.encode("utf-8")).hexdigest()
        logs.inputs.append(Input(source.name, digest, "mapping"))
    return logs


def _options(
    args: argparse.Namespace, checked: Checked | None, policy: readers.DstPolicy | None
) -> importer.ImportOptions:
    from slaspec import importer, readers

    zone = args.log_timezone
    problem = readers.check_options(readers.ReadOptions(zone))
    if problem is not None:
        advice = f"; {problem.help}" if problem.help else ""
        raise UsageError(f"--log-timezone: {problem.message}{advice}")
    known: tuple[str, ...] | None = None
    if checked is not None and checked.agreement is not None:
        agreement = checked.agreement
        known = (*agreement.stages, *agreement.aliases)
    return importer.ImportOptions(zone, policy, known)


# ---------------------------------------------------------------- slaspec import


def cmd_import(args: argparse.Namespace) -> int:
    """Convert CRM exports to a canonical log and print where every row went."""
    if args.list_presets:
        _write_output(_preset_list(), None)
        return EXIT_OK
    if args.show_preset is not None:
        _write_output(_mapping_source(None, args.show_preset).text, None)
        return EXIT_OK
    if not args.mapping and not args.preset:
        raise UsageError("say how to read the exports: --mapping FILE or --preset NAME")
    if not args.inputs:
        raise UsageError("name the export files to import")
    if args.output in (None, "-"):
        raise UsageError("name the log to write with -o FILE (.csv or .jsonl)")
    mappings = load(args)
    checked: Checked | None = None
    if args.agreement is not None:
        from slaspec.cli import _load_agreement

        checked = _load_agreement(args.agreement)
    encoding = args.encoding or mappings[0].encoding
    logs = MappedLogs(args.inputs, encoding, mappings, _options(args, checked, args.dst_policy))
    events: list[Event] = []
    rejections: list[Diagnostic] = []
    for item in logs.items():
        if isinstance(item, Event):
            events.append(item)
        else:
            rejections.append(item.diagnostic)
    if logs.readable == 0 or not logs.file_counters:
        _write_output(_summary(logs, rejections, events, None, checked), None)
        raise UsageError("no export could be read; nothing was written")
    fmt = args.format or ("jsonl" if args.output.lower().endswith((".jsonl", ".ndjson")) else "csv")
    from slaspec import importer

    text = importer.to_jsonl(events) if fmt == "jsonl" else importer.to_csv(events)
    _write_output(text, args.output)
    _write_output(_summary(logs, rejections, events, args.output, checked), None)
    return EXIT_FINDINGS if rejections or logs.file_errors else EXIT_OK


def _summary(
    logs: MappedLogs,
    rejections: list[Diagnostic],
    events: list[Event],
    output: str | None,
    checked: Checked | None,
) -> str:
    from slaspec import importer, reporters

    parts: list[str] = []
    problems = sorted([*logs.file_errors, *rejections], key=sort_key)
    if problems:
        parts.append(reporters.render_text(problems, {}, False))
    known = None
    if checked is not None and checked.agreement is not None:
        known = [*checked.agreement.stages, *checked.agreement.aliases]
    unknown = importer.render_unknown(logs.unknown, known)
    if unknown:
        parts.append(unknown)
    parts.append(importer.render_accounts(logs.accounts))
    if output is not None:
        leads = len({event.lead for event in events})
        parts.append(
            f"Wrote {importer.plural(len(events), 'event')} of "
            f"{importer.plural(leads, 'lead')} to {output}.\n"
        )
    return "\n".join(parts)


def _preset_list() -> str:
    from slaspec.mapping import ExportMapping, load_mapping, preset_names

    lines: list[str] = []
    for name in preset_names():
        source = _mapping_source(None, name)
        found = load_mapping(source)
        about = found.description if isinstance(found, ExportMapping) else None
        lines.append(f"{name:32} {about or ''}".rstrip())
    return "".join(f"{line}\n" for line in lines)
