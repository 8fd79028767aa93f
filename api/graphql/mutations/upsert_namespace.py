"""upsertNamespace and reportNamespaceUsage: GitLab.com keeps our copy of its groups current."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.mutations.outcome import as_payload, attempt, outcome
from api.graphql.types.mutation_error import MutationError, UserError
from api.graphql.types.nodes import NamespaceNode, namespace_node
from domain.errors import ValidationFailed
from domain.model.enums import NamespaceKind
from domain.model.input_checks import parse_bigint_id
from domain.model.namespace import Namespace
from domain.use_cases.upsert_namespace import (
    RenameNamespace,
    ReportNamespaceUsage,
    UpsertNamespace,
    rename_namespace,
)


@strawberry.input(
    description="A namespace as GitLab.com knows it; created or updated by GitLab id."
)
class UpsertNamespaceInput:
    gitlab_id: int = strawberry.field(description="Its id on GitLab.com.")
    path: str = strawberry.field(description="Its full path (a rename keeps its links).")
    name: str = strawberry.field(description="Its display name.")
    kind: str = strawberry.field(description="`group` or `user`.")
    parent_gitlab_id: int | None = strawberry.field(
        default=None, description="The parent group's GitLab id; null for a top-level one."
    )
    owner_emails: list[str] | None = strawberry.field(
        default=None, description="The owners' emails (null: unchanged)."
    )
    owner_gitlab_user_ids: list[int] | None = strawberry.field(
        default=None, description="The owners' GitLab user ids (null: unchanged)."
    )


@strawberry.input(description="What GitLab.com measured for a namespace.")
class ReportNamespaceUsageInput:
    gitlab_id: int = strawberry.field(description="The namespace's GitLab id.")
    billable_members: int = strawberry.field(description="Billable members now.")
    max_seats_used: int = strawberry.field(description="Most seats used in the term.")
    compute_minutes_used: int = strawberry.field(description="Compute minutes used this month.")
    storage_used_bytes: float = strawberry.field(
        description="Storage used, bytes (a whole number)."
    )


@strawberry.type(description="The namespace after the change, or why it did not change.")
class UpsertNamespacePayload:
    namespace: NamespaceNode | None = strawberry.field(description="The namespace.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The namespace with its usage recorded, or why it was not.")
class ReportNamespaceUsagePayload(UpsertNamespacePayload):
    """report_namespace_usage's own payload (the fields of UpsertNamespacePayload)."""


def _payload(
    info: Info, namespace: Namespace | None, errors: list[MutationError]
) -> UpsertNamespacePayload:
    node = namespace_node(namespace, info.context.today) if namespace else None
    return UpsertNamespacePayload(namespace=node, errors=errors)


def _kind(value: str) -> NamespaceKind:
    try:
        return NamespaceKind(value.strip().upper())
    except ValueError:
        raise ValidationFailed("kind is `group` or `user`", path=("kind",)) from None


def _upsert_command(data: UpsertNamespaceInput) -> UpsertNamespace:
    return UpsertNamespace(
        gitlab_id=data.gitlab_id,
        path=data.path,
        name=data.name,
        kind=_kind(data.kind),
        parent_gitlab_id=data.parent_gitlab_id,
        owner_emails=tuple(data.owner_emails) if data.owner_emails is not None else None,
        owner_gitlab_user_ids=tuple(data.owner_gitlab_user_ids)
        if data.owner_gitlab_user_ids is not None
        else None,
    )


async def upsert_namespace(
    info: Info,
    input: Annotated[UpsertNamespaceInput, strawberry.argument(description="The namespace.")],
) -> UpsertNamespacePayload:
    ctx = info.context
    namespace, errors = await outcome(
        lambda: ctx.commands.namespace_keeping.upsert(ctx.principal, _upsert_command(input))
    )
    return _payload(info, namespace, errors)


async def report_namespace_usage(
    info: Info,
    input: Annotated[ReportNamespaceUsageInput, strawberry.argument(description="The usage.")],
) -> ReportNamespaceUsagePayload:
    ctx = info.context
    storage = input.storage_used_bytes
    if storage != int(storage):
        bad = ValidationFailed("storageUsedBytes is a whole number", path=("storageUsedBytes",))
        return as_payload(
            ReportNamespaceUsagePayload, _payload(info, None, [UserError.from_domain(bad)])
        )
    command = ReportNamespaceUsage(
        input.gitlab_id,
        input.billable_members,
        input.max_seats_used,
        input.compute_minutes_used,
        int(storage),
    )
    namespace, errors = await attempt(
        ctx.commands.namespace_keeping.report_usage(ctx.principal, command)
    )
    return as_payload(ReportNamespaceUsagePayload, _payload(info, namespace, errors))


@strawberry.input(description="GitLab.com's rename of a linked group (its own mutation shape).")
class OrderNamespaceNameUpdateInput:
    namespace_id: strawberry.ID = strawberry.field(description="The group's GitLab id.")
    namespace_name: str = strawberry.field(description="Its new name.")


@strawberry.type(description="GitLab's shape: errors as strings, empty on success.")
class OrderNamespaceNameUpdatePayload:
    errors: list[str] = strawberry.field(description="Empty on success.")


async def order_namespace_name_update(
    info: Info,
    input: Annotated[OrderNamespaceNameUpdateInput, strawberry.argument(description="The rename.")],
) -> OrderNamespaceNameUpdatePayload:
    ctx = info.context
    try:
        gitlab_id = parse_bigint_id(str(input.namespace_id), ("namespaceId",))
    except ValidationFailed:
        return OrderNamespaceNameUpdatePayload(errors=["namespaceId is a GitLab namespace id"])
    command = RenameNamespace(gitlab_id, input.namespace_name)
    _, errors = await attempt(
        rename_namespace(ctx.commands.namespace_keeping, ctx.principal, command)
    )
    return OrderNamespaceNameUpdatePayload(errors=[e.message for e in errors])
