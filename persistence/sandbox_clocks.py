"""Sandbox tenants' clocks in PostgreSQL, and units of work scoped to one tenant
(docs/test-clock.md).

``SandboxClocks`` reads and moves a customer's ``clock_offset``; the offsets of every sandbox
whose clock is ahead are cached for a second, so a real tenant's request costs a dictionary
look-up and no query. ``TenantUnitOfWork`` is a ``PostgresUnitOfWork`` whose time-driven
sweeps (trials ended or ending, subscriptions ending, instances gone quiet, transfers due,
Dedicated tenants) see one customer's rows only: advancing a sandbox's clock runs the jobs
through it, so no other tenant is touched.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.model.activation_code import hash_activation_code
from domain.model.channel_transfer import ChannelTransfer
from domain.model.dedicated import DedicatedTenant
from domain.model.instance import Instance
from domain.model.license import license_key_digest
from domain.model.subscription import Subscription
from domain.model.trial import Trial
from persistence.database import Database
from persistence.mappers import (
    INSTANCE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    TRIAL_COLUMNS,
    instance_from_row,
    subscription_from_row,
    trial_from_row,
)
from persistence.repositories import (
    PostgresChannelTransfers,
    PostgresDedicatedTenants,
    PostgresInstances,
    PostgresSubscriptions,
    PostgresTrials,
)
from persistence.repositories.dedicated import TENANT_COLUMNS, tenant_from_row
from persistence.repositories.partners import TRANSFER_COLUMNS, transfer_from_row
from persistence.unit_of_work import PostgresUnitOfWork

# The customer's subscriptions; a trial is the customer's through its subscription or through
# the group linked to one of them.
_OWN_SUBSCRIPTIONS = "SELECT id FROM subscription WHERE customer = $CUSTOMER"
_OWN_TRIAL = (
    "(t.subscription IN (SELECT id FROM subscription WHERE customer = $CUSTOMER)"
    " OR t.namespace IN (SELECT namespace FROM subscription WHERE customer = $CUSTOMER"
    " AND namespace IS NOT NULL))"
)


def _scoped(sql: str, position: int) -> str:
    return sql.replace("$CUSTOMER", f"${position}")


@dataclass(frozen=True)
class SandboxState:
    """A customer as the test clock sees it."""

    customer_id: uuid.UUID
    sandbox: bool
    offset: timedelta


class SandboxClocks:
    """Which customers are sandboxes, and how far ahead each one's clock is.

    ``development_mode`` (``PROVISION_DEVELOPMENT_MODE``) makes every customer a sandbox.
    """

    def __init__(
        self, db: Database, *, development_mode: bool = False, cache_seconds: float = 1.0
    ) -> None:
        self._db = db
        self.development_mode = development_mode
        self._cache_seconds = cache_seconds
        self._offsets: dict[uuid.UUID, timedelta] = {}
        self._read_at: float | None = None

    async def offsets(self) -> Mapping[uuid.UUID, timedelta]:
        """Every sandbox whose clock is ahead, with its offset (cached ``cache_seconds``)."""
        if self._read_at is None or time.monotonic() - self._read_at > self._cache_seconds:
            rows = await self._db.fetch(
                "SELECT id, clock_offset FROM customer"
                " WHERE (sandbox OR $1) AND clock_offset > interval '0'",
                self.development_mode,
            )
            self._offsets = {row["id"]: row["clock_offset"] for row in rows}
            self._read_at = time.monotonic()
        return self._offsets

    async def offset_of(self, customer_ids: Sequence[uuid.UUID]) -> timedelta:
        """The clock offset of a request acting for ``customer_ids``: the sandbox's when it is
        exactly one customer, zero otherwise (a real tenant never sees a moved clock)."""
        if len(set(customer_ids)) != 1:
            return timedelta(0)
        offsets = await self.offsets()
        if not offsets:
            return timedelta(0)
        return offsets.get(customer_ids[0], timedelta(0))

    async def customers_of_user(self, user_subject: str) -> list[uuid.UUID]:
        """The customers a portal user is a member of (no query while no clock is ahead)."""
        if not await self.offsets():
            return []
        rows = await self._db.fetch(
            "SELECT customer FROM membership WHERE user_subject = $1", user_subject
        )
        return [row["customer"] for row in rows]

    async def customer_of_subscription(self, subscription_id: uuid.UUID) -> uuid.UUID | None:
        if not await self.offsets():
            return None
        found = await self._db.fetchval(
            "SELECT customer FROM subscription WHERE id = $1", subscription_id
        )
        return found if isinstance(found, uuid.UUID) else None

    async def customer_of_license_key(self, license_key: str) -> uuid.UUID | None:
        """Whose license a seat link sends (no query while no sandbox clock is ahead)."""
        if not await self.offsets():
            return None
        found = await self._db.fetchval(
            "SELECT s.customer FROM license l JOIN subscription s ON s.id = l.subscription"
            " WHERE l.key_digest = $1 LIMIT 1",
            license_key_digest(license_key),
        )
        return found if isinstance(found, uuid.UUID) else None

    async def customer_of_activation_code(self, code: str) -> uuid.UUID | None:
        if not await self.offsets():
            return None
        found = await self._db.fetchval(
            "SELECT s.customer FROM activation_code a JOIN subscription s"
            " ON s.id = a.subscription WHERE a.code_hash = $1",
            hash_activation_code(code),
        )
        return found if isinstance(found, uuid.UUID) else None

    async def state(self, customer_id: uuid.UUID) -> SandboxState | None:
        """The customer's sandbox flag and offset, read now (None: no such customer)."""
        row = await self._db.fetchrow(
            "SELECT id, sandbox, clock_offset FROM customer WHERE id = $1", customer_id
        )
        if row is None:
            return None
        return SandboxState(
            row["id"], bool(row["sandbox"]) or self.development_mode, row["clock_offset"]
        )

    async def sandboxes(self) -> list[SandboxState]:
        """Every sandbox whose clock is ahead, read now (the worker's sweep)."""
        rows = await self._db.fetch(
            "SELECT id, sandbox, clock_offset FROM customer"
            " WHERE (sandbox OR $1) AND clock_offset > interval '0' ORDER BY id",
            self.development_mode,
        )
        return [SandboxState(r["id"], True, r["clock_offset"]) for r in rows]

    async def mark(self, customer_id: uuid.UUID, sandbox: bool) -> bool:
        """Make the customer a sandbox (or a real tenant again: its clock returns to the
        system's); False when there is no such customer."""
        found = await self._db.fetchval(
            "UPDATE customer SET sandbox = $2,"
            " clock_offset = CASE WHEN $2 THEN clock_offset ELSE interval '0' END"
            " WHERE id = $1 RETURNING id",
            customer_id,
            sandbox,
        )
        self._read_at = None
        return found is not None

    async def move(self, customer_id: uuid.UUID, offset: timedelta) -> bool:
        """Set the sandbox's offset, never backwards (False: it is ahead of that already)."""
        found = await self._db.fetchval(
            "UPDATE customer SET clock_offset = $2 WHERE id = $1 AND clock_offset <= $2"
            " RETURNING id",
            customer_id,
            offset,
        )
        if found is not None:
            self._offsets[customer_id] = offset
        return found is not None

    async def dates_of(
        self,
        customer_id: uuid.UUID,
        first: date,
        last: date,
        *,
        lead_days: Sequence[int],
        stale_days: int,
    ) -> list[date]:
        """The days in [first, last] on which something of the customer's is due: a trial's
        or a segment's start or end, a subscription's end (and ``lead_days`` before it, the
        reminders' windows), a transfer's moment, the day an instance counts as stopped."""
        leads = sorted({0, *lead_days})
        rows = await self._db.fetch(
            "WITH subs AS (SELECT id, end_date, namespace FROM subscription WHERE customer = $1),"
            " days AS ("
            " SELECT g.start_date AS day FROM subscription_segment g JOIN subs ON subs.id ="
            " g.subscription"
            " UNION SELECT subs.end_date - lead FROM subs, unnest($4::int[]) AS lead"
            " UNION SELECT t.ends_on - lead FROM trial t, unnest($4::int[]) AS lead"
            "  WHERE t.reverted_on IS NULL AND (t.subscription IN (SELECT id FROM subs)"
            "  OR t.namespace IN (SELECT namespace FROM subs WHERE namespace IS NOT NULL))"
            " UNION SELECT (c.effective_at AT TIME ZONE 'UTC')::date FROM channel_transfer c"
            "  WHERE c.status = 'PENDING' AND c.subscription IN (SELECT id FROM subs)"
            " UNION SELECT ((coalesce(i.last_synced_at, i.activated_at) AT TIME ZONE 'UTC')::date"
            "  + $5::int) FROM instance i WHERE i.retired_at IS NULL"
            "  AND i.subscription IN (SELECT id FROM subs))"
            " SELECT DISTINCT day FROM days WHERE day BETWEEN $2 AND $3 ORDER BY day",
            customer_id,
            first,
            last,
            leads,
            stale_days + 1,
        )
        return [row["day"] for row in rows]


