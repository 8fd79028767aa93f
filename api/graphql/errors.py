"""Turning domain errors into GraphQL errors with a stable ``extensions.code``."""

from __future__ import annotations

import re

from graphql import GraphQLError

from api.graphql.types.node import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from domain.errors import DomainError, ValidationFailed


class ApiError(GraphQLError):
    """A top-level error that clients may read: never masked, always with a code."""

    def __init__(self, message: str, code: str, path: tuple[str, ...] | None = None) -> None:
        extensions: dict[str, object] = {"code": code}
        if path:
            extensions["field"] = ".".join(path)
        super().__init__(message, extensions=extensions)


QUOTE_LIMIT = 64
"""How much of a quoted input value an error message may repeat."""
MESSAGE_LIMIT = 500
_LONG_QUOTE = re.compile(f"\"[^\"]{{{QUOTE_LIMIT + 1},}}\"|'[^']{{{QUOTE_LIMIT + 1},}}'")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def shorten_message(message: str) -> str:
    """graphql-core quotes the input it refuses (a 1 MB string argument, whole): keep a prefix
    of every quoted value, and of the message."""
    if len(message) <= QUOTE_LIMIT:
        return message
    shortened = _LONG_QUOTE.sub(lambda m: m[0][: QUOTE_LIMIT + 1] + "…" + m[0][0], message)
    if len(shortened) > MESSAGE_LIMIT:
        shortened = shortened[:MESSAGE_LIMIT] + "…"
    return shortened


def _copy(error: GraphQLError, message: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


def shortened(error: GraphQLError) -> GraphQLError:
    message = shorten_message(error.message)
    return error if message == error.message else _copy(error, message)


def hide_suggestions(error: GraphQLError) -> GraphQLError:
    """Without "Did you mean …": suggestions would tell anonymous callers the schema."""
    message = _SUGGESTION.sub("", error.message)
    return error if message == error.message else _copy(error, message)


def api_error(error: DomainError) -> ApiError:
    return ApiError(error.message, error.code, error.path)


def page_size(first: int | None, name: str = "first") -> int:
    """Validate ``first`` (or ``last``): 0..100, 20 when omitted."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise api_error(ValidationFailed(f"`{name}` must not be negative", path=(name,)))
    if first > MAX_PAGE_SIZE:
        along = "after" if name == "first" else "before"
        raise api_error(
            ValidationFailed(
                f"`{name}` must be at most {MAX_PAGE_SIZE}; page through with `{along}`",
                path=(name,),
            )
        )
    return first


SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
