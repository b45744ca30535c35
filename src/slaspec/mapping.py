"""Mappings: the TOML text of a mapping file -> a validated `ExportMapping`, or located diagnostics.

A mapping says how the files a CRM exports become canonical events (docs/import.md). It holds one
`[[files]]` table per kind of export file, each in one of three shapes: `history` (one row per
change: Salesforce LeadHistory, OpportunityHistory), `wide` (one row per lead, one date column
per stage: HubSpot contact exports, spreadsheets) and `activities` (one row per call, e-mail or
meeting). The models are pydantic (the project's rule for configuration files); a problem in a
mapping file is an SLA920 diagnostic whose span points at the key, so it prints as file:line:col.
Built-in presets are mapping files shipped in `slaspec/presets/`.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from slaspec.diagnostics import Diagnostic, did_you_mean
from slaspec.source import Source, Span

Shape = Literal["history", "wide", "activities"]
EventName = Literal["stage", "assign", "activity", "update"]
RuleEvent = Literal["stage", "assign", "activity", "update", "skip"]
AttributeType = Literal["text", "number", "boolean", "date", "datetime"]
DstPolicy = Literal["reject", "earlier", "later"]
# Timestamp formats with a name; any other format is a strptime pattern with `%` directives.
NAMED_FORMATS = ("iso", "excel", "epoch-s", "epoch-ms")
PRESET_SUFFIX = ".toml"

_TIME_DIRECTIVES = re.compile(r"%[HIMSfpz]")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constant(_Model):
    """A fixed cell value written in the mapping (`{ value = "sales" }`) instead of a column."""

    value: str = Field(min_length=1)


class Attribute(_Model):
    """How one export column becomes a lead attribute, and how its text is coerced."""

    name: str | None = None
    type: AttributeType = "text"
    true: tuple[str, ...] = ("true", "1", "yes")
    false: tuple[str, ...] = ("false", "0", "no")
    decimal: str = "."
    thousands: str = ""
    currency: str = ""
    format: str = "iso"

    @field_validator("decimal")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("`decimal` is one character, `.` or `,`")
        return value

    @field_validator("format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        return _checked_format(value)


class FieldRule(_Model):
    """What a history row of one changed field becomes (`event`), and when it applies."""

    event: RuleEvent
    # A fixed value instead of the row's new value (e.g. the stage a `created` row enters).
    value: str | None = None
    # The attribute an `update` sets (default: the field's name).
    attribute: str | None = None
    # Cells the row must hold for the rule to apply; other rows of the field are skipped.
    when: dict[str, str | tuple[str, ...]] = {}


class FileMapping(_Model):
    """One kind of export file: its shape, the columns it reads and what they become."""

    name: str = Field(min_length=1)
    shape: Shape
    description: str | None = None
    # File-name patterns (`*LeadHistory*.csv`) that pick this entry before the header does.
    match: tuple[str, ...] = ()
    # Columns the file must have besides those read, so that the header tells exports apart.
    require: tuple[str, ...] = ()
    lead: str = Field(min_length=1)
    # Splits a lead cell naming several leads (`123;456`): the row gives events for each.
    lead_separator: str | None = None
    timestamp: str | tuple[str, ...] | None = None
    timestamp_format: str = "iso"
    timezone: str | None = None
    actor: str | Constant | None = None
    team: str | Constant | None = None
    event_id: str | None = None
    attributes: dict[str, str | Attribute] = {}
    # Rows whose cell in the column is one of the values are skipped (counted, not rejected).
    skip_when: dict[str, tuple[str, ...]] = {}
    # history
    field: str | None = None
    value: str | None = None
    event: EventName = "stage"
    fields: dict[str, FieldRule | RuleEvent] = {}
    other_fields: Literal["skip", "reject"] = "reject"
    # wide
    stages: dict[str, str] = {}
    attributes_at: str | None = None
    # activities
    activity: str | tuple[str, ...] | Constant | None = None
    activities: dict[str, str] = {}
    other_activities: Literal["keep", "skip", "reject"] = "keep"

    @field_validator("timestamp_format")
    @classmethod
    def _format(cls, value: str) -> str:
        return _checked_format(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _checked_zone(value)

    @field_validator("fields")
    @classmethod
    def _rules(cls, value: dict[str, FieldRule | RuleEvent]) -> dict[str, FieldRule | RuleEvent]:
        return {
            name: FieldRule(event=rule) if isinstance(rule, str) else rule
            for name, rule in value.items()
        }

    @model_validator(mode="after")
    def _shape_needs(self) -> FileMapping:
        missing = [key for key in _NEEDED[self.shape] if not getattr(self, key)]
        if self.shape == "wide" and not (self.stages or self.attributes_at):
            missing.append("stages")
        if self.shape == "history" and self.field is not None and not self.fields:
            missing.append("fields")
        if missing:
            article = "an" if self.shape == "activities" else "a"
            raise ValueError(
                f"{article} `{self.shape}` file needs " + ", ".join(f"`{key}`" for key in missing)
            )
        unused = [key for key in _ONLY if key not in _ALLOWED[self.shape] and _set(self, key)]
        if unused:
            raise ValueError(
                f"{', '.join(f'`{key}`' for key in unused)} do not apply to a `{self.shape}` file"
            )
        return self

    def rule(self, field: str) -> FieldRule | None:
        """The rule for a changed field of a history file, if the mapping names it."""
        rule = self.fields.get(field)
        return rule if isinstance(rule, FieldRule) or rule is None else FieldRule(event=rule)

    def timestamps(self) -> tuple[str, ...]:
        """The timestamp columns, first non-empty wins."""
        if self.timestamp is None:
            return ()
        return (self.timestamp,) if isinstance(self.timestamp, str) else self.timestamp

    def columns(self) -> tuple[str, ...]:
        """The columns a file must have to be read by this entry."""
        named: list[str] = [self.lead, *self.timestamps()[:1], *self.require]
        for ref in (self.actor, self.team, self.activity):
            if isinstance(ref, str):
                named.append(ref)
            elif isinstance(ref, tuple):
                named.append(ref[0])
        for column in (self.event_id, self.field, self.value, self.attributes_at):
            if column is not None:
                named.append(column)
        for rule in self.fields.values():
            if isinstance(rule, FieldRule):
                named += list(rule.when)
        return tuple(dict.fromkeys(named))

    def missing(self, header: Sequence[str]) -> list[str]:
        """The columns this entry needs that a header lacks.

        A wide file without `attributes_at` needs one of its stage columns at least; when it has
        none, the first stands for them all.
        """
        present = set(header)
        missing = [column for column in self.columns() if column not in present]
        if (
            self.shape == "wide"
            and not self.attributes_at
            and self.stages
            and not present.intersection(self.stages)
        ):
            missing.append(next(iter(self.stages)))
        return missing

    def optional_columns(self) -> tuple[str, ...]:
        """Columns read when the file has them: attributes, stage dates, fallbacks, filters.

        Exports hold the properties the user chose, so these may be absent: their cells read
        as empty, and the import summary lists them.
        """
        named: list[str] = [*self.timestamps()[1:], *self.attributes, *self.stages]
        if isinstance(self.activity, tuple):
            named += self.activity[1:]
        named += list(self.skip_when)
        required = set(self.columns())
        return tuple(column for column in dict.fromkeys(named) if column not in required)


# Keys each shape needs, and the shape-specific keys each allows.
_NEEDED: dict[str, tuple[str, ...]] = {
    "history": ("timestamp", "value"),
    "wide": (),
    "activities": ("timestamp", "activity"),
}
_ONLY = (
    "field",
    "value",
    "fields",
    "stages",
    "attributes_at",
    "activity",
    "activities",
)
_ALLOWED: dict[str, tuple[str, ...]] = {
    "history": ("field", "value", "fields"),
    "wide": ("stages", "attributes_at"),
    "activities": ("activity", "activities"),
}


def _set(model: FileMapping, key: str) -> bool:
    return key in model.model_fields_set


class ExportMapping(_Model):
    """A whole mapping file: shared reading options, the stage table and the file entries."""

    version: Literal[1] = 1
    name: str | None = None
    description: str | None = None
    timezone: str | None = None
    dst_policy: DstPolicy = "reject"
    encoding: str = "utf-8"
    delimiter: str = ","
    null_values: tuple[str, ...] = ()
    # Export value -> stage (a name or alias of the agreement).
    stages: dict[str, str] = {}
    unknown_stages: Literal["keep", "reject"] = "keep"
    files: tuple[FileMapping, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _checked_zone(value)

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if len(value) != 1 or value in '"\r\n':
            raise ValueError("`delimiter` is one character such as `,`, `;` or a tab")
        return value

    @field_validator("files")
    @classmethod
    def _unique(cls, value: tuple[FileMapping, ...]) -> tuple[FileMapping, ...]:
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"two `[[files]]` entries are named `{entry.name}`")
            seen.add(entry.name)
        return value

    def entry(self, name: str) -> FileMapping | None:
        """The file entry of that name."""
        return next((entry for entry in self.files if entry.name == name), None)


def _checked_format(value: str) -> str:
    if value in NAMED_FORMATS or "%" in value:
        return value
    raise ValueError(
        f"`{value}` is not a timestamp format: write `iso`, `excel`, `epoch-s`, `epoch-ms` or a "
        "strptime pattern such as `%d/%m/%Y %H:%M`"
    )


def _checked_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        hint = did_you_mean(value, zoneinfo.available_timezones())
        raise ValueError(
            f"`{value}` is not an IANA time zone name" + (f"; {hint}" if hint else "")
        ) from None
    return value


def has_time_of_day(fmt: str) -> bool:
    """Whether a timestamp format carries a time of day (a date-only value starts its day)."""
    return fmt in NAMED_FORMATS or _TIME_DIRECTIVES.search(fmt) is not None


# --- loading ------------------------------------------------------------------------------------


def load_mapping(source: Source) -> ExportMapping | tuple[Diagnostic, ...]:
    """Parse and validate a mapping file; every problem as an SLA920 diagnostic at its key."""
    try:
        data = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as error:
        return (_toml_problem(source, error),)
    try:
        return ExportMapping.model_validate(data)
    except ValidationError as error:
        items = _one_per_union(error.errors())
        # A failing entry also makes pydantic call the list of entries empty; say it once.
        inner = any(len(item["loc"]) > 1 and item["loc"][0] == "files" for item in items)
        return tuple(
            _validation_problem(source, item)
            for item in items
            if not (inner and tuple(item["loc"]) == ("files",) and item["type"] == "too_short")
        )


def _branch(part: Any) -> bool:
    """Whether a location part names a branch of a union (`FieldRule`, `literal['skip']`)."""
    return isinstance(part, str) and (part in _NESTED or "[" in part or part in _SCALARS)


_SCALARS = ("str", "int", "bool", "float")


def _one_per_union(items: list[Any]) -> list[Any]:
    """Pydantic's errors with those of a union's branches folded into one per key.

    A value that fits no branch of `str | Constant` gets an error per branch; the user needs
    one: for text, the literal's list of words; otherwise the first branch's.
    """
    kept: list[Any] = []
    folded: dict[tuple[Any, ...], list[Any]] = {}
    for item in items:
        loc = tuple(item["loc"])
        cut = next((i for i, part in enumerate(loc) if _branch(part)), None)
        if cut is None:
            kept.append(item)
            continue
        key = loc[:cut]
        if key not in folded:
            folded[key] = []
            kept.append(key)
        folded[key].append(item)
    out: list[Any] = []
    for entry in kept:
        if not isinstance(entry, tuple):
            out.append(entry)
            continue
        branches = folded[entry]
        inside = [item for item in branches if len(item["loc"]) > len(entry) + 1]
        if inside:
            # The value was a table: what is wrong inside it is what the user needs.
            out += [
                {**item, "loc": tuple(p for p in item["loc"] if not _branch(p))} for item in inside
            ]
            continue
        words = [
            word
            for item in branches
            if item["type"] == "literal_error" and "ctx" in item
            for word in re.findall(r"'([^']*)'", str(item["ctx"]["expected"]))
        ]
        value = branches[0].get("input")
        if isinstance(value, str) and words:
            shown = ", ".join(f"`{word}`" for word in dict.fromkeys(words))
            message = f"`{value}` is not one of {shown}"
        else:
            message = "the value has the wrong type: " + "; or ".join(
                str(item["msg"]).removeprefix("Input should be ") for item in branches
            )
        out.append({"type": "value_error", "loc": entry, "msg": message})
    return out


_TOML_AT = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def _toml_problem(source: Source, error: tomllib.TOMLDecodeError) -> Diagnostic:
    text = str(error)
    match = _TOML_AT.match(text)
    span: Span | None = None
    if match is not None:
        text = match["message"]
        start = source.line_start(int(match["line"])) + int(match["column"]) - 1
        span = Span(start, min(start + 1, len(source.text)))
    return Diagnostic(
        "SLA920",
        f"the mapping is not valid TOML: {text}",
        source.name,
        span,
        help='write `key = "value"` pairs under `[table]` headers; quote keys with spaces, '
        'e.g. `"Became a Lead Date" = "lead"`',
    )


def _validation_problem(source: Source, item: Any) -> Diagnostic:
    loc = tuple(item["loc"])
    kind = item["type"]
    key = ".".join(str(part) for part in loc) or "the file"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model is not None else []
        hint = did_you_mean(str(loc[-1]), known)
        message = f"unknown key `{loc[-1]}`" + (f" in `{_parent(loc)}`" if loc[:-1] else "")
        help_ = hint or (f"the keys here are {', '.join(known)}" if known else "remove it")
    elif kind == "missing":
        message = f"`{key}` is missing"
        help_ = _HELP.get(
            str(loc[-1]), f"add `{loc[-1]} = ...`; see docs/import.md for what it holds"
        )
        return Diagnostic("SLA920", message, source.name, _locate(source, loc[:-1]) or
                          Span(0, min(1, len(source.text))), help=help_)  # fmt: skip
    else:
        reason = str(item["msg"]).removeprefix("Value error, ")
        message = f"`{key}`: {reason}"
        help_ = _HELP.get(str(loc[-1]) if loc else "", "see docs/import.md for the format")
        named = re.search(r"`(\w+)`", reason)
        if loc and isinstance(loc[-1], int) and named and named[1] in FileMapping.model_fields:
            # A problem of a whole entry about one of its keys: point at that key if written.
            span = _locate(source, (*loc, named[1]))
            if span is not None and span != _locate(source, loc):
                return Diagnostic("SLA920", message, source.name, span, help=help_)
    return Diagnostic("SLA920", message, source.name, _locate(source, loc), help=help_)


_HELP = {
    "shape": "write `history`, `wide` or `activities`",
    "timestamp_format": "declare the export's format, e.g. `%d/%m/%Y %H:%M` (day first) or "
    "`%m/%d/%Y %I:%M %p` (month first); slaspec never guesses",
    "timezone": "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",
    "files": "add one `[[files]]` table per kind of export file",
}


def _parent(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc[:-1] if not isinstance(part, int)]
    return ".".join(parts) or "the file"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model a validation location points into (for listing its keys)."""
    model: type[BaseModel] | None = ExportMapping
    parts = [part for part in loc if not isinstance(part, int) and not _branch(part)]
    index = 0
    while index < len(parts):
        if model is None:
            return None
        name = (model.__name__, str(parts[index]))
        if name in _DICT_CHILDREN:
            model = _DICT_CHILDREN[name]
            index += 2  # the table's own key, then a key inside it
            continue
        model = _CHILDREN.get(name)
        index += 1
    return model


