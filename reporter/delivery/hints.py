"""Commands suggested to a person, ready to paste: the real run id, every word quoted for the
shell, and `--config` with the absolute path where the default would not find the config.

Owners read their email on another machine or from another folder, so a mailed command always
names the config; a console line names it unless it is `config/reporter.yaml` of the folder
the command was started in (then `reporter ...` alone finds it).
"""

from __future__ import annotations

import shlex
from pathlib import Path

DEFAULT_CONFIG = Path("config/reporter.yaml")


def mailed_command(config_path: Path, *args: str) -> str:
    """For an email: always with --config, so it runs from any folder."""
    return _joined(["reporter", *args, "--config", str(Path(config_path).absolute())])


def console_command(config_path: Path | None, *args: str) -> str:
    """For the console: --config unless the default of this folder is the config in use."""
    if config_path is None or _is_default(Path(config_path)):
        return _joined(["reporter", *args])
    return mailed_command(config_path, *args)


def _is_default(config_path: Path) -> bool:
    default = Path.cwd() / DEFAULT_CONFIG
    try:
        return default.is_file() and default.resolve() == config_path.resolve()
    except OSError:
        return False


def _joined(words: list[str]) -> str:
    """Shell-quoted words; a team name always in single quotes (names often hold spaces, and
    one style reads the same in every hint)."""
    quoted = [_always_quoted(word) if before == "--team" else shlex.quote(word)
              for before, word in zip(["", *words], words, strict=False)]
    return " ".join(quoted)


def _always_quoted(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"
