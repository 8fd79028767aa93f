"""Marketplace intake for staff (docs/marketplaces.md): the offer mapping (a list and its
set/update/delete mutations) and the inbox of inbound events. Staff only: the
``marketplaces:read`` and ``marketplaces:write`` scopes are grantable to staff alone."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.enums import Deployment, Marketplace, MarketplaceInboxState, Plan, api_enum
from api.graphql.errors import api_error, page_size
from api.graphql.mutations.outcome import as_payload, outcome
from api.graphql.types.mutation_error import MutationError
from api.graphql.types.node import Connection, Node, build_connection
from api.ids import global_id, parse_cursor, parse_typed_id
from domain.errors import DomainError
from domain.model import enums as model
from domain.model import marketplace as domain
from domain.model.marketplace import InboxEntry, OfferMapping
from domain.policy import Reach, Resource, reach
from domain.use_cases.marketplace_offers import SetOffer, UpdateOffer
from persistence.keyset import Page

OFFER_ID = "The offer mapping's global ID."


@strawberry.type(
    name="MarketplaceOffer",
    description="What a marketplace offer and plan sell here: a plan on a deployment, for a"
    " fixed seat count or the order's quantity, over terms of some months.",
)
class MarketplaceOfferNode(Node):
    _global_type = "MarketplaceOffer"
    entity: strawberry.Private[OfferMapping]

    @strawberry.field(description="The marketplace.")
    def marketplace(self) -> Marketplace:
        return api_enum(Marketplace, self.entity.marketplace)

    @strawberry.field(
        description="The marketplace's offer: AWS product code, Azure offer id, Stripe product."
    )
    def offer(self) -> str:
        return self.entity.offer

    @strawberry.field(
        description="The marketplace's plan within it: AWS dimension, Azure plan id, Stripe price."
    )
    def plan_key(self) -> str:
        return self.entity.plan_key

    @strawberry.field(description="The Provision plan sold.")
    def plan(self) -> Plan:
        return api_enum(Plan, self.entity.plan)

    @strawberry.field(description="Where it runs.")
    def deployment(self) -> Deployment:
        return api_enum(Deployment, self.entity.deployment)

    @strawberry.field(description="Seats sold; null: the order's quantity.")
    def seats(self) -> int | None:
        return self.entity.seats

    @strawberry.field(description="Length of a term (and of each renewal), in months.")
    def term_months(self) -> int:
        return self.entity.term_months

    @strawberry.field(description="When it was last set.")
    def updated_at(self) -> datetime | None:
        return self.entity.updated_at


@strawberry.type(
    name="MarketplaceInboxEntry",
    description="One event a marketplace sent, stored before it is applied (once).",
)
class MarketplaceInboxEntryNode(Node):
    _global_type = "MarketplaceInboxEntry"
    entity: strawberry.Private[InboxEntry]

    @strawberry.field(description="Who sent it.")
    def marketplace(self) -> Marketplace:
        return api_enum(Marketplace, self.entity.marketplace)

    @strawberry.field(description="The marketplace's event or message id (unique per marketplace).")
    def message_id(self) -> str:
        return self.entity.message_id

    @strawberry.field(description="The marketplace's subscription it is about, when known.")
    def subscription_key(self) -> str | None:
        return self.entity.subscription_key

    @strawberry.field(description="How far it got.")
    def state(self) -> MarketplaceInboxState:
        return api_enum(MarketplaceInboxState, self.entity.state)

    @strawberry.field(description="Why it was ignored (stale), when it was.")
    def reason(self) -> str | None:
        return self.entity.reason

    @strawberry.field(description="When it arrived.")
    def received_at(self) -> datetime:
        return self.entity.received_at

    @strawberry.field(description="When it was applied or ignored.")
    def settled_at(self) -> datetime | None:
        return self.entity.applied_at

    @strawberry.field(
        description="The ledger row that applies it (`node(id:)` reads its status and error;"
        " `retryProvisionEvent` sends it again)."
    )
    def provision_event_id(self) -> strawberry.ID | None:
        event = self.entity.ledger_event_id
        return strawberry.ID(global_id("ProvisionEvent", event)) if event else None

    @strawberry.field(description="What the marketplace sent, as stored.")
    def payload(self) -> JSON:
        return cast(JSON, self.entity.payload)


def staff_reach(info: Info) -> bool:
    """Only staff see the marketplaces' rows, whatever scopes another kind's token holds."""
    return reach(info.context.principal, Resource.MARKETPLACES) is Reach.EVERYTHING


def _offer_node(mapping: OfferMapping) -> MarketplaceOfferNode:
    return MarketplaceOfferNode(entity=mapping)


def _entry_node(entry: InboxEntry) -> MarketplaceInboxEntryNode:
    return MarketplaceInboxEntryNode(entity=entry)


async def marketplace_node(info: Info, type_name: str, local_id: uuid.UUID) -> Node | None:
    """``node(id:)`` for the two marketplace types (staff only, as their lists)."""
    if not staff_reach(info):
        return None
    found = info.context.commands.marketplaces
    if type_name == "MarketplaceOffer":
        mapping = await found.offer_reads.get(local_id)
        return _offer_node(mapping) if mapping else None
    entry = await found.inbox.get(local_id)
    return _entry_node(entry) if entry else None


def _cursor(after: str | None) -> uuid.UUID | None:
    try:
        return parse_cursor(after)
    except DomainError as error:
        raise api_error(error) from None


def _domain(value: Marketplace | None) -> domain.Marketplace | None:
    return domain.Marketplace[value.name] if value is not None else None


async def marketplace_offers(
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size, 0 to 100.")] = None,
    after: Annotated[str | None, strawberry.argument(description="The last `endCursor`.")] = None,
    marketplace: Annotated[
        Marketplace | None, strawberry.argument(description="Only this marketplace's.")
    ] = None,
) -> Connection[MarketplaceOfferNode]:
    offers = info.context.commands.marketplaces.offer_reads
    size, cursor = page_size(first), _cursor(after)
    chosen = _domain(marketplace)
    if not staff_reach(info):
        return build_connection(Page([], False), _offer_node, after_given=False, count=0)
    page = await offers.page(size, cursor, chosen)
    return build_connection(
        page,
        _offer_node,
        after_given=after is not None,
        count=lambda: offers.count(chosen),
    )


async def marketplace_inbox(
    info: Info,
    first: Annotated[int | None, strawberry.argument(description="Page size, 0 to 100.")] = None,
    after: Annotated[str | None, strawberry.argument(description="The last `endCursor`.")] = None,
    marketplace: Annotated[
        Marketplace | None, strawberry.argument(description="Only this marketplace's.")
    ] = None,
    state: Annotated[
        MarketplaceInboxState | None, strawberry.argument(description="Only in this state.")
    ] = None,
) -> Connection[MarketplaceInboxEntryNode]:
    inbox = info.context.commands.marketplaces.inbox
    size, cursor = page_size(first), _cursor(after)
    chosen = _domain(marketplace)
    wanted = domain.InboxState[state.name] if state is not None else None
    if not staff_reach(info):
        return build_connection(Page([], False), _entry_node, after_given=False, count=0)
    page = await inbox.page(size, cursor, chosen, wanted)
    return build_connection(
        page,
        _entry_node,
        after_given=after is not None,
        count=lambda: inbox.count(chosen, wanted),
    )


@strawberry.input(description="A marketplace offer and plan, and what they sell.")
class SetMarketplaceOfferInput:
    marketplace: Marketplace = strawberry.field(description="The marketplace.")
    offer: str = strawberry.field(
        description="AWS product code, Azure offer id or Stripe product id."
    )
    plan_key: str = strawberry.field(description="AWS dimension, Azure plan id or Stripe price id.")
    plan: Plan = strawberry.field(description="The Provision plan sold (not FREE).")
    deployment: Deployment = strawberry.field(description="Where it runs.")
    term_months: int = strawberry.field(default=12, description="Term length, 1 to 60 months.")
    seats: int | None = strawberry.field(
        default=None, description="Seats sold; omitted: the order's quantity."
    )


@strawberry.input(description="What to change on an offer mapping; omitted fields stay.")
class UpdateMarketplaceOfferInput:
    id: strawberry.ID = strawberry.field(description=OFFER_ID)
    plan: Plan | None = strawberry.field(default=None, description="A new plan.")
    deployment: Deployment | None = strawberry.field(default=None, description="A new deployment.")
    term_months: int | None = strawberry.field(default=None, description="A new term length.")
    seats: int | None = strawberry.field(default=None, description="A fixed seat count.")
    seats_from_quantity: bool = strawberry.field(
        default=False, description="True: seats come from the order's quantity again."
    )


@strawberry.input(description="Which offer mapping to delete.")
class DeleteMarketplaceOfferInput:
    id: strawberry.ID = strawberry.field(description=OFFER_ID)


@strawberry.type(description="The offer mapping after the change, or why it did not change.")
class MarketplaceOfferPayload:
    marketplace_offer: MarketplaceOfferNode | None = strawberry.field(description="As stored.")
    errors: list[MutationError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="The new offer mapping, or why there is none.")
class SetMarketplaceOfferPayload(MarketplaceOfferPayload):
    """set_marketplace_offer's own payload (the fields of MarketplaceOfferPayload)."""


