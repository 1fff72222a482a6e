"""Untrusted: files read back from the archive are input like any other.

A run folder can be edited, copied from elsewhere or planted, so brief.json and run.json are
read with a size cap, rebuilt into their typed records (`plain.from_plain`) and then checked
against those records' type hints: every value of the type its field declares, every text
bounded, and the fields that reach CSS, HTML attributes or the filesystem of the exact shape
they are written in. The first problem is reported with the file and the field, once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Union

import numpy as np

from reporter.errors import ArchiveError
from reporter.plain import from_plain

MAX_TEXT = 20_000  # characters in one text field (sentences and names, not tables)
MAX_DEPTH = 24  # nesting of the free-form parts (k_selection, stability)
MAX_INTEGER = 2**63 - 1
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
RUN_ID = re.compile(r"[0-9]{6}-[0-9a-f]{4}")
WORDS = re.compile(r"[a-z][a-z ()-]{0,39}")  # a status: 'sent', 'failed (interrupted)'

Check = Callable[[Any], str | None]  # a field's value -> what is wrong with it, or None


class UnreadableArchiveFile(ArchiveError, ValueError):
    """An archived file that is not what this project writes. A ValueError too, so listings
    that skip unreadable runs (the index, `archive list`) skip it as before."""


def read_json(path: Path, max_bytes: int, hint: str) -> Any:
    """The document in an archived JSON file, refused (one line) when too large or not JSON."""
    try:
        size = path.stat().st_size
        text = path.read_bytes().decode("utf-8") if size <= max_bytes else None
    except OSError as exc:
        raise UnreadableArchiveFile(f"{path}: cannot be read ({type(exc).__name__}); {hint}") from None
    except UnicodeDecodeError:
        raise UnreadableArchiveFile(f"{path}: not UTF-8 text; {hint}") from None
    if text is None:
        raise UnreadableArchiveFile(f"{path}: {size:,} bytes, more than the {max_bytes:,} this "
                                    f"file ever holds; {hint}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UnreadableArchiveFile(f"{path}: not readable as JSON ({type(exc).__name__}); "
                                    f"{hint}") from None


def read_record(kind: type, document: Any, path: Path, checks: dict[str, Check], hint: str) -> Any:
    """`document` as a `kind` record, its every field checked (`problem`); refused otherwise."""
    if not isinstance(document, dict):
        raise UnreadableArchiveFile(f"{path}: not a JSON object; {hint}")
    try:
        record = from_plain(kind, document)
    except UNBUILDABLE:
        raise UnreadableArchiveFile(f"{path}: {_unbuildable(kind, document, '')}; {hint}") from None
    found = problem(record, checks)
    if found is not None:
        raise UnreadableArchiveFile(f"{path}: {found}; {hint}")
    return record


UNBUILDABLE = (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError,
               StopIteration)


def _unbuildable(kind: Any, value: Any, where: str) -> str:
    """Where `from_plain` fails: the deepest field of a record whose value cannot be rebuilt."""
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        hints = typing.get_type_hints(kind)
        for field in dataclasses.fields(kind):
            if field.name not in value:
                continue
            try:
                from_plain(hints[field.name], value[field.name])
            except UNBUILDABLE:
                inner = f"{where}.{field.name}" if where else field.name
                return _unbuildable(_record_type(hints[field.name]), value[field.name], inner)
    if dataclasses.is_dataclass(kind) and not isinstance(value, dict):
        return f"{where or 'the file'}: not a JSON object"
    return f"{where or 'the file'}: {shown(value)} is not of the type this field holds"


def _record_type(kind: Any) -> Any:
    """The record type inside an optional field (`X | None`), else the type itself."""
    if typing.get_origin(kind) in (Union, types.UnionType):
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def problem(record: Any, checks: dict[str, Check]) -> str | None:
    """The first value of `record` that is not what its type hint and `checks` (by 'Record.field',
    or by field name at any depth) allow, as '<field>: <what is wrong>'; None when every value is."""
    return next(_problems(type(record), record, "", checks, 0), None)


def _problems(kind: Any, value: Any, where: str, checks: dict[str, Check], depth: int) -> Iterator[str]:
    if depth > MAX_DEPTH:
        yield f"{where}: nested more than {MAX_DEPTH} levels deep"
        return
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is not None:
            yield from _problems(next(a for a in args if a is not type(None)), value, where, checks, depth)
    elif dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        for field in dataclasses.fields(kind):
            inner = f"{where}.{field.name}" if where else field.name
            item = getattr(value, field.name)
            check = checks.get(f"{kind.__name__}.{field.name}", checks.get(field.name))
            wrong = check(item) if check is not None else None
            if wrong is not None:
                yield f"{inner}: {wrong}"
                return
            yield from _problems(hints[field.name], item, inner, checks, depth + 1)
    elif origin in (tuple, list):
        items = args if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis) else None
        for index, item in enumerate(value):
            yield from _problems(items[index] if items else args[0], item, f"{where}[{index}]",
                                 checks, depth + 1)
    elif origin is dict:
        for key, item in value.items():
            yield from _problems(args[0], key, f"{where} key", checks, depth + 1)
            yield from _problems(args[1], item, f"{where}[{str(key)[:40]!r}]", checks, depth + 1)
    else:
        wrong = _scalar_problem(kind, value, where, checks, depth)
        if wrong is not None:
            yield wrong


def _scalar_problem(kind: Any, value: Any, where: str, checks: dict[str, Check], depth: int) -> str | None:
    if kind is Any:
        return _plain_problem(value, where, depth)
    if kind is str:
        return _text_problem(value, where)
    if kind is bool:
        return None if isinstance(value, bool) else f"{where}: not true or false"
    if kind is int:
        return None if abs(value) <= MAX_INTEGER else f"{where}: {value} is out of range"
    if kind is np.ndarray:
        numeric = value.dtype.kind in "biuf" and value.ndim <= 2
        return None if numeric else f"{where}: not a table of numbers"
    if kind in (float, date, datetime):
        return None
    return f"{where}: of an unexpected type"


def _text_problem(value: Any, where: str) -> str | None:
    if not isinstance(value, str):
        return f"{where}: not a text"
    if len(value) > MAX_TEXT:
        return f"{where}: {len(value):,} characters, more than {MAX_TEXT:,}"
    if "\x00" in value:
        return f"{where}: holds a NUL character"
    return None


def _plain_problem(value: Any, where: str, depth: int) -> str | None:
    """A free-form JSON value (a dict[str, Any] field): bounded depth, texts and numbers."""
    if depth > MAX_DEPTH:
        return f"{where}: nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return _text_problem(value, where)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INTEGER else f"{where}: {value} is out of range"
    if isinstance(value, float):
        return None if math.isfinite(value) or math.isnan(value) else f"{where}: not a finite number"
    if not isinstance(value, dict | list):
        return f"{where}: of an unexpected type"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        wrong = _plain_problem(item, f"{where}[{str(key)[:40]!r}]", depth + 1)
        if wrong is not None:
            return wrong
    return None


def shown(value: Any) -> str:
    """A value as a message may quote it: short, on one line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def colour(value: Any) -> str | None:
    """A colour exactly as written into the archive (#rrggbb): anything else could carry CSS."""
    if isinstance(value, str) and HEX_COLOUR.fullmatch(value):
        return None
    return f"{shown(value)} is not a colour written as #rrggbb"


