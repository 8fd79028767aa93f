"""The staff's offer mapping (docs/marketplaces.md): which Provision plan, deployment, seats
and term a marketplace offer and plan sell. Staff only (``marketplaces:write``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from domain.errors import Forbidden, NotFound
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock
from domain.principal import Principal


class OfferRepository(Protocol):
    async def get(self, mapping_id: uuid.UUID) -> OfferMapping | None: ...

    async def put(self, mapping: OfferMapping, now: datetime) -> OfferMapping: ...

    async def update(self, mapping: OfferMapping, now: datetime) -> OfferMapping | None: ...

    async def delete(self, mapping_id: uuid.UUID) -> OfferMapping | None: ...


@dataclass(frozen=True)
class SetOffer:
    marketplace: Marketplace
    offer: str
    plan_key: str
    plan: Plan
    deployment: Deployment
    term_months: int = 12
    seats: int | None = None


@dataclass(frozen=True)
class UpdateOffer:
    id: uuid.UUID
    plan: Plan | None = None
    deployment: Deployment | None = None
    term_months: int | None = None
    seats: int | None = None
    seats_from_quantity: bool = False
    """True: the seats come from the order's quantity again (``seats`` is ignored)."""


def require_staff(principal: Principal, access: Access) -> None:
    """The scope, and staff's reach: a token of another kind that somehow carries the scope
    (an external issuer's) still may not."""
    require_scope(principal, Resource.MARKETPLACES, access)
    if reach(principal, Resource.MARKETPLACES) is not Reach.EVERYTHING:
        raise Forbidden("only staff manage marketplace offers")


class MarketplaceOffers:
    def __init__(self, offers: OfferRepository, clock: Clock) -> None:
        self._offers = offers
        self._clock = clock

    async def set(self, principal: Principal, command: SetOffer) -> OfferMapping:
        """Create the mapping, or replace the one for the same marketplace, offer and plan."""
        require_staff(principal, Access.WRITE)
        mapping = OfferMapping(
            marketplace=command.marketplace,
            offer=command.offer,
            plan_key=command.plan_key,
            plan=command.plan,
            deployment=command.deployment,
            term_months=command.term_months,
            seats=command.seats,
        )
        return await self._offers.put(mapping, self._clock.now())

    async def update(self, principal: Principal, command: UpdateOffer) -> OfferMapping:
        require_staff(principal, Access.WRITE)
        current = await self._offers.get(command.id)
        if current is None:
            raise NotFound("no such marketplace offer", path=("id",))
        changed = OfferMapping(
            marketplace=current.marketplace,
            offer=current.offer,
            plan_key=current.plan_key,
            plan=command.plan or current.plan,
            deployment=command.deployment or current.deployment,
            term_months=command.term_months
            if command.term_months is not None
            else current.term_months,
            seats=None
            if command.seats_from_quantity
            else command.seats
            if command.seats is not None
            else current.seats,
            id=current.id,
        )
        updated = await self._offers.update(replace(changed), self._clock.now())
        if updated is None:
            raise NotFound("no such marketplace offer", path=("id",))
        return updated

    async def delete(self, principal: Principal, mapping_id: uuid.UUID) -> OfferMapping:
        require_staff(principal, Access.WRITE)
        deleted = await self._offers.delete(mapping_id)
        if deleted is None:
            raise NotFound("no such marketplace offer", path=("id",))
        return deleted
