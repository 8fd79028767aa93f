"""WebhookEndpoint: where a customer, a partner or staff receive events (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import ProvisionEventStatus, WebhookEventType, api_enum
from api.graphql.errors import api_error, page_size
from api.graphql.types.node import Connection, Node, build_connection
from api.ids import global_id, parse_cursor
from domain.errors import DomainError
from domain.model import webhook
from domain.model.webhook import WebhookDelivery, WebhookEndpoint


@strawberry.type(
    name="WebhookDelivery",
    description="One event sent to one endpoint: a ledger row, retried until it succeeds or"
    " its day of attempts is spent (docs/webhooks.md).",
)
class WebhookDeliveryNode(Node):
    _global_type = "WebhookDelivery"
    entity: strawberry.Private[WebhookDelivery]

    @strawberry.field(
        description="Where it is: PENDING, RUNNING, SUCCEEDED, FAILED (a retry"
        " is due at `nextAttemptAt`), DEAD (attempts spent) or RESOLVED."
    )
    def status(self) -> ProvisionEventStatus:
        return ProvisionEventStatus[self.entity.status]

    @strawberry.field(description="The event's type.")
    def event_type(self) -> WebhookEventType:
        return WebhookEventType[webhook.WebhookEventType(self.entity.event_type).name]

    @strawberry.field(
        description="The `webhook-id` header: the same on every attempt and on a re-send, so"
        " receivers drop repeats."
    )
    def event_id(self) -> str:
        return self.entity.webhook_id

    @strawberry.field(
        description="HTTP status of the last attempt's answer (null: no answer"
        " yet, a timeout, a network error or a refused address)."
    )
    def response_code(self) -> int | None:
        return self.entity.status_code

    @strawberry.field(description="How long the last answered attempt took, in milliseconds.")
    def latency_ms(self) -> int | None:
        return self.entity.latency_ms

    @strawberry.field(description="Attempts made so far.")
    def attempts(self) -> int:
        return self.entity.attempts

    @strawberry.field(description="Attempts it has in all (about a day of retries).")
    def max_attempts(self) -> int:
        return self.entity.max_attempts

    @strawberry.field(description="When the next attempt is due (null once it is finished).")
    def next_attempt_at(self) -> datetime | None:
        return self.entity.next_attempt_at

    @strawberry.field(description="When the last attempt was made (null before the first).")
    def last_attempt_at(self) -> datetime | None:
        return self.entity.attempted_at

    @strawberry.field(description="Why the last attempt failed (the URL cut to its host).")
    def last_error(self) -> str | None:
        return self.entity.last_error

    @strawberry.field(description="The subscription the event is about, if any.")
    def subscription_id(self) -> strawberry.ID | None:
        sub = self.entity.subscription_id
        return strawberry.ID(global_id("Subscription", sub)) if sub else None

    @strawberry.field(description="When the event was recorded.")
    def created_at(self) -> datetime:
        return self.entity.created_at


def webhook_delivery_node(delivery: WebhookDelivery) -> WebhookDeliveryNode:
    return WebhookDeliveryNode(entity=delivery)


@strawberry.type(
    name="WebhookEndpoint",
    description="A URL that receives signed events (Standard Webhooks). Its secret is shown"
    " once, when it is created.",
)
class WebhookEndpointNode(Node):
    _global_type = "WebhookEndpoint"
    entity: strawberry.Private[WebhookEndpoint]

    @strawberry.field(description="Where events are POSTed.")
    def url(self) -> str:
        return self.entity.url

    @strawberry.field(description="The events it hears, in catalogue order.")
    def event_types(self) -> list[WebhookEventType]:
        return [api_enum(WebhookEventType, t) for t in self.entity.event_types]

    @strawberry.field(description="The owner's note.")
    def description(self) -> str:
        return self.entity.description

    @strawberry.field(description="Whether events are sent to it.")
    def enabled(self) -> bool:
        return self.entity.enabled

    @strawberry.field(
        description="The customer it belongs to (null for a partner's or a global endpoint)."
    )
    def customer_id(self) -> strawberry.ID | None:
        customer = self.entity.customer_id
        return strawberry.ID(global_id("Customer", customer)) if customer else None

    @strawberry.field(description="The partner it belongs to (null otherwise).")
    def partner_id(self) -> str | None:
        return self.entity.partner_id

    @strawberry.field(description="When it was registered.")
    def created_at(self) -> datetime:
        return self.entity.created_at

    @strawberry.field(description="What was sent to it, newest first, optionally by status.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 0 to 100 (20 if omitted).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="The `endCursor` of the previous page.")
        ] = None,
        status: Annotated[
            ProvisionEventStatus | None, strawberry.argument(description="Only these.")
        ] = None,
    ) -> Connection[WebhookDeliveryNode]:
        read, endpoint_id = info.context.read, self.entity.id
        try:
            cursor = parse_cursor(after)
        except DomainError as error:
            raise api_error(error) from None
        wanted = status.name if status is not None else None
        page = await read.webhook_deliveries(endpoint_id, page_size(first), cursor, wanted)
        return build_connection(
            page,
            webhook_delivery_node,
            after_given=after is not None,
            count=lambda: read.count_webhook_deliveries(endpoint_id, wanted),
        )


def webhook_endpoint_node(endpoint: WebhookEndpoint) -> WebhookEndpointNode:
    return WebhookEndpointNode(entity=endpoint)
