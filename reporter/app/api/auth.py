"""Bearer tokens from environment variables, each with scopes (read, assign); without any
token the server binds loopback only (server.check_bind)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from reporter.app.settings import Config
from reporter.errors import ConfigError
from reporter.secrets import env_secret


def tokens_of(config: Config) -> dict[str, frozenset[str]] | None:
    """token -> scopes, or None when no token is configured."""
    tokens = config.settings.api.tokens
    if not tokens:
        return None
    found: dict[str, frozenset[str]] = {}
    for index, token in enumerate(tokens):
        value = env_secret(token.env, f"api.tokens item {index + 1}, env")
        if len(value) < 16:
            raise ConfigError(f"api.tokens item {index + 1}: the token in {token.env} is shorter than 16 "
                              "characters; use a long random one (e.g. `openssl rand -hex 32`)")
        found[value] = found.get(value, frozenset()) | frozenset(token.scopes)
    return found


def scopes(tokens: dict[str, frozenset[str]] | None):
    """`scope("read")`: a dependency that lets a request through with a token of that scope."""

    def scope(name: str):
        async def check(request: Request) -> None:  # async: a thread hand-off costs more than the check
            if tokens is None:
                return  # no token configured: loopback only, checked when the server starts
            header = request.headers.get("authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or token not in tokens:
                raise HTTPException(401, "send Authorization: Bearer <token>, a token this server "
                                         "knows", headers={"WWW-Authenticate": "Bearer"})
            if name not in tokens[token]:
                raise HTTPException(403, f"this token may not {name}; its scopes are "
                                         f"{', '.join(sorted(tokens[token]))}")
        return Depends(check)

    return scope
