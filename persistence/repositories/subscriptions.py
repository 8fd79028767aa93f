"""Subscriptions (terms, segments, add-ons) and their activation codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from domain.errors import NamespaceAlreadyLinked
from domain.model.ids import new_id
from domain.model.subscription import Subscription, subscription_name
from persistence import seat_usage
from persistence.database import Database
from persistence.mappers import (
    SUBSCRIPTION_COLUMNS,
    subscription_from_row,
)
from persistence.repositories.partners import ensure_partner


class PostgresSubscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.id = $1", subscription_id
        )
        return subscription_from_row(row) if row else None

    async def ending_without_renewal(self, first: date, last: date) -> Sequence[Subscription]:
        # Served by subscription_ending_without_renewal (end_date, same condition).
        rows = await self._db.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.cancelled_at IS NULL"
            " AND (NOT s.auto_renew OR s.cancel_at_period_end)"
            " AND s.end_date BETWEEN $1 AND $2 ORDER BY s.end_date, s.id",
            first,
            last,
        )
        return [subscription_from_row(row) for row in rows]

    async def linked_to(self, namespace_id: uuid.UUID) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.namespace = $1",
            namespace_id,
        )
        return subscription_from_row(row) if row else None

    async def lock(self, subscription_id: uuid.UUID) -> Subscription | None:
        # Lock the bare row first (the column list aggregates children, which FOR UPDATE
        # cannot lock), then read it whole.
        locked = await self._db.fetchval(
            "SELECT id FROM subscription WHERE id = $1 FOR UPDATE", subscription_id
        )
        return await self.get(subscription_id) if locked else None

    async def get_by_name(self, name: str) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.name = $1", name
        )
        return subscription_from_row(row) if row else None

    async def next_name(self) -> str:
        number = await self._db.fetchval("SELECT nextval('subscription_number_seq')")
        return subscription_name(int(number))

    async def add(self, subscription: Subscription) -> None:
        if subscription.partner_id is not None:
            await ensure_partner(
                self._db, subscription.partner_id, subscription.channel, subscription.created_at
            )
        await self._db.fetch(
            "INSERT INTO subscription (id, name, customer, deployment, plan, channel, partner_id,"
            " auto_renew, licensing_mode, max_instances, reconciliation_enabled,"
            " cancel_at_period_end, cancelled_at, namespace, start_date, end_date, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            subscription.id,
            subscription.name,
            subscription.customer_id,
            subscription.deployment.value,
            subscription.plan.value,
            subscription.channel.value,
            subscription.partner_id,
            subscription.auto_renew,
            subscription.licensing_mode.value if subscription.licensing_mode else None,
            subscription.max_instances,
            subscription.reconciliation_enabled,
            subscription.cancel_at_period_end,
            subscription.cancelled_at,
            subscription.namespace_id,
            subscription.start_date,
            subscription.end_date,
            subscription.created_at,
        )
        await self._write_children(subscription)

    async def save(self, subscription: Subscription) -> None:
        try:
            await self._update(subscription)
        except asyncpg.UniqueViolationError:
            # subscription_one_per_namespace: another subscription took the group first.
            raise NamespaceAlreadyLinked(
                "the group is linked to another subscription", path=("namespaceId",)
            ) from None

    async def _update(self, subscription: Subscription) -> None:
        # The row and the removal of its children in one round trip (data-modifying CTEs on
        # other tables all run); the children are then written again by the next statement,
        # which sees the removal.
        await self._db.fetch(
            "WITH segments AS (DELETE FROM subscription_segment WHERE subscription = $1),"
            " add_ons AS (DELETE FROM subscription_add_on WHERE subscription = $1)"
            " UPDATE subscription SET plan = $2, auto_renew = $3, licensing_mode = $4,"
            " max_instances = $5, reconciliation_enabled = $6, cancel_at_period_end = $7,"
            " cancelled_at = $8, namespace = $9, start_date = $10, end_date = $11,"
            " channel = $12, partner_id = $13 WHERE id = $1",
            subscription.id,
            subscription.plan.value,
            subscription.auto_renew,
            subscription.licensing_mode.value if subscription.licensing_mode else None,
            subscription.max_instances,
            subscription.reconciliation_enabled,
            subscription.cancel_at_period_end,
            subscription.cancelled_at,
            subscription.namespace_id,
            subscription.start_date,
            subscription.end_date,
            subscription.channel.value,
            subscription.partner_id,
        )
        await self._write_children(subscription)
        # New seats (an amendment, a ramp, a renewal's segments) change the overage.
        await seat_usage.refresh(self._db, subscription.id)

    async def _write_children(self, subscription: Subscription) -> None:
        await self._db.execute_many(
            "INSERT INTO subscription_segment (id, subscription, term_index, start_date, end_date,"
            " seats) VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (uuid.uuid4(), subscription.id, index, s.start_date, s.end_date, s.seats)
                for index, term in enumerate(subscription.terms)
                for s in term.segments
            ],
        )
        if subscription.add_ons:
            await self._db.execute_many(
                "INSERT INTO subscription_add_on (id, subscription, kind, quantity, start_date,"
                " end_date) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (
                        uuid.uuid4(),
                        subscription.id,
                        a.kind.value,
                        a.quantity,
                        a.start_date,
                        a.end_date,
                    )
                    for a in subscription.add_ons
                ],
            )


class PostgresActivationCodes:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, subscription_id: uuid.UUID, code_hash: str, at: datetime) -> None:
        await self._db.fetch(
            "INSERT INTO activation_code (id, subscription, code_hash, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (subscription)"
            " DO UPDATE SET code_hash = EXCLUDED.code_hash, created_at = EXCLUDED.created_at",
            new_id(),
            subscription_id,
            code_hash,
            at,
        )

    async def subscription_for(self, code_hash: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._db.fetchval(
            "SELECT subscription FROM activation_code WHERE code_hash = $1", code_hash
        )
        return found
