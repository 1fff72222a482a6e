"""Safe YAML reading with errors that point at a line.

YAML is parsed with `safe_load` only (no tags, no code). Validation errors from pydantic are
mapped back to the line of the offending key, so the message can say "line 12".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reporter.errors import ConfigError

MAX_LISTED_PROBLEMS = 5


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any], str]:
    """Return the parsed mapping and its source text, or raise a located ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; check the path or pass --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); save it as UTF-8 text") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path}: {where}: not valid YAML ({problem}); check indentation and quoting there"
        ) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: line 1: expected a mapping of keys to values at the top")
    return document, text


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (keys and list indexes), or of its nearest parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for step in loc:
        node = _child(node, step)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, step: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return key if value is None else value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]
    return None


def describe_validation_errors(path: Path, text: str, exc: ValidationError) -> str:
    """All problems in one line: 'file: line N key: message; ...' capped at a few."""
    parts = []
    for error in exc.errors():
        loc = tuple(step for step in error["loc"] if not _is_union_tag(step))
        line = line_of(text, loc)
        key = ".".join(str(step) for step in loc) or "(top level)"
        where = f"line {line} {key}" if line else key
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (a typo?); remove it or check the spelling"
        parts.append(f"{where}: {message}")
    shown = parts[:MAX_LISTED_PROBLEMS]
    more = len(parts) - len(shown)
    suffix = f"; (+{more} more)" if more else ""
    return f"{path}: " + "; ".join(shown) + suffix + "; fix and check with `reporter validate`"


def _is_union_tag(step: int | str) -> bool:
    """pydantic adds the union member's type name to the location; it is no key of the file."""
    return isinstance(step, str) and (step in {"int", "str", "float"} or step.startswith("literal["))
