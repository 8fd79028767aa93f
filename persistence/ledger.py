"""The provisioning ledger on PostgreSQL: the outbox writer, the workers' claim under a lease,
outcomes fenced by the lease owner, and the scheduled-job run claims.

Time comes from the Clock port only, never from the database's ``now()``: each statement that
compares or computes times takes the clock's instant as a bound parameter. The times it is
compared with (next attempt, created, updated) come from the same Clock, so a database whose
clock differs from the hosts' (or a Clock a test or a sandbox moves) changes nothing. The SQL
conditions restate ``ProvisionEvent.is_claimable`` / ``is_lost``; tests/integration/
test_rule_contract.py holds both to one table of cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import asyncpg
import orjson

from domain.model.ids import new_id
from domain.model.provision_event import ProvisionEvent, ProvisionStatus
from domain.model.restore import restore
from domain.ports import Clock
from persistence.database import Database
from persistence.tenant_time import real_time

EVENT_COLUMNS = (
    "id, kind, correlation_id, subscription_id, namespace_id, instance_id, payload::text,"
    " status, attempts, max_attempts, next_attempt_at, last_error, lease_owner, lease_until,"
    " created_at, updated_at, resolved_reason, resolved_at"
)

_INSERT = (
    "INSERT INTO provision_event (id, kind, correlation_id, subscription_id, namespace_id,"
    " instance_id, payload, status, attempts, max_attempts, next_attempt_at, last_error,"
    " lease_owner, lease_until, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
)

_INSERT_ONCE = (
    _INSERT + " ON CONFLICT ((payload->>'once')) WHERE (payload->>'once') IS NOT NULL"
    " DO NOTHING RETURNING id"
)

# The CTEs pick and lock the rows (waiting ones by the partial index provision_event_due, in
# due order, and expired leases by provision_event_leased: two scans that each stop at the
# limit, where one OR-ed condition would scan the table); SKIP LOCKED lets concurrent
# claimers pass over each other's picks instead of waiting, so no two claims return the same
# row. A row locked but not among the first $3 is left as it was. MATERIALIZED: an
# `id IN (subquery with LIMIT)` may be evaluated again by the UPDATE under concurrency and
# take more rows than the limit. A RUNNING row on an expired lease with no attempt left is not
# reclaimed: the clean-up job gives it up. $4 is the clock's now, $2 now + lease; $5 the
# kinds the claiming worker can run (NULL: any).
# FIFO lanes: a row whose payload names a lane (``fifo``, a webhook delivery's endpoint and
# subscription) is not taken while an older row (smaller UUIDv7 id) of the same lane is
# PENDING, RUNNING or FAILED; it goes once that one SUCCEEDED, went DEAD or was RESOLVED. A
# concurrent claimer sees the older row unfinished too (committed or not), so no two rows of
# a lane run at once (the partial index provision_event_fifo keeps this cheap).
_FIFO_FREE = """((e0.payload->>'fifo') IS NULL OR NOT EXISTS (
            SELECT 1 FROM provision_event older
             WHERE (older.payload->>'fifo') = (e0.payload->>'fifo') AND older.id < e0.id
               AND older.status IN ('PENDING', 'RUNNING', 'FAILED')))"""

_CLAIM = f"""
WITH lost AS MATERIALIZED (
       SELECT id AS due_id, next_attempt_at FROM provision_event
        WHERE status = 'RUNNING' AND lease_until < $4 AND attempts < max_attempts
          AND ($5::text[] IS NULL OR kind = ANY($5::text[]))
        ORDER BY lease_until
        LIMIT $3
          FOR UPDATE SKIP LOCKED),
     waiting AS MATERIALIZED (
       SELECT id AS due_id, next_attempt_at FROM provision_event e0
        WHERE status IN ('PENDING', 'FAILED') AND next_attempt_at <= $4
          AND ($5::text[] IS NULL OR kind = ANY($5::text[]))
          AND {_FIFO_FREE}
        ORDER BY next_attempt_at
        LIMIT $3
          FOR UPDATE SKIP LOCKED),
     due AS (
       SELECT due_id FROM (SELECT * FROM lost UNION ALL SELECT * FROM waiting) picked
        ORDER BY next_attempt_at
        LIMIT $3)
UPDATE provision_event e
   SET status = 'RUNNING', lease_owner = $1, lease_until = $2,
       attempts = e.attempts + 1, updated_at = $4
  FROM due
 WHERE e.id = due.due_id