@strawberry.type(description="The offer mapping after the change, or why it did not change.")
class UpdateMarketplaceOfferPayload(MarketplaceOfferPayload):
    """update_marketplace_offer's own payload (the fields of MarketplaceOfferPayload)."""


@strawberry.type(description="The offer mapping as it was, deleted, or why it was not.")
class DeleteMarketplaceOfferPayload(MarketplaceOfferPayload):
    """delete_marketplace_offer's own payload (the fields of MarketplaceOfferPayload)."""


def _payload(mapping: OfferMapping | None, errors: list[MutationError]) -> MarketplaceOfferPayload:
    return MarketplaceOfferPayload(
        marketplace_offer=MarketplaceOfferNode(entity=mapping) if mapping else None,
        errors=errors,
    )


async def set_marketplace_offer(
    info: Info,
    input: Annotated[SetMarketplaceOfferInput, strawberry.argument(description="The mapping.")],
) -> SetMarketplaceOfferPayload:
    ctx = info.context
    command = SetOffer(
        marketplace=domain.Marketplace[input.marketplace.name],
        offer=input.offer,
        plan_key=input.plan_key,
        plan=model.Plan[input.plan.name],
        deployment=model.Deployment[input.deployment.name],
        term_months=input.term_months,
        seats=input.seats,
    )
    return as_payload(
        SetMarketplaceOfferPayload,
        _payload(
            *await outcome(lambda: ctx.commands.marketplaces.offers.set(ctx.principal, command))
        ),
    )


