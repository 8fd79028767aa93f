"""The staff's offer mapping (docs/marketplaces.md): which Provision plan, deployment, seats
and term a marketplace offer and plan sell. Staff only (``marketplaces:write``). Every change
is audited (actor, before and after) in the transaction that makes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from domain.errors import Forbidden, NotFound
from domain.model.audit import AuditEntry
from domain.model.enums import Deployment, Plan
from domain.model.marketplace import Marketplace, OfferMapping
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal


class OfferRepository(Protocol):
    """Joins the unit of work open on the caller's task (``PostgresOfferMappings`` does)."""

    async def find(
        self, marketplace: Marketplace, offer: str, plan_key: str
    ) -> OfferMapping | None: ...

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


def _summary(mapping: OfferMapping) -> dict[str, Any]:
    return {
        "marketplace": mapping.marketplace.value,
        "offer": mapping.offer,
        "planKey": mapping.plan_key,
        "plan": mapping.plan.value,
        "deployment": mapping.deployment.value,
        "seats": mapping.seats,
        "termMonths": mapping.term_months,
    }


class MarketplaceOffers:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], offers: OfferRepository, clock: Clock
    ) -> None:
        self._unit_of_work = unit_of_work
        self._offers = offers
        self._clock = clock

    @staticmethod
    async def _audit(
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        mapping: OfferMapping,
        now: datetime,
        before: OfferMapping | None,
        after: OfferMapping | None,
    ) -> None:
        await uow.audit.record(
            AuditEntry.of(
                principal,
                action,
                "MarketplaceOffer",
                mapping.id,
                now,
                before=_summary(before) if before else None,
                after=_summary(after) if after else None,
            )
        )

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
        now = self._clock.now()
        async with self._unit_of_work() as uow:
            before = await self._offers.find(mapping.marketplace, mapping.offer, mapping.plan_key)
            stored = await self._offers.put(mapping, now)
            await self._audit(uow, principal, "setMarketplaceOffer", stored, now, before, stored)
            await uow.commit()
        return stored

    async def update(self, principal: Principal, command: UpdateOffer) -> OfferMapping:
        require_staff(principal, Access.WRITE)
        async with self._unit_of_work() as uow:
            current = await self._offers.get(command.id)
            if current is None:
                raise NotFound("no such marketplace offer", path=("id",))
            updated = await self._update(current, command)
            now = self._clock.now()
            await self._audit(
                uow, principal, "updateMarketplaceOffer", updated, now, current, updated
            )
            await uow.commit()
        return updated

    async def _update(self, current: OfferMapping, command: UpdateOffer) -> OfferMapping:
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
        async with self._unit_of_work() as uow:
            deleted = await self._offers.delete(mapping_id)
            if deleted is None:
                raise NotFound("no such marketplace offer", path=("id",))
            now = self._clock.now()
            await self._audit(uow, principal, "deleteMarketplaceOffer", deleted, now, deleted, None)
            await uow.commit()
        return deleted
