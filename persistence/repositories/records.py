"""What mutations keep beside the change: audit entries and idempotency records."""

from __future__ import annotations

import json

import asyncpg

from domain.errors import IdempotencyKeyInFlight
from domain.model.audit import AuditEntry
from domain.model.idempotency import IdempotencyRecord
from domain.model.ids import new_id
from persistence.database import Database


class PostgresAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> None:
        await self._db.fetch(
            "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type,"
            " object_id, idempotency_key, before, after, at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            entry.id,
            entry.actor_kind,
            entry.actor_subject,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.idempotency_key,
            json.dumps(dict(entry.before), default=str),
            json.dumps(dict(entry.after), default=str),
            entry.at,
        )


class PostgresIdempotency:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, scope: str, operation: str, key: str) -> IdempotencyRecord | None:
        row = await self._db.fetchrow(
            "SELECT fingerprint, result, created_at FROM idempotency_record"
            " WHERE scope = $1 AND operation = $2 AND key = $3",
            scope,
            operation,
            key,
        )
        if row is None:
            return None
        return IdempotencyRecord(
            scope,
            operation,
            key,
            row["fingerprint"],
            json.loads(row["result"]),
            created_at=row["created_at"],
        )

    async def save(self, record: IdempotencyRecord) -> None:
        try:
            await self._db.fetch(
                "INSERT INTO idempotency_record (id, scope, operation, key, fingerprint, result,"
                " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                new_id(),
                record.scope,
                record.operation,
                record.key,
                record.fingerprint,
                json.dumps(record.result),
                record.created_at,
            )
        except asyncpg.UniqueViolationError:
            raise IdempotencyKeyInFlight(
                "a request with this idempotency key is in progress; retry shortly",
                path=("idempotencyKey",),
            ) from None
