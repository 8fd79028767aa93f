"""The database handle: a piccolo engine with its pool, and raw reads on the hot path."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

from persistence import dry_run

MIGRATION_LOCK = 7_204_114  # pg_advisory_lock key: one migrator at a time


class CancelSafeTransaction(PostgresTransaction):
    """piccolo's transaction, which gives its pooled connection back however it ends.

    piccolo takes a connection, then sends BEGIN; cancelled in between (graphql-core cancels
    a query's other root fields when one fails, a server cancels the request of a client that
    went away) its ``__aenter__`` raises with the connection taken and no ``__aexit__`` to
    come. Likewise a ROLLBACK or COMMIT that raises in ``__aexit__`` skips the release. Each
    time the pool lost a connection for good, until none was left and every request waited.
    """

    async def __aenter__(self) -> PostgresTransaction:
        try:
            return await super().__aenter__()
        except BaseException:
            await self._give_back()
            raise

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        try:
            return await super().__aexit__(exception_type, exception, traceback)
        except BaseException:
            await self._give_back()
            raise

    async def _give_back(self) -> None:
        """Release the connection (asyncpg undoes an open transaction, waits out a cancelled
        statement, and ignores a second release) and forget this transaction."""
        if self._parent is not None:
            return
        connection = getattr(self, "connection", None)
        if connection is None:
            return
        context = getattr(self, "context", None)
        if context is not None and self.engine.current_transaction.get() is self:
            self.engine.current_transaction.reset(context)
        if self.engine.pool is not None:
            await self.engine.pool.release(connection)
        else:
            connection.terminate()


class QuietPostgresEngine(PostgresEngine):
    """piccolo's engine without its constructor's blocking version check and extension setup
    (we target PostgreSQL >= 15 and need no extensions); it connects only when used. Its
    transactions never keep a pooled connection (``CancelSafeTransaction``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Inside a dry run, what every query joins (persistence/dry_run.py).
        self.current_transaction = dry_run.CurrentTransaction(self.current_transaction)  # type: ignore[assignment]

    async def check_version(self) -> None:
        return None

    async def prep_database(self) -> None:
        return None

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        savepoint = dry_run.nested_transaction(self, allow_nested)
        if savepoint is not None:
            return savepoint  # type: ignore[return-value]
        return CancelSafeTransaction(engine=self, allow_nested=allow_nested)


def configure_piccolo(dsn: str) -> PostgresEngine:
    """Point piccolo's own engine (found through PICCOLO_CONF) at ``dsn``, for migrations."""
    os.environ.setdefault("PICCOLO_CONF", "persistence.piccolo_conf")
    os.environ["DATABASE_URL"] = dsn
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if not isinstance(engine, PostgresEngine):
        raise RuntimeError("persistence.piccolo_conf must define a PostgresEngine")
    engine.config = {"dsn": dsn}
    return engine


async def _release_without_round_trip(connection: asyncpg.Connection) -> None:
    """What a pooled connection needs on release. asyncpg's default sends RESET ALL and more
    on every release (a round trip per query); we set no session state, take advisory locks
    only on dedicated connections, and LISTEN nowhere, so only an open transaction needs
    undoing."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class Database:
    """Owns a piccolo engine and its pool. Queries join the engine's current transaction
    (piccolo keeps it in a ContextVar, so it follows the task) when there is one."""

    def __init__(self, dsn: str, *, pool_min: int = 2, pool_max: int = 10) -> None:
        self.dsn = dsn
        self.engine = QuietPostgresEngine(config={"dsn": dsn})
        self._pool_min = pool_min
        self._pool_max = pool_max
        # Sees every statement this handle sends (tests count them; metrics may time them).
        self.observer: Callable[[str], None] | None = None

    async def start(self) -> None:
        await self.engine.start_connection_pool(
            min_size=self._pool_min,
            max_size=self._pool_max,
            command_timeout=30,
            reset=_release_without_round_trip,
        )

    async def stop(self) -> None:
        await self.engine.close_connection_pool()

    @property
    def pool(self) -> asyncpg.Pool:
        if self.engine.pool is None:
            raise RuntimeError("the database pool is not started")
        return self.engine.pool

    async def fetch(
        self, sql: str, *args: Any, record_class: type[asyncpg.Record] | None = None
    ) -> list[asyncpg.Record]:
        """Rows of ``sql``; ``record_class`` lets asyncpg build read-side views directly."""
        if self.observer is not None:
            self.observer(sql)
        transaction = self.engine.current_transaction.get()
        if transaction is not None:
            rows: list[asyncpg.Record] = await transaction.connection.fetch(
                sql, *args, record_class=record_class
            )
            return rows
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(sql, *args, record_class=record_class)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        if self.observer is not None:
            self.observer(sql)
        transaction = self.engine.current_transaction.get()
        if transaction is not None:
            await transaction.connection.executemany(sql, args)
            return
        async with self.pool.acquire() as connection:
            await connection.executemany(sql, args)
