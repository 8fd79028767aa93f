"""WebhookEndpoint: where a customer, a partner or staff receive events (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.enums import WebhookEventType, api_enum
from api.graphql.types.node import Node
from api.ids import global_id
from domain.model.webhook import WebhookEndpoint


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


def webhook_endpoint_node(endpoint: WebhookEndpoint) -> WebhookEndpointNode:
    return WebhookEndpointNode(entity=endpoint)
