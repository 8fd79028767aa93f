"""The app keeps the cyclic collector off the request path while it runs, and restores it."""

from __future__ import annotations

import gc

from api.app import create_app
from api.settings import Settings


async def test_collector_is_paused_while_serving_and_restored_after(database_url: str) -> None:
    assert gc.isenabled()
    app = create_app(Settings(database_url=database_url, pool_max=2, gc_interval=0.05))
    async with app.router.lifespan_context(app):
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    gc.unfreeze()


async def test_a_zero_interval_leaves_the_collector_alone(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, pool_max=2, gc_interval=0))
    async with app.router.lifespan_context(app):
        assert gc.isenabled()
