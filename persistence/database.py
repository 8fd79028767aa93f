"""The database handle: piccolo's engine with its pool, migrations, and raw reads on the hot path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

MIGRATION_LOCK = 7_204_114  # pg_advisory_lock key: one migrator at a time


def configure_piccolo(dsn: str) -> PostgresEngine:
    # Piccolo finds its engine through PICCOLO_CONF; point that engine at our DSN so that the
    # tables, migrations and our own raw queries all share one engine and one pool.
    os.environ.setdefault("PICCOLO_CONF", "persistence.piccolo_conf")
    os.environ["DATABASE_URL"] = dsn
    from piccolo.engine import engine_finder

    engine = engine_finder()
    if not isinstance(engine, PostgresEngine):
        raise RuntimeError("persistence.piccolo_conf must define a PostgresEngine")
    engine.config = {"dsn": dsn}
    return engine


class Database:
    """Owns the connection pool. Queries join the current piccolo transaction when there is one."""

    def __init__(self, dsn: str, *, pool_min: int = 2, pool_max: int = 10) -> None:
        self.dsn = dsn
        self.engine = configure_piccolo(dsn)
        self._pool_min = pool_min
        self._pool_max = pool_max

    async def start(self) -> None:
        await self.engine.start_connection_pool(
            min_size=self._pool_min, max_size=self._pool_max, command_timeout=30
        )

    async def stop(self) -> None:
        await self.engine.close_connection_pool()

    @property
    def pool(self) -> asyncpg.Pool:
        if self.engine.pool is None:
            raise RuntimeError("the database pool is not started")
        return self.engine.pool

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        transaction = self.engine.current_transaction.get()
        if transaction is not None:
            rows: list[asyncpg.Record] = await transaction.connection.fetch(sql, *args)
            return rows
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute_many(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        transaction = self.engine.current_transaction.get()
        if transaction is not None:
            await transaction.connection.executemany(sql, args)
            return
        async with self.pool.acquire() as connection:
            await connection.executemany(sql, args)