class _TenantTrials(PostgresTrials):
    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self._customer = customer_id

    async def claim_ended(self, today: date, limit: int) -> Sequence[Trial]:
        rows = await self._db.fetch(
            "WITH ended AS MATERIALIZED (SELECT t.id FROM trial t"
            " WHERE t.namespace IS NOT NULL AND t.reverted_on IS NULL AND t.ends_on <= $1"
            f" AND {_scoped(_OWN_TRIAL, 2)}"
            f" ORDER BY t.ends_on LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)"
            f" UPDATE trial t SET reverted_on = $1 FROM ended WHERE t.id = ended.id"
            f" RETURNING {TRIAL_COLUMNS}",
            today,
            self._customer,
        )
        return [trial_from_row(row) for row in rows]

    async def ending_between(self, first: date, last: date) -> Sequence[Trial]:
        rows = await self._db.fetch(
            f"SELECT {TRIAL_COLUMNS} FROM trial t WHERE t.namespace IS NOT NULL"
            " AND t.reverted_on IS NULL AND t.ends_on BETWEEN $1 AND $2"
            f" AND {_scoped(_OWN_TRIAL, 3)} ORDER BY t.ends_on, t.id",
            first,
            last,
            self._customer,
        )
        return [trial_from_row(row) for row in rows]


