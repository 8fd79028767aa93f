"""Partner organisations: staff register and rename them; a partner sees itself, nobody else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import NotFound, ValidationFailed
from domain.model.audit import AuditEntry
from domain.model.partner import Partner, PartnerKind, check_partner_id
from domain.policy import Access, Reach, Resource, reach, require_scope
from domain.ports import Clock, UnitOfWork
from domain.principal import Principal


@dataclass(frozen=True)
class CreatePartner:
    id: str
    name: str
    kind: PartnerKind


@dataclass(frozen=True)
class UpdatePartner:
    id: str
    name: str | None = None
    kind: PartnerKind | None = None


def _summary(partner: Partner) -> dict[str, Any]:
    return {"id": partner.id, "name": partner.name, "kind": partner.kind.value}


def sees_partner(principal: Principal, partner_id: str) -> bool:
    """Staff see every partner; a partner its own row; nobody else a partner by itself."""
    level = reach(principal, Resource.PARTNERS)
    if level is Reach.EVERYTHING:
        return True
    return level is Reach.OWN_CHANNEL and principal.partner_id == partner_id


class Partners:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    async def get(self, principal: Principal, partner_id: str) -> Partner:
        """The partner, or ``NotFound`` (also for one outside the principal's reach)."""
        require_scope(principal, Resource.PARTNERS, Access.READ)
        async with self._unit_of_work() as uow:
            partner = (
                await uow.partners.get(partner_id) if sees_partner(principal, partner_id) else None
            )
        if partner is None:
            raise NotFound("no such partner", path=("id",))
        return partner

    async def create(self, principal: Principal, command: CreatePartner) -> Partner:
        require_scope(principal, Resource.PARTNERS, Access.WRITE)
        async with self._unit_of_work() as uow:
            now = self._clock.now()
            partner = Partner(check_partner_id(command.id), command.name, command.kind, now)
            if not await uow.partners.add(partner):
                raise ValidationFailed(f"a partner with id {partner.id!r} exists", path=("id",))
            await uow.audit.record(
                AuditEntry.of(
                    principal, "createPartner", "Partner", None, now, after=_summary(partner)
                )
            )
            await uow.commit()
        return partner

    async def update(self, principal: Principal, command: UpdatePartner) -> Partner:
        require_scope(principal, Resource.PARTNERS, Access.WRITE)
        if command.name is None and command.kind is None:
            raise ValidationFailed("nothing to change: give `name` or `kind`", path=("name",))
        async with self._unit_of_work() as uow:
            partner = await uow.partners.get(command.id)
            if partner is None:
                raise NotFound("no such partner", path=("id",))
            before = _summary(partner)
            partner.update(name=command.name, kind=command.kind)
            await uow.partners.save(partner)
            await uow.audit.record(
                AuditEntry.of(
                    principal,
                    "updatePartner",
                    "Partner",
                    None,
                    self._clock.now(),
                    before=before,
                    after=_summary(partner),
                )
            )
            await uow.commit()
        return partner
