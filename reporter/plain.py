"""Plain: typed records to JSON-ready values and back, with no code in between.

The archive stores numbers and words only (model.json, run.json, brief.json). A record is a
frozen dataclass; `to_plain` turns it into dicts, lists, strings and numbers, and `from_plain`
rebuilds it from its type hints, so nothing in a file can name a class to construct.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any, Union

import numpy as np


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples, dicts, arrays and dates as JSON values (floats exact)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("plain", True)}
    if isinstance(value, dict):
        if all(isinstance(k, str | int | np.integer) for k in value):
            return {str(k): to_plain(v) for k, v in value.items()}  # int keys come back by type
        return [[to_plain(k), to_plain(v)] for k, v in value.items()]  # tuple keys
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def from_plain(kind: Any, value: Any) -> Any:
    """Rebuild a value of type `kind` (as written in a type hint) from `to_plain`'s output."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        return from_plain(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        known = {f.name for f in dataclasses.fields(kind) if f.init and f.name in value}
        return kind(**{name: from_plain(hints[name], value[name]) for name in known})
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], v) for v in value)
        return tuple(from_plain(a, v) for a, v in zip(args, value, strict=True))
    if origin is list:
        return [from_plain(args[0], v) for v in value]
    if origin is dict:
        pairs = value.items() if isinstance(value, dict) else value
        return {from_plain(args[0], k): from_plain(args[1], v) for k, v in pairs}
    if kind is np.ndarray:
        return np.asarray(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is float:
        return float(value)
    if kind is int:
        return int(value)
    return value


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)
