"""Staff operations on the provisioning ledger: retry a FAILED or DEAD row, or resolve it with
a reason. Each payload returns the row as it is now (or errors)."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.provision_event import ProvisionEventNode, provision_event_node
from api.ids import parse_typed_id
from domain.model.provision_event import ProvisionEvent
from domain.use_cases.resolve_provision_event import ResolveProvisionEvent
from domain.use_cases.retry_provision_event import RetryProvisionEvent

EVENT_ID = "The provision event's global ID."
IDEMPOTENCY_KEY = "Retry-safe: the same key returns the first result."


@strawberry.input(description="Which FAILED or DEAD row to run again.")
class RetryProvisionEventInput:
    event_id: strawberry.ID = strawberry.field(description=EVENT_ID)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Which FAILED or DEAD row to close, and why.")
class ResolveProvisionEventInput:
    event_id: strawberry.ID = strawberry.field(description=EVENT_ID)
    reason: str = strawberry.field(
        description="Why it needs no more attempts (1-1000 characters; shown on the row and"
        " kept in the audit trail)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.type(description="The provision event after the change, or why it did not change.")
class ProvisionEventPayload:
    provision_event: ProvisionEventNode | None = strawberry.field(description="As it is now.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The provision event after the retry, or why it did not change.")
class RetryProvisionEventPayload(ProvisionEventPayload):
    """retry_provision_event's own payload (the fields of ProvisionEventPayload)."""


@strawberry.type(description="The provision event after its resolution, or why it did not change.")
class ResolveProvisionEventPayload(ProvisionEventPayload):
    """resolve_provision_event's own payload (the fields of ProvisionEventPayload)."""


def _event_id(value: strawberry.ID) -> uuid.UUID:
    return parse_typed_id(value, "ProvisionEvent", path=("eventId",))


def _payload(event: ProvisionEvent | None, errors: list[MutationError]) -> ProvisionEventPayload:
    return ProvisionEventPayload(
        provision_event=provision_event_node(event) if event else None, errors=errors
    )


async def retry_provision_event(
    info: Info,
    input: Annotated[RetryProvisionEventInput, strawberry.argument(description="Which row.")],
) -> RetryProvisionEventPayload:
    ctx = info.context
    return as_payload(
        RetryProvisionEventPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.retry_provision_event(
                    ctx.principal,
                    RetryProvisionEvent(_event_id(input.event_id), input.idempotency_key),
                )
            )
        ),
    )


async def resolve_provision_event(
    info: Info,
    input: Annotated[
        ResolveProvisionEventInput, strawberry.argument(description="Which row, and why.")
    ],
) -> ResolveProvisionEventPayload:
    ctx = info.context
    return as_payload(
        ResolveProvisionEventPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.resolve_provision_event(
                    ctx.principal,
                    ResolveProvisionEvent(
                        _event_id(input.event_id), input.reason, input.idempotency_key
                    ),
                )
            )
        ),
    )
