"""Webhook endpoints: the repository the use cases write through, and the principal's list
(its reach as SQL, so another tenant's endpoints are never fetched)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from domain.model.webhook import WebhookEndpoint, WebhookEventType
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
