"""Archive: one folder per run, built in a hidden temporary folder and renamed into place.

A rename within one file system is atomic, so a reader (or the index, later) sees either a
complete run folder or none; an interrupted run leaves only a `.partial-*` folder, which the
next run removes once the process that made it is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from reporter.errors import ArchiveError, DataError

PARTIAL_PREFIX = ".partial-"


def new_run_id(now: datetime) -> str:
    """Sortable within a day and unique across concurrent runs: HHMMSS-xxxx."""
    return f"{now:%H%M%S}-{secrets.token_hex(2)}"


def folder_name(now: datetime, run_id: str) -> str:
    return f"{now:%Y-%m-%d}-{run_id}"


class RunFolder:
    """Write a run's files into a temporary folder; `publish()` makes them visible at once."""

    def __init__(self, output_dir: Path, name: str):
        self.output_dir = output_dir
        self.final = output_dir / name
        self.partial = output_dir / f"{PARTIAL_PREFIX}{name}-{os.getpid()}"
        self.published = False

    def __enter__(self) -> RunFolder:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.output_dir)
        self.partial.mkdir()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if not self.published:
            shutil.rmtree(self.partial, ignore_errors=True)

    def write_text(self, name: str, text: str) -> Path:
        path = self.partial / name
        path.write_text(text, encoding="utf-8")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def file(self, name: str) -> Path:
        """A path inside the unpublished folder, for writers that stream to disk."""
        path = self.partial / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self) -> Path:
        if self.final.exists():
            raise FileExistsError(f"{self.final} already exists; run ids must be unique")
        _fsync_tree(self.partial)
        os.rename(self.partial, self.final)
        _fsync_dir(self.output_dir)
        self.published = True
        return self.final


@contextmanager
def one_run_at_a_time(output_dir: Path, waiting: Callable[[], None]) -> Iterator[None]:
    """Runs of one archive take turns, from reading the baseline to the last delivery: two at
    once (the scheduler and a run by hand) both compared with the same brief, so both sent
    the same week to every team. The lock is on the archive folder itself (no file to leave
    behind) and ends with the process, however it ends; `waiting` is told when another run
    holds it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    handle = os.open(output_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:  # some network file systems lock no folders
            raise ArchiveError(f"{output_dir}: cannot be locked for this run ({exc.strerror}); put "
                               "output.dir on a local disk") from None
        yield
    finally:
        os.close(handle)  # releases the lock


def update_json(path: Path, changes: dict[str, Any] | Callable[[dict], dict[str, Any]]) -> None:
    """Rewrite a JSON file of a published run with some keys changed, atomically. `changes` may
    be a function of the current document: it runs under a lock on the folder, so two
    processes adding to the same list (two senders) never lose each other's entries."""
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        document = json.loads(path.read_text(encoding="utf-8"))
        document.update(changes(document) if callable(changes) else changes)
        write_text_atomic(path, json.dumps(document, indent=2) + "\n", sync=True)
    finally:
        os.close(folder)  # releases the lock


def find_run(output_dir: Path, run_id: str) -> Path:
    """The published folder of a run, by its id (HHMMSS-xxxx) or its full folder name."""
    matches = [p for p in published_runs(output_dir) if run_id in p.name]
    if len(matches) != 1:
        known = ", ".join(sorted(p.name for p in output_dir.glob("20*"))[-5:]) or "none"
        raise DataError(f"{output_dir}: no single run matches '{run_id}' (latest: {known}); "
                        "give a run id as printed by `reporter run`")
    return matches[0]


def published_runs(output_dir: Path) -> list[Path]:
    """Complete run folders, oldest first (folder names sort by date and time)."""
    if not output_dir.is_dir():
        return []
    return sorted(p for p in output_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "run.json").is_file())


def remove_run(folder: Path) -> bool:
    """Delete one run folder: renamed out of readers' sight at once, then removed. False when
    it was already gone (another process pruned it first)."""
    hidden = folder.with_name(f"{PARTIAL_PREFIX}deleting-{folder.name}-{os.getpid()}")
    try:
        os.rename(folder, hidden)
    except FileNotFoundError:
        return False
    shutil.rmtree(hidden)
    return True


def write_text_atomic(path: Path, text: str, sync: bool = False) -> None:
    """`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"), sync)


def write_bytes_atomic(path: Path, data: bytes, sync: bool = False) -> None:
    """Write beside the target under a name of this process's own, then rename over it: a
    reader sees the old file or the new one, and concurrent writers never share a temp file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(3)}.partial")
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def remove_stale_partials(output_dir: Path) -> list[Path]:
    """Remove `.partial-*` folders whose writing process no longer runs."""
    removed = []
    for partial in output_dir.glob(f"{PARTIAL_PREFIX}*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of this machine still runs (its leftovers must not be touched)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
