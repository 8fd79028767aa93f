"""Marketplace intake on PostgreSQL (docs/marketplaces.md): the inbox (an event is stored and
its ledger row recorded in one transaction, once per (marketplace, message id)), the links
the intake use case locks while it applies an order, and the offer mapping."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from domain.model.enums import Deployment, Plan
from domain.model.marketplace import (
    MARKETPLACE_EVENT_KIND,
    InboxEntry,
    InboxState,
    LinkSession,
    Marketplace,
    MarketplaceLink,
    OfferMapping,
    marketplace_event_payload,
)
from domain.model.provision_event import ProvisionEvent
from domain.ports import Clock
from persistence.database import Database
from persistence.keyset import Page
from persistence.ledger import _insert_args

INBOX_COLUMNS = (
    "id, marketplace, message_id, payload::text, received_at, state, subscription_key, reason,"
    " ledger_event_id, applied_at"
)
OFFER_COLUMNS = (
    "id, marketplace, offer, plan_key, plan, deployment, seats, term_months, created_at, updated_at"
)
LINK_COLUMNS = (
    "marketplace, subscription_key, subscription_id, account_key, last_event_at, suspended"
)


def inbox_from_row(row: asyncpg.Record) -> InboxEntry:
    return InboxEntry(
        id=row["id"],
        marketplace=Marketplace(row["marketplace"]),
        message_id=row["message_id"],
        payload=orjson.loads(row["payload"]),
        received_at=row["received_at"],
        state=InboxState(row["state"]),
        subscription_key=row["subscription_key"],
        reason=row["reason"],
        ledger_event_id=row["ledger_event_id"],
        applied_at=row["applied_at"],
    )


def offer_from_row(row: asyncpg.Record, prefix: str = "") -> OfferMapping:
    return OfferMapping(
        id=row[f"{prefix}id"],
        marketplace=Marketplace(row[f"{prefix}marketplace"]),
        offer=row[f"{prefix}offer"],
        plan_key=row[f"{prefix}plan_key"],
        plan=Plan(row[f"{prefix}plan"]),
        deployment=Deployment(row[f"{prefix}deployment"]),
        seats=row[f"{prefix}seats"],
        term_months=row[f"{prefix}term_months"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
    )


def _link_from_row(row: asyncpg.Record) -> MarketplaceLink:
    return MarketplaceLink(
        marketplace=Marketplace(row["marketplace"]),
        subscription_key=row["subscription_key"],
        subscription_id=row["subscription_id"],
        account_key=row["account_key"],
        last_event_at=row["last_event_at"],
        suspended=row["suspended"],
    )


# One statement (one round trip, atomic without an explicit transaction): the inbox row, and
# its ledger row only when the inbox row was new. $8.. are the ledger row's (``_insert_args``).
_RECEIVE = (
    "WITH inbox AS (INSERT INTO marketplace_inbox (id, marketplace, message_id, payload,"
    " received_at, state, subscription_key, ledger_event_id)"
    " VALUES ($1, $2, $3, $4::jsonb, $5, 'RECEIVED', $6, $7)"
    " ON CONFLICT (marketplace, message_id) DO NOTHING RETURNING id)"
    " INSERT INTO provision_event (id, kind, correlation_id, subscription_id, namespace_id,"
    " instance_id, payload, status, attempts, max_attempts, next_attempt_at, last_error,"
    " lease_owner, lease_until, created_at, updated_at)"
    " SELECT $8::uuid, $9::varchar, $10::varchar, $11::uuid, $12::uuid, $13::uuid, $14::jsonb,"
    " $15::varchar, $16::int, $17::int, $18::timestamptz, $19::text, $20::varchar,"
    " $21::timestamptz, $22::timestamptz, $23::timestamptz FROM inbox RETURNING id"
)


class PostgresMarketplaceInbox:
    """Where the adapters store what arrives, and staff read it."""

    def __init__(self, db: Database, clock: Clock, max_attempts: int) -> None:
        self._db = db
        self._clock = clock
        self._max_attempts = max_attempts

    async def receive(
        self,
        marketplace: Marketplace,
        message_id: str,
        payload: dict[str, Any],
        subscription_key: str | None = None,
    ) -> bool:
        """Store the event and its MARKETPLACE_EVENT ledger row in one transaction; False
        (nothing stored) when this (marketplace, message id) arrived before."""
        now = self._clock.now()
        inbox_id = uuid.uuid4()
        event = ProvisionEvent.new(
            MARKETPLACE_EVENT_KIND,
            marketplace_event_payload(inbox_id, marketplace),
            now=now,
            max_attempts=self._max_attempts,
            correlation_id=f"marketplace:{marketplace.value.lower()}:{message_id}"[:100],
        )
        inserted = await self._db.fetchval(
            _RECEIVE,
            inbox_id,
            marketplace.value,
            message_id,
            orjson.dumps(payload).decode(),
            now,
            subscription_key,
            event.id,
            *_insert_args(event),
        )
        return inserted is not None

    async def get(self, inbox_id: uuid.UUID) -> InboxEntry | None:
        row = await self._db.fetchrow(
            f"SELECT {INBOX_COLUMNS} FROM marketplace_inbox WHERE id = $1", inbox_id
        )
        return inbox_from_row(row) if row else None

    async def page(
        self,
        first: int,
        after: uuid.UUID | None,
        marketplace: Marketplace | None = None,
        state: InboxState | None = None,
    ) -> Page[InboxEntry]:
        """Newest first (ids are random, so by received time, then id)."""
        rows = await self._db.fetch(
            f"SELECT {INBOX_COLUMNS} FROM marketplace_inbox i"
            " WHERE ($3::text IS NULL OR marketplace = $3) AND ($4::text IS NULL OR state = $4)"
            " AND ($1::uuid IS NULL OR (received_at, id) < (SELECT received_at, id"
            "      FROM marketplace_inbox WHERE id = $1))"
            " ORDER BY received_at DESC, id DESC LIMIT $2",
            after,
            first + 1,
            marketplace.value if marketplace else None,
            state.value if state else None,
        )
        return Page([inbox_from_row(row) for row in rows[:first]], len(rows) > first)

    async def count(
        self, marketplace: Marketplace | None = None, state: InboxState | None = None
    ) -> int:
        value = await self._db.fetchval(
            "SELECT count(*) FROM marketplace_inbox"
            " WHERE ($1::text IS NULL OR marketplace = $1) AND ($2::text IS NULL OR state = $2)",
            marketplace.value if marketplace else None,
            state.value if state else None,
        )
        return int(value)


_LINK_AND_OFFER = (
    "SELECT "
    + ", ".join(f"l.{c.strip()}" for c in LINK_COLUMNS.split(","))
    + ", "
    + ", ".join(f"o.{c.strip()} AS o_{c.strip()}" for c in OFFER_COLUMNS.split(","))
    + ", i.state AS settled, a.customer AS account_customer"
    + " FROM (SELECT 1) AS one"
    " LEFT JOIN marketplace_link l ON l.marketplace = $1 AND l.subscription_key = $2"
    " LEFT JOIN marketplace_offer o ON o.marketplace = $1 AND o.offer = $3 AND o.plan_key = $4"
    " LEFT JOIN marketplace_inbox i ON i.id = $5 AND i.state <> 'RECEIVED'"
    # customer_of, for the order's account:
    " LEFT JOIN LATERAL (SELECT s.customer FROM marketplace_link al JOIN subscription s"
    "   ON s.id = al.subscription_id WHERE al.marketplace = $1 AND al.account_key = $6"
    "   ORDER BY s.created_at LIMIT 1) a ON true"
)
_UPSERT_LINK = (
    f"INSERT INTO marketplace_link ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (marketplace, subscription_key) DO UPDATE SET"
    " subscription_id = EXCLUDED.subscription_id, account_key = EXCLUDED.account_key,"
    " last_event_at = EXCLUDED.last_event_at, suspended = EXCLUDED.suspended"
)
_SETTLE = "UPDATE marketplace_inbox SET state = $2, reason = $3, applied_at = $4 WHERE id = $1"
# Both in one round trip (a data-modifying CTE runs whether or not it is read).
_SAVE_AND_SETTLE = (
    f"WITH link AS ({_UPSERT_LINK}) UPDATE marketplace_inbox SET state = $8, reason = $9,"
    " applied_at = $10 WHERE id = $7"
)


class _Session:
    """A held marketplace subscription. The link saved is written with the inbox outcome
    (``settle``), or when the session ends, in the session's transaction either way."""

    def __init__(
        self,
        connection: PoolConnectionProxy,
        link: MarketplaceLink | None,
        mapping: OfferMapping | None,
        clock: Clock,
        settled: InboxState | None = None,
        account_customer: uuid.UUID | None = None,
    ) -> None:
        self._connection = connection
        self.link = link
        self.mapping = mapping
        self.settled = settled
        self.account_customer = account_customer
        self._clock = clock
        self._pending: MarketplaceLink | None = None

    async def save(self, link: MarketplaceLink) -> None:
        self._pending = link
        self.link = link

    async def settle(self, inbox_id: uuid.UUID, state: InboxState, reason: str | None) -> None:
        outcome = (inbox_id, state.value, reason, self._clock.now())
        link, self._pending = self._pending, None
        if link is None:
            await self._connection.execute(_SETTLE, *outcome)
            return
        await self._connection.execute(_SAVE_AND_SETTLE, *_link_args(link), *outcome)

    async def flush(self) -> None:
        link, self._pending = self._pending, None
        if link is not None:
            await self._connection.execute(_UPSERT_LINK, *_link_args(link))


