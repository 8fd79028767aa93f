"""Webhook endpoints: register (the secret is in the payload, once), change, delete."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import WebhookEventType
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.webhook import (
    WebhookDeliveryNode,
    WebhookEndpointNode,
    webhook_delivery_node,
    webhook_endpoint_node,
)
from api.ids import parse_typed_id
from domain.model import webhook
from domain.model.webhook import DEFAULT_OVERLAP, WebhookEndpoint
from domain.use_cases.webhooks import CreateWebhookEndpoint, UpdateWebhookEndpoint

ENDPOINT_ID = "The endpoint's global ID."


def _values(types: list[WebhookEventType]) -> tuple[str, ...]:
    return tuple(webhook.WebhookEventType[t.name].value for t in types)


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where events are POSTed: https (http only to loopback in development)."
    )
    event_types: list[WebhookEventType] = strawberry.field(description="At least one.")
    description: str = strawberry.field(default="", description="A note, up to 500 characters.")
    enabled: bool = strawberry.field(default=True, description="Send events to it.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whose it is: required for a customer's user (one of its customers);"
        " staff may give one or none (a global endpoint); a partner gives none.",
    )


@strawberry.input(description="What to change on an endpoint; omitted fields stay.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT_ID)
    url: str | None = strawberry.field(default=None, description="A new URL.")
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The new set (at least one)."
    )
    description: str | None = strawberry.field(default=None, description="A new note.")
    enabled: bool | None = strawberry.field(default=None, description="Turn it on or off.")


@strawberry.input(description="Which endpoint to delete.")
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT_ID)


@strawberry.input(description="Which endpoint gets a new secret, and how long the old one lasts.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT_ID)
    overlap_seconds: int = strawberry.field(
        default=int(DEFAULT_OVERLAP.total_seconds()),
        description="How long deliveries are signed with the old secret too (0 to 7 days;"
        " default a day), so receivers can switch without missing one.",
    )


@strawberry.type(description="The endpoint and its new secret, or why it did not change.")
class RotateWebhookSecretPayload:
    webhook_endpoint: WebhookEndpointNode | None = strawberry.field(description="The endpoint.")
    secret: str | None = strawberry.field(description="The new `whsec_…`, shown only here, once.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The new endpoint and its secret, or why there is none.")
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointNode | None = strawberry.field(description="As stored.")
    secret: str | None = strawberry.field(
        description="`whsec_…`: verify deliveries with it. Shown only here, once."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The endpoint after the change (or as it was, deleted).")
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpointNode | None = strawberry.field(description="The endpoint.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The endpoint after the change, or why it did not change.")
class UpdateWebhookEndpointPayload(WebhookEndpointPayload):
    """update_webhook_endpoint's own payload (the fields of WebhookEndpointPayload)."""


@strawberry.type(description="The endpoint as it was, deleted, or why it was not.")
class DeleteWebhookEndpointPayload(WebhookEndpointPayload):
    """delete_webhook_endpoint's own payload (the fields of WebhookEndpointPayload)."""


def _endpoint_id(value: strawberry.ID) -> uuid.UUID:
    return parse_typed_id(value, "WebhookEndpoint", path=("id",))


def _payload(
    endpoint: WebhookEndpoint | None, errors: list[MutationError]
) -> WebhookEndpointPayload:
    return WebhookEndpointPayload(
        webhook_endpoint=webhook_endpoint_node(endpoint) if endpoint else None, errors=errors
    )


async def create_webhook_endpoint(
    info: Info,
    input: Annotated[CreateWebhookEndpointInput, strawberry.argument(description="The endpoint.")],
) -> CreateWebhookEndpointPayload:
    ctx = info.context

    def command() -> CreateWebhookEndpoint:
        customer = input.customer_id
        return CreateWebhookEndpoint(
            url=input.url,
            event_types=_values(input.event_types),
            description=input.description,
            enabled=input.enabled,
            customer_id=parse_typed_id(customer, "Customer", path=("customerId",))
            if customer is not None
            else None,
        )

    created, errors = await outcome(lambda: ctx.commands.webhooks.create(ctx.principal, command()))
    return CreateWebhookEndpointPayload(
        webhook_endpoint=webhook_endpoint_node(created.endpoint) if created else None,
        secret=created.secret if created else None,
        errors=errors,
    )


async def update_webhook_endpoint(
    info: Info,
    input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(description="The change.")],
) -> UpdateWebhookEndpointPayload:
    ctx = info.context
    return as_payload(
        UpdateWebhookEndpointPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.webhooks.update(
                    ctx.principal,
                    UpdateWebhookEndpoint(
                        _endpoint_id(input.id),
                        url=input.url,
                        event_types=_values(input.event_types)
                        if input.event_types is not None
                        else None,
                        description=input.description,
                        enabled=input.enabled,
                    ),
                )
            )
        ),
    )


async def delete_webhook_endpoint(
    info: Info,
    input: Annotated[DeleteWebhookEndpointInput, strawberry.argument(description="Which one.")],
) -> DeleteWebhookEndpointPayload:
    ctx = info.context
    return as_payload(
        DeleteWebhookEndpointPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.webhooks.delete(ctx.principal, _endpoint_id(input.id))
            )
        ),
    )


async def rotate_webhook_secret(
    info: Info,
    input: Annotated[RotateWebhookSecretInput, strawberry.argument(description="Which one.")],
) -> RotateWebhookSecretPayload:
    ctx = info.context
    rotated, errors = await outcome(
        lambda: ctx.commands.webhooks.rotate_secret(
            ctx.principal, _endpoint_id(input.id), timedelta(seconds=input.overlap_seconds)
        )
    )
    return RotateWebhookSecretPayload(
        webhook_endpoint=webhook_endpoint_node(rotated.endpoint) if rotated else None,
        secret=rotated.secret if rotated else None,
        errors=errors,
    )


@strawberry.input(description="Which delivery to send again.")
class ResendWebhookDeliveryInput:
    id: strawberry.ID = strawberry.field(description="The delivery's global ID (`whd_…`).")


@strawberry.type(description="The new delivery (same body and `webhook-id`), or why there is none.")
class ResendWebhookDeliveryPayload:
    webhook_delivery: WebhookDeliveryNode | None = strawberry.field(
        description="The new delivery row, PENDING."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def resend_webhook_delivery(
    info: Info,
    input: Annotated[ResendWebhookDeliveryInput, strawberry.argument(description="Which one.")],
) -> ResendWebhookDeliveryPayload:
    ctx = info.context
    sent, errors = await outcome(
        lambda: ctx.commands.webhooks.resend(
            ctx.principal,
            parse_typed_id(input.id, "WebhookDelivery", path=("id",)),
        )
    )
    return ResendWebhookDeliveryPayload(
        webhook_delivery=webhook_delivery_node(sent) if sent else None, errors=errors
    )
