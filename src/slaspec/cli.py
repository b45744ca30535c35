"""The command line: arguments -> pipeline calls -> output files and exit codes.

This is the only module that opens files, prints, reads the environment or exits. Exit codes:
0 clean, 1 findings (or, for fmt --check, files that would change), 2 could not run.
"""

from __future__ import annotations

import argparse
import codecs
import concurrent.futures
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import multiprocessing
import os
import queue
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Literal, NoReturn, TextIO, TypeVar

from slaspec import __version__
from slaspec.diagnostics import Diagnostic, Severity, sort_key
from slaspec.events import EARLIEST, LATEST, Event, outside_years
from slaspec.source import Source

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    # Imported where they are used: `lint`, `fmt` and `graph` need no log reader and no report
    # (the report's pydantic models alone take a tenth of a second to build).
    from slaspec import columnar_parse, readers
    from slaspec.analysis import Analyser, Analysis, Tallies
    from slaspec.calendar import BusinessCalendar
    from slaspec.compiler import Agreement
    from slaspec.pipeline import Checked
    from slaspec.replay import Prepared
    from slaspec.report import InputFile, Report
    from slaspec.results import LeadResult, Tally, Violation
    from slaspec.versions import LeadReplayer, VersionedEngine

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
AGREEMENT_SUFFIX = ".sla"
DOCS_URI = "https://github.com/slaspec/slaspec/blob/main/docs/diagnostics.md"


class UsageError(Exception):
    """A command-line mistake: reported on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"slaspec: error: {message}\n")
        sys.stderr.write(f"Run `{self.prog} --help` for the options.\n")
        raise SystemExit(EXIT_ERROR)


# ---------------------------------------------------------------- reading files


def read_source(path: str) -> Source | Diagnostic:
    """Read an agreement file, or say why it cannot be read."""
    target = Path(path)
    if path == "-":
        return Source("<stdin>", sys.stdin.read())
    if not target.exists():
        return Diagnostic(
            "SLA002",
            f"no such file: {path}",
            path,
            help="check the path; it is relative to the current folder",
        )
    if not target.is_file():
        if target.is_dir():
            return Diagnostic(
                "SLA003",
                f"{path} is a directory with no {AGREEMENT_SUFFIX} files",
                path,
                help=f"name an agreement file, or a folder that holds {AGREEMENT_SUFFIX} files",
            )
        return Diagnostic(
            "SLA003", f"{path} is not a regular file", path, help="name an agreement file (.sla)"
        )
    try:
        data = target.read_bytes()
    except OSError as error:
        return Diagnostic("SLA002", f"cannot read {path}: {error.strerror}", path)
    return decode_source(path, data)


def decode_source(path: str, data: bytes) -> Source | Diagnostic:
    """Decode agreement bytes as UTF-8 text (a byte-order mark is allowed)."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return Diagnostic(
            "SLA004",
            f"{path} is a binary file (NUL byte on line {line})",
            path,
            help="an agreement is a UTF-8 text file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Diagnostic(
            "SLA004",
            f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line})",
            path,
            help="save the file as UTF-8",
        )
    # Windows (CRLF) and classic Mac (CR) line breaks both become LF.
    return Source(path, text.replace("\r\n", "\n").replace("\r", "\n"))


def expand_paths(paths: Sequence[str]) -> Iterator[str]:
    """Files named directly, and the .sla files below directories, in sorted order."""
    for path in paths:
        target = Path(path)
        if target.is_dir():
            found = sorted(str(p) for p in target.rglob(f"*{AGREEMENT_SUFFIX}") if p.is_file())
            if not found:
                yield path  # reported as "a directory" by read_source
            yield from found
        else:
            yield path


# ---------------------------------------------------------------- output helpers


def _use_color(stream: TextIO, choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or "NO_COLOR" in os.environ:
        return False
    return stream.isatty()


def _write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from error


def _today() -> dt.date:
    return dt.date.today()


@functools.cache
def _parser_ready() -> None:
    """Before a command parses an agreement: the parser's tables from the user's cache, or
    analysed from the grammar and kept there for the next command (`parser.prime`)."""
    from slaspec import parser

    kept = _tables_file(parser.tables_key())
    saved = None
    if kept is not None:
        with contextlib.suppress(OSError):
            saved = kept.read_bytes()
    made = parser.prime(saved)
    if made is None or kept is None:
        return
    # Written beside its name and renamed into place: no command reads a half-written file.
    written: str | None = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=kept.parent, delete=False) as out:
            written = out.name
            out.write(made)
        os.replace(written, kept)
    except OSError:  # a cache that cannot be written is simply not kept
        if written is not None:
            with contextlib.suppress(OSError):
                os.unlink(written)


def _tables_file(key: str) -> Path | None:
    """Where the parse tables with this key are kept: `$XDG_CACHE_HOME/slaspec` (by default
    `~/.cache/slaspec`). None where no such directory may be used: the tables are a pickle, so
    the directory must be the user's own and writable by nobody else, as the user's own files
    are (a shared temporary directory would not do); SLASPEC_NO_CACHE=1 turns the cache off."""
    if os.environ.get("SLASPEC_NO_CACHE", "") not in ("", "0") or not hasattr(os, "getuid"):
        return None
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = base / "slaspec"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except (OSError, RuntimeError):  # no home directory, a read-only file system
        return None
    if status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder / f"parser-{key}.tables"


def _check_file(
    path: str, compile_: bool = True
) -> tuple[Checked | None, dict[str, Source], list[Diagnostic]]:
    from slaspec.pipeline import check_agreement

    _parser_ready()
    source = read_source(path)
    if isinstance(source, Diagnostic):
        return None, {}, [source]
    checked = check_agreement(source, read_source, _today(), compile_)
    sources = {parsed.source.name: parsed.source for parsed in checked.program.files}
    return checked, sources, list(checked.diagnostics)


def _load_agreement(path: str) -> Checked:
    """Check an agreement for a command that needs it compiled; exit 2 when it has errors."""
    from slaspec import reporters

    checked, sources, diagnostics = _check_file(path)
    if checked is None or checked.agreement is None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        sys.stderr.write(reporters.render_text(errors, sources, _use_color(sys.stderr, "auto")))
        sys.stderr.write(f"slaspec: {path} has errors; fix them (see `slaspec lint {path}`).\n")
        raise SystemExit(EXIT_ERROR)
    return checked


# ---------------------------------------------------------------- commands


