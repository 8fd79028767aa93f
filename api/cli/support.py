"""What the ``provision`` commands share: the database to use, and one connection to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from api.settings import Settings
from persistence.embedded import EmbeddedPostgres
from persistence.migrations import migrate

logger = logging.getLogger("provision")
_T = TypeVar("_T")


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured DATABASE_URL, or an embedded server started for the duration."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.embedded_data_dir)
    logger.info("Starting embedded PostgreSQL in %s", settings.embedded_data_dir)
    dsn = embedded.start()
    try:
        yield dsn
    finally:
        embedded.stop()


def with_connection(settings: Settings, work: Callable[..., Awaitable[_T]]) -> _T:
    """Migrate, then run ``work(connection, dsn)`` on one connection."""
    import asyncpg

    async def run(dsn: str) -> _T:
        await migrate(dsn)
        connection = await asyncpg.connect(dsn)
        try:
            return await work(connection, dsn)
        finally:
            await connection.close()

    with database(settings) as dsn:
        return asyncio.run(run(dsn))
