"""What mutations keep beside the change: audit entries and idempotency records."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import asyncpg

from domain.errors import IdempotencyKeyInFlight
from domain.model.audit import AuditEntry
from domain.model.audit_chain import CHAINS, GENESIS, link_hash, stored_json
from domain.model.idempotency import IdempotencyRecord
from domain.model.ids import new_id
from persistence.database import Database


class PostgresAuditLog:
    """Appends to the audit chain (docs/audit.md) when the unit of work commits.

    ``record`` keeps the entry; ``flush`` (the unit of work's last step before COMMIT) locks
    the head row of the first free lane, chains the entries after it and moves the head, in
    the mutation's transaction: each lane's order is its commit order, with no gap or fork,
    and up to ``LANES`` mutations commit at once instead of queueing on one lock held
    through each COMMIT's WAL flush.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self._pending.append(entry)

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        # The first lane no other transaction holds; when all are held (or none exists yet,
        # in an emptied table), make the missing ones and queue on one of them.
        head = await self._db.fetchrow(
            "SELECT chain, sequence, hash FROM audit_chain_head"
            " ORDER BY chain LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        if head is None:
            made = await self._db.fetch(
                "INSERT INTO audit_chain_head (chain, sequence, hash)"
                " SELECT unnest($1::text[]), 0, $2 ON CONFLICT (chain) DO NOTHING"
                " RETURNING chain",
                list(CHAINS),
                GENESIS,
            )
            # A lane made here is this transaction's alone until it commits.
            lane = min(row["chain"] for row in made) if made else random.choice(CHAINS)  # noqa: S311
            head = await self._db.fetchrow(
                "SELECT chain, sequence, hash FROM audit_chain_head WHERE chain = $1 FOR UPDATE",
                lane,
            )
        assert head is not None
        chain, sequence, previous = str(head["chain"]), int(head["sequence"]), str(head["hash"])
        rows = []
        for entry in (replace(e, chain=chain) for e in pending):
            sequence += 1
            digest = link_hash(entry, sequence, previous)
            rows.append(
                (
                    entry.id,
                    entry.actor_kind,
                    entry.actor_subject,
                    entry.action,
                    entry.object_type,
                    entry.object_id,
                    entry.idempotency_key,
                    json.dumps(stored_json(entry.before)),
                    json.dumps(stored_json(entry.after)),
                    entry.at,
                    entry.reason,
                    chain,
                    sequence,
                    previous,
                    digest,
                )
            )
            previous = digest
        insert = (
            "INSERT INTO audit_entry (id, actor_kind, actor_subject, action, object_type,"
            " object_id, idempotency_key, before, after, at, reason, chain, sequence,"
            " previous_hash, hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )
        if len(rows) == 1:  # the usual case: one round trip for the entry and the head
            await self._db.fetch(
                "WITH head AS (UPDATE audit_chain_head SET sequence = $13, hash = $15"
                " WHERE chain = $12) " + insert,
                *rows[0],
            )
            return
        await self._db.execute_many(insert, rows)
        await self._db.fetch(
            "UPDATE audit_chain_head SET sequence = $1, hash = $2 WHERE chain = $3",
            sequence,
            previous,
            chain,
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