def cmd_lint(args: argparse.Namespace) -> int:
    from slaspec import reporters

    diagnostics: list[Diagnostic] = []
    sources: dict[str, Source] = {}
    could_not_run = False
    files = list(expand_paths(args.paths))
    for path in files:
        checked, found_sources, found = _check_file(path, compile_=False)
        if checked is None:
            could_not_run = True
        sources.update(found_sources)
        diagnostics.extend(found)
    unique = sorted(set(diagnostics), key=sort_key)
    if args.format == "text":
        text = reporters.render_text(unique, sources, _use_color(sys.stdout, args.color))
    elif args.format == "json":
        text = reporters.render_json(unique, sources)
    elif args.format == "sarif":
        text = reporters.render_sarif(unique, sources, __version__, DOCS_URI)
    else:
        text = reporters.render_github(unique, sources)
    _write_output(text, args.output)
    if could_not_run:
        return EXIT_ERROR
    return EXIT_FINDINGS if unique else EXIT_OK


def cmd_fmt(args: argparse.Namespace) -> int:
    from slaspec import formatter, reporters
    from slaspec.parser import parse

    status = EXIT_OK
    _parser_ready()
    for path in expand_paths(args.paths):
        source = read_source(path)
        if isinstance(source, Diagnostic):
            sys.stderr.write(reporters.render_text([source], {}, False))
            status = EXIT_ERROR
            continue
        parsed = parse(source)
        if parsed.document is None:
            sys.stderr.write(
                reporters.render_text(
                    list(parsed.diagnostics), {source.name: source}, _use_color(sys.stderr, "auto")
                )
            )
            sys.stderr.write(f"slaspec: not formatting {path}: fix the syntax errors first.\n")
            status = EXIT_ERROR
            continue
        formatted = formatter.format_document(parsed)
        # Compare with the bytes on disk: CRLF line breaks and a byte-order mark are changes too.
        original = (
            source.text if path == "-" else Path(path).read_bytes().decode("utf-8", "replace")
        )
        changed = formatted != original
        if path == "-":
            sys.stdout.write(formatted)
            continue
        if args.diff:
            if changed:
                sys.stdout.write(formatter.diff(parsed, path))
                status = max(status, EXIT_FINDINGS)
        elif args.check:
            if changed:
                sys.stdout.write(f"would reformat {path}\n")
                status = max(status, EXIT_FINDINGS)
        elif changed:
            Path(path).write_text(formatted, encoding="utf-8")
            sys.stdout.write(f"reformatted {path}\n")
    return status


def cmd_graph(args: argparse.Namespace) -> int:
    checked = _load_agreement(args.path)
    assert checked.agreement is not None
    graph = checked.agreement.graph
    render: Callable[[], str] = {
        "mermaid": graph.to_mermaid,
        "dot": graph.to_dot,
        "json": graph.to_json,
    }[args.format]
    _write_output(render(), args.output)
    return EXIT_OK


