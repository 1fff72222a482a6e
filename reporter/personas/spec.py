"""personas.yaml as a manager writes it: the persona spec models and their forgiving reader.
What the rules mean is checked by `rulebook.compile_rulebook`."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from reporter.errors import ConfigError, Problem, Problems
from reporter.yamlsource import Strict, line_of, read_yaml_mapping, validation_problems

MAX_PERSONAS = 40  # segment personas and customer flags together
MAX_CONDITIONS = 20  # per persona
MAX_ACTIONS = 10  # per persona, each at most MAX_TEXT characters
MAX_TEXT = 240  # a description or an action: one line on a card
# A persona's name is shown in the brief, names files and fills a column of every customer list:
# plain words only, never something a spreadsheet would run as a formula (=, +, -, @ first).
PLAIN_NAME = re.compile(r"[^\W_][\w .,&'()/+-]*")
PLAIN_NAME_RULE = ("letters, digits, spaces and - & ' . , ( ) / + only, starting with a letter or "
                   'digit; write for example "Premium" or "Deal Seekers"')


def check_plain_name(name: str) -> str:
    if not PLAIN_NAME.fullmatch(name):
        raise ValueError(f"a persona name may use {PLAIN_NAME_RULE}")
    return name


Conditions = Annotated[list[str], Field(max_length=MAX_CONDITIONS)]


class RuleGroup(Strict):
    all: Conditions | None = None
    any: Conditions | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RuleGroup:
        if (self.all is None) == (self.any is None):
            raise ValueError("give exactly one of 'all' or 'any', each a list of conditions")
        return self

    @property
    def mode(self) -> str:
        return "all" if self.all is not None else "any"

    @property
    def conditions(self) -> list[str]:
        return self.all if self.all is not None else (self.any or [])


class PersonaSpec(Strict):
    """One persona as written in personas.yaml. Meaning (rules, colours, reachability) is
    checked by `personas.compile_rulebook`, which reports every problem with its line."""

    name: str = Field(min_length=1, max_length=40, description="Letters, digits, spaces and "
                      "- & ' . , ( ) / + only, starting with a letter or digit.")
    description: str = Field(default="", max_length=MAX_TEXT)
    color: str = Field(default="#7f8c8d", max_length=40, description="A CSS colour name or #rrggbb.")
    priority: int = Field(default=100, description="Lower numbers are tried first.")
    level: Literal["segment", "customer"] = Field(
        default="segment",
        description="segment: names whole segments by their average customer; "
        "customer: flags individual customers, whatever their segment.",
    )
    rules: RuleGroup | None = None
    actions: list[Annotated[str, Field(max_length=MAX_TEXT)]] = Field(default_factory=list,
                                                                      max_length=MAX_ACTIONS)
    rank_by: str = Field(
        default="total_spending", max_length=40,
        description="customer level only: the action list is ordered by this metric, highest first.",
    )
    control_share: float | None = Field(
        default=None, ge=0, le=0.5,
        description="customer level only: the share of this flag's call list held back as a control "
        "group and not contacted, so later briefs can measure what contacting did; empty: "
        "control_groups.share in reporter.yaml; 0: no control group.",
    )

    _place: int | None = PrivateAttr(default=None)  # its item in the file's list (read_personas)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        return check_plain_name(name)

    def place(self, index: int) -> int:
        """Its item in the file's list: an earlier item that could not be read is left out of
        `personas`, and the rules checks must still point at this one's lines."""
        return index if self._place is None else self._place


class PersonasFile(Strict):
    fallback: str = Field(default="Other customers",
                          description="The persona for segments that no rule matches.")
    personas: list[PersonaSpec] = Field(min_length=1, max_length=MAX_PERSONAS)
    _unread: tuple[str, ...] = PrivateAttr(default=())  # personas of the file with a problem

    def unread(self) -> tuple[str, ...]:
        """Names of the file's personas left out for a problem of their own (already said): the
        checks of the whole file do not report them as missing as well."""
        return self._unread


DEFAULT_FALLBACK = PersonaSpec(name="Other customers", color="#7f8c8d", priority=999,
                               description="The customers no other persona's rules describe.")


PERSONAS_FILE_FIX = ("check personas_file in reporter.yaml (a relative path is read from reporter.yaml's "
                     "folder)")


