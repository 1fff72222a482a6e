"""Problems found while checking the files a user edits, collected so every one is reported."""

from __future__ import annotations

import re
from pathlib import Path

from reporter.errors import ConfigError, first_few

HINT = "fix and check with `reporter validate`"


class Problems(list):
    """Located problems of one or both files, each 'file: line N, place: what to write'."""

    def add(self, path: Path, located: list[tuple[int, str]]) -> None:
        self.extend(f"{path}: {text}" for _, text in sorted(located, key=lambda item: item[0]))

    def raise_if_any(self) -> None:
        if self:
            self.sort(key=_file_and_line)
            raise ConfigError(f"{first_few(self)}; {HINT}", list(self))


def _file_and_line(problem: str) -> tuple[str, int]:
    """Problems of each file in the order of its lines, whichever check found them."""
    found = re.match(r"(.*?): line (\d+)", problem)
    return (found[1], int(found[2])) if found else (problem, 0)