def _parse_instant(text: str, flag: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not an ISO 8601 instant; write e.g. 2026-06-30T17:00:00+10:00"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"{flag} {text!r} has no UTC offset; add one such as +10:00 or Z")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    outside = UsageError(outside_years(f"{flag} {text!r}"))
    try:
        delta = moment - epoch
    except OverflowError:  # in UTC, before year 1 or after 9999
        raise outside from None
    instant = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not EARLIEST <= instant < LATEST:
        raise outside
    return instant


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Input:
    """An input file of a replay and its sha256, as the report will record it (`InputFile`).
    A plain record: the report's models are imported only once the replay is under way."""

    path: str
    sha256: str
    kind: Literal["agreement", "log", "mapping"]


class _Logs:
    """The logs of one replay: events and rejected rows in input order, with provenance."""

    def __init__(self, paths: Sequence[str], options: readers.ReadOptions, encoding: str) -> None:
        self.paths = paths
        self.options = options
        self.encoding = encoding
        self.inputs: list[Input] = []
        self.file_errors: list[Diagnostic] = []
        self.counters: list[readers.ReadCounter] = []
        self.readable = 0
        # Files `prepare` already read (None: could not be read) and their sha256 if taken.
        self._read: dict[str, tuple[bytes | None, str | None]] = {}
        self._ahead: _Background[_Columns] | None = None  # `read_ahead`'s work

    # Whether a single large plain CSV may be read and prepared column by column.
    columnar = True

    def prepare(
        self,
        agreement: Agreement,
        as_of: int | None,
        progress: _Progress,
        beside: Callable[[int], None] | None = None,
    ) -> Prepared:
        """Read and prepare every log: `replay.prepare` of `items`, or its columnar shortcut.

        A single large CSV file that `columnar.prepare_csv` accepts is read by pyarrow and
        prepared column by column (its rows are built lead by lead as they are replayed, in
        whichever process replays them); anything it declines is read row by row as before,
        from the bytes already read. The two give equal `Prepared` (tests/test_columnar.py).
        The columnar shortcut calls `beside` with the as-of instant while it orders the rows.
        """
        from slaspec.replay import prepare

        fast = self._columnar(agreement, as_of, beside)
        if fast is not None:
            return fast
        return prepare(agreement, progress.rows(self.items()), as_of)

    def read_ahead(self) -> None:
        """Start reading and parsing the log column-wise in a thread, if `prepare` may take it
        that way. `slaspec replay` calls this before it checks the agreement, which takes about
        as long: pyarrow parses without the GIL, so the two overlap."""
        path = self._columnar_path()
        if path is None:
            return
        imported = threading.Event()
        self._ahead = _Background(lambda: self._read_columns(path, imported))
        try:
            # pyarrow's import (about a tenth of a second) while the thread reads the file. It
            # is imported here, not in the thread, so that the two threads never import at once:
            # the thread waits for it before it parses. columnar_parse needs neither the
            # agreement's modules nor the replay's: those are imported after, beside the parse.
            with _pyarrow_without_numpy():
                from slaspec import columnar_parse  # noqa: F401
        finally:
            imported.set()

    def _columnar_path(self) -> str | None:
        """The log, if it is a single UTF-8 file large enough to be worth reading by columns."""
        if not self.columnar or len(self.paths) != 1 or self.paths[0] == "-":
            return None
        try:
            if codecs.lookup(self.encoding).name != "utf-8":
                return None
        except LookupError:
            return None  # items() reports the unknown encoding
        # SLASPEC_COLUMNAR=0 reads row by row always, =1 tries columns whatever the size.
        choice = os.environ.get("SLASPEC_COLUMNAR", "")
        if choice == "0":
            return None
        path = self.paths[0]
        target = Path(path)
        smallest = 0 if choice == "1" else COLUMNAR_MIN_BYTES
        try:
            if not target.is_file() or target.stat().st_size < smallest:
                return None
        except OSError:
            return None
        return path

    def _read_columns(self, path: str, parse: threading.Event | None) -> _Columns:
        """The log's bytes, their sha256 (being taken) and, when `parse` is given, its columns,
        parsed once `parse` is set (in `read_ahead`, once pyarrow is imported)."""
        from slaspec import readers

        data = self._bytes(path)
        if data is None or readers.sniff_format(path, data[:64]) != "csv":
            return _Columns(data, None, None, declined=True)
        # hashlib lets go of the GIL on large inputs: the digest is taken beside the parsing.
        digest = concurrent.futures.ThreadPoolExecutor(1)
        sha256 = digest.submit(_sha256, data)
        digest.shutdown(wait=False)
        if parse is None:
            return _Columns(data, sha256, None, declined=False)
        parse.wait()
        from slaspec import columnar_parse

        parsed = columnar_parse.parse_csv(data, path)
        return _Columns(data, sha256, parsed, declined=parsed is None)

    def _columnar(
        self, agreement: Agreement, as_of: int | None, beside: Callable[[int], None] | None
    ) -> Prepared | None:
        from slaspec import readers

        path = self._columnar_path()
        if path is None:
            return None
        ahead, self._ahead = self._ahead, None
        read = ahead.result() if ahead is not None else self._read_columns(path, None)
        sha256 = read.sha256
        prepared = None
        if not read.declined and read.data is not None:
            with _pyarrow_without_numpy():
                from slaspec import columnar

            counter = readers.ReadCounter()
            prepared = columnar.prepare_csv(
                read.data,
                path,
                agreement,
                self.options,
                as_of,
                counter,
                parsed=read.parsed,
                beside=beside,
            )
        if prepared is None:
            # items() reads it row by row (or reports it), without reading it twice.
            self._read = {path: (read.data, sha256.result() if sha256 is not None else None)}
            return None
        assert sha256 is not None
        self.inputs.append(Input(path, sha256.result(), "log"))
        self.readable += 1
        self.counters.append(counter)
        return prepared

    def items(self) -> Iterator[Event | readers.Rejected]:
        from slaspec import cli_parallel, readers

        seq = 0
        read, self._read = self._read, {}
        for path in self.paths:
            data, digest = read.pop(path) if path in read else (self._bytes(path), None)
            if data is None:
                continue
            digest = digest or _sha256(data)
            self.inputs.append(Input(path, digest, "log"))
            text = readers.decode(data, path, self.encoding)
            if isinstance(text, Diagnostic):
                self.file_errors.append(text)
                continue
            self.readable += 1
            counter = readers.ReadCounter()
            self.counters.append(counter)
            fmt = readers.sniff_format(path, data[:64])
            # A large CSV is read by two processes; the items are the same as one reader's.
            rows = cli_parallel.read_log(
                text, path, fmt, self.options, seq, counter, _jobs(PARALLEL_MIN_ROWS)
            )
            # The reader keeps what it needs of the text; the bytes and the text itself (each
            # the size of the file) need not stay alive while the rows are read.
            del data, text
            for item in rows:
                if isinstance(item, readers.Rejected) and item.whole_file:
                    self.file_errors.append(item.diagnostic)
                    continue
                yield item
            seq += counter.rows

    def _bytes(self, path: str) -> bytes | None:
        if path == "-":
            return sys.stdin.buffer.read()
        target = Path(path)
        if not target.exists():
            problem = f"no such log file: {path}"
        elif not target.is_file():
            problem = f"{path} is a directory, not a log file"
        else:
            try:
                return target.read_bytes()
            except OSError as error:
                problem = f"cannot read {path}: {error.strerror}"
        self.file_errors.append(
            Diagnostic("SLA901", problem, path, help="name a canonical event log (.csv or .jsonl)")
        )
        return None

    @property
    def dst_resolved(self) -> int:
        return sum(counter.dst_resolved for counter in self.counters)


_T = TypeVar("_T")


class _Background(Generic[_T]):
    """Work done in a daemon thread (a run that stops early does not wait for it)."""

    def __init__(self, work: Callable[[], _T]) -> None:
        self._work = work
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as error:  # raised again where the result is asked for
            self._error = error

    def result(self) -> _T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


@contextlib.contextmanager
def _pyarrow_without_numpy() -> Iterator[None]:
    """Around the command's first import of pyarrow: pyarrow imports numpy when it is installed
    (about 0.09 s of CPU, and an OpenBLAS thread per core spinning meanwhile), and the log's
    parse waits for that import. slaspec hands pyarrow no numpy arrays, and pyarrow runs
    without numpy when it cannot import it. Only in the command's own process (`entry`), and
    only during the import: numpy can be imported afterwards as usual."""
    if not _exit_follows or "numpy" in sys.modules or "pyarrow" in sys.modules:
        yield
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` fails meanwhile
    try:
        yield
    finally:
        if "numpy" in sys.modules and sys.modules["numpy"] is None:
            del sys.modules["numpy"]


@dataclass(frozen=True, slots=True)
class _Columns:
    """A log read for the columnar shortcut: its bytes (None: unreadable), their sha256 (being
    taken), its pyarrow columns if parsed, and whether it must be read row by row instead."""

    data: bytes | None
    sha256: concurrent.futures.Future[str] | None
    parsed: columnar_parse.Parsed | None
    declined: bool


def _replay_inputs(
    args: argparse.Namespace, read_ahead: bool = False
) -> tuple[Checked, _Logs, readers.ReadOptions, int | None]:
    from slaspec import readers

    options = readers.ReadOptions(args.log_timezone, args.dst_policy)
    problem = readers.check_options(options)
    if problem is not None:
        advice = f"; {problem.help}" if problem.help else ""
        raise UsageError(f"--log-timezone: {problem.message}{advice}")
    as_of = _parse_instant(args.as_of, "--as-of") if args.as_of else None
    ahead = None
    if read_ahead and not getattr(args, "mapping", None) and not getattr(args, "preset", None):
        # A plain log: its parsing may start now, beside the agreement's checks.
        ahead = _Logs(args.logs, options, args.encoding)
        ahead.read_ahead()
    checked = _load_agreement(args.agreement)
    # Imported here: cli_import uses this module's helpers for its I/O.
    from slaspec.cli_import import mapped_logs

    logs = ahead or mapped_logs(args, checked) or _Logs(args.logs, options, args.encoding)
    return checked, logs, options, as_of


def _agreement_inputs(checked: Checked) -> list[Input]:
    return [
        Input(parsed.source.name, _sha256(parsed.source.text.encode("utf-8")), "agreement")
        for parsed in checked.program.files
    ]


def _input_files(inputs: Iterable[Input]) -> list[InputFile]:
    """The inputs as the report's records."""
    from slaspec.report import InputFile

    return [InputFile(path=i.path, sha256=i.sha256, kind=i.kind) for i in inputs]


def _report_file_errors(logs: _Logs, strict: bool) -> None:
    from slaspec import reporters

    if not logs.file_errors:
        return
    sys.stderr.write(reporters.render_text(logs.file_errors, {}, _use_color(sys.stderr, "auto")))
    if strict:
        sys.stderr.write("slaspec: stopping (--strict): a log could not be read.\n")
        raise SystemExit(EXIT_ERROR)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a replay.

    Reading and replaying a large log builds millions of objects that live to the end and form
    no reference cycles; the collector would walk all of them again and again for nothing
    (about a third of the run time on a million rows). Refcounting still frees what dies.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # When the process ends right after (`entry`), the collector stays paused: re-enabled,
        # it would first walk every object the replay left alive (0.2 s after a 1M replay).
        if enabled and not _exit_follows:
            gc.enable()


# Set by `entry`: the process exits when `main` returns (in-process callers leave it False).
_exit_follows = False


# Below this many replayed rows a second process costs more than it saves.
PARALLEL_MIN_ROWS = 500_000
# From this size a single CSV log is worth reading with pyarrow (its import alone takes about
# 0.3 s; below some 50,000 rows the row-by-row reader is done sooner).
COLUMNAR_MIN_BYTES = 8_000_000
# Leads replayed (and rendered) as one piece of work: whole blocks of the columnar shortcut's
# rows (columnar.BLOCK_LEADS), so that no block is built by both processes. Not fewer: each
# chunk's analysis samples come back as one sorted run, and 230 runs took the analysis's finish
# 0.1 s longer to sort than 58.
_CHUNK_LEADS = 2000


@dataclass(slots=True)
class _Needs:
    """What the outputs of one replay need from each chunk of leads."""

    json: bool = False  # the JSON text of every cycle and violation
    csv: bool = False  # the CSV rows of every violation
    shown: int = 0  # the first violation records, for the HTML table
    analysis: Analyser | None = None  # counts the analysis chunk by chunk
    versions: bool = False  # the CSV says which agreement version judged each violation


@dataclass(slots=True)
class _Rendered:
    """What a replay of some leads contributes to the output: the summaries, the analysis
    tallies, and the text of their records in the formats asked for."""

    tally: Tally
    tallies: Tallies | None = None
    cycles: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    csv: list[str] = field(default_factory=list)
    shown: list[Violation] = field(default_factory=list)


# Rows whose results a process keeps until it exits (`_keep`): about 240 bytes each.
KEPT_ROWS = 1_000_000
_kept: list[list[LeadResult]] = []
_kept_rows = 0


def _keep(results: list[LeadResult]) -> None:
    """Keep a chunk's results until the process exits, when it exits without the interpreter's
    teardown (`entry`; the forked replay too), rather than free them once the chunk is rendered.

    Each result is a few dozen objects (stays, cycles, activities, violations, origins), and
    freeing them one by one, then building the next chunk's from reused memory, took 0.4-0.6 s
    of the 1M-event replay's CPU (docs/performance.md, twelfth round); the fresh pages the kept
    results take cost less. At most `KEPT_ROWS` replayed rows' results are kept per process
    (about 0.24 GB): a larger log's later chunks are freed as before. A process that goes on
    after `main` (an in-process caller) keeps nothing.
    """
    global _kept_rows
    if not _exit_follows or _kept_rows >= KEPT_ROWS:
        return
    _kept.append(results)
    _kept_rows += sum(result.events for result in results)


def _replay_chunk(
    engine: LeadReplayer, prepared: Prepared, leads: Sequence[str], needs: _Needs
) -> _Rendered:
    """Replay some prepared leads (in order) and render only what the outputs need."""
    from slaspec.results import Tally

    rows, as_of = prepared.leads, prepared.as_of
    results = [engine.replay_lead(lead, rows[lead], as_of) for lead in leads]
    _keep(results)
    rendered = _Rendered(Tally())
    analyser = needs.analysis
    for result in results:
        rendered.tally.add(result)
        if analyser is not None:
            analyser.add(result)
    if analyser is not None:
        rendered.tallies = analyser.take()
    if needs.json or needs.csv:
        # Not imported otherwise: it imports the report's models, which the replay does not need.
        from slaspec import render as report_render
    if needs.json:
        cycles, violations = report_render.json_items(
            (c for r in results for c in r.cycles), (v for r in results for v in r.violations)
        )
        rendered.cycles.append(cycles)
        rendered.violations.append(violations)
    if needs.csv:
        rendered.csv.append(report_render.csv_chunk(results, needs.versions))
    if needs.shown:
        for result in results:
            rendered.shown += result.violations[: needs.shown - len(rendered.shown)]
    return rendered


class _Progress:
    """A progress line on stderr while leads are read and replayed, for runs that take a while.

    Drawn only on a terminal, only once the run has taken `delay` seconds (a quick replay shows
    nothing), at most ten times a second, and erased at the end.
    """

    def __init__(
        self,
        stream: TextIO,
        enabled: bool,
        now: Callable[[], float] = time.monotonic,
        delay: float = 2.0,
    ) -> None:
        self.stream, self.enabled, self.now = stream, enabled, now
        self.started = now()
        self.delay = delay
        self.drawn_at: float | None = None
        self.total = 0  # chunks
        self.leads = 0

    def rows(self, items: Iterable[Event | readers.Rejected]) -> Iterator[Event | readers.Rejected]:
        """Pass the rows through, showing how many have been read."""
        if not self.enabled:
            yield from items
            return
        for count, item in enumerate(items, 1):
            if not count & 0xFFFF:
                self._draw(f"reading logs: {count:,} rows")
            yield item

    def start(self, chunks: int, leads: int) -> None:
        self.total, self.leads = chunks, leads

    def claimed(self, chunks: int) -> None:
        """`chunks` chunks of leads have been claimed by now (by either process)."""
        if self.enabled and self.total:
            share = min(chunks, self.total) / self.total
            width = 30
            bar = "#" * round(share * width)
            done = min(round(share * self.leads), self.leads)
            self._draw(f"replaying [{bar:<{width}}] {share:4.0%}  {done:,} of {self.leads:,} leads")

    def _draw(self, text: str) -> None:
        at = self.now()
        if at - self.started < self.delay:
            return
        if self.drawn_at is not None and at - self.drawn_at < 0.1:
            return
        self.drawn_at = at
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """Erase the line, if one was drawn."""
        if self.drawn_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn_at = None


def _jobs(rows: int) -> int:
    """How many processes replay the leads: two on a multi-core Linux machine for a large log.

    SLASPEC_JOBS=1 forces one process, SLASPEC_JOBS=2 two whatever the size (for tests).
    """
    choice = os.environ.get("SLASPEC_JOBS", "")
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if choice in ("1", "2"):
        return int(choice)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return 2 if cores >= 2 and rows >= PARALLEL_MIN_ROWS else 1


def _import_report() -> None:
    from slaspec import report  # noqa: F401


def _replay_all(
    engine: LeadReplayer,
    prepared: Prepared,
    needs: _Needs,
    jobs: int,
    progress: _Progress | None = None,
    meanwhile: Callable[[], None] | None = None,
    ending: list[Callable[[], None]] | None = None,
) -> _Rendered:
    """Replay every prepared lead, sharing the chunks of leads with a forked process if jobs > 1.

    Leads are independent (semantics.md, and replay.py), so a chunk gives the same text and the
    same analysis tallies in either process. The two processes take the next unclaimed chunk
    from a shared counter, so neither waits for the other (a forked child runs slower, paying
    to copy the pages it touches), and the chunks are put back in chunk order: the output never
    depends on who replayed what. The child sends each chunk as soon as it is done, and the
    parent takes them between its own, so that at the end only the last one is in transit.
    `meanwhile`, work the replay does not need, is done by the parent once the child runs (the
    child claims more chunks in the meantime), or first when one process replays everything.
    Chunks are joined as they come, each once those before it are. The child has sent all it
    replayed when this returns; waiting for it to end (it frees its memory first: a fiftieth of
    a second on a large log) is appended to `ending` when given, for the caller to do after its
    own work, else done here.
    """
    leads = list(prepared.leads)
    chunks = [leads[i : i + _CHUNK_LEADS] for i in range(0, len(leads), _CHUNK_LEADS)]
    if progress is not None:
        progress.start(len(chunks), len(leads))
    if jobs < 2 or len(chunks) < 2:
        if meanwhile is not None:
            meanwhile()
        alone = _Joiner()
        for index, chunk in enumerate(chunks):
            alone.add(index, _replay_chunk(engine, prepared, chunk, needs))
            if progress is not None:
                progress.claimed(index + 1)
        return alone.result()
    context = multiprocessing.get_context("fork")
    try:
        counter = context.Value("l", 0)
        receiver, sender = context.Pipe(duplex=False)
    except OSError:  # no shared memory or pipes here (a sandbox): one process does it all
        return _replay_all(engine, prepared, needs, 1, progress, meanwhile)

    def claimed() -> Iterator[int]:
        while True:
            with counter.get_lock():
                index = counter.value
                counter.value = index + 1
            if index >= len(chunks):
                return
            yield index

    def replayed() -> Iterator[tuple[int, _Rendered]]:
        for index in claimed():
            yield index, _replay_chunk(engine, prepared, chunks[index], needs)

    child = context.Process(target=_replay_child, args=(replayed, sender), daemon=True)
    with contextlib.suppress(OSError):  # cannot fork (process limits): the parent does it all
        child.start()
    sender.close()
    if meanwhile is not None:
        meanwhile()
    done = _Joiner()
    sent = True  # until the child's end is seen (EOF: all sent, or it failed)
    for index in claimed():
        done.add(index, _replay_chunk(engine, prepared, chunks[index], needs))
        if progress is not None:
            progress.claimed(counter.value)
        while sent and receiver.poll():
            sent = _received(receiver, done)
    while sent:
        sent = _received(receiver, done)
    if child.pid is not None:
        if ending is None:
            child.join()
        else:
            ending.append(child.join)
    # Chunks the child claimed but never sent: replaying them here raises the child's error
    # with its traceback, or completes the output if the child was killed.
    for index in range(len(chunks)):
        if index not in done:
            done.add(index, _replay_chunk(engine, prepared, chunks[index], needs))
    return done.result()


def _received(receiver: Connection, done: _Joiner) -> bool:
    """Take one chunk the child sent; False at the end of what it sends (or if it failed:
    the chunks it claimed but never sent are replayed by the parent)."""
    try:
        index, rendered = receiver.recv()
    except EOFError:
        return False
    done.add(index, rendered)
    return True


def _replay_child(work: Callable[[], Iterator[tuple[int, _Rendered]]], sender: Connection) -> None:
    """The forked side of `_replay_all`: replay claimed chunks, sending each back as it is done
    (a thread sends, so that replaying goes on while the parent is busy), then exit."""
    outbox: queue.SimpleQueue[tuple[int, _Rendered] | None] = queue.SimpleQueue()

    def send() -> None:
        while (item := outbox.get()) is not None:
            sender.send(item)

    sending = threading.Thread(target=send)
    code = 0
    try:
        sending.start()
        for item in work():
            outbox.put(item)
    except BaseException:
        code = 1  # the chunks done are still sent; the parent replays the rest itself
    with contextlib.suppress(BaseException):
        outbox.put(None)
        sending.join()
        sender.close()
    # Skip the interpreter's teardown of the inherited heap: nothing of it needs saving.
    os._exit(code)


class _Joiner:
    """Rendered chunks joined into one, texts and tallies in chunk order, as they come: a chunk
    is joined as soon as every chunk before it is, so that joining goes on beside the replay
    instead of after it (58 chunks of the 1M log took 45 ms to join at the end)."""

    def __init__(self) -> None:
        from slaspec.results import Tally

        self.joined = _Rendered(Tally())
        self.next = 0  # the chunks before this one are joined
        self.waiting: dict[int, _Rendered] = {}  # chunks that came before an earlier one

    def __contains__(self, index: int) -> bool:
        return index < self.next or index in self.waiting

    def add(self, index: int, part: _Rendered) -> None:
        self.waiting[index] = part
        while self.next in self.waiting:
            self._join(self.waiting.pop(self.next))
            self.next += 1

    def result(self) -> _Rendered:
        """The joined chunks (every chunk from the first on must have been added)."""
        if self.waiting:
            raise ValueError(f"chunk {self.next} is missing; chunks after it were replayed")
        return self.joined

    def _join(self, part: _Rendered) -> None:
        joined = self.joined
        joined.tally.merge(part.tally)
        if part.tallies is not None:
            if joined.tallies is None:
                joined.tallies = part.tallies
            else:
                joined.tallies.merge(part.tallies)
        joined.cycles += part.cycles
        joined.violations += part.violations
        joined.csv += part.csv
        joined.shown += part.shown


def _write_chunks(chunks: Iterable[str], output: str | None) -> None:
    """Like _write_output, for a document written piece by piece."""
    if output is None or output == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.writelines(chunks)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from error


# Formats of `slaspec replay`, and which of them show the analysis.
REPORT_FORMATS = ("text", "markdown", "html", "json", "csv", "junit")
_ANALYSED = frozenset({"text", "markdown", "html", "json", "junit"})


@dataclass(frozen=True, slots=True)
class _Output:
    """One report a replay writes: its format and its file (None: standard output)."""

    fmt: str
    path: str | None


def _outputs(args: argparse.Namespace) -> list[_Output]:
    """The reports to write: --format to -o (or stdout), and every --report FORMAT=PATH."""
    outputs = [_Output(args.format, None if args.output in (None, "-") else args.output)]
    for spec in args.report or ():
        fmt, equals, path = spec.partition("=")
        if not equals or not path:
            raise UsageError(
                f"--report {spec!r}: write FORMAT=PATH, e.g. --report html=report.html"
            )
        if fmt not in REPORT_FORMATS:
            from slaspec.diagnostics import did_you_mean

            hint = did_you_mean(fmt, REPORT_FORMATS)
            raise UsageError(
                f"--report {spec!r}: unknown format {fmt!r}"
                + (f"; {hint}" if hint else "")
                + f" (formats: {', '.join(REPORT_FORMATS)})"
            )
        outputs.append(_Output(fmt, None if path == "-" else path))
    seen: dict[str | None, str] = {}
    for output in outputs:
        if output.path in seen:
            where = "standard output" if output.path is None else output.path
            raise UsageError(
                f"two reports ({seen[output.path]} and {output.fmt}) would both be written to "
                f"{where}; give each --report its own file"
            )
        seen[output.path] = output.fmt
    return outputs


def _analyser(
    args: argparse.Namespace,
    agreement: Agreement,
    as_of: int,
    calendars: Mapping[str, BusinessCalendar] | None = None,
) -> Analyser:
    """The analyser for --group-by, --money-field and --won-stage, checked against the agreement
    (using `calendars`, the agreement's business calendars, if given)."""
    from slaspec.analysis import Analyser
    from slaspec.diagnostics import did_you_mean

    fields = agreement.fields
    for name in args.group_by or ():
        if name not in fields:
            hint = did_you_mean(name, list(fields))
            raise UsageError(
                f"--group-by {name}: the agreement declares no field {name!r}"
                + (f"; {hint}" if hint else f" (fields: {', '.join(fields) or 'none'})")
            )
    if args.group_by is None:
        # The closed loop by source is the question of every weekly meeting.
        group_by: tuple[str, ...] = ("source",) if "source" in fields else ()
    else:
        group_by = tuple(args.group_by)
    money = args.money_field
    if money is None:
        priced = [name for name, kind in fields.items() if kind.kind == "money"]
        money = priced[0] if len(priced) == 1 else None
    elif money not in fields or fields[money].kind not in ("money", "number"):
        raise UsageError(
            f"--money-field {money}: name a field declared as money or number in the agreement"
            f" (money fields: {', '.join(n for n, k in fields.items() if k.kind == 'money')})"
        )
    try:
        return Analyser(agreement, as_of, group_by, money, args.won_stage, calendars)
    except ValueError as error:
        raise UsageError(f"--won-stage: {error}") from error


# The rule code of each problem that keeps files from being versions of one agreement.
VERSION_CODES = {
    "different-agreement": "SLA960",
    "same-effective-date": "SLA961",
    "same-version-label": "SLA962",
    "no-effective-date": "SLA963",
    "effective-order": "SLA964",
    "stage-spelling-conflict": "SLA965",
    "field-type-conflict": "SLA966",
    "rule-kind-conflict": "SLA967",
}


def _history(args: argparse.Namespace, checked: Checked) -> VersionedEngine | None:
    """The versioned engine for --history files (None without them); exit 2 if they don't fit.

    Replaces args.history by the checked versions, so their files are recorded in the report.
    """
    from slaspec import reporters

    paths = list(expand_paths(args.history or ()))
    if not paths:
        args.history = []
        return None
    from slaspec.versions import VersionedEngine, check_versions

    versions = [checked, *(_load_agreement(path) for path in paths)]
    problems = check_versions(versions)
    if problems:
        found = [
            Diagnostic(VERSION_CODES[p.kind], p.message, p.file, span=p.span, help=p.help)
            for p in problems
            if p.kind in VERSION_CODES
        ]
        sources = {
            parsed.source.name: parsed.source
            for version in versions
            for parsed in version.program.files
        }
        sys.stderr.write(reporters.render_text(found, sources, _use_color(sys.stderr, "auto")))
        sys.stderr.write("slaspec: these files are not versions of one agreement; see above.\n")
        raise SystemExit(EXIT_ERROR)
    args.history = versions[1:]
    agreements = [version.agreement for version in versions]
    return VersionedEngine([a for a in agreements if a is not None])


def cmd_replay(args: argparse.Namespace) -> int:
    outputs = _outputs(args)
    with _gc_paused():
        # The log is read and parsed in a thread while the agreement is checked and the
        # replay's own modules are imported (`_Logs.read_ahead`): those imports come after.
        checked, logs, _, as_of = _replay_inputs(args, read_ahead=not args.history)
        return _replay_checked(args, outputs, checked, logs, as_of)


def _replay_checked(
    args: argparse.Namespace,
    outputs: list[_Output],
    checked: Checked,
    logs: _Logs,
    as_of: int | None,
) -> int:
    from slaspec import calendar as business_calendar
    from slaspec import reporters
    from slaspec.replay import Engine

    formats = {output.fmt for output in outputs}
    agreement = checked.agreement
    assert agreement is not None
    history = _history(args, checked)
    progress = _Progress(sys.stderr, sys.stderr.isatty())
    analysed = bool(formats & _ANALYSED)
    # The analyser and the engine need the agreement and the as-of instant, not the rows: the
    # columnar preparation has them made while a pyarrow thread orders the rows.
    early: dict[int, tuple[Analyser | None, Engine]] = {}
    single = agreement  # the agreement replayed when there is no --history

    def setup(replay_as_of: int) -> tuple[Analyser | None, Engine]:
        # One of each business calendar, for the analyser and the engine alike: its tables
        # (0.02-0.05 s a calendar for this year's instants) are built once.
        calendars = {
            name: business_calendar.BusinessCalendar(spec)
            for name, spec in single.calendars.items()
        }
        analyser = _analyser(args, single, replay_as_of, calendars) if analysed else None
        # A lead's result shows only the attributes a report reads (the analysis's).
        engine = Engine(single, analyser.attributes_read() if analyser else (), calendars)
        # Calendar tables built now are built once, not in each process that replays.
        engine.cover(replay_as_of)
        if analyser is not None:
            analyser.cover(replay_as_of)
        return analyser, engine

    def beside(replay_as_of: int) -> None:
        early[replay_as_of] = setup(replay_as_of)

    # Done once the reports are written: waiting for the forked process to end.
    ending: list[Callable[[], None]] = []
    try:
        engine: LeadReplayer
        if history is None:
            prepared = logs.prepare(agreement, as_of, progress, beside)
        else:
            # Rows are read with every stage, alias and field any version declares.
            prepared = history.prepare(progress.rows(logs.items()), as_of)
            agreement, engine = history.reading, history
        _report_file_errors(logs, args.strict)
        if logs.readable == 0:
            sys.stderr.write("slaspec: no log could be read; nothing to replay.\n")
            return EXIT_ERROR
        if args.strict and prepared.rejections:
            sys.stderr.write(
                reporters.render_text(list(prepared.rejections), {}, _use_color(sys.stderr, "auto"))
            )
            sys.stderr.write("slaspec: stopping (--strict): rows were rejected.\n")
            return EXIT_ERROR
        if history is None:
            found = early.get(prepared.as_of)
            analyser, engine = found if found is not None else setup(prepared.as_of)
        else:
            analyser = _analyser(args, agreement, prepared.as_of) if analysed else None
        if "html" in formats:
            from slaspec.html_report import VIOLATIONS_SHOWN
        needs = _Needs(
            json="json" in formats,
            csv="csv" in formats,
            shown=VIOLATIONS_SHOWN if "html" in formats else 0,
            analysis=analyser,
            versions=history is not None,
        )
        jobs = _jobs(prepared.accounting.replayed)
        # The report's modules (pydantic models: about a fifth of a second) are imported while
        # the forked process replays, not before: the replay does not need them.
        rendered = _replay_all(engine, prepared, needs, jobs, progress, _import_report, ending)
        from slaspec.report import summary_report

        # The rows are no longer needed; free them before the output is assembled.
        accounting, rejections, replay_as_of = (
            prepared.accounting,
            prepared.rejections,
            prepared.as_of,
        )
        del prepared
        report = summary_report(
            agreement,
            rendered.tally,
            replay_as_of,
            accounting,
            rejections,
            _input_files(
                [
                    *_agreement_inputs(checked),
                    *(i for version in args.history or () for i in _agreement_inputs(version)),
                    *logs.inputs,
                ]
            ),
            __version__,
            business_calendar.holidays_version(),
            logs.dst_resolved,
        )
        if history is not None:
            from slaspec.report import with_versions

            report = with_versions(report, history.versions)
        analysis = None
        if analyser is not None:
            if rendered.tallies is not None:
                analyser.tallies = rendered.tallies
            analysis = analyser.finish()
            from slaspec.report import analysis_out

            report = report.model_copy(update={"analysis": analysis_out(analysis)})
        for output in outputs:
            _write_report(output, args, report, rendered, agreement, analysis)
    finally:
        progress.close()
        for end in ending:
            end()
    counts = report.violations_by_kind
    if args.fail_on == "violation" and counts:
        return EXIT_FINDINGS
    if args.fail_on == "breach" and (
        counts.get("clock_breached") or counts.get("cadence_breached")
    ):
        return EXIT_FINDINGS
    return EXIT_OK


def _write_report(
    output: _Output,
    args: argparse.Namespace,
    report: Report,
    rendered: _Rendered,
    agreement: Agreement,
    analysis: Analysis | None,
) -> None:
    """Write one report of a replay in its format."""
    from slaspec import render as report_render

    fmt, path = output.fmt, output.path
    if fmt == "json":
        _write_chunks(report_render.json_chunks(report, rendered.cycles, rendered.violations), path)
    elif fmt == "csv":
        versioned = report.agreement.versions is not None
        _write_chunks([report_render.csv_header(versioned), *rendered.csv], path)
    elif fmt == "text":
        color = path is None and _use_color(sys.stdout, args.color)
        _write_output(report_render.render_text(report, color), path)
    elif fmt == "markdown":
        from slaspec.analysis_report import render_markdown

        _write_output(render_markdown(report), path)
    elif fmt == "junit":
        from slaspec.analysis_report import render_junit

        _write_output(render_junit(report), path)
    else:
        from slaspec.html_report import VIOLATIONS_SHOWN, render_html

        assert analysis is not None
        shown = rendered.shown[:VIOLATIONS_SHOWN]
        total = sum(report.violations_by_kind.values())
        _write_output(render_html(report, analysis, agreement, shown, total), path)


def cmd_explain(args: argparse.Namespace) -> int:
    from slaspec import render as report_render
    from slaspec.replay import Engine, TraceEntry, prepare

    checked, logs, _, as_of = _replay_inputs(args)
    agreement = checked.agreement
    assert agreement is not None
    with _gc_paused():
        prepared = prepare(agreement, logs.items(), as_of)
    _report_file_errors(logs, False)
    rows = prepared.leads.get(args.lead)
    if rows is None:
        known = list(prepared.leads)
        from slaspec.diagnostics import did_you_mean

        hint = did_you_mean(args.lead, known) if len(known) < 200_000 else None
        raise UsageError(
            f"lead {args.lead!r} has no replayed rows in the log" + (f"; {hint}" if hint else "")
        )
    trace: list[TraceEntry] = []
    result = Engine(agreement).replay_lead(args.lead, rows, prepared.as_of, trace)
    _write_output(
        report_render.render_timeline(agreement, result, trace, prepared.as_of), args.output
    )
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from slaspec.report import Report

    schema = Report.model_json_schema()
    _write_output(json.dumps(schema, indent=2, sort_keys=True) + "\n", args.output)
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    checked = _load_agreement(args.agreement)
    assert checked.agreement is not None
    try:
        start = dt.date.fromisoformat(args.start)
    except ValueError:
        raise UsageError(f"--start {args.start!r} is not a date; write YYYY-MM-DD") from None
    if args.leads < 0 or args.days < 1:
        raise UsageError("--leads must be 0 or more and --days 1 or more")
    from slaspec import generate as generator  # only this command needs it; keeps start-up fast

    lines = generator.generate_csv(checked.agreement, args.leads, args.seed, start, args.days)
    if args.output is None or args.output == "-":
        for line in lines:
            sys.stdout.write(line)
        return EXIT_OK
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
    except OSError as error:
        raise UsageError(f"cannot write {args.output}: {error.strerror}") from error
    return EXIT_OK


# ---------------------------------------------------------------- argument parsing


def add_log_reading_options(command: argparse.ArgumentParser) -> None:
    """The options every command that reads event logs shares: as-of, zone, DST, encoding, -o."""
    command.add_argument(
        "--as-of",
        metavar="INSTANT",
        help="judge open cycles at this instant (default: the latest timestamp in the logs)",
    )
    command.add_argument(
        "--log-timezone", metavar="ZONE", help="IANA zone of timestamps without an offset"
    )
    command.add_argument(
        "--dst-policy",
        choices=("reject", "earlier", "later"),
        default="reject",
        help="what to do with local times that fall in a DST gap or fold",
    )
    command.add_argument("--encoding", default="utf-8", help="text encoding of the logs")
    command.add_argument("-o", "--output", metavar="FILE", help="write to FILE")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="slaspec",
        description="Service-level agreements between marketing and sales, as code.",
    )
    parser.add_argument("--version", action="version", version=f"slaspec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    lint = commands.add_parser("lint", help="check agreement files and report every problem")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="agreement files or folders")
    lint.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="output format",
    )
    lint.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    lint.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    lint.set_defaults(handler=cmd_lint)

    fmt = commands.add_parser("fmt", help="rewrite agreement files in the canonical layout")
    fmt.add_argument("paths", nargs="+", metavar="PATH", help="agreement files or folders, or -")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    mode.add_argument("--diff", action="store_true", help="print a diff instead of writing")
    fmt.set_defaults(handler=cmd_fmt)

    graph = commands.add_parser("graph", help="draw the lifecycle of an agreement")
    graph.add_argument("path", metavar="AGREEMENT")
    graph.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid")
    graph.add_argument("-o", "--output", metavar="FILE", help="write to FILE")
    graph.set_defaults(handler=cmd_graph)

    def log_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("agreement", metavar="AGREEMENT")
        command.add_argument(
            "logs",
            nargs="+",
            metavar="LOG",
            help="canonical event logs (or CRM exports with --mapping/--preset), or -",
        )
        add_log_reading_options(command)

    # Imported here: cli_import uses this module's helpers for its I/O.
    from slaspec.cli_import import add_import_command, add_mapping_options

    replay = commands.add_parser("replay", help="replay event logs against an agreement")
    log_options(replay)
    add_mapping_options(replay)
    replay.add_argument(
        "--format",
        choices=REPORT_FORMATS,
        default="text",
        help="format of the report on standard output (or in the -o file)",
    )
    replay.add_argument(
        "--report",
        action="append",
        metavar="FORMAT=PATH",
        help="also write a report in FORMAT to PATH (repeatable), e.g. --report html=report.html",
    )
    replay.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    replay.add_argument(
        "--group-by",
        action="append",
        metavar="FIELD",
        help="closed loop by this lead attribute (repeatable; default: source, if declared)",
    )
    replay.add_argument(
        "--money-field",
        metavar="FIELD",
        help="field summed as revenue at won (default: the agreement's only money field)",
    )
    replay.add_argument(
        "--won-stage",
        action="append",
        metavar="STAGE",
        help="stage counted as won (repeatable; default: a terminal stage named won)",
    )
    replay.add_argument(
        "--fail-on",
        choices=("breach", "violation"),
        help="exit 1 when a clock or cadence was breached, or when any violation was found",
    )
    replay.add_argument(
        "--strict", action="store_true", help="stop with exit 2 at any unreadable file or row"
    )
    replay.add_argument(
        "--history",
        action="append",
        metavar="PATH",
        help="an earlier version of the agreement (a .sla file, or a folder of them); each "
        "clock cycle is judged by the version in force when it started (repeatable)",
    )
    replay.set_defaults(handler=cmd_replay)

    explain = commands.add_parser("explain", help="one lead's timeline and why it broke rules")
    log_options(explain)
    add_mapping_options(explain)
    explain.add_argument("--lead", required=True, metavar="ID")
    explain.set_defaults(handler=cmd_explain)

    schema = commands.add_parser("schema", help="print the JSON Schema of a document")
    schema.add_argument("document", choices=("report",))
    schema.add_argument("-o", "--output", metavar="FILE")
    schema.set_defaults(handler=cmd_schema)

    generate = commands.add_parser("generate", help="write a seeded sample log for an agreement")
    generate.add_argument("agreement", metavar="AGREEMENT")
    generate.add_argument("--leads", type=int, default=1000)
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--start", default="2026-01-05", help="first day of the log")
    generate.add_argument("--days", type=int, default=180)
    generate.add_argument("-o", "--output", metavar="FILE")
    generate.set_defaults(handler=cmd_generate)

    # Imported here: cli_test uses this module's helpers for its I/O.
    from slaspec.cli_test import add_test_command

    add_test_command(commands)

    from slaspec.cli_diff import add_diff_command

    add_diff_command(commands)

    from slaspec.cli_render import add_render_command

    add_render_command(commands)

    from slaspec.cli_init import add_init_command

    add_init_command(commands)
    add_import_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run slaspec with the given arguments; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        result: int = args.handler(args)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_ERROR
    except UsageError as error:
        sys.stderr.write(f"slaspec: error: {error}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("slaspec: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return result


def entry() -> NoReturn:
    """Console-script entry point.

    Exits without the interpreter's teardown once the output is flushed: after a large replay,
    freeing every object one by one took a sixth of a second, and nothing is left to save (every
    file is written and closed inside `main`, and a forked process is joined).
    """
    global _exit_follows
    _exit_follows = True
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # e.g. the reader went away (`slaspec ... | head`)
            stream.flush()
    os._exit(code)
