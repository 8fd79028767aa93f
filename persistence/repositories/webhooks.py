"""Webhook endpoints: the repository the use cases write through, and the principal's list
(its reach as SQL, so another tenant's endpoints are never fetched)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from domain.model.webhook import WebhookDelivery, WebhookEndpoint, WebhookEventType
from domain.policy import Reach, Resource, reach
from domain.principal import Principal
from persistence.database import Database
from persistence.keyset import Page

COLUMNS = (
    "id, customer, partner_id, url, event_types, description, enabled, secret, created_at,"
    " updated_at, previous_secret, previous_secret_until"
)


def endpoint_from_row(row: asyncpg.Record) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        customer_id=row["customer"],
        partner_id=row["partner_id"],
        url=row["url"],
        event_types=tuple(WebhookEventType(t) for t in row["event_types"]),
        description=row["description"],
        enabled=row["enabled"],
        secret=row["secret"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        previous_secret=row["previous_secret"],
        previous_secret_until=row["previous_secret_until"],
    )


class PostgresWebhookEndpoints:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._db.fetch(
            f"INSERT INTO webhook_endpoint ({COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            endpoint.id,
            endpoint.customer_id,
            endpoint.partner_id,
            endpoint.url,
            [t.value for t in endpoint.event_types],
            endpoint.description,
            endpoint.enabled,
            endpoint.secret,
            endpoint.created_at,
            endpoint.updated_at,
            endpoint.previous_secret,
            endpoint.previous_secret_until,
        )

    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        row = await self._db.fetchrow(
            f"SELECT {COLUMNS} FROM webhook_endpoint WHERE id = $1", endpoint_id
        )
        return endpoint_from_row(row) if row else None

    async def save(self, endpoint: WebhookEndpoint) -> None:
        await self._db.fetch(
            "UPDATE webhook_endpoint SET url = $2, event_types = $3, description = $4,"
            " enabled = $5, secret = $6, updated_at = $7, previous_secret = $8,"
            " previous_secret_until = $9 WHERE id = $1",
            endpoint.id,
            endpoint.url,
            [t.value for t in endpoint.event_types],
            endpoint.description,
            endpoint.enabled,
            endpoint.secret,
            endpoint.updated_at,
            endpoint.previous_secret,
            endpoint.previous_secret_until,
        )

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        await self._db.fetch("DELETE FROM webhook_endpoint WHERE id = $1", endpoint_id)

    async def hearing(
        self, event_type: WebhookEventType, customer_id: uuid.UUID | None, partner_id: str | None
    ) -> Sequence[WebhookEndpoint]:
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM webhook_endpoint"
            " WHERE enabled AND $1 = ANY(event_types)"
            " AND (customer = $2 OR (partner_id IS NOT NULL AND partner_id = $3)"
            "      OR (customer IS NULL AND partner_id IS NULL))"
            " ORDER BY id",
            event_type.value,
            customer_id,
            partner_id,
        )
        return [endpoint_from_row(row) for row in rows]

    async def recent_outcomes(
        self, endpoint_id: uuid.UUID, limit: int, excluding: uuid.UUID | None = None
    ) -> Sequence[str]:
        rows = await self._db.fetch(
            "SELECT status FROM provision_event WHERE kind = 'WEBHOOK_DELIVERY'"
            " AND (payload->>'endpoint_id') = $1 AND status IN ('SUCCEEDED', 'DEAD', 'RESOLVED')"
            " AND ($2::uuid IS NULL OR id <> $2) ORDER BY id DESC LIMIT $3",
            str(endpoint_id),
            excluding,
            limit,
        )
        return [row["status"] for row in rows]

    def _reach(self, principal: Principal, arg: int) -> tuple[str, list[object]] | None:
        """The principal's endpoints as a condition on ``w`` (its argument is ``$<arg>``),
        or None when it sees none."""
        level = reach(principal, Resource.WEBHOOKS)
        if level is Reach.EVERYTHING:
            return "TRUE", []
        if level is Reach.OWN_CHANNEL:
            return f"w.partner_id = ${arg}", [principal.partner_id]
        if level is Reach.OWN_CUSTOMERS:
            members = f"SELECT vm.customer FROM membership vm WHERE vm.user_subject = ${arg}"
            return f"w.customer IN ({members})", [principal.subject]
        return None

    async def visible_to(
        self, principal: Principal, first: int, after: uuid.UUID | None
    ) -> Page[WebhookEndpoint]:
        """The endpoints ``principal`` sees, oldest first (UUIDv7 ids), a keyset page."""
        where = self._reach(principal, 3)
        if where is None:
            return Page([], False)
        condition, args = where
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM webhook_endpoint w"
            f" WHERE {condition} AND ($1::uuid IS NULL OR w.id > $1) ORDER BY w.id LIMIT $2",
            after,
            first + 1,
            *args,
        )
        items = [endpoint_from_row(row) for row in rows[:first]]
        return Page(items, len(rows) > first)

    async def count_visible(self, principal: Principal) -> int:
        where = self._reach(principal, 1)
        if where is None:
            return 0
        condition, args = where
        count: int = await self._db.fetchval(
            f"SELECT count(*) FROM webhook_endpoint w WHERE {condition}", *args
        )
        return count


_DELIVERY_COLUMNS = (
    "e.id, e.payload->>'endpoint_id' AS endpoint_id, e.payload->>'event_type' AS event_type,"
    " e.payload->>'webhook_id' AS webhook_id, e.status, e.attempts, e.max_attempts,"
    " e.next_attempt_at, e.created_at, e.last_error, e.subscription_id, r.status_code,"
    " r.latency_ms, r.attempted_at"
)
_DELIVERY_FROM = (
    "FROM provision_event e LEFT JOIN webhook_delivery_result r ON r.id = e.id"
    " WHERE e.kind = 'WEBHOOK_DELIVERY'"
)
_OPEN = ("PENDING", "RUNNING", "FAILED")


def delivery_from_row(row: asyncpg.Record) -> WebhookDelivery:
    status = row["status"]
    return WebhookDelivery(
        id=row["id"],
        endpoint_id=uuid.UUID(row["endpoint_id"]),
        event_type=row["event_type"],
        webhook_id=row["webhook_id"] or f"msg_{row['id'].hex}",
        status=status,
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        next_attempt_at=row["next_attempt_at"] if status in _OPEN else None,
        created_at=row["created_at"],
        last_error=row["last_error"],
        subscription_id=row["subscription_id"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        attempted_at=row["attempted_at"],
    )


class PostgresWebhookDeliveries:
    """Deliveries as their endpoint's owner reads them, and each attempt's answer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_result(
        self,
        event_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        status_code: int | None,
        latency_ms: int | None,
        at: datetime,
    ) -> None:
        await self._db.fetch(
            "INSERT INTO webhook_delivery_result (id, endpoint_id, status_code, latency_ms,"
            " attempted_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET"
            " status_code = EXCLUDED.status_code, latency_ms = EXCLUDED.latency_ms,"
            " attempted_at = EXCLUDED.attempted_at",
            event_id,
            endpoint_id,
            status_code,
            latency_ms,
            at,
        )

    async def get(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        row = await self._db.fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} {_DELIVERY_FROM} AND e.id = $1", delivery_id
        )
        return delivery_from_row(row) if row else None

    async def for_endpoint(
        self,
        endpoint_id: uuid.UUID,
        first: int,
        after: uuid.UUID | None,
        status: str | None = None,
    ) -> Page[WebhookDelivery]:
        """The endpoint's deliveries, newest first (a keyset page on the row id)."""
        rows = await self._db.fetch(
            f"SELECT {_DELIVERY_COLUMNS} {_DELIVERY_FROM}"
            " AND (e.payload->>'endpoint_id') = $1 AND ($2::uuid IS NULL OR e.id < $2)"
            " AND ($3::text IS NULL OR e.status = $3) ORDER BY e.id DESC LIMIT $4",
            str(endpoint_id),
            after,
            status,
            first + 1,
        )
        return Page([delivery_from_row(r) for r in rows[:first]], len(rows) > first)

    async def count_for_endpoint(self, endpoint_id: uuid.UUID, status: str | None = None) -> int:
        count: int = await self._db.fetchval(
            f"SELECT count(*) {_DELIVERY_FROM} AND (e.payload->>'endpoint_id') = $1"
            " AND ($2::text IS NULL OR e.status = $2)",
            str(endpoint_id),
            status,
        )
        return count