def _link_args(link: MarketplaceLink) -> tuple[object, ...]:
    return (
        link.marketplace.value,
        link.subscription_key,
        link.subscription_id,
        link.account_key,
        link.last_event_at,
        link.suspended,
    )


class PostgresMarketplaceLinks:
    """``domain.model.marketplace.MarketplaceLinks``. A session is a transaction of its own
    (the task's current piccolo transaction, which ``JoiningUnitOfWork`` joins), with a
    transaction-scoped advisory lock on the marketplace subscription: a second event of the
    same one waits until the first is applied."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @asynccontextmanager
    async def session(
        self,
        marketplace: Marketplace,
        subscription_key: str,
        offer: tuple[str, str] | None = None,
        inbox_id: uuid.UUID | None = None,
        account_key: str | None = None,
    ) -> AsyncIterator[LinkSession]:
        # The engine's transaction (not a bare pooled connection's): the use cases the
        # order is carried out through join it (``JoiningUnitOfWork``), so their writes, the
        # link and the inbox outcome commit together, in one BEGIN and COMMIT per event.
        async with self._db.engine.transaction(allow_nested=False) as transaction:
            connection = transaction.connection
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"marketplace:{marketplace.value}:{subscription_key}",
            )
            # After the lock (its own statement: a later snapshot sees what the holder before
            # us committed), the link and the order's offer mapping in one round trip.
            offer_key, plan_key = offer or (None, None)
            # And the inbox row's state if an earlier attempt settled it (with that, what
            # the event did is committed, and this attempt does nothing more), and the
            # customer the order's account bought for before (``customer_of``).
            row = await connection.fetchrow(
                _LINK_AND_OFFER,
                marketplace.value,
                subscription_key,
                offer_key,
                plan_key,
                inbox_id,
                account_key,
            )
            assert row is not None
            link = _link_from_row(row) if row["subscription_key"] is not None else None
            mapping = offer_from_row(row, "o_") if row["o_id"] is not None else None
            settled = InboxState(row["settled"]) if row["settled"] is not None else None
            session = _Session(
                connection, link, mapping, self._clock, settled, row["account_customer"]
            )
            yield session
            await session.flush()

    async def customer_of(self, marketplace: Marketplace, account_key: str) -> uuid.UUID | None:
        value: uuid.UUID | None = await self._db.fetchval(
            "SELECT s.customer FROM marketplace_link l JOIN subscription s"
            " ON s.id = l.subscription_id WHERE l.marketplace = $1 AND l.account_key = $2"
            " ORDER BY s.created_at LIMIT 1",
            marketplace.value,
            account_key,
        )
        return value

    async def offer(
        self, marketplace: Marketplace, offer: str, plan_key: str
    ) -> OfferMapping | None:
        return await PostgresOfferMappings(self._db).find(marketplace, offer, plan_key)


class PostgresOfferMappings:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(
        self, marketplace: Marketplace, offer: str, plan_key: str
    ) -> OfferMapping | None:
        row = await self._db.fetchrow(
            f"SELECT {OFFER_COLUMNS} FROM marketplace_offer"
            " WHERE marketplace = $1 AND offer = $2 AND plan_key = $3",
            marketplace.value,
            offer,
            plan_key,
        )
        return offer_from_row(row) if row else None

    async def get(self, mapping_id: uuid.UUID) -> OfferMapping | None:
        row = await self._db.fetchrow(
            f"SELECT {OFFER_COLUMNS} FROM marketplace_offer WHERE id = $1", mapping_id
        )
        return offer_from_row(row) if row else None

    async def put(self, mapping: OfferMapping, now: datetime) -> OfferMapping:
        """Insert, or update the one with the same (marketplace, offer, plan key)."""
        row = await self._db.fetchrow(
            f"INSERT INTO marketplace_offer ({OFFER_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
            " ON CONFLICT (marketplace, offer, plan_key) DO UPDATE SET plan = EXCLUDED.plan,"
            " deployment = EXCLUDED.deployment, seats = EXCLUDED.seats,"
            " term_months = EXCLUDED.term_months, updated_at = EXCLUDED.updated_at"
            f" RETURNING {OFFER_COLUMNS}",
            mapping.id,
            mapping.marketplace.value,
            mapping.offer,
            mapping.plan_key,
            mapping.plan.value,
            mapping.deployment.value,
            mapping.seats,
            mapping.term_months,
            now,
        )
        assert row is not None
        return offer_from_row(row)

    async def update(self, mapping: OfferMapping, now: datetime) -> OfferMapping | None:
        row = await self._db.fetchrow(
            "UPDATE marketplace_offer SET offer = $2, plan_key = $3, plan = $4, deployment = $5,"
            f" seats = $6, term_months = $7, updated_at = $8 WHERE id = $1"
            f" RETURNING {OFFER_COLUMNS}",
            mapping.id,
            mapping.offer,
            mapping.plan_key,
            mapping.plan.value,
            mapping.deployment.value,
            mapping.seats,
            mapping.term_months,
            now,
        )
        return offer_from_row(row) if row else None

    async def delete(self, mapping_id: uuid.UUID) -> OfferMapping | None:
        row = await self._db.fetchrow(
            f"DELETE FROM marketplace_offer WHERE id = $1 RETURNING {OFFER_COLUMNS}", mapping_id
        )
        return offer_from_row(row) if row else None

    async def page(
        self, first: int, after: uuid.UUID | None, marketplace: Marketplace | None = None
    ) -> Page[OfferMapping]:
        rows = await self._db.fetch(
            f"SELECT {OFFER_COLUMNS} FROM marketplace_offer"
            " WHERE ($3::text IS NULL OR marketplace = $3) AND ($1::uuid IS NULL OR id > $1)"
            " ORDER BY id LIMIT $2",
            after,
            first + 1,
            marketplace.value if marketplace else None,
        )
        return Page([offer_from_row(row) for row in rows[:first]], len(rows) > first)

    async def count(self, marketplace: Marketplace | None = None) -> int:
        value = await self._db.fetchval(
            "SELECT count(*) FROM marketplace_offer WHERE ($1::text IS NULL OR marketplace = $1)",
            marketplace.value if marketplace else None,
        )
        return int(value)
