"""The colours a persona may have, read without a plotting library (matplotlib takes a second to
import, and the rules are checked by every command): the CSS names, the single letters (b, g, r,
c, m, y, k, w), the tab: and xkcd: names (the names matplotlib knows, listed in colours.txt),
#rgb and #rrggbb codes (an alpha part is dropped), grey levels from 0 to 1, and none."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

HEX = re.compile(r"#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})")


@lru_cache(maxsize=1)
def _named() -> dict[str, str]:
    text = (Path(__file__).with_name("colours.txt")).read_text(encoding="utf-8")
    return dict(line.split("\t") for line in text.splitlines() if line)


def to_hex(value: str) -> str | None:
    """`value` (already lower case) as #rrggbb, or None when it is no colour."""
    if value == "none":
        return "#000000"
    if value in _named():
        return _named()[value]
    if HEX.fullmatch(value):
        digits = value[1:7] if len(value) > 5 else "".join(2 * d for d in value[1:4])
        return f"#{digits}"
    return _grey(value)


def close_names(value: str) -> list[str]:
    """Up to three colour names spelled like `value` ("tealish" -> teal), for a "did you mean"."""
    plain = [name for name in _named() if ":" not in name and len(name) > 1]
    return difflib.get_close_matches(value.strip().lower(), plain, n=3, cutoff=0.7)


def _grey(value: str) -> str | None:
    try:
        level = float(value)
    except ValueError:
        return None
    if not 0 <= level <= 1:
        return None
    return "#" + format(round(level * 255), "02x") * 3
