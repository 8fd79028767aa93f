"""Dedicated tenants and the provisioner callbacks already applied (docs/dedicated.md)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from domain.model.dedicated import DedicatedTenant, TenantFacts, TenantState, TenantStateChange
from persistence.database import Database

TENANT_COLUMNS = (
    "id, subscription, facts, state, history, last_error, failed_from, license_id, tenant_url,"
    " created_at"
)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def history_to_json(history: Sequence[TenantStateChange]) -> list[dict[str, Any]]:
    return [
        {
            "at": h.at.isoformat(),
            "from": h.from_state.value if h.from_state else None,
            "to": h.to_state.value,
            "reason": h.reason,
        }
        for h in history
    ]


def tenant_from_row(row: asyncpg.Record) -> DedicatedTenant:
    return DedicatedTenant(
        id=row["id"],
        subscription_id=row["subscription"],
        facts=TenantFacts.from_json(_json(row["facts"])),
        created_at=row["created_at"],
        state=TenantState(row["state"]),
        history=tuple(
            TenantStateChange(
                datetime.fromisoformat(h["at"]),
                TenantState(h["from"]) if h["from"] else None,
                TenantState(h["to"]),
                h["reason"],
            )
            for h in _json(row["history"])
        ),
        last_error=row["last_error"],
        failed_from=TenantState(row["failed_from"]) if row["failed_from"] else None,
        license_id=row["license_id"],
        tenant_url=row["tenant_url"],
    )


class PostgresDedicatedTenants:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, tenant: DedicatedTenant) -> None:
        await self._db.fetch(
            f"INSERT INTO dedicated_tenant ({TENANT_COLUMNS}, updated_at)"
            " VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8, $9, $10, $10)",
            tenant.id,
            tenant.subscription_id,
            orjson.dumps(tenant.facts.as_json()).decode(),
            tenant.state.value,
            orjson.dumps(history_to_json(tenant.history)).decode(),
            tenant.last_error,
            tenant.failed_from.value if tenant.failed_from else None,
            tenant.license_id,
            tenant.tenant_url,
            tenant.created_at,
        )

    async def get(self, tenant_id: uuid.UUID) -> DedicatedTenant | None:
        row = await self._db.fetchrow(
            f"SELECT {TENANT_COLUMNS} FROM dedicated_tenant WHERE id = $1 FOR UPDATE", tenant_id
        )
        return tenant_from_row(row) if row else None

    async def for_subscription(self, subscription_id: uuid.UUID) -> DedicatedTenant | None:
        row = await self._db.fetchrow(
            f"SELECT {TENANT_COLUMNS} FROM dedicated_tenant WHERE subscription = $1 FOR UPDATE",
            subscription_id,
        )
        return tenant_from_row(row) if row else None

    async def save(self, tenant: DedicatedTenant) -> None:
        at = tenant.history[-1].at if tenant.history else tenant.created_at
        await self._db.fetch(
            "UPDATE dedicated_tenant SET facts = $2::jsonb, state = $3, history = $4::jsonb,"
            " last_error = $5, failed_from = $6, license_id = $7, tenant_url = $8,"
            " updated_at = greatest(updated_at, $9) WHERE id = $1",
            tenant.id,
            orjson.dumps(tenant.facts.as_json()).decode(),
            tenant.state.value,
            orjson.dumps(history_to_json(tenant.history)).decode(),
            tenant.last_error,
            tenant.failed_from.value if tenant.failed_from else None,
            tenant.license_id,
            tenant.tenant_url,
            at,
        )

    async def first_callback(self, callback_id: str, at: datetime) -> bool:
        added = await self._db.fetchval(
            "INSERT INTO dedicated_callback (id, received_at) VALUES ($1, $2)"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            callback_id,
            at,
        )
        return added is not None

    async def active(self) -> Sequence[DedicatedTenant]:
        rows = await self._db.fetch(
            f"SELECT {TENANT_COLUMNS} FROM dedicated_tenant WHERE state = 'ACTIVE'"
            " ORDER BY id FOR UPDATE SKIP LOCKED"
        )
        return [tenant_from_row(row) for row in rows]