def read_personas(path: Path, problems: Problems,
                  missing_fix: str = PERSONAS_FILE_FIX) -> tuple[PersonasFile | None, list[str]]:
    """personas.yaml as a manager writes it, read forgivingly where the meaning is clear: a
    plain list under `rules:` means all of them, a missing `fallback` is "Other customers".
    Every persona is checked on its own, so one mistake never hides the others; returns the
    personas that could be read and the names of all of them (for cross-checks). `missing_fix`:
    what to do when the file is not there (it was named by personas_file, or by --rules)."""
    try:
        document, text = read_yaml_mapping(path, missing_fix)
    except ConfigError as exc:
        problems.extend(exc.found)
        return None, []
    located: list[Problem] = []
    for key in document:
        if key not in PersonasFile.model_fields:
            located.append(Problem("unknown key", line=line_of(text, (key,)) or 0, place=str(key),
                                   fix=_close(key, list(PersonasFile.model_fields))))
    items = document.get("personas")
    if isinstance(items, dict):
        located.append(Problem("a group of settings where a list belongs",
                               line=line_of(text, ("personas",)) or 1, place="personas",
                               fix="start each persona with `- name: ...` (a dash, a space, then its "
                               "name) and indent its keys under it"))
        items = []
    elif not isinstance(items, list) or not items:
        located.append(Problem("missing or empty", line=line_of(text, ("personas",)) or 1,
                               place="personas", fix="list each persona under `personas:`, starting "
                               "with `- name: Premium` (`reporter init` writes a starter file)"))
        items = []
    if len(items) > MAX_PERSONAS:
        line = line_of(text, ("personas", MAX_PERSONAS)) or 0
        located.append(Problem(f"{len(items)} personas, more than the {MAX_PERSONAS} a brief can "
                               "show", line=line, place="personas",
                               fix="merge some, or move them to another rules file"))
        items = items[:MAX_PERSONAS]
    specs = []
    for index, item in enumerate(items):
        spec = _persona(item, index, text, document, located)
        if spec is not None:
            spec._place = index
            specs.append(spec)
    names = [item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]
    fallback = document.get("fallback")
    if fallback is None:
        fallback, specs = _default_fallback(specs)
    elif not isinstance(fallback, str) or len(fallback) > 40:
        located.append(Problem("must be the name of one persona, such as `fallback: Steady Shoppers`",
                               line=line_of(text, ("fallback",)) or 0, place="fallback"))
        fallback = DEFAULT_FALLBACK.name
    problems.in_file(path, located)
    if not specs:
        return None, names
    personas = PersonasFile(fallback=fallback, personas=specs)
    personas._unread = tuple(name for name in names if name not in {spec.name for spec in specs})
    return personas, names


def _persona(item: Any, index: int, text: str, document: dict,
             located: list[Problem]) -> PersonaSpec | None:
    where = ("personas", index)
    line = line_of(text, where) or 0
    if not isinstance(item, dict):
        located.append(Problem("is not a persona", line=line, place=f"personas item {index + 1}",
                               fix="start each persona with `- name: ...` and indent its keys under it"))
        return None
    label = f'persona "{item["name"]}"' if isinstance(item.get("name"), str) else f"persona {index + 1}"
    fields = dict(item)
    for key in [k for k in item if k not in PersonaSpec.model_fields]:
        key_line = line_of(text, (*where, key)) or line
        located.append(Problem(f'unknown key "{key}"', line=key_line, place=label,
                               fix=_close(str(key), list(PersonaSpec.model_fields))))
        del fields[key]
    rules = fields.get("rules")
    if _dashed_group(rules):
        mode = next(iter(rules[0]))
        located.append(Problem(f'rules: "{mode}:" is written as a list item ("- {mode}:")',
                               line=line_of(text, (*where, "rules", 0)) or line, place=label,
                               fix=f'remove the "- " so `{mode}:` sits directly under `rules:`, with '
                               "its conditions listed under it"))
        return None
    if isinstance(rules, list | str):
        fields["rules"] = {"all": rules if isinstance(rules, list) else [rules]}
    try:
        return PersonaSpec.model_validate(fields)
    except ValidationError as exc:
        located.extend(validation_problems(text, exc, PersonaSpec, document, where))
        return None


def _dashed_group(rules: Any) -> bool:
    """`rules:` then `- all:`: a list where the all/any group belongs."""
    return (isinstance(rules, list) and len(rules) >= 1 and isinstance(rules[0], dict)
            and set(rules[0]) <= {"all", "any"} and bool(rules[0]))


def _default_fallback(specs: list[PersonaSpec]) -> tuple[str, list[PersonaSpec]]:
    """Without `fallback:`, the one segment persona without rules is it; with none, segments
    no rule names are called "Other customers"."""
    ruleless = [s for s in specs if s.rules is None and s.level == "segment"]
    if len(ruleless) == 1:
        return ruleless[0].name, specs
    if not ruleless and DEFAULT_FALLBACK.name not in {s.name for s in specs}:
        return DEFAULT_FALLBACK.name, [*specs, DEFAULT_FALLBACK]
    return DEFAULT_FALLBACK.name, specs


def _close(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else f"the keys here are {', '.join(known)}"
