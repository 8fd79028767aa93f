"""Root fields of the staff-only resources: the provisioning ledger and the audit trail.
``api.graphql.queries.Query`` mounts them; their scopes are checked there."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import ProvisionEventKind, ProvisionEventStatus
from api.graphql.errors import api_error, page_size
from api.graphql.sorting import PROVISION_EVENTS, Before, Last, ProvisionEventSort, paging
from api.graphql.types.audit import AuditEntryNode, audit_entry_node
from api.graphql.types.node import Connection, build_connection
from api.graphql.types.provision_event import (
    ProvisionEventNode,
    ProvisionEventSummary,
    provision_event_node,
    provision_event_summary,
)
from api.ids import parse_cursor, parse_global_id, parse_typed_id
from domain.errors import DomainError, InvalidId, ValidationFailed
from domain.model.provision_event import ProvisionKind
from persistence.staff_reads import AuditFilter, ProvisionEventFilter

First = Annotated[
    int | None, strawberry.argument(description="Page size, 0 to 100 (20 when omitted).")
]
After = Annotated[
    str | None, strawberry.argument(description="The `endCursor` of the previous page.")
]


def _typed(value: str | None, type_name: str, name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return parse_typed_id(value, type_name, path=(name,))


def _any_object(value: str | None) -> uuid.UUID | None:
    """A global ID of any type, or the raw UUID an audit entry shows for untyped objects."""
    if value is None:
        return None
    try:
        return parse_global_id(value)[1]
    except InvalidId:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise InvalidId(f"{value!r} is not an ID", path=("objectId",)) from None


async def provision_events(
    info: Info,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
    sort: Annotated[
        ProvisionEventSort | None,
        strawberry.argument(description="The order (CREATED_AT DESC when omitted)."),
    ] = None,
    status: Annotated[
        ProvisionEventStatus | None, strawberry.argument(description="Only this status.")
    ] = None,
    kind: Annotated[
        ProvisionEventKind | None,
        strawberry.argument(description="Only this kind (OTHER: a worker plugin's kinds)."),
    ] = None,
    subscription_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only rows about this subscription.")
    ] = None,
    namespace_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only rows about this namespace.")
    ] = None,
    older_than_seconds: Annotated[
        int | None,
        strawberry.argument(description="Only rows recorded at least this many seconds ago."),
    ] = None,
) -> Connection[ProvisionEventNode]:
    ctx = info.context
    pages = paging(PROVISION_EVENTS, first=first, after=after, last=last, before=before, sort=sort)
    try:
        if older_than_seconds is not None and older_than_seconds < 0:
            raise ValidationFailed(
                "`olderThanSeconds` must not be negative", path=("olderThanSeconds",)
            )
        flt = ProvisionEventFilter(
            status=status.name if status else None,
            kind=None if kind is None or kind is ProvisionEventKind.OTHER else kind.value,
            kind_not_in=tuple(ProvisionKind) if kind is ProvisionEventKind.OTHER else None,
            subscription_id=_typed(subscription_id, "Subscription", "subscriptionId"),
            namespace_id=_typed(namespace_id, "Namespace", "namespaceId"),
            created_before=None
            if older_than_seconds is None
            else ctx.clock.now() - timedelta(seconds=older_than_seconds),
        )
    except DomainError as error:
        raise api_error(error) from None
    page = await ctx.read.provision_events(ctx.principal, flt, pages.request)
    return build_connection(
        page,
        provision_event_node,
        after_given=after is not None,
        count=lambda: ctx.read.count_provision_events(ctx.principal, flt),
        write_cursor=pages.cursor,
    )


async def provision_event_summary_field(info: Info) -> ProvisionEventSummary:
    ctx = info.context
    summary = await ctx.read.provision_event_summary(ctx.principal, ctx.clock.now())
    return provision_event_summary(summary)


async def audit_entries(
    info: Info,
    first: First = None,
    after: After = None,
    object_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Only entries about this object (its global ID)."),
    ] = None,
    actor_subject: Annotated[
        str | None, strawberry.argument(description="Only entries by this token subject.")
    ] = None,
    action: Annotated[
        str | None, strawberry.argument(description="Only this mutation (`cancelSubscription`, …).")
    ] = None,
) -> Connection[AuditEntryNode]:
    ctx = info.context
    size = page_size(first)
    try:
        flt = AuditFilter(_any_object(object_id), actor_subject, action)
        cursor = parse_cursor(after)
    except DomainError as error:
        raise api_error(error) from None
    page = await ctx.read.audit_entries(ctx.principal, flt, size, cursor)
    return build_connection(
        page,
        audit_entry_node,
        after_given=after is not None,
        count=lambda: ctx.read.count_audit_entries(ctx.principal, flt),
    )