async def update_marketplace_offer(
    info: Info,
    input: Annotated[UpdateMarketplaceOfferInput, strawberry.argument(description="The change.")],
) -> UpdateMarketplaceOfferPayload:
    ctx = info.context

    def command() -> UpdateOffer:
        return UpdateOffer(
            parse_typed_id(input.id, "MarketplaceOffer", path=("id",)),
            plan=model.Plan[input.plan.name] if input.plan else None,
            deployment=model.Deployment[input.deployment.name] if input.deployment else None,
            term_months=input.term_months,
            seats=input.seats,
            seats_from_quantity=input.seats_from_quantity,
        )

    return as_payload(
        UpdateMarketplaceOfferPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.marketplaces.offers.update(ctx.principal, command())
            )
        ),
    )


async def delete_marketplace_offer(
    info: Info,
    input: Annotated[DeleteMarketplaceOfferInput, strawberry.argument(description="Which.")],
) -> DeleteMarketplaceOfferPayload:
    ctx = info.context
    return as_payload(
        DeleteMarketplaceOfferPayload,
        _payload(
            *await outcome(
                lambda: ctx.commands.marketplaces.offers.delete(
                    ctx.principal, parse_typed_id(input.id, "MarketplaceOffer", path=("id",))
                )
            )
        ),
    )