_NESTED: dict[str, type[BaseModel]] = {
    "FieldRule": FieldRule,
    "Attribute": Attribute,
    "Constant": Constant,
}
_CHILDREN: dict[tuple[str, str], type[BaseModel]] = {
    ("ExportMapping", "files"): FileMapping,
}
# Tables of models keyed by the user's names: `[files.fields]`, `[files.attributes]`.
_DICT_CHILDREN: dict[tuple[str, str], type[BaseModel]] = {
    ("FileMapping", "fields"): FieldRule,
    ("FileMapping", "attributes"): Attribute,
}


def _locate(source: Source, loc: tuple[Any, ...]) -> Span | None:
    """The span of the key a validation location names, found by scanning the TOML text.

    Keys are looked for in order, each after the previous: `files.1.timestamp` is the second
    `[[files]]` header, then the first `timestamp` key after it.
    """
    text = source.text
    position = 0
    found: Span | None = None
    for part in loc:
        if isinstance(part, int):
            headers = list(_FILES_HEADER.finditer(text))
            if found is not None and part < len(headers):
                header = headers[part]
                position = header.end()
                found = Span(header.start("header"), header.end())
            continue
        key = str(part)
        if key in _NESTED:
            continue
        if key == "files" and position == 0:
            first = _FILES_HEADER.search(text)
            if first is None:
                return None
            found = Span(first.start("header"), first.end())
            continue
        quoted = re.escape(key)
        pattern = re.compile(
            rf"^[ \t]*(?:\[+[^\]\n]*\.)?(?P<key>\"{quoted}\"|'{quoted}'|{quoted})[ \t]*[=\].]",
            re.MULTILINE,
        )
        inline = re.compile(rf"[{{,][ \t]*(?P<key>{quoted}|\"{quoted}\")[ \t]*=")
        match = pattern.search(text, position) or inline.search(text, position)
        if match is None:
            return found
        position = match.end("key")
        found = Span(match.start("key"), match.end("key"))
    return found


_FILES_HEADER = re.compile(r"^[ \t]*(?P<header>\[\[[ \t]*files[ \t]*\]\])", re.MULTILINE)


# --- presets ------------------------------------------------------------------------------------


def presets() -> Traversable:
    """The folder of built-in presets inside the package."""
    return resources.files("slaspec").joinpath("presets")


def preset_names() -> tuple[str, ...]:
    """The names of the built-in presets, sorted."""
    return tuple(
        sorted(
            item.name.removesuffix(PRESET_SUFFIX)
            for item in presets().iterdir()
            if item.name.endswith(PRESET_SUFFIX)
        )
    )


def preset(name: str) -> Traversable | None:
    """The built-in preset file of that name, if there is one."""
    if name not in preset_names():
        return None
    return presets().joinpath(name + PRESET_SUFFIX)
