"""setInstanceRole, replaceInstance, retireInstance (docs/instances.md): staff, or a customer's
owner or admin (a viewer is refused; another tenant's instance is not found). A retired or
replaced instance's next seat link receives its end key."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import InstanceRole, api_enum
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import InstanceNode, LicenseNode, instance_node, license_node
from api.ids import parse_typed_id
from domain.model import fleet as fleet_model
from domain.use_cases.fleet import (
    Fleet,
    ReplaceInstance,
    Retired,
    RetireInstance,
    SetInstanceRole,
)


def _fleet(info: Info) -> Fleet:
    fleet = info.context.commands.fleet
    assert fleet is not None
    return fleet


@strawberry.input(description="Which instance, and its new role.")
class SetInstanceRoleInput:
    instance_id: strawberry.ID = strawberry.field(description="The instance's global ID.")
    role: InstanceRole = strawberry.field(description="What it is for from now on.")


@strawberry.type(description="The instance with its new role, or why not.")
class SetInstanceRolePayload:
    instance: InstanceNode | None = strawberry.field(description="The changed instance.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def set_instance_role(
    info: Info,
    input: Annotated[SetInstanceRoleInput, strawberry.argument(description="The change.")],
) -> SetInstanceRolePayload:
    changed, errors = await outcome(
        lambda: _fleet(info).set_role(
            info.context.principal,
            SetInstanceRole(
                parse_typed_id(input.instance_id, "Instance", path=("instanceId",)),
                api_enum(fleet_model.InstanceRole, input.role),
            ),
        )
    )
    return SetInstanceRolePayload(
        instance=instance_node(changed) if changed else None, errors=errors
    )


@strawberry.input(description="Which instance to retire, and until when it may run.")
class RetireInstanceInput:
    instance_id: strawberry.ID = strawberry.field(description="The instance's global ID.")
    access_ends_on: date | None = strawberry.field(
        default=None,
        description="The day its end key expires: today or later, at most the license's"
        " expiry; 14 days from today by default.",
    )


@strawberry.input(description="Which instance moves to which new one (a hardware move).")
class ReplaceInstanceInput:
    instance_id: strawberry.ID = strawberry.field(description="The old instance's global ID.")
    new_instance_identifier: str = strawberry.field(
        description="The new instance's UUID (its application_settings.uuid)."
    )
    access_ends_on: date | None = strawberry.field(
        default=None,
        description="The day the old instance's end key expires (as in retireInstance).",
    )
    hostname: str | None = strawberry.field(default=None, description="The new host, if known.")


@strawberry.type(description="The retired instance and its end key, or why not.")
class RetireInstancePayload:
    instance: InstanceNode | None = strawberry.field(description="The retired instance.")
    end_key: LicenseNode | None = strawberry.field(
        description="The key its next seat link receives: cancelled, expiring accessEndsOn."
    )
    replacement: InstanceNode | None = strawberry.field(
        description="The new instance (replaceInstance only); it receives the normal key."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The retired instance, its end key and its replacement, or why not.")
class ReplaceInstancePayload(RetireInstancePayload):
    """replace_instance's own payload (the fields of RetireInstancePayload)."""


async def _payload(
    info: Info, done: Retired | None, errors: list[MutationError]
) -> RetireInstancePayload:
    if done is None:
        return RetireInstancePayload(instance=None, end_key=None, replacement=None, errors=errors)
    view = await info.context.loaders.licenses.load(done.end_key.id)
    replacement = done.replacement
    return RetireInstancePayload(
        instance=instance_node(done.instance),
        end_key=license_node(view) if view else None,
        replacement=instance_node(replacement) if replacement else None,
        errors=[],
    )


async def retire_instance(
    info: Info,
    input: Annotated[RetireInstanceInput, strawberry.argument(description="What to retire.")],
) -> RetireInstancePayload:
    done, errors = await outcome(
        lambda: _fleet(info).retire(
            info.context.principal,
            RetireInstance(
                parse_typed_id(input.instance_id, "Instance", path=("instanceId",)),
                input.access_ends_on,
            ),
        )
    )
    return await _payload(info, done, errors)


async def replace_instance(
    info: Info,
    input: Annotated[ReplaceInstanceInput, strawberry.argument(description="The move.")],
) -> ReplaceInstancePayload:
    done, errors = await outcome(
        lambda: _fleet(info).replace(
            info.context.principal,
            ReplaceInstance(
                parse_typed_id(input.instance_id, "Instance", path=("instanceId",)),
                input.new_instance_identifier,
                input.access_ends_on,
                input.hostname,
            ),
        )
    )
    return as_payload(ReplaceInstancePayload, await _payload(info, done, errors))
