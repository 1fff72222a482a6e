"""Safe YAML reading with errors that point at a line.

YAML is parsed by a safe loader only (no tags, no code), and bounded: the file's size, how deep
it nests, and what it holds once every alias (`*name`) is expanded, so a small file cannot make
a run copy the same text a million times. Validation errors from pydantic are mapped back to
the line of the offending key, so the message can say "line 12".
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from reporter.errors import ConfigError, Problem
from reporter.forms import form_problem

MAX_FILE_BYTES = 256 * 1024  # the starter files are a few kB
MAX_DEPTH = 40  # lists and groups inside each other
MAX_VALUES = 20_000  # keys, values and list items, every alias expanded
MAX_CHARACTERS = 1_000_000  # of all the text, every alias expanded
MAX_LABEL = 40  # a list item is named by its `name:` in messages when the name is this short


class Strict(BaseModel):
    """A model of a file a user edits: an unknown key is a typo, not a setting to ignore."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class YamlRefused(yaml.YAMLError):
    """Readable YAML that is still refused (too large once read, a key written twice); says
    where and why in the user's words."""

    def __init__(self, mark: yaml.Mark, text: str):
        super().__init__(text)
        self.mark, self.text = mark, text


class BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting while it composes what the document holds with every alias
    expanded (each node's expanded size is kept, so counting costs one pass over the file)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, characters) expanded
        self._values = self._characters = self._depth = 0
        self._open: list[str] = []  # anchors of the lists and groups being composed

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._alias(event.anchor, node, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlRefused(self.peek_event().start_mark,
                               f"lists and groups are nested more than {MAX_DEPTH} deep; a settings "
                               "file needs only a few levels, check the indentation")
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[id(node)] = self._size(node)
        own = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        self._add(1, own, node.start_mark)
        return node

    def compose_sequence_node(self, anchor):
        return self._composing(anchor, super().compose_sequence_node)

    def compose_mapping_node(self, anchor):
        node = self._composing(anchor, super().compose_mapping_node)
        _refuse_repeated_keys(node)
        return node

    def _composing(self, anchor, compose):
        self._open.append(anchor)
        try:
            return compose(anchor)
        finally:
            self._open.pop()

    def _alias(self, anchor: str, node: yaml.Node, mark: yaml.Mark) -> None:
        if anchor in self._open:
            raise YamlRefused(mark, f"the alias *{anchor} is inside the list or group it names, so "
                                     "it would never end; remove it")
        values, characters = self._sizes[id(node)]
        self._add(values, characters, mark, f"the alias *{anchor} repeats &{anchor} so often that the file")

    def _size(self, node: yaml.Node) -> tuple[int, int]:
        if isinstance(node, yaml.ScalarNode):
            return 1, len(node.value)
        children = [child for pair in node.value for child in pair] \
            if isinstance(node, yaml.MappingNode) else node.value
        sizes = [self._sizes[id(child)] for child in children]
        return 1 + sum(v for v, _ in sizes), sum(c for _, c in sizes)

    def _add(self, values: int, characters: int, mark: yaml.Mark, cause: str = "the file") -> None:
        self._values += values
        self._characters += characters
        if self._values > MAX_VALUES or self._characters > MAX_CHARACTERS:
            raise YamlRefused(mark, f"{cause} would hold more than {MAX_VALUES:,} values or "
                                     f"{MAX_CHARACTERS:,} characters once read; write each text "
                                     "once, where it is needed")


def _refuse_repeated_keys(node: yaml.MappingNode) -> None:
    """A key written twice in one group: YAML keeps the last silently, so an edit made to the
    first of two `priority:` lines would change nothing and no check would say why."""
    first: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        if key.value in first:
            raise YamlRefused(key.start_mark,
                              f'"{key.value}" is written twice in the same group (first on line '
                              f"{first[key.value]}), and only the last one would count; keep one")
        first[key.value] = key.start_mark.line + 1


def refused(path: Path, text: str, line: int = 0, fix: str = "") -> ConfigError:
    """A settings file that cannot be used, as one located problem."""
    found = Problem(text, str(path), line, fix=fix)
    return ConfigError(str(found), [found])


def read_source_text(path: Path, missing_fix: str = "check the path") -> str:
    """A settings file's text, refused unread beyond MAX_FILE_BYTES (a device or a huge file
    given by mistake is never read whole). `missing_fix`: what to do when it is not there."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise refused(path, "file not found", fix=missing_fix) from None
    except OSError as exc:
        raise refused(path, f"cannot be read ({exc.strerror or exc})",
                      fix="check the path and its permissions") from None
    if len(data) > MAX_FILE_BYTES:
        raise refused(path, f"the file is larger than {MAX_FILE_BYTES // 1024} kB, far more than a "
                      "settings file needs", fix="check that this is the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise refused(path, "a byte that is not UTF-8 text", line, "save the file as UTF-8") from None


def load_bounded(text: str):
    """The YAML document in `text`, read safely and within the bounds above."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml_mapping(path: Path, missing_fix: str = "check the path") -> tuple[dict[str, Any], str]:
    """Return the parsed mapping and its source text, or raise a located ConfigError."""
    text = read_source_text(path, missing_fix)
    try:
        document = load_bounded(text)
    except YamlRefused as exc:
        raise refused(path, exc.text, exc.mark.line + 1) from None
    except yaml.YAMLError as exc:
        message, line = syntax_problem(exc, text)
        raise (refused(path, message, line) if line
               else refused(path, f"somewhere, {message}")) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise refused(path, "the file must be `key: value` lines at the top (see the starter files "
                      "from `reporter init`)", 1)
    return document, text


# `key: text: more` - a colon and a space inside a value start a second key, which YAML refuses
COLON_IN_VALUE = re.compile(r"\s*(?:-\s+)?(?P<key>[A-Za-z_][\w ]*?):\s+(?P<value>[^\"'].*:\s.*?)\s*$")


def syntax_problem(exc: yaml.YAMLError, text: str) -> tuple[str, int]:
    """What a YAML syntax error means, in words a manager acts on, and the 1-based line to look
    at (0: unknown). The parser's own wording ("expected <block end>") never reaches a user."""
    problem = str(getattr(exc, "problem", None) or exc)
    line = _line(getattr(exc, "problem_mark", None))
    opened = _line(getattr(exc, "context_mark", None)) or line
    tagged = tag_problem(exc)
    if tagged:
        return tagged, line
    if "'\\t'" in problem:
        return "a tab character: YAML indents with spaces only, replace the tab with spaces", line
    if "mapping values are not allowed" in problem:
        return _stray_colon(text, line), line
    if "could not find expected ':'" in problem:
        return ('this line is neither "key: value" nor a list item ("- ..."); add the colon, or '
                "put a text that runs over several lines in quotes"), opened
    if "quoted scalar" in str(getattr(exc, "context", "")):
        if "end of stream" in problem:
            return "a quote opened on this line is never closed; end the text with the same quote", opened
        return ('a backslash in double quotes starts an escape such as \\n; write \\\\ for a '
                "backslash, or use single quotes"), line
    for bracket, close, instead in (("[", "]", 'one item per line starting with "- "'),
                                    ("{", "}", "one key: value per line, indented under it")):
        if f"'{close}'" in problem and "expected ','" in problem:
            return (f"the {bracket} opened on this line is not closed with {close} where it should "
                    f"be; close it, or write {instead}"), opened
    start = re.search(r"found character '(.)' that cannot start any token", problem)
    if start:
        return (f"a value cannot start with {start[1]}; put the whole value in quotes: "
                f'"{start[1]}..."'), line
    alias = re.search(r"found undefined alias '([^']*)'", problem)
    if alias:
        return (f"*{alias[1]} repeats a value marked &{alias[1]}, and there is none above it; "
                "write the value out"), line
    if "found '<scalar>'" in problem:
        return ("more text follows a value that is finished (after a closing quote, or after a "
                "list item); put the whole text inside the quotes"), line
    if "expected <block end>" in problem:
        return ("this line is not lined up with the lines above it: the keys of one group, and "
                "the items of one list, start at the same number of spaces"), line
    return ("this line cannot be read; check that it is lined up with the lines around it, and "
            'put a text holding ": " or " #" in quotes'), line


def _line(mark: yaml.Mark | None) -> int:
    return mark.line + 1 if mark is not None else 0


def _stray_colon(text: str, line: int) -> str:
    """`key: text: more`, a colon and a space inside a value; or a key indented as if it were
    inside the value above it."""
    lines = text.splitlines()
    found = COLON_IN_VALUE.match(lines[line - 1]) if 0 < line <= len(lines) else None
    if found is not None:
        key, value = found["key"], found["value"].replace('"', "'")
        return f'the {key} has a colon in it; put the {key} in quotes: {key}: "{value}"'
    return ("a key where none can start: this line is indented more than the keys it belongs "
            'with, or a text on it holds ": "; line it up with the keys around it, or put '
            "the text in quotes")


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of `loc` (keys and list indexes): the key's line for a mapping entry, the
    item's line for a list entry; the nearest parent's line when `loc` goes deeper than the file."""
    node = _composed(text)
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in loc:
        found = _child(node, step)
        if found is None:
            break
        node, line = found
    return line


@lru_cache(maxsize=4)
def _composed(text: str) -> yaml.Node | None:
    """The file's node tree, composed once per text however many problems it has."""
    try:
        loader = BoundedLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError:
        return None


def _child(node: yaml.Node | None, step: int | str) -> tuple[yaml.Node, int] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == step:
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and step in ("all", "any"):
        return node, node.start_mark.line + 1  # rules written as a plain list: "all" is implied
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item, item.start_mark.line + 1
    return None


def validation_problems(text: str, exc: ValidationError, model: type | None = None,
                        document: Any = None, prefix: tuple = ()) -> list[Problem]:
    """Each validation error as a Problem ('line N, place: what is wrong in plain words'), with
    list items named by their `name:` ("personas "Premium"") rather than their index."""
    problems, said = [], set()
    for error in exc.errors():
        loc = prefix + tuple(step for step in error["loc"] if not _is_union_tag(step))
        if loc in said and len(loc) < len(prefix) + len(error["loc"]):
            continue  # another kind the value could be (`float | int`): the first one says it
        said.add(loc)
        line = line_of(text, loc)
        place = describe_place(document, loc)
        message = plain_message(error)
        message += _shape_hint(error)
        if error["type"] == "extra_forbidden":
            message = "unknown key; " + _suggestion(model, loc[len(prefix):])
        problems.append(Problem(message, line=line or 0, place=place))
    return problems


GROUP_TYPES = ("dict_type", "model_type", "model_attributes_type")


def _shape_hint(error: dict) -> str:
    """Why text became a group, or a group a list: the two shapes a stray colon or dash makes."""
    given = error.get("input")
    if error["type"] == "string_type" and isinstance(given, dict) and len(given) == 1:
        key, value = next(iter(given.items()))
        return (f'; "{key}: {value}" has a colon in it, which starts a key: put the whole text in '
                f'quotes, "{key}: {value}"')
    if error["type"] in GROUP_TYPES and isinstance(given, list):
        return ('; it is written as a list (lines starting with "- "): remove the "- " and indent '
                "its key: value lines under it")
    return ""


def describe_place(document: Any, loc: tuple) -> str:
    """('personas', 0, 'priority') -> 'personas "Premium", priority';
    ('segmentation', 'k_max') -> 'segmentation.k_max'."""
    place, after_item = "", False
    node = document
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            plain = isinstance(name, str) and 0 < len(name) <= MAX_LABEL
            label = f'"{name}"' if plain else f"item {step + 1}"
            place, after_item, node = f"{place} {label}".strip(), True, item
        else:
            place = f"{place}{', ' if after_item else '.' if place else ''}{step}"
            after_item = False
            node = node.get(step) if isinstance(node, dict) else None
    return place or "the file"


PLAIN = {
    "missing": "is missing; add it",
    "string_type": "must be text",
    "int_parsing": "must be a whole number, such as 2",
    "int_type": "must be a whole number, such as 2",
    "int_from_float": "must be a whole number, such as 2",
    "float_parsing": "must be a number, such as 0.5",
    "float_type": "must be a number, such as 0.5",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "list_type": 'must be a list: one item per line, each starting with "- "',
    "dict_type": "must be a group of settings: key: value lines indented under it",
    "model_type": "must be a group of settings: key: value lines indented under it",
    "model_attributes_type": "must be a group of settings: key: value lines indented under it",
    "string_too_short": "must not be empty",
}


def plain_message(error: dict) -> str:
    """A validation error in words a marketing manager reads, never the library's."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind in PLAIN:
        return PLAIN[kind]
    if kind == "string_too_long":
        return f"is too long: at most {context.get('max_length')} characters; shorten it"
    if kind == "too_long":
        return (f"has {context.get('actual_length')} items, more than the {context.get('max_length')} "
                "allowed; shorten the list")
    if kind == "too_short":
        return f"needs at least {context.get('min_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return form_problem(str(context.get("pattern")), error.get("input"))
    if kind == "literal_error":
        return f"must be one of {context.get('expected')}"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {context.get(key)}"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return "has a value that cannot be used here; see the comments in the starter file (reporter init)"


def error_at(loc: tuple[int | str, ...], text: str, given: Any = None) -> ValidationError:
    """A check of several keys, raised from a model's validator at the one key to change, so
    the message names that key and its line rather than the group's."""
    return ValidationError.from_exception_data("settings", [
        {"type": "value_error", "loc": loc, "input": given, "ctx": {"error": ValueError(text)}}])


def _suggestion(model: type | None, loc: tuple) -> str:
    """'did you mean "k_min"?' from the keys the model knows at that place in the file."""
    known = _known_keys(model, loc[:-1]) if model is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if loc else []
    if close:
        return f'did you mean "{close[0]}"?'
    return "remove it or check the spelling" + (f" (known here: {', '.join(known)})" if known else "")


def _known_keys(model: type, path: tuple) -> list[str]:
    """Walk the pydantic models along `path` (list indexes skipped) to the keys known there."""
    current = model
    for step in path:
        if isinstance(step, int):
            continue
        field = getattr(current, "model_fields", {}).get(step)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation) -> type | None:
    """The pydantic model inside an annotation such as `Model | None` or `list[Model]`."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _is_union_tag(step: int | str) -> bool:
    """pydantic adds the union member's type name to the location; it is no key of the file."""
    return isinstance(step, str) and (step in {"int", "str", "float"} or step.startswith("literal["))


def tag_problem(exc: yaml.YAMLError) -> str | None:
    """A YAML tag such as !!python/object is an attempt to run code: say so plainly."""
    problem = str(getattr(exc, "problem", "") or "")
    if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
        tag = problem.split("tag", 1)[1].strip(" '")
        return (f"YAML tags such as {tag.split(':')[-1] or tag} are not allowed (nothing in "
                "this file is ever executed); write plain text, numbers and lists")
    return None
