"""Dry runs (docs/dry-runs.md): a request that changes nothing, answered as if it had.

A dry run pins ONE pooled connection and opens a transaction on it (``DryRun.open``). While
it is open in a task's context (``DryRun.entered``), that transaction is what every query of
the task joins: piccolo's (through the engine's current transaction, ``CurrentTransaction``)
and ``Database.fetch``'s. A unit of work opened inside it gets a savepoint instead of a
transaction of its own (``DryRunSavepoint``), so a use case that rolls back still does. At the
end the transaction is rolled back (``DryRun.close``): nothing was committed, so the worker
never sees a ledger row of it (no email, webhook or provisioning call is sent) and no
idempotency key is consumed.

What a part of the dry run wrote (``DryRun.mark`` then ``DryRun.written``) is found without a
journal: the rows this transaction (or one of its savepoints) wrote are the rows it sees
whose ``xmin`` is a transaction id assigned after the mark and still in progress (a
concurrent writer's rows are committed when we see them, or invisible). Which tables to look
in, and how many rows were deleted, come from ``pg_stat_xact_user_tables``, the transaction's
own counters.

The connection is shared by the request's concurrent resolvers, so its statements go one at a
time (``LockedConnection``). Code that takes a connection from the pool itself (the license
signer's key, the activation failure limiter) is not part of the dry run: see the docs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from piccolo.engine.exceptions import TransactionError

_CURRENT: ContextVar[DryRun | None] = ContextVar("provision_dry_run", default=None)
XID_SPAN = 1 << 32


def current() -> DryRun | None:
    """The dry run open in this context, if any."""
    run = _CURRENT.get()
    return run if run is not None and run.connection is not None else None


class LockedConnection:
    """A connection whose statements run one at a time (a dry run's resolvers share it)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._lock = asyncio.Lock()

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await self.raw.fetch(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await self.raw.fetchrow(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await self.raw.fetchval(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await self.raw.execute(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await self.raw.executemany(*args, **kwargs)

    def is_in_transaction(self) -> bool:
        return bool(self.raw.is_in_transaction())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class DryRunTransaction:
    """The dry run's transaction as piccolo and ``Database`` see it: its connection."""

    _parent = None

    def __init__(self, engine: Any, run: DryRun) -> None:
        self.engine = engine
        self.run = run

    @property
    def connection(self) -> LockedConnection:
        assert self.run.connection is not None
        return self.run.connection


class DryRunSavepoint:
    """What ``engine.transaction()`` opens inside a dry run: a savepoint, with a piccolo
    transaction's commit (RELEASE), rollback (ROLLBACK TO) and context manager."""

    _parent = None

    def __init__(self, engine: Any, run: DryRun) -> None:
        self.engine = engine
        self.run = run
        self.name = run.next_savepoint()
        self._done = False
        self._context: Token[Any] | None = None

    @property
    def connection(self) -> LockedConnection:
        assert self.run.connection is not None
        return self.run.connection

    async def __aenter__(self) -> DryRunSavepoint:
        await self.connection.execute(f"SAVEPOINT {self.name}")
        self._context = self.engine.current_transaction.set(self)
        return self

    async def commit(self) -> None:
        await self.connection.execute(f"RELEASE SAVEPOINT {self.name}")
        self._done = True

    async def rollback(self) -> None:
        await self.connection.execute(
            f"ROLLBACK TO SAVEPOINT {self.name}; RELEASE SAVEPOINT {self.name}"
        )
        self._done = True

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        try:
            if not self._done:
                if exception is not None:
                    await self.rollback()
                else:
                    await self.commit()
        finally:
            if self._context is not None:
                self.engine.current_transaction.reset(self._context)
                self._context = None
        return False


def nested_transaction(engine: Any, allow_nested: bool) -> DryRunSavepoint | None:
    """The savepoint ``engine.transaction()`` gives inside a dry run, or None outside one.
    A unit of work inside a unit of work is refused as it would be for real."""
    run = current()
    if run is None:
        return None
    if not allow_nested and isinstance(engine.current_transaction.inner.get(), DryRunSavepoint):
        raise TransactionError(
            "A transaction is already active - nested transactions aren't allowed."
        )
    return DryRunSavepoint(engine, run)


class CurrentTransaction:
    """The engine's current-transaction variable, answering the dry run's transaction when
    nothing more nested is open (piccolo and ``Database`` then join the dry run)."""

    def __init__(self, inner: ContextVar[Any]) -> None:
        self.inner = inner

    def get(self) -> Any:
        value = self.inner.get()
        if value is None:
            run = current()
            if run is not None:
                return run.transaction
        return value

    def set(self, value: Any) -> Token[Any]:
        return self.inner.set(value)

    def reset(self, token: Token[Any]) -> None:
        self.inner.reset(token)


@dataclass(frozen=True)
class Mark:
    """Where a part of a dry run began: the next transaction id then, each table's counters,
    and the savepoint that undoes the part."""

    next_xid: int
    counters: dict[str, tuple[int, int, int]]
    savepoint: str


@dataclass(frozen=True)
class Written:
    """What a part of a dry run wrote: each table's rows as they would be (inserted or
    updated, as JSON objects) and how many rows it deleted."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def of(self, table: str) -> list[dict[str, Any]]:
        return self.rows.get(table, [])


_COUNTERS = (
    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables"
    " WHERE schemaname = current_schema()"
)
# A row is ours when its xmin, widened to 64 bits against the mark, is after the mark, before
# an id assigned now, and in progress (CASE: pg_xact_status only takes an id assigned already).
_OURS = """SELECT to_jsonb(t) AS row FROM {table} AS t
WHERE CASE WHEN (t.xmin::text::bigint - $1 % {span} + {span}) % {span} < {half}
   AND $1 + (t.xmin::text::bigint - $1 % {span} + {span}) % {span} < $2
  THEN pg_xact_status(($1 + (t.xmin::text::bigint - $1 % {span} + {span}) % {span})::text::xid8)
       = 'in progress'
  ELSE false END"""


class DryRun:
    """One request's dry run: opened by its first dry-run field, rolled back at its end."""

    def __init__(self) -> None:
        self.connection: LockedConnection | None = None
        self.transaction: DryRunTransaction | None = None
        self._raw: Any = None
        self._top: Any = None
        self._pool: Any = None
        self._savepoints = 0
        # Each dry-run field's payload and what it would have done (the API's answer).
        self.effects: list[tuple[Any, Any]] = []

    @contextmanager
    def entered(self) -> Iterator[DryRun]:
        """Make this the context's dry run (it joins queries once opened)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    @property
    def is_open(self) -> bool:
        return self.connection is not None

    def next_savepoint(self) -> str:
        self._savepoints += 1
        return f"dry_run_{self._savepoints}"

    async def open(self, db: Any) -> None:
        """Pin a connection and begin the transaction (once)."""
        if self.connection is not None:
            return
        pool = db.pool
        raw = await pool.acquire()
        try:
            top = raw.transaction()
            await top.start()
        except BaseException:
            await pool.release(raw)
            raise
        self._pool, self._raw, self._top = pool, raw, top
        self.connection = LockedConnection(raw)
        self.transaction = DryRunTransaction(db.engine, self)

    async def close(self) -> None:
        """Roll everything back and give the connection back."""
        if self._raw is None:
            return
        raw, pool, top = self._raw, self._pool, self._top
        self._raw = self._pool = self._top = None
        self.connection = None
        self.transaction = None
        try:
            await top.rollback()
        finally:
            await pool.release(raw)

    async def mark(self) -> Mark:
        """Open a savepoint for a part of the dry run and note where it began."""
        assert self.connection is not None
        name = self.next_savepoint()
        await self.connection.execute(f"SAVEPOINT {name}")
        return Mark(await self._next_xid(), await self._counters(), name)

    async def undo(self, mark: Mark) -> None:
        """Undo the part begun at ``mark`` (it failed)."""
        assert self.connection is not None
        await self.connection.execute(f"ROLLBACK TO SAVEPOINT {mark.savepoint}")

    async def written(self, since: Mark) -> Written:
        """The rows written since ``since``, by table, and the deletions counted."""
        assert self.connection is not None
        now = await self._counters()
        next_xid = await self._next_xid()
        rows: dict[str, list[dict[str, Any]]] = {}
        deleted: dict[str, int] = {}
        for table, (inserted, updated, removed) in sorted(now.items()):
            before = since.counters.get(table, (0, 0, 0))
            if removed > before[2]:
                deleted[table] = removed - before[2]
            if inserted == before[0] and updated == before[1]:
                continue
            found = await self.connection.fetch(
                _OURS.format(table=_quoted(table), span=XID_SPAN, half=XID_SPAN // 2),
                since.next_xid,
                next_xid,
            )
            if found:
                rows[table] = [_as_dict(record["row"]) for record in found]
        return Written(rows, deleted)

    async def _next_xid(self) -> int:
        """A transaction id assigned now, on another connection: every id assigned before
        is lower, every id assigned after is higher (a snapshot's xmax is no such bound: it
        is one past the last id that completed)."""
        async with self._pool.acquire() as connection:
            probe = connection.transaction()
            await probe.start()
            try:
                return int(await connection.fetchval("SELECT pg_current_xact_id()::text::bigint"))
            finally:
                await probe.rollback()

    async def _counters(self) -> dict[str, tuple[int, int, int]]:
        assert self.connection is not None
        return {
            record["relname"]: (
                int(record["n_tup_ins"]),
                int(record["n_tup_upd"]),
                int(record["n_tup_del"]),
            )
            for record in await self.connection.fetch(_COUNTERS)
        }


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _as_dict(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded)