def optional(check: Check) -> Check:
    """The same check, with the field's empty default ('') allowed (older layouts)."""
    return lambda value: None if value == "" else check(value)


def one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"{shown(value)} is not one of {', '.join(allowed)}"
    return check


def between(low: float, high: float) -> Check:
    """A finite number (not true or false) from `low` to `high`."""
    def check(value: Any) -> str | None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value) and low <= value <= high:
            return None
        return f"{shown(value)} is not a number from {low:,} to {high:,}"
    return check


def pattern(regex: re.Pattern[str], what: str) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and regex.fullmatch(value) else f"{shown(value)} is not {what}"
    return check


def iso_date(value: Any) -> str | None:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return f"{shown(value)} is not a date (YYYY-MM-DD)"
    return None


def iso_time(value: Any) -> str | None:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return f"{shown(value)} is not a date and time (ISO 8601)"
    return None


def folder_file(value: Any) -> str | None:
    """A file of the run folder named relative to it: never absolute, never leaving it."""
    if not isinstance(value, str) or not value or len(value) > 255:
        return f"{shown(value)} is not a file name"
    path = Path(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or "\x00" in value:
        return f"{shown(value)} is not a file of the run folder"
    return None


def file_names(values: Any) -> str | None:
    if not isinstance(values, tuple):
        return "not a list of file names"
    return next((wrong for wrong in map(folder_file, values) if wrong is not None), None)
