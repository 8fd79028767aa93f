"""How a mutation reports: expected failures go in the payload's ``errors``; missing
authentication or permission is a top-level error (DESIGN §4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api.graphql.errors import api_error
from api.graphql.types.mutation_error import MutationError, UserError
from domain.errors import DomainError, Forbidden, Unauthenticated

T = TypeVar("T")
P = TypeVar("P")


def as_payload(kind: type[P], payload: Any) -> P:
    """``payload``'s fields in ``kind``: a mutation's own payload type, built by a helper
    that several mutations with the same fields share."""
    if type(payload) is kind:
        return payload
    return kind(**{f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)})


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[MutationError]]:
    """The use case's result, or the expected failure as payload errors."""
    return await outcome(lambda: work)


async def outcome(run: Callable[[], Awaitable[T]]) -> tuple[T | None, list[MutationError]]:
    """Like ``attempt``, for work that reads its input first: a bad id met while building the
    command is a payload error too."""
    try:
        return await run(), []
    except (Unauthenticated, Forbidden) as refused:
        raise api_error(refused) from None
    except DomainError as failure:
        return None, [UserError.from_domain(failure)]
