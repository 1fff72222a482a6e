"""docs/reference/configuration.md, generated from the settings models' field descriptions, so
the reference says what the code checks (a test keeps the committed file equal to this)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from reporter.app.settings import ReporterConfig

REFERENCE = Path("docs/reference/configuration.md")
HEADER = """# Configuration reference: reporter.yaml

Every key of `reporter.yaml`, generated from the settings models (`reporter/app/settings.py`) by
`reporter config reference`; a test keeps this file equal to what the models say, so edit the
descriptions there, not here. Every key is optional except `source` (`path`, `url` or
`spark_table`). Relative paths are relative to the folder of `reporter.yaml`. `reporter validate`
checks a file against these rules and names the line of every problem; editors that read JSON
Schema complete and check keys with `reporter.schema.json` (`reporter config schema`).
"""


def reference_text() -> str:
    """The whole reference: one section per top-level key, one table row per setting."""
    parts = [HEADER]
    for name, field in ReporterConfig.model_fields.items():
        parts.append(_section(name, field))
    return "\n".join(parts)


def write_reference(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reference_text(), encoding="utf-8")
    return path


def _section(name: str, field: FieldInfo) -> str:
    lines = [f"## `{name}`", ""]
    model, many = _model_of(field.annotation)
    if model is None:
        rows = [_row(name, field)]
    else:
        lines += [field.description or "", ""]
        if model.__doc__ and model.__doc__.strip() != (field.description or "").strip():
            lines += [" ".join(model.__doc__.split()), ""]
        if many:
            lines += ["A list; each item has these keys.", ""]
        rows = list(_rows(model, f"{name}[]." if many else f"{name}."))
    lines += ["| Key | Default | Allowed | What it does |", "|---|---|---|---|", *rows, ""]
    return "\n".join(lines)


def _rows(model: type[BaseModel], prefix: str):
    for name, field in model.model_fields.items():
        inner, many = _model_of(field.annotation)
        if inner is None:
            yield _row(prefix + name, field)
            continue
        yield _row(prefix + name, field, section=True)
        yield from _rows(inner, f"{prefix}{name}[]." if many else f"{prefix}{name}.")


def _row(key: str, field: FieldInfo, section: bool = False) -> str:
    allowed = "see below" if section else _allowed(field)
    default = "" if section else _default(field)
    text = " ".join((field.description or "").split())
    return f"| `{key}` | {_cell(default)} | {_cell(allowed)} | {_cell(text)} |"


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds (itself, optional, or a list of them), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) is list:
        inner, _ = _model_of(get_args(annotation)[0])
        return inner, inner is not None
    if _is_union(annotation):
        for option in get_args(annotation):
            found = _model_of(option)
            if found[0] is not None:
                return found
    return None, False


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined or value is None:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict) and not value:
        return "none"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _allowed(field: FieldInfo) -> str:
    kind = _kind(field.annotation)
    unit = "items" if kind.startswith("list") else "characters"
    bounds = [text for meta in field.metadata if (text := _bound(meta, unit))]
    return ", ".join([kind, *bounds]) if kind else ", ".join(bounds)


def _kind(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(f"`{v}`" for v in get_args(annotation))
    if _is_union(annotation):
        options = [a for a in get_args(annotation) if a is not type(None)]
        kinds = " or ".join(k for k in (_kind(a) for a in options) if k)
        return kinds + (" or empty" if type(None) in get_args(annotation) else "")
    if get_origin(annotation) is list:
        return f"list of {_kind(get_args(annotation)[0]) or 'values'}"
    if get_origin(annotation) is dict:
        return "mapping of text to text"
    origin = get_origin(annotation)
    if origin is not None and hasattr(annotation, "__metadata__"):  # Annotated[str, Field(...)]
        return _kind(get_args(annotation)[0])
    return {str: "text", int: "whole number", float: "number", bool: "true / false"}.get(annotation, "")


def _bound(meta: Any, unit: str) -> str:
    words = {at.Ge: ("at least", "ge"), at.Gt: ("above", "gt"), at.Le: ("at most", "le"),
             at.Lt: ("below", "lt"), at.MinLen: ("at least {} " + unit, "min_length"),
             at.MaxLen: ("at most {} " + unit, "max_length")}
    for kind, (word, attribute) in words.items():
        if isinstance(meta, kind):
            number = f"{getattr(meta, attribute):,}"
            return word.format(number) if "{}" in word else f"{word} {number}"
    pattern = getattr(meta, "pattern", None)
    return "a variable name" if pattern == r"^[A-Za-z_][A-Za-z0-9_]*$" else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