class _TenantSubscriptions(PostgresSubscriptions):
    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self._customer = customer_id

    async def ending_without_renewal(self, first: date, last: date) -> Sequence[Subscription]:
        rows = await self._db.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription s WHERE s.cancelled_at IS NULL"
            " AND (NOT s.auto_renew OR s.cancel_at_period_end)"
            " AND s.end_date BETWEEN $1 AND $2 AND s.customer = $3 ORDER BY s.end_date, s.id",
            first,
            last,
            self._customer,
        )
        return [subscription_from_row(row) for row in rows]


class _TenantInstances(PostgresInstances):
    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self._customer = customer_id

    async def stale(self, before: datetime, limit: int) -> Sequence[Instance]:
        rows = await self._db.fetch(
            f"SELECT {INSTANCE_COLUMNS} FROM instance i WHERE i.retired_at IS NULL"
            " AND coalesce(i.last_synced_at, i.activated_at) <= $1"
            f" AND i.subscription IN ({_scoped(_OWN_SUBSCRIPTIONS, 3)}) ORDER BY i.id LIMIT $2",
            before,
            limit,
            self._customer,
        )
        return [instance_from_row(row) for row in rows]


class _TenantTransfers(PostgresChannelTransfers):
    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self._customer = customer_id

    async def claim_due(self, now: datetime, limit: int) -> list[ChannelTransfer]:
        rows = await self._db.fetch(
            f"SELECT {TRANSFER_COLUMNS} FROM channel_transfer"
            " WHERE status = 'PENDING' AND effective_at <= $1"
            f" AND subscription IN ({_scoped(_OWN_SUBSCRIPTIONS, 3)})"
            " ORDER BY effective_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
            self._customer,
        )
        return [transfer_from_row(row) for row in rows]


class _TenantDedicated(PostgresDedicatedTenants):
    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self._customer = customer_id

    async def active(self) -> Sequence[DedicatedTenant]:
        rows = await self._db.fetch(
            f"SELECT {TENANT_COLUMNS} FROM dedicated_tenant WHERE state = 'ACTIVE'"
            f" AND subscription IN ({_scoped(_OWN_SUBSCRIPTIONS, 1)})"
            " ORDER BY id FOR UPDATE SKIP LOCKED",
            self._customer,
        )
        return [tenant_from_row(row) for row in rows]


class TenantUnitOfWork(PostgresUnitOfWork):
    """A unit of work whose time-driven sweeps see ``customer_id``'s rows only."""

    def __init__(self, db: Database, customer_id: uuid.UUID) -> None:
        super().__init__(db)
        self.customer_id = customer_id
        self.trials = _TenantTrials(db, customer_id)
        self.subscriptions = _TenantSubscriptions(db, customer_id)
        self.instances = _TenantInstances(db, customer_id)
        self.channel_transfers = _TenantTransfers(db, customer_id)
        self.dedicated_tenants = _TenantDedicated(db, customer_id)
