"""Whose time a request or job runs on (docs/test-clock.md).

A sandbox tenant has its own clock: the system clock plus the tenant's offset. The
composition root sets ``SANDBOX_OFFSET`` for the request or job acting for a sandbox tenant
(``acting_at``); ``TenantClock``, the Clock adapter every use case, the GraphQL context and the
REST routes receive, reads the system clock plus that offset. Outside a sandbox's request the
offset is zero, so real tenants always see the system clock.

The ledger works in real time: ``PostgresOutbox`` records a row made on a sandbox's clock due
at the matching real instant (its due time minus the offset), so the workers run it at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta

from domain.ports import Clock

SANDBOX_OFFSET: ContextVar[timedelta] = ContextVar("provision_sandbox_offset", default=timedelta(0))


@contextmanager
def acting_at(offset: timedelta) -> Iterator[None]:
    """Run the block on a sandbox tenant's clock (``offset`` ahead of the system's)."""
    token = SANDBOX_OFFSET.set(offset)
    try:
        yield
    finally:
        SANDBOX_OFFSET.reset(token)


class TenantClock:
    """The Clock adapter of the composition root: ``base`` plus the offset of the sandbox
    tenant the current request or job acts for (zero for every real tenant)."""

    def __init__(self, base: Clock) -> None:
        self.base = base

    def now(self) -> datetime:
        return self.base.now() + SANDBOX_OFFSET.get()

    def today(self) -> date:
        return self.now().date()


def real_time(instant: datetime) -> datetime:
    """The real instant matching ``instant`` read on the current tenant's clock."""
    return instant - SANDBOX_OFFSET.get()
