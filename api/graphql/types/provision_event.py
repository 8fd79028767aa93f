"""The provisioning ledger as staff see it: ProvisionEvent and the dashboard's summary."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.enums import (
    ProvisionEventKind,
    ProvisionEventStatus,
    api_enum,
    provision_event_kind,
)
from api.graphql.loaders import Loader
from api.graphql.resolve import load_then
from api.graphql.types.node import Node
from domain.model.email import redact_secrets
from domain.model.provision_event import ProvisionEvent
from persistence.staff_reads import LedgerSummary

if TYPE_CHECKING:
    from api.graphql.types.nodes import InstanceNode, NamespaceNode, SubscriptionNode


def _link(
    loader: Loader[uuid.UUID, Any], key: uuid.UUID | None, convert: Callable[[Any], Any]
) -> Any | Awaitable[Any]:
    # The ledger outlives what it names: a missing object reads as null.
    if key is None:
        return None
    return load_then(loader, key, lambda found: convert(found) if found else None)


@strawberry.type(
    name="ProvisionEvent",
    description="One step that must reach the outside world (a provisioning call, a license"
    " delivery, an email, an alert), run by workers at least once, retried with backoff.",
)
class ProvisionEventNode(Node):
    _global_type = "ProvisionEvent"
    entity: strawberry.Private[ProvisionEvent]

    @strawberry.field(description="What to do (a worker plugin's own kinds are OTHER).")
    def kind(self) -> ProvisionEventKind:
        return provision_event_kind(self.entity.kind)

    @strawberry.field(description="Where it is in its life.")
    def status(self) -> ProvisionEventStatus:
        return api_enum(ProvisionEventStatus, self.entity.status)

    @strawberry.field(description="Attempts started so far (a staff retry starts over at 0).")
    def attempts(self) -> int:
        return self.entity.attempts

    @strawberry.field(description="Attempts allowed before it is DEAD.")
    def max_attempts(self) -> int:
        return self.entity.max_attempts

    @strawberry.field(description="When it is due (again).")
    def next_attempt_at(self) -> datetime:
        return self.entity.next_attempt_at

    @strawberry.field(description="The last failure: exception type and message (cut short).")
    def last_error(self) -> str | None:
        return self.entity.last_error

    @strawberry.field(description="Ties it to what caused it (a request id or another event).")
    def correlation_id(self) -> str:
        return self.entity.correlation_id

    @strawberry.field(
        description="The handler's input and progress, as recorded; values under `secrets` (an"
        " emailed activation code until it is sent) always read `[redacted]`."
    )
    def payload(self) -> JSON:
        return cast(JSON, redact_secrets(self.entity.payload))

    @strawberry.field(description="When it was recorded.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="When it last changed.")
    def updated_at(self) -> datetime:
        return self.entity.updated_at

    @strawberry.field(description="Why staff resolved it (RESOLVED only).")
    def resolved_reason(self) -> str | None:
        return self.entity.resolved_reason

    @strawberry.field(description="When staff resolved it (RESOLVED only).")
    def resolved_at(self) -> datetime | None:
        return self.entity.resolved_at

    @strawberry.field(description="The subscription it is about, if any (null if gone).")
    def subscription(
        self, info: Info
    ) -> Annotated[SubscriptionNode, strawberry.lazy("api.graphql.types.nodes")] | None:
        from api.graphql.types.nodes import subscription_node

        return _link(  # type: ignore[return-value]
            info.context.loaders.subscriptions,
            self.entity.subscription_id,
            lambda s: subscription_node(s, info.context),
        )

    @strawberry.field(description="The namespace it is about, if any (null if gone).")
    def namespace(
        self, info: Info
    ) -> Annotated[NamespaceNode, strawberry.lazy("api.graphql.types.nodes")] | None:
        from api.graphql.types.nodes import namespace_node

        today = info.context.today
        return _link(  # type: ignore[return-value]
            info.context.loaders.namespaces,
            self.entity.namespace_id,
            lambda n: namespace_node(n, today),
        )

    @strawberry.field(description="The self-managed instance it is about, if any (null if gone).")
    def instance(
        self, info: Info
    ) -> Annotated[InstanceNode, strawberry.lazy("api.graphql.types.nodes")] | None:
        from api.graphql.types.nodes import instance_node

        return _link(  # type: ignore[return-value]
            info.context.loaders.instances, self.entity.instance_id, instance_node
        )


def provision_event_node(entity: ProvisionEvent) -> ProvisionEventNode:
    return ProvisionEventNode(entity=entity)


@strawberry.type(description="How many ledger rows have one status.")
class ProvisionStatusCount:
    status: ProvisionEventStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="Rows with it.")


@strawberry.type(description="How many ledger rows of one kind have one status.")
class ProvisionKindCount:
    kind: ProvisionEventKind = strawberry.field(
        description="The event kind (a worker plugin's own kinds are OTHER, added up)."
    )
    status: ProvisionEventStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="Rows of that kind with that status.")


@strawberry.type(description="The ledger at a glance, for dashboards.")
class ProvisionEventSummary:
    by_status: list[ProvisionStatusCount] = strawberry.field(
        description="Rows per status; every status is listed, with 0 when none has it."
    )
    by_kind: list[ProvisionKindCount] = strawberry.field(
        description="Rows per kind and status (only combinations that have rows)."
    )
    dead: int = strawberry.field(description="DEAD rows: each waits for staff to retry or resolve.")
    oldest_pending_age_seconds: float = strawberry.field(
        description="How long the longest-waiting due row (PENDING or FAILED, its"
        " `nextAttemptAt` passed) has waited for a worker, in seconds; 0 when none is due."
    )


def provision_event_summary(summary: LedgerSummary) -> ProvisionEventSummary:
    per_status = dict.fromkeys(ProvisionEventStatus, 0)
    by_kind: dict[tuple[ProvisionEventStatus, ProvisionEventKind], int] = {}
    for status, kind, count in summary.counts:
        api_status = ProvisionEventStatus[status]
        per_status[api_status] += count
        key = (api_status, provision_event_kind(kind))
        by_kind[key] = by_kind.get(key, 0) + count
    return ProvisionEventSummary(
        by_status=[ProvisionStatusCount(status=s, count=n) for s, n in per_status.items()],
        by_kind=[
            ProvisionKindCount(kind=kind, status=status, count=count)
            for (status, kind), count in by_kind.items()
        ],
        dead=per_status[ProvisionEventStatus.DEAD],
        oldest_pending_age_seconds=summary.oldest_due_age_seconds,
    )
