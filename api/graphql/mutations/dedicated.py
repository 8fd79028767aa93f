"""retryDedicatedTenant: staff send a FAILED Dedicated tenant's step to the provisioner again.
changeDedicatedTenant: grow an ACTIVE tenant's storage (and set its expected users)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import DedicatedTenantNode, dedicated_tenant_node
from api.ids import parse_typed_id
from domain.use_cases.change_dedicated_tenant import ChangeDedicatedTenant


@strawberry.input(description="Which FAILED tenant to retry.")
class RetryDedicatedTenantInput:
    tenant_id: strawberry.ID = strawberry.field(description="The DedicatedTenant's global ID.")


@strawberry.type(description="The tenant after the retry, or why there was none.")
class DedicatedTenantPayload:
    dedicated_tenant: DedicatedTenantNode | None = strawberry.field(description="As it is now.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The tenant after the retry, or why there was none.")
class RetryDedicatedTenantPayload(DedicatedTenantPayload):
    """retry_dedicated_tenant's own payload (the fields of DedicatedTenantPayload)."""


@strawberry.type(description="The tenant after the change, or why it did not change.")
class ChangeDedicatedTenantPayload(DedicatedTenantPayload):
    """change_dedicated_tenant's own payload (the fields of DedicatedTenantPayload)."""


async def retry_dedicated_tenant(
    info: Info,
    input: Annotated[RetryDedicatedTenantInput, strawberry.argument(description="Which tenant.")],
) -> RetryDedicatedTenantPayload:
    ctx = info.context
    tenant, errors = await outcome(
        lambda: ctx.commands.retry_dedicated_tenant(
            ctx.principal, parse_typed_id(input.tenant_id, "DedicatedTenant", path=("tenantId",))
        )
    )
    return as_payload(
        RetryDedicatedTenantPayload,
        DedicatedTenantPayload(
            dedicated_tenant=dedicated_tenant_node(tenant) if tenant else None, errors=errors
        ),
    )


@strawberry.input(description="The Dedicated tenant's new size: storage only grows.")
class ChangeDedicatedTenantInput:
    subscription_id: strawberry.ID = strawberry.field(
        description="The DEDICATED subscription's global ID."
    )
    storage_gib: int = strawberry.field(
        description="The storage in GiB: at least today's; equal to it only with new expected"
        " users."
    )
    expected_users: int = strawberry.field(
        description="The users the tenant is sized for: at least the seats bought."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )


async def change_dedicated_tenant(
    info: Info,
    input: Annotated[ChangeDedicatedTenantInput, strawberry.argument(description="The change.")],
) -> ChangeDedicatedTenantPayload:
    ctx = info.context
    tenant, errors = await outcome(
        lambda: ctx.commands.change_dedicated_tenant(
            ctx.principal,
            ChangeDedicatedTenant(
                parse_typed_id(input.subscription_id, "Subscription", path=("subscriptionId",)),
                input.storage_gib,
                input.expected_users,
                input.idempotency_key,
            ),
        )
    )
    return as_payload(
        ChangeDedicatedTenantPayload,
        DedicatedTenantPayload(
            dedicated_tenant=dedicated_tenant_node(tenant) if tenant else None, errors=errors
        ),
    )
