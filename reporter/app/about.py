"""What `reporter --version` says: the package version and the archive formats this version
writes and reads, the numbers CHANGELOG.md lists per release (the package version and an
archive format are different things: a release changes a format only when its layout changes)."""

from __future__ import annotations

from dataclasses import dataclass

from reporter import __version__
from reporter.history.record import FORMAT_VERSION as RUN_FORMAT
from reporter.history.record import RECORD_FILE
from reporter.model.artefact import FORMAT_VERSION as MODEL_FORMAT
from reporter.model.artefact import MODEL_FILE, PICKLED_FORMAT

BRIEF_FILE = "brief.json"  # brief.view.BRIEF_FILE, whose import (the charts) takes a second
BRIEF_FORMAT = 1  # brief.json carries no number yet: its first layout, checked field by field


@dataclass(frozen=True)
class ArchiveFormat:
    file: str
    writes: int
    reads: str


FORMATS = (
    ArchiveFormat(RECORD_FILE, RUN_FORMAT, f"{'1' if RUN_FORMAT == 1 else f'1 to {RUN_FORMAT}'}, and "
                                           "the unversioned layout of 0.1.0"),
    ArchiveFormat(MODEL_FILE, MODEL_FORMAT, f"{MODEL_FORMAT} (format {PICKLED_FORMAT}, the pickled "
                                            "model.joblib of 0.1.0, is refitted, never loaded)"),
    ArchiveFormat(BRIEF_FILE, BRIEF_FORMAT, f"{BRIEF_FORMAT} (a run of 0.1.0 has none: its brief "
                                            "stands, and cannot be re-rendered)"),
)


def version_text() -> str:
    lines = [f"reporter {__version__}", "archive formats (see CHANGELOG.md):"]
    lines += [f"  {f.file:<11} writes format {f.writes}; reads {f.reads}" for f in FORMATS]
    return "\n".join(lines)
