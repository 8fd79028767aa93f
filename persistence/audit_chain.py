"""Reading the audit chain back (docs/audit.md): every entry in chain order for
``provision audit verify``, the stored head, and a day's head for ``provision audit anchor``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from domain.model.audit import AuditEntry
from domain.model.audit_chain import CHAIN, GENESIS, ChainHead, ChainProblem, ChainVerifier

Connection = asyncpg.Connection | PoolConnectionProxy
BATCH = 2000
_COLUMNS = (
    "id, actor_kind, actor_subject, action, object_type, object_id, idempotency_key,"
    " before::text AS before, after::text AS after, at, reason, sequence, previous_hash, hash"
)


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        actor_kind=row["actor_kind"],
        actor_subject=row["actor_subject"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        idempotency_key=row["idempotency_key"],
        before=json.loads(row["before"]),
        after=json.loads(row["after"]),
        at=row["at"],
        reason=row["reason"],
        sequence=row["sequence"],
        previous_hash=row["previous_hash"],
        hash=row["hash"],
    )


async def entries(connection: Connection) -> AsyncIterator[AuditEntry]:
    """Every entry by sequence (keyset pages), then the rows with no sequence."""
    last = 0
    while True:
        rows = await connection.fetch(
            f"SELECT {_COLUMNS} FROM audit_entry WHERE sequence > $1 ORDER BY sequence LIMIT $2",
            last,
            BATCH,
        )
        for row in rows:
            yield _entry(row)
        if len(rows) < BATCH:
            break
        last = rows[-1]["sequence"]
    for row in await connection.fetch(
        f"SELECT {_COLUMNS} FROM audit_entry WHERE sequence IS NULL OR sequence < 1 ORDER BY at, id"
    ):
        yield _entry(row)


async def stored_head(connection: Connection) -> ChainHead | None:
    row = await connection.fetchrow(
        "SELECT sequence, hash FROM audit_chain_head WHERE chain = $1", CHAIN
    )
    return None if row is None else ChainHead(int(row["sequence"]), row["hash"])


@dataclass(frozen=True)
class Verification:
    entries: int
    head: ChainHead | None
    problems: list[ChainProblem]


async def verify(connection: Connection, anchor: ChainHead | None = None) -> Verification:
    """The chain checked end to end, against its head row and ``anchor`` if given."""
    head = await stored_head(connection)
    verifier = ChainVerifier(head=head, anchor=anchor)
    async for entry in entries(connection):
        verifier.feed(entry)
    problems = verifier.finish()
    if head is None and verifier.entries:
        problems.append(
            ChainProblem("removed", "the chain head row (audit_chain_head) was removed")
        )
    return Verification(verifier.entries, head, problems)


@dataclass(frozen=True)
class DayHead:
    """The chain as it stood at the end of ``day`` (UTC): its last entry on or before it."""

    day: date
    head: ChainHead
    entry_id: str | None
    entries_that_day: int


async def day_head(connection: Connection, day: date) -> DayHead:
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    row = await connection.fetchrow(
        "SELECT id, sequence, hash FROM audit_entry WHERE at < $1 AND sequence IS NOT NULL"
        " ORDER BY sequence DESC LIMIT 1",
        end,
    )
    count = await connection.fetchval(
        "SELECT count(*) FROM audit_entry WHERE at >= $1 AND at < $2", start, end
    )
    if row is None:
        return DayHead(day, ChainHead(0, GENESIS), None, int(count))
    return DayHead(day, ChainHead(int(row["sequence"]), row["hash"]), str(row["id"]), int(count))
