"""Turning domain errors into GraphQL errors with a stable ``extensions.code``."""

from __future__ import annotations

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


def api_error(error: DomainError) -> ApiError:
    return ApiError(error.message, error.code, error.path)


def page_size(first: int | None) -> int:
    """Validate ``first``: 0..100, 20 when omitted."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise api_error(ValidationFailed("`first` must not be negative", path=("first",)))
    if first > MAX_PAGE_SIZE:
        raise api_error(
            ValidationFailed(
                f"`first` must be at most {MAX_PAGE_SIZE}; page through with `after`",
                path=("first",),
            )
        )
    return first
