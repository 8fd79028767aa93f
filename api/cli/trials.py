"""``provision trials expire``."""

from __future__ import annotations

import asyncio

from api.cli.support import database
from api.settings import Settings
from persistence.migrations import migrate


def expire_trials(settings: Settings) -> int:
    """The trial expiry job, once, now (``provision worker`` runs it every minute)."""
    from domain.use_cases.trials import Trials
    from integrations.clock import SystemClock
    from persistence.database import Database
    from persistence.unit_of_work import PostgresUnitOfWork

    async def run(dsn: str) -> int:
        await migrate(dsn)
        db = Database(dsn, pool_min=1, pool_max=2)
        await db.start()
        try:
            clock = SystemClock()
            reverted = await Trials(lambda: PostgresUnitOfWork(db), clock).expire(clock.today())
        finally:
            await db.stop()
        return len(reverted)

    with database(settings) as dsn:
        count = asyncio.run(run(dsn))
    print(f"{count} ended trial(s) reverted")
    return 0
