"""Secrets live in environment variables only, never in a file: the one place they are read.

A setting names the variable (`password_env`, `secret_env`, an API token's `env`); its value is
read when a target is used, so a missing secret fails that target alone."""

from __future__ import annotations

import os

from reporter.errors import ConfigError


def read_secret(variable: str) -> str | None:
    """The value of the environment variable `variable`, or None when it is not set."""
    return os.environ.get(variable)


UNSET_FIX = "export it where reporter runs (for the scheduler: in its service's EnvironmentFile)"


def unset(variable: str) -> str:
    """The words for a setting's variable that is not set: `validate` and the commands say the same."""
    return f"names the environment variable {variable}, which is not set in this environment"


def env_secret(variable: str | None, setting: str) -> str:
    """The value of the environment variable a setting names ('' when none is named);
    `setting` names it as `validate` does: 'source.password_env', 'crm "shop", secret_env'."""
    if not variable:
        return ""
    value = read_secret(variable)
    if value is None:
        raise ConfigError(f"{setting} {unset(variable)}; {UNSET_FIX}")
    return value
