"""advanceTestClock (docs/test-clock.md): staff or a sandbox's owner move the sandbox's test
clock forwards; on the way everything time drives runs for that tenant, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NewType

import strawberry

from api.commands import Advanced, Span, parse_duration
from api.graphql.context import Info
from api.graphql.mutations.outcome import outcome
from api.graphql.types.mutation_error import MutationError
from api.ids import global_id, parse_typed_id


def _serialize(span: Span) -> str:
    seconds = int(span.time.total_seconds())
    return f"P{span.months}MT{seconds}S"


Duration = NewType("Duration", Span)
"""An ISO 8601 duration in the schema, a ``Span`` in Python (``DURATION_SCALAR``)."""

DURATION_SCALAR = strawberry.scalar(
    name="Duration",
    description="An ISO 8601 duration: `P1Y`, `P3M`, `P30D`, `P1W`, `PT12H`, `P1Y2M3DT4H5M6S`"
    " (whole numbers; years and months move by the calendar).",
    serialize=_serialize,
    parse_value=parse_duration,
)


@strawberry.input(description="Whose test clock, and how far: exactly one of `to` and `by`.")
class AdvanceTestClockInput:
    customer_id: strawberry.ID = strawberry.field(description="The sandbox Customer's ID.")
    to: datetime | None = strawberry.field(
        default=None, description="The moment the clock moves to (with a time zone)."
    )
    by: Duration | None = strawberry.field(
        default=None, description="How far the clock moves from where it reads now."
    )


@strawberry.type(description="The sandbox's clock after the move, or why it did not move.")
class AdvanceTestClockPayload:
    customer_id: strawberry.ID | None = strawberry.field(description="The sandbox Customer.")
    now: datetime | None = strawberry.field(description="What the sandbox's clock reads now.")
    steps: list[datetime] = strawberry.field(
        description="The moments its time-driven jobs ran at, in order (the last is `now`)."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def advance_test_clock(
    info: Info,
    input: Annotated[AdvanceTestClockInput, strawberry.argument(description="The move.")],
) -> AdvanceTestClockPayload:
    ctx = info.context
    sandbox = ctx.commands.sandbox
    assert sandbox is not None

    async def run() -> Advanced:
        customer_id = parse_typed_id(input.customer_id, "Customer", path=("customerId",))
        return await sandbox.advance(
            ctx.principal,
            customer_id,
            to=input.to,
            by=input.by,
        )

    moved, errors = await outcome(run)
    if moved is None:
        return AdvanceTestClockPayload(customer_id=None, now=None, steps=[], errors=errors)
    return AdvanceTestClockPayload(
        customer_id=strawberry.ID(global_id("Customer", moved.customer_id)),
        now=moved.now,
        steps=list(moved.steps),
        errors=[],
    )
