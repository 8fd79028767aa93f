"""Expected mutation failures, returned in every payload's ``errors`` list (DESIGN §4)."""

from __future__ import annotations

import strawberry

from api.graphql.enums import ErrorCode
from domain.errors import DomainError


@strawberry.interface(description="Why a mutation did not do what was asked.")
class MutationError:
    code: ErrorCode = strawberry.field(description="Stable, machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")
    path: list[str] | None = strawberry.field(
        description="The input field at fault, as a path from the input's root."
    )


@strawberry.type(description="An expected failure caused by the input or the state of things.")
class UserError(MutationError):
    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(
            code=ErrorCode[error.code],
            message=error.message,
            path=list(error.path) if error.path else None,
        )