RETURNING {EVENT_COLUMNS}
"""

# One named row, claimed ahead of its due time (``ProvisionEvent.is_claimable_at_once``). The
# row lock makes a concurrent worker's claim skip it (SKIP LOCKED) or, once committed, find it
# RUNNING; a concurrent claim_one of the same row waits, then finds it RUNNING and takes nothing.
_CLAIM_ONE = f"""
UPDATE provision_event
   SET status = 'RUNNING', lease_owner = $1, lease_until = $2,
       attempts = attempts + 1, updated_at = $4
 WHERE id = $3
   AND (status IN ('PENDING', 'FAILED')
        OR (status = 'RUNNING' AND lease_until < $4 AND attempts < max_attempts))
RETURNING {EVENT_COLUMNS}
"""

_FINISH = (
    "UPDATE provision_event SET status = $3, attempts = $4, next_attempt_at = $5,"
    " last_error = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7"
    " WHERE id = $1 AND status = 'RUNNING' AND lease_owner = $2 RETURNING id"
)

_LOST = "status = 'RUNNING' AND lease_until < $1 AND attempts >= max_attempts"

_EXPIRED_WITHOUT_ATTEMPTS = (
    f"SELECT {EVENT_COLUMNS} FROM provision_event WHERE {_LOST} ORDER BY lease_until LIMIT $2"
)

_GIVE_UP = (
    "UPDATE provision_event SET status = 'DEAD', last_error = $3, lease_owner = NULL,"
    f" lease_until = NULL, updated_at = $4 WHERE id = $2 AND {_LOST} RETURNING id"
)

_EXTEND_LEASES = (
    "UPDATE provision_event SET lease_until = $3"
    " WHERE id = ANY($2) AND status = 'RUNNING' AND lease_owner = $1 RETURNING id"
)


def event_from_row(row: asyncpg.Record) -> ProvisionEvent:
    return restore(
        ProvisionEvent,
        id=row["id"],
        kind=row["kind"],
        correlation_id=row["correlation_id"],
        subscription_id=row["subscription_id"],
        namespace_id=row["namespace_id"],
        instance_id=row["instance_id"],
        payload=orjson.loads(row["payload"]),
        status=ProvisionStatus(row["status"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resolved_reason=row["resolved_reason"],
        resolved_at=row["resolved_at"],
    )


def _insert_args(event: ProvisionEvent) -> tuple[object, ...]:
    return (
        event.id,
        event.kind,
        event.correlation_id,
        event.subscription_id,
        event.namespace_id,
        event.instance_id,
        orjson.dumps(event.payload).decode(),
        event.status.value,
        event.attempts,
        event.max_attempts,
        real_time(event.next_attempt_at),  # a sandbox's row is due in real time (tenant_time)
        event.last_error,
        event.lease_owner,
        event.lease_until,
        event.created_at,
        event.updated_at,
    )


class PostgresOutbox:
    """Writes provision events into the current transaction (the unit of work's)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, event: ProvisionEvent) -> None:
        if self._db.engine.current_transaction.get() is None:
            raise RuntimeError("the outbox records events only inside a transaction")
        await self._db.fetch(_INSERT, *_insert_args(event))

    async def record_once(self, event: ProvisionEvent) -> bool:
        """Dropped when a row with the same ``payload->>'once'`` exists (the unique partial
        index ``provision_event_once``; a concurrent insert of the same key waits for the
        other transaction and is dropped if it commits)."""
        if self._db.engine.current_transaction.get() is None:
            raise RuntimeError("the outbox records events only inside a transaction")
        inserted = await self._db.fetchval(_INSERT_ONCE, *_insert_args(event))
        return inserted is not None

    async def record_many(self, events: Sequence[ProvisionEvent]) -> None:
        """Many events in one round trip (bulk jobs, tests and the bench)."""
        if self._db.engine.current_transaction.get() is None:
            raise RuntimeError("the outbox records events only inside a transaction")
        await self._db.execute_many(_INSERT, [_insert_args(e) for e in events])


class PostgresLedger:
    """The workers' side of the ledger (``domain.ports.Ledger``); due times and leases are
    read on ``clock``, the workers' Clock."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim_due(
        self, owner: str, limit: int, lease: timedelta, kinds: Collection[str] | None = None
    ) -> list[ProvisionEvent]:
        now = self._clock.now()
        wanted = None if kinds is None else sorted(kinds)
        rows = await self._db.fetch(_CLAIM, owner, now + lease, limit, now, wanted)
        events = [event_from_row(row) for row in rows]
        events.sort(key=lambda e: e.next_attempt_at)
        return events

    async def claim_one(
        self, owner: str, event_id: uuid.UUID, lease: timedelta
    ) -> ProvisionEvent | None:
        now = self._clock.now()
        row = await self._db.fetchrow(_CLAIM_ONE, owner, now + lease, event_id, now)
        return event_from_row(row) if row else None

    async def extend_leases(
        self, owner: str, event_ids: Sequence[uuid.UUID], lease: timedelta
    ) -> set[uuid.UUID]:
        until = self._clock.now() + lease
        rows = await self._db.fetch(_EXTEND_LEASES, owner, list(event_ids), until)
        return {row["id"] for row in rows}

    async def finish(
        self, event: ProvisionEvent, owner: str, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        args = (
            event.id,
            owner,
            event.status.value,
            event.attempts,
            event.next_attempt_at,
            event.last_error,
            event.updated_at,
        )
        if not follow_ups:
            return bool(await self._db.fetch(_FINISH, *args))
        async with self._db.engine.transaction():
            if not await self._db.fetch(_FINISH, *args):
                return False
            await PostgresOutbox(self._db).record_many(follow_ups)
        return True

    async def expired_without_attempts(self, limit: int) -> list[ProvisionEvent]:
        rows = await self._db.fetch(_EXPIRED_WITHOUT_ATTEMPTS, self._clock.now(), limit)
        return [event_from_row(row) for row in rows]

    async def give_up(
        self, event: ProvisionEvent, follow_ups: Sequence[ProvisionEvent] = ()
    ) -> bool:
        async with self._db.engine.transaction():
            given_up = await self._db.fetch(
                _GIVE_UP, self._clock.now(), event.id, event.last_error, event.updated_at
            )
            if not given_up:
                return False
            if follow_ups:
                await PostgresOutbox(self._db).record_many(follow_ups)
        return True

    async def get(self, event_id: uuid.UUID) -> ProvisionEvent | None:
        row = await self._db.fetchrow(
            f"SELECT {EVENT_COLUMNS} FROM provision_event WHERE id = $1", event_id
        )
        return event_from_row(row) if row else None


_SAVE = (
    "UPDATE provision_event SET status = $2, attempts = $3, next_attempt_at = $4,"
    " last_error = $5, lease_owner = $6, lease_until = $7, updated_at = $8,"
    " resolved_reason = $9, resolved_at = $10 WHERE id = $1"
)


class PostgresProvisionEvents:
    """Ledger rows as a unit of work changes them (staff retry and resolve), in its
    transaction (``domain.ports.ProvisionEventRepository``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def lock(self, event_id: uuid.UUID) -> ProvisionEvent | None:
        # A worker's claim skips a row locked here (SKIP LOCKED); a claim in progress is
        # waited for, and a claimed row reads as RUNNING.
        row = await self._db.fetchrow(
            f"SELECT {EVENT_COLUMNS} FROM provision_event WHERE id = $1 FOR UPDATE", event_id
        )
        return event_from_row(row) if row else None

    async def save(self, event: ProvisionEvent) -> None:
        await self._db.fetch(
            _SAVE,
            event.id,
            event.status.value,
            event.attempts,
            event.next_attempt_at,
            event.last_error,
            event.lease_owner,
            event.lease_until,
            event.updated_at,
            event.resolved_reason,
            event.resolved_at,
        )


class PostgresScheduledJobRuns:
    """Claims of scheduled job runs (``domain.ports.ScheduledJobRuns``): the unique
    (job_name, due_at) row is the claim, so one insert wins per due time. Start and finish
    times come from ``clock``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, job_name: str, due_at: datetime, owner: str) -> bool:
        rows = await self._db.fetch(
            "INSERT INTO scheduled_job_run (id, job_name, due_at, owner, started_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (job_name, due_at) DO NOTHING RETURNING id",
            new_id(),
            job_name,
            due_at,
            owner,
            self._clock.now(),
        )
        return bool(rows)

    async def finish(self, job_name: str, due_at: datetime, error: str | None) -> None:
        await self._db.fetch(
            "UPDATE scheduled_job_run SET finished_at = $4, error = $3"
            " WHERE job_name = $1 AND due_at = $2",
            job_name,
            due_at,
            error,
            self._clock.now(),
        )


async def unfinished_steps(
    db: Database, kind: str, namespace_id: uuid.UUID, since: datetime
) -> list[uuid.UUID]:
    """The rows of ``kind`` for a namespace recorded at or after ``since`` and not done yet
    (PENDING, RUNNING or FAILED), oldest first."""
    rows = await db.fetch(
        "SELECT id FROM provision_event WHERE kind = $1 AND namespace_id = $2"
        " AND created_at >= $3 AND status IN ('PENDING', 'RUNNING', 'FAILED')"
        " ORDER BY created_at, id",
        kind,
        namespace_id,
        since,
    )
    return [row["id"] for row in rows]


async def count_failures_since(db: Database, since: datetime) -> int:
    """Rows that failed (FAILED or DEAD) and were last touched after ``since``."""
    value = await db.fetchval(
        "SELECT count(*) FROM provision_event WHERE status IN ('FAILED', 'DEAD')"
        " AND updated_at >= $1",
        since,
    )
    return int(value)
