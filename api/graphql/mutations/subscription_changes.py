"""Changes to an existing subscription: cancel, renew, change seats or auto-renewal, rotate its
activation code. Each input names the subscription; each payload returns it (or errors)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.create_subscription import TermInput
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import SubscriptionNode, subscription_node
from api.ids import parse_typed_id
from domain.use_cases.cancel_subscription import CancelSubscription
from domain.use_cases.change_subscription import ChangeSubscription
from domain.use_cases.create_subscription import SegmentSpec
from domain.use_cases.renew_subscription import RenewSubscription
from domain.use_cases.rotate_activation_code import RotateActivationCode
from domain.use_cases.subscription_changes_shared import Changed

SUBSCRIPTION_ID = "The subscription's global ID."
IDEMPOTENCY_KEY = "Retry-safe: the same key returns the first result."


@strawberry.input(description="Cancel at the end of the term (default) or now.")
class CancelSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(description=SUBSCRIPTION_ID)
    at_period_end: bool = strawberry.field(
        default=True,
        description="True: stays active until the term ends, then expires without renewing."
        " False: cancelled now.",
    )
    reason: str | None = strawberry.field(default=None, description="Kept in the audit trail.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A new term, starting when the current one ends.")
class RenewSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(description=SUBSCRIPTION_ID)
    term: TermInput = strawberry.field(description="The new term and its segments.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Seats of the current or a future segment, and auto-renewal.")
class ChangeSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(description=SUBSCRIPTION_ID)
    seats: int | None = strawberry.field(default=None, description="The new seat count.")
    segment_start_date: datetime.date | None = strawberry.field(
        default=None,
        description="Which segment's seats change (its start date); the current one when"
        " omitted. Past segments do not change.",
    )
    auto_renew: bool | None = strawberry.field(default=None, description="Renew at term end.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Which subscription gets a new activation code.")
class RotateActivationCodeInput:
    subscription_id: strawberry.ID = strawberry.field(description=SUBSCRIPTION_ID)


@strawberry.type(description="The subscription after the change, or why it did not change.")
class SubscriptionPayload:
    subscription: SubscriptionNode | None = strawberry.field(description="As it is now.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The subscription after the cancellation, or why it did not change.")
class CancelSubscriptionPayload(SubscriptionPayload):
    """cancel_subscription's own payload (the fields of SubscriptionPayload)."""


@strawberry.type(description="The subscription after the renewal, or why it did not change.")
class RenewSubscriptionPayload(SubscriptionPayload):
    """renew_subscription's own payload (the fields of SubscriptionPayload)."""


@strawberry.type(description="The subscription after the change, or why it did not change.")
class ChangeSubscriptionPayload(SubscriptionPayload):
    """change_subscription's own payload (the fields of SubscriptionPayload)."""


@strawberry.type(description="The subscription's new activation code, shown once.")
class RotateActivationCodePayload:
    subscription: SubscriptionNode | None = strawberry.field(description="The subscription.")
    activation_code: str | None = strawberry.field(
        description="The new code (the old one no longer works); shown once, stored hashed."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


def _payload(
    info: Info, changed: Changed | None, errors: list[MutationError]
) -> SubscriptionPayload:
    if changed is None:
        return SubscriptionPayload(subscription=None, errors=errors)
    return SubscriptionPayload(
        subscription=subscription_node(changed.subscription, info.context), errors=[]
    )


def _subscription_id(value: strawberry.ID) -> uuid.UUID:
    return parse_typed_id(value, "Subscription", path=("subscriptionId",))


async def cancel_subscription(
    info: Info,
    input: Annotated[CancelSubscriptionInput, strawberry.argument(description="What to cancel.")],
) -> CancelSubscriptionPayload:
    ctx = info.context
    changed, errors = await outcome(
        lambda: ctx.commands.cancel_subscription(
            ctx.principal,
            CancelSubscription(
                _subscription_id(input.subscription_id),
                input.at_period_end,
                input.reason,
                input.idempotency_key,
            ),
        )
    )
    return as_payload(CancelSubscriptionPayload, _payload(info, changed, errors))


async def renew_subscription(
    info: Info,
    input: Annotated[RenewSubscriptionInput, strawberry.argument(description="The renewal.")],
) -> RenewSubscriptionPayload:
    ctx = info.context
    segments = tuple(SegmentSpec(s.start_date, s.end_date, s.seats) for s in input.term.segments)
    changed, errors = await outcome(
        lambda: ctx.commands.renew_subscription(
            ctx.principal,
            RenewSubscription(
                _subscription_id(input.subscription_id), segments, input.idempotency_key
            ),
        )
    )
    return as_payload(RenewSubscriptionPayload, _payload(info, changed, errors))


async def change_subscription(
    info: Info,
    input: Annotated[ChangeSubscriptionInput, strawberry.argument(description="The change.")],
) -> ChangeSubscriptionPayload:
    ctx = info.context
    changed, errors = await outcome(
        lambda: ctx.commands.change_subscription(
            ctx.principal,
            ChangeSubscription(
                _subscription_id(input.subscription_id),
                input.seats,
                input.segment_start_date,
                input.auto_renew,
                input.idempotency_key,
            ),
        )
    )
    return as_payload(ChangeSubscriptionPayload, _payload(info, changed, errors))


async def rotate_activation_code(
    info: Info,
    input: Annotated[
        RotateActivationCodeInput, strawberry.argument(description="Which subscription.")
    ],
) -> RotateActivationCodePayload:
    ctx = info.context
    rotated, errors = await outcome(
        lambda: ctx.commands.rotate_activation_code(
            ctx.principal, RotateActivationCode(_subscription_id(input.subscription_id))
        )
    )
    if rotated is None:
        return RotateActivationCodePayload(subscription=None, activation_code=None, errors=errors)
    changed, code = rotated
    return RotateActivationCodePayload(
        subscription=subscription_node(changed.subscription, ctx), activation_code=code, errors=[]
    )
