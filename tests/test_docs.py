"""Every relative link in the README, the changelog and docs/ reaches a file that exists, and
a link to a heading (#anchor) reaches a heading of that file, as GitHub names it; the README
stays a front door of at most 10 KB; the commands reference lists every command and option."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGES = sorted([REPO_ROOT / "README.md", REPO_ROOT / "CHANGELOG.md", *(REPO_ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:


def outside_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def links(page: Path) -> list[str]:
    """Relative link targets outside code (fenced blocks and inline code)."""
    lines = outside_fences(page.read_text(encoding="utf-8"))
    text = "\n".join(re.sub(r"`[^`]*`", "", line) for line in lines)
    return [target for target in LINK.findall(text) if not EXTERNAL.match(target)]


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, -1 for a repeat."""
    found: set[str] = set()
    for line in outside_fences(page.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].replace("`", "").lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in found:
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_every_page_of_docs_is_checked():
    """PAGES holds the README and every Markdown file under docs/, at any depth."""
    folders = {page.relative_to(REPO_ROOT).parent.as_posix() for page in PAGES}
    assert {".", "docs/marketing", "docs/operations", "docs/reference", "docs/development"} <= folders


README_LIMIT = 10 * 1024  # bytes: the README is a front door; everything else lives in docs/


def test_the_readme_is_a_front_door_of_at_most_10_kb():
    assert len((REPO_ROOT / "README.md").read_bytes()) <= README_LIMIT


def reached_from(page: Path) -> set[Path]:
    return {(page.parent / target.partition("#")[0]).resolve() for target in links(page)}


def test_every_guide_is_reached_from_the_readme_or_its_folders_index():
    readme = REPO_ROOT / "README.md"
    reached = reached_from(readme) | reached_from(REPO_ROOT / "docs" / "operations" / "README.md")
    assert {(REPO_ROOT / name).resolve() for name in ("CHANGELOG.md", "docs/operations/README.md")} <= reached
    guides = {page.resolve() for folder in ("marketing", "operations", "reference", "development")
              for page in (REPO_ROOT / "docs" / folder).glob("*.md")}
    assert sorted(str(p.relative_to(REPO_ROOT)) for p in guides - reached) == []


def test_the_readme_has_the_sections_a_newcomer_needs():
    lines = outside_fences((REPO_ROOT / "README.md").read_text())
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Two commands", "## Use your own export",
                        "## What the brief predicts", "## Measuring what the brief's lists did",
                        "## Who reads what"]


COMMANDS = REPO_ROOT / "docs" / "reference" / "commands.md"
SHARED_OPTIONS = {"--config", "--help"}  # --config: described once, at the top of the page


def help_of(*command: str) -> str:
    """`reporter COMMAND --help` as the console script prints it, run in this process."""
    printed, argv = io.StringIO(), sys.argv
    sys.argv = ["reporter", *command, "--help"]
    try:
        with contextlib.redirect_stdout(printed), pytest.raises(SystemExit):
            runpy.run_module("reporter", run_name="__main__")
    finally:
        sys.argv = argv
    return printed.getvalue()


def subcommands(help_text: str) -> list[str]:
    """The names under "commands:" (argparse indents each by four spaces)."""
    _, _, listed = help_text.partition("\ncommands:\n")
    return re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", listed, flags=re.M)


def every_command() -> list[tuple[str, ...]]:
    commands = []
    for name in subcommands(help_of()):
        nested = subcommands(help_of(name))
        commands += [(name, sub) for sub in nested] if nested else [(name,)]
    return commands


def documented_rows(command: tuple[str, ...]) -> str:
    """The table rows of the page that start with this command."""
    start = "| `reporter " + " ".join(command)
    rows = [line for line in COMMANDS.read_text().splitlines()
            if line.startswith(start) and line[len(start)] in " `"]
    return "\n".join(rows)


def test_the_commands_reference_lists_every_command_and_option():
    commands = every_command()
    assert ("run",) in commands and ("archive", "prune") in commands  # the help was read
    missing = []
    for command in commands:
        rows = documented_rows(command)
        if not rows:
            missing.append(" ".join(command))
            continue
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_of(*command))) - SHARED_OPTIONS
        missing += [f"{' '.join(command)} {option}" for option in sorted(options)
                    if not re.search(rf"{option}(?![\w-])", rows)]
    assert missing == [], "docs/reference/commands.md lacks these commands or options"
    assert "`--config PATH`" in COMMANDS.read_text() and "--version" in COMMANDS.read_text()


def test_the_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n[ok](b.md#the-part-x) [gone](c.md) [bad](b.md#nope) "
                                   "[here](#title) `[code](d.md)`\n```\n[in code](nowhere.md)\n```\n")
    (tmp_path / "b.md").write_text("## The part: `x`\n")
    assert broken_links(tmp_path / "a.md") == ["c.md: no such file", "b.md#nope: no heading #nope in b.md"]
