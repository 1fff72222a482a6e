"""Plain parameters of the data stage, made from `clean:` in reporter.yaml at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CleanParams:
    """Who is left out of fitting (they still get a segment): implausible ages, extreme incomes."""

    min_age: int = 18
    max_age: int = 100
    max_income: float = 200_000
    duplicates: str = "merge"  # rows identical but for ID: "merge", "keep" or "refuse"
    currency: str = "$"  # how the data notes write money (brief.currency)


@dataclass(frozen=True)
class SourceParams:
    """Where this week's customers are: a file or glob (the newest file), a folder of Parquet
    or CSV files read as one table, or a database table or query. The edge resolves paths and
    reads the password from its environment variable."""

    path: Path | None = None
    url: str = ""  # a database, without the password
    table: str = ""
    query: str = ""
    password: str = field(default="", repr=False)
    password_env: str = ""  # named in messages, so a user knows which variable to check
    timeout_seconds: float = 600
    columns: tuple[tuple[str, str], ...] = ()  # (export name, the source's name)
    as_of_column: str = ""
    date_format: str | None = None
    base_dir: Path | None = None  # a relative SQLite or DuckDB file is relative to this
