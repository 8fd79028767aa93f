"""Partners (staff): register and rename; and transferSubscription, moving a subscription
between channels now or at a later moment."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import Channel, PartnerKind
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.nodes import SubscriptionNode, subscription_node
from api.graphql.types.partner import ChannelTransferType, PartnerType, partner_type
from api.ids import parse_typed_id
from domain.model import enums as model
from domain.model import partner as partner_model
from domain.use_cases.partners import CreatePartner, UpdatePartner
from domain.use_cases.transfer_subscription import TransferSubscription


def _kind(kind: PartnerKind) -> partner_model.PartnerKind:
    return partner_model.PartnerKind[kind.name]


@strawberry.input(description="A new partner organisation.")
class CreatePartnerInput:
    id: str = strawberry.field(
        description="Its id, as subscriptions and partner tokens carry it: 1 to 100 letters,"
        " digits and `:._-`."
    )
    name: str = strawberry.field(description="Its name, as customers are told it.")
    kind: PartnerKind = strawberry.field(description="Reseller, distributor or marketplace.")


@strawberry.input(description="What to change on a partner; omitted fields stay.")
class UpdatePartnerInput:
    id: str = strawberry.field(description="The partner id (it never changes).")
    name: str | None = strawberry.field(default=None, description="A new name.")
    kind: PartnerKind | None = strawberry.field(default=None, description="A new kind.")


@strawberry.type(description="The partner as stored, or why it was not.")
class PartnerPayload:
    partner: PartnerType | None = strawberry.field(description="The partner.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The new partner, or why it was not stored.")
class CreatePartnerPayload(PartnerPayload):
    """create_partner's own payload (the fields of PartnerPayload)."""


@strawberry.type(description="The partner after the change, or why it did not change.")
class UpdatePartnerPayload(PartnerPayload):
    """update_partner's own payload (the fields of PartnerPayload)."""


@strawberry.input(description="Move a subscription to another channel (direct or a partner).")
class TransferSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(description="The subscription's global ID.")
    to_channel: Channel = strawberry.field(
        description="WEB_DIRECT or SALES (direct), RESELLER or MARKETPLACE (with toPartnerId)."
    )
    to_partner_id: str | None = strawberry.field(
        default=None, description="The partner it moves to (a registered one); none for direct."
    )
    effective_at: datetime.datetime | None = strawberry.field(
        default=None,
        description="When it moves: now when omitted or past; a later moment is recorded"
        " PENDING and applied when it comes (until then the old channel and partner hold).",
    )
    reason: str = strawberry.field(description="Why, kept in the audit trail (up to 500).")
    idempotency_key: str | None = strawberry.field(
        default=None, description="Retry-safe: the same key returns the first result."
    )


@strawberry.type(description="The transfer and the subscription as it is now, or why not.")
class TransferSubscriptionPayload:
    transfer: ChannelTransferType | None = strawberry.field(description="The transfer recorded.")
    subscription: SubscriptionNode | None = strawberry.field(
        description="The subscription now (moved already unless the transfer is PENDING)."
    )
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


async def create_partner(
    info: Info,
    input: Annotated[CreatePartnerInput, strawberry.argument(description="The partner.")],
) -> CreatePartnerPayload:
    ctx = info.context
    created, errors = await outcome(
        lambda: ctx.commands.partners.create(
            ctx.principal, CreatePartner(input.id, input.name, _kind(input.kind))
        )
    )
    return as_payload(
        CreatePartnerPayload,
        PartnerPayload(partner=partner_type(created) if created else None, errors=errors),
    )


async def update_partner(
    info: Info,
    input: Annotated[UpdatePartnerInput, strawberry.argument(description="The change.")],
) -> UpdatePartnerPayload:
    ctx = info.context
    kind = _kind(input.kind) if input.kind is not None else None
    updated, errors = await outcome(
        lambda: ctx.commands.partners.update(
            ctx.principal, UpdatePartner(input.id, input.name, kind)
        )
    )
    return as_payload(
        UpdatePartnerPayload,
        PartnerPayload(partner=partner_type(updated) if updated else None, errors=errors),
    )


async def transfer_subscription(
    info: Info,
    input: Annotated[TransferSubscriptionInput, strawberry.argument(description="The move.")],
) -> TransferSubscriptionPayload:
    ctx = info.context
    done, errors = await outcome(
        lambda: ctx.commands.transfer_subscription(
            ctx.principal,
            TransferSubscription(
                parse_typed_id(input.subscription_id, "Subscription", path=("subscriptionId",)),
                model.Channel[input.to_channel.name],
                input.reason,
                input.to_partner_id,
                input.effective_at,
                input.idempotency_key,
            ),
        )
    )
    if done is None:
        return TransferSubscriptionPayload(transfer=None, subscription=None, errors=errors)
    return TransferSubscriptionPayload(
        transfer=ChannelTransferType(entity=done.transfer),
        subscription=subscription_node(done.subscription, ctx),
        errors=[],
    )
