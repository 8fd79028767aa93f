"""Read models of the staff-only resources: the provisioning ledger and the audit trail.

Lists are newest first (by id, time-ordered), served by the ``(filter, id)`` indexes read
backwards. Like every read model, each query takes the principal and cuts rows to its reach in
SQL (``persistence.visibility.staff_only``): anyone but staff gets nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from domain.model.audit import AuditEntry
from domain.model.provision_event import ProvisionEvent
from domain.policy import Resource
from domain.principal import Principal
from persistence.keyset import KeysetQueries, Order, Page, PageRequest, Source, Where, as_request
from persistence.ledger import EVENT_COLUMNS, event_from_row
from persistence.mappers import Row


@dataclass(frozen=True)
class ProvisionEventFilter:
    status: str | None = None
    kind: str | None = None
    kind_not_in: tuple[str, ...] | None = None
    """Only rows of none of these kinds (a plugin's kinds: ``OTHER`` in the API)."""
    subscription_id: uuid.UUID | None = None
    namespace_id: uuid.UUID | None = None
    created_before: datetime | None = None
    """Only rows created at or before this instant (``olderThanSeconds`` in the API)."""


@dataclass(frozen=True)
class AuditFilter:
    object_id: uuid.UUID | None = None
    actor_subject: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class LedgerSummary:
    """Counts of ledger rows by status and kind, and how long the longest-waiting due row
    has waited for a worker."""

    counts: list[tuple[str, str, int]]
    """(status, kind, rows), sorted by status then kind; combinations without rows left out."""
    oldest_due_age_seconds: float
    """Now minus the earliest ``next_attempt_at`` among PENDING or FAILED rows that are due;
    0 when none is due."""


AUDIT_COLUMNS = (
    "id, actor_kind, actor_subject, action, object_type, object_id, idempotency_key,"
    " before::text AS before, after::text AS after, at, reason, chain, sequence, previous_hash,"
    " hash"
)


def audit_from_row(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        actor_kind=row["actor_kind"],
        actor_subject=row["actor_subject"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        idempotency_key=row["idempotency_key"],
        before=orjson.loads(row["before"]),
        after=orjson.loads(row["after"]),
        at=row["at"],
        reason=row["reason"],
        chain=row["chain"],
        sequence=row["sequence"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
    )


_EVENTS = Source("provision_event", "pe", EVENT_COLUMNS, Resource.PROVISION_EVENTS, event_from_row)
_AUDIT = Source("audit_entry", "ae", AUDIT_COLUMNS, Resource.AUDIT, audit_from_row)


def _event_where(flt: ProvisionEventFilter) -> Where:
    where = Where()
    if flt.status is not None:
        where.add(f"pe.status = {where.arg(flt.status)}")
    if flt.kind is not None:
        where.add(f"pe.kind = {where.arg(flt.kind)}")
    if flt.kind_not_in is not None:
        where.add(f"pe.kind <> ALL({where.arg(list(flt.kind_not_in))}::text[])")
    if flt.subscription_id is not None:
        where.add(f"pe.subscription_id = {where.arg(flt.subscription_id)}")
    if flt.namespace_id is not None:
        where.add(f"pe.namespace_id = {where.arg(flt.namespace_id)}")
    if flt.created_before is not None:
        where.add(f"pe.created_at <= {where.arg(flt.created_before)}")
    return where


def _audit_where(flt: AuditFilter) -> Where:
    where = Where()
    if flt.object_id is not None:
        where.add(f"ae.object_id = {where.arg(flt.object_id)}")
    if flt.actor_subject is not None:
        where.add(f"ae.actor_subject = {where.arg(flt.actor_subject)}")
    if flt.action is not None:
        where.add(f"ae.action = {where.arg(flt.action)}")
    return where


class StaffReads(KeysetQueries):
    """The ledger and the audit trail, for staff."""

    # --- provision events ------------------------------------------------------------------

    async def provision_events(
        self,
        principal: Principal,
        flt: ProvisionEventFilter,
        first: int | PageRequest,
        after: uuid.UUID | None = None,
    ) -> Page[ProvisionEvent]:
        """Newest first unless ``first`` is a ``PageRequest`` that says otherwise."""
        request = as_request(first, after, Order(descending=True))
        return await self._keyset_page(principal, _EVENTS, _event_where(flt), request)

    async def count_provision_events(self, principal: Principal, flt: ProvisionEventFilter) -> int:
        return await self._count(principal, _EVENTS, _event_where(flt))

    async def provision_events_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ProvisionEvent]:
        return await self._by_ids(principal, _EVENTS, ids)

    async def provision_event_summary(self, principal: Principal, now: datetime) -> LedgerSummary:
        """The dashboard's figures, over the rows the principal reaches (staff: all)."""
        where = Where()
        self._visible(principal, _EVENTS, where)
        return await self._summary(where, now)

    async def ledger_metrics(self, now: datetime) -> LedgerSummary:
        """The same figures over the whole ledger, for ``/metrics``: aggregates of statuses
        and kinds only (no ids, payloads or errors), so no tenant's data."""
        return await self._summary(Where(), now)

    async def _summary(self, where: Where, now: datetime) -> LedgerSummary:
        # Served by provision_event_status_kind (an index-only scan) and, for the oldest due
        # row, by the claim's partial index on next_attempt_at.
        rows = await self._db.fetch(
            f"SELECT pe.status, pe.kind, count(*) AS n FROM provision_event pe"
            f" WHERE {where.sql()} GROUP BY pe.status, pe.kind ORDER BY pe.status, pe.kind",
            *where.args,
        )
        due = Where()
        due.conditions, due.args = list(where.conditions), list(where.args)
        due.add("pe.status IN ('PENDING', 'FAILED')")
        due.add(f"pe.next_attempt_at <= {due.arg(now)}")
        oldest = await self._db.fetchval(
            f"SELECT min(pe.next_attempt_at) FROM provision_event pe WHERE {due.sql()}", *due.args
        )
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        return LedgerSummary(
            counts=[(row["status"], row["kind"], int(row["n"])) for row in rows],
            oldest_due_age_seconds=age,
        )

    # --- audit entries ---------------------------------------------------------------------

    async def audit_entries(
        self, principal: Principal, flt: AuditFilter, first: int, after: uuid.UUID | None
    ) -> Page[AuditEntry]:
        return await self._page(
            principal, _AUDIT, _audit_where(flt), first, after, newest_first=True
        )

    async def count_audit_entries(self, principal: Principal, flt: AuditFilter) -> int:
        return await self._count(principal, _AUDIT, _audit_where(flt))

    async def audit_entries_by_ids(
        self, principal: Principal, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, AuditEntry]:
        return await self._by_ids(principal, _AUDIT, ids)
