"""cancelLicense: a cancellation key for an online cloud license, delivered by the next seat
link (staff, or a customer's owner or admin; another tenant's license is not found)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import LicenseNode, license_node
from api.ids import parse_typed_id
from domain.use_cases.cancel_license import CancelLicense


@strawberry.input(description="Which license to cancel.")
class CancelLicenseInput:
    license_id: strawberry.ID = strawberry.field(
        description="The license's global ID (any license of the subscription; its newest"
        " content is what the cancellation key repeats)."
    )
    reason: str | None = strawberry.field(default=None, description="Kept in the audit trail.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )


@strawberry.type(description="The cancellation key, or why there is none.")
class CancelLicensePayload:
    license: LicenseNode | None = strawberry.field(
        description="The cancellation key (`cancelled`, expired today); the instance's next"
        " seat link receives it."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def cancel_license(
    info: Info,
    input: Annotated[CancelLicenseInput, strawberry.argument(description="What to cancel.")],
) -> CancelLicensePayload:
    ctx = info.context
    cancelled, errors = await outcome(
        lambda: ctx.commands.cancel_license(
            ctx.principal,
            CancelLicense(
                parse_typed_id(input.license_id, "License", path=("licenseId",)),
                input.reason,
                input.idempotency_key,
            ),
        )
    )
    if cancelled is None:
        return CancelLicensePayload(license=None, errors=errors)
    view = await ctx.loaders.licenses.load(cancelled.cancellation.id)
    return CancelLicensePayload(license=license_node(view) if view else None, errors=[])
